/** @dubbo-mesh/leader-election: one leader among replicas, on a Lease, with client-go's algorithm. */
export * from './errors.js';
export * from './clock.js';
export * from './lease-lock.js';
export * from './micro-time.js';
export * from './leader-elector-options.js';
export * from './leader-elector.js';
export * from './kubernetes-lease-lock.js';
