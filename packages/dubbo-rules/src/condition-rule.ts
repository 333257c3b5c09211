/**
 * Condition rules compiled for per-call use, with Dubbo 3.3's semantics (`ListenableStateRouter`
 * running one `ConditionStateRouter` — or, for v3.1, one `MultiDestConditionRouter` — per
 * condition, in order, each narrowing what the previous one left).
 */
import { conditionRuleNode, type ConditionRuleDocument, type MultiDestCondition } from './condition-document.js';
import { compileThenMatcher, compileWhenMatcher, consumerParam, describeMatch, holds, type CompiledMatcher } from './condition-matcher.js';
import { parseCondition, parseMatch, type ParsedMatcher } from './condition-parser.js';
import { registerRuleKind } from './rule-document.js';
import type { EffectSlot, ExplanationStep, NarrowingRule, RuleCall, RuleEffect, RuleEndpoint, RuleExplanation } from './rule-model.js';

/** Options of {@link compileConditionRule}. */
export interface ConditionRuleOptions {
  /** A number in [0, 1) for v3.1's weighted choice between `to` subsets; default `Math.random`. */
  readonly random?: () => number;
}

/** At most this many results are kept per candidates array and condition (one per `$key` values seen). */
const MAX_ENTRIES_PER_ARRAY = 32;

const EMPTY: readonly never[] = Object.freeze([]);

/** How strong an effect is, to report one per document (see {@link compileConditionRule}). */
const RANK: Readonly<Record<RuleEffect, number>> = {
  disabled: 0,
  'not-matched': 0,
  'kept-all': 1,
  narrowed: 2,
  ignored: 3,
  blacklisted: 4,
  'forced-empty': 4,
};

/** What a then-part did to one candidates array (for given `$key` values). */
interface Outcome {
  readonly effect: RuleEffect;
  readonly result: readonly unknown[];
}

/** What a v3.1 condition's `to` list gives one candidates array: the non-empty subsets, or an outcome. */
interface Destinations {
  /** Set when no subset is chosen (blacklist, nothing left). */
  readonly outcome: Outcome | undefined;
  readonly subsets: readonly Outcome[];
  readonly weights: readonly number[];
  /** The `to` index of each subset. */
  readonly targets: readonly number[];
  readonly total: number;
}

/** Per candidates array, the entries of one condition keyed by its `$key` values (nested maps, no key strings built per call). */
interface ArrayEntries {
  count: number;
  readonly root: Map<string | undefined, unknown>;
}

/**
 * One condition's results, weakly by candidates array; with `$key` slots, a few per array keyed
 * by the consumer's values, bounded (the map is cleared when full: the values a proxy sees are
 * few, one consumer host and application per proxy).
 */
class ConditionCache<V> {
  private readonly plain = new WeakMap<object, V>();
  private readonly keyed = new WeakMap<object, ArrayEntries>();

  constructor(private readonly slots: readonly number[]) {}

  get(array: object, params: readonly (string | undefined)[]): V | undefined {
    const slots = this.slots;
    if (slots.length === 0) return this.plain.get(array);
    const entries = this.keyed.get(array);
    if (entries === undefined) return undefined;
    let node: unknown = entries.root;
    for (let i = 0; i < slots.length && node !== undefined; i++) node = (node as Map<string | undefined, unknown>).get(params[slots[i]!]);
    return node as V | undefined;
  }

  set(array: object, params: readonly (string | undefined)[], value: V): void {
    const slots = this.slots;
    if (slots.length === 0) {
      this.plain.set(array, value);
      return;
    }
    let entries = this.keyed.get(array);
    if (entries === undefined) {
      entries = { count: 0, root: new Map() };
      this.keyed.set(array, entries);
    }
    if (entries.count >= MAX_ENTRIES_PER_ARRAY) {
      entries.root.clear();
      entries.count = 0;
    }
    let node = entries.root;
    for (let i = 0; i < slots.length - 1; i++) {
      const key = params[slots[i]!];
      let next = node.get(key) as Map<string | undefined, unknown> | undefined;
      if (next === undefined) {
        next = new Map();
        node.set(key, next);
      }
      node = next;
    }
    node.set(params[slots[slots.length - 1]!], value);
    entries.count += 1;
  }
}

/** The `$key`s a rule's then-parts use, each given one slot. */
class ParamSlots {
  readonly keys: string[] = [];

  slotOf = (key: string): number => {
    const at = this.keys.indexOf(key);
    if (at >= 0) return at;
    this.keys.push(key);
    return this.keys.length - 1;
  };
}

function slotsOf(matchers: readonly CompiledMatcher<RuleEndpoint>[]): number[] {
  const slots = new Set<number>();
  for (const m of matchers) for (const p of [...m.matches, ...m.mismatches]) if (p.slot >= 0) slots.add(p.slot);
  return [...slots].sort((a, b) => a - b);
}

/** Arguments last: a call's argument is decoded only when every cheaper key held. */
function whenOrder(matchers: readonly ParsedMatcher[]): CompiledMatcher<RuleCall>[] {
  const compiled = matchers.map(compileWhenMatcher);
  return [...compiled.filter((m) => m.parsed.key.kind !== 'argument'), ...compiled.filter((m) => m.parsed.key.kind === 'argument')];
}

function whenHolds(matchers: readonly CompiledMatcher<RuleCall>[], call: RuleCall): boolean {
  for (let i = 0; i < matchers.length; i++) {
    const m = matchers[i]!;
    if (!holds(m.read(call), m, EMPTY)) return false;
  }
  return true;
}

function thenHolds(matchers: readonly CompiledMatcher<RuleEndpoint>[], endpoint: RuleEndpoint, params: readonly (string | undefined)[]): boolean {
  // Dubbo: an empty then-map holds for no provider in v3.0 (unreachable: such a then-part is a blacklist) and for every provider in v3.1.
  for (let i = 0; i < matchers.length; i++) {
    const m = matchers[i]!;
    if (!holds(m.read(endpoint), m, params)) return false;
  }
  return true;
}

function whyNot(matchers: readonly CompiledMatcher<RuleEndpoint>[], endpoint: RuleEndpoint, params: readonly (string | undefined)[]): string {
  for (const m of matchers) {
    const value = m.read(endpoint);
    if (!holds(value, m, params)) return describeMatch(value, m, params);
  }
  return 'kept';
}

function whenReason(matchers: readonly CompiledMatcher<RuleCall>[], call: RuleCall): { holds: boolean; reason: string } {
  if (matchers.length === 0) return { holds: true, reason: 'the when-part is empty: every call' };
  const said: string[] = [];
  for (const m of matchers) {
    const value = m.read(call);
    const reason = describeMatch(value, m, EMPTY);
    if (!holds(value, m, EMPTY)) return { holds: false, reason: `the when-part does not hold: ${reason}` };
    said.push(reason);
  }
  return { holds: true, reason: `the when-part holds: ${said.join(', ')}` };
}

function filter<E>(
  input: readonly E[],
  view: (endpoint: E) => RuleEndpoint,
  matchers: readonly CompiledMatcher<RuleEndpoint>[],
  params: readonly (string | undefined)[],
): readonly E[] {
  const kept: E[] = [];
  for (const e of input) if (thenHolds(matchers, view(e), params)) kept.push(e);
  return kept.length === input.length ? input : Object.freeze(kept);
}

/** One condition of the document, compiled. */
interface Stage {
  readonly label: string;
  readonly when: readonly CompiledMatcher<RuleCall>[];
  /** Slots of the `$key`s its then-part(s) use. */
  readonly slots: readonly number[];
  /** The endpoints of `input` for the call (cached by input array and `$key` values). */
  run(input: readonly unknown[], view: (endpoint: unknown) => RuleEndpoint, params: readonly (string | undefined)[]): Outcome;
  explain(
    input: readonly unknown[],
    view: (endpoint: unknown) => RuleEndpoint,
    params: readonly (string | undefined)[],
  ): Omit<ExplanationStep<unknown>, 'step'>;
}

function emptyOutcome(input: readonly unknown[], force: boolean): Outcome {
  return force ? { effect: 'forced-empty', result: EMPTY } : { effect: 'ignored', result: input };
}

function keptOutcome(input: readonly unknown[], result: readonly unknown[]): Outcome {
  return { effect: result === input ? 'kept-all' : 'narrowed', result };
}

const NOTHING_LEFT = (force: boolean): string =>
  force ? 'no endpoint matches the then-part and force is true: no endpoint' : 'no endpoint matches the then-part and force is false: the condition is ignored';

/** A v2.7/v3.0 condition: `when => then`. */
function singleStage(index: number, text: string, force: boolean, slots: ParamSlots): Stage {
  const parsed = parseCondition(text);
  if (parsed.problems.length > 0)
    throw new TypeError(`conditions[${index}] ${JSON.stringify(text)} is invalid: check the document with conditionRuleNode first`);
  const then = parsed.then?.map((m) => compileThenMatcher(m, slots.slotOf));
  const cache = new ConditionCache<Outcome>(then === undefined ? [] : slotsOf(then));
  const compute = (input: readonly unknown[], view: (endpoint: unknown) => RuleEndpoint, params: readonly (string | undefined)[]): Outcome => {
    if (then === undefined) return { effect: 'blacklisted', result: EMPTY };
    const result = filter(input, view, then, params);
    return result.length === 0 ? emptyOutcome(input, force) : keptOutcome(input, result);
  };
  return {
    label: `conditions[${index}] ${JSON.stringify(text)}`,
    when: whenOrder(parsed.when),
    slots: then === undefined ? [] : slotsOf(then),
    run(input, view, params) {
      let outcome = cache.get(input, params);
      if (outcome === undefined) {
        outcome = compute(input, view, params);
        cache.set(input, params, outcome);
      }
      return outcome;
    },
    explain(input, view, params) {
      const outcome = compute(input, view, params);
      const dropped = new Map<unknown, string>();
      if (then === undefined) {
        for (const e of input) dropped.set(e, 'the then-part is empty or false: blacklist');
        return { effect: outcome.effect, kept: EMPTY, dropped, reason: 'the then-part is empty or false: a blacklist, no endpoint' };
      }
      const kept = new Set(outcome.result);
      if (outcome.effect === 'ignored' || outcome.effect === 'forced-empty') {
        if (outcome.effect === 'forced-empty') for (const e of input) dropped.set(e, whyNot(then, view(e), params));
        return { effect: outcome.effect, kept: outcome.result, dropped, reason: NOTHING_LEFT(force) };
      }
      for (const e of input) if (!kept.has(e)) dropped.set(e, whyNot(then, view(e), params));
      return { effect: outcome.effect, kept: outcome.result, dropped, reason: `${outcome.result.length} of ${input.length} endpoints match the then-part` };
    },
  };
}

/** A v3.1 condition: `from` selects calls, which go to one of the non-empty `to` subsets, by weight. */
function multiStage(index: number, condition: MultiDestCondition, force: boolean, slots: ParamSlots, random: () => number): Stage {
  const from = parseMatch(condition.from.match, 'when');
  if (from.problem !== undefined) throw new TypeError(`conditions[${index}].from.match is invalid: check the document with conditionRuleNode first`);
  const targets = condition.to.map((target, j) => {
    const parsed = parseMatch(target.match, 'then');
    if (parsed.problem !== undefined) throw new TypeError(`conditions[${index}].to[${j}].match is invalid: check the document with conditionRuleNode first`);
    // Dubbo 3.3 (`ConditionSubSet`): a weight of 0 or less is the default 100.
    return { matchers: parsed.matchers.map((m) => compileThenMatcher(m, slots.slotOf)), weight: target.weight > 0 ? target.weight : 100, match: target.match };
  });
  const stageSlots = slotsOf(targets.flatMap((t) => t.matchers));
  const cache = new ConditionCache<Destinations>(stageSlots);
  const compute = (input: readonly unknown[], view: (endpoint: unknown) => RuleEndpoint, params: readonly (string | undefined)[]): Destinations => {
    if (targets.length === 0) return { outcome: { effect: 'blacklisted', result: EMPTY }, subsets: [], weights: [], targets: [], total: 0 };
    const subsets: Outcome[] = [];
    const weights: number[] = [];
    const chosenFrom: number[] = [];
    targets.forEach((target, j) => {
      const result = filter(input, view, target.matchers, params);
      if (result.length === 0) return;
      subsets.push(keptOutcome(input, result));
      weights.push(target.weight);
      chosenFrom.push(j);
    });
    if (subsets.length === 0) return { outcome: emptyOutcome(input, force), subsets, weights, targets: chosenFrom, total: 0 };
    const total = weights.reduce((a, b) => a + b, 0);
    return { outcome: subsets.length === 1 ? subsets[0] : undefined, subsets, weights, targets: chosenFrom, total };
  };
  /**
   * Dubbo's `DestinationSet.randDestination`: r in [0, total), subtract weights in order, the
   * first that brings r to 0 or below is chosen (so the first subset gets weight + 1 of the
   * `total` draws and the last weight - 1: Dubbo's off-by-one, kept).
   */
  const choose = (destinations: Destinations): number => {
    const weights = destinations.weights;
    if (weights.length === 1) return 0;
    let r = Math.floor(random() * destinations.total);
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i]!;
      if (r <= 0) return i;
    }
    return weights.length - 1;
  };
  const label = `conditions[${index}] from ${JSON.stringify(condition.from.match)}`;
  return {
    label,
    when: whenOrder(from.matchers),
    slots: stageSlots,
    run(input, view, params) {
      let destinations = cache.get(input, params);
      if (destinations === undefined) {
        destinations = compute(input, view, params);
        cache.set(input, params, destinations);
      }
      return destinations.outcome ?? destinations.subsets[choose(destinations)]!;
    },
    explain(input, view, params) {
      const destinations = compute(input, view, params);
      const dropped = new Map<unknown, string>();
      if (targets.length === 0) {
        for (const e of input) dropped.set(e, 'the condition has no to: blacklist');
        return { effect: 'blacklisted', kept: EMPTY, dropped, reason: 'the condition has no to: a blacklist (traffic disabled), no endpoint' };
      }
      if (destinations.subsets.length === 0) {
        const outcome = destinations.outcome!;
        if (outcome.effect === 'forced-empty') for (const e of input) dropped.set(e, 'matches no to[].match');
        return { effect: outcome.effect, kept: outcome.result, dropped, reason: NOTHING_LEFT(force).replace('the then-part', 'any to[].match') };
      }
      const chosen = choose(destinations);
      const outcome = destinations.subsets[chosen]!;
      const target = targets[destinations.targets[chosen]!]!;
      const kept = new Set(outcome.result);
      for (const e of input) if (!kept.has(e)) dropped.set(e, `${whyNot(target.matchers, view(e), params)} (to.match ${JSON.stringify(target.match)})`);
      const reason =
        destinations.subsets.length === 1
          ? `one to subset has endpoints: to.match ${JSON.stringify(target.match)}`
          : `to.match ${JSON.stringify(target.match)} chosen by weight (${target.weight} of ${destinations.total}) among ${destinations.subsets.length} non-empty subsets`;
      return { effect: outcome.effect, kept: outcome.result, dropped, reason };
    },
  };
}

/**
 * Compile a valid condition rule document (one {@link conditionRuleNode} gave).
 *
 * `narrow` runs the conditions in order, each on what the previous left, as Dubbo 3.3 does:
 * a condition whose when-part does not hold leaves the endpoints; one whose then-part is blank
 * or `false` (v3.1: no `to`) leaves none (`blacklisted`); one that keeps none leaves none with
 * `force: true` (`forced-empty`) and is skipped with `force: false` (`ignored`); once nothing is
 * left the rest are not run. `enabled: false` or `valid: false`: the rule does nothing (`disabled`).
 *
 * `out.effect` is the strongest effect of any condition that ran: `forced-empty`/`blacklisted`
 * over `ignored` over `narrowed` over `kept-all` over `not-matched` — so `/stats` counts a call
 * in which one condition narrowed and a later one was ignored as `ignored` (even though the
 * endpoints returned are the narrowed ones: that is what an operator must see).
 *
 * Each condition keeps its result per input array (weakly) and per consumer values its then-part
 * reads (`$host`, `$application`, …), so the same arrays come back for the same call values and
 * a call costs the when-parts and a lookup per condition. v3.1 keeps the non-empty `to` subsets
 * and picks one per call with `options.random`.
 */
export function compileConditionRule(document: ConditionRuleDocument, options: ConditionRuleOptions = {}): NarrowingRule {
  const random = options.random ?? Math.random;
  const slots = new ParamSlots();
  const stages: Stage[] =
    document.configVersion === 'v3.1'
      ? (document.conditions as readonly MultiDestCondition[]).map((c, i) => multiStage(i, c, document.force, slots, random))
      : (document.conditions as readonly string[]).map((c, i) => singleStage(i, c, document.force, slots));
  const keys = slots.keys;
  const active = document.enabled && document.valid;
  // Reused per call: filled with the consumer's `$key` values a condition's then-part reads, never kept.
  const params: (string | undefined)[] = keys.map(() => undefined);
  const fill = (call: RuleCall, stageSlots: readonly number[]): void => {
    for (let i = 0; i < stageSlots.length; i++) params[stageSlots[i]!] = consumerParam(call, keys[stageSlots[i]!]!);
  };

  return {
    kind: 'condition',
    narrow<E>(call: RuleCall, candidates: readonly E[], view: (endpoint: E) => RuleEndpoint, out: EffectSlot): readonly E[] {
      if (!active) {
        out.effect = 'disabled';
        return candidates;
      }
      let current: readonly unknown[] = candidates;
      let effect: RuleEffect = 'not-matched';
      for (let i = 0; i < stages.length; i++) {
        // Dubbo: a router given no invoker returns them as they are.
        if (current.length === 0) break;
        const stage = stages[i]!;
        if (!whenHolds(stage.when, call)) continue;
        if (stage.slots.length > 0) fill(call, stage.slots);
        const outcome = stage.run(current, view as (endpoint: unknown) => RuleEndpoint, params);
        if (RANK[outcome.effect] > RANK[effect]) effect = outcome.effect;
        current = outcome.result;
      }
      out.effect = effect;
      return current as readonly E[];
    },

    explain<E>(call: RuleCall, candidates: readonly E[], view: (endpoint: E) => RuleEndpoint): RuleExplanation<E> {
      if (!active) {
        const reason = document.enabled ? 'valid: false: the rule does nothing' : 'enabled: false: the rule does nothing';
        return { effect: 'disabled', kept: candidates, steps: [{ step: 'rule', effect: 'disabled', kept: candidates, dropped: new Map(), reason }] };
      }
      const steps: ExplanationStep<E>[] = [];
      let current: readonly unknown[] = candidates;
      let effect: RuleEffect = 'not-matched';
      for (const stage of stages) {
        const none = new Map<E, string>();
        if (current.length === 0) {
          steps.push({ step: stage.label, effect: 'not-matched', kept: EMPTY, dropped: none, reason: 'no endpoint left: not run' });
          continue;
        }
        const when = whenReason(stage.when, call);
        if (!when.holds) {
          steps.push({ step: stage.label, effect: 'not-matched', kept: current as readonly E[], dropped: none, reason: when.reason });
          continue;
        }
        const stageParams = keys.map((key) => consumerParam(call, key));
        const step = stage.explain(current, view as (endpoint: unknown) => RuleEndpoint, stageParams);
        steps.push({ ...step, step: stage.label, reason: `${when.reason}; ${step.reason}` } as ExplanationStep<E>);
        if (RANK[step.effect] > RANK[effect]) effect = step.effect;
        current = step.kept;
      }
      return { effect, kept: current as readonly E[], steps };
    },
  };
}

registerRuleKind<ConditionRuleDocument>({
  kind: 'condition',
  field: 'conditions',
  node: conditionRuleNode,
  compile: (document) => compileConditionRule(document),
});
