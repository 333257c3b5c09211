/**
 * @dubbo-mesh/envoy-xds: Envoy's xDS v3 view of the control plane's snapshots: Envoy's protos
 * (loaded from `@grpc/grpc-js-xds`), the translation of a snapshot into Envoy resources for an
 * Envoy sidecar (`dubbo_proxy`) or a proxyless gRPC client, and the Aggregated Discovery
 * Service (state of the world and delta) on the control plane's gRPC port.
 */
export * from './envoy-protos.js';
export * from './envoy-node.js';
export * from './envoy-resources.js';
export * from './translate-common.js';
export * from './translate-endpoints.js';
export * from './translate-clusters.js';
export * from './translate-dubbo-routes.js';
export * from './translate-listeners.js';
export * from './translate-proxyless.js';
export * from './envoy-translator.js';
export * from './ads-subscription.js';
export * from './ads-responses.js';
export * from './ads-stream.js';
export * from './ads-server.js';
export * from './envoy-xds-extension.js';
