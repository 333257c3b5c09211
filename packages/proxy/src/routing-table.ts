import type {
  DubboPolicyConfig,
  DubboServiceConfig,
  EndpointConfig,
  MeshConfig,
  RetryPolicy,
  RouteMatch,
  ServiceKeyPattern,
  StringMatch,
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
   * The service's own patterns that the call's key matches. An endpoint's patterns are
   * patterns of its service (the schema checks it), so an endpoint provides the key exactly
   * when it names one of these; and calls whose keys match the same patterns share a cluster
   * (a consumer sending ever new groups or versions makes no new clusters).
   */
  readonly patterns: readonly ServiceKeyPattern[];
  /** The patterns as service keys (`*` for an absent group or version), for cluster names. */
  readonly name: string;
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

function hostPattern(host: string): RegExp | string {
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
      const score = (candidate.group === undefined ? 0 : 2) + (candidate.version === undefined ? 0 : 1);
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
   * The default decision of a key: to the one service that provides it (built as it always
   * was: a service without per-endpoint keys gets the same plain destination); to each of
   * several (a wildcard call), weighted by how many of its endpoints provide the key.
   */
  private defaultDecision(serviceKey: string, services: readonly MeshService[], iface: string, group: string, version: string): RouteDecision | undefined {
    if (services.length === 0) return undefined;
    const destinations = services.map((service): RouteDestination => {
      const keyFilter = this.keyFilter(service.id, iface, group, version);
      const endpoints = service.config.endpoints;
      if (keyFilter === undefined) return { serviceId: service.id, subset: undefined, weight: services.length === 1 ? 1 : endpoints.length };
      const weight = services.length === 1 ? 1 : endpoints.filter((endpoint) => endpointProvides(endpoint, keyFilter)).length;
      return { serviceId: service.id, subset: undefined, weight, keyFilter };
    });
    const sums = destinations.length === 1 ? [1] : cumulativeWeights(destinations);
    return Object.freeze({
      kind: 'route',
      serviceKey,
      rule: 'default',
      destinations,
      totalWeight: sums[sums.length - 1]!,
      cumulativeWeights: sums,
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
    const entry: KeyEntry = {
      serviceKey,
      byTargetApplication: undefined,
      rules,
      decisions: rules.map((rule) => {
        const destinations = this.keyedDestinations(rule.decision.destinations, iface, group, version);
        return Object.freeze({ kind: 'route' as const, serviceKey, ...rule.decision, destinations });
      }),
      fallback: this.defaultDecision(serviceKey, this.findServices(iface, group, version), iface, group, version),
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
