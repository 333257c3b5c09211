import { statSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import path from 'node:path';
import { PluginRuntime } from '@dubbo-mesh/plugins';
import { DubboProxy, ListenError, startProxyAdmin, type AccessLogEntry, type DownstreamLimits, type HostPort } from '@dubbo-mesh/proxy';
import { subscribeToControlPlane } from './control-plane-subscription.js';
import { AdminListenError } from './errors.js';
import type { SidecarLogger } from './logger.js';
import { startStaticConfig, type StaticConfig } from './static-config.js';

/** Where a sidecar takes its config from. */
export type SidecarConfigSource =
  /** A mesh YAML file or folder, watched: an invalid change is refused and logged, the last valid config stays. */
  | { readonly kind: 'static'; readonly path: string }
  /** The control plane's discovery API at `address`. */
  | { readonly kind: 'control-plane'; readonly address: HostPort };

/** Everything a proxy or gateway is started with, already parsed and checked. */
export interface SidecarOptions {
  readonly role: 'proxy' | 'gateway';
  /** This node's identity; `service`, `namespace` and `labels` are sent to the control plane. */
  readonly node: {
    readonly id: string;
    readonly service?: string;
    readonly namespace?: string;
    readonly labels?: Record<string, string>;
    /** The instance's IP, as Dubbo's rules see the consumer; default: `POD_IP`, else this host's first non-internal IPv4. */
    readonly ip?: string;
  };
  readonly config: SidecarConfigSource;
  /** The proxy's outbound listener (none: a provider-side sidecar), or the gateway's one address. */
  readonly outbound?: HostPort;
  /** The proxy's inbound listener, with the local application it forwards to. */
  readonly inbound?: HostPort;
  readonly inboundTarget?: HostPort;
  /** The admin API's address (port 0: any free port, see {@link SidecarHandle.adminPort}). */
  readonly admin: HostPort;
  /** Log one line per call. */
  readonly accessLog?: boolean;
  /** In-process DubboPlugin modules load only from inside this folder (unset: from anywhere). */
  readonly pluginModuleRoot?: string;
  /** Limits against hostile or broken consumers (the proxy's defaults where not given). */
  readonly limits?: Partial<DownstreamLimits>;
  /** Cap on bytes of incomplete frames over all consumer connections. */
  readonly maxBufferedFrameBytes?: number;
  readonly logger: SidecarLogger;
}

/** A running proxy or gateway. */
export interface SidecarHandle {
  /** The bound listeners by name (`outbound`, `inbound`, `gateway`). */
  readonly addresses: Readonly<Record<string, HostPort>>;
  /** The admin API's bound port. */
  readonly adminPort: number;
  /** The version of the config in force; undefined before the first snapshot from the control plane. */
  readonly version: string | undefined;
  /** The proxy itself (its stats, snapshot and clusters), for an embedder that wants to look. */
  readonly proxy: DubboProxy;
  /**
   * Drain: stop taking config, accept nothing new, let calls in flight finish (up to
   * `drainTimeoutMs`), close the admin API. Resolves once stopped: true when every call
   * finished in time. `signal` names what asked (for the log line).
   */
  stop(drainTimeoutMs: number, signal?: string): Promise<boolean>;
  /** Stop at once, calls in flight and all (a failed start, a fatal error, tests). */
  destroy(): Promise<void>;
}

/** Access-log durations to the microsecond: the proxy measures in fractional ms, a log line needs no 16 decimals. */
export function accessLogEntry(entry: AccessLogEntry): AccessLogEntry {
  return { ...entry, durationMs: Math.round(entry.durationMs * 1000) / 1000 };
}

/** Run `start`; if it throws, run `cleanup` (closing what was opened before), then rethrow. */
async function orCleanUp<T>(start: () => Promise<T>, cleanup: () => Promise<unknown>): Promise<T> {
  try {
    return await start();
  } catch (error) {
    await cleanup().catch(() => {});
    throw error;
  }
}

/**
 * Start a proxy or gateway: its config first (a bad `static` file binds nothing), then the
 * listeners, then the admin API; a failure at any step closes what the steps before it
 * opened and rejects with a typed error — {@link StaticConfigUnreadableError},
 * {@link StaticConfigInvalidError}, the proxy's {@link ListenError} (its `listener` says
 * which) or {@link AdminListenError}. With a `static` config it is ready when this resolves;
 * with the control plane it is listening, and ready (`/ready` 200) once the first snapshot is
 * applied. Every step is logged.
 */
/**
 * The IP of the instance beside the proxy, as a Dubbo consumer would register it: the pod's
 * (`POD_IP`, which the injector sets from the downward API), else this host's first
 * non-internal IPv4 (Dubbo's own choice), else undefined.
 */
export function instanceIp(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const pod = env.POD_IP?.trim();
  if (pod !== undefined && pod !== '') return pod;
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) if (address.family === 'IPv4' && !address.internal) return address.address;
  }
  return undefined;
}

/** The folder a --static config path stands in (itself, or a file's folder). */
function staticBaseDir(configPath: string): string {
  try {
    return statSync(configPath).isDirectory() ? path.resolve(configPath) : path.dirname(path.resolve(configPath));
  } catch {
    return path.dirname(path.resolve(configPath));
  }
}

export async function startSidecar(options: SidecarOptions): Promise<SidecarHandle> {
  const { role, logger, config } = options;
  const node = options.node.id;
  const proxy = new DubboProxy({
    node,
    // The node's identity, as filters and rules see it in a call's context.
    service: options.node.service,
    namespace: options.node.namespace,
    labels: options.node.labels,
    ip: options.node.ip ?? instanceIp(),
    role,
    outbound: options.outbound,
    inbound: options.inbound,
    inboundTarget: options.inboundTarget,
    limits: options.limits,
    maxBufferedFrameBytes: options.maxBufferedFrameBytes,
    onAccessLog: options.accessLog === true ? (entry) => logger.info({ access: accessLogEntry(entry) }, 'call') : undefined,
    log: (message) => logger.warn({}, message),
    // DubboPlugins of each snapshot on the call path (nothing per call while none is configured).
    extensions: [
      new PluginRuntime({
        // A relative module path of a --static file is the file's folder's; from the control plane, the working directory's.
        baseDir: config.kind === 'static' ? staticBaseDir(config.path) : undefined,
        moduleRoot: options.pluginModuleRoot,
        log: (line, level) => (level === 'warn' ? logger.warn({}, line) : logger.info({}, line)),
      }),
    ],
  });
  const staticConfig: StaticConfig | undefined =
    config.kind !== 'static' ? undefined : await startStaticConfig({ path: config.path, logger, apply: (mesh, version) => proxy.applySnapshot(mesh, version) });
  const stopStatic = async () => staticConfig?.stop();
  // ListenError names its listener already: it goes to the caller as it is.
  await orCleanUp(() => proxy.start(), stopStatic);
  const adminServer = await orCleanUp(
    async () => {
      try {
        return await startProxyAdmin(proxy, options.admin.host, options.admin.port, node);
      } catch (error) {
        throw new AdminListenError(options.admin.host, options.admin.port, error);
      }
    },
    async () => {
      await proxy.destroy();
      await stopStatic();
    },
  );
  const addresses = proxy.addresses();
  const bound = { listeners: addresses, admin: `${options.admin.host}:${adminServer.port}` };
  let stopSubscription = () => {};
  if (staticConfig !== undefined)
    logger.info({ ...bound, version: staticConfig.version, file: config.kind === 'static' ? config.path : undefined }, `${role} ready`);
  else if (config.kind === 'control-plane') {
    // Listening, not ready: /ready says 503 until the first snapshot is applied.
    logger.info(
      { ...bound, controlPlane: `${config.address.host}:${config.address.port}` },
      `${role} listening; waiting for its first snapshot from the control plane`,
    );
    stopSubscription = subscribeToControlPlane({
      role,
      address: config.address,
      proxy,
      logger,
      node: { id: node, role, service: options.node.service, namespace: options.node.namespace, labels: options.node.labels },
    });
  }

  let stopped: Promise<boolean> | undefined;
  const stopTakingConfig = async () => {
    stopSubscription();
    await stopStatic();
  };
  return {
    addresses,
    adminPort: adminServer.port,
    get version() {
      return proxy.snapshot?.version;
    },
    proxy,
    stop: (drainTimeoutMs, signal) => {
      stopped ??= (async () => {
        logger.info({ signal, drainTimeoutMs }, 'draining');
        await stopTakingConfig();
        const inTime = await proxy.stop(drainTimeoutMs);
        await adminServer.server.close();
        logger.info({ drained: inTime }, 'stopped');
        return inTime;
      })();
      return stopped;
    },
    destroy: async () => {
      await stopTakingConfig();
      await proxy.destroy();
      await adminServer.server.close();
    },
  };
}

/** A listener that could not bind: the proxy's own error, its `listener` saying which (`outbound`, `inbound`, `gateway`). */
export { ListenError };
/** A `host:port` the sidecar listens on or connects to. */
export type { HostPort };
