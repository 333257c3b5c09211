import type { Frame } from '@dubbo-mesh/protocol';
import {
  DEFAULT_CONNECTION_POOL,
  type ConnectionPoolConfig,
  type DubboPolicyConfig,
  type EndpointConfig,
  type LoadBalancerConfig,
  type LoadBalancerPolicy,
} from '@dubbo-mesh/config';
import { Cluster, type ClusterMember } from './cluster.js';
import { systemClock, type Clock } from './clock.js';
import { endpointProvides, inSubset, type EndpointKeyFilter, type RoutingTable } from './routing-table.js';
import type { GovernanceRules, OverriddenCluster } from './governance-rules.js';
import type { ProxyStats } from './stats.js';
import { UpstreamEndpoint } from './upstream-endpoint.js';

export interface ClusterManagerOptions {
  maxPayload: number;
  heartbeatIntervalMs: number;
  stats: ProxyStats;
  /** Default: real time. */
  clock?: Clock;
  /** How long an endpoint that left the config keeps serving its in-flight calls. */
  removedEndpointGraceMs: number;
  onReadonly?: (endpoint: UpstreamEndpoint, frame: Frame) => void;
}

/**
 * Owns the upstream endpoints (one pool per `host:port`, shared by every cluster and kept
 * across snapshots) and the clusters of the snapshot in force.
 */
/**
 * The load balancer an override rule's `loadbalance` names, in place of a policy's: Dubbo's
 * `consistenthash` hashes the first argument unless the policy says what to hash.
 */
function overriddenLoadBalancer(policy: LoadBalancerConfig, named: LoadBalancerPolicy | undefined): LoadBalancerConfig {
  if (named === undefined || named === policy.policy) return policy;
  return named === 'consistent-hash' ? { policy: named, hash: policy.hash ?? { argument: 0 } } : { policy: named };
}

/** Service keys whose override view one cluster remembers; past this it starts over (views themselves are shared). */
export const OVERRIDE_KEYS_LIMIT = 1024;

/** A cluster's views under override rules: by service key, and by what they are (shared by keys alike). */
interface OverrideViews {
  readonly byKey: Map<string, Cluster>;
  readonly bySignature: Map<string, Cluster>;
}

/** What an override view is, as text: two keys with the same one share the view. */
function overrideSignature(overridden: OverriddenCluster): string {
  let text = `${overridden.loadBalancer ?? ''}|${overridden.retries ?? ''}|`;
  for (const member of overridden.members) text += `${member.id}=${member.weight}/${overridden.timeoutsMs?.get(member) ?? ''},`;
  return text;
}

/** How many destinations {@link ClusterManager.clusterOf} remembers. */
const RECENT_DESTINATIONS = 8;

export class ClusterManager {
  private readonly endpoints = new Map<string, UpstreamEndpoint>();
  private clusters = new Map<string, Cluster>();
  private table: RoutingTable | undefined;
  /** Availability generation: bumped whenever an endpoint becomes (un)available. */
  epoch = 0;

  private readonly clock: Clock;

  constructor(private readonly options: ClusterManagerOptions) {
    this.clock = options.clock ?? systemClock;
  }

  /** Every endpoint, for `/clusters`. */
  allEndpoints(): UpstreamEndpoint[] {
    return [...this.endpoints.values()];
  }

  /** Every cluster built so far for the snapshot in force. */
  allClusters(): Cluster[] {
    return [...this.clusters.values()];
  }

  /** The endpoint for an address, created on first use. */
  endpoint(host: string, port: number, pool: ConnectionPoolConfig): UpstreamEndpoint {
    const id = `${host}:${port}`;
    let endpoint = this.endpoints.get(id);
    if (endpoint === undefined) {
      endpoint = new UpstreamEndpoint(host, port, pool, {
        maxPayload: this.options.maxPayload,
        heartbeatIntervalMs: this.options.heartbeatIntervalMs,
        stats: this.options.stats,
        clock: this.clock,
        onAvailabilityChange: () => {
          this.epoch += 1;
        },
        onReadonly: this.options.onReadonly,
      });
      this.endpoints.set(id, endpoint);
    } else {
      endpoint.settings = pool;
    }
    return endpoint;
  }

  /**
   * Switch to a new snapshot's table. Clusters are rebuilt on demand; endpoints it still
   * lists keep their connections; endpoints it no longer lists finish their in-flight calls
   * and close after a grace period.
   */
  /** Endpoints a mesh service of the table in force lists (their settings are the service's). */
  private serviceEndpoints: ReadonlySet<string> = new Set();

  apply(table: RoutingTable, governance?: GovernanceRules): void {
    this.table = table;
    this.governance = governance?.hasOverrides === true ? governance : undefined;
    this.overridden = new WeakMap();
    this.clusters = new Map();
    this.byDestination = new WeakMap();
    this.breakers = new WeakMap();
    this.recentDestinations.length = 0;
    this.recentClusters.length = 0;
    this.nextRecent = 0;
    const wanted = new Set<string>();
    const serviceEndpoints = new Set<string>();
    const want = (endpoints: readonly EndpointConfig[], policy: DubboPolicyConfig | undefined, ownedByService: boolean) => {
      for (const e of endpoints) {
        const id = `${e.host}:${e.port}`;
        wanted.add(id);
        if (ownedByService) serviceEndpoints.add(id);
        // A mesh service's policy shapes its endpoints' pool and health check; an Ingress
        // backend that reaches the same endpoint uses it as the service left it.
        else if (serviceEndpoints.has(id)) continue;
        // Health checks start with the snapshot, before any call needs the endpoint.
        this.endpoint(e.host, e.port, policy?.connectionPool ?? DEFAULT_CONNECTION_POOL).configureHealthCheck(policy?.healthCheck);
      }
    };
    for (const service of table.services.values()) want(service.config.endpoints, service.policy, true);
    // A DubboIngress rule's endpoints live as a service's: an endpoint a rule no longer lists goes after the grace period.
    for (const backend of table.ingressBackends.values()) want(backend.endpoints, backend.policy, false);
    this.serviceEndpoints = serviceEndpoints;
    for (const [id, endpoint] of this.endpoints) {
      if (wanted.has(id) || endpoint.isStatic) continue;
      this.endpoints.delete(id);
      this.clock.setTimer(() => endpoint.close('the endpoint left the mesh config'), this.options.removedEndpointGraceMs);
    }
    this.epoch += 1;
  }

  /** The governance rules in force when they hold override rules (else undefined: clusters are taken as they are). */
  private governance: GovernanceRules | undefined;
  /** Per cluster, its views under override rules by service key (the cluster itself when they change nothing). */
  private overridden = new WeakMap<Cluster, OverrideViews>();

  /**
   * The cluster as Dubbo's override rules in force make it for calls of `serviceKey`: members
   * disabled left out, weights and the load balancer replaced, timeouts per member and retries
   * for the call. The cluster itself when no override rule is in force (one branch) or none
   * changes it. Views are shared by the keys they are the same for (service keys are the
   * consumers' to choose: their number does not make views), and a cluster's keys are
   * forgotten past {@link OVERRIDE_KEYS_LIMIT}. A view's calls count on the cluster's breaker.
   */
  withOverrides(cluster: Cluster, serviceKey: string): Cluster {
    const governance = this.governance;
    if (governance === undefined) return cluster;
    let views = this.overridden.get(cluster);
    if (views === undefined) this.overridden.set(cluster, (views = { byKey: new Map(), bySignature: new Map() }));
    let view = views.byKey.get(serviceKey);
    if (view === undefined) {
      const overridden = governance.overridden(cluster.members, cluster.name, serviceKey);
      if (overridden === undefined) view = cluster;
      else {
        const signature = overrideSignature(overridden);
        view = views.bySignature.get(signature);
        if (view === undefined) {
          view = new Cluster(
            cluster.name,
            overridden.members,
            overriddenLoadBalancer(cluster.loadBalancer, overridden.loadBalancer),
            cluster.pool,
            cluster.outlierDetection,
            { timeoutsMs: overridden.timeoutsMs, retries: overridden.retries },
          );
          views.bySignature.set(signature, view);
          this.breakers.set(view, this.breakerOf(cluster));
        }
      }
      if (views.byKey.size >= OVERRIDE_KEYS_LIMIT) views.byKey.clear();
      views.byKey.set(serviceKey, view);
    }
    return view;
  }

  /** Destinations looked up last and their clusters (cleared with the clusters). */
  private readonly recentDestinations: Array<{ readonly serviceId: string; readonly subset: string | undefined }> = [];
  private readonly recentClusters: Array<Cluster | undefined> = [];
  private nextRecent = 0;
  /**
   * Every destination looked up since the snapshot and its cluster, by identity: calls spread
   * over more destinations than the recent few (many service keys of keyed services) build
   * no cluster name per call either. Weak: destinations go with the routing table's entries.
   */
  private byDestination = new WeakMap<object, Cluster>();
  /** A key cluster → the plain cluster of its service (and subset), whose `active` is their circuit breaker's count. */
  private breakers = new WeakMap<Cluster, Cluster>();

  /**
   * The cluster of a route destination. A route's destinations are objects of the routing
   * table, shared by every call, so they are remembered by identity (the last few in a list
   * checked first): no key string built and hashed per call.
   */
  clusterOf(destination: { readonly serviceId: string; readonly subset: string | undefined; readonly keyFilter?: EndpointKeyFilter }): Cluster | undefined {
    const recent = this.recentDestinations;
    for (let i = 0; i < recent.length; i++) if (recent[i] === destination) return this.recentClusters[i];
    let cluster = this.byDestination.get(destination);
    if (cluster === undefined) {
      cluster = this.cluster(destination.serviceId, destination.subset, destination.keyFilter);
      if (cluster !== undefined) this.byDestination.set(destination, cluster);
    }
    if (cluster !== undefined) {
      recent[this.nextRecent] = destination;
      this.recentClusters[this.nextRecent] = cluster;
      this.nextRecent = (this.nextRecent + 1) % RECENT_DESTINATIONS;
    }
    return cluster;
  }

  /**
   * The cluster whose `active` count is a cluster's circuit breaker (`maxRequests`): the plain
   * cluster of its service (and subset) for a key cluster, so a service whose calls span
   * several keys admits `maxRequests` in all, not per key; the cluster itself otherwise.
   */
  breakerOf(cluster: Cluster): Cluster {
    return this.breakers.get(cluster) ?? cluster;
  }

  /**
   * The cluster of a service (and subset), or of a DubboIngress rule's backend (by its id), in
   * the snapshot in force; undefined if unknown. With a key filter, only the service's (or
   * subset's) endpoints that provide the call's key, named `namespace/service[/subset] [keys]`
   * (a service id or subset name holds no space: no clash with the others); it may be empty,
   * and its calls then fail as an empty subset's do. Key clusters are as many as the distinct
   * filters the routing table makes, which its services' patterns bound (never the call keys
   * consumers send).
   */
  cluster(serviceId: string, subset: string | undefined, keyFilter?: EndpointKeyFilter): Cluster | undefined {
    const plainName = subset === undefined ? serviceId : `${serviceId}/${subset}`;
    const name = keyFilter === undefined ? plainName : `${plainName} [${keyFilter.name}]`;
    let cluster = this.clusters.get(name);
    if (cluster !== undefined) return cluster;
    const service = this.table?.services.get(serviceId);
    const backend = service === undefined ? this.table?.ingressBackends.get(serviceId) : undefined;
    if (service === undefined && backend === undefined) return undefined;
    // A key filter is about a mesh service's endpoints; an Ingress backend's have no keys.
    if (keyFilter !== undefined && service === undefined) return undefined;
    const policy = service === undefined ? backend!.policy : service.policy;
    const endpoints = service === undefined ? backend!.endpoints : service.config.endpoints;
    const subsetLabels = subset === undefined ? undefined : policy?.subsets.find((s) => s.name === subset)?.labels;
    if (subset !== undefined && subsetLabels === undefined) return undefined;
    const members: ClusterMember[] = [];
    for (const e of endpoints) {
      if (!inSubset(e, subsetLabels)) continue;
      if (keyFilter !== undefined && !endpointProvides(e, keyFilter)) continue;
      // An Ingress backend's endpoint that a mesh service lists keeps the service's settings.
      const shared = backend !== undefined ? this.endpoints.get(`${e.host}:${e.port}`) : undefined;
      const upstream =
        shared !== undefined && this.serviceEndpoints.has(shared.id)
          ? shared
          : this.endpoint(e.host, e.port, policy?.connectionPool ?? DEFAULT_CONNECTION_POOL);
      if (upstream !== shared) upstream.configureHealthCheck(policy?.healthCheck);
      members.push({ id: upstream.id, weight: e.weight, stats: upstream.stats, upstream, labels: e.labels });
    }
    cluster = new Cluster(name, members, policy?.loadBalancer, policy?.connectionPool, policy?.outlierDetection);
    this.clusters.set(name, cluster);
    if (keyFilter !== undefined) this.breakers.set(cluster, this.cluster(serviceId, subset)!);
    return cluster;
  }

  /** A cluster of fixed addresses outside any snapshot (the inbound target). */
  staticCluster(name: string, host: string, port: number, pool: ConnectionPoolConfig): Cluster {
    const upstream = this.endpoint(host, port, pool);
    upstream.isStatic = true;
    // The inbound target is the only instance: never ejected.
    return new Cluster(name, [{ id: upstream.id, weight: 100, stats: upstream.stats, upstream, labels: {} }], undefined, pool, undefined);
  }

  /** Close every connection. */
  close(): void {
    for (const endpoint of this.endpoints.values()) endpoint.close('the proxy is stopping');
    this.endpoints.clear();
  }
}
