import { DiscoveryClient, type DiscoveryClientOptions } from '@dubbo-mesh/discovery';
import type { DubboProxy } from '@dubbo-mesh/proxy';
import type { SidecarLogger } from './logger.js';

/** What a proxy answers while it has no snapshot, for log lines that say what is true. */
const NO_SNAPSHOT_YET = 'no snapshot yet: calls are answered 70 (SERVICE_ERROR)';

/** What `--control-plane` needs. */
export interface ControlPlaneSubscriptionOptions {
  readonly role: 'proxy' | 'gateway';
  /** The control plane's gRPC address. */
  readonly address: { host: string; port: number };
  readonly node: DiscoveryClientOptions['node'];
  readonly proxy: DubboProxy;
  readonly logger: SidecarLogger;
}

/**
 * `--control-plane HOST:PORT`: take snapshots from the control plane and log what is true at
 * each step — ready when the first snapshot is applied (not before: `/ready` is 503 until
 * then), whether a snapshot is in force when the control plane is away or a snapshot is
 * rejected, and a reconnect that finds the snapshot unchanged. Returns a stop function.
 */
export function subscribeToControlPlane(options: ControlPlaneSubscriptionOptions): () => void {
  const { role, proxy, logger } = options;
  const controlPlane = `${options.address.host}:${options.address.port}`;
  const client = new DiscoveryClient({ address: controlPlane, node: options.node, apply: (config, version) => proxy.applySnapshot(config, version) });
  let ready = false;
  client.on('connected', () => logger.info({ controlPlane }, 'connected to the control plane'));
  client.on('ack', (version) => {
    logger.info({ version }, 'applied a snapshot from the control plane');
    if (!ready) {
      ready = true;
      logger.info({ version }, `${role} ready`);
    }
  });
  client.on('warning', (version, warnings) => {
    // A newer control plane during a rollout: the snapshot is applied (fields this proxy does
    // not know are ignored), counted and said once per snapshot, never NACKed.
    proxy.stats.counters.config_unknown_field += warnings.length;
    logger.warn(
      { version, warnings },
      `applied a snapshot with ${warnings.length} field${warnings.length === 1 ? '' : 's'} this ${role} does not know (ignored); is the control plane newer?`,
    );
  });
  client.on('unchanged', (version) => logger.info({ version }, 'the snapshot is unchanged since before the reconnect; it stays in force'));
  client.on('nack', (version, errors) => {
    const inForce = client.acceptedVersion === '' ? `${NO_SNAPSHOT_YET} until a valid one arrives` : `version ${client.acceptedVersion} stays in force`;
    logger.error({ version, errors, inForce: client.acceptedVersion || null }, `rejected a snapshot from the control plane; ${inForce}`);
  });
  client.on('disconnected', (reason, delayMs) => {
    const held = client.acceptedVersion;
    const message = held === '' ? `control plane unreachable; ${NO_SNAPSHOT_YET} until one arrives` : 'control plane unreachable; serving the last snapshot';
    logger.warn({ controlPlane, reason, retryInMs: delayMs, version: held || null }, message);
  });
  client.start();
  return () => client.close();
}
