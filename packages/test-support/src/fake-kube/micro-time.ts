// meta/v1 MicroTime as the API server decodes it: `time.Parse(RFC3339Micro, s)` with the
// layout "2006-01-02T15:04:05.000000Z07:00" (apimachinery pkg/apis/meta/v1/micro_time.go).
// That layout takes exactly six fractional digits: `.123Z` and `.123456789Z` both fail, and
// the error text is Go's, which the server puts into its 400.

/** Go's layout for MicroTime. */
export const RFC3339_MICRO = '2006-01-02T15:04:05.000000Z07:00';

/** A MicroTime string decoded: the value the server stores and writes back (UTC, six digits), or Go's parse error. */
export type MicroTimeParse = { ok: true; normalized: string } | { ok: false; error: string };

const quote = (text: string) => JSON.stringify(text);

function daysIn(month: number, year: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * Parses a MicroTime the way Go's time.Parse does with {@link RFC3339_MICRO}, walking the
 * layout chunk by chunk so a failure names the same value and layout element Go names.
 */
export function parseMicroTime(value: string): MicroTimeParse {
  const bad = (valueElem: string, layoutElem: string): MicroTimeParse => ({
    ok: false,
    error: `parsing time ${quote(value)} as ${quote(RFC3339_MICRO)}: cannot parse ${quote(valueElem)} as ${quote(layoutElem)}`,
  });
  const range = (what: string): MicroTimeParse => ({ ok: false, error: `parsing time ${quote(value)}: ${what} out of range` });
  let rest = value;
  const digits = (count: number) => rest.length >= count && /^\d+$/.test(rest.slice(0, count));
  const literal = (char: string): boolean => {
    if (!rest.startsWith(char)) return false;
    rest = rest.slice(1);
    return true;
  };
  // 2006
  if (!digits(4)) return bad(rest, '2006');
  const year = Number(rest.slice(0, 4));
  rest = rest.slice(4);
  const fields: Array<{ separator: string; layout: string; name: string; max: number; min: number; fixed: boolean }> = [
    { separator: '-', layout: '01', name: 'month', min: 1, max: 12, fixed: true },
    { separator: '-', layout: '02', name: 'day', min: 0, max: 31, fixed: true },
    { separator: 'T', layout: '15', name: 'hour', min: 0, max: 23, fixed: false },
    { separator: ':', layout: '04', name: 'minute', min: 0, max: 59, fixed: true },
    { separator: ':', layout: '05', name: 'second', min: 0, max: 59, fixed: true },
  ];
  const numbers: number[] = [];
  for (const field of fields) {
    if (!literal(field.separator)) return bad(rest, field.separator);
    // Go's getnum: two digits, or (hour only) one digit when the next is not a digit.
    const width = digits(2) ? 2 : !field.fixed && digits(1) ? 1 : 0;
    if (width === 0) return bad(rest, field.layout);
    const number = Number(rest.slice(0, width));
    rest = rest.slice(width);
    if (number < field.min || number > field.max) return range(field.name);
    numbers.push(number);
  }
  const [month, day, hour, minute, second] = numbers as [number, number, number, number, number];
  // .000000: a '.' or ',' and exactly six digits.
  if (rest.length < 7 || (rest[0] !== '.' && rest[0] !== ',') || !/^\d{6}$/.test(rest.slice(1, 7))) return bad(rest, '.000000');
  const micros = rest.slice(1, 7);
  rest = rest.slice(7);
  // Z07:00: 'Z', or a sign, two digits, ':', two digits.
  let offsetMinutes = 0;
  if (rest.startsWith('Z')) {
    rest = rest.slice(1);
  } else {
    if (rest.length < 6 || rest[3] !== ':' || (rest[0] !== '+' && rest[0] !== '-') || !/^\d\d$/.test(rest.slice(1, 3)) || !/^\d\d$/.test(rest.slice(4, 6))) {
      return bad(rest, 'Z07:00');
    }
    const offsetHours = Number(rest.slice(1, 3));
    const offsetMins = Number(rest.slice(4, 6));
    if (offsetHours > 24) return range('time zone offset hour');
    if (offsetMins > 60) return range('time zone offset minute');
    offsetMinutes = (rest[0] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMins);
    rest = rest.slice(6);
  }
  if (rest !== '') return { ok: false, error: `parsing time ${quote(value)}: extra text: ${quote(rest)}` };
  if (day < 1 || day > daysIn(month, year)) return range('day');
  const utc = new Date(Date.UTC(year, month - 1, day, hour, minute, second) - offsetMinutes * 60_000);
  return { ok: true, normalized: `${utc.toISOString().slice(0, 19)}.${micros}Z` };
}
