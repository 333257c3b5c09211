/**
 * The value patterns of Dubbo's condition rules (Dubbo 3.3 `ValuePattern` extensions): a
 * pattern that contains `~` is an integer range, any other is a glob with at most one
 * effective `*`; in a then-part a glob `$key` stands for the consumer's value of `key`.
 */

/** Where a pattern is used: Dubbo's range pattern answers differently on bad input in each. */
export type ConditionSide = 'when' | 'then';

/**
 * A compiled value pattern. `test` gets the value read from the call or the endpoint and the
 * consumer's values of the `$key` parameters the rule uses (by {@link ValuePattern.param} slot).
 */
export interface ValuePattern {
  /** The text as written. */
  readonly text: string;
  /** `$key` patterns (then-part globs only): the key; undefined otherwise. */
  readonly param: string | undefined;
  /** Where this pattern's `$key` value is found in the `params` given to {@link test}; -1: none. */
  readonly slot: number;
  test(value: string, params: readonly (string | undefined)[]): boolean;
}

/**
 * Dubbo's glob (`UrlUtils.isMatchGlobPattern`): `*` matches anything; otherwise only the LAST
 * `*` is a wildcard (`a*b*c` is the prefix `a*b` and the suffix `c`, and a prefix and a suffix
 * may overlap: `ab*ba` matches `aba`), as Dubbo does. An undefined pattern (a `$key` the
 * consumer does not have) and an empty one match only an empty value.
 */
export function globMatch(pattern: string | undefined, value: string): boolean {
  if (pattern === '*') return true;
  if (pattern === undefined || pattern === '') return value === '';
  if (value === '') return false;
  const star = pattern.lastIndexOf('*');
  if (star === -1) return value === pattern;
  if (star === pattern.length - 1) return value.startsWith(pattern.slice(0, star));
  if (star === 0) return value.endsWith(pattern.slice(1));
  return value.startsWith(pattern.slice(0, star)) && value.endsWith(pattern.slice(star + 1));
}

const DIGITS = /^\d+$/;
const INT_MAX = 2147483647;

/**
 * Dubbo's `StringUtils.parseInteger`: digits only (no sign), else 0; undefined where Java's
 * `Integer.parseInt` would throw (more than 2^31-1).
 */
function javaInteger(text: string): number | undefined {
  if (!DIGITS.test(text)) return 0;
  const n = Number(text);
  return n > INT_MAX ? undefined : n;
}

/**
 * Dubbo's range pattern (`RangeValuePattern`), `1~100`, `~100`; bounds inclusive. Dubbo's
 * quirks kept: the value and the bounds are read as unsigned integers, anything else counts as
 * 0 (`abc` is in `0~5`); the pattern is split with Java's `String.split`, which drops a
 * trailing empty part, so `1~` and `~` are malformed; a malformed pattern or a number too big
 * for an int gives `false` in a when-part and `true` in a then-part.
 */
export function rangeMatch(pattern: string, value: string, side: ConditionSide): boolean {
  const fallback = side === 'then';
  const parts = pattern.split('~');
  while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
  if (parts.length < 2) return fallback;
  const number = javaInteger(value);
  const rawStart = parts[0]!;
  const rawEnd = parts[1]!;
  if (number === undefined || (rawStart === '' && rawEnd === '')) return fallback;
  // One side may be open (`~100`, or `1~~5` whose end part is empty): that bound is not checked.
  const start = rawStart === '' ? -1 : javaInteger(rawStart);
  const end = rawEnd === '' ? INT_MAX : javaInteger(rawEnd);
  if (start === undefined || end === undefined) return fallback;
  return number >= start && number <= end;
}

/** Whether Dubbo reads this pattern as a range (it contains `~`). */
export function isRangePattern(text: string): boolean {
  return text.includes('~');
}

/**
 * Compile one pattern of one side. `slotOf` gives the slot of a then-part `$key` (the rule
 * collects the keys its then-parts use, so a call resolves each once). In a when-part Dubbo
 * does not resolve `$key`: `$host` there is the literal text.
 */
export function compileValuePattern(text: string, side: ConditionSide, slotOf: (key: string) => number): ValuePattern {
  if (isRangePattern(text)) return { text, param: undefined, slot: -1, test: (value) => rangeMatch(text, value, side) };
  if (side === 'then' && text.startsWith('$')) {
    const param = text.slice(1);
    const slot = slotOf(param);
    return { text, param, slot, test: (value, params) => globMatch(params[slot], value) };
  }
  if (text === '*') return { text, param: undefined, slot: -1, test: () => true };
  const star = text.lastIndexOf('*');
  if (star === -1) return { text, param: undefined, slot: -1, test: (value) => value === text };
  return { text, param: undefined, slot: -1, test: (value) => globMatch(text, value) };
}
