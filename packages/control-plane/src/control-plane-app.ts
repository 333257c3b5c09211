// The control plane as an application: what `dubbo-mesh control-plane` runs, with typed
// failures the command line turns into one line naming the flag. The mechanisms it wires
// (sources, builder, cache, gRPC server, admin API) stay in their own modules.
import { access, constants } from 'node:fs/promises';
import { startControlPlaneAdmin } from './admin.js';
import { ControlPlane } from './control-plane.js';
import type { DiscoveryService } from './discovery-service.js';
import type { FileSourceOptions } from './file-source.js';
import { AdminPageError, ConfigUnreadableError, ControlPlaneListenError, SourceUnavailableError, StartConfigInvalidError } from './errors.js';
import type { SnapshotSink } from './snapshot-sink.js';
import type { ConfigSource } from './source.js';

/** What the application logs through: pino's call shape (fields, then the message). */
export interface ControlPlaneAppLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/**
 * Something the control plane application is extended with (the Kubernetes source and its
 * status writers, the registry bridge, Envoy's xDS): sources and sinks to add, discovery APIs
 * to serve on the gRPC port, and a life cycle around the control plane's own. It is made by its package from parsed flags; the application only
 * runs it.
 */
export interface ControlPlaneExtension {
  readonly name: string;
  readonly sources?: readonly ConfigSource[];
  readonly sinks?: readonly SnapshotSink[];
  /** Discovery APIs served on the gRPC port besides the dubbo-mesh one (Envoy's ADS). */
  readonly services?: readonly DiscoveryService[];
  /** After the control plane serves (its sources synced, the gRPC server listening). */
  start?(controlPlane: ControlPlane): Promise<void>;
  /** Before the control plane stops. */
  stop?(): Promise<void>;
}

/** What `dubbo-mesh control-plane` is started with, already parsed. */
export interface ControlPlaneAppOptions {
  /** Mesh YAML files or folders, each watched. */
  readonly configPaths: readonly string[];
  /** The discovery API's address (port 0: any free port). */
  readonly grpc: { readonly host: string; readonly port: number };
  /** The admin API's address (port 0: any free port). */
  readonly admin: { readonly host: string; readonly port: number };
  readonly logger: ControlPlaneAppLogger;
  /** Options of the file sources (settle interval, timers), for tests. */
  readonly fileSource?: FileSourceOptions;
  /** Sources and sinks beyond the files (`--kubernetes`), each with its life cycle. */
  readonly extensions?: readonly ControlPlaneExtension[];
}

/** A running control plane application. */
export interface ControlPlaneApp {
  /** The control plane (its events, snapshot, proxies). */
  readonly controlPlane: ControlPlane;
  /** The bound gRPC port. */
  readonly grpcPort: number;
  /** The bound admin port. */
  readonly adminPort: number;
  /** Stop the sources, end every proxy stream, close the admin API. `signal` names what asked (for the log line). */
  stop(signal?: string): Promise<void>;
}

/**
 * Start the control plane: check every config path can be read, build the first snapshot
 * and serve it over gRPC, then the admin API. It refuses to start on any invalid file (serving
 * the rest would silently drop what that file says). A failure closes what was opened and
 * rejects with a typed error: {@link ConfigUnreadableError}, {@link StartConfigInvalidError}
 * or {@link ControlPlaneListenError}.
 */
export async function startControlPlaneApp(options: ControlPlaneAppOptions): Promise<ControlPlaneApp> {
  const { configPaths, grpc, admin, logger } = options;
  // A missing or unreadable path is a failure of its own, not a list of config errors.
  for (const configPath of configPaths) {
    try {
      await access(configPath, constants.R_OK);
    } catch (error) {
      throw new ConfigUnreadableError(configPath, error);
    }
  }
  const extensions = options.extensions ?? [];
  const controlPlane = new ControlPlane({
    configPaths,
    fileSource: options.fileSource,
    sources: extensions.flatMap((extension) => extension.sources ?? []),
    sinks: extensions.flatMap((extension) => extension.sinks ?? []),
    services: extensions.flatMap((extension) => extension.services ?? []),
    log: (level, message, fields) => logger[level](fields ?? {}, message),
  });
  let grpcPort: number;
  try {
    grpcPort = await controlPlane.start(grpc.host, grpc.port);
  } catch (error) {
    await controlPlane.stop().catch(() => {});
    // A source that cannot start says why itself; anything else here is the gRPC address.
    if (error instanceof SourceUnavailableError) throw error;
    throw new ControlPlaneListenError('grpc', grpc, error);
  }
  const invalid = controlPlane.builder.invalidSources;
  if (controlPlane.snapshot === undefined || invalid.size > 0) {
    const errors = invalid.size > 0 ? [...invalid.values()].flat() : (controlPlane.builder.lastRefusal?.errors ?? []);
    await controlPlane.stop();
    throw new StartConfigInvalidError(errors);
  }
  let adminServer: Awaited<ReturnType<typeof startControlPlaneAdmin>>;
  try {
    adminServer = await startControlPlaneAdmin(controlPlane, admin.host, admin.port);
  } catch (error) {
    await controlPlane.stop().catch(() => {});
    // A broken installation (the web page's files) is not the --admin address's fault.
    if (error instanceof AdminPageError) throw error;
    throw new ControlPlaneListenError('admin', admin, error);
  }
  const started: ControlPlaneExtension[] = [];
  try {
    for (const extension of extensions) {
      await extension.start?.(controlPlane);
      started.push(extension);
    }
  } catch (error) {
    for (const extension of started.reverse()) await extension.stop?.().catch(() => {});
    await controlPlane.stop().catch(() => {});
    await adminServer.server.close().catch(() => {});
    throw error;
  }
  logger.info({ grpc: `${grpc.host}:${grpcPort}`, admin: `${admin.host}:${adminServer.port}`, version: controlPlane.snapshot.version }, 'control plane ready');
  let stopped: Promise<void> | undefined;
  return {
    controlPlane,
    grpcPort,
    adminPort: adminServer.port,
    stop: (signal) => {
      stopped ??= (async () => {
        logger.info({ signal }, 'stopping');
        for (const extension of [...extensions].reverse()) {
          await extension.stop?.().catch((error: unknown) => logger.warn({ extension: extension.name, error: String(error) }, 'an extension failed to stop'));
        }
        await controlPlane.stop();
        await adminServer.server.close();
      })();
      return stopped;
    },
  };
}
