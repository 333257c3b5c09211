/**
 * Every default of the mesh configuration kinds, in one table (docs/configuration.md lists the
 * same). A field a resource leaves out takes the value here; the proxy uses the same values for
 * a service with no DubboPolicy.
 */
import { DEFAULT_HASH_ON } from '@dubbo-mesh/load-balancer';
import type { ConnectionPoolConfig, HashOn, HealthCheckConfig, LoadBalancerConfig, OutlierDetectionConfig, RetryOn, RetryPolicy } from './types.js';

/** `metadata.namespace` when absent. */
export const DEFAULT_NAMESPACE = 'default';

/** Default endpoint weight: Dubbo's. */
export const DEFAULT_WEIGHT = 100;

/** A route destination's weight when absent (weights of one route are relative). */
export const DEFAULT_DESTINATION_WEIGHT = 1;

/** The name of route `index` of a DubboRoute that names it not: `route-0`, `route-1`, … */
export function defaultRouteName(index: number): string {
  return `route-${index}`;
}

/** The connection pool of a service with no DubboPolicy, and the fields a policy leaves out. */
export const DEFAULT_CONNECTION_POOL: ConnectionPoolConfig = Object.freeze({
  maxConnections: 2,
  maxPendingRequests: 1024,
  maxRequests: 10000,
  connectTimeoutMs: 1000,
});

/** Weighted random, as Dubbo's default LoadBalance. */
export const DEFAULT_LOAD_BALANCER: LoadBalancerConfig = Object.freeze({ policy: 'random' as const });

/** What consistent-hash hashes on when `hash` is absent: the first argument (Dubbo's default); owned by the load balancer's config class. */
export const DEFAULT_CONSISTENT_HASH: HashOn = DEFAULT_HASH_ON;

/** Outlier detection of a service with no DubboPolicy, and the fields an `outlierDetection` leaves out. */
export const DEFAULT_OUTLIER_DETECTION: OutlierDetectionConfig = Object.freeze({
  consecutiveErrors: 5,
  intervalMs: 5000,
  baseEjectionTimeMs: 30_000,
  maxEjectionPercent: 50,
});

/** The fields a `healthCheck` leaves out (with no `healthCheck` there is no active health check). */
export const DEFAULT_HEALTH_CHECK: HealthCheckConfig = Object.freeze({
  intervalMs: 5000,
  timeoutMs: 1000,
  unhealthyThreshold: 3,
  healthyThreshold: 1,
});

/** What a route's `retries` retries on when `retryOn` is absent. */
export const DEFAULT_RETRY_ON: readonly RetryOn[] = Object.freeze(['connect-failure', 'unavailable'] as const);

/** The retries of a route that sets none (the proxy's default). */
export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({ attempts: 2, retryOn: DEFAULT_RETRY_ON });

/** A DubboPlugin's deadline per call when it gives none (Envoy's ext_authz default). */
export const DEFAULT_PLUGIN_TIMEOUT_MS = 200;
/** A DubboPlugin's circuit breaker when it gives none: 5 failures in a row open it for 10 s. */
export const DEFAULT_PLUGIN_CIRCUIT_BREAKER = Object.freeze({ consecutiveFailures: 5, openForMs: 10_000 });
