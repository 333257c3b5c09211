import { describe, isObject, object, SchemaNode, string, type CheckContext, type OpenApiSchema } from '@dubbo-mesh/schema';

/**
 * Dubbo's `StringMatch` (the 3.0 rules' `match` values): `exact`, `prefix`, `regex` (the whole
 * value, as Java's `String.matches`), `wildcard` (only `*`, else the value itself), `empty`
 * (absent or `''`), `noempty` (present and not `''`). `empty` and `noempty` mean what they
 * are by being present; their value is not read. With several fields, the first of that order
 * that can decide wins, as in Dubbo (`exact` on an absent value falls through to `empty`).
 */
export interface StringMatch {
  readonly exact?: string;
  readonly prefix?: string;
  readonly regex?: string;
  readonly wildcard?: string;
  readonly empty?: string;
  readonly noempty?: string;
}

/** The fields of a {@link StringMatch}, in the order Dubbo tries them. */
export const STRING_MATCH_FIELDS = ['exact', 'prefix', 'regex', 'wildcard', 'empty', 'noempty'] as const;

class ScalarTextNode extends SchemaNode<string> {
  check(value: unknown, context: CheckContext): string | undefined {
    // Dubbo keeps YAML scalars through `toString()`: `weight: 200` is the parameter "200".
    if (typeof value === 'string') return value;
    if ((typeof value === 'number' && Number.isFinite(value)) || typeof value === 'boolean') return String(value);
    context.fail(`must be a string, number or boolean, got ${describe(value)}`);
    return undefined;
  }

  toOpenApi(): OpenApiSchema {
    // A structural schema cannot say "string, number or boolean": Kubernetes keeps the node as is.
    return { 'x-kubernetes-preserve-unknown-fields': true };
  }
}

/** A scalar read as Dubbo's text: a string as is, a number or boolean as written (`200`, `true`). */
export function scalarText(): SchemaNode<string> {
  return new ScalarTextNode();
}

/** Java's `String.matches`: the whole value. A pattern JavaScript cannot read gives the error text. */
function wholeValueRegex(pattern: string): RegExp | string {
  try {
    return new RegExp(`^(?:${pattern})$`);
  } catch (error) {
    return (error as Error).message;
  }
}

class OneOfFieldsNode<T> extends SchemaNode<T> {
  constructor(
    private readonly fields: readonly string[],
    private readonly inner: SchemaNode<T>,
  ) {
    super();
  }

  check(value: unknown, context: CheckContext): T | undefined {
    // Judged on the value as written, so a field that is there but wrong is not also "missing".
    if (isObject(value) && this.fields.every((field) => value[field] === undefined || value[field] === null)) {
      this.inner.check(value, context);
      context.fail(`must have one of ${this.fields.join(', ')}`);
      return undefined;
    }
    return this.inner.check(value, context);
  }

  toOpenApi(): OpenApiSchema {
    return this.inner.toOpenApi();
  }
}

/**
 * An object node that needs at least one of `fields` (a Dubbo match object with none matches
 * nothing: surely a mistake in the rule); the error is at the object.
 */
export function withOneOf<T>(fields: readonly string[], node: SchemaNode<T>): SchemaNode<T> {
  return new OneOfFieldsNode(fields, node);
}

/** A {@link StringMatch}: at least one field, and a `regex` that compiles. */
export const stringMatchNode: SchemaNode<StringMatch> = withOneOf(
  STRING_MATCH_FIELDS,
  object<StringMatch>({
    exact: { node: string({ allowEmpty: true }) },
    prefix: { node: string({ allowEmpty: true }) },
    regex: { node: string() },
    wildcard: { node: string({ allowEmpty: true }) },
    empty: { node: scalarText() },
    noempty: { node: scalarText() },
  }).refine((match, context) => {
    if (match.regex !== undefined) {
      const compiled = wholeValueRegex(match.regex);
      if (typeof compiled === 'string') {
        context.fail(`${JSON.stringify(match.regex)} is not a regular expression: ${compiled}`, 'regex');
        return undefined;
      }
    }
    // A field given but wrong was reported and dropped: the match is not usable as written.
    return STRING_MATCH_FIELDS.some((field) => match[field] !== undefined) ? match : undefined;
  }),
);

/** A compiled {@link StringMatch}: whether a value (undefined: absent) matches. */
export type StringMatcher = (input: string | undefined) => boolean;

/** Compile a valid {@link StringMatch} (its regex once, not per value). */
export function compileStringMatch(match: StringMatch): StringMatcher {
  const regex = match.regex === undefined ? undefined : wholeValueRegex(match.regex);
  const { exact, prefix, wildcard, empty, noempty } = match;
  return (input) => {
    if (exact !== undefined && input !== undefined) return input === exact;
    if (prefix !== undefined && input !== undefined) return input.startsWith(prefix);
    if (regex instanceof RegExp && input !== undefined) return regex.test(input);
    if (wildcard !== undefined && input !== undefined) return wildcard === '*' || input === wildcard;
    if (empty !== undefined) return input === undefined || input === '';
    if (noempty !== undefined) return input !== undefined && input !== '';
    return false;
  };
}

/** A {@link StringMatch} in words, for explanations: `exact "gray"`, `prefix "v2"`. */
export function describeStringMatch(match: StringMatch): string {
  const parts: string[] = [];
  for (const field of STRING_MATCH_FIELDS) {
    const value = match[field];
    if (value === undefined) continue;
    parts.push(field === 'empty' || field === 'noempty' ? field : `${field} ${JSON.stringify(value)}`);
  }
  return parts.join(' or ');
}
