/**
 * @dubbo-mesh/control-plane: sources (files now), the snapshot builder, typed snapshots, a
 * go-control-plane style snapshot cache, views that encode snapshots for a wire API, the
 * gRPC discovery server and its streams, snapshot sinks, and the admin API.
 */
export * from './errors.js';
export * from './snapshot.js';
export * from './snapshot-cache.js';
export * from './source.js';
export * from './source-status.js';
export * from './rule-status.js';
export * from './plugin-status.js';
export * from './file-source.js';
export * from './snapshot-builder.js';
export * from './mergeable-resources.js';
export * from './metrics.js';
export * from './discovery-view.js';
export * from './dubbo-mesh-discovery-view.js';
export * from './large-response-slots.js';
export * from './discovery-stream.js';
export * from './discovery-service.js';
export * from './discovery-server.js';
export * from './snapshot-sink.js';
export * from './control-plane.js';
export * from './admin.js';
export * from './admin-page.js';
export * from './control-plane-app.js';
