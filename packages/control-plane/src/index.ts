/**
 * @dubbo-mesh/control-plane: sources (files now), the snapshot builder, a go-control-plane
 * style snapshot cache, the state-of-the-world gRPC discovery server and the admin API.
 */
export * from './errors.js';
export * from './snapshot.js';
export * from './snapshot-cache.js';
export * from './source.js';
export * from './file-source.js';
export * from './snapshot-builder.js';
export * from './metrics.js';
export * from './discovery-server.js';
export * from './control-plane.js';
export * from './admin.js';
export * from './control-plane-app.js';
