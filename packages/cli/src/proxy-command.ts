import { statSync } from 'node:fs';
import path from 'node:path';
import {
  AdminListenError,
  ListenError,
  NO_LISTENER,
  StaticConfigInvalidError,
  StaticConfigUnreadableError,
  sidecarFlags,
  startSidecar,
  type SidecarConfigSource,
  type SidecarHandle,
} from '@dubbo-mesh/sidecar';
import { createLogger } from './logging.js';
import { UsageError, addressFlag, bytesFlag, countFlag, durationFlag, labelsFlag, logLevelFlag, parseFlags } from './flags.js';
import { StartUpError, fileFailure, listenFailure } from './start-up-failure.js';

type Address = { host: string; port: number };

/** The flag that sets each listener, so a failure names what the user typed. */
const LISTENER_FLAGS: Record<ListenError['listener'], string> = { outbound: 'outbound', inbound: 'inbound', gateway: 'listen' };

/**
 * `dubbo-mesh proxy` and `dubbo-mesh gateway`: the flags (or their env twins) as the
 * sidecar's options, `startSidecar`, its typed start-up failures as one line naming the flag,
 * and a drain on SIGTERM/SIGINT (exit 0).
 */
export async function runProxyCommand(role: 'proxy' | 'gateway', argv: readonly string[]): Promise<number> {
  const values = parseFlags(role, argv, sidecarFlags(role));
  const node = values.node as string | undefined;
  if (node === undefined || node === '') throw new UsageError(`dubbo-mesh ${role}: --node is required`);
  const staticPath = values.static as string | undefined;
  if (values['control-plane'] !== undefined && staticPath !== undefined) throw new UsageError(`dubbo-mesh ${role}: give --control-plane or --static, not both`);
  const controlPlaneFlag = values['control-plane'] as string | undefined;
  if (staticPath === undefined && controlPlaneFlag === undefined)
    throw new UsageError(`dubbo-mesh ${role}: one of --control-plane HOST:PORT or --static PATH is required`);
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
  if (outbound === undefined && inbound === undefined)
    throw new UsageError(`dubbo-mesh ${role}: --outbound none needs --inbound: a proxy needs at least one listener`);
  const config: SidecarConfigSource =
    staticPath !== undefined ? { kind: 'static', path: staticPath } : { kind: 'control-plane', address: addressFlag(role, 'control-plane', controlPlaneFlag!) };
  const listenerAddresses: Record<ListenError['listener'], Address | undefined> = { outbound, inbound, gateway: outbound };

  const logger = createLogger(level, { node, role });
  let sidecar: SidecarHandle;
  try {
    sidecar = await startSidecar({
      role,
      config,
      outbound,
      inbound,
      inboundTarget,
      admin,
      limits,
      maxBufferedFrameBytes,
      logger,
      node: { id: node, service: values.service as string | undefined, namespace: values.namespace as string | undefined, labels },
      accessLog: values['access-log'] === true,
      pluginModuleRoot: pluginModuleRoot(role, values['plugin-module-root'] as string | undefined),
    });
  } catch (error) {
    if (error instanceof ListenError) throw listenFailure(role, LISTENER_FLAGS[error.listener], listenerAddresses[error.listener]!, error);
    if (error instanceof AdminListenError) throw listenFailure(role, 'admin', admin, error.cause);
    if (error instanceof StaticConfigUnreadableError) throw fileFailure(role, 'static', error.path, error.cause);
    if (error instanceof StaticConfigInvalidError) {
      const count = `${error.errors.length} error${error.errors.length === 1 ? '' : 's'}`;
      throw new StartUpError(`dubbo-mesh ${role}: --static ${error.path}: invalid configuration (${count})`, error.errors);
    }
    throw error;
  }

  return new Promise<number>((resolve) => {
    const shutdown = async (signal: string) => {
      await sidecar.stop(drainTimeoutMs, signal);
      resolve(0);
    };
    process.once('SIGTERM', () => void shutdown('SIGTERM'));
    process.once('SIGINT', () => void shutdown('SIGINT'));
  });
}

/** `--plugin-module-root`: a folder that exists, as an absolute path; undefined when not given. */
function pluginModuleRoot(role: string, given: string | undefined): string | undefined {
  if (given === undefined) return undefined;
  let stats;
  try {
    stats = statSync(given);
  } catch (error) {
    throw fileFailure(role, 'plugin-module-root', given, error);
  }
  if (!stats.isDirectory()) throw new StartUpError(`dubbo-mesh ${role}: --plugin-module-root ${given}: not a folder`);
  return path.resolve(given);
}
