/**
 * One key of a condition side compiled to a closure, with Dubbo 3.3's matching
 * (`AbstractConditionMatcher.isMatch`): a missing value never holds, neither for `=` nor for
 * `!=`; with `!=` values only, the key holds unless one matches; with both, a `!=` match wins,
 * then any `=` match holds.
 */
import type { ParsedMatcher } from './condition-parser.js';
import type { RuleCall, RuleEndpoint } from './rule-model.js';
import { compileValuePattern, type ConditionSide, type ValuePattern } from './value-pattern.js';

/**
 * What Dubbo reads for an `arguments[N]` key whose argument is not there (or whose key is
 * malformed), and for `arguments`/`attachments` keys in a then-part: a value, not a missing
 * one, so `!=` holds and `=` fails (only `*` matches it).
 */
export const NOT_FOUND_VALUE = 'dubbo_internal_not_found_argument_condition_value';

/** The when-part keys the mesh gives a value (besides `arguments[N]` and `attachments[k]`). */
export const WHEN_KEYS: readonly string[] = Object.freeze(['method', 'methods', 'interface', 'path', 'group', 'version', 'application', 'host']);

/** The `$key` values of the consumer a then-part may use. */
export const CONSUMER_PARAMS: readonly string[] = Object.freeze(['host', 'application', 'interface', 'path', 'group', 'version']);

/** The consumer's value of `$key` (Dubbo: the consumer URL's `getRawParameter`); undefined when it has none. */
export function consumerParam(call: RuleCall, key: string): string | undefined {
  switch (key) {
    case 'host':
      return call.consumerHost;
    case 'application':
      return call.consumerApplication;
    case 'interface':
    case 'path':
      return call.interface;
    case 'group':
      return call.group === '' ? undefined : call.group;
    case 'version':
      return call.version === '' ? undefined : call.version;
    default:
      return undefined;
  }
}

/** The call's value of a when-part parameter key (Dubbo: the consumer URL, `method` from the invocation). */
function callParam(call: RuleCall, key: string): string | undefined {
  // Any other consumer-URL parameter than the method and those of `consumerParam`: the mesh has none (the rule check warns).
  return key === 'method' || key === 'methods' ? call.method : consumerParam(call, key);
}

/**
 * An endpoint's value of a then-part key (Dubbo: the provider URL's map, whose `host`, `port`,
 * `address`, `protocol` come from the address); undefined when it has none.
 */
export function endpointValue(endpoint: RuleEndpoint, key: string): string | undefined {
  switch (key) {
    case 'host':
      return endpoint.host;
    case 'port':
      return endpoint.port > 0 ? String(endpoint.port) : undefined;
    case 'address':
      return endpoint.address;
    case 'application':
      return endpoint.application;
    case 'protocol':
      return Object.hasOwn(endpoint.labels, 'protocol') ? endpoint.labels.protocol : 'dubbo';
    default:
      return Object.hasOwn(endpoint.labels, key) ? endpoint.labels[key] : undefined;
  }
}

/** A compiled key: what it reads and its patterns. */
export interface CompiledMatcher<S> {
  readonly parsed: ParsedMatcher;
  readonly matches: readonly ValuePattern[];
  readonly mismatches: readonly ValuePattern[];
  /** The key's value in the subject (the call for a when-part, an endpoint for a then-part). */
  read(subject: S): string | undefined;
}

/** Whether a key holds for `value`, as Dubbo's `isMatch`. */
export function holds(value: string | undefined, matcher: CompiledMatcher<unknown>, params: readonly (string | undefined)[]): boolean {
  if (value === undefined) return false;
  const { matches, mismatches } = matcher;
  for (let i = 0; i < mismatches.length; i++) if (mismatches[i]!.test(value, params)) return false;
  if (matches.length === 0) return true;
  for (let i = 0; i < matches.length; i++) if (matches[i]!.test(value, params)) return true;
  return false;
}

function patterns(texts: readonly string[], side: ConditionSide, slotOf: (key: string) => number): ValuePattern[] {
  return texts.map((text) => compileValuePattern(text, side, slotOf));
}

/** Compile a when-part key: it reads the call (an argument only for `arguments[N]` keys). */
export function compileWhenMatcher(parsed: ParsedMatcher): CompiledMatcher<RuleCall> {
  const key = parsed.key;
  let read: (call: RuleCall) => string | undefined;
  if (key.kind === 'argument') {
    const index = key.index;
    read = index === undefined ? () => NOT_FOUND_VALUE : (call) => call.argument(index) ?? NOT_FOUND_VALUE;
  } else if (key.kind === 'attachment') {
    const name = key.name;
    read = name === undefined ? () => NOT_FOUND_VALUE : (call) => call.attachment(name);
  } else {
    const name = key.name;
    read = (call) => callParam(call, name);
  }
  const none = (): number => -1;
  return { parsed, matches: patterns(parsed.matches, 'when', none), mismatches: patterns(parsed.mismatches, 'when', none), read };
}

/** Compile a then-part key: it reads an endpoint; `$key` values take slots given by `slotOf`. */
export function compileThenMatcher(parsed: ParsedMatcher, slotOf: (key: string) => number): CompiledMatcher<RuleEndpoint> {
  const key = parsed.key;
  // Dubbo has no invocation in a then-part: arguments and attachments keys read its "not found" value.
  const name = key.kind === 'param' ? key.name : undefined;
  const read = name === undefined ? () => NOT_FOUND_VALUE : (endpoint: RuleEndpoint) => endpointValue(endpoint, name);
  return { parsed, matches: patterns(parsed.matches, 'then', slotOf), mismatches: patterns(parsed.mismatches, 'then', slotOf), read };
}

function patternText(pattern: ValuePattern, params: readonly (string | undefined)[]): string {
  if (pattern.param === undefined) return pattern.text;
  const value = params[pattern.slot];
  return `${pattern.text} (${value === undefined ? 'the consumer has none' : JSON.stringify(value)})`;
}

/** Why a key holds or not for `value`, in words (`method "findA" matches find*`). */
export function describeMatch(value: string | undefined, matcher: CompiledMatcher<unknown>, params: readonly (string | undefined)[]): string {
  const name = matcher.parsed.name;
  if (value === undefined) return `${name} has no value`;
  const shown = value === NOT_FOUND_VALUE ? 'not found' : JSON.stringify(value);
  for (const pattern of matcher.mismatches) if (pattern.test(value, params)) return `${name} ${shown} matches != ${patternText(pattern, params)}`;
  if (matcher.matches.length === 0) return `${name} ${shown} matches none of != ${matcher.mismatches.map((p) => patternText(p, params)).join(',')}`;
  for (const pattern of matcher.matches) if (pattern.test(value, params)) return `${name} ${shown} matches ${patternText(pattern, params)}`;
  return `${name} ${shown} does not match ${matcher.matches.map((p) => patternText(p, params)).join(',')}`;
}
