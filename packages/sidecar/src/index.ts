/**
 * @dubbo-mesh/sidecar: the proxy and the gateway as applications — `startSidecar(options)`
 * runs one on a static file (watched) or on the control plane, with its admin API, and drains
 * it on `stop` — and their flag spec, which the command line parses and the injector will
 * generate a sidecar container's args from (also at `@dubbo-mesh/sidecar/flags`, which loads
 * nothing else).
 */
export * from './errors.js';
export * from './flag-spec.js';
export * from './logger.js';
export * from './static-config.js';
export * from './control-plane-subscription.js';
export * from './sidecar.js';
