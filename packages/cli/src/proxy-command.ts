import { watch } from 'node:fs';
import { pino, type Logger } from 'pino';
import { configVersion, loadMeshConfig, type MeshConfig } from '@dubbo-mesh/config';
import { DiscoveryClient, type DiscoveryClientOptions } from '@dubbo-mesh/discovery';
import { DubboProxy, startProxyAdmin } from '@dubbo-mesh/proxy';
import { UsageError, addressFlag, durationFlag, labelsFlag, parseFlags, type FlagSpec } from './flags.js';

const COMMON: FlagSpec[] = [
  { name: 'node', type: 'string' },
  { name: 'control-plane', type: 'string' },
  { name: 'static', type: 'string' },
  { name: 'admin', type: 'string', default: '127.0.0.1:15001' },
  { name: 'access-log', type: 'boolean' },
  { name: 'drain-timeout', type: 'string', default: '5s' },
  { name: 'log-level', type: 'string', default: 'info' },
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

/** Exit code when the configuration is invalid. */
export const EXIT_CONFIG = 1;

/**
 * `dubbo-mesh proxy` and `dubbo-mesh gateway`: run on a mesh YAML file (`--static`), serve
 * the admin API, reload the file when it changes (an invalid change is refused and logged),
 * drain and exit 0 on SIGTERM.
 */
export async function runProxyCommand(role: 'proxy' | 'gateway', argv: readonly string[]): Promise<number> {
  const values = parseFlags(role, argv, role === 'proxy' ? PROXY_FLAGS : GATEWAY_FLAGS);
  const node = values.node as string | undefined;
  if (node === undefined || node === '') throw new UsageError(`dubbo-mesh ${role}: --node is required`);
  const staticPath = values.static as string | undefined;
  if (values['control-plane'] !== undefined && staticPath !== undefined) throw new UsageError(`dubbo-mesh ${role}: give --control-plane or --static, not both`);
  const controlPlaneFlag = values['control-plane'] as string | undefined;
  if (staticPath === undefined && controlPlaneFlag === undefined) throw new UsageError(`dubbo-mesh ${role}: one of --control-plane HOST:PORT or --static PATH is required`);
  const admin = addressFlag(role, 'admin', values.admin as string);
  const drainTimeoutMs = durationFlag(role, 'drain-timeout', values['drain-timeout'] as string);
  const labels = values.labels === undefined ? undefined : labelsFlag(role, 'labels', values.labels as string);
  const outbound = role === 'gateway' ? addressFlag(role, 'listen', values.listen as string) : addressFlag(role, 'outbound', values.outbound as string);
  const inboundFlag = values.inbound as string | undefined;
  const targetFlag = values['inbound-target'] as string | undefined;
  if (targetFlag !== undefined && inboundFlag === undefined) throw new UsageError(`dubbo-mesh ${role}: --inbound-target needs --inbound`);
  const inbound = inboundFlag === undefined ? undefined : addressFlag(role, 'inbound', inboundFlag);
  const inboundTarget = inbound === undefined ? undefined : addressFlag(role, 'inbound-target', targetFlag ?? '127.0.0.1:20880');

  const controlPlane = controlPlaneFlag === undefined ? undefined : addressFlag(role, 'control-plane', controlPlaneFlag);
  const logger = pino({ name: 'dubbo-mesh', level: values['log-level'] as string, base: { node, role } });
  let initial: MeshConfig | undefined;
  if (staticPath !== undefined) {
    const loaded = await loadMeshConfig([staticPath]);
    if (!loaded.valid) {
      for (const error of loaded.errors) process.stderr.write(`${error}\n`);
      process.stderr.write(`dubbo-mesh ${role}: --static ${staticPath}: invalid configuration (${loaded.errors.length} error${loaded.errors.length === 1 ? '' : 's'})\n`);
      return EXIT_CONFIG;
    }
    initial = loaded.result;
  }
  const proxy = new DubboProxy({
    node, role, outbound, inbound, inboundTarget,
    onAccessLog: values['access-log'] === true ? (entry) => logger.info({ access: entry }, 'call') : undefined,
    log: (message, error) => logger.warn({ err: error }, message),
  });
  if (initial !== undefined) proxy.applySnapshot(initial, configVersion(initial));
  await proxy.start();
  const adminServer = await startProxyAdmin(proxy, admin.host, admin.port, node);
  const addresses = proxy.addresses();
  logger.info({ listeners: addresses, admin: `${admin.host}:${adminServer.port}`, version: proxy.snapshot?.version ?? null, controlPlane: controlPlaneFlag ?? null }, `${role} ready`);

  const stopSource = staticPath !== undefined ? watchStaticFile(staticPath, proxy, logger) : subscribe(controlPlane!, proxy, logger, {
    id: node, role, service: values.service as string | undefined, namespace: values.namespace as string | undefined,
    labels,
  });

  return new Promise<number>((resolve) => {
    const shutdown = async (signal: string) => {
      logger.info({ signal, drainTimeoutMs }, 'draining');
      stopSource();
      const inTime = await proxy.stop(drainTimeoutMs);
      await adminServer.server.close();
      logger.info({ drained: inTime }, 'stopped');
      resolve(0);
    };
    process.once('SIGTERM', () => void shutdown('SIGTERM'));
    process.once('SIGINT', () => void shutdown('SIGINT'));
  });
}

/** Reload a `--static` file on change; an invalid change is refused and the last valid config stays. Returns a stop function. */
function watchStaticFile(staticPath: string, proxy: DubboProxy, logger: Logger): () => void {
  let reloadTimer: NodeJS.Timeout | undefined;
  const watcher = watch(staticPath, { recursive: false }, () => {
    clearTimeout(reloadTimer);
    reloadTimer = setTimeout(async () => {
      const next = await loadMeshConfig([staticPath]);
      if (!next.valid) return logger.error({ errors: next.errors }, `refused the changed config in ${staticPath}; the previous one stays in force`);
      const version = configVersion(next.result);
      if (version === proxy.snapshot?.version) return;
      proxy.applySnapshot(next.result, version);
      logger.info({ version }, 'applied the changed config');
    }, 100);
  });
  return () => {
    watcher.close();
    clearTimeout(reloadTimer);
  };
}

/** Take snapshots from the control plane (`--control-plane`). Returns a stop function. */
function subscribe(address: { host: string; port: number }, proxy: DubboProxy, logger: Logger, node: DiscoveryClientOptions['node']): () => void {
  const client = new DiscoveryClient({ address: `${address.host}:${address.port}`, node, apply: (config, version) => proxy.applySnapshot(config, version) });
  client.on('connected', () => logger.info({ controlPlane: `${address.host}:${address.port}` }, 'connected to the control plane'));
  client.on('ack', (version) => logger.info({ version }, 'applied a snapshot from the control plane'));
  client.on('nack', (version, errors) => logger.error({ version, errors }, 'rejected a snapshot from the control plane; the previous one stays in force'));
  client.on('disconnected', (reason, delayMs) => logger.warn({ reason, retryInMs: delayMs, version: client.acceptedVersion || null }, 'control plane unreachable; serving the last snapshot'));
  client.start();
  return () => client.close();
}
