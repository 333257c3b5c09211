/**
 * @dubbo-mesh/dubbo-provider: a Dubbo provider on real sockets (handlers in, Dubbo responses
 * out) and the UserService workload of apache/dubbo-benchmark. The demo runs its providers on
 * it; test-support re-exports it for tests and benchmarks.
 */
export * from './dubbo-provider.js';
export * from './user-service.js';
