// Kubernetes resource quantities (`50m`, `64Mi`, `1.5`, `2e3`), read as the API server reads
// them (apimachinery `resource.Quantity`), so an annotation the API server would refuse is
// refused by the webhook first, naming the annotation instead of failing the pod's creation.

/** Sign, number (`1`, `1.5`, `1.`, `.5`), then a binary or decimal SI suffix or a decimal exponent. */
const QUANTITY = /^([+-]?)([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$/;

/** A decimal exponent suffix (`e3`, `E-3`), as opposed to the `E` (exa) and `Ei` (exbi) suffixes. */
const DECIMAL_EXPONENT = /^[eE][+-]?[0-9]+$/;

const MULTIPLIERS: Readonly<Record<string, number>> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};

/**
 * The value of a Kubernetes quantity as a number (`64Mi` → 67108864, `50m` → 0.05), or undefined
 * when `text` is not one. Precise enough to compare a request with a limit, which is all the
 * injector does with it; the text itself is what goes into the pod.
 */
export function parseQuantity(text: string): number | undefined {
  const match = QUANTITY.exec(text);
  if (match === null) return undefined;
  const [, sign, number, suffix = ''] = match;
  // `E` and `Ei` are suffixes (exa, exbi); only an `e`/`E` followed by digits is an exponent.
  const multiplier = DECIMAL_EXPONENT.test(suffix) ? 10 ** Number(suffix.slice(1)) : MULTIPLIERS[suffix]!;
  const value = Number(number) * multiplier;
  return sign === '-' ? -value : value;
}

/** The power of ten of each decimal suffix, and the power of two of each binary one, for {@link isWholeQuantity}. */
const DECIMAL_POWERS: Readonly<Record<string, number>> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
const BINARY_POWERS: Readonly<Record<string, number>> = { Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60 };

/**
 * Whether the quantity `text` is a whole number (`1.5Gi` and `64.1M` are, `500m` and `0.5` are
 * not), computed exactly: a double would read `64.1M` as 64099999.99999999. Undefined when
 * `text` is not a quantity.
 */
export function isWholeQuantity(text: string): boolean | undefined {
  const match = QUANTITY.exec(text);
  if (match === null) return undefined;
  const [, , number = '', suffix = ''] = match;
  const [whole = '', fraction = ''] = number.split('.');
  const digits = `${whole}${fraction}`.replace(/^0+/, '');
  if (digits === '') return true;
  // value = digits × 10^tens × 2^twos
  const tens = (DECIMAL_EXPONENT.test(suffix) ? Number(suffix.slice(1)) : (DECIMAL_POWERS[suffix] ?? 0)) - fraction.length;
  const twos = BINARY_POWERS[suffix] ?? 0;
  if (tens >= 0) return true;
  // 5^-tens must divide digits, which is below 10^length: it cannot once -tens is past 1.5 × length.
  if (-tens > 2 * digits.length) return false;
  return (BigInt(digits) * 2n ** BigInt(twos)) % 10n ** BigInt(-tens) === 0n;
}

/** Why `text` is not a resource amount (a non-negative quantity), or undefined when it is one. */
export function resourceQuantityProblem(text: string): string | undefined {
  const value = parseQuantity(text);
  if (value === undefined) return `${JSON.stringify(text)} is not a Kubernetes quantity`;
  if (value < 0) return `${JSON.stringify(text)} is negative`;
  // An exponent past what a double holds: not a resource amount anything could give.
  if (!Number.isFinite(value)) return `${JSON.stringify(text)} is too large`;
  return undefined;
}
