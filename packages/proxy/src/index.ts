/** @dubbo-mesh/proxy: the Dubbo sidecar proxy and gateway. */
export * from './errors.js';
export * from './stats.js';
export * from './routing-table.js';
export * from './cluster.js';
export * from './cluster-manager.js';
export * from './upstream-connection.js';
export * from './upstream-endpoint.js';
export * from './downstream-connection.js';
export * from './active-request.js';
export * from './retry-budget.js';
export * from './proxy.js';
export * from './admin.js';
export * from './write-batch.js';
export * from './timeouts.js';
export * from './clock.js';
