/**
 * @dubbo-mesh/config: the mesh configuration kinds (DubboService, DubboRoute, DubboPolicy, DubboRule, and
 * DubboIngress, which has no CRD), each one module in a registry, validated once at the edge with every error named by file, line
 * and field path; their defaults in one table; their CustomResourceDefinitions.
 */
export * from './types.js';
export * from './defaults.js';
export * from './duration.js';
export * from './validate.js';
export * from './kind-definition.js';
export * from './kind-registry.js';
export * from './crd.js';
export * from './mesh-config.js';
export * from './cross-reference-index.js';
export * from './yaml-source.js';
export * from './listen-cause.js';
export * from './kinds/dubbo-rule.js';
export * from './kinds/dubbo-plugin.js';
