import { describe, isObject, type CheckContext } from './check-context.js';
import type { OpenApiSchema } from './open-api.js';
import { SchemaNode } from './schema-node.js';

/** One field of an {@link object}. */
export interface FieldSpec<V = unknown> {
  readonly node: SchemaNode<V>;
  /** An absent required field is an error (`is required`). */
  readonly required?: boolean;
  /** The value of an absent field, and of one that failed its check. */
  readonly default?: V;
  /**
   * For a required field that failed: the value the object carries instead, so the rest of it
   * can still be read (its cross-references checked and reported). Without one, a required
   * field that failed makes the whole object unusable.
   */
  readonly fallback?: V;
  /** The name in the checked value, when it differs (`timeout` is given as `timeoutMs`). */
  readonly as?: string;
  /** Accepted and checked, but left out of the value (a field another system owns). */
  readonly omit?: boolean;
}

/** A rule in Kubernetes' CEL, checked by the API server only (`x-kubernetes-validations`). */
export interface CelRule {
  readonly rule: string;
  readonly message: string;
}

/** Options of {@link object}. */
export interface ObjectOptions {
  /** Exactly one of these fields must be present (`exact | prefix | regex`). */
  readonly exactlyOneOf?: readonly string[];
  /** Rules for the CRD that file validation expresses in a refinement. */
  readonly cel?: readonly CelRule[];
}

type Fields = Readonly<Record<string, FieldSpec>>;

/** The checked value of an object with these fields (renamed by `as` is left to the caller's type). */
export type ObjectValue<F extends Fields> = { [K in keyof F]?: F[K] extends FieldSpec<infer V> ? V : never };

class ObjectNode<T> extends SchemaNode<T> {
  private readonly names: readonly string[];
  private readonly specs: readonly FieldSpec[];
  private readonly known: ReadonlySet<string>;
  private readonly expected: string;

  constructor(
    private readonly fields: Fields,
    private readonly options: ObjectOptions,
  ) {
    super();
    this.names = Object.keys(fields);
    this.specs = this.names.map((name) => fields[name]!);
    this.known = new Set(this.names);
    this.expected = this.names.join(', ');
  }

  check(value: unknown, context: CheckContext): T | undefined {
    if (!isObject(value)) {
      context.fail(`must be an object, got ${describe(value)}`);
      return undefined;
    }
    for (const key of Object.keys(value)) {
      if (this.known.has(key)) continue;
      if (context.unknownFields === 'warn') context.warn(`unknown field, ignored (expected one of: ${this.expected})`, key);
      else context.fail(`unknown field (expected one of: ${this.expected})`, key);
    }
    const out: Record<string, unknown> = {};
    let usable = true;
    const path = context.path;
    const names = this.names;
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      const field = this.specs[i]!;
      const raw = value[name];
      let checked: unknown;
      if (raw === undefined) {
        if (field.required === true) context.fail('is required', name);
      } else {
        path.push(name);
        checked = field.node.check(raw, context);
        path.pop();
      }
      if (checked === undefined) checked = field.default;
      if (checked === undefined && field.required === true) {
        checked = field.fallback;
        if (checked === undefined) usable = false;
      }
      if (checked !== undefined && field.omit !== true) out[field.as ?? name] = checked;
    }
    const exactlyOneOf = this.options.exactlyOneOf;
    if (exactlyOneOf !== undefined) {
      let count = 0;
      for (const key of exactlyOneOf) if (value[key] !== undefined) count += 1;
      if (count !== 1) {
        const present = exactlyOneOf.filter((key) => value[key] !== undefined);
        context.fail(`must have exactly one of ${exactlyOneOf.join(', ')}${present.length > 1 ? ` (has ${present.join(', ')})` : ''}`);
        return undefined;
      }
    }
    return usable ? (out as T) : undefined;
  }

  toOpenApi(): OpenApiSchema {
    const properties: Record<string, OpenApiSchema> = {};
    const required: string[] = [];
    for (const name of this.names) {
      properties[name] = this.fields[name]!.node.toOpenApi();
      if (this.fields[name]!.required === true) required.push(name);
    }
    const schema: OpenApiSchema = { type: 'object', properties };
    if (required.length > 0) schema.required = required;
    if (this.options.exactlyOneOf !== undefined) schema.oneOf = this.options.exactlyOneOf.map((name) => ({ required: [name] }));
    if (this.options.cel !== undefined && this.options.cel.length > 0) schema['x-kubernetes-validations'] = this.options.cel.map((rule) => ({ ...rule }));
    return schema;
  }
}

/**
 * An object with known fields, checked in the order they are declared; a field it does not
 * know is an error (or a warning, see `CheckOptions.unknownFields`). The value is typed by the
 * caller (`object<RetryPolicy>(…)`): the fields and their `as` names must give that shape.
 */
export function object<T = Record<string, unknown>>(fields: Fields, options: ObjectOptions = {}): SchemaNode<T> {
  return new ObjectNode<T>(fields, options);
}
