import { DubboProxy, ListenError, startProxyAdmin, type AccessLogEntry } from '@dubbo-mesh/proxy';
import { subscribeToControlPlane } from './control-plane-subscription.js';
import { createLogger } from './logging.js';
import { UsageError, addressFlag, bytesFlag, countFlag, durationFlag, labelsFlag, logLevelFlag, parseFlags, type FlagSpec } from './flags.js';
import { listenFailure, orCleanUp } from './start-up-failure.js';
import { startStaticConfig, type StaticConfig } from './static-config.js';

const COMMON: FlagSpec[] = [
  { name: 'node', type: 'string' },
  { name: 'control-plane', type: 'string' },
  { name: 'static', type: 'string' },
  { name: 'admin', type: 'string', default: '127.0.0.1:15001' },
  { name: 'access-log', type: 'boolean' },
  { name: 'drain-timeout', type: 'string', default: '5s' },
  { name: 'log-level', type: 'string', default: 'info' },
  // Limits against hostile or broken consumers (docs/operations.md).
  { name: 'idle-timeout', type: 'string', default: '1h' },
  { name: 'frame-timeout', type: 'string', default: '30s' },
  { name: 'max-requests-per-connection', type: 'string', default: '1024' },
  { name: 'max-buffered-frame-bytes', type: 'string', default: '64MiB' },
];
const PROXY_FLAGS: FlagSpec[] = [
  ...COMMON,
  { name: 'service', type: 'string' },
  { name: 'namespace', type: 'string', default: 'default' },
  { name: 'labels', type: 'string' },
  { name: 'outbound', type: 'string', default: '127.0.0.1:20881' },
  { name: 'inbound', type: 'string' },
  { name: 'inbound-target', type: 'string' },
];
const GATEWAY_FLAGS: FlagSpec[] = [...COMMON, { name: 'listen', type: 'string', default: '0.0.0.0:20880' }];

/** The value of `--outbound` that turns the outbound listener off (a provider-side sidecar). */
export const NO_LISTENER = 'none';

type Address = { host: string; port: number };

/** The flag that sets each listener, so a failure names what the user typed. */
const LISTENER_FLAGS: Record<ListenError['listener'], string> = { outbound: 'outbound', inbound: 'inbound', gateway: 'listen' };

/** Access-log durations to the microsecond: the proxy measures in fractional ms, a log line needs no 16 decimals. */
export function accessLogEntry(entry: AccessLogEntry): AccessLogEntry {
  return { ...entry, durationMs: Math.round(entry.durationMs * 1000) / 1000 };
}

/**
 * `dubbo-mesh proxy` and `dubbo-mesh gateway`: take the config from a mesh YAML file
 * (`--static`, watched: an invalid change is refused and logged) or from the control plane
 * (`--control-plane`), bind the listeners and the admin API (a failure is one line naming the
 * flag, and nothing is left listening), drain and exit 0 on SIGTERM.
 */
export async function runProxyCommand(role: 'proxy' | 'gateway', argv: readonly string[]): Promise<number> {
  const values = parseFlags(role, argv, role === 'proxy' ? PROXY_FLAGS : GATEWAY_FLAGS);
  const node = values.node as string | undefined;
  if (node === undefined || node === '') throw new UsageError(`dubbo-mesh ${role}: --node is required`);
  const staticPath = values.static as string | undefined;
  if (values['control-plane'] !== undefined && staticPath !== undefined) throw new UsageError(`dubbo-mesh ${role}: give --control-plane or --static, not both`);
  const controlPlaneFlag = values['control-plane'] as string | undefined;
  if (staticPath === undefined && controlPlaneFlag === undefined) throw new UsageError(`dubbo-mesh ${role}: one of --control-plane HOST:PORT or --static PATH is required`);
  const level = logLevelFlag(role, values['log-level'] as string);
  const admin = addressFlag(role, 'admin', values.admin as string);
  const drainTimeoutMs = durationFlag(role, 'drain-timeout', values['drain-timeout'] as string);
  const limits = {
    // 0 turns the idle timeout off.
    idleTimeoutMs: values['idle-timeout'] === '0' ? 0 : durationFlag(role, 'idle-timeout', values['idle-timeout'] as string),
    frameTimeoutMs: durationFlag(role, 'frame-timeout', values['frame-timeout'] as string),
    maxRequestsPerConnection: countFlag(role, 'max-requests-per-connection', values['max-requests-per-connection'] as string),
  };
  const maxBufferedFrameBytes = bytesFlag(role, 'max-buffered-frame-bytes', values['max-buffered-frame-bytes'] as string);
  const labels = values.labels === undefined ? undefined : labelsFlag(role, 'labels', values.labels as string);
  let outbound: Address | undefined;
  if (role === 'gateway') outbound = addressFlag(role, 'listen', values.listen as string);
  else if (values.outbound !== NO_LISTENER) outbound = addressFlag(role, 'outbound', values.outbound as string);
  const inboundFlag = values.inbound as string | undefined;
  const targetFlag = values['inbound-target'] as string | undefined;
  if (targetFlag !== undefined && inboundFlag === undefined) throw new UsageError(`dubbo-mesh ${role}: --inbound-target needs --inbound`);
  const inbound = inboundFlag === undefined ? undefined : addressFlag(role, 'inbound', inboundFlag);
  const inboundTarget = inbound === undefined ? undefined : addressFlag(role, 'inbound-target', targetFlag ?? '127.0.0.1:20880');
  if (outbound === undefined && inbound === undefined) throw new UsageError(`dubbo-mesh ${role}: --outbound none needs --inbound: a proxy needs at least one listener`);
  const controlPlane = controlPlaneFlag === undefined ? undefined : addressFlag(role, 'control-plane', controlPlaneFlag);
  const listenerAddresses: Record<ListenError['listener'], Address | undefined> = { outbound, inbound, gateway: outbound };

  const logger = createLogger(level, { node, role });
  const proxy = new DubboProxy({
    node, role, outbound, inbound, inboundTarget, limits, maxBufferedFrameBytes,
    onAccessLog: values['access-log'] === true ? (entry) => logger.info({ access: accessLogEntry(entry) }, 'call') : undefined,
    log: (message) => logger.warn(message),
  });
  // The config first (a bad file binds nothing), then the listeners, then the admin API; a
  // failure at any step closes what the steps before it opened.
  const staticConfig: StaticConfig | undefined = staticPath === undefined ? undefined
    : await startStaticConfig({ command: role, path: staticPath, logger, apply: (config, version) => proxy.applySnapshot(config, version) });
  const stopStatic = async () => staticConfig?.stop();
  await orCleanUp(async () => {
    try {
      await proxy.start();
    } catch (error) {
      if (!(error instanceof ListenError)) throw error;
      throw listenFailure(role, LISTENER_FLAGS[error.listener], listenerAddresses[error.listener]!, error);
    }
  }, stopStatic);
  const adminServer = await orCleanUp(async () => {
    try {
      return await startProxyAdmin(proxy, admin.host, admin.port, node);
    } catch (error) {
      throw listenFailure(role, 'admin', admin, error);
    }
  }, async () => {
    await proxy.destroy();
    await stopStatic();
  });
  const bound = { listeners: proxy.addresses(), admin: `${admin.host}:${adminServer.port}` };
  let stopSubscription = () => {};
  if (staticConfig !== undefined) logger.info({ ...bound, version: staticConfig.version, file: staticPath }, `${role} ready`);
  else {
    // Listening, not ready: /ready says 503 until the first snapshot is applied.
    logger.info({ ...bound, controlPlane: controlPlaneFlag }, `${role} listening; waiting for its first snapshot from the control plane`);
    stopSubscription = subscribeToControlPlane({
      role, address: controlPlane!, proxy, logger,
      node: { id: node, role, service: values.service as string | undefined, namespace: values.namespace as string | undefined, labels },
    });
  }

  return new Promise<number>((resolve) => {
    const shutdown = async (signal: string) => {
      logger.info({ signal, drainTimeoutMs }, 'draining');
      stopSubscription();
      await stopStatic();
      const inTime = await proxy.stop(drainTimeoutMs);
      await adminServer.server.close();
      logger.info({ drained: inTime }, 'stopped');
      resolve(0);
    };
    process.once('SIGTERM', () => void shutdown('SIGTERM'));
    process.once('SIGINT', () => void shutdown('SIGINT'));
  });
}
