import t from 'tap';
import { formatMicroTime, parseMicroTime } from '@dubbo-mesh/leader-election';

const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

t.test('formatMicroTime writes UTC with exactly six fractional digits', async (t) => {
  t.equal(formatMicroTime(new Date('2026-12-02T10:00:00.123Z')), '2026-12-02T10:00:00.123000Z');
  t.equal(formatMicroTime(new Date('2026-12-02T10:00:00Z')), '2026-12-02T10:00:00.000000Z', 'zeros are written, not dropped');
  t.equal(formatMicroTime(new Date('2026-12-02T12:00:00.5+02:00')), '2026-12-02T10:00:00.500000Z', 'an offset is converted to UTC');
  t.equal(formatMicroTime(new Date('2026-12-31T23:59:59.999-01:00')), '2027-01-01T00:59:59.999000Z');
  t.equal(formatMicroTime(new Date(0)), '1970-01-01T00:00:00.000000Z');
  t.equal(formatMicroTime(new Date('0099-01-02T03:04:05.006Z')), '0099-01-02T03:04:05.006000Z', 'years below 100 keep four digits');
  // Many times across the years: the shape is always the one the API server accepts.
  let seed = 12345;
  for (let i = 0; i < 500; i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const time = new Date(Date.UTC(1971, 0, 1) + (seed / 2 ** 31) * 2e12);
    const text = formatMicroTime(time);
    if (!MICRO_TIME.test(text) || parseMicroTime(text).getTime() !== time.getTime()) t.fail(`${time.toISOString()} -> ${text}`);
  }
});

t.test('formatMicroTime rounds a fractional millisecond to the nearest microsecond', async (t) => {
  t.equal(formatMicroTime(1.2344), '1970-01-01T00:00:00.001234Z');
  t.equal(formatMicroTime(1.2346), '1970-01-01T00:00:00.001235Z');
  t.equal(formatMicroTime(0.0005), '1970-01-01T00:00:00.000001Z', 'half a microsecond rounds up');
  t.equal(formatMicroTime(0.0004), '1970-01-01T00:00:00.000000Z');
  t.equal(formatMicroTime(999.9996), '1970-01-01T00:00:01.000000Z', 'rounding carries into the seconds');
  t.equal(formatMicroTime(59_999.9999), '1970-01-01T00:01:00.000000Z', 'and into the minutes');
  t.equal(formatMicroTime(-0.5), '1969-12-31T23:59:59.999500Z', 'before the epoch the fraction still counts up from the second');
  t.equal(formatMicroTime(Date.UTC(2026, 11, 2, 10, 0, 0, 123) + 0.25), '2026-12-02T10:00:00.123250Z');
});

t.test('formatMicroTime refuses what is no MicroTime', async (t) => {
  t.throws(() => formatMicroTime(new Date(Number.NaN)), RangeError);
  t.throws(() => formatMicroTime(Number.POSITIVE_INFINITY), RangeError);
  t.throws(() => formatMicroTime(Date.UTC(10_000, 0, 1)), { name: 'RangeError', message: 'cannot format year 10000 as a MicroTime (0000–9999 only)' });
  t.throws(() => formatMicroTime(Date.UTC(-1, 0, 1)), RangeError);
});

t.test('parseMicroTime reads RFC 3339 with any fractional digits and offset', async (t) => {
  t.equal(parseMicroTime('2026-12-02T10:00:00.123456Z').toISOString(), '2026-12-02T10:00:00.123Z', 'below a millisecond is dropped');
  t.equal(parseMicroTime('2026-12-02T10:00:00.123999Z').toISOString(), '2026-12-02T10:00:00.123Z', 'dropped, not rounded');
  t.equal(parseMicroTime('2026-12-02T10:00:00Z').toISOString(), '2026-12-02T10:00:00.000Z');
  t.equal(parseMicroTime('2026-12-02T10:00:00.5Z').toISOString(), '2026-12-02T10:00:00.500Z');
  t.equal(parseMicroTime('2026-12-02T10:00:00.123456789Z').toISOString(), '2026-12-02T10:00:00.123Z');
  t.equal(parseMicroTime('2026-12-02T12:30:00.000000+02:30').toISOString(), '2026-12-02T10:00:00.000Z');
  t.equal(parseMicroTime('2026-12-02T08:00:00.000000-02:00').toISOString(), '2026-12-02T10:00:00.000Z');
  t.equal(parseMicroTime('0012-02-29T00:00:00.000000Z').getUTCFullYear(), 12, 'years below 100 stay literal');
  t.equal(parseMicroTime('2024-02-29T00:00:00Z').toISOString(), '2024-02-29T00:00:00.000Z');
  for (const text of [
    '2026-12-02 10:00:00Z',
    '2026-12-02T10:00:00',
    '2026-02-30T10:00:00Z',
    '2026-13-01T10:00:00Z',
    '2026-12-02T24:00:00Z',
    '2026-12-02T10:60:00Z',
    '2026-12-02T10:00:00.Z',
    '',
    'yesterday',
  ]) {
    t.throws(() => parseMicroTime(text), { name: 'RangeError', message: `not an RFC 3339 time: ${JSON.stringify(text)}` }, text);
  }
});
