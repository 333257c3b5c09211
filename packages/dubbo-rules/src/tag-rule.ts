import { matchIpExpression, parseIpExpression, type IpExpression } from './address-match.js';
import { compileParamMatches, type ParamMatcher, type ParameterLookup } from './param-match.js';
import { registerRuleKind } from './rule-document.js';
import type { EffectSlot, ExplanationStep, NarrowingRule, RuleCall, RuleEffect, RuleEndpoint, RuleExplanation } from './rule-model.js';
import { tagRuleNode, type TagRuleDocument } from './tag-document.js';

/** The attachment (and provider label) that carries a tag: Dubbo's `TAG_KEY`. */
export const TAG_KEY = 'dubbo.tag';
/** The attachment that forbids falling back from a requested tag: Dubbo's `FORCE_USE_TAG`. */
export const FORCE_TAG_KEY = 'dubbo.force.tag';
/** Dubbo's `TAG_SEPERATOR`: `beta|team1|partner1` falls back to `beta|team1`, then `beta`. */
const LEVEL_SEPARATOR = '|';
/** Results kept per candidates array: one per (request tag, force) seen, the oldest dropped first. */
const RESULTS_PER_CANDIDATES = 16;

/** A tag as compiled: its address patterns, or (v3.0, no addresses) its label matches. */
interface CompiledTag {
  readonly name: string;
  readonly patterns: readonly IpExpression[];
  readonly match: ParamMatcher | undefined;
}

/** What a tag rule needs to know of one candidates array, computed once for it. */
interface CandidateFacts {
  readonly views: readonly RuleEndpoint[];
  /** The endpoints of each tag that has any (Dubbo: a tag whose address set is not empty), by index. */
  readonly members: ReadonlyMap<string, readonly boolean[]>;
  /** In some tag of the rule. */
  readonly inAnyTag: readonly boolean[];
  /** The endpoint's own `dubbo.tag` label; undefined when absent or empty. */
  readonly staticTags: ReadonlyArray<string | undefined>;
}

interface CachedResult {
  readonly result: readonly unknown[];
  readonly effect: RuleEffect;
}

interface CandidateState {
  facts: CandidateFacts | undefined;
  /** Results by request tag (`''`: none), without `dubbo.force.tag`. */
  readonly results: Map<string, CachedResult>;
  /** Results by request tag with `dubbo.force.tag: true`. */
  readonly forced: Map<string, CachedResult>;
}

/** Steps of an explanation, collected only by `explain`. */
type Trace = ExplanationStep<unknown>[];

function ownLabel(endpoint: RuleEndpoint, key: string): string | undefined {
  return Object.hasOwn(endpoint.labels, key) ? endpoint.labels[key] : undefined;
}

/** What a `match` of a tag reads of a provider: its URL parameters, here its labels and application. */
function endpointParameters(endpoint: RuleEndpoint): ParameterLookup {
  return (key) => (key === 'application' ? endpoint.application : ownLabel(endpoint, key));
}

function staticTagOf(endpoint: RuleEndpoint): string | undefined {
  const tag = ownLabel(endpoint, TAG_KEY);
  return tag === undefined || tag === '' ? undefined : tag;
}

function effectOf(result: readonly unknown[], candidates: readonly unknown[]): RuleEffect {
  if (result === candidates) return 'kept-all';
  return result.length === 0 ? 'forced-empty' : 'narrowed';
}

/** Java's `Boolean.parseBoolean`. */
function javaBoolean(text: string | undefined): boolean {
  return text !== undefined && text.toLowerCase() === 'true';
}

/**
 * A compiled tag rule: Dubbo 3.3's `TagStateRouter` with this rule in force.
 *
 * - Request tag: the `dubbo.tag` attachment (Dubbo also falls back to the consumer's own
 *   `dubbo.tag` parameter; the proxy would put that in the attachment).
 * - With a tag: the tag of the rule it names is looked up; `a|b|c` falls back level by level
 *   (`a|b|c`, `a|b`, `a`) to the first that exists, unless `dubbo.force.tag` is true. Found:
 *   its endpoints; if none of them is a candidate and the rule has `force: true`, no endpoint.
 *   Not found: the endpoints whose own `dubbo.tag` label is the whole tag. Then, when still
 *   nothing is left and `dubbo.force.tag` is not true, the endpoints in no tag (neither in a
 *   tag of the rule nor with a `dubbo.tag` label); with it true, no endpoint.
 * - Without a tag: the endpoints in no tag (which may be none: Dubbo does not fall back).
 * - `enabled: false`: what Dubbo does with no rule: by the endpoints' own `dubbo.tag` labels
 *   only (a tag → those with it, else, unless forced, the untagged; no tag → the untagged).
 *
 * Dubbo computes a v3.0 `match` tag over every provider of the application; here it is computed
 * over the candidates given (the endpoints left by the rules before), which differs only when
 * all the tag's endpoints were removed before: Dubbo then sees the tag (and `force: true` gives
 * no endpoint), here the tag is absent and the static labels decide.
 */
class CompiledTagRule implements NarrowingRule {
  readonly kind = 'tag' as const;
  private readonly tags: readonly CompiledTag[];
  private readonly states = new WeakMap<readonly unknown[], CandidateState>();

  /** False for a disabled rule and for Dubbo's routing with no rule (`document` undefined). */
  private readonly enabled: boolean;
  private readonly force: boolean;

  constructor(private readonly document: TagRuleDocument | undefined) {
    this.enabled = document?.enabled ?? false;
    this.force = document?.force ?? false;
    const v3 = document?.configVersion === 'v3.0';
    this.tags = (document?.tags ?? []).map((tag) => ({
      name: tag.name,
      patterns: tag.addresses.map((text) => {
        const parsed = parseIpExpression(text);
        if (typeof parsed === 'string') throw new TypeError(`compileTagRule: tag ${JSON.stringify(tag.name)}: ${parsed}`);
        return parsed;
      }),
      // As TagRouterRule.init: `match` counts only in v3.0 and only for a tag with no addresses.
      match: v3 && tag.addresses.length === 0 && tag.match !== undefined ? compileParamMatches(tag.match) : undefined,
    }));
  }

  narrow<E>(call: RuleCall, candidates: readonly E[], view: (endpoint: E) => RuleEndpoint, out: EffectSlot): readonly E[] {
    if (candidates.length === 0) {
      out.effect = 'not-matched';
      return candidates;
    }
    const tag = call.attachment(TAG_KEY);
    const requested = tag === undefined || tag === '' ? undefined : tag;
    const force = requested !== undefined && javaBoolean(call.attachment(FORCE_TAG_KEY));
    // Keyed by the tag itself, in one map per force flag: a call with a tag builds no key string.
    const key = requested ?? '';
    let state = this.states.get(candidates);
    if (state === undefined) {
      state = { facts: undefined, results: new Map(), forced: new Map() };
      this.states.set(candidates, state);
    }
    const results = force ? state.forced : state.results;
    let cached = results.get(key);
    if (cached === undefined) {
      state.facts ??= this.factsOf(candidates, view);
      const result = this.evaluate(candidates, state.facts, requested, force, undefined);
      cached = { result, effect: this.effectFor(result, candidates) };
      if (results.size >= RESULTS_PER_CANDIDATES) results.delete(results.keys().next().value as string);
      results.set(key, cached);
    }
    out.effect = cached.effect;
    return cached.result as readonly E[];
  }

  explain<E>(call: RuleCall, candidates: readonly E[], view: (endpoint: E) => RuleEndpoint): RuleExplanation<E> {
    const steps: Trace = [];
    if (candidates.length === 0) {
      steps.push({ step: 'candidates', effect: 'not-matched', kept: candidates, dropped: new Map(), reason: 'no candidate endpoint: nothing to narrow' });
      return { effect: 'not-matched', kept: candidates, steps: steps as ExplanationStep<E>[] };
    }
    const tag = call.attachment(TAG_KEY);
    const requested = tag === undefined || tag === '' ? undefined : tag;
    const force = requested !== undefined && javaBoolean(call.attachment(FORCE_TAG_KEY));
    const result = this.evaluate(candidates, this.factsOf(candidates, view), requested, force, steps);
    return { effect: this.effectFor(result, candidates), kept: result, steps: steps as ExplanationStep<E>[] };
  }

  private effectFor(result: readonly unknown[], candidates: readonly unknown[]): RuleEffect {
    const effect = effectOf(result, candidates);
    return this.document !== undefined && !this.enabled && effect === 'kept-all' ? 'disabled' : effect;
  }

  private factsOf<E>(candidates: readonly E[], view: (endpoint: E) => RuleEndpoint): CandidateFacts {
    const views = candidates.map(view);
    const members = new Map<string, boolean[]>();
    const inAnyTag = views.map(() => false);
    if (this.enabled) {
      for (const tag of this.tags) {
        let inTag: boolean[] | undefined;
        if (tag.patterns.length > 0) {
          inTag = views.map((endpoint) => this.inAddresses(tag, endpoint));
        } else if (tag.match !== undefined) {
          // Dubbo turns a match into the addresses of the providers it holds for.
          const matched = new Set<string>();
          views.forEach((endpoint) => {
            if (tag.match!.matches(endpointParameters(endpoint))) matched.add(endpoint.address);
          });
          if (matched.size > 0) inTag = views.map((endpoint) => matched.has(endpoint.address));
        }
        if (inTag === undefined) continue;
        members.set(tag.name, inTag);
        inTag.forEach((inside, index) => {
          if (inside) inAnyTag[index] = true;
        });
      }
    }
    return { views, members, inAnyTag, staticTags: views.map(staticTagOf) };
  }

  /** TagStateRouter.checkAddressMatch: an IP expression, or `0.0.0.0:<port>` for any host on that port. */
  private inAddresses(tag: CompiledTag, endpoint: RuleEndpoint): boolean {
    for (const pattern of tag.patterns) {
      if (matchIpExpression(pattern, endpoint.host, endpoint.port) === true) return true;
      if (pattern.text === `0.0.0.0:${endpoint.port}`) return true;
    }
    return false;
  }

  /** TagStateRouter.selectAddressByTagLevel: the tag of the rule the request tag names, level by level. */
  private selectTag(facts: CandidateFacts, requested: string, force: boolean): string | undefined {
    if (force || !requested.includes(LEVEL_SEPARATOR)) return facts.members.has(requested) ? requested : undefined;
    const levels = requested.split(LEVEL_SEPARATOR);
    for (let count = levels.length; count > 0; count--) {
      const name = levels.slice(0, count).join(LEVEL_SEPARATOR);
      if (facts.members.has(name)) return name;
    }
    return undefined;
  }

  private evaluate<E>(candidates: readonly E[], facts: CandidateFacts, requested: string | undefined, force: boolean, trace: Trace | undefined): readonly E[] {
    const { staticTags, inAnyTag } = facts;
    const untagged = (): readonly E[] =>
      filter(
        candidates,
        (i) => !inAnyTag[i] && staticTags[i] === undefined,
        trace,
        'untagged endpoints',
        (i) =>
          inAnyTag[i] ? `in tag ${JSON.stringify(this.tagsOf(facts, i).join(', '))} of the rule` : `its dubbo.tag label is ${JSON.stringify(staticTags[i])}`,
      );
    const staticTagged = (tag: string): readonly E[] =>
      filter(
        candidates,
        (i) => staticTags[i] === tag,
        trace,
        `endpoints labelled dubbo.tag=${tag}`,
        (i) => (staticTags[i] === undefined ? 'it has no dubbo.tag label' : `its dubbo.tag label is ${JSON.stringify(staticTags[i])}`),
      );

    if (!this.enabled) {
      note(
        trace,
        this.document === undefined ? 'no tag rule' : 'rule disabled',
        candidates,
        `${this.document === undefined ? 'no tag rule' : 'enabled: false'}: the endpoints\u2019 own dubbo.tag labels decide`,
      );
      if (requested === undefined) return untagged();
      const result = staticTagged(requested);
      if (result.length > 0 || force) return result;
      note(trace, 'fallback', result, `no endpoint is labelled dubbo.tag=${requested} and ${FORCE_TAG_KEY} is not true: falling back to the untagged`);
      return untagged();
    }

    if (requested === undefined) {
      note(trace, 'request tag', candidates, `no ${TAG_KEY} attachment: only endpoints in no tag`);
      return untagged();
    }
    note(trace, 'request tag', candidates, `${TAG_KEY}=${requested}${force ? `, ${FORCE_TAG_KEY}=true (no level fallback, no fallback to untagged)` : ''}`);
    const selected = this.selectTag(facts, requested, force);
    let result: readonly E[];
    if (selected !== undefined) {
      const inTag = facts.members.get(selected)!;
      result = filter(
        candidates,
        (i) => inTag[i]!,
        trace,
        `tag ${JSON.stringify(selected)}${selected === requested ? '' : ` (level of ${JSON.stringify(requested)})`}`,
        (i) => this.whyNotIn(selected, facts.views[i]!),
      );
      if (result.length > 0) return result;
      if (this.force) {
        note(trace, 'force', result, `no candidate is in tag ${JSON.stringify(selected)} and the rule has force: true: no endpoint`);
        return result;
      }
    } else {
      note(
        trace,
        'rule tags',
        candidates,
        `the rule has no tag ${JSON.stringify(requested)}${requested.includes(LEVEL_SEPARATOR) && !force ? ' at any level' : ''} with endpoints: the endpoints\u2019 own labels decide`,
      );
      result = staticTagged(requested);
      if (result.length > 0) return result;
    }
    if (force) {
      note(trace, 'force tag', result, `${FORCE_TAG_KEY}=true: no fallback to untagged endpoints`);
      return result;
    }
    note(trace, 'fallback', result, `no endpoint for tag ${JSON.stringify(requested)}: falling back to the endpoints in no tag`);
    return untagged();
  }

  private tagsOf(facts: CandidateFacts, index: number): string[] {
    const names: string[] = [];
    for (const [name, inTag] of facts.members) if (inTag[index]) names.push(name);
    return names;
  }

  private whyNotIn(name: string, endpoint: RuleEndpoint): string {
    const tag = this.tags.find((t) => t.name === name)!;
    if (tag.patterns.length > 0) return `${endpoint.address} is not one of the tag's addresses ${tag.patterns.map((p) => p.text).join(', ')}`;
    return `does not match the tag: ${tag.match!.firstMismatch(endpointParameters(endpoint)) ?? 'another endpoint with its address matched'}`;
  }
}

/** The candidates `keep` holds for (`candidates` itself when it holds for all, as Dubbo's filterInvoker). */
function filter<E>(
  candidates: readonly E[],
  keep: (index: number) => boolean,
  trace: Trace | undefined,
  step: string,
  why: (index: number) => string,
): readonly E[] {
  let kept: E[] | undefined;
  for (let i = 0; i < candidates.length; i++) {
    if (keep(i)) {
      kept?.push(candidates[i]!);
    } else if (kept === undefined) {
      kept = candidates.slice(0, i);
    }
  }
  // Frozen: a consumer of the result (the proxy's picker cache) may know it by identity.
  const result = kept === undefined ? candidates : Object.freeze(kept);
  if (trace !== undefined) {
    const dropped = new Map<unknown, string>();
    candidates.forEach((endpoint, i) => {
      if (!keep(i)) dropped.set(endpoint, why(i));
    });
    trace.push({ step, effect: effectOf(result, candidates), kept: result, dropped, reason: `${result.length} of ${candidates.length} endpoints` });
  }
  return result;
}

/** A step that decides without filtering. */
function note(trace: Trace | undefined, step: string, kept: readonly unknown[], reason: string): void {
  trace?.push({ step, effect: kept.length === 0 ? 'forced-empty' : 'kept-all', kept, dropped: new Map(), reason });
}

/**
 * Compile a valid tag rule (one {@link tagRuleNode} gave) into Dubbo 3.3's tag routing. `narrow`
 * caches per candidates array (weakly) and per request tag and `dubbo.force.tag`, and returns the
 * same array for the same inputs.
 */
export function compileTagRule(document: TagRuleDocument): NarrowingRule {
  return new CompiledTagRule(document);
}

/**
 * Dubbo's tag routing for a provider application with no tag rule (its TagStateRouter is in
 * every consumer's router chain): by the endpoints' own `dubbo.tag` labels only. A request tag
 * goes to the endpoints labelled with it, else (unless `dubbo.force.tag` is true) to the
 * untagged; no request tag goes to the untagged only. Cached as {@link compileTagRule}'s rules.
 */
export const staticTagRule: NarrowingRule = new CompiledTagRule(undefined);

registerRuleKind<TagRuleDocument>({ kind: 'tag', field: 'tags', node: tagRuleNode, compile: compileTagRule });
