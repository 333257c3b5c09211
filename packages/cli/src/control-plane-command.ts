import { access, constants } from 'node:fs/promises';
import { ControlPlane, startControlPlaneAdmin } from '@dubbo-mesh/control-plane';
import { EXIT_START_UP, EXIT_UNAVAILABLE } from './exit-codes.js';
import { UsageError, addressFlag, logLevelFlag, parseFlags, type FlagSpec } from './flags.js';
import { createLogger } from './logging.js';
import { fileFailure, listenFailure, orCleanUp } from './start-up-failure.js';

const FLAGS: FlagSpec[] = [
  { name: 'config', type: 'string', multiple: true },
  { name: 'kubernetes', type: 'boolean' },
  { name: 'zookeeper', type: 'string' },
  { name: 'grpc', type: 'string', default: '127.0.0.1:15010' },
  { name: 'admin', type: 'string', default: '127.0.0.1:15000' },
  { name: 'log-level', type: 'string', default: 'info' },
];

/**
 * `dubbo-mesh control-plane`: build snapshots from the `--config` files (watched), serve them
 * over gRPC, serve the admin API, stop on SIGTERM/SIGINT.
 */
export async function runControlPlaneCommand(argv: readonly string[]): Promise<number> {
  const values = parseFlags('control-plane', argv, FLAGS);
  if (values.kubernetes === true || values.zookeeper !== undefined) {
    process.stderr.write(`dubbo-mesh control-plane: ${values.kubernetes === true ? '--kubernetes' : '--zookeeper'} is not available in this build yet; it lands with the Kubernetes and registry-bridge issues. Use --config PATH.\n`);
    return EXIT_UNAVAILABLE;
  }
  const configPaths = (values.config as string[] | undefined) ?? [];
  if (configPaths.length === 0) throw new UsageError('dubbo-mesh control-plane: give at least one --config PATH (a mesh YAML file or a folder of them)');
  const grpcAddress = addressFlag('control-plane', 'grpc', values.grpc as string);
  const admin = addressFlag('control-plane', 'admin', values.admin as string);
  const level = logLevelFlag('control-plane', values['log-level'] as string);
  // A missing or unreadable path is a one-line start-up failure, not a list of config errors.
  for (const configPath of configPaths) await access(configPath, constants.R_OK).catch((error: unknown) => {
    throw fileFailure('control-plane', 'config', configPath, error);
  });
  const logger = createLogger(level, { role: 'control-plane' });

  const controlPlane = new ControlPlane({ configPaths, log: (level, message, fields) => logger[level](fields ?? {}, message) });
  let grpcPort: number;
  try {
    grpcPort = await controlPlane.start(grpcAddress.host, grpcAddress.port);
  } catch (error) {
    await controlPlane.stop().catch(() => {});
    throw listenFailure('control-plane', 'grpc', grpcAddress, error);
  }
  if (controlPlane.snapshot === undefined || controlPlane.builder.invalidSources.size > 0) {
    // Any invalid file at start is fatal: serving the rest would silently drop what it says.
    const errors = controlPlane.builder.invalidSources.size > 0 ? [...controlPlane.builder.invalidSources.values()].flat() : controlPlane.builder.lastRefusal?.errors ?? [];
    for (const error of errors) process.stderr.write(`${error}\n`);
    process.stderr.write(`dubbo-mesh control-plane: --config ${configPaths.join(' --config ')}: invalid configuration (${errors.length} error${errors.length === 1 ? '' : 's'})\n`);
    await controlPlane.stop();
    return EXIT_START_UP;
  }
  const adminServer = await orCleanUp(async () => {
    try {
      return await startControlPlaneAdmin(controlPlane, admin.host, admin.port);
    } catch (error) {
      throw listenFailure('control-plane', 'admin', admin, error);
    }
  }, () => controlPlane.stop());
  logger.info({ grpc: `${grpcAddress.host}:${grpcPort}`, admin: `${admin.host}:${adminServer.port}`, version: controlPlane.snapshot.version }, 'control plane ready');

  return new Promise<number>((resolve) => {
    const shutdown = async (signal: string) => {
      logger.info({ signal }, 'stopping');
      await controlPlane.stop();
      await adminServer.server.close();
      resolve(0);
    };
    process.once('SIGTERM', () => void shutdown('SIGTERM'));
    process.once('SIGINT', () => void shutdown('SIGINT'));
  });
}
