/** A path to a field: `['spec', 'routes', 0, 'timeout']`. */
export type FieldPath = ReadonlyArray<string | number>;

/** One problem with a value, at a field. */
export interface ValidationIssue {
  readonly path: FieldPath;
  readonly message: string;
}

/** What to do with a field the schema does not know. */
export type UnknownFieldMode = 'error' | 'warn';

/** How a value is checked. */
export interface CheckOptions {
  /**
   * `error` (default): an unknown field is an error, as a typo in a file must be. `warn`: it is
   * ignored and reported as a warning — for a proxy reading what a newer control plane sent.
   */
  readonly unknownFields?: UnknownFieldMode;
}

/** `spec.routes[0].destinations[1].weight` */
export function formatPath(path: FieldPath): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out === '' ? part : `.${part}`;
  return out;
}

/** A value as an error message names it: `string "soon"`, `a list`, `null`. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

/** Whether a value is a plain object (not null, not a list). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The state of one check: where it is (a path kept as a stack, copied only when an issue is
 * recorded, so a valid value costs no path allocations) and every issue and warning so far.
 */
export class CheckContext {
  readonly issues: ValidationIssue[] = [];
  readonly warnings: ValidationIssue[] = [];
  /** The path of the value being checked; nodes push and pop around their children. */
  readonly path: Array<string | number> = [];
  readonly unknownFields: UnknownFieldMode;

  constructor(options: CheckOptions = {}) {
    this.unknownFields = options.unknownFields ?? 'error';
  }

  /** Record an issue at the current path, or at `below` under it. */
  fail(message: string, ...below: Array<string | number>): void {
    this.issues.push({ path: below.length === 0 ? [...this.path] : [...this.path, ...below], message });
  }

  /** Record a warning at the current path, or at `below` under it. */
  warn(message: string, ...below: Array<string | number>): void {
    this.warnings.push({ path: below.length === 0 ? [...this.path] : [...this.path, ...below], message });
  }
}
