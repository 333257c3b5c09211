import { describe, isObject, type CheckContext } from './check-context.js';
import type { OpenApiSchema } from './open-api.js';
import { SchemaNode } from './schema-node.js';

/** A string rule beyond its type: a pattern, and what a value that misses it is. */
export interface StringRule {
  /** Also emitted as the OpenAPI `pattern`: write it so Go's RE2 reads it as JavaScript does. */
  readonly pattern: RegExp;
  /** `is not a valid name (…)`: the message follows the value in quotes. */
  readonly says: string;
}

/** Options of {@link string}. */
export interface StringOptions {
  /** Default false: an empty string is refused (`must be a non-empty string`). */
  readonly allowEmpty?: boolean;
  readonly rule?: StringRule;
}

class StringNode extends SchemaNode<string> {
  constructor(private readonly options: StringOptions) {
    super();
  }

  check(value: unknown, context: CheckContext): string | undefined {
    if (typeof value !== 'string') {
      context.fail(`must be a ${this.options.allowEmpty === true ? '' : 'non-empty '}string, got ${describe(value)}`);
      return undefined;
    }
    if (value === '' && this.options.allowEmpty !== true) {
      context.fail(`must be a non-empty string, got ${describe(value)}`);
      return undefined;
    }
    const rule = this.options.rule;
    if (rule !== undefined && !rule.pattern.test(value)) {
      context.fail(`${JSON.stringify(value)} ${rule.says}`);
      return undefined;
    }
    return value;
  }

  toOpenApi(): OpenApiSchema {
    const schema: OpenApiSchema = { type: 'string' };
    if (this.options.allowEmpty !== true) schema.minLength = 1;
    if (this.options.rule !== undefined) schema.pattern = this.options.rule.pattern.source;
    return schema;
  }
}

/** A string: non-empty unless `allowEmpty`, matching `rule` when given. */
export function string(options: StringOptions = {}): SchemaNode<string> {
  return new StringNode(options);
}

class IntegerNode extends SchemaNode<number> {
  constructor(
    private readonly min: number,
    private readonly max: number,
  ) {
    super();
  }

  check(value: unknown, context: CheckContext): number | undefined {
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      context.fail(`must be an integer, got ${describe(value)}`);
      return undefined;
    }
    if (value < this.min) context.fail(`must be >= ${this.min}`);
    else if (value > this.max) context.fail(`must be <= ${this.max}`);
    else return value;
    return undefined;
  }

  toOpenApi(): OpenApiSchema {
    return { type: 'integer', minimum: this.min, maximum: this.max };
  }
}

/** A whole number from `min` to `max`, both included. */
export function integer(min: number, max: number): SchemaNode<number> {
  return new IntegerNode(min, max);
}

class EnumNode<T extends string> extends SchemaNode<T> {
  constructor(private readonly values: () => readonly T[]) {
    super();
  }

  check(value: unknown, context: CheckContext): T | undefined {
    const values = this.values();
    if (typeof value === 'string' && (values as readonly string[]).includes(value)) return value as T;
    context.fail(`must be one of ${values.join(', ')}, got ${describe(value)}`);
    return undefined;
  }

  toOpenApi(): OpenApiSchema {
    return { type: 'string', enum: [...this.values()] };
  }
}

/**
 * One of some strings. `values` may be a function, read at each check, for an open set (the
 * load balancers registered, the kinds registered).
 */
export function oneOf<T extends string>(values: readonly T[] | (() => readonly T[])): SchemaNode<T> {
  return new EnumNode(typeof values === 'function' ? values : () => values);
}

class ConstantNode<T extends string> extends SchemaNode<T> {
  constructor(private readonly value: T) {
    super();
  }

  check(value: unknown, context: CheckContext): T | undefined {
    if (value === this.value) return this.value;
    context.fail(`must be ${this.value}, got ${describe(value)}`);
    return undefined;
  }

  toOpenApi(): OpenApiSchema {
    return { type: 'string', enum: [this.value] };
  }
}

/** Exactly this string (an apiVersion). */
export function constant<T extends string>(value: T): SchemaNode<T> {
  return new ConstantNode(value);
}

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
/**
 * Surrounding ASCII whitespace is allowed, newlines included (a YAML block scalar,
 * `timeout: |` then `2s`, gives "2s\n"). Written without `\s`, which RE2 (the CRD's pattern)
 * and JavaScript read differently, so the CRD accepts exactly what a file does.
 */
const DURATION = /^[ \t\n\r\f\v]*([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)[ \t\n\r\f\v]*$/;

/**
 * Parse a duration string (`500ms`, `2s`, `1.5s`, `1m`, `1h`) into whole milliseconds, or
 * undefined when it is not one.
 */
export function parseDuration(text: string): number | undefined {
  const match = DURATION.exec(text);
  if (match === null) return undefined;
  return Math.round(Number(match[1]) * UNITS[match[2]!]!);
}

class DurationNode extends SchemaNode<number> {
  check(value: unknown, context: CheckContext): number | undefined {
    const ms = typeof value === 'string' ? parseDuration(value) : undefined;
    if (ms === undefined) {
      context.fail(`must be a duration like "500ms" or "2s", got ${describe(value)}`);
      return undefined;
    }
    if (ms <= 0) {
      context.fail('must be longer than 0');
      return undefined;
    }
    return ms;
  }

  toOpenApi(): OpenApiSchema {
    // "Longer than 0" after rounding to whole milliseconds is beyond a pattern: `0s` passes the CRD, not the file.
    return { type: 'string', pattern: DURATION.source };
  }
}

/** A duration string, given as whole milliseconds; it must be longer than 0. */
export function duration(): SchemaNode<number> {
  return new DurationNode();
}

class AnyNode extends SchemaNode<unknown> {
  check(value: unknown): unknown {
    return value;
  }

  toOpenApi(): OpenApiSchema {
    return { 'x-kubernetes-preserve-unknown-fields': true };
  }
}

/** Anything, kept as it is (a field another system owns, such as Kubernetes' `metadata.managedFields`). */
export function anything(): SchemaNode<unknown> {
  return new AnyNode();
}

class OpaqueObjectNode extends SchemaNode<Record<string, unknown>> {
  check(value: unknown, context: CheckContext): Record<string, unknown> | undefined {
    if (isObject(value)) return value;
    context.fail(`must be an object, got ${describe(value)}`);
    return undefined;
  }

  toOpenApi(): OpenApiSchema {
    return { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  }
}

/** An object whose fields are not ours to check (a resource's `status`). */
export function opaqueObject(): SchemaNode<Record<string, unknown>> {
  return new OpaqueObjectNode();
}

class StringOrNode<S, O> extends SchemaNode<S | O> {
  constructor(
    private readonly text: SchemaNode<S>,
    private readonly object: SchemaNode<O>,
  ) {
    super();
  }

  check(value: unknown, context: CheckContext): S | O | undefined {
    return typeof value === 'string' ? this.text.check(value, context) : this.object.check(value, context);
  }

  toOpenApi(): OpenApiSchema {
    // A structural schema cannot type a node "string or object" (a junctor may not set a type,
    // and CEL needs a typed node): Kubernetes keeps such a node as it is; the file rules judge it.
    return { 'x-kubernetes-preserve-unknown-fields': true };
  }
}

/** A string shorthand or the full object (`UserService` or `{interface: UserService, group: g1}`). */
export function stringOr<S, O>(text: SchemaNode<S>, object: SchemaNode<O>): SchemaNode<S | O> {
  return new StringOrNode(text, object);
}
