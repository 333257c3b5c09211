/** @dubbo-mesh/test-support: honest fakes and peer helpers for tests and benchmarks. */
export * from './dubbo-test-provider.js';
export * from './dubbo-js-client.js';
export * from './user-service.js';
export * from './seeded-random.js';
export * from './fake-clock.js';
export * from './wait.js';
export * from './browser.js';
export * from './ports.js';
export * from './recording-logger.js';
export * from './mesh-yaml.js';
// The fake Kubernetes API server is `@dubbo-mesh/test-support/fake-kube`: it loads the Kubernetes
// client, which every other test would otherwise load for nothing. The native Dubbo consumer in
// ZooKeeper mode (apache-dubbo-js) is `@dubbo-mesh/test-support/native-consumer`, for the same reason.
export * from './zookeeper-server.js';
export * from './tcp-partition.js';
