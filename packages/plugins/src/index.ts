/**
 * @dubbo-mesh/plugins: DubboPlugins on the call path of proxies and gateways — gRPC plugins
 * (`proto/dubbo_mesh/plugin/v1/plugin.proto`) and in-process JavaScript modules reloaded when
 * their file changes — and a plugin module served as a gRPC plugin (`dubbo-mesh plugin serve`).
 */
export * from './errors.js';
export * from './plugin-api.js';
export * from './plugin-proto.js';
export * from './plugin-module.js';
export * from './plugin-answer.js';
export * from './plugin-breaker.js';
export * from './plugin-stats.js';
export * from './plugin-invoker.js';
export * from './plugin-filter.js';
export * from './plugin-runtime.js';
export * from './plugin-server.js';
