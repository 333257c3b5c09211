import { consistentHashLoadBalancer } from './load-balancer-consistent-hash.js';
import { leastActiveLoadBalancer } from './load-balancer-least-active.js';
import { leastRequestLoadBalancer } from './load-balancer-least-request.js';
import { randomLoadBalancer } from './load-balancer-random.js';
import { roundRobinLoadBalancer } from './load-balancer-round-robin.js';
import { shortestResponseLoadBalancer } from './load-balancer-shortest-response.js';
import { LoadBalancerConfigNode } from './load-balancer-config.js';
import type { LoadBalancerFactory } from './picker.js';

const registry = new Map<string, LoadBalancerFactory>();
/** The factories, kept as one array between registrations (config checks compare it by identity). */
let factories: readonly LoadBalancerFactory[] = [];

/** Make a load balancer available by its name, with the config class that validates its fields. */
export function registerLoadBalancer(factory: LoadBalancerFactory): void {
  registry.set(factory.name, factory);
  factories = Object.freeze([...registry.values()]);
}

/** The load balancer of that name; throws naming the known ones. */
export function getLoadBalancer(name: string): LoadBalancerFactory {
  const factory = registry.get(name);
  if (factory === undefined) throw new Error(`unknown load balancer ${JSON.stringify(name)}; known: ${[...registry.keys()].join(', ')}`);
  return factory;
}

/** The names of the registered load balancers, in registration order. */
export function loadBalancerNames(): string[] {
  return [...registry.keys()];
}

/**
 * The schema of a policy's `loadBalancer` over every load balancer registered at the time of a
 * check (so one registered later is known): `policy` (default `defaultPolicy`) and the fields
 * each algorithm registered with its config class.
 */
export function loadBalancerConfigSchema(defaultPolicy: string): LoadBalancerConfigNode {
  return new LoadBalancerConfigNode(() => factories, defaultPolicy);
}

for (const factory of [
  randomLoadBalancer,
  roundRobinLoadBalancer,
  leastActiveLoadBalancer,
  shortestResponseLoadBalancer,
  consistentHashLoadBalancer,
  leastRequestLoadBalancer,
]) {
  registerLoadBalancer(factory);
}
