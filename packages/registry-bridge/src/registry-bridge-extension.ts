import { hostname } from 'node:os';
import type { ConfigSource, ControlPlaneExtension } from '@dubbo-mesh/control-plane';
import type { RegistryBridgeSettings } from './bridge-settings.js';
import { ConfigCenterRuleSource } from './config-center-rule-source.js';
import { RegistryExportSink, type ExportLeadership } from './registry-export-sink.js';
import { RegistryImportSource } from './registry-import-source.js';
import { ZooKeeperLeaderLock } from './zookeeper-leader-lock.js';
import { ZooKeeperSession } from './zookeeper-session.js';

/** What `--zookeeper` is started with. */
export interface RegistryBridgeExtensionOptions {
  readonly settings: RegistryBridgeSettings;
  /** The Kubernetes extension's Lease elector (`--kubernetes`); absent: a ZooKeeper lock elects the exporter. */
  readonly leadership?: ExportLeadership;
  /** This replica's identity in the ZooKeeper lock; default `POD_NAME`, else host name and process id. */
  readonly identity?: string;
  /** Asked of ZooKeeper; default 30 s. */
  readonly sessionTimeoutMs?: number;
  /** How long the first connection may take; default 10 s. */
  readonly connectTimeoutMs?: number;
  readonly log?: (level: 'info' | 'warn', message: string, fields: Record<string, unknown>) => void;
  /** The import source's debounce (tests). */
  readonly importTiming?: { readonly debounceMs?: number; readonly maxDelayMs?: number };
  /** The config-center rule source's debounce (tests). */
  readonly rulesTiming?: { readonly debounceMs?: number; readonly maxDelayMs?: number };
}

/** The bridge as a control-plane extension, with its parts for tests and the admin API. */
export interface RegistryBridgeExtension extends ControlPlaneExtension {
  readonly session: ZooKeeperSession;
  readonly importSource: RegistryImportSource;
  /** Dubbo's governance rules from the config center (`<root>/config/dubbo`), as DubboRules. */
  readonly rulesSource: ConfigCenterRuleSource;
  readonly exportSink: RegistryExportSink | undefined;
  readonly lock: ZooKeeperLeaderLock | undefined;
}

/**
 * `--zookeeper`: connects (one line at start if no server answers), then gives the control
 * plane the import source, the config center's governance rules and, with `--zookeeper-export`,
 * the export sink, written only by the leader: the Kubernetes Lease's with `--kubernetes`, else
 * a ZooKeeper lock's. One session serves them all.
 */
export async function createRegistryBridgeExtension(options: RegistryBridgeExtensionOptions): Promise<RegistryBridgeExtension> {
  const { settings, log } = options;
  const session = new ZooKeeperSession({
    connect: settings.connect,
    ...(options.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: options.sessionTimeoutMs }),
    ...(options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.connectTimeoutMs }),
    ...(log === undefined ? {} : { log }),
  });
  await session.start();
  const importSource = new RegistryImportSource({
    session,
    root: settings.root,
    namespace: settings.namespace,
    ...(log === undefined ? {} : { log }),
    ...options.importTiming,
  });
  const rulesSource = new ConfigCenterRuleSource({
    session,
    root: settings.root,
    namespace: settings.namespace,
    ...(log === undefined ? {} : { log }),
    ...options.rulesTiming,
  });
  let lock: ZooKeeperLeaderLock | undefined;
  let exportSink: RegistryExportSink | undefined;
  if (settings.exportMode.kind !== 'none') {
    const leadership =
      options.leadership ??
      (lock = new ZooKeeperLeaderLock({ session, identity: options.identity ?? process.env.POD_NAME ?? `${hostname()}_${process.pid}`, log }));
    exportSink = new RegistryExportSink({ session, root: settings.root, mode: settings.exportMode, leadership, log });
  }
  // The import as the control plane sees it, with the export's state and the session's counters
  // in its details: `GET /api/v1/sources` shows the whole bridge in one place.
  const source: ConfigSource = {
    name: importSource.name,
    type: importSource.type,
    refusal: importSource.refusal,
    onResourcesRefused: (refused) => importSource.onResourcesRefused(refused),
    connection: () => importSource.connection(),
    details: () => ({
      ...importSource.details(),
      export: exportSink?.status() ?? { mode: 'none' },
      zookeeper: { connect: settings.connect, state: session.state, sessionTimeoutMs: session.sessionTimeoutMs, ...session.counters },
      ...(lock === undefined ? {} : { lock: { identity: lock.identity, leading: lock.isLeader, leader: lock.leader ?? null } }),
    }),
    start: (emit) => importSource.start(emit),
    stop: () => importSource.stop(),
  };
  return {
    name: 'zookeeper',
    session,
    importSource,
    rulesSource,
    exportSink,
    lock,
    sources: [source, rulesSource],
    sinks: exportSink === undefined ? [] : [exportSink],
    start: async () => {
      await lock?.start();
    },
    stop: async () => {
      exportSink?.stop();
      await lock?.stop();
      await session.close();
    },
  };
}
