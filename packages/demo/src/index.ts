/**
 * @dubbo-mesh/demo: the local mesh demo (`dubbo-mesh demo`, what `npm start` runs) — providers
 * behind inbound proxies, a control plane on the traffic file in `examples/`, a consumer proxy
 * and its traffic — and the example configs, resolved from this package.
 */
export * from './errors.js';
export * from './traffic-loop.js';
export * from './demo.js';
