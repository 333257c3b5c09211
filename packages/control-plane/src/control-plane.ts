import { DiscoveryServer, type ProxyStatus } from './discovery-server.js';
import { FileSource } from './file-source.js';
import { ControlPlaneMetrics } from './metrics.js';
import type { Snapshot } from './snapshot.js';
import { SnapshotBuilder } from './snapshot-builder.js';
import { SnapshotCache } from './snapshot-cache.js';
import type { ConfigSource } from './source.js';

export interface ControlPlaneOptions {
  /** `--config` paths (files or folders); each becomes a watched file source. */
  configPaths?: readonly string[];
  /** Other sources (Kubernetes, ZooKeeper, tests). */
  sources?: readonly ConfigSource[];
  log?: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
}

/** One convergence: a version published, and when every connected proxy had ACKed it. */
export interface Convergence {
  readonly version: string;
  readonly publishedAt: number;
  /** Milliseconds from publish to the last ACK; undefined while proxies are still behind. */
  convergedMs: number | undefined;
}

/**
 * The control plane: sources → snapshot builder → snapshot cache → discovery server. Every
 * node gets the same snapshot today (the cache is per node, so a per-node view can come
 * without changing the protocol).
 */
export class ControlPlane {
  readonly metrics = new ControlPlaneMetrics();
  readonly cache = new SnapshotCache();
  readonly builder: SnapshotBuilder;
  readonly server: DiscoveryServer;
  private readonly sources: ConfigSource[];
  /** The latest published version and how long it took to reach every proxy. */
  lastConvergence: Convergence | undefined;

  constructor(private readonly options: ControlPlaneOptions) {
    const log = options.log ?? (() => {});
    this.sources = [...(options.configPaths ?? []).map((p) => new FileSource([p])), ...(options.sources ?? [])];
    this.builder = new SnapshotBuilder({
      published: (snapshot) => this.publish(snapshot),
      refused: (errors, source) => {
        this.metrics.configRefusals.inc();
        log('error', `refused a config change${source === undefined ? '' : ` from ${source}`}; the previous snapshot stays in force`, { errors });
      },
    });
    this.server = new DiscoveryServer(this.cache, this.metrics, {
      onStreamOpen: (status) => {
        log('info', 'proxy connected', { node: status.node.id, peer: status.peer, version: status.ackedVersion });
        const current = this.builder.current;
        if (current !== undefined && this.cache.get(status.node.id) !== current) this.cache.set(status.node.id, current);
      },
      onAck: () => this.checkConvergence(),
      onNack: (status, version, errors) => log('warn', 'proxy rejected a snapshot (NACK); it keeps its last good one', { node: status.node.id, version, errors }),
      onStreamClosed: (status) => {
        log('info', 'proxy disconnected', { node: status.node.id });
        if (![...this.server.proxies.values()].some((p) => p.node.id === status.node.id)) this.cache.clear(status.node.id);
        this.checkConvergence();
      },
    });
  }

  /** Start the sources (the first snapshot is built before this resolves) and listen for proxies. */
  async start(grpcHost: string, grpcPort: number): Promise<number> {
    await this.builder.start(this.sources);
    return this.server.listen(grpcHost, grpcPort);
  }

  async stop(): Promise<void> {
    for (const source of this.sources) await source.stop();
    await this.server.close();
  }

  /** The snapshot in force. */
  get snapshot(): Snapshot | undefined {
    return this.builder.current;
  }

  /** Connected proxies. */
  proxies(): ProxyStatus[] {
    return [...this.server.proxies.values()];
  }

  private publish(snapshot: Snapshot): void {
    this.metrics.snapshotsBuilt.inc();
    // With no proxy connected there is nothing to converge (a proxy connecting later is not a push).
    this.lastConvergence = this.server.proxies.size === 0 ? undefined : { version: snapshot.version, publishedAt: performance.now(), convergedMs: undefined };
    this.options.log?.('info', 'published a snapshot', { version: snapshot.version, ...snapshot.counts });
    const nodes = new Set([...this.server.proxies.values()].map((p) => p.node.id));
    for (const node of nodes) this.cache.set(node, snapshot);
    this.checkConvergence();
  }

  private checkConvergence(): void {
    const convergence = this.lastConvergence;
    if (convergence === undefined || convergence.convergedMs !== undefined) return;
    // Proxies that rejected the version are done with it too (their NACK is counted instead).
    const proxies = [...this.server.proxies.values()].filter((p) => p.lastNack?.version !== convergence.version);
    if (proxies.length === 0 || proxies.some((p) => p.ackedVersion !== convergence.version)) return;
    convergence.convergedMs = performance.now() - convergence.publishedAt;
    this.metrics.pushLatency.observe(convergence.convergedMs / 1000);
  }
}
