import { duration, integer, list, object, string } from '@dubbo-mesh/schema';
import { loadBalancerConfigSchema } from '@dubbo-mesh/load-balancer';
import { DEFAULT_CONNECTION_POOL, DEFAULT_HEALTH_CHECK, DEFAULT_LOAD_BALANCER, DEFAULT_OUTLIER_DETECTION } from '../defaults.js';
import { resourceTarget, type KindDefinition, type SpecOf } from '../kind-definition.js';
import type { ConnectionPoolConfig, DubboPolicyConfig, HealthCheckConfig, LoadBalancerConfig, OutlierDetectionConfig, SubsetConfig } from '../types.js';
import { LABELS, NAME } from './common-nodes.js';

/** The target a policy's subset provides while the policy holds its service. */
export function subsetTarget(namespace: string, service: string, subset: string): string {
  return `subset ${namespace}/${service}/${subset}`;
}

const SUBSET = object<SubsetConfig>({ name: { node: string(), required: true }, labels: { node: LABELS, default: {} } });

const pool = DEFAULT_CONNECTION_POOL;
const CONNECTION_POOL = object<ConnectionPoolConfig>({
  maxConnections: { node: integer(1, 1024), default: pool.maxConnections },
  maxPendingRequests: { node: integer(0, 10_000_000), default: pool.maxPendingRequests },
  maxRequests: { node: integer(1, 10_000_000), default: pool.maxRequests },
  connectTimeout: { node: duration(), default: pool.connectTimeoutMs, as: 'connectTimeoutMs' },
});

const outlier = DEFAULT_OUTLIER_DETECTION;
const OUTLIER_DETECTION = object<OutlierDetectionConfig>({
  consecutiveErrors: { node: integer(1, 1000), default: outlier.consecutiveErrors },
  interval: { node: duration(), default: outlier.intervalMs, as: 'intervalMs' },
  baseEjectionTime: { node: duration(), default: outlier.baseEjectionTimeMs, as: 'baseEjectionTimeMs' },
  maxEjectionPercent: { node: integer(0, 100), default: outlier.maxEjectionPercent },
});

const health = DEFAULT_HEALTH_CHECK;
const HEALTH_CHECK = object<HealthCheckConfig>({
  interval: { node: duration(), default: health.intervalMs, as: 'intervalMs' },
  timeout: { node: duration(), default: health.timeoutMs, as: 'timeoutMs' },
  unhealthyThreshold: { node: integer(1, 100), default: health.unhealthyThreshold },
  healthyThreshold: { node: integer(1, 100), default: health.healthyThreshold },
});

/**
 * DubboPolicy: how one mesh service's instances are used. It refers to its service, claims it
 * (one policy per service) and provides its subsets to routes. `loadBalancer` is checked by the
 * load-balancer registry: each algorithm validates its own fields.
 */
export const dubboPolicyKind: KindDefinition<DubboPolicyConfig> = {
  kind: 'DubboPolicy',
  names: { plural: 'dubbopolicies', singular: 'dubbopolicy', shortNames: ['dp'] },
  configKey: 'policies',
  printerColumns: [
    { name: 'Service', type: 'string', jsonPath: '.spec.service', description: 'The mesh service the policy shapes' },
    { name: 'Load Balancer', type: 'string', jsonPath: '.spec.loadBalancer.policy', description: 'The load-balancing policy (random when absent)' },
  ],
  spec: object<SpecOf<DubboPolicyConfig>>({
    service: { node: string({ rule: NAME }), required: true, fallback: '' },
    subsets: { node: list(SUBSET, { uniqueBy: { field: 'name', message: (name) => `subset ${JSON.stringify(name)} is defined twice` } }), default: [] },
    loadBalancer: {
      node: loadBalancerConfigSchema(DEFAULT_LOAD_BALANCER.policy).refine((config) => config as unknown as LoadBalancerConfig),
      default: DEFAULT_LOAD_BALANCER,
    },
    connectionPool: { node: CONNECTION_POOL, default: DEFAULT_CONNECTION_POOL },
    outlierDetection: { node: OUTLIER_DETECTION },
    healthCheck: { node: HEALTH_CHECK },
  }),
  claims(policy) {
    const { namespace } = policy.metadata;
    return [
      {
        path: ['spec', 'service'],
        token: `policy of ${namespace}/${policy.service}`,
        conflict: () => `service ${policy.service} already has a DubboPolicy`,
        requires: {
          path: ['spec', 'service'],
          target: resourceTarget('DubboService', namespace, policy.service),
          missing: `no DubboService ${JSON.stringify(policy.service)} in namespace ${namespace}`,
        },
        provides: policy.subsets.map((subset) => subsetTarget(namespace, policy.service, subset.name)),
      },
    ];
  },
};
