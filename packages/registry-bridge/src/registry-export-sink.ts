import type { MeshConfig } from '@dubbo-mesh/config';
import type { Snapshot, SnapshotSink } from '@dubbo-mesh/control-plane';
import type { Clock } from '@dubbo-mesh/leader-election';
import { ExportWriter, type ExportWriterStatus } from './export-writer.js';
import { exportedNodes, NO_EXPORTED_NODES, normalizeRoot, type ExportedNodes, type ExportMode } from './exported-nodes.js';
import type { ZooKeeperSession } from './zookeeper-session.js';

/**
 * Who may write: the shape of the Kubernetes `Leadership` (a Lease elector) and of
 * {@link ZooKeeperLeaderLock}, declared here so the bridge depends on neither.
 */
export interface ExportLeadership {
  readonly isLeader: boolean;
  on(event: 'started-leading' | 'stopped-leading', listener: () => void): unknown;
  off(event: 'started-leading' | 'stopped-leading', listener: () => void): unknown;
}

/** How a {@link RegistryExportSink} is made. */
export interface RegistryExportSinkOptions {
  readonly session: ZooKeeperSession;
  /** The registry root (`--zookeeper-root`, default `/dubbo`). */
  readonly root?: string;
  /** `--zookeeper-export endpoints | HOST:PORT`. */
  readonly mode: ExportMode;
  /** Only the leader exports (one writer per registry). */
  readonly leadership: ExportLeadership;
  /** Timers of the writer's retry backoff. */
  readonly clock?: Clock;
  readonly log?: (level: 'info' | 'warn', message: string, fields: Record<string, unknown>) => void;
}

/** The export's state, for the admin API. */
export interface RegistryExportStatus extends ExportWriterStatus {
  /** Whether this control plane leads, and so exports. */
  readonly leading: boolean;
  /** `endpoints`, or the one address every provider is registered at. */
  readonly mode: string;
  readonly root: string;
}

/** The name of the export sink (logs, `dubbo_mesh_cp_sink_failures_total{sink}`). */
export const REGISTRY_EXPORT_SINK_NAME = 'zookeeper-export';

/**
 * The export side of the registry bridge (`--zookeeper-export`): registers the mesh services
 * of each published snapshot in the ZooKeeper registry, so native Dubbo consumers call mesh
 * providers. Only while leading: a takeover writes every export again; stepping down removes
 * this session's nodes, so the new leader (waiting on them) creates them. It never throws and
 * never holds publishing back: the writes run in the background, retried until they hold.
 */
export class RegistryExportSink implements SnapshotSink {
  readonly name = REGISTRY_EXPORT_SINK_NAME;
  private readonly writer: ExportWriter;
  private readonly root: string;
  private leading: boolean;
  private stopped = false;
  /** The newest config and what it exports (computed again only when the services changed). */
  private config: MeshConfig | undefined;
  private servicesVersion: string | undefined;
  private nodes: ExportedNodes = NO_EXPORTED_NODES;
  private readonly onStarted = () => {
    if (this.stopped) return;
    this.leading = true;
    this.options.log?.('info', 'ZooKeeper export: leading, writing every export', { nodes: this.nodes.ephemerals.size });
    this.writer.resync();
    this.writer.setDesired(this.nodes);
  };
  private readonly onStopped = () => {
    if (this.stopped) return;
    this.leading = false;
    this.options.log?.('info', 'ZooKeeper export: not leading, removing this session’s exports', {});
    this.writer.setDesired(NO_EXPORTED_NODES);
  };

  constructor(private readonly options: RegistryExportSinkOptions) {
    this.root = normalizeRoot(options.root ?? '/dubbo');
    this.writer = new ExportWriter({ session: options.session, clock: options.clock, log: options.log });
    this.leading = options.leadership.isLeader;
    options.leadership.on('started-leading', this.onStarted);
    options.leadership.on('stopped-leading', this.onStopped);
  }

  /** A snapshot was published: export its services (if leading). Never throws. */
  onPublished(snapshot: Snapshot): void {
    if (this.stopped) return;
    const servicesVersion = snapshot.typeVersion('DubboService') ?? '';
    if (this.config !== undefined && servicesVersion === this.servicesVersion) return;
    this.config = snapshot.config;
    this.servicesVersion = servicesVersion;
    this.nodes = exportedNodes(snapshot.config, this.options.mode, this.root);
    if (this.leading) this.writer.setDesired(this.nodes);
  }

  /** Where the export stands. */
  status(): RegistryExportStatus {
    const mode = this.options.mode.kind === 'endpoints' ? 'endpoints' : `${this.options.mode.host}:${this.options.mode.port}`;
    return { ...this.writer.status(), leading: this.leading, mode, root: this.root };
  }

  /** What the newest snapshot exports (written only while leading). */
  get exported(): ExportedNodes {
    return this.nodes;
  }

  /** Stop following snapshots and leadership (the nodes go when the session is closed). */
  stop(): void {
    this.stopped = true;
    this.options.leadership.off('started-leading', this.onStarted);
    this.options.leadership.off('stopped-leading', this.onStopped);
    this.writer.stop();
  }
}
