/**
 * @dubbo-mesh/schema: one definition per config shape, from which both validation (every error
 * collected with its field path) and the Kubernetes structural OpenAPI v3 schema come.
 */
export * from './open-api.js';
export * from './check-context.js';
export * from './schema-node.js';
export * from './scalar-nodes.js';
export * from './object-node.js';
export * from './list-node.js';
export * from './map-node.js';
