import { list, object, SchemaNode, string } from '@dubbo-mesh/schema';
import { compileStringMatch, describeStringMatch, stringMatchNode, type StringMatch, type StringMatcher } from './string-match.js';

/**
 * Dubbo's `ParamMatch` (3.0 tag rules' `match` and override rules' `match.param`): the value of
 * one URL parameter (`key`) matched by a {@link StringMatch}. For rules here a provider URL's
 * parameters are the endpoint's labels (`application` also the endpoint's application).
 */
export interface ParamMatch {
  readonly key: string;
  readonly value: StringMatch;
}

/** A {@link ParamMatch}: `key` and `value` both required (without a value Dubbo's matches nothing). */
export const paramMatchNode: SchemaNode<ParamMatch> = object<ParamMatch>({
  key: { node: string(), required: true },
  value: { node: stringMatchNode, required: true },
});

/** A list of {@link ParamMatch}: every one must hold. */
export const paramMatchesNode: SchemaNode<ParamMatch[]> = list(paramMatchNode);

/** What a param match reads: a URL parameter by name, undefined when absent. */
export type ParameterLookup = (key: string) => string | undefined;

/** Compiled {@link ParamMatch}es: whether every one holds for the parameters `lookup` gives. */
export interface ParamMatcher {
  matches(lookup: ParameterLookup): boolean;
  /** The first that fails, in words (`match_key "x" is not exact "value"`); undefined when all hold. */
  firstMismatch(lookup: ParameterLookup): string | undefined;
}

/** Compile valid {@link ParamMatch}es (all must hold, as Dubbo's tag and override rules read them). */
export function compileParamMatches(matches: readonly ParamMatch[]): ParamMatcher {
  const compiled: ReadonlyArray<{ key: string; test: StringMatcher; text: string }> = matches.map((m) => ({
    key: m.key,
    test: compileStringMatch(m.value),
    text: describeStringMatch(m.value),
  }));
  return {
    matches(lookup) {
      for (const { key, test } of compiled) if (!test(lookup(key))) return false;
      return true;
    },
    firstMismatch(lookup) {
      for (const { key, test, text } of compiled) {
        const value = lookup(key);
        if (!test(value)) return `${key} ${value === undefined ? 'is absent' : JSON.stringify(value)}, not ${text}`;
      }
      return undefined;
    },
  };
}
