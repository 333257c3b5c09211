/** @dubbo-mesh/load-balancer: load balancers behind one small picker interface. */
export * from './picker.js';
export * from './registry.js';
export { randomLoadBalancer } from './load-balancer-random.js';
export { roundRobinLoadBalancer } from './load-balancer-round-robin.js';
export { leastActiveLoadBalancer } from './load-balancer-least-active.js';
export { shortestResponseLoadBalancer } from './load-balancer-shortest-response.js';
export { consistentHashLoadBalancer, consistentHashConfig, DEFAULT_HASH_ON, VIRTUAL_NODES, type ConsistentHashOn } from './load-balancer-consistent-hash.js';
export * from './load-balancer-config.js';
export { leastRequestLoadBalancer } from './load-balancer-least-request.js';
