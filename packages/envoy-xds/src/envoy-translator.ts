import { DEFAULT_RETRY_POLICY, type DubboPolicyConfig, type DubboRouteConfig, type DubboServiceConfig, type MeshConfig } from '@dubbo-mesh/config';
import type { Snapshot } from '@dubbo-mesh/control-plane';
import { resourceKey } from '@dubbo-mesh/discovery';
import { nodeShapeKey, type EnvoyNode } from './envoy-node.js';
import { TYPE_URLS, decodeAny } from './envoy-protos.js';
import type { EnvoyNodeResources, EnvoyResource, EnvoyTypeResources } from './envoy-resources.js';
import { sidecarCluster, proxylessCluster } from './translate-clusters.js';
import {
  GenerationalCache,
  cachedResource,
  digest,
  envoyServiceName,
  envoySubsetName,
  resourceLabel,
  typeResources,
  type CachedResource,
} from './translate-common.js';
import { DUBBO_OUTBOUND, dubboRoutes, policiesById } from './translate-dubbo-routes.js';
import { clusterLoadAssignment } from './translate-endpoints.js';
import { sidecarListeners } from './translate-listeners.js';
import { RouteIndex, appliedRoutes, proxylessListener, proxylessRouteConfiguration, routeDependencies } from './translate-proxyless.js';

/** What the mesh has that no Envoy or gRPC client applies: one line per resource. */
function ignoredResources(config: MeshConfig, who: string): string[] {
  return [
    ...config.rules.map(
      (rule) => `${resourceLabel('DubboRule', rule.metadata)}: Dubbo governance rules are applied by dubbo-mesh proxies only; ${who} ignores it`,
    ),
    ...config.plugins.map((plugin) => `${resourceLabel('DubboPlugin', plugin.metadata)}: plugins run in dubbo-mesh proxies only; ${who} ignores it`),
    ...config.ingresses.map(
      (ingress) =>
        `${resourceLabel('DubboIngress', ingress.metadata)}: routes by target application are applied by dubbo-mesh proxies and gateways only; ${who} ignores it`,
    ),
  ];
}

/** Lines of several parts, each once, in order. */
function lines(...parts: ReadonlyArray<readonly string[]>): readonly string[] {
  const out = new Set<string>();
  for (const part of parts) if (part.length > 0) for (const line of part) out.add(line);
  return Object.freeze([...out]);
}

/** A service's interfaces as text, made once per validated service: the dubbo routes' key. */
const interfacesText = new WeakMap<DubboServiceConfig, string>();
function interfacesOf(service: DubboServiceConfig): string {
  let text = interfacesText.get(service);
  if (text === undefined)
    interfacesText.set(service, (text = `${service.metadata.namespace}/${service.metadata.name} ${JSON.stringify(service.interfaces)}\n`));
  return text;
}

/**
 * What a sidecar's calls lose whatever the config: our proxy retries a routed call by default,
 * dubbo_proxy never does (it has no retries).
 */
const DEFAULT_RETRIES_LINE = `DubboRoute (every route without retries): spec.routes[].retries: dubbo-mesh proxies retry a call ${DEFAULT_RETRY_POLICY.attempts} times on ${DEFAULT_RETRY_POLICY.retryOn.join(' or ')} by default; dubbo_proxy has no retries and sends each call once`;

/** What of a policy the sidecar's Dubbo routes and the load assignments read (its subsets), made once per validated policy. */
const subsetsTexts = new WeakMap<DubboPolicyConfig, string>();
function subsetsText(policy: DubboPolicyConfig | undefined): string {
  if (policy === undefined) return '';
  let text = subsetsTexts.get(policy);
  if (text === undefined) subsetsTexts.set(policy, (text = `${policy.metadata.namespace}/${policy.service} ${JSON.stringify(policy.subsets)}\n`));
  return text;
}

/** What of a policy a proxyless RouteConfiguration reads (subsets, the balancer: a hash on an attachment), once per validated policy. */
const routingText = new WeakMap<DubboPolicyConfig, string>();
function routingOf(policy: DubboPolicyConfig | undefined): string {
  if (policy === undefined) return '-';
  let text = routingText.get(policy);
  if (text === undefined) routingText.set(policy, (text = JSON.stringify([policy.subsets, policy.loadBalancer])));
  return text;
}

/**
 * Versions of a snapshot's resources, as cache keys: a resource's version is a digest of its
 * content, so an unchanged service or policy keeps its key from one snapshot to the next.
 */
class InputVersions {
  constructor(private readonly snapshot: Snapshot) {}

  service(service: DubboServiceConfig): string {
    return this.version('DubboService', service);
  }

  policy(policy: DubboPolicyConfig | undefined): string {
    return policy === undefined ? '-' : this.version('DubboPolicy', policy);
  }

  route(route: DubboRouteConfig): string {
    return this.version('DubboRoute', route);
  }

  private version(kind: string, resource: DubboServiceConfig | DubboPolicyConfig | DubboRouteConfig): string {
    const { namespace, name } = resource.metadata;
    return this.snapshot.versions.get(resourceKey({ kind, namespace, name })) ?? JSON.stringify(resource);
  }

  type(type: string): string {
    return this.snapshot.typeVersion(type) ?? '-';
  }
}

/** What every Envoy sidecar gets from one snapshot, whatever its listeners. */
interface SidecarShared {
  readonly dubboRoutes: EnvoyTypeResources;
  readonly clusters: readonly EnvoyResource[];
  readonly clusterType: EnvoyTypeResources;
  readonly endpoints: EnvoyTypeResources;
  readonly untranslated: readonly string[];
}

/** What one service gave a sidecar, kept by its `namespace/name` for the next snapshot: what its inputs still are keeps its resources. */
interface SidecarServiceEntry {
  readonly service: DubboServiceConfig;
  readonly policy: DubboPolicyConfig | undefined;
  readonly cluster: CachedResource;
  readonly endpoints: CachedResource;
}

/** What one service gave proxyless clients, kept by its `namespace/name` for the next snapshot. */
interface ProxylessServiceEntry {
  readonly service: DubboServiceConfig;
  readonly policy: DubboPolicyConfig | undefined;
  /** The DubboRoutes' type version it was made with: an equal one, the same routes apply. */
  readonly routeTypeVersion: string;
  /** What its RouteConfiguration was made from: the routes that apply (the same objects), the services whose policies it reads. */
  readonly applied: readonly DubboRouteConfig[];
  readonly dependsOn: readonly string[];
  readonly routesKey: string;
  readonly listener: CachedResource;
  readonly routes: CachedResource;
  readonly clusters: readonly CachedResource[];
  readonly endpoints: readonly CachedResource[];
}

/** Whether two lists hold the same objects in the same order. */
function sameObjects<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A resource of a list by its name. */
function byName(list: readonly CachedResource[] | undefined, name: string): CachedResource | undefined {
  return list?.find((c) => c.resource.name === name);
}

/** The last type resources a builder made, so an unchanged type keeps its object. */
type LastTypes = Map<string, EnvoyTypeResources>;

function keepType(last: LastTypes, typeUrl: string, resources: readonly EnvoyResource[]): EnvoyTypeResources {
  const made = typeResources(typeUrl, resources, last.get(typeUrl));
  last.set(typeUrl, made);
  return made;
}

/**
 * Translates the control plane's snapshots into Envoy's xDS v3 resources, for Envoy sidecars
 * (dubbo_proxy) and proxyless gRPC clients (see the `translate-*.ts` files for what maps to
 * what). Everything is cached: one result per snapshot and node shape (weakly by snapshot),
 * the parts every node of a kind shares once per snapshot, and each encoded resource across
 * snapshots by the versions of its inputs (then by its content), so one endpoint change in
 * ten thousand services encodes one ClusterLoadAssignment again and nothing else.
 */
export class EnvoyTranslator {
  private readonly results = new WeakMap<Snapshot, Map<string, EnvoyNodeResources>>();
  private readonly sidecarShared = new WeakMap<Snapshot, SidecarShared>();
  private readonly sidecarCache = new GenerationalCache<CachedResource>();
  private readonly sidecarTypes: LastTypes = new Map();
  private readonly proxylessCache = new GenerationalCache<CachedResource>();
  private readonly proxylessTypes: LastTypes = new Map();
  private readonly listenerCache = new GenerationalCache<CachedResource>();
  // The last snapshot's entries by service (`namespace/name`). Sources hand the same validated
  // objects for unchanged resources: an unchanged service costs one lookup and two identity
  // checks per snapshot; a changed one gets its last entry as `previous`, so what it did not
  // change (its cluster, for new endpoints) is neither built nor encoded again.
  private sidecarById = new Map<string, SidecarServiceEntry>();
  private proxylessById = new Map<string, ProxylessServiceEntry>();
  /** The policies of the snapshot `proxylessById` was made from: what changed since is what entries are checked against. */
  private proxylessPolicies = new Map<string, DubboPolicyConfig>();

  /** Resources built (their inputs changed) and encoded (their content changed) so far, over every snapshot: what translations cost. */
  get work(): { readonly built: number; readonly encoded: number } {
    const caches = [this.sidecarCache, this.proxylessCache, this.listenerCache];
    return { built: caches.reduce((n, c) => n + c.built, 0), encoded: caches.reduce((n, c) => n + c.encoded, 0) };
  }

  /** Same snapshot and same node shape (kind, outbound, inbound): the same object. */
  resourcesFor(snapshot: Snapshot, node: EnvoyNode): EnvoyNodeResources {
    let byShape = this.results.get(snapshot);
    if (byShape === undefined) this.results.set(snapshot, (byShape = new Map()));
    const shape = nodeShapeKey(node);
    let result = byShape.get(shape);
    if (result === undefined) {
      result = node.kind === 'proxyless' ? this.proxyless(snapshot) : this.sidecar(snapshot, node);
      byShape.set(shape, result);
    }
    return result;
  }

  /** Clusters, load assignments and Dubbo routes: what every sidecar gets from a snapshot. */
  private shared(snapshot: Snapshot): SidecarShared {
    const found = this.sidecarShared.get(snapshot);
    if (found !== undefined) return found;
    const cache = this.sidecarCache;
    cache.rotate();
    this.listenerCache.rotate();
    const config = snapshot.config;
    const versions = new InputVersions(snapshot);
    const policies = policiesById(config);
    const clusters: CachedResource[] = [];
    const endpoints: CachedResource[] = [];
    const last = this.sidecarById;
    const byId = new Map<string, SidecarServiceEntry>();
    for (const service of config.services) {
      const id = `${service.metadata.namespace}/${service.metadata.name}`;
      const policy = policies.get(id);
      let entry = last.get(id);
      if (entry === undefined || entry.service !== service || entry.policy !== policy) {
        const previous = entry;
        const name = envoyServiceName(service.metadata.namespace, service.metadata.name);
        entry = {
          service,
          policy,
          // The same policy: the same cluster (it depends on nothing else).
          cluster:
            previous !== undefined && previous.policy === policy
              ? previous.cluster
              : cachedResource(
                  cache,
                  `cluster ${name} ${versions.policy(policy)}`,
                  TYPE_URLS.cluster,
                  name,
                  () => sidecarCluster(name, policy),
                  previous?.cluster,
                ),
          // The same service (only its policy changed): the same endpoints.
          endpoints:
            previous !== undefined && previous.service === service
              ? previous.endpoints
              : cachedResource(
                  cache,
                  `cla ${name} ${versions.service(service)}`,
                  TYPE_URLS.clusterLoadAssignment,
                  name,
                  () => clusterLoadAssignment(name, service),
                  previous?.endpoints,
                ),
        };
      }
      byId.set(id, entry);
      clusters.push(entry.cluster);
      endpoints.push(entry.endpoints);
    }
    this.sidecarById = byId;
    // The routes depend on the routes, the policies' subsets and the services' keys, not on their endpoints.
    const keys = digest(config.services.map(interfacesOf).join(''));
    const subsets = digest(config.policies.map(subsetsText).join(''));
    const routesKey = `routes ${versions.type('DubboRoute')} ${subsets} ${keys}`;
    const routes = cachedResource(cache, routesKey, TYPE_URLS.dubboRoutes, DUBBO_OUTBOUND, () => dubboRoutes(config, policies));
    const shared: SidecarShared = Object.freeze({
      dubboRoutes: keepType(this.sidecarTypes, TYPE_URLS.dubboRoutes, [routes.resource]),
      clusters: Object.freeze(clusters.map((c) => c.resource)),
      clusterType: keepType(
        this.sidecarTypes,
        TYPE_URLS.cluster,
        clusters.map((c) => c.resource),
      ),
      endpoints: keepType(
        this.sidecarTypes,
        TYPE_URLS.clusterLoadAssignment,
        endpoints.map((c) => c.resource),
      ),
      untranslated: lines(
        routes.untranslated,
        ...clusters.map((c) => c.untranslated),
        ...endpoints.map((c) => c.untranslated),
        ignoredResources(config, 'Envoy'),
        [DEFAULT_RETRIES_LINE],
      ),
    });
    this.sidecarShared.set(snapshot, shared);
    return shared;
  }

  private sidecar(snapshot: Snapshot, node: EnvoyNode): EnvoyNodeResources {
    const shared = this.shared(snapshot);
    const shape = nodeShapeKey(node);
    const made = sidecarListeners(node);
    const listeners = made.listeners.map(
      (listener) =>
        cachedResource(this.listenerCache, `listener ${shape} ${String(listener.name)}`, TYPE_URLS.listener, String(listener.name), () => ({
          value: listener,
          untranslated: [],
        })).resource,
    );
    let clusterType = shared.clusterType;
    if (made.inboundCluster !== undefined) {
      const inbound = cachedResource(this.listenerCache, `inbound cluster ${shape}`, TYPE_URLS.cluster, String(made.inboundCluster.name), () => ({
        value: made.inboundCluster!,
        untranslated: [],
      })).resource;
      clusterType = typeResources(TYPE_URLS.cluster, [...shared.clusters, inbound]);
    }
    return Object.freeze({
      snapshotVersion: snapshot.version,
      types: new Map([
        [TYPE_URLS.listener, typeResources(TYPE_URLS.listener, listeners)],
        [TYPE_URLS.dubboRoutes, shared.dubboRoutes],
        [TYPE_URLS.cluster, clusterType],
        [TYPE_URLS.clusterLoadAssignment, shared.endpoints],
      ]),
      untranslated: lines(made.untranslated, shared.untranslated),
    });
  }

  /** What every proxyless client gets from a snapshot: each mesh service's listener, routes, cluster(s) and endpoints. */
  private proxyless(snapshot: Snapshot): EnvoyNodeResources {
    const cache = this.proxylessCache;
    cache.rotate();
    const config = snapshot.config;
    const versions = new InputVersions(snapshot);
    const policies = policiesById(config);
    let index: RouteIndex | undefined;
    const routeTypeVersion = versions.type('DubboRoute');
    // The services whose policy is not the last snapshot's (usually none, or one).
    const changedPolicies = new Set<string>();
    for (const [id, policy] of policies) if (this.proxylessPolicies.get(id) !== policy) changedPolicies.add(id);
    for (const id of this.proxylessPolicies.keys()) if (!policies.has(id)) changedPolicies.add(id);
    const listeners: CachedResource[] = [];
    const routes: CachedResource[] = [];
    const clusters: CachedResource[] = [];
    const endpoints: CachedResource[] = [];
    const last = this.proxylessById;
    const byId = new Map<string, ProxylessServiceEntry>();
    for (const service of config.services) {
      const id = `${service.metadata.namespace}/${service.metadata.name}`;
      const policy = policies.get(id);
      let entry = last.get(id);
      if (
        entry === undefined ||
        entry.service !== service ||
        entry.policy !== policy ||
        entry.routeTypeVersion !== routeTypeVersion ||
        (changedPolicies.size > 0 && entry.dependsOn.some((dependency) => changedPolicies.has(dependency)))
      ) {
        entry = this.proxylessService(cache, versions, routeTypeVersion, service, policy, () => (index ??= new RouteIndex(config.routes)), policies, entry);
      }
      byId.set(id, entry);
      listeners.push(entry.listener);
      routes.push(entry.routes);
      for (const cluster of entry.clusters) clusters.push(cluster);
      for (const assignment of entry.endpoints) endpoints.push(assignment);
    }
    this.proxylessById = byId;
    this.proxylessPolicies = policies;
    const all = [listeners, routes, clusters, endpoints];
    return Object.freeze({
      snapshotVersion: snapshot.version,
      types: new Map([
        [
          TYPE_URLS.listener,
          keepType(
            this.proxylessTypes,
            TYPE_URLS.listener,
            listeners.map((c) => c.resource),
          ),
        ],
        [
          TYPE_URLS.routeConfiguration,
          keepType(
            this.proxylessTypes,
            TYPE_URLS.routeConfiguration,
            routes.map((c) => c.resource),
          ),
        ],
        [
          TYPE_URLS.cluster,
          keepType(
            this.proxylessTypes,
            TYPE_URLS.cluster,
            clusters.map((c) => c.resource),
          ),
        ],
        [
          TYPE_URLS.clusterLoadAssignment,
          keepType(
            this.proxylessTypes,
            TYPE_URLS.clusterLoadAssignment,
            endpoints.map((c) => c.resource),
          ),
        ],
      ]),
      untranslated: lines(...all.flatMap((list) => list.map((c) => c.untranslated)), ignoredResources(config, 'a gRPC client')),
    });
  }

  /**
   * One service's listener, routes, clusters and load assignments for proxyless clients (a
   * subset: a cluster and an assignment of its own), from its last entry (`previous`) where
   * their inputs are unchanged: the listener always (it depends on the name only), the
   * clusters for the same policy, the load assignments for the same service and policy, the
   * routes for the same interfaces, the same DubboRoutes applying and the same subsets and
   * balancers in the policies they read. A DubboRoute or DubboPolicy change thus rebuilds only
   * the route configurations it touches.
   */
  private proxylessService(
    cache: GenerationalCache<CachedResource>,
    versions: InputVersions,
    routeTypeVersion: string,
    service: DubboServiceConfig,
    policy: DubboPolicyConfig | undefined,
    index: () => RouteIndex,
    policies: ReadonlyMap<string, DubboPolicyConfig>,
    previous: ProxylessServiceEntry | undefined,
  ): ProxylessServiceEntry {
    const name = envoyServiceName(service.metadata.namespace, service.metadata.name);
    const applied =
      previous !== undefined && previous.routeTypeVersion === routeTypeVersion && interfacesOf(previous.service) === interfacesOf(service)
        ? previous.applied
        : appliedRoutes(service, index());
    const dependsOn = routeDependencies(service, applied);
    const policyInputs = dependsOn.map((id) => `${id} ${routingOf(policies.get(id))}`).join('\n');
    const routesKey = `routes ${interfacesOf(service)} ${applied.map((route) => versions.route(route)).join(' ')} ${digest(policyInputs)}`;
    const routes =
      previous !== undefined && previous.routesKey === routesKey && sameObjects(previous.applied, applied)
        ? previous.routes
        : cachedResource(cache, routesKey, TYPE_URLS.routeConfiguration, name, () => proxylessRouteConfiguration(service, index(), policies), previous?.routes);
    const samePolicy = previous !== undefined && previous.policy === policy;
    const subsets = (policy?.subsets ?? []).filter((subset) => Object.keys(subset.labels).length > 0);
    let clusters = samePolicy ? previous.clusters : undefined;
    if (clusters === undefined) {
      const policyVersion = versions.policy(policy);
      clusters = [name, ...subsets.map((subset) => envoySubsetName(name, subset.name))].map((clusterName, i) =>
        cachedResource(
          cache,
          `cluster ${clusterName} ${policyVersion}`,
          TYPE_URLS.cluster,
          clusterName,
          // The policy's lines once: on the service's own cluster.
          () => proxylessCluster(clusterName, policy, i === 0),
          byName(previous?.clusters, clusterName),
        ),
      );
    }
    // The assignments read the service and the policy's subsets only.
    const sameSubsets = previous !== undefined && (samePolicy || subsetsText(previous.policy) === subsetsText(policy));
    let endpoints = sameSubsets && previous.service === service ? previous.endpoints : undefined;
    if (endpoints === undefined) {
      const serviceVersion = versions.service(service);
      endpoints = [
        cachedResource(
          cache,
          `cla ${name} ${serviceVersion}`,
          TYPE_URLS.clusterLoadAssignment,
          name,
          () => clusterLoadAssignment(name, service, undefined, true),
          byName(previous?.endpoints, name),
        ),
        ...subsets.map((subset) => {
          const subsetName = envoySubsetName(name, subset.name);
          return cachedResource(
            cache,
            `cla ${subsetName} ${serviceVersion} ${JSON.stringify(subset.labels)}`,
            TYPE_URLS.clusterLoadAssignment,
            subsetName,
            () => clusterLoadAssignment(subsetName, service, subset.labels, true),
            byName(previous?.endpoints, subsetName),
          );
        }),
      ];
    }
    return {
      service,
      policy,
      routeTypeVersion,
      applied,
      dependsOn,
      routesKey,
      listener:
        previous?.listener ?? cachedResource(cache, `listener ${name}`, TYPE_URLS.listener, name, () => ({ value: proxylessListener(name), untranslated: [] })),
      routes,
      clusters,
      endpoints,
    };
  }
}

/** An object's field, as decoded resources are walked. */
type Decoded = Record<string, unknown>;
const field = (value: unknown, key: string): unknown => (typeof value === 'object' && value !== null ? (value as Decoded)[key] : undefined);
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

/** The clusters a route action names (dubbo_proxy's or HTTP's: the same fields), with their `envoy.lb` metadata keys. */
function actionClusters(action: unknown): Array<{ name: string; metadataKeys: string[] | undefined }> {
  const keysOf = (metadata: unknown) => {
    const fields = field(field(field(metadata, 'filter_metadata'), 'envoy.lb'), 'fields');
    return typeof fields === 'object' && fields !== null ? Object.keys(fields).sort() : undefined;
  };
  const own = keysOf(field(action, 'metadata_match'));
  if (field(action, 'cluster_specifier') === 'weighted_clusters') {
    const weighted = list(field(field(action, 'weighted_clusters'), 'clusters'));
    if (weighted.length > 0) return weighted.map((w) => ({ name: String(field(w, 'name')), metadataKeys: keysOf(field(w, 'metadata_match')) ?? own }));
  }
  return [{ name: String(field(action, 'cluster') ?? ''), metadataKeys: own }];
}

/**
 * The consistency of one node's resources, as go-control-plane's snapshot check has it, and
 * a bit more: every resource decodes with Envoy's protos as its type, under its own name;
 * every drds or rds name a listener uses is served; every cluster a route names exists, and a
 * route's subset metadata has a subset selector of the cluster's; every EDS service name a
 * cluster uses is served. Returns the errors (empty: consistent).
 */
export function checkEnvoyConsistency(resources: EnvoyNodeResources): string[] {
  const errors: string[] = [];
  const decoded = new Map<string, Map<string, Decoded>>();
  for (const [typeUrl, typed] of resources.types) {
    if (typed.typeUrl !== typeUrl) errors.push(`types[${typeUrl}]: holds type ${typed.typeUrl}`);
    const byName = new Map<string, Decoded>();
    for (const [name, resource] of typed.byName) {
      let value: Decoded;
      try {
        value = decodeAny(resource.any);
      } catch (error) {
        errors.push(`${typeUrl} ${name}: does not decode: ${(error as Error).message}`);
        continue;
      }
      if (value['@type'] !== typeUrl) errors.push(`${typeUrl} ${name}: is a ${String(value['@type'])}`);
      const own = typeUrl === TYPE_URLS.clusterLoadAssignment ? value.cluster_name : value.name;
      if (own !== name || resource.name !== name) errors.push(`${typeUrl} ${name}: is named ${String(own)}`);
      // The version is a digest of the bytes: equal bytes, equal version (and a changed resource, a new one).
      if (digest(resource.any) !== resource.version) errors.push(`${typeUrl} ${name}: its version is not the digest of its bytes`);
      byName.set(name, value);
    }
    decoded.set(typeUrl, byName);
  }
  const of = (typeUrl: string) => decoded.get(typeUrl) ?? new Map<string, Decoded>();
  const clusters = of(TYPE_URLS.cluster);
  const checkAction = (where: string, action: unknown) => {
    for (const { name, metadataKeys } of actionClusters(action)) {
      const cluster = clusters.get(name);
      if (cluster === undefined) {
        errors.push(`${where}: names cluster '${name}', which is not served`);
        continue;
      }
      if (metadataKeys === undefined) continue;
      const selectors = list(field(field(cluster, 'lb_subset_config'), 'subset_selectors')).map((s) => list(field(s, 'keys')).map(String).sort().join('\n'));
      if (!selectors.includes(metadataKeys.join('\n')))
        errors.push(`${where}: matches subset keys [${metadataKeys.join(', ')}] that cluster '${name}' has no selector for`);
    }
  };
  const dubboRoutes = of(TYPE_URLS.dubboRoutes);
  const routeConfigs = of(TYPE_URLS.routeConfiguration);
  const checkDubboRoutes = (where: string, multiple: unknown) => {
    for (const [i, config] of list(field(multiple, 'route_config')).entries()) {
      for (const [j, route] of list(field(config, 'routes')).entries()) {
        if (field(field(field(route, 'match'), 'method'), 'name') === null) errors.push(`${where}.route_config[${i}].routes[${j}]: has no method matcher`);
        checkAction(`${where}.route_config[${i}].routes[${j}]`, field(route, 'route'));
      }
    }
  };
  for (const [name, multiple] of dubboRoutes) checkDubboRoutes(`${TYPE_URLS.dubboRoutes} ${name}`, multiple);
  for (const [name, config] of routeConfigs) {
    for (const host of list(field(config, 'virtual_hosts'))) {
      for (const [j, route] of list(field(host, 'routes')).entries())
        checkAction(`${TYPE_URLS.routeConfiguration} ${name} routes[${j}]`, field(route, 'route'));
    }
  }
  for (const [name, listener] of of(TYPE_URLS.listener)) {
    const where = `${TYPE_URLS.listener} ${name}`;
    const manager = field(field(listener, 'api_listener'), 'api_listener');
    if (manager !== null && manager !== undefined) {
      const rds = field(field(manager, 'rds'), 'route_config_name');
      if (typeof rds !== 'string' || !routeConfigs.has(rds)) errors.push(`${where}: its rds names '${String(rds)}', which is not served`);
    }
    for (const chain of list(field(listener, 'filter_chains'))) {
      for (const filter of list(field(chain, 'filters'))) {
        const config = field(filter, 'typed_config');
        const drds = field(config, 'drds');
        if (drds !== null && drds !== undefined) {
          const drdsName = field(drds, 'route_config_name');
          if (typeof drdsName !== 'string' || !dubboRoutes.has(drdsName)) errors.push(`${where}: its drds names '${String(drdsName)}', which is not served`);
        }
        const inline = field(config, 'multiple_route_config');
        if (inline !== null && inline !== undefined) checkDubboRoutes(`${where} multiple_route_config`, inline);
      }
    }
  }
  const endpoints = of(TYPE_URLS.clusterLoadAssignment);
  for (const [name, cluster] of clusters) {
    if (cluster.type !== 'EDS') continue;
    const serviceName = String(field(field(cluster, 'eds_cluster_config'), 'service_name') ?? '') || name;
    if (!endpoints.has(serviceName)) errors.push(`${TYPE_URLS.cluster} ${name}: its EDS service '${serviceName}' is not served`);
  }
  return errors;
}
