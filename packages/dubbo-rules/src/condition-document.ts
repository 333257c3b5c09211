import { describe, integer, isObject, list, object, SchemaNode, type CheckContext, type OpenApiSchema } from '@dubbo-mesh/schema';
import { CONSUMER_PARAMS, WHEN_KEYS } from './condition-matcher.js';
import { parseCondition, parseMatch, type ConditionProblem, type ParsedMatcher } from './condition-parser.js';
import { boolean, canonicalHeader, headerFields, type RuleHeader } from './rule-header.js';

/** A v3.1 destination: the providers its `match` keeps, chosen with `weight` among the others. */
export interface ConditionTarget {
  /** A then-part (`region=$region & version=v1`); blank or `false`: every provider. */
  readonly match: string;
  /** Relative weight, default 100; Dubbo 3.3 reads 0 or less as 100. */
  readonly weight: number;
}

/** A v3.1 condition: calls `from.match` selects go to one of the non-empty `to` subsets. */
export interface MultiDestCondition {
  /** A when-part; blank or `true` (or no `from`): every call. */
  readonly from: { readonly match: string };
  /** No `to` (or an empty one): calls `from` selects reach no provider (Dubbo's traffic disable). */
  readonly to: readonly ConditionTarget[];
}

/**
 * A condition rule document, as dubbo-admin writes it (`<key>.condition-router`): v2.7/v3.0
 * `conditions` are strings `when => then`, v3.1 ones `{from, to}` (Dubbo 3.3 reads `from.match`,
 * `to[].match`, `to[].weight` only).
 */
export interface ConditionRuleDocument extends RuleHeader {
  readonly kind: 'condition';
  readonly conditions: readonly string[] | readonly MultiDestCondition[];
  /** Dubbo's `valid` (default true); `false`: the rule does nothing. */
  readonly valid: boolean;
  /** Dubbo's `dynamic`: accepted and kept, it changes nothing. */
  readonly dynamic: boolean;
}

/** A condition text: Dubbo reads every list item with `String.valueOf`, so `false` and numbers are text too. */
class ConditionTextNode extends SchemaNode<string> {
  constructor(private readonly nullAs: string | undefined) {
    super();
  }

  check(value: unknown, context: CheckContext): string | undefined {
    if (typeof value === 'string') return value;
    if (typeof value === 'number' || typeof value === 'boolean') return String(value);
    if (value === null && this.nullAs !== undefined) return this.nullAs;
    context.fail(`must be a condition text, got ${describe(value)}`);
    return undefined;
  }

  toOpenApi(): OpenApiSchema {
    // Text, or a number or boolean read as text: no single structural type says that.
    return { 'x-kubernetes-preserve-unknown-fields': true };
  }
}

/** A v3.1 weight: an integer, also as text (Dubbo reads it with `Integer.valueOf`). */
class WeightNode extends SchemaNode<number> {
  private readonly number = integer(-2147483648, 2147483647);

  check(value: unknown, context: CheckContext): number | undefined {
    if (typeof value === 'string' && /^[+-]?\d+$/.test(value.trim())) return this.number.check(Number(value), context);
    return this.number.check(value, context);
  }

  toOpenApi(): OpenApiSchema {
    return { 'x-kubernetes-int-or-string': true };
  }
}

/** `null` read as an empty object or list, as Dubbo 3.3 reads a bare `from:` or `to:`. */
class NullAsNode<T> extends SchemaNode<T> {
  constructor(
    private readonly inner: SchemaNode<T>,
    private readonly empty: T,
  ) {
    super();
  }

  check(value: unknown, context: CheckContext): T | undefined {
    return value === null ? this.empty : this.inner.check(value, context);
  }

  toOpenApi(): OpenApiSchema {
    // Kubernetes drops a null field, which then reads as absent: the same meaning.
    return this.inner.toOpenApi();
  }
}

/** A field of dubbo-admin's v3.1 model that Dubbo 3.3 does not read: accepted, with a warning. */
class IgnoredNode extends SchemaNode<unknown> {
  check(value: unknown, context: CheckContext): unknown {
    context.warn('ignored: Dubbo 3.3 does not read it, nor does the mesh');
    return value;
  }

  toOpenApi(): OpenApiSchema {
    return { 'x-kubernetes-preserve-unknown-fields': true };
  }
}

const ignored = { node: new IgnoredNode(), omit: true };

const targetNode = object<ConditionTarget>({
  match: { node: new ConditionTextNode(''), default: '' },
  weight: { node: new WeightNode(), default: 100 },
});

const multiDestNode: SchemaNode<MultiDestCondition> = object<MultiDestCondition>({
  priority: ignored,
  from: { node: new NullAsNode(object<{ match: string }>({ match: { node: new ConditionTextNode(''), default: '' } }), { match: '' }), default: { match: '' } },
  trafficDisable: ignored,
  to: { node: new NullAsNode(list(targetNode), []), default: [] },
  force: ignored,
  ratio: ignored,
});

/** The list itself; each item is checked by the document's refinement, which knows `configVersion`. */
class ConditionListNode extends SchemaNode<unknown[]> {
  check(value: unknown, context: CheckContext): unknown[] | undefined {
    if (!Array.isArray(value)) {
      context.fail(`must be a list of conditions, got ${describe(value)}`);
      return undefined;
    }
    // Dubbo marks a rule with no condition invalid and applies nothing.
    if (value.length === 0) context.fail('must have at least one condition');
    return value;
  }

  toOpenApi(): OpenApiSchema {
    return { type: 'array', minItems: 1, items: { 'x-kubernetes-preserve-unknown-fields': true } };
  }
}

function report(context: CheckContext, text: string, problem: ConditionProblem, ...below: Array<string | number>): void {
  const hint = problem.hint === undefined ? '' : ` (${problem.hint})`;
  context.fail(`${JSON.stringify(text)}: ${problem.message} at column ${problem.column}${hint}`, ...below);
}

/** Warnings for keys Dubbo accepts that cannot do what they read like in the mesh. */
function warnKeys(context: CheckContext, text: string, matchers: readonly ParsedMatcher[], side: 'when' | 'then', ...below: Array<string | number>): void {
  const say = (m: ParsedMatcher, what: string): void => context.warn(`${JSON.stringify(text)}: "${m.name}" at column ${m.column} ${what}`, ...below);
  for (const m of matchers) {
    const key = m.key;
    if (side === 'then') {
      if (key.kind !== 'param') say(m, 'has no value in a then-part (Dubbo reads providers there): = never holds, != always does');
      else
        for (const pattern of [...m.matches, ...m.mismatches])
          if (pattern.startsWith('$') && !pattern.includes('~') && !CONSUMER_PARAMS.includes(pattern.slice(1)))
            say(m, `uses ${pattern}: the mesh knows the consumer's ${CONSUMER_PARAMS.map((p) => `$${p}`).join(', ')}; ${pattern} has no value`);
      continue;
    }
    if (key.kind === 'argument' && key.index === undefined) say(m, 'is not arguments[N] (Dubbo reads it as not found: = never holds, != always does)');
    else if (key.kind === 'attachment' && key.name === undefined)
      say(m, 'is not attachments[key] with a key free of "." (Dubbo reads the key up to its first "."): = never holds, != always does');
    else if (key.kind === 'param' && !WHEN_KEYS.includes(key.name))
      say(m, `is not a call value the mesh knows (${WHEN_KEYS.join(', ')}, arguments[N], attachments[k]): it never holds`);
  }
}

function checkStringConditions(items: readonly unknown[], context: CheckContext): string[] | undefined {
  const out: string[] = [];
  let ok = true;
  const text = new ConditionTextNode(undefined);
  const path = context.path;
  for (let i = 0; i < items.length; i++) {
    path.push(i);
    const item = items[i];
    if (isObject(item) && ('from' in item || 'to' in item)) {
      context.fail('is a v3.1 condition (from/to): set configVersion: v3.1');
      ok = false;
    } else {
      const condition = text.check(item, context);
      if (condition === undefined) ok = false;
      else {
        const parsed = parseCondition(condition);
        for (const problem of parsed.problems) report(context, condition, problem);
        if (parsed.problems.length > 0) ok = false;
        else {
          warnKeys(context, condition, parsed.when, 'when');
          if (parsed.then !== undefined) warnKeys(context, condition, parsed.then, 'then');
        }
        out.push(condition);
      }
    }
    path.pop();
  }
  return ok ? out : undefined;
}

function checkMatch(context: CheckContext, match: string, side: 'when' | 'then', ...below: Array<string | number>): boolean {
  const parsed = parseMatch(match, side);
  if (parsed.problem !== undefined) {
    report(context, match, parsed.problem, ...below);
    return false;
  }
  warnKeys(context, match, parsed.matchers, side, ...below);
  return true;
}

function checkMultiDestConditions(items: readonly unknown[], context: CheckContext): MultiDestCondition[] | undefined {
  const out: MultiDestCondition[] = [];
  let ok = true;
  const path = context.path;
  for (let i = 0; i < items.length; i++) {
    path.push(i);
    const item = items[i];
    if (typeof item === 'string') {
      context.fail('is a condition text: v3.1 conditions are {from: {match}, to: [{match, weight}]} (or set configVersion: v3.0)');
      ok = false;
    } else {
      const condition = multiDestNode.check(item, context);
      if (condition === undefined) ok = false;
      else {
        if (!checkMatch(context, condition.from.match, 'when', 'from', 'match')) ok = false;
        condition.to.forEach((target, j) => {
          if (!checkMatch(context, target.match, 'then', 'to', j, 'match')) ok = false;
        });
        out.push(condition);
      }
    }
    path.pop();
  }
  return ok ? out : undefined;
}

type CheckedFields = Omit<ConditionRuleDocument, 'kind' | 'conditions'> & { readonly conditions: unknown[] };

/**
 * A whole condition rule document: the header, Dubbo's `valid`/`dynamic`/`rawRule`, and
 * `conditions` read by `configVersion`; every condition is parsed here, so a bad one is refused
 * with its index and column (`conditions[0]: "method = => host = 1.2.3.4": no value after "="
 * at column 10`). Keys Dubbo accepts that never hold in the mesh are warnings.
 */
export const conditionRuleNode: SchemaNode<ConditionRuleDocument> = object<CheckedFields>({
  ...headerFields(['v2.7', 'v3.0', 'v3.1'], true),
  valid: { node: boolean(), default: true },
  dynamic: { node: boolean(), default: false },
  // Dubbo overwrites it with the text it read: accepted, not kept.
  rawRule: { node: new ConditionTextNode(''), omit: true },
  conditions: { node: new ConditionListNode(), required: true },
}).refine<ConditionRuleDocument>((fields, context) => {
  const header = canonicalHeader(fields, context);
  context.path.push('conditions');
  const conditions = fields.configVersion === 'v3.1' ? checkMultiDestConditions(fields.conditions, context) : checkStringConditions(fields.conditions, context);
  context.path.pop();
  if (header === undefined || conditions === undefined || conditions.length === 0) return undefined;
  return { ...header, kind: 'condition', conditions };
});
