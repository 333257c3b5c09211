import {
  sameServiceKeyPattern,
  type DubboPolicyConfig,
  type DubboServiceConfig,
  type EndpointConfig,
  type MeshConfig,
  type RetryPolicy,
  type RouteMatch,
  type ServiceKeyPattern,
  type StringMatch,
} from '@dubbo-mesh/config';
import type { RequestPeek } from '@dubbo-mesh/protocol';

/** The attachment naming the application a call is for (Dubbo's own key, as its consumers send it). */
export const TARGET_APPLICATION_ATTACHMENT = 'target-application';

/** A mesh service with its policy. */
export interface MeshService {
  /** `namespace/name`. */
  readonly id: string;
  readonly config: DubboServiceConfig;
  readonly policy: DubboPolicyConfig | undefined;
}

/**
 * The backend of one DubboIngress rule: where the calls for one target application go. It has
 * a cluster of its own (a rule's endpoints are its own: two rules may name one Service on two
 * ports), shaped by the DubboPolicy of the mesh service that `service` names, if any.
 */
export interface IngressBackend {
  /**
   * The cluster's name, `namespace/service (ingress host)`: a mesh service's id never holds a
   * space, so the two never clash.
   */
  readonly id: string;
  /** The target application. */
  readonly host: string;
  /** `namespace/service`: the Service behind the host. */
  readonly service: string;
  readonly endpoints: readonly EndpointConfig[];
  readonly policy: DubboPolicyConfig | undefined;
}

/**
 * The endpoints of a service that provide one call's service key, when some of the service's
 * endpoints say which keys they provide (`interfaces`): those without `interfaces` (they
 * provide every key of the service) and those naming one of `patterns`.
 */
export interface EndpointKeyFilter {
  /**
   * The service's own patterns that the call's key matches (for a call with a wildcard or a
   * group list, the one pattern of its destination). An endpoint's patterns are patterns of
   * its service (the schema checks it), so an endpoint provides the key exactly when it names
   * one of these; and calls whose keys match the same patterns share a cluster (a consumer
   * sending ever new groups, versions or group lists makes no new clusters: their number is
   * bounded by the service's patterns).
   */
  readonly patterns: readonly ServiceKeyPattern[];
  /** The patterns as service keys (`*` for an absent group or version), for cluster names. */
  readonly name: string;
}

/**
 * The service key a call with a wildcard or a group list is sent with to one destination: the
 * concrete key of the provider's pattern it matched. A Dubbo provider finds the exported
 * service by the exact key it receives (`*` or `a,b` is no key it exports), and a Dubbo
 * consumer never sends one: it sends the chosen provider's own group and version.
 */
export interface ServiceKeyRewrite {
  /** The group to send; `''`: none (the `group` attachment is removed). */
  readonly group: string;
  /** The version to send; `''`: none (sent as `0.0.0`, as Dubbo consumers write it). */
  readonly version: string;
}

/** One destination of a route: a mesh service, or one subset of it, with its weight. */
export interface RouteDestination {
  readonly serviceId: string;
  readonly subset: string | undefined;
  readonly weight: number;
  /**
   * Only the endpoints that provide the call's key. Set only when the service has endpoints
   * with `interfaces` and some of its endpoints do not provide the key: every other
   * destination is the plain one (same cluster, same cost as without per-endpoint keys).
   */
  readonly keyFilter?: EndpointKeyFilter;
  /**
   * The group and version to send instead of the call's: set only on destinations of calls
   * with a wildcard or a group list, when the pattern the destination stands for gives a
   * concrete group or version other than the call's (an absent group or version in the
   * pattern has none: the call's is kept for that field).
   */
  readonly rewrite?: ServiceKeyRewrite;
}

/** Whether an endpoint carries every label of a subset (`undefined`: no subset, every endpoint). */
export function inSubset(endpoint: EndpointConfig, labels: Readonly<Record<string, string>> | undefined): boolean {
  if (labels === undefined) return true;
  for (const key in labels) if (endpoint.labels[key] !== labels[key]) return false;
  return true;
}

/** Whether an endpoint provides the key a filter is for (see {@link EndpointKeyFilter}). */
export function endpointProvides(endpoint: EndpointConfig, filter: EndpointKeyFilter): boolean {
  const own = endpoint.interfaces;
  if (own === undefined) return true;
  return own.some((mine) => filter.patterns.some((p) => p.interface === mine.interface && p.group === mine.group && p.version === mine.version));
}

/**
 * Whether a call's group (`''`: none) matches a pattern's, as a Dubbo consumer matches a
 * provider (`UrlUtils.isMatch`): an absent pattern group matches any; the call's `*` matches
 * any; a call's comma list matches a pattern group equal to one of its entries (never the
 * empty one: "no group" is not in a list); otherwise they must be equal.
 */
export function groupMatches(patternGroup: string | undefined, callGroup: string): boolean {
  if (patternGroup === undefined || callGroup === '*' || callGroup === patternGroup) return true;
  if (patternGroup === '' || !callGroup.includes(',')) return false;
  return callGroup.split(',').some((entry) => entry.trim() === patternGroup);
}

/**
 * Whether a call's version (`''`: none, as the wire's `0.0.0`) matches a pattern's: an absent
 * pattern version matches any; the call's `*` matches any; otherwise they must be equal (a
 * call without a version never reaches a versioned pattern).
 */
export function versionMatches(patternVersion: string | undefined, callVersion: string): boolean {
  return patternVersion === undefined || callVersion === '*' || callVersion === patternVersion;
}

/** Whether a call's key (group and version `''` for none) matches a pattern, by Dubbo's consumer-side rules. */
export function keyMatchesPattern(pattern: ServiceKeyPattern, iface: string, group: string, version: string): boolean {
  return pattern.interface === iface && groupMatches(pattern.group, group) && versionMatches(pattern.version, version);
}

/** Whether a call's key may match several providers' keys: version `*`, group `*` or a group list. */
function isMultiKey(group: string, version: string): boolean {
  return version === '*' || group === '*' || group.includes(',');
}

/** How specific a pattern is: group and version given, then the group, then the version, then neither. */
function specificity(pattern: { readonly group?: string; readonly version?: string }): number {
  return (pattern.group === undefined ? 0 : 2) + (pattern.version === undefined ? 0 : 1);
}

/** A pattern written as a service key, `*` where it leaves the group or version open. */
function formatPattern(pattern: ServiceKeyPattern): string {
  return formatServiceKey(pattern.interface, pattern.group ?? '*', pattern.version ?? '*');
}

/** Where a call goes: weighted destinations, with the route's timeout and retries. */
export interface RouteDecision {
  readonly kind: 'route';
  /** `group/interface:version`, for messages and logs. */
  readonly serviceKey: string;
  /** Name of the rule that matched, or `default`. */
  readonly rule: string;
  readonly destinations: readonly RouteDestination[];
  readonly totalWeight: number;
  /**
   * Running sums of the destinations' weights, computed when the decision is built: a call
   * draws its destination with one binary search ({@link drawDestination}), no walk over the
   * weights. Absent on a decision built by hand: then the weights are walked.
   */
  readonly cumulativeWeights?: readonly number[];
  readonly timeoutMs: number | undefined;
  readonly retries: RetryPolicy | undefined;
  /**
   * Set on the decisions of calls with a wildcard or a group list that have several
   * destinations: a destination whose cluster can take no call (no available endpoint) gives
   * way to the others ({@link drawOtherDestination}), as a Dubbo consumer would reach any of
   * the matching providers. Absent on every other decision (their weights are the route's).
   */
  readonly failover?: boolean;
}

/** Running sums of `destinations`' weights. */
export function cumulativeWeights(destinations: readonly RouteDestination[]): readonly number[] {
  let sum = 0;
  return Object.freeze(destinations.map((destination) => (sum += destination.weight)));
}

/**
 * The destination of one call, drawn by weight with `random` in [0, 1): the first whose
 * running sum passes `random × totalWeight`. With one destination, or weights that sum to 0,
 * the first.
 */
export function drawDestination(decision: RouteDecision, random: number): RouteDestination {
  const destinations = decision.destinations;
  if (destinations.length === 1 || !(decision.totalWeight > 0)) return destinations[0]!;
  const point = random * decision.totalWeight;
  const sums = decision.cumulativeWeights ?? cumulativeWeights(destinations);
  let low = 0;
  let high = sums.length - 1;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (sums[middle]! > point) high = middle;
    else low = middle + 1;
  }
  return destinations[low]!;
}

/**
 * Another destination of a decision than those in `skipped` (destinations that could take
 * no call), drawn by weight with `random` in [0, 1); with weights that sum to 0, the first
 * left; undefined when none is left. Walks the weights: only calls whose first destination
 * failed come here.
 */
export function drawOtherDestination(decision: RouteDecision, skipped: readonly RouteDestination[], random: number): RouteDestination | undefined {
  let total = 0;
  let first: RouteDestination | undefined;
  for (const destination of decision.destinations) {
    if (skipped.includes(destination)) continue;
    first ??= destination;
    total += destination.weight;
  }
  if (first === undefined || !(total > 0)) return first;
  let point = random * total;
  let last = first;
  for (const destination of decision.destinations) {
    if (skipped.includes(destination) || !(destination.weight > 0)) continue;
    last = destination;
    point -= destination.weight;
    if (point < 0) return destination;
  }
  // Rounding may leave a sliver past the last sum: the last one with a weight.
  return last;
}

type Predicate = (value: string) => boolean;

function compileString(match: StringMatch): Predicate {
  if ('exact' in match) return (value) => value === match.exact;
  if ('prefix' in match) return (value) => value.startsWith(match.prefix);
  const regex = new RegExp(match.regex);
  return (value) => regex.test(value);
}

interface CompiledMatch {
  method?: Predicate;
  attachments: Array<[string, Predicate]>;
  arguments: Array<[number, Predicate]>;
}

function compileMatch(match: RouteMatch): CompiledMatch {
  return {
    method: match.method === undefined ? undefined : compileString(match.method),
    attachments: Object.entries(match.attachments ?? {}).map(([key, rule]) => [key, compileString(rule)]),
    arguments: (match.arguments ?? []).map((rule) => [rule.index, compileString(rule.match)]),
  };
}

/** The text a rule compares: scalars as strings; structures never match. */
function scalarText(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return value;
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value);
    default:
      return undefined;
  }
}

function matches(match: CompiledMatch, peek: RequestPeek): boolean {
  if (match.method !== undefined && !match.method(peek.invokedMethod)) return false;
  for (const [key, predicate] of match.attachments) {
    const text = scalarText(peek.attachment(key));
    if (text === undefined || !predicate(text)) return false;
  }
  for (const [index, predicate] of match.arguments) {
    if (index >= peek.parameterCount) return false;
    let value: unknown;
    try {
      value = peek.decodeArgument(index);
    } catch {
      return false;
    }
    const text = scalarText(value);
    if (text === undefined || !predicate(text)) return false;
  }
  return true;
}

interface CompiledRule {
  readonly decision: Omit<RouteDecision, 'serviceKey' | 'kind'>;
  /** Empty: always holds. Else any entry holding is enough. */
  readonly matches: CompiledMatch[];
}

/** An interface pattern (`org.example.*`): the name itself when it has no `*`, else a RegExp of the whole name. */
export function hostPattern(host: string): RegExp | string {
  if (!host.includes('*')) return host;
  return new RegExp(
    `^${host
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
}

/** `group/interface:version` as Dubbo writes a service key. */
export function formatServiceKey(iface: string, group: string, version: string): string {
  return `${group === '' ? '' : `${group}/`}${iface}${version === '' ? '' : `:${version}`}`;
}

const CACHE_LIMIT = 10_000;

/**
 * Everything routing needs for one service key, built on its first call: the rules of its
 * interface with a decision per rule (service key filled in), and the default decision (to
 * the service that provides the key, if any).
 * Decisions are shared by every call of the key: nothing is built per call.
 */
interface KeyEntry {
  readonly serviceKey: string;
  readonly rules: readonly CompiledRule[];
  readonly decisions: readonly RouteDecision[];
  readonly fallback: RouteDecision | undefined;
  /** Target application → the decision of this key's calls for it (built on the first such call). */
  byTargetApplication: Map<string, RouteDecision> | undefined;
}

/** What a target application's calls share, whatever their service key. */
interface TargetApplication {
  readonly rule: string;
  /** The one destination, shared by every decision for the host (clusters are remembered by its identity). */
  readonly destinations: readonly RouteDestination[];
}

const ONE: readonly number[] = Object.freeze([1]);

/** A decision of a call with a wildcard or a group list: with several destinations, one that can take no call gives way to the others. */
function multiKeyDecision(
  serviceKey: string,
  rule: string,
  destinations: readonly RouteDestination[],
  timeoutMs: number | undefined,
  retries: RetryPolicy | undefined,
): RouteDecision {
  const sums = cumulativeWeights(destinations);
  return Object.freeze({
    kind: 'route' as const,
    serviceKey,
    rule,
    destinations,
    totalWeight: sums[sums.length - 1] ?? 0,
    cumulativeWeights: sums,
    timeoutMs,
    retries,
    ...(destinations.length > 1 ? { failover: true } : {}),
  });
}

/**
 * A snapshot compiled for lookups: service key → mesh service, interface → ordered rules,
 * target application → DubboIngress backend. Immutable; a new snapshot is a new table, swapped
 * in by reference.
 */
export class RoutingTable {
  readonly services = new Map<string, MeshService>();
  /** The backends of the DubboIngress rules, by id (the cluster name). */
  readonly ingressBackends = new Map<string, IngressBackend>();
  /**
   * Whether any DubboIngress rule is in force. Without one no call's `target-application` is
   * read: every call is routed by its service key, at no extra cost.
   */
  readonly routesByTargetApplication: boolean;
  private readonly targetApplications = new Map<string, TargetApplication>();
  private readonly providers = new Map<string, Array<{ group?: string; version?: string; serviceId: string }>>();
  /** Services with an endpoint that names its keys (`interfaces`): only their destinations may need a key filter. */
  private readonly servicesWithEndpointKeys = new Set<string>();
  /** Pattern (of a service with per-endpoint keys) → its filter, or null when every endpoint provides it. */
  private readonly patternFilters = new Map<ServiceKeyPattern, EndpointKeyFilter | null>();
  /** Pattern → subset (undefined: none) → the summed weights of the endpoints that provide it (bounded by the config: the subsets are a route's). */
  private readonly patternWeights = new Map<ServiceKeyPattern, Map<string | undefined, number>>();
  private readonly exactRoutes = new Map<string, CompiledRule[]>();
  private readonly wildcardRoutes: Array<{ pattern: RegExp; rules: CompiledRule[] }> = [];
  /** interface → group → version → entry. Nested, so a lookup builds no key string. */
  private readonly keyCache = new Map<string, Map<string, Map<string, KeyEntry>>>();
  private cachedKeys = 0;
  /** The head object, group and entry of the last routed call (see {@link RequestPeek.head}). */
  private lastHead: object | undefined;
  private lastGroup = '';
  private lastEntry: KeyEntry | undefined;

  constructor(
    readonly config: MeshConfig,
    readonly version: string,
  ) {
    const policies = new Map(config.policies.map((p) => [`${p.metadata.namespace}/${p.service}`, p]));
    for (const service of config.services) {
      const id = `${service.metadata.namespace}/${service.metadata.name}`;
      this.services.set(id, { id, config: service, policy: policies.get(id) });
      if (service.endpoints.some((endpoint) => endpoint.interfaces !== undefined)) this.servicesWithEndpointKeys.add(id);
      for (const pattern of service.interfaces) {
        const list = this.providers.get(pattern.interface) ?? [];
        list.push({ group: pattern.group, version: pattern.version, serviceId: id });
        this.providers.set(pattern.interface, list);
      }
    }
    for (const ingress of config.ingresses) {
      const namespace = ingress.metadata.namespace;
      for (const rule of ingress.rules) {
        const service = `${namespace}/${rule.service}`;
        const id = `${service} (ingress ${rule.host})`;
        this.ingressBackends.set(id, { id, host: rule.host, service, endpoints: rule.endpoints, policy: policies.get(service) });
        const destinations = Object.freeze([Object.freeze({ serviceId: id, subset: undefined, weight: 1 })]);
        this.targetApplications.set(rule.host, { rule: `ingress ${rule.host}`, destinations });
      }
    }
    this.routesByTargetApplication = this.targetApplications.size > 0;
    for (const route of config.routes) {
      const namespace = route.metadata.namespace;
      const rules: CompiledRule[] = route.routes.map((rule) => {
        const destinations = rule.destinations.map((d) => ({ serviceId: `${namespace}/${d.service}`, subset: d.subset, weight: d.weight }));
        return {
          matches: rule.match.map(compileMatch),
          decision: {
            rule: rule.name,
            destinations,
            totalWeight: rule.destinations.reduce((sum, d) => sum + d.weight, 0),
            cumulativeWeights: cumulativeWeights(destinations),
            timeoutMs: rule.timeoutMs,
            retries: rule.retries,
          },
        };
      });
      for (const host of route.hosts) {
        const pattern = hostPattern(host);
        if (typeof pattern === 'string') this.exactRoutes.set(pattern, [...(this.exactRoutes.get(pattern) ?? []), ...rules]);
        else this.wildcardRoutes.push({ pattern, rules });
      }
    }
  }

  /** The rules for an interface: exact hosts first, then wildcards in config order. */
  private rulesFor(iface: string): CompiledRule[] {
    const rules = [...(this.exactRoutes.get(iface) ?? [])];
    for (const wildcard of this.wildcardRoutes) if (wildcard.pattern.test(iface)) rules.push(...wildcard.rules);
    return rules;
  }

  /**
   * The mesh services providing a call's key (Dubbo's consumer-side matching, see
   * {@link keyMatchesPattern}): the most specific matching pattern wins (group and version both
   * given, then one, then the interface alone). A call with a wildcard or a group list may
   * match patterns of several services at the best score: all of them, by id (Dubbo's
   * consumer would see their providers as one list). An exact key takes the first, as ever.
   */
  private findServices(iface: string, group: string, version: string): MeshService[] {
    const several = isMultiKey(group, version);
    let best = -1;
    let found: string[] = [];
    for (const candidate of this.providers.get(iface) ?? []) {
      if (!groupMatches(candidate.group, group) || !versionMatches(candidate.version, version)) continue;
      const score = specificity(candidate);
      if (score > best) {
        best = score;
        found = [candidate.serviceId];
      } else if (score === best && several && !found.includes(candidate.serviceId)) found.push(candidate.serviceId);
    }
    return found.sort().map((id) => this.services.get(id)!);
  }

  /**
   * The filter of a call key's endpoints in a service, or undefined when every endpoint of the
   * service provides the key (always so for a service without per-endpoint `interfaces`).
   */
  private keyFilter(serviceId: string, iface: string, group: string, version: string): EndpointKeyFilter | undefined {
    if (!this.servicesWithEndpointKeys.has(serviceId)) return undefined;
    const service = this.services.get(serviceId)!;
    const patterns = service.config.interfaces.filter((pattern) => keyMatchesPattern(pattern, iface, group, version));
    const filter: EndpointKeyFilter = Object.freeze({
      patterns,
      // A route may send a key its destination does not declare: then only the endpoints
      // that provide every key of the service take it. (The name holds no part of the call's
      // key: consumers sending ever new keys make no new clusters.)
      name: patterns.length === 0 ? 'none of its keys' : patterns.map(formatPattern).join(', '),
    });
    return service.config.endpoints.every((endpoint) => endpointProvides(endpoint, filter)) ? undefined : filter;
  }

  /**
   * The patterns of a service that a call with a wildcard or a group list matches, the most
   * specific only (as between services), each once: at most as many as the service declares.
   */
  private matchedPatterns(service: MeshService, iface: string, group: string, version: string): ServiceKeyPattern[] {
    let best = -1;
    const found: ServiceKeyPattern[] = [];
    for (const pattern of service.config.interfaces) {
      if (!keyMatchesPattern(pattern, iface, group, version)) continue;
      const score = specificity(pattern);
      if (score < best) continue;
      if (score > best) {
        best = score;
        found.length = 0;
      }
      if (!found.some((other) => sameServiceKeyPattern(other, pattern))) found.push(pattern);
    }
    return found;
  }

  /**
   * The filter of the endpoints of a service that provide one of its patterns, or undefined
   * when all do. One per pattern of the table's services, so a pattern's calls share one
   * cluster whatever the call key that reached it.
   */
  private patternFilter(service: MeshService, pattern: ServiceKeyPattern): EndpointKeyFilter | undefined {
    if (!this.servicesWithEndpointKeys.has(service.id)) return undefined;
    const cached = this.patternFilters.get(pattern);
    if (cached !== undefined) return cached === null ? undefined : cached;
    const filter: EndpointKeyFilter = Object.freeze({ patterns: Object.freeze([pattern]), name: formatPattern(pattern) });
    const needed = !service.config.endpoints.every((endpoint) => endpointProvides(endpoint, filter));
    this.patternFilters.set(pattern, needed ? filter : null);
    return needed ? filter : undefined;
  }

  /**
   * The summed weights of a service's (or subset's) endpoints that provide one of its patterns,
   * remembered per pattern and subset: a consumer sending ever new wildcard keys costs no walk
   * over the endpoints per key.
   */
  private patternWeight(service: MeshService, subset: string | undefined, pattern: ServiceKeyPattern, keyFilter: EndpointKeyFilter | undefined): number {
    let bySubset = this.patternWeights.get(pattern);
    const cached = bySubset?.get(subset);
    if (cached !== undefined) return cached;
    const labels = subset === undefined ? undefined : service.policy?.subsets.find((s) => s.name === subset)?.labels;
    let weight = 0;
    // An unknown subset has no endpoints (its cluster is refused): weight 0.
    if (subset === undefined || labels !== undefined) {
      for (const endpoint of service.config.endpoints) {
        if (inSubset(endpoint, labels) && (keyFilter === undefined || endpointProvides(endpoint, keyFilter))) weight += endpoint.weight;
      }
    }
    if (bySubset === undefined) this.patternWeights.set(pattern, (bySubset = new Map()));
    bySubset.set(subset, weight);
    return weight;
  }

  /**
   * A destination for one matched pattern of a service (and subset) of a call with a wildcard
   * or a group list: the endpoints providing the pattern (a key filter when not all do), the
   * sum of their weights (what a Dubbo consumer's load balancer would give them together),
   * and the key to send when the pattern's differs from the call's.
   */
  private patternDestination(service: MeshService, subset: string | undefined, pattern: ServiceKeyPattern, group: string, version: string): RouteDestination {
    const keyFilter = this.patternFilter(service, pattern);
    const sentGroup = pattern.group ?? group;
    const sentVersion = pattern.version ?? version;
    const rewrite = sentGroup === group && sentVersion === version ? undefined : Object.freeze({ group: sentGroup, version: sentVersion });
    return Object.freeze({
      serviceId: service.id,
      subset,
      weight: this.patternWeight(service, subset, pattern, keyFilter),
      ...(keyFilter === undefined ? {} : { keyFilter }),
      ...(rewrite === undefined ? {} : { rewrite }),
    });
  }

  /**
   * A route's destinations for a call with a wildcard or a group list: each destination to a
   * service becomes one per matched pattern of the service ({@link patternDestination}), its
   * route weight split in proportion to their endpoints' weights. The same array when each
   * destination stays as it was (one pattern, no key to rewrite, no filter).
   */
  private concreteDestinations(destinations: readonly RouteDestination[], iface: string, group: string, version: string): readonly RouteDestination[] {
    let changed = false;
    const concrete: RouteDestination[] = [];
    for (const destination of destinations) {
      const service = this.services.get(destination.serviceId);
      const patterns = service === undefined ? [] : this.matchedPatterns(service, iface, group, version);
      if (patterns.length === 0) {
        // A key its service does not declare: no concrete key to send; filtered as an exact call's.
        const keyFilter = this.keyFilter(destination.serviceId, iface, group, version);
        if (keyFilter !== undefined) changed = true;
        concrete.push(keyFilter === undefined ? destination : Object.freeze({ ...destination, keyFilter }));
        continue;
      }
      const parts = patterns.map((pattern) => this.patternDestination(service!, destination.subset, pattern, group, version));
      if (parts.length === 1 && parts[0]!.keyFilter === undefined && parts[0]!.rewrite === undefined) {
        concrete.push(destination);
        continue;
      }
      changed = true;
      const sum = parts.reduce((total, part) => total + part.weight, 0);
      for (const part of parts) concrete.push(Object.freeze({ ...part, weight: sum > 0 ? (destination.weight * part.weight) / sum : 0 }));
    }
    return changed ? Object.freeze(concrete) : destinations;
  }

  /**
   * The default decision of a call with a wildcard or a group list: one destination per
   * matched pattern of each service that provides the key ({@link patternDestination}),
   * weighted by its endpoints' weights. One plain destination when that is all it takes.
   */
  private wildcardDecision(serviceKey: string, services: readonly MeshService[], iface: string, group: string, version: string): RouteDecision | undefined {
    if (services.length === 0) return undefined;
    const destinations: RouteDestination[] = [];
    for (const service of services) {
      for (const pattern of this.matchedPatterns(service, iface, group, version))
        destinations.push(this.patternDestination(service, undefined, pattern, group, version));
    }
    const only = destinations.length === 1 ? destinations[0]! : undefined;
    if (only !== undefined && only.keyFilter === undefined && only.rewrite === undefined)
      return this.defaultDecision(serviceKey, services[0], iface, group, version);
    return multiKeyDecision(serviceKey, 'default', Object.freeze(destinations), undefined, undefined);
  }

  /** A route's destinations for one call key: the same array when none needs a key filter. */
  private keyedDestinations(destinations: readonly RouteDestination[], iface: string, group: string, version: string): readonly RouteDestination[] {
    if (!destinations.some((d) => this.servicesWithEndpointKeys.has(d.serviceId))) return destinations;
    let changed = false;
    const keyed = destinations.map((destination) => {
      const keyFilter = this.keyFilter(destination.serviceId, iface, group, version);
      if (keyFilter === undefined) return destination;
      changed = true;
      return Object.freeze({ ...destination, keyFilter });
    });
    return changed ? Object.freeze(keyed) : destinations;
  }

  /**
   * The default decision of a key to the one service that provides it (calls with a wildcard
   * or a group list have {@link wildcardDecision}): over all its endpoints, or those that
   * provide the key when its endpoints name their keys.
   */
  private defaultDecision(serviceKey: string, service: MeshService | undefined, iface: string, group: string, version: string): RouteDecision | undefined {
    if (service === undefined) return undefined;
    const keyFilter = this.keyFilter(service.id, iface, group, version);
    const destination: RouteDestination =
      keyFilter === undefined ? { serviceId: service.id, subset: undefined, weight: 1 } : { serviceId: service.id, subset: undefined, weight: 1, keyFilter };
    return Object.freeze({
      kind: 'route',
      serviceKey,
      rule: 'default',
      destinations: [destination],
      totalWeight: 1,
      cumulativeWeights: ONE,
      timeoutMs: undefined,
      retries: undefined,
    });
  }

  private entry(iface: string, group: string, version: string): KeyEntry {
    let byGroup = this.keyCache.get(iface);
    let byVersion = byGroup?.get(group);
    const cached = byVersion?.get(version);
    if (cached !== undefined) return cached;
    const serviceKey = formatServiceKey(iface, group, version);
    const rules = this.rulesFor(iface);
    const entry: KeyEntry = isMultiKey(group, version)
      ? this.multiKeyEntry(serviceKey, rules, iface, group, version)
      : {
          serviceKey,
          byTargetApplication: undefined,
          rules,
          decisions: rules.map((rule) => {
            const destinations = this.keyedDestinations(rule.decision.destinations, iface, group, version);
            return Object.freeze({ kind: 'route' as const, serviceKey, ...rule.decision, destinations });
          }),
          fallback: this.defaultDecision(serviceKey, this.findServices(iface, group, version)[0], iface, group, version),
        };
    if (this.cachedKeys >= CACHE_LIMIT) {
      this.keyCache.clear();
      this.cachedKeys = 0;
      byGroup = undefined;
      byVersion = undefined;
    }
    if (byGroup === undefined) this.keyCache.set(iface, (byGroup = new Map()));
    if (byVersion === undefined) byGroup.set(group, (byVersion = new Map()));
    byVersion.set(version, entry);
    this.cachedKeys += 1;
    return entry;
  }

  /**
   * The entry of a key with a wildcard or a group list: its decisions send each call to one
   * concrete key of one provider ({@link concreteDestinations}, {@link wildcardDecision}).
   */
  private multiKeyEntry(serviceKey: string, rules: readonly CompiledRule[], iface: string, group: string, version: string): KeyEntry {
    return {
      serviceKey,
      byTargetApplication: undefined,
      rules,
      decisions: rules.map(({ decision }) => {
        const destinations = this.concreteDestinations(decision.destinations, iface, group, version);
        return multiKeyDecision(serviceKey, decision.rule, destinations, decision.timeoutMs, decision.retries);
      }),
      fallback: this.wildcardDecision(serviceKey, this.findServices(iface, group, version), iface, group, version),
    };
  }

  /**
   * Route one call: the first rule whose match holds, else the one service that provides the
   * key (over all its endpoints). Undefined when nothing provides it.
   */
  route(peek: RequestPeek): RouteDecision | undefined {
    const group = peek.group;
    let entry: KeyEntry;
    // The same cached head (path, version) and group as the last call: the same entry. (As
    // entryOf, written out: this is every call's path.)
    if (peek.head === this.lastHead && group === this.lastGroup) entry = this.lastEntry!;
    else {
      entry = this.entry(peek.path, group, peek.version === '0.0.0' ? '' : peek.version);
      this.lastHead = peek.head;
      this.lastGroup = group;
      this.lastEntry = entry;
    }
    const rules = entry.rules;
    for (let i = 0; i < rules.length; i++) {
      const matchList = rules[i]!.matches;
      if (matchList.length === 0 || matchList.some((match) => matches(match, peek))) return entry.decisions[i];
    }
    return entry.fallback;
  }

  /**
   * Route one call by the application it names, when {@link routesByTargetApplication}: a
   * `target-application` attachment that is a host of a DubboIngress rule gives the decision to
   * that rule's backend (one decision per host and service key, shared by their calls); one
   * that names no host gives back the name, to be refused; none (absent, empty, not a string)
   * gives undefined, and the call is routed by its service key ({@link route}).
   */
  routeByTargetApplication(peek: RequestPeek): RouteDecision | string | undefined {
    const name = peek.attachment(TARGET_APPLICATION_ATTACHMENT);
    if (typeof name !== 'string' || name === '') return undefined;
    const target = this.targetApplications.get(name);
    if (target === undefined) return name;
    const entry = this.entryOf(peek);
    let decisions = entry.byTargetApplication;
    if (decisions === undefined) entry.byTargetApplication = decisions = new Map();
    let decision = decisions.get(name);
    if (decision === undefined) {
      // Decisions count toward the cache's bound as entries do: a consumer sending ever new
      // service keys with every host cannot grow it past CACHE_LIMIT.
      if (this.cachedKeys >= CACHE_LIMIT) {
        this.keyCache.clear();
        this.cachedKeys = 0;
        this.lastHead = undefined;
        this.lastEntry = undefined;
      }
      this.cachedKeys += 1;
      decision = Object.freeze({
        kind: 'route' as const,
        serviceKey: entry.serviceKey,
        rule: target.rule,
        destinations: target.destinations,
        totalWeight: 1,
        cumulativeWeights: ONE,
        timeoutMs: undefined,
        retries: undefined,
      });
      decisions.set(name, decision);
    }
    return decision;
  }

  /** The entry of a call's service key: the same cached head (path, version) and group as the last call, the same entry. */
  private entryOf(peek: RequestPeek): KeyEntry {
    const group = peek.group;
    if (peek.head === this.lastHead && group === this.lastGroup) return this.lastEntry!;
    const entry = this.entry(peek.path, group, peek.version === '0.0.0' ? '' : peek.version);
    this.lastHead = peek.head;
    this.lastGroup = group;
    this.lastEntry = entry;
    return entry;
  }
}
