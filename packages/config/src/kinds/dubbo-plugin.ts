import { duration, integer, list, object, oneOf, string } from '@dubbo-mesh/schema';
import { DEFAULT_PLUGIN_CIRCUIT_BREAKER, DEFAULT_PLUGIN_TIMEOUT_MS } from '../defaults.js';
import type { KindDefinition, SpecOf } from '../kind-definition.js';
import {
  PLUGIN_FAILURE_POLICIES,
  PLUGIN_PHASES,
  type DubboPluginConfig,
  type PluginCircuitBreakerConfig,
  type PluginFailurePolicy,
  type PluginGrpcConfig,
  type PluginPhase,
} from '../types.js';
import { ADDRESS } from './dubbo-service.js';

const GRPC = object<{ address: { address: string; host: string; port: number }; timeoutMs: number }>({
  address: { node: ADDRESS, required: true },
  timeout: { node: duration(), as: 'timeoutMs' },
});

const CIRCUIT_BREAKER = object<PluginCircuitBreakerConfig>({
  consecutiveFailures: { node: integer(1, 1000), default: DEFAULT_PLUGIN_CIRCUIT_BREAKER.consecutiveFailures },
  openFor: { node: duration(), default: DEFAULT_PLUGIN_CIRCUIT_BREAKER.openForMs, as: 'openForMs' },
});

const PHASES = list(oneOf(PLUGIN_PHASES), { minItems: { count: 1, message: 'must name at least one phase (request, response)' } }).refine((phases, context) => {
  const seen = new Set<PluginPhase>();
  for (const phase of phases) {
    if (seen.has(phase)) context.fail(`names ${phase} twice`);
    seen.add(phase);
  }
  return PLUGIN_PHASES.filter((phase) => seen.has(phase));
});

/** The spec as written, before `grpc` and `module` are checked against each other. */
interface WrittenPluginSpec {
  services?: string[];
  phases: PluginPhase[];
  order: number;
  tag: string;
  grpc?: { address: { address: string; host: string; port: number }; timeoutMs?: number };
  module?: string;
  timeoutMs?: number;
  failurePolicy: PluginFailurePolicy;
  circuitBreaker: PluginCircuitBreakerConfig;
}

/**
 * DubboPlugin: a filter on the call path of proxies and gateways, for the calls whose interface
 * `services` selects, in `order` — a gRPC service (`grpc: {address, timeout}`,
 * `proto/dubbo_mesh/plugin/v1/plugin.proto`) or an in-process JavaScript module (`module`),
 * exactly one of them. A plugin that fails or times out is handled by `failurePolicy`; one that
 * keeps failing is short-circuited for `circuitBreaker.openFor`.
 */
export const dubboPluginKind: KindDefinition<DubboPluginConfig> = {
  kind: 'DubboPlugin',
  names: { plural: 'dubboplugins', singular: 'dubboplugin', shortNames: ['dplugin'] },
  configKey: 'plugins',
  printerColumns: [
    { name: 'Order', type: 'integer', jsonPath: '.spec.order', description: 'Lower runs first' },
    { name: 'Address', type: 'string', jsonPath: '.spec.grpc.address', description: 'The gRPC plugin service (empty for an in-process module)' },
    { name: 'Module', type: 'string', jsonPath: '.spec.module', priority: 1, description: 'The in-process module' },
    { name: 'Failure-Policy', type: 'string', jsonPath: '.spec.failurePolicy', priority: 1 },
  ],
  spec: object<WrittenPluginSpec>(
    {
      services: { node: list(string(), { minItems: { count: 1, message: 'must name at least one interface (leave it out for every call)' } }) },
      phases: { node: PHASES, default: ['request'] },
      order: { node: integer(-1_000_000, 1_000_000), default: 0 },
      tag: { node: string({ allowEmpty: true }), default: '' },
      grpc: { node: GRPC },
      module: { node: string() },
      timeout: { node: duration(), as: 'timeoutMs' },
      failurePolicy: { node: oneOf(PLUGIN_FAILURE_POLICIES), default: 'fail-closed' },
      circuitBreaker: { node: CIRCUIT_BREAKER, default: DEFAULT_PLUGIN_CIRCUIT_BREAKER },
    },
    { exactlyOneOf: ['grpc', 'module'] },
  ).refine((spec, context): SpecOf<DubboPluginConfig> | undefined => {
    const timeoutMs = spec.grpc?.timeoutMs ?? spec.timeoutMs ?? DEFAULT_PLUGIN_TIMEOUT_MS;
    if (spec.grpc?.timeoutMs !== undefined && spec.timeoutMs !== undefined) {
      context.fail('give the timeout once: grpc.timeout or timeout');
      return undefined;
    }
    if (timeoutMs <= 0) {
      context.fail('the timeout must be more than 0');
      return undefined;
    }
    const grpc: PluginGrpcConfig | undefined = spec.grpc === undefined ? undefined : { ...spec.grpc.address, timeoutMs };
    return {
      services: spec.services,
      phases: spec.phases,
      order: spec.order,
      tag: spec.tag,
      grpc,
      module: spec.module,
      timeoutMs,
      failurePolicy: spec.failurePolicy,
      circuitBreaker: spec.circuitBreaker,
    };
  }),
};
