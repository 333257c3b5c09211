import {
  DEFAULT_CONNECTION_POOL,
  DEFAULT_LOAD_BALANCER,
  DEFAULT_OUTLIER_DETECTION,
  type DubboPolicyConfig,
  type HealthCheckConfig,
  type LoadBalancerPolicy,
  type OutlierDetectionConfig,
} from '@dubbo-mesh/config';
import { ADS_CONFIG_SOURCE, duration, resourceLabel, uint32, type ProtoObject, type Translation } from './translate-common.js';

/**
 * Envoy's load balancers for ours. Where Envoy has the same algorithm it is named; where it
 * has none, the nearest is used and the difference reported.
 */
const SIDECAR_LB_POLICY: Record<LoadBalancerPolicy, { policy: string; note?: string }> = {
  // Ours is Dubbo's weighted random. Envoy's RANDOM ignores host weights (random_lb.cc picks
  // `hosts[random % n]`); its round robin is weighted (earliest deadline first when weights
  // differ), so a 100/30 canary keeps its share.
  random: { policy: 'ROUND_ROBIN' },
  'round-robin': { policy: 'ROUND_ROBIN' },
  // Fewest calls in flight: Envoy's least request (two random choices, the one with fewer).
  'least-active': { policy: 'LEAST_REQUEST' },
  'least-request': { policy: 'LEAST_REQUEST' },
  'shortest-response': { policy: 'LEAST_REQUEST', note: 'Envoy has no response-time balancer; least request is used' },
  'consistent-hash': {
    policy: 'ROUND_ROBIN',
    note: "dubbo_proxy routes have no hash policy, so Envoy's ring hash would have no key; round robin is used",
  },
};

/** Envoy's largest value of a threshold: "no limit" of its own (our limits are per endpoint, see below). */
const UNLIMITED = 0xffffffff;

/**
 * A Dubbo heartbeat request (SPEC: a two-way event, Hessian2, body a Hessian null `N`): magic
 * `dabb`, flags request|two-way|event|serialization 2, status 0, request id 0, length 1, `N`.
 * Envoy has no Dubbo health checker; its TCP checker sends these bytes and waits for a Dubbo
 * frame (the magic) back, which is what a Dubbo provider answers on any connection.
 */
const DUBBO_HEARTBEAT_HEX = 'dabbe2000000000000000000000000014e';
const DUBBO_MAGIC_HEX = 'dabb';

function outlierDetection(config: OutlierDetectionConfig): ProtoObject {
  return {
    consecutive_5xx: uint32(config.consecutiveErrors),
    enforcing_consecutive_5xx: uint32(100),
    interval: duration(config.intervalMs),
    base_ejection_time: duration(config.baseEjectionTimeMs),
    max_ejection_percent: uint32(config.maxEjectionPercent),
    // Ours ejects on errors in a row only: Envoy's success-rate ejection (on by default) is turned off.
    enforcing_success_rate: uint32(0),
  };
}

function sidecarHealthCheck(config: HealthCheckConfig): ProtoObject {
  return {
    timeout: duration(config.timeoutMs),
    interval: duration(config.intervalMs),
    unhealthy_threshold: uint32(config.unhealthyThreshold),
    healthy_threshold: uint32(config.healthyThreshold),
    tcp_health_check: { send: { text: DUBBO_HEARTBEAT_HEX }, receive: [{ text: DUBBO_MAGIC_HEX }] },
  };
}

/**
 * The EDS cluster of a mesh service for an Envoy sidecar (`name.namespace`, endpoints over
 * ADS), shaped by its DubboPolicy as our proxy is — and with our proxy's defaults when the
 * service has none (outlier detection is on by default there too):
 * - `connectTimeout` → `connect_timeout`; `maxRequests` → `max_requests` and
 *   `maxPendingRequests` → `max_pending_requests` (cluster-wide in Envoy, per endpoint in
 *   dubbo-mesh: reported); `maxConnections` is not sent: dubbo_proxy's router takes a
 *   connection of its own for each call in flight (router_impl.cc: `newConnection` per
 *   request, released at the response), so a per-host connection limit would cap the calls
 *   in flight per endpoint, where ours multiplexes every call over that many connections
 *   (a policy that sets it is reported);
 * - `outlierDetection` → `consecutive_5xx` (a Dubbo error reply or a failed connection counts
 *   as one), interval, base ejection time, max ejection percent; success-rate ejection off;
 * - `loadBalancer` → `lb_policy` (table above);
 * - `subsets` → `lb_subset_config`: one selector per set of label keys, no fallback for a
 *   route that names a subset (none of its endpoints: no call, as in dubbo-mesh), any
 *   endpoint for a route that names none;
 * - `healthCheck` → a TCP health check that sends a Dubbo heartbeat and expects a Dubbo frame.
 */
export function sidecarCluster(name: string, policy: DubboPolicyConfig | undefined): Translation<ProtoObject> {
  const untranslated: string[] = [];
  const label = policy === undefined ? undefined : resourceLabel('DubboPolicy', policy.metadata);
  const pool = policy?.connectionPool ?? DEFAULT_CONNECTION_POOL;
  const loadBalancer = policy?.loadBalancer ?? DEFAULT_LOAD_BALANCER;
  const lb = SIDECAR_LB_POLICY[loadBalancer.policy];
  if (lb.note !== undefined && label !== undefined) untranslated.push(`${label}: spec.loadBalancer.policy: ${loadBalancer.policy}: ${lb.note}`);
  if (label !== undefined && pool.maxPendingRequests !== DEFAULT_CONNECTION_POOL.maxPendingRequests) {
    untranslated.push(
      `${label}: spec.connectionPool.maxPendingRequests: per endpoint in dubbo-mesh, for the whole cluster in Envoy (max_pending_requests ${pool.maxPendingRequests})`,
    );
  }
  if (label !== undefined && pool.maxConnections !== DEFAULT_CONNECTION_POOL.maxConnections) {
    untranslated.push(`${label}: spec.connectionPool.maxConnections: dubbo_proxy opens one upstream connection per call in flight: maxConnections not applied`);
  }
  const cluster: ProtoObject = {
    name,
    type: 'EDS',
    eds_cluster_config: { eds_config: ADS_CONFIG_SOURCE, service_name: name },
    connect_timeout: duration(pool.connectTimeoutMs),
    lb_policy: lb.policy,
    circuit_breakers: {
      thresholds: [
        {
          priority: 'DEFAULT',
          // One connection per call in flight: the calls' own limit (max_requests) bounds them.
          max_connections: uint32(UNLIMITED),
          max_pending_requests: uint32(pool.maxPendingRequests),
          max_requests: uint32(pool.maxRequests),
        },
      ],
    },
    outlier_detection: outlierDetection(policy?.outlierDetection ?? DEFAULT_OUTLIER_DETECTION),
  };
  const keySets = new Map<string, string[]>();
  for (const subset of policy?.subsets ?? []) {
    const keys = Object.keys(subset.labels).sort();
    if (keys.length > 0) keySets.set(keys.join('\n'), keys);
  }
  if (keySets.size > 0) {
    cluster.lb_subset_config = {
      fallback_policy: 'ANY_ENDPOINT',
      subset_selectors: [...keySets.values()].map((keys) => ({ keys, fallback_policy: 'NO_FALLBACK' })),
    };
  }
  if (policy?.healthCheck !== undefined) cluster.health_checks = [sidecarHealthCheck(policy.healthCheck)];
  return { value: cluster, untranslated };
}

/**
 * The EDS cluster of a mesh service (or of one of its subsets) for a proxyless gRPC client,
 * as `@grpc/grpc-js-xds` takes it: round robin (or ring hash for a consistent hash on an
 * attachment: the routes hash on that header), `max_requests` as its circuit breaker, and
 * the outlier detection fields gRPC reads. Reported: what gRPC clients do not have — other
 * balancers, ejection on errors in a row (gRPC ejects by success rate or failure
 * percentage only), connection limits, active health checks.
 */
export function proxylessCluster(name: string, policy: DubboPolicyConfig | undefined, reportPolicy: boolean): Translation<ProtoObject> {
  const untranslated: string[] = [];
  const label = policy === undefined ? undefined : resourceLabel('DubboPolicy', policy.metadata);
  const report = (line: string) => {
    if (reportPolicy && label !== undefined) untranslated.push(`${label}: ${line}`);
  };
  const pool = policy?.connectionPool ?? DEFAULT_CONNECTION_POOL;
  const loadBalancer = policy?.loadBalancer ?? DEFAULT_LOAD_BALANCER;
  let lbPolicy = 'ROUND_ROBIN';
  if (loadBalancer.policy === 'consistent-hash' && loadBalancer.hash !== undefined && 'attachment' in loadBalancer.hash) lbPolicy = 'RING_HASH';
  else if (loadBalancer.policy === 'consistent-hash')
    report('spec.loadBalancer.hash: a gRPC client cannot hash on an argument (a gRPC message is not Dubbo arguments); round robin is used');
  else if (loadBalancer.policy !== 'round-robin')
    report(`spec.loadBalancer.policy: ${loadBalancer.policy}: gRPC clients balance by round robin or ring hash only; round robin is used`);
  const outlier = policy?.outlierDetection ?? DEFAULT_OUTLIER_DETECTION;
  report(
    `spec.outlierDetection.consecutiveErrors: gRPC clients eject by success rate or failure percentage only, not after ${outlier.consecutiveErrors} errors in a row; no endpoint is ejected`,
  );
  report('spec.connectionPool: gRPC clients keep one HTTP/2 connection per endpoint; only maxRequests (max_requests) applies');
  if (policy?.healthCheck !== undefined) report('spec.healthCheck: gRPC clients run no active health checks; they use the endpoints the control plane lists');
  const cluster: ProtoObject = {
    name,
    type: 'EDS',
    eds_cluster_config: { eds_config: ADS_CONFIG_SOURCE, service_name: name },
    connect_timeout: duration(pool.connectTimeoutMs),
    lb_policy: lbPolicy,
    circuit_breakers: { thresholds: [{ priority: 'DEFAULT', max_requests: uint32(pool.maxRequests) }] },
    outlier_detection: outlierDetection(outlier),
  };
  return { value: cluster, untranslated };
}
