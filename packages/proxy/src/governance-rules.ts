import type { DubboRuleConfig, LoadBalancerPolicy, MeshConfig } from '@dubbo-mesh/config';
import {
  STATIC_TAGS_NAME,
  TAG_KEY,
  compileRule,
  planRules,
  staticTagRule,
  type EffectSlot,
  type NarrowingRule,
  type OverrideRule,
  type RuleCall,
  type RuleEffect,
  type RuleEndpoint,
} from '@dubbo-mesh/dubbo-rules';
import { consumerHost, type NodeIdentity } from './call-context.js';
import type { ClusterMember } from './cluster.js';
import type { EndpointNarrowing } from './endpoint-narrowing.js';
import type { FilterCall } from './filter.js';
import type { RouteDecision } from './routing-table.js';

/** What `/stats` counts per rule: the calls it saw, by what it did to them. */
export type RuleCounters = Record<RuleEffect, number>;

/** One rule in force, as `/config_dump` and `/stats` show it. */
export interface GovernanceRuleEntry {
  /** `condition rule com.Foo:1.0.0: (DubboRule default/x)`: how replies and stats name it. */
  readonly name: string;
  readonly kind: 'condition' | 'tag' | 'override';
  readonly scope: 'service' | 'application';
  readonly key: string;
  readonly enabled: boolean;
  /** `DubboRule namespace/name`. */
  readonly resource: string;
  readonly counters: RuleCounters;
}

function emptyCounters(): RuleCounters {
  return { 'not-matched': 0, 'kept-all': 0, narrowed: 0, blacklisted: 0, 'forced-empty': 0, ignored: 0, disabled: 0 };
}

/** The parts of a service key a decision names (`group/interface:version`), as a service-scope rule key (`interface:version:group`). */
export function ruleKeyOfServiceKey(serviceKey: string): string {
  const slash = serviceKey.indexOf('/');
  const group = slash < 0 ? '' : serviceKey.slice(0, slash);
  const rest = slash < 0 ? serviceKey : serviceKey.slice(slash + 1);
  const colon = rest.indexOf(':');
  return colon < 0 ? `${rest}::${group}` : `${rest.slice(0, colon)}:${rest.slice(colon + 1)}:${group}`;
}

/** An argument as rules read it: text as is, numbers and booleans as Java prints them, anything else as JSON. */
function argumentText(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (value === null) return 'null';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return JSON.stringify(value);
}

/**
 * The call as rules read it: one per proxy's rules, rebound per call (narrowing is
 * synchronous), so no object is made per call; what costs something to read (the consumer's
 * host, a decoded argument) is read once per call whichever rules ask. The consumer's host is
 * the one it connects from, or, when that is loopback (the application beside a sidecar),
 * this proxy's own IP: the address Dubbo's consumer would have registered.
 */
class RuleCallView implements RuleCall {
  private call: FilterCall | undefined;
  private host: string | undefined;
  private argumentIndex = -1;
  private argumentValue: string | undefined;
  constructor(private readonly node: NodeIdentity) {}

  /** Read `call` from now on (a no-op for the call already bound). */
  bind(call: FilterCall): void {
    if (call === this.call) return;
    this.call = call;
    this.host = undefined;
    this.argumentIndex = -1;
  }

  get interface(): string {
    return this.call!.peek.path;
  }
  get group(): string {
    return this.call!.peek.group;
  }
  get version(): string {
    const version = this.call!.peek.version;
    return version === '0.0.0' ? '' : version;
  }
  get method(): string {
    return this.call!.method;
  }
  get consumerApplication(): string | undefined {
    return this.call!.context.consumerApplication ?? this.node.service;
  }
  get consumerHost(): string {
    return (this.host ??= consumerHost(this.call!.context.consumerAddress, this.node));
  }
  attachment(name: string): string | undefined {
    const value = this.call!.attachment(name);
    if (value !== undefined && value !== null) return String(value);
    // A consumer's own `dubbo.tag` (its URL's, in Dubbo) is this proxy's label of that name.
    return name === TAG_KEY ? this.node.labels[TAG_KEY] : undefined;
  }
  argument(index: number): string | undefined {
    if (index === this.argumentIndex) return this.argumentValue;
    const peek = this.call!.peek;
    let text: string | undefined;
    if (index >= 0 && index < peek.parameterCount) {
      try {
        text = argumentText(peek.decodeArgument(index));
      } catch {
        text = undefined;
      }
    }
    this.argumentIndex = index;
    this.argumentValue = text;
    return text;
  }
}

/** The `namespace/service` a cluster belongs to, from its name (`namespace/service[/subset] [keys]`). */
function serviceIdOfCluster(clusterName: string): string {
  const slash = clusterName.indexOf('/');
  if (slash < 0) return clusterName;
  const end = clusterName.slice(slash + 1).search(/[/ ]/);
  return end < 0 ? clusterName : clusterName.slice(0, slash + 1 + end);
}

/** The service a cluster belongs to, from its name (`namespace/service[/subset] [keys]`). */
function serviceOfCluster(clusterName: string): string {
  const slash = clusterName.indexOf('/');
  const rest = slash < 0 ? clusterName : clusterName.slice(slash + 1);
  const end = rest.search(/[/ ]/);
  return end < 0 ? rest : rest.slice(0, end);
}

/** Members as rules see them, made once per member (members live as long as their snapshot's clusters). */
const endpointViews = new WeakMap<ClusterMember, RuleEndpoint>();

function endpointView(member: ClusterMember, service: string): RuleEndpoint {
  let view = endpointViews.get(member);
  if (view === undefined) {
    const upstream = member.upstream;
    view = Object.freeze({
      host: upstream.host,
      port: upstream.port,
      address: member.id,
      application: member.labels.application ?? service,
      labels: member.labels,
    });
    endpointViews.set(member, view);
  }
  return view;
}

/** A condition or tag rule on the proxy's call path. */
class RuleNarrowing implements EndpointNarrowing {
  private readonly slot: EffectSlot = { effect: 'not-matched' };
  private clusterName = '';
  /** How many endpoints the last call's narrowing started from (for the reply when none is left). */
  private candidates = 0;
  private readonly toEndpoint = (member: ClusterMember): RuleEndpoint => endpointView(member, serviceOfCluster(this.clusterName));

  constructor(
    readonly name: string,
    private readonly rule: NarrowingRule,
    private readonly counters: RuleCounters,
    /** The call as rules read it, shared by the rules of one snapshot. */
    private readonly view: RuleCallView,
    /** Whether the rule is for the calls of a decision; absent: every call. */
    readonly appliesTo: ((decision: RouteDecision) => boolean) | undefined,
    /**
     * Whether the rule is for the endpoints of a destination cluster (a tag rule: those of its
     * application), asked once per cluster name; absent: every cluster. A decision may split
     * its calls over services of several applications: the rule runs on its own.
     */
    private readonly forCluster?: (cluster: string) => boolean,
  ) {}

  /** {@link forCluster}'s answers by cluster name (a snapshot's clusters are few). */
  private readonly clusters = new Map<string, boolean>();

  narrow(call: FilterCall, candidates: readonly ClusterMember[], cluster: string): readonly ClusterMember[] {
    const forCluster = this.forCluster;
    if (forCluster !== undefined) {
      let applies = this.clusters.get(cluster);
      if (applies === undefined) this.clusters.set(cluster, (applies = forCluster(cluster)));
      if (!applies) return candidates;
    }
    const view = this.view;
    view.bind(call);
    this.clusterName = cluster;
    this.candidates = candidates.length;
    const kept = this.rule.narrow(view, candidates, this.toEndpoint, this.slot);
    this.counters[this.slot.effect] += 1;
    return kept;
  }

  whyEmpty(): string | undefined {
    const effect = this.slot.effect;
    if (effect === 'blacklisted') return `${this.name} blacklists the call (its then-part is empty or false)`;
    const left = `${this.name} left none of its ${this.candidates} endpoint${this.candidates === 1 ? '' : 's'}`;
    if (effect === 'forced-empty')
      return this.rule.kind === 'tag' ? `${left} for the call's tag (force: true, or dubbo.force.tag)` : `${left}, and it is force: true`;
    return undefined;
  }
}

/**
 * The application-scope condition rules, as one narrowing: Dubbo 3.3 reads
 * `<application>.condition-router` for the consumer of that application (AppStateRouter) and
 * for calls to providers of it (ProviderAppStateRouter). A call pays one lookup by its
 * consumer application and one by its destination cluster, however many such rules there are.
 */
class ApplicationRules implements EndpointNarrowing {
  readonly name = 'application condition rules';
  /** Per destination cluster, the rules of its endpoints' applications (in key order). */
  private readonly byCluster = new Map<string, readonly RuleNarrowing[]>();
  /** The rule that left nothing in the last call, for its reply. */
  private emptied: RuleNarrowing | undefined;

  constructor(
    private readonly rules: ReadonlyMap<string, RuleNarrowing>,
    private readonly view: RuleCallView,
    private readonly reaches: (cluster: string, application: string) => boolean,
  ) {}

  narrow(call: FilterCall, candidates: readonly ClusterMember[], cluster: string): readonly ClusterMember[] {
    this.view.bind(call);
    const consumer = this.view.consumerApplication;
    const own = consumer === undefined ? undefined : this.rules.get(consumer);
    let members = candidates;
    if (own !== undefined) {
      members = own.narrow(call, members, cluster);
      if (members.length === 0) return this.empty(own);
    }
    let providers = this.byCluster.get(cluster);
    if (providers === undefined) {
      providers = [...this.rules].filter(([application]) => this.reaches(cluster, application)).map(([, rule]) => rule);
      this.byCluster.set(cluster, providers);
    }
    for (let i = 0; i < providers.length; i++) {
      const rule = providers[i]!;
      if (rule === own) continue;
      members = rule.narrow(call, members, cluster);
      if (members.length === 0) return this.empty(rule);
    }
    return members;
  }

  private empty(rule: RuleNarrowing): readonly ClusterMember[] {
    this.emptied = rule;
    return EMPTY_MEMBERS;
  }

  whyEmpty(): string | undefined {
    return this.emptied?.whyEmpty();
  }
}

const EMPTY_MEMBERS: readonly ClusterMember[] = Object.freeze([]);

const SIDES = ['provider', 'consumer'] as const;

/** Dubbo's `loadbalance` names and the mesh's load balancers they are. */
const DUBBO_LOAD_BALANCERS: Readonly<Record<string, LoadBalancerPolicy>> = Object.freeze({
  random: 'random',
  roundrobin: 'round-robin',
  leastactive: 'least-active',
  shortestresponse: 'shortest-response',
  consistenthash: 'consistent-hash',
});

/** A cluster's members and call parameters as override rules make them for one service key. */
export interface OverriddenCluster {
  readonly members: readonly ClusterMember[];
  /** The mesh load balancer the rules' `loadbalance` names; undefined: the policy's. */
  readonly loadBalancer: LoadBalancerPolicy | undefined;
  /** Per member the rules give a `timeout` (ms): an attempt's timeout when the call's route sets none. */
  readonly timeoutsMs: ReadonlyMap<ClusterMember, number> | undefined;
  /** The call's retries when its route sets none (the rules' `retries`, the same for every member). */
  readonly retries: number | undefined;
}

/**
 * Dubbo's governance rules in force in one proxy, compiled from a snapshot's DubboRules:
 * condition and tag rules as endpoint narrowings (service-scope condition rules, then
 * application-scope ones, then tag rules: DubboRoute has already chosen the service and
 * subset), and override rules as what they change of each endpoint for this proxy (the
 * consumer: its service and IP). A snapshot without rules makes none of this.
 */
export class GovernanceRules {
  readonly entries: readonly GovernanceRuleEntry[];
  readonly narrowings: readonly EndpointNarrowing[];
  private readonly overrides: Array<{ readonly rule: OverrideRule; readonly scope: 'service' | 'application'; readonly entry: GovernanceRuleEntry }>;
  /** Applications of each mesh service's endpoints (`namespace/name` → applications), for tag rules. */
  private readonly applications = new Map<string, Set<string>>();

  private constructor(
    config: MeshConfig,
    private readonly node: NodeIdentity,
    previous: GovernanceRules | undefined,
  ) {
    for (const service of config.services) {
      const apps = new Set<string>();
      for (const endpoint of service.endpoints) apps.add(endpoint.labels.application ?? service.metadata.name);
      this.applications.set(`${service.metadata.namespace}/${service.metadata.name}`, apps);
    }
    const entries: GovernanceRuleEntry[] = [];
    const serviceConditions: EndpointNarrowing[] = [];
    const applicationConditions = new Map<string, RuleNarrowing>();
    const view = new RuleCallView(node);
    const tags: EndpointNarrowing[] = [];
    this.overrides = [];
    const countersBefore = new Map(previous?.entries.map((entry) => [entry.name, entry.counters]));
    /** The entry of a rule in force; counters of a rule that stays go on counting across snapshots. */
    const entryOf = (resource: DubboRuleConfig): GovernanceRuleEntry => {
      const document = resource.rule;
      const label = `DubboRule ${resource.metadata.namespace}/${resource.metadata.name}`;
      const name = `${document.kind} rule ${document.key} (${label})`;
      const entry: GovernanceRuleEntry = Object.freeze({
        name,
        kind: document.kind,
        scope: document.scope,
        key: document.key,
        enabled: document.enabled,
        resource: label,
        counters: countersBefore.get(name) ?? emptyCounters(),
      });
      entries.push(entry);
      return entry;
    };
    // The same stages, in the same order, as `rules explain` shows (`planRules`).
    const plan = planRules(config.rules, (resource) => resource.rule);
    for (const { stage, item, document } of plan.narrowings) {
      const { name, counters } = entryOf(item);
      const compiled = compileRule(document) as NarrowingRule;
      if (stage === 'tag') {
        const application = document.key;
        tags.push(
          new RuleNarrowing(
            name,
            compiled,
            counters,
            view,
            (decision) => this.decisionReaches(decision, application),
            (cluster) => this.clusterReaches(cluster, application),
          ),
        );
      } else if (stage === 'service-condition') {
        const key = document.key;
        serviceConditions.push(new RuleNarrowing(name, compiled, counters, view, (decision) => ruleKeyOfServiceKey(decision.serviceKey) === key));
      } else applicationConditions.set(document.key, new RuleNarrowing(name, compiled, counters, view, undefined));
    }
    // Application-scope overrides first, service-scope ones over them (Dubbo applies them in that order).
    for (const resource of plan.overrides) {
      const entry = entryOf(resource);
      this.overrides.push({ rule: compileRule(resource.rule) as OverrideRule, scope: resource.rule.scope, entry });
    }
    // Dubbo's tag router runs in every consumer: endpoints carrying their own `dubbo.tag` label
    // route by it even where no tag rule names their application.
    const ruled = plan.taggedApplications;
    const statically = new Set<string>();
    for (const service of config.services)
      for (const endpoint of service.endpoints) {
        const application = endpoint.labels.application ?? service.metadata.name;
        if (endpoint.labels[TAG_KEY] !== undefined && !ruled.has(application)) statically.add(application);
      }
    if (statically.size > 0) {
      const name = STATIC_TAGS_NAME;
      const counters = countersBefore.get(name) ?? emptyCounters();
      entries.push(
        Object.freeze({
          name,
          kind: 'tag' as const,
          scope: 'application' as const,
          key: [...statically].sort().join(','),
          enabled: true,
          resource: '(built in)',
          counters,
        }),
      );
      tags.push(
        new RuleNarrowing(
          name,
          staticTagRule,
          counters,
          view,
          (decision) => [...statically].some((application) => this.decisionReaches(decision, application)),
          (cluster) => [...statically].some((application) => this.clusterReaches(cluster, application)),
        ),
      );
    }
    this.entries = Object.freeze(entries);
    const byApplication =
      applicationConditions.size === 0
        ? []
        : [new ApplicationRules(applicationConditions, view, (cluster, application) => this.clusterReaches(cluster, application))];
    this.narrowings = Object.freeze([...serviceConditions, ...byApplication, ...tags]);
  }

  /**
   * The rules of a snapshot, or undefined when it has none and no endpoint carries a `dubbo.tag`
   * label (then calls pay nothing for them).
   * Counters of rules that were in force in `previous` carry on.
   */
  static compile(config: MeshConfig, node: NodeIdentity, previous?: GovernanceRules): GovernanceRules | undefined {
    if (config.rules.length > 0 || config.services.some((service) => service.endpoints.some((endpoint) => endpoint.labels[TAG_KEY] !== undefined)))
      return new GovernanceRules(config, node, previous);
    return undefined;
  }

  /** Whether any override rule is in force (else endpoints are taken as the snapshot gives them). */
  get hasOverrides(): boolean {
    return this.overrides.length > 0;
  }

  /** Whether a decision sends calls to a service with endpoints of `application` (a tag rule's key). */
  /** Whether a destination cluster (`namespace/service[/subset] [keys]`) is of a service with endpoints of `application`. */
  private clusterReaches(cluster: string, application: string): boolean {
    return this.applications.get(serviceIdOfCluster(cluster))?.has(application) === true;
  }

  private decisionReaches(decision: RouteDecision, application: string): boolean {
    return decision.destinations.some((destination) => this.applications.get(destination.serviceId)?.has(application) === true);
  }

  /**
   * What the override rules in force (`side: provider` items, then `side: consumer` ones with
   * this proxy as the consumer: its service and IP) make of a cluster's members for calls of one service key: members
   * `disabled` left out, weights replaced (all 0: even), each member's `timeout` (Dubbo reads
   * it from the provider it calls), and `loadbalance` and `retries` when every member gets the
   * same.
   * Undefined when no rule changes anything for them.
   */
  overridden(members: readonly ClusterMember[], clusterName: string, serviceKey: string): OverriddenCluster | undefined {
    if (this.overrides.length === 0) return undefined;
    const service = serviceOfCluster(clusterName);
    const key = ruleKeyOfServiceKey(serviceKey);
    const [iface, version, group] = key.split(':') as [string, string, string];
    const target = { interface: iface, group, version };
    const consumer = { application: this.node.service, host: this.node.ip ?? '127.0.0.1' };
    let changed = false;
    const kept: ClusterMember[] = [];
    const timeouts = new Map<ClusterMember, number>();
    const retries = new Set<string | undefined>();
    const balancers = new Set<string | undefined>();
    for (const member of members) {
      const endpoint = endpointView(member, service);
      let merged: Record<string, string> | undefined;
      // Provider items first: in Dubbo they change the provider's registered URL, which
      // consumers then see; consumer items apply over what the consumer sees.
      for (const side of SIDES) {
        // Each rule knows which of its items count when the document says `enabled: false`.
        for (const { rule } of this.overrides) {
          const parameters = rule.parametersFor(side, consumer, target, endpoint);
          if (parameters !== undefined) merged = { ...merged, ...parameters };
        }
      }
      retries.add(merged?.retries);
      balancers.add(merged?.loadbalance?.toLowerCase());
      if (merged === undefined) {
        kept.push(member);
        continue;
      }
      changed = true;
      if (merged.disabled === 'true') continue;
      const weight = merged.weight === undefined ? NaN : Number(merged.weight);
      const timeout = merged.timeout === undefined ? NaN : Number(merged.timeout);
      const next = Number.isInteger(weight) && weight >= 0 && weight !== member.weight ? { ...member, weight } : member;
      if (Number.isFinite(timeout) && timeout > 0) timeouts.set(next, timeout);
      kept.push(next);
    }
    if (!changed) return undefined;
    // Every weight 0: Dubbo's balancers then pick evenly (equal weights), never nothing.
    const evened = kept.length > 0 && kept.every((member) => member.weight === 0) ? kept.map((member) => ({ ...member, weight: 1 })) : kept;
    const timeoutsMs =
      evened === kept ? timeouts : new Map([...timeouts].map(([member, ms]) => [evened[kept.indexOf(member)]!, ms] as [ClusterMember, number]));
    // What the call as a whole takes (retries, the balancer) counts only when the rules give every member the same.
    const [onlyRetries] = retries.size === 1 ? [...retries] : [undefined];
    const [onlyBalancer] = balancers.size === 1 ? [...balancers] : [undefined];
    const retryCount = onlyRetries === undefined ? NaN : Number(onlyRetries);
    return Object.freeze({
      members: Object.freeze(evened),
      loadBalancer: onlyBalancer === undefined ? undefined : DUBBO_LOAD_BALANCERS[onlyBalancer],
      timeoutsMs: timeoutsMs.size === 0 ? undefined : timeoutsMs,
      retries: Number.isInteger(retryCount) && retryCount >= 0 ? retryCount : undefined,
    });
  }

  /** Counters per rule, for `/stats`. */
  countersByRule(): Record<string, RuleCounters> {
    return Object.fromEntries(this.entries.map((entry) => [entry.name, { ...entry.counters }]));
  }
}

/** The rules of a config, for `/config_dump`: what each is and whether it is in force. */
export function describeRules(rules: readonly DubboRuleConfig[]): Array<Record<string, unknown>> {
  return rules.map((resource) => ({
    resource: `DubboRule ${resource.metadata.namespace}/${resource.metadata.name}`,
    kind: resource.rule.kind,
    scope: resource.rule.scope,
    key: resource.rule.key,
    enabled: resource.rule.enabled,
  }));
}
