import type { DubboPolicyConfig, DubboRouteConfig, MeshConfig, RouteDestination, RouteMatch, RouteRule, ServiceKeyPattern } from '@dubbo-mesh/config';
import {
  ANY_STRING,
  envoyServiceName,
  fieldPath,
  headerMatcher,
  lbMetadata,
  resourceLabel,
  stringMatcher,
  uint32,
  type ProtoObject,
  type Translation,
} from './translate-common.js';

/** The name of the sidecar's outbound Dubbo routes (the MultipleRouteConfiguration and the listener's `drds`). */
export const DUBBO_OUTBOUND = 'dubbo_outbound';

/**
 * Whether dubbo_proxy matches an interface pattern as our proxy does: a name, `*`, or one
 * `*` at the start (a suffix) or the end (a prefix). Envoy's wildcard never matches an empty
 * rest (`org.*` does not match `org.`), which no interface name is.
 */
export function envoyInterfacePattern(host: string): boolean {
  const stars = host.split('*').length - 1;
  return stars === 0 || host === '*' || (stars === 1 && (host.startsWith('*') || host.endsWith('*')));
}

/** The policies of a config by service id (`namespace/service`). */
export function policiesById(config: MeshConfig): Map<string, DubboPolicyConfig> {
  return new Map(config.policies.map((policy) => [`${policy.metadata.namespace}/${policy.service}`, policy]));
}

/** The labels of a destination's subset (undefined: no subset, or one that selects every endpoint). */
export function subsetLabels(
  policies: ReadonlyMap<string, DubboPolicyConfig>,
  namespace: string,
  destination: RouteDestination,
): Readonly<Record<string, string>> | undefined {
  if (destination.subset === undefined) return undefined;
  const labels = policies.get(`${namespace}/${destination.service}`)?.subsets.find((s) => s.name === destination.subset)?.labels;
  return labels === undefined || Object.keys(labels).length === 0 ? undefined : labels;
}

/**
 * The destinations a route's weights can reach: those with a weight; when all weights are 0
 * (the CRD takes it), the first, as our proxy picks it.
 */
export function weightedDestinations(rule: RouteRule): readonly RouteDestination[] {
  const weighted = rule.destinations.filter((d) => d.weight > 0);
  return weighted.length > 0 ? weighted : rule.destinations.slice(0, 1);
}

/** What a route's `match` entry becomes, or the reason it cannot be sent. */
type MatchTranslation = { match: ProtoObject } | { reason: string };

/**
 * One `match` entry as dubbo_proxy's RouteMatch: the method as a StringMatcher (always one:
 * Envoy needs it; none matches any), attachments as `headers` (Envoy reads a call's string
 * attachments as headers, their names in lower case), argument matches as `params_match`
 * (exact only: Envoy's parameter match has exact and integer ranges).
 */
function dubboMatch(match: RouteMatch, path: string): MatchTranslation {
  let method: ProtoObject = ANY_STRING;
  if (match.method !== undefined) {
    const translated = stringMatcher(match.method);
    if ('reason' in translated) return { reason: `${path}.method.regex: ${translated.reason}` };
    method = translated.matcher;
  }
  const headers: ProtoObject[] = [];
  for (const [name, rule] of Object.entries(match.attachments ?? {})) {
    const translated = headerMatcher(name.toLowerCase(), rule);
    if ('reason' in translated) return { reason: `${path}.attachments.${name}.regex: ${translated.reason}` };
    headers.push(translated.header);
  }
  const params: Record<string, ProtoObject> = {};
  for (const [i, argument] of (match.arguments ?? []).entries()) {
    const argumentPath = fieldPath(path, 'arguments', i);
    if (!('exact' in argument.match)) {
      return {
        reason: `${argumentPath}: dubbo_proxy matches an argument exactly or by an integer range, not by ${'prefix' in argument.match ? 'prefix' : 'regex'}`,
      };
    }
    if (argument.match.exact === '') return { reason: `${argumentPath}.exact: '': dubbo_proxy takes an empty exact value as "any value"` };
    if (params[argument.index] !== undefined && (params[argument.index] as { exact_match: string }).exact_match !== argument.match.exact) {
      return { reason: `${argumentPath}: two values for argument ${argument.index} never match` };
    }
    params[argument.index] = { exact_match: argument.match.exact };
  }
  const methodMatch: ProtoObject = { name: method };
  if (Object.keys(params).length > 0) methodMatch.params_match = params;
  return { match: headers.length > 0 ? { method: methodMatch, headers } : { method: methodMatch } };
}

/**
 * A rule's destinations as a dubbo_proxy RouteAction: one cluster, or weighted clusters; a
 * subset as `metadata_match` on `envoy.lb` (the cluster's `lb_subset_config` has a selector
 * for its label keys).
 */
function dubboAction(rule: RouteRule, namespace: string, policies: ReadonlyMap<string, DubboPolicyConfig>): ProtoObject {
  const destinations = weightedDestinations(rule);
  if (destinations.length === 1) {
    const only = destinations[0]!;
    const labels = subsetLabels(policies, namespace, only);
    const action: ProtoObject = { cluster: envoyServiceName(namespace, only.service) };
    if (labels !== undefined) action.metadata_match = lbMetadata(labels);
    return action;
  }
  return {
    weighted_clusters: {
      clusters: destinations.map((destination) => {
        const labels = subsetLabels(policies, namespace, destination);
        const weight: ProtoObject = { name: envoyServiceName(namespace, destination.service), weight: uint32(destination.weight) };
        if (labels !== undefined) weight.metadata_match = lbMetadata(labels);
        return weight;
      }),
    },
  };
}

/** The dubbo_proxy Routes of one DubboRoute's rules (one per `match` entry: any may hold), with what could not be sent. */
function dubboRules(route: DubboRouteConfig, policies: ReadonlyMap<string, DubboPolicyConfig>, untranslated: string[] | undefined): ProtoObject[] {
  const label = resourceLabel('DubboRoute', route.metadata);
  const routes: ProtoObject[] = [];
  route.routes.forEach((rule, i) => {
    const path = fieldPath('spec', 'routes', i);
    const action = dubboAction(rule, route.metadata.namespace, policies);
    if (rule.retries !== undefined) untranslated?.push(`${label}: ${path}.retries: dubbo_proxy has no retries; Envoy sends each call once`);
    if (rule.timeoutMs !== undefined) untranslated?.push(`${label}: ${path}.timeout: dubbo_proxy has no route timeout; Envoy waits for the provider`);
    // route_matcher.cc compares a parameter through hessian2's toString(), which only a String
    // argument has: the match is sent (String arguments hold as in dubbo-mesh), and reported.
    if (rule.match.some((match) => (match.arguments ?? []).length > 0)) {
      untranslated?.push(
        `${label}: ${path}.match[].arguments: dubbo_proxy compares String arguments only: a match on a number or boolean argument never holds in Envoy`,
      );
    }
    if (rule.match.length === 0) {
      routes.push({ match: { method: { name: ANY_STRING } }, route: action });
      return;
    }
    rule.match.forEach((match, j) => {
      const translated = dubboMatch(match, fieldPath(path, 'match', j));
      if ('reason' in translated) {
        untranslated?.push(`${label}: ${translated.reason}; this match entry is not sent (Envoy's calls it would take go to the next rule)`);
        return;
      }
      routes.push({ match: translated.match, route: action });
    });
  });
  return routes;
}

/** How specific a pattern is (as our proxy ranks them): group and version, then the group, then the version, then neither. */
function specificity(pattern: ServiceKeyPattern): number {
  return (pattern.group === undefined ? 0 : 2) + (pattern.version === undefined ? 0 : 1);
}

/**
 * The outbound Dubbo routes of an Envoy sidecar: one MultipleRouteConfiguration whose
 * RouteConfigurations Envoy tries in order (the first whose interface, group and version
 * hold and one of whose routes matches), laid out so that Envoy's first match is our
 * proxy's choice:
 * 1. the DubboRoutes' exact hosts, in config order (our proxy: exact hosts' rules first);
 * 2. their wildcard hosts (`*`, `prefix*`, `*suffix`), in config order; other patterns are
 *    reported and not sent;
 * 3. the service-key mappings (no rule matched: the providing service), most specific first
 *    (group and version, group, version, interface only), then in service order, each with
 *    one route that takes any method. Envoy's empty group or version is "any": a pattern's
 *    explicit empty group or version ("none") cannot be told from "any" and is reported.
 * Rule retries and timeouts are reported (dubbo_proxy has neither).
 */
export function dubboRoutes(config: MeshConfig, policies: ReadonlyMap<string, DubboPolicyConfig>): Translation<ProtoObject> {
  const untranslated: string[] = [];
  const routeConfigs: ProtoObject[] = [];
  const rulesOf = new Map<DubboRouteConfig, ProtoObject[]>();
  const rules = (route: DubboRouteConfig) => {
    let routes = rulesOf.get(route);
    // Each route's lines once, whatever number of hosts it has.
    if (routes === undefined) rulesOf.set(route, (routes = dubboRules(route, policies, untranslated)));
    return routes;
  };
  for (const route of config.routes) {
    route.hosts.forEach((host) => {
      if (host.includes('*')) return;
      const routes = rules(route);
      if (routes.length > 0) routeConfigs.push({ name: `${route.metadata.namespace}/${route.metadata.name} ${host}`, interface: host, routes });
    });
  }
  for (const route of config.routes) {
    route.hosts.forEach((host, i) => {
      if (!host.includes('*')) return;
      if (!envoyInterfacePattern(host)) {
        untranslated.push(
          `${resourceLabel('DubboRoute', route.metadata)}: ${fieldPath('spec', 'hosts', i)}: '${host}': dubbo_proxy matches an interface by name, '*', or one '*' at its start or end; this host's rules are not sent`,
        );
        return;
      }
      const routes = rules(route);
      if (routes.length > 0) routeConfigs.push({ name: `${route.metadata.namespace}/${route.metadata.name} ${host}`, interface: host, routes });
    });
  }
  const mappings: Array<{ pattern: ServiceKeyPattern; cluster: string; score: number }> = [];
  for (const service of config.services) {
    const cluster = envoyServiceName(service.metadata.namespace, service.metadata.name);
    service.interfaces.forEach((pattern, i) => {
      const label = resourceLabel('DubboService', service.metadata);
      if (pattern.group === '')
        untranslated.push(`${label}: ${fieldPath('spec', 'interfaces', i)}.group: '' (no group): dubbo_proxy reads an empty group as any group`);
      if (pattern.version === '')
        untranslated.push(`${label}: ${fieldPath('spec', 'interfaces', i)}.version: '' (no version): dubbo_proxy reads an empty version as any version`);
      mappings.push({ pattern, cluster, score: specificity(pattern) });
    });
  }
  // A stable sort: equal scores keep the services' order, as our proxy's first-found.
  mappings.sort((a, b) => b.score - a.score);
  for (const { pattern, cluster } of mappings) {
    routeConfigs.push({
      name: `${cluster} ${pattern.group ?? '*'}/${pattern.interface}:${pattern.version ?? '*'}`,
      interface: pattern.interface,
      group: pattern.group ?? '',
      version: pattern.version ?? '',
      routes: [{ match: { method: { name: ANY_STRING } }, route: { cluster } }],
    });
  }
  return { value: { name: DUBBO_OUTBOUND, route_config: routeConfigs }, untranslated };
}
