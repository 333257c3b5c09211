import { compileConditionRule } from './condition-rule.js';
import type { ConditionRuleDocument } from './condition-document.js';
import { compileRule, type RuleDocument } from './rule-document.js';
import { formatServiceRuleKey } from './rule-key.js';
import type {
  ExplanationStep,
  NarrowingRule,
  OverrideConsumer,
  OverrideParameters,
  OverrideRule,
  OverrideService,
  RuleCall,
  RuleEffect,
  RuleEndpoint,
  RuleKind,
} from './rule-model.js';
import { TAG_KEY, staticTagRule } from './tag-rule.js';

/**
 * Where a condition or tag rule sits in the narrowing order (Dubbo 3.3's router chain):
 * service-scope condition rules for the call's key, application-scope condition rules (the
 * consumer's application, or the provider application of the destination), the provider
 * application's tag rule, and Dubbo's tag routing by the endpoints' own `dubbo.tag` labels for
 * applications no tag rule names.
 */
export type NarrowingStage = 'service-condition' | 'application-condition' | 'tag' | 'static-tag';

/** A condition or tag rule in its place of the narrowing order. */
export interface PlannedNarrowing<T> {
  readonly stage: Exclude<NarrowingStage, 'static-tag'>;
  readonly item: T;
  readonly document: RuleDocument;
}

/** Every rule of a set in the order a consumer proxy applies them (what {@link planRules} gives). */
export interface RulePlan<T> {
  /** Condition and tag rules in the order they narrow; static tags ({@link RulePlan.taggedApplications}) come after them. */
  readonly narrowings: readonly PlannedNarrowing<T>[];
  /** Override rules in the order their parameters are merged: application scope first, service scope over them. */
  readonly overrides: readonly T[];
  /** The applications that have a tag rule: their endpoints' own `dubbo.tag` labels do not decide alone. */
  readonly taggedApplications: ReadonlySet<string>;
}

function byKey(a: RuleDocument, b: RuleDocument): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/**
 * The rules of a set (DubboRule resources, rule files: anything `documentOf` reads a rule
 * document of) in the proxy's order, whatever order they are listed in: by key within each
 * stage, service-scope condition rules, then application-scope ones, then tag rules; override
 * rules apart, application scope first. Which of them apply to one call is
 * {@link narrowingApplies}'s answer. Pure, so the proxy and `rules explain` order alike.
 */
export function planRules<T>(items: readonly T[], documentOf: (item: T) => RuleDocument): RulePlan<T> {
  const sorted = [...items].sort((a, b) => byKey(documentOf(a), documentOf(b)));
  const service: PlannedNarrowing<T>[] = [];
  const application: PlannedNarrowing<T>[] = [];
  const tags: PlannedNarrowing<T>[] = [];
  const overrides: T[] = [];
  const tagged = new Set<string>();
  for (const item of sorted) {
    const document = documentOf(item);
    if (document.kind === 'override') overrides.push(item);
    else if (document.kind === 'tag') {
      tags.push({ stage: 'tag', item, document });
      tagged.add(document.key);
    } else if (document.scope === 'service') service.push({ stage: 'service-condition', item, document });
    else application.push({ stage: 'application-condition', item, document });
  }
  // Stable: within a scope the order stays by key.
  overrides.sort((a, b) => (documentOf(a).scope === documentOf(b).scope ? 0 : documentOf(a).scope === 'application' ? -1 : 1));
  return { narrowings: [...service, ...application, ...tags], overrides, taggedApplications: tagged };
}

/** What decides whether a narrowing applies to a call: its key, its consumer, where it goes. */
export interface RuleTarget {
  /** The call's service key as rules name it: `interface:version:group`. */
  readonly serviceKey: string;
  readonly consumerApplication: string | undefined;
  /** The applications of the destination's endpoints (all of them, before any rule). */
  readonly providerApplications: ReadonlySet<string>;
}

/** Whether a planned narrowing applies to a call, and why (words for `rules explain`). */
export function narrowingApplies(planned: Pick<PlannedNarrowing<unknown>, 'stage' | 'document'>, target: RuleTarget): { applies: boolean; why: string } {
  const key = planned.document.key;
  switch (planned.stage) {
    case 'service-condition':
      return target.serviceKey === key
        ? { applies: true, why: `the call's service key ${target.serviceKey} is the rule's key` }
        : { applies: false, why: `the call's service key ${target.serviceKey} is not the rule's key ${key}` };
    case 'application-condition':
      // Dubbo 3.3 reads `<application>.condition-router` for the consumer of that application
      // (AppStateRouter) and for calls to providers of it (ProviderAppStateRouter).
      if (target.consumerApplication === key) return { applies: true, why: `the consumer application is ${JSON.stringify(key)}` };
      if (target.providerApplications.has(key)) return { applies: true, why: `the destination has endpoints of application ${JSON.stringify(key)}` };
      return {
        applies: false,
        why: `the consumer application is ${target.consumerApplication === undefined ? 'unknown' : JSON.stringify(target.consumerApplication)} and no endpoint is of application ${JSON.stringify(key)}`,
      };
    case 'tag':
      return target.providerApplications.has(key)
        ? { applies: true, why: `the destination has endpoints of application ${JSON.stringify(key)}` }
        : { applies: false, why: `no endpoint is of application ${JSON.stringify(key)}` };
  }
}

/**
 * The applications whose endpoints route by their own `dubbo.tag` labels (Dubbo's tag router
 * with no rule): those with an endpoint carrying the label and no tag rule. Static tags apply to
 * a call when its destination has endpoints of one of them.
 */
export function staticTagApplications(endpoints: readonly RuleEndpoint[], taggedApplications: ReadonlySet<string>): Set<string> {
  const applications = new Set<string>();
  for (const endpoint of endpoints)
    if (endpoint.labels[TAG_KEY] !== undefined && !taggedApplications.has(endpoint.application)) applications.add(endpoint.application);
  return applications;
}

/** How the proxy names the static tag routing in replies and `/stats`. */
export const STATIC_TAGS_NAME = "static tags (endpoints' own dubbo.tag labels)";

/** An endpoint `rules explain` is given: a rule endpoint with its weight (default 100, Dubbo's). */
export interface WeightedRuleEndpoint extends RuleEndpoint {
  readonly weight?: number;
}

/** An endpoint a call may reach, with its weight after override rules. */
export interface ReachableEndpoint {
  readonly endpoint: RuleEndpoint;
  readonly weight: number;
}

/** One rule's part in an explanation. */
export interface CallStep {
  /** `condition rule com.Foo:: (rules.yaml:1:1)`, the static tags' name, …: as replies and `/stats` name the rule. */
  readonly rule: string;
  readonly kind: RuleKind;
  /** Whether the rule applies to this call (its key, consumer, destination); false: the endpoints pass unchanged. */
  readonly applies: boolean;
  /** Why it applies or not. */
  readonly why: string;
  /** What it did (`not-matched` when it does not apply; for override rules `kept-all` or `narrowed`). */
  readonly effect: RuleEffect;
  /** The rule's own steps (a condition, the tag lookup, the fallback), with reasons; empty for override rules. */
  readonly details: readonly ExplanationStep<RuleEndpoint>[];
  /** Override rules: for each endpoint, each item and whether it applies (provider side, then consumer side). */
  readonly items: ReadonlyMap<RuleEndpoint, readonly string[]>;
  /** The endpoints after the rule. */
  readonly kept: readonly RuleEndpoint[];
  /** The endpoints the rule removed, each with why. */
  readonly dropped: ReadonlyMap<RuleEndpoint, string>;
  /** Override rules: weights the rule changed, by endpoint (`100 → 50`). */
  readonly weights: ReadonlyMap<RuleEndpoint, { readonly from: number; readonly to: number }>;
}

/** Why a call gets no provider: Dubbo status 70 (SERVICE_ERROR), naming the rule that left none. */
export interface NoProvider {
  readonly status: 70;
  /** The rule's name, or `(no rule)` when the service has no endpoint at all. */
  readonly rule: string;
  /** The reply's words, as the proxy gives them. */
  readonly reason: string;
}

/** Which endpoints a call would reach and why, rule by rule (`dubbo-mesh rules explain`). */
export interface CallExplanation {
  /** The call's service key as rules name it (`interface:version:group`). */
  readonly serviceKey: string;
  /** Every rule given, in the order the proxy applies them: override rules, then condition and tag rules. */
  readonly steps: readonly CallStep[];
  /** The endpoints the call may reach, with their weights; empty when {@link noProvider} says why. */
  readonly endpoints: readonly ReachableEndpoint[];
  readonly noProvider: NoProvider | undefined;
}

/** Options of {@link explainCall}. */
export interface ExplainOptions {
  /** How steps name a rule (default `condition rule <key>`): e.g. with its file and line. */
  readonly nameOf?: (document: RuleDocument) => string;
  /** The random source of v3.1 conditions' weighted `to` choice (default `Math.random`). */
  readonly random?: () => number;
}

const DEFAULT_WEIGHT = 100;
const NO_PROVIDER = 70;

function defaultName(document: RuleDocument): string {
  return `${document.kind} rule ${document.key}`;
}

const identity = (endpoint: RuleEndpoint): RuleEndpoint => endpoint;

function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

/**
 * The reply when a narrowing leaves nothing: for condition rules the proxy's own words; for tag
 * rules the tag routing's last reason (the proxy's reply says "force: true" for them too, which
 * a tag rule leaves nothing with only by `force` or `dubbo.force.tag`: the reason says which).
 */
function emptyReason(name: string, kind: 'condition' | 'tag', effect: RuleEffect, before: number, details: readonly ExplanationStep<RuleEndpoint>[]): string {
  if (effect === 'blacklisted') return `${name} blacklists the call (its then-part is empty or false)`;
  if (kind === 'condition') return `${name} left none of its ${plural(before, 'endpoint')}, and it is force: true`;
  const last = details.at(-1);
  return `${name} left none of its ${plural(before, 'endpoint')}${last === undefined ? '' : `: ${last.reason}`}`;
}

interface OverrideOutcome {
  readonly steps: CallStep[];
  readonly kept: RuleEndpoint[];
  readonly weights: Map<RuleEndpoint, number>;
  readonly lastDisabling: string | undefined;
}

/**
 * Override rules as the proxy applies them to the destination's endpoints (before the
 * narrowings, as Dubbo's directory applies configurators to provider URLs before its routers):
 * for each endpoint, every rule's `side: provider` items, then every rule's `side: consumer`
 * items with `consumer` as the consumer, merged (later over earlier); `disabled=true` leaves the
 * endpoint out, a whole `weight` of 0 or more replaces its weight.
 */
function applyOverrides(
  documents: readonly RuleDocument[],
  service: OverrideService,
  consumer: OverrideConsumer,
  endpoints: readonly WeightedRuleEndpoint[],
  nameOf: (document: RuleDocument) => string,
): OverrideOutcome {
  const rules = documents.map((document) => ({ document, name: nameOf(document), rule: compileRule(document) as OverrideRule }));
  const merged = new Map<RuleEndpoint, Record<string, string>>();
  /** Per endpoint, the rule that set each parameter last. */
  const setBy = new Map<RuleEndpoint, Map<string, number>>();
  const perRule = rules.map(() => ({ items: new Map<RuleEndpoint, string[]>(), applies: false }));
  for (const endpoint of endpoints) {
    const parameters: Record<string, string> = {};
    const origin = new Map<string, number>();
    for (const side of ['provider', 'consumer'] as const) {
      rules.forEach(({ rule }, index) => {
        const lines = rule.explainFor(side, consumer, service, endpoint).map((line) => `side ${side}: ${line}`);
        const items = perRule[index]!.items;
        items.set(endpoint, [...(items.get(endpoint) ?? []), ...lines]);
        const set: OverrideParameters | undefined = rule.parametersFor(side, consumer, service, endpoint);
        if (set === undefined) return;
        perRule[index]!.applies = true;
        for (const [key, value] of Object.entries(set)) {
          parameters[key] = value;
          origin.set(key, index);
        }
      });
    }
    merged.set(endpoint, parameters);
    setBy.set(endpoint, origin);
  }
  const weights = new Map<RuleEndpoint, number>();
  let current: RuleEndpoint[] = [...endpoints];
  let lastDisabling: string | undefined;
  const steps = rules.map(({ name }, index): CallStep => {
    const dropped = new Map<RuleEndpoint, string>();
    const changed = new Map<RuleEndpoint, { from: number; to: number }>();
    for (const endpoint of current) {
      const parameters = merged.get(endpoint)!;
      const origin = setBy.get(endpoint)!;
      if (parameters.disabled === 'true' && origin.get('disabled') === index) {
        dropped.set(endpoint, `disabled=true: left out`);
        continue;
      }
      const weight = parameters.weight === undefined ? NaN : Number(parameters.weight);
      if (origin.get('weight') === index && Number.isInteger(weight) && weight >= 0) {
        const from = (endpoint as WeightedRuleEndpoint).weight ?? DEFAULT_WEIGHT;
        if (weight !== from) changed.set(endpoint, { from, to: weight });
        weights.set(endpoint, weight);
      }
    }
    if (dropped.size > 0) lastDisabling = name;
    const kept = dropped.size === 0 ? current : current.filter((endpoint) => !dropped.has(endpoint));
    const applies = perRule[index]!.applies;
    const step: CallStep = {
      rule: name,
      kind: 'override',
      applies,
      why: applies ? 'an item applies to some endpoint' : 'no item applies to any endpoint',
      effect: !applies ? 'not-matched' : dropped.size > 0 ? 'narrowed' : 'kept-all',
      details: [],
      items: perRule[index]!.items,
      kept,
      dropped,
      weights: changed,
    };
    current = kept;
    return step;
  });
  return { steps, kept: current, weights, lastDisabling };
}

function compileNarrowing(document: RuleDocument, random: (() => number) | undefined): NarrowingRule {
  if (document.kind === 'condition' && random !== undefined) return compileConditionRule(document as ConditionRuleDocument, { random });
  return compileRule(document) as NarrowingRule;
}

/** Keep, of a step's dropped endpoints, why each left (the rule's own last reason for it). */
function droppedBy(
  details: readonly ExplanationStep<RuleEndpoint>[],
  before: readonly RuleEndpoint[],
  after: readonly RuleEndpoint[],
): Map<RuleEndpoint, string> {
  const kept = new Set(after);
  const dropped = new Map<RuleEndpoint, string>();
  for (const endpoint of before) {
    if (kept.has(endpoint)) continue;
    let why: string | undefined;
    for (const detail of details) why = detail.dropped.get(endpoint) ?? why;
    dropped.set(endpoint, why ?? 'not kept by the rule');
  }
  return dropped;
}

/**
 * Which endpoints a call would reach and why, rule by rule, as a consumer proxy with these rules
 * in force decides (the same selection and order: {@link planRules}, {@link narrowingApplies}):
 * override rules on the destination's endpoints (`consumer` is the proxy: its application and
 * IP), then service-scope condition rules for the call's key, application-scope condition rules,
 * the provider application's tag rule and static tags; each with its compiled rule's `explain`
 * (`explainFor` for overrides). Stops at the first rule that leaves no endpoint: the call is
 * answered status 70 naming it. `endpoints` are the destination's (DubboRoute already chose the
 * service and subset); `documents` must be valid (as `ruleDocumentNode` gives them).
 */
export function explainCall(
  documents: readonly RuleDocument[],
  call: RuleCall,
  endpoints: readonly WeightedRuleEndpoint[],
  consumer: OverrideConsumer,
  options: ExplainOptions = {},
): CallExplanation {
  const nameOf = options.nameOf ?? defaultName;
  const serviceKey = formatServiceRuleKey({ interface: call.interface, version: call.version, group: call.group });
  const plan = planRules(documents, (document) => document);
  const overrides = applyOverrides(plan.overrides, { interface: call.interface, group: call.group, version: call.version }, consumer, endpoints, nameOf);
  const steps: CallStep[] = [...overrides.steps];
  const weightOf = (endpoint: RuleEndpoint): number => overrides.weights.get(endpoint) ?? (endpoint as WeightedRuleEndpoint).weight ?? DEFAULT_WEIGHT;
  const done = (current: readonly RuleEndpoint[], noProvider: NoProvider | undefined): CallExplanation => ({
    serviceKey,
    steps,
    endpoints: noProvider === undefined ? current.map((endpoint) => ({ endpoint, weight: weightOf(endpoint) })) : [],
    noProvider,
  });
  if (endpoints.length === 0) return done([], { status: NO_PROVIDER, rule: '(no rule)', reason: 'the service has no endpoint' });
  if (overrides.kept.length === 0)
    return done([], {
      status: NO_PROVIDER,
      rule: overrides.lastDisabling!,
      reason: `override rules leave none of the ${plural(endpoints.length, 'endpoint')} (disabled=true)`,
    });

  const target: RuleTarget = { serviceKey, consumerApplication: call.consumerApplication, providerApplications: new Set(endpoints.map((e) => e.application)) };
  const narrowings: Array<{ name: string; kind: 'condition' | 'tag'; applies: { applies: boolean; why: string }; rule: () => NarrowingRule }> =
    plan.narrowings.map((planned) => ({
      name: nameOf(planned.document),
      kind: planned.document.kind as 'condition' | 'tag',
      applies: narrowingApplies(planned, target),
      rule: () => compileNarrowing(planned.document, options.random),
    }));
  const statically = staticTagApplications(endpoints, plan.taggedApplications);
  if (statically.size > 0) {
    const names = [...statically].sort().map((application) => JSON.stringify(application));
    narrowings.push({
      name: STATIC_TAGS_NAME,
      kind: 'tag',
      applies: { applies: true, why: `endpoints of ${names.join(', ')} carry a ${TAG_KEY} label and no tag rule names that application` },
      rule: () => staticTagRule,
    });
  }
  let current: readonly RuleEndpoint[] = overrides.kept;
  for (const narrowing of narrowings) {
    if (!narrowing.applies.applies) {
      steps.push({
        rule: narrowing.name,
        kind: narrowing.kind,
        applies: false,
        why: narrowing.applies.why,
        effect: 'not-matched',
        details: [],
        items: new Map(),
        kept: current,
        dropped: new Map(),
        weights: new Map(),
      });
      continue;
    }
    const explanation = narrowing.rule().explain(call, current, identity);
    steps.push({
      rule: narrowing.name,
      kind: narrowing.kind,
      applies: true,
      why: narrowing.applies.why,
      effect: explanation.effect,
      details: explanation.steps,
      items: new Map(),
      kept: explanation.kept,
      dropped: droppedBy(explanation.steps, current, explanation.kept),
      weights: new Map(),
    });
    if (explanation.kept.length === 0)
      return done([], {
        status: NO_PROVIDER,
        rule: narrowing.name,
        reason: emptyReason(narrowing.name, narrowing.kind, explanation.effect, current.length, explanation.steps),
      });
    current = explanation.kept;
  }
  return done(current, undefined);
}

function describeEndpoint(endpoint: RuleEndpoint): string {
  const labels = Object.entries(endpoint.labels)
    .filter(([key]) => key !== 'application')
    .map(([key, value]) => `${key}=${value}`);
  return `${endpoint.address} (application ${endpoint.application}${labels.length === 0 ? '' : `, ${labels.join(', ')}`})`;
}

/**
 * An explanation as the lines an operator reads: each rule, whether it applies and why, each
 * of its steps with the endpoints it dropped and why, then the endpoints the call reaches with
 * their weights, or `no provider (status 70): <reason>`.
 */
export function formatCallExplanation(explanation: CallExplanation): string[] {
  const lines: string[] = [];
  explanation.steps.forEach((step, index) => {
    const head = `${index + 1}. ${step.rule}`;
    if (!step.applies) {
      lines.push(`${head}: does not apply: ${step.why}`);
      return;
    }
    lines.push(`${head}: applies: ${step.why}`);
    for (const detail of step.details) {
      lines.push(`   ${detail.step}: ${detail.effect}: ${detail.reason}`);
      for (const [endpoint, why] of detail.dropped) lines.push(`     - ${endpoint.address}: ${why}`);
    }
    if (step.kind === 'override') {
      for (const [endpoint, items] of step.items) {
        for (const line of items.filter((text) => /\): applied: /.test(text))) lines.push(`   ${endpoint.address}: ${line}`);
      }
      for (const [endpoint, why] of step.dropped) lines.push(`     - ${endpoint.address}: ${why}`);
      for (const [endpoint, weight] of step.weights) lines.push(`     ~ ${endpoint.address}: weight ${weight.from} -> ${weight.to}`);
    }
    lines.push(`   => ${step.effect}: ${plural(step.kept.length, 'endpoint')} left`);
  });
  if (explanation.noProvider !== undefined) {
    lines.push(`no provider (status ${explanation.noProvider.status}): ${explanation.noProvider.reason}`);
    return lines;
  }
  lines.push(`the call reaches ${plural(explanation.endpoints.length, 'endpoint')}:`);
  for (const { endpoint, weight } of explanation.endpoints) lines.push(`  ${describeEndpoint(endpoint)} weight ${weight}`);
  return lines;
}
