/**
 * @dubbo-mesh/config: the mesh configuration kinds (DubboService, DubboRoute, DubboPolicy),
 * validated once at the edge with every error named by file, line and field path.
 */
export * from './types.js';
export * from './duration.js';
export * from './validate.js';
export * from './mesh-config.js';
export * from './cross-reference-index.js';
export * from './yaml-source.js';
export * from './listen-cause.js';
