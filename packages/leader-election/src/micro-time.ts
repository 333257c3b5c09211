/**
 * Kubernetes MicroTime, as the API server parses it: RFC 3339 in UTC with exactly six
 * fractional digits (`2026-12-02T10:00:00.123000Z`). The server answers 400 to any other
 * number of digits, which is why a Lease is not written through client-node's typed API (it
 * sends `toISOString()`, three digits).
 */

const MICROS_PER_SECOND = 1_000_000;

/**
 * `time` as a MicroTime: UTC, six fractional digits. A Date carries whole milliseconds, so its
 * last three digits are zeros; a number is epoch milliseconds and may carry a fraction, which
 * is rounded to the nearest microsecond (carrying into the seconds when it rounds up to a
 * whole second). Throws a RangeError for an invalid time or a year outside 0000–9999.
 */
export function formatMicroTime(time: Date | number): string {
  const epochMs = typeof time === 'number' ? time : time.getTime();
  if (!Number.isFinite(epochMs)) throw new RangeError(`cannot format an invalid time as a MicroTime`);
  // Integers up to 2^53 are exact: epoch microseconds of years 0000–9999 stay well below it.
  const epochMicros = Math.round(epochMs * 1000);
  const seconds = Math.floor(epochMicros / MICROS_PER_SECOND);
  const micros = epochMicros - seconds * MICROS_PER_SECOND;
  const whole = new Date(seconds * 1000);
  const year = whole.getUTCFullYear();
  if (year < 0 || year > 9999) throw new RangeError(`cannot format year ${year} as a MicroTime (0000–9999 only)`);
  // toISOString is UTC and, within 0000–9999, exactly `YYYY-MM-DDTHH:MM:SS.mmmZ`.
  return `${whole.toISOString().slice(0, 19)}.${String(micros).padStart(6, '0')}Z`;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/**
 * A MicroTime (or any RFC 3339 time, with any number of fractional digits and any offset) as
 * a Date; digits below the millisecond are dropped. Throws a RangeError for text that is not
 * such a time.
 */
export function parseMicroTime(text: string): Date {
  const match = RFC3339.exec(text);
  if (match === null) throw new RangeError(`not an RFC 3339 time: ${JSON.stringify(text)}`);
  const [, year, month, day, hour, minute, second, fraction = '', zulu, sign, offsetHours, offsetMinutes] = match;
  const fields = [year, month, day, hour, minute, second].map(Number) as [number, number, number, number, number, number];
  const [y, mo, d, h, mi, s] = fields;
  const date = new Date(0);
  // setUTCFullYear, unlike Date.UTC, keeps years 0–99 literal.
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi, s, Number(fraction.slice(0, 3).padEnd(3, '0')));
  // Out-of-range fields roll over (February 30 becomes March 2): a rolled-over field is an invalid time.
  if (mo < 1 || h > 23 || mi > 59 || s > 59 || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) {
    throw new RangeError(`not an RFC 3339 time: ${JSON.stringify(text)}`);
  }
  let epochMs = date.getTime();
  if (zulu === undefined) epochMs -= (sign === '-' ? -1 : 1) * (Number(offsetHours) * 60 + Number(offsetMinutes)) * 60_000;
  return new Date(epochMs);
}
