import {
  DEFAULT_RETRY_POLICY,
  type DubboPolicyConfig,
  type DubboRouteConfig,
  type DubboServiceConfig,
  type RouteMatch,
  type RouteRule,
} from '@dubbo-mesh/config';
import { FILTER_TYPE_URLS } from './envoy-protos.js';
import {
  ADS_CONFIG_SOURCE,
  duration,
  envoyServiceName,
  envoySubsetName,
  escapeRegex,
  fieldPath,
  headerMatcher,
  re2Refusal,
  resourceLabel,
  translateRegex,
  uint32,
  type ProtoObject,
  type Translation,
} from './translate-common.js';
import { subsetLabels, weightedDestinations } from './translate-dubbo-routes.js';

/** The name Envoy and gRPC know the HTTP router filter by. */
export const HTTP_ROUTER_FILTER = 'envoy.filters.http.router';

/** gRPC caps a call's attempts at 5 (A6): 4 retries at most. */
const GRPC_MAX_RETRIES = 4;

/**
 * The Listener a proxyless gRPC client asks for when it dials `xds:///name.namespace`: an API
 * listener whose HttpConnectionManager fetches the RouteConfiguration of the same name over
 * ADS, the router its one (and last) HTTP filter.
 */
export function proxylessListener(name: string): ProtoObject {
  return {
    name,
    api_listener: {
      api_listener: {
        '@type': FILTER_TYPE_URLS.httpConnectionManager,
        stat_prefix: name,
        rds: { config_source: ADS_CONFIG_SOURCE, route_config_name: name },
        http_filters: [{ name: HTTP_ROUTER_FILTER, typed_config: { '@type': FILTER_TYPE_URLS.httpRouter } }],
      },
    },
  };
}

/**
 * The DubboRoutes by the interfaces they apply to, as our proxy orders them: for an interface,
 * the routes naming it exactly (config order), then those whose wildcard host matches it
 * (config order). A gRPC route names its interface in the path, so any wildcard works here.
 */
export class RouteIndex {
  private readonly exact = new Map<string, DubboRouteConfig[]>();
  private readonly wildcards: Array<{ pattern: RegExp; route: DubboRouteConfig }> = [];

  constructor(routes: readonly DubboRouteConfig[]) {
    for (const route of routes) {
      for (const host of route.hosts) {
        if (!host.includes('*')) {
          const list = this.exact.get(host) ?? [];
          list.push(route);
          this.exact.set(host, list);
        } else {
          this.wildcards.push({ pattern: new RegExp(`^${host.split('*').map(escapeRegex).join('.*')}$`), route });
        }
      }
    }
  }

  /** The routes of one interface, in the order their rules are tried. */
  routesFor(iface: string): DubboRouteConfig[] {
    const routes = [...(this.exact.get(iface) ?? [])];
    for (const wildcard of this.wildcards) if (wildcard.pattern.test(iface)) routes.push(wildcard.route);
    return routes;
  }
}

/** The path match of a method of an interface (gRPC calls `/<interface>/<method>`), or why it cannot be sent. */
function pathMatch(iface: string, match: RouteMatch['method']): { match: ProtoObject } | { reason: string } {
  if (match === undefined) return { match: { prefix: `/${iface}/` } };
  if ('exact' in match) return { match: { path: `/${iface}/${match.exact}` } };
  if ('prefix' in match) return { match: { prefix: `/${iface}/${match.prefix}` } };
  const method = translateRegex(match.regex, '[^/]*');
  if ('reason' in method) return method;
  const regex = `/${escapeRegex(iface)}/${method.regex}`;
  // The interface's name is in it too: the whole is what gRPC compiles.
  const refusal = re2Refusal(regex);
  return refusal === undefined ? { match: { safe_regex: { regex } } } : { reason: `RE2 cannot compile it: ${refusal}` };
}

/** What a rule's destinations, timeout and retries become for gRPC, with what could not be sent. */
function grpcAction(
  rule: RouteRule,
  namespace: string,
  policies: ReadonlyMap<string, DubboPolicyConfig>,
  path: string,
  untranslated: string[],
  label: string,
): ProtoObject {
  const destinations = weightedDestinations(rule);
  const clusterOf = (service: string, subset: string | undefined) => {
    const name = envoyServiceName(namespace, service);
    return subset !== undefined && subsetLabels(policies, namespace, { service, subset, weight: 1 }) !== undefined ? envoySubsetName(name, subset) : name;
  };
  const action: ProtoObject =
    destinations.length === 1
      ? { cluster: clusterOf(destinations[0]!.service, destinations[0]!.subset) }
      : { weighted_clusters: { clusters: destinations.map((d) => ({ name: clusterOf(d.service, d.subset), weight: uint32(d.weight) })) } };
  const hashPolicy = hashPolicies(destinations.map((d) => policies.get(`${namespace}/${d.service}`)));
  if (hashPolicy.length > 0) action.hash_policy = hashPolicy;
  if (rule.timeoutMs !== undefined) action.max_stream_duration = { max_stream_duration: duration(rule.timeoutMs) };
  const retry = retryPolicy(rule, path, untranslated, label);
  if (retry !== undefined) action.retry_policy = retry;
  return action;
}

/** Header hash policies for destinations whose service hashes on an attachment (their clusters are RING_HASH). */
function hashPolicies(policies: ReadonlyArray<DubboPolicyConfig | undefined>): ProtoObject[] {
  const headers = new Set<string>();
  for (const policy of policies) {
    const hash = policy?.loadBalancer.policy === 'consistent-hash' ? policy.loadBalancer.hash : undefined;
    if (hash !== undefined && 'attachment' in hash) headers.add(hash.attachment.toLowerCase());
  }
  return [...headers].map((header_name) => ({ header: { header_name } }));
}

/**
 * A route's retries as gRPC's retry policy (our proxy's default when the rule sets none):
 * `connect-failure` and `unavailable` are gRPC's UNAVAILABLE; `timeout` cannot be retried
 * (gRPC's deadline covers every attempt) and is reported, as are more retries than gRPC makes.
 */
function retryPolicy(rule: RouteRule | undefined, path: string | undefined, untranslated: string[], label: string | undefined): ProtoObject | undefined {
  const retries = rule?.retries ?? DEFAULT_RETRY_POLICY;
  if (retries.attempts === 0) return undefined;
  if (rule?.retries !== undefined && label !== undefined && path !== undefined) {
    if (retries.retryOn.includes('timeout'))
      untranslated.push(`${label}: ${path}.retries.retryOn: timeout: a gRPC deadline covers every attempt; a call that timed out is not retried`);
    if (retries.attempts > GRPC_MAX_RETRIES)
      untranslated.push(`${label}: ${path}.retries.attempts: ${retries.attempts}: gRPC makes ${GRPC_MAX_RETRIES} retries at most`);
  }
  if (!retries.retryOn.some((on) => on === 'connect-failure' || on === 'unavailable')) return undefined;
  return { retry_on: 'unavailable', num_retries: uint32(Math.min(retries.attempts, GRPC_MAX_RETRIES)) };
}

/** One `match` entry as a gRPC route match on an interface, or the reason it cannot be. */
function grpcMatch(iface: string, match: RouteMatch, path: string): { match: ProtoObject } | { reason: string } {
  if ((match.arguments ?? []).length > 0) return { reason: `${path}.arguments: a gRPC route cannot match arguments (they are in the message)` };
  const methodMatch = pathMatch(iface, match.method);
  if ('reason' in methodMatch) return { reason: `${path}.method.regex: ${methodMatch.reason}` };
  const routeMatch = methodMatch.match;
  const headers: ProtoObject[] = [];
  for (const [name, rule] of Object.entries(match.attachments ?? {})) {
    const translated = headerMatcher(name.toLowerCase(), rule);
    if ('reason' in translated) return { reason: `${path}.attachments.${name}.regex: ${translated.reason}` };
    headers.push(translated.header);
  }
  if (headers.length > 0) routeMatch.headers = headers;
  return { match: routeMatch };
}

/** The DubboRoutes that apply to a service's interfaces, in the order {@link proxylessRouteConfiguration} reads them. */
export function appliedRoutes(service: DubboServiceConfig, index: RouteIndex): DubboRouteConfig[] {
  const routes: DubboRouteConfig[] = [];
  for (const iface of new Set(service.interfaces.map((pattern) => pattern.interface))) for (const route of index.routesFor(iface)) routes.push(route);
  return routes;
}

/**
 * The services (`namespace/name`) whose DubboPolicy a service's RouteConfiguration reads
 * (subsets, the attachment a consistent hash uses): its own and its routes' destinations'.
 */
export function routeDependencies(service: DubboServiceConfig, routes: readonly DubboRouteConfig[]): string[] {
  const ids = new Set([`${service.metadata.namespace}/${service.metadata.name}`]);
  for (const route of routes) for (const rule of route.routes) for (const d of rule.destinations) ids.add(`${route.metadata.namespace}/${d.service}`);
  return [...ids];
}

/**
 * The RouteConfiguration of a mesh service for proxyless clients (`name.namespace`, one
 * virtual host of that domain): for each interface of the service, the DubboRoute rules that
 * apply to it as our proxy orders them (a path prefix `/<interface>/`, the method in the path,
 * attachments as headers, destinations as clusters — a subset is a cluster of its own —
 * weighted, the timeout as `max_stream_duration`, retries as gRPC's), then a default route
 * (any path) to the service's cluster. Argument matches and regexes RE2 cannot take are
 * reported, their match entry not sent.
 */
export function proxylessRouteConfiguration(
  service: DubboServiceConfig,
  index: RouteIndex,
  policies: ReadonlyMap<string, DubboPolicyConfig>,
): Translation<ProtoObject> {
  const name = envoyServiceName(service.metadata.namespace, service.metadata.name);
  const untranslated: string[] = [];
  const routes: ProtoObject[] = [];
  const interfaces = [...new Set(service.interfaces.map((pattern) => pattern.interface))];
  for (const iface of interfaces) {
    for (const route of index.routesFor(iface)) {
      const label = resourceLabel('DubboRoute', route.metadata);
      route.routes.forEach((rule, i) => {
        const path = fieldPath('spec', 'routes', i);
        const action = grpcAction(rule, route.metadata.namespace, policies, path, untranslated, label);
        const entries: readonly RouteMatch[] = rule.match.length === 0 ? [{}] : rule.match;
        entries.forEach((entry, j) => {
          const translated = grpcMatch(iface, entry, fieldPath(path, 'match', j));
          if ('reason' in translated) {
            untranslated.push(`${label}: ${translated.reason}; this match entry is not sent to gRPC clients (their calls go to the next rule)`);
            return;
          }
          routes.push({ name: `${route.metadata.namespace}/${route.metadata.name}/${rule.name}`, match: translated.match, route: action });
        });
      });
    }
  }
  const fallback: ProtoObject = { cluster: name };
  const hash = hashPolicies([policies.get(`${service.metadata.namespace}/${service.metadata.name}`)]);
  if (hash.length > 0) fallback.hash_policy = hash;
  const retry = retryPolicy(undefined, undefined, untranslated, undefined);
  if (retry !== undefined) fallback.retry_policy = retry;
  routes.push({ name: 'default', match: { prefix: '/' }, route: fallback });
  return { value: { name, virtual_hosts: [{ name, domains: [name], routes }] }, untranslated };
}
