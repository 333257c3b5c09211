/**
 * @dubbo-mesh/registry-bridge: a ZooKeeper Dubbo registry and the mesh, both ways. The import
 * source turns registry providers into mesh services; the export sink registers mesh services
 * as Dubbo providers; one ZooKeeper session, which outlives expiries, serves both.
 */
export * from './errors.js';
export * from './dubbo-url.js';
export * from './zookeeper-session.js';
export * from './bridge-settings.js';
export * from './warm-up.js';
export * from './imported-services.js';
export * from './application-level-metadata.js';
export * from './metadata-service-client.js';
export * from './import-skips.js';
export * from './import-watch.js';
export * from './import-interface-level.js';
export * from './import-application-level.js';
export * from './registry-import-source.js';
export * from './exported-nodes.js';
export * from './export-writer.js';
export * from './zookeeper-leader-lock.js';
export * from './registry-export-sink.js';
export * from './registry-bridge-extension.js';
export * from './config-center-rule-document.js';
export * from './config-center-rule-source.js';
