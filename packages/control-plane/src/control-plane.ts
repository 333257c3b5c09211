import { EventEmitter } from 'node:events';
import { DiscoveryServer } from './discovery-server.js';
import type { DiscoveryService } from './discovery-service.js';
import type { ProxyStatus } from './discovery-stream.js';
import type { DiscoveryView } from './discovery-view.js';
import { FileSource, type FileSourceOptions } from './file-source.js';
import { ControlPlaneMetrics } from './metrics.js';
import type { Snapshot } from './snapshot.js';
import { pluginStatuses, type PluginStatus } from './plugin-status.js';
import { ruleStatuses, type RuleStatus } from './rule-status.js';
import { SnapshotBuilder, type Refusal } from './snapshot-builder.js';
import { SnapshotCache } from './snapshot-cache.js';
import { SnapshotSinks, type SnapshotSink } from './snapshot-sink.js';
import type { ConfigSource } from './source.js';
import type { SourceStatus } from './source-status.js';

/** What a control plane is built from. */
export interface ControlPlaneOptions {
  /** `--config` paths (files or folders); each becomes a watched file source. */
  configPaths?: readonly string[];
  /** Options of the `--config` file sources (settle interval, timers; cross-references are always left to the builder). */
  fileSource?: FileSourceOptions;
  /** Other sources (Kubernetes, ZooKeeper, tests). */
  sources?: readonly ConfigSource[];
  /** Sinks told of every published snapshot (more can be added with {@link ControlPlane.addSink}). */
  sinks?: readonly SnapshotSink[];
  /** The wire API proxies are served in (default: the dubbo-mesh discovery API, `DubboMeshDiscoveryView`). */
  view?: DiscoveryView;
  /** Other discovery APIs served on the gRPC port (Envoy's ADS): their streams are connected proxies like the view's. */
  services?: readonly DiscoveryService[];
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
 * What a control plane tells whoever listens (tests wait on these instead of polling; an
 * operator's tooling can follow pushes).
 */
export interface ControlPlaneEvents {
  /** A snapshot was published (it is in force). */
  published: [snapshot: Snapshot];
  /** A change was refused; the snapshot in force, if any, stays. */
  refused: [refusal: Refusal];
  /** A proxy named its node on a new stream. */
  'stream-open': [status: ProxyStatus];
  /** A proxy accepted a version. */
  ack: [status: ProxyStatus, version: string];
  /** A proxy rejected a version. */
  nack: [status: ProxyStatus, version: string, errors: readonly string[]];
  /** A request answering an older nonce was ignored. */
  stale: [status: ProxyStatus];
  'stream-closed': [status: ProxyStatus];
}

/**
 * The control plane: sources → snapshot builder → snapshot cache → discovery server (which
 * encodes through a view), and sinks that follow published snapshots. Every node gets the
 * same snapshot today (the cache is per node, so a per-node view can come without changing
 * the protocol).
 */
export class ControlPlane extends EventEmitter<ControlPlaneEvents> {
  readonly metrics = new ControlPlaneMetrics();
  readonly cache = new SnapshotCache();
  readonly builder: SnapshotBuilder;
  readonly server: DiscoveryServer;
  private readonly sources: ConfigSource[];
  private readonly sinks: SnapshotSinks;
  /** The latest published version and how long it took to reach every proxy. */
  lastConvergence: Convergence | undefined;

  constructor(private readonly options: ControlPlaneOptions) {
    super();
    const log = options.log ?? (() => {});
    // Cross-references are checked by the builder over every source's resources (a route in
    // one --config folder may name a service in another), not by each file source alone.
    const fileOptions: FileSourceOptions = { ...options.fileSource, checkCrossReferences: false };
    this.sources = [...(options.configPaths ?? []).map((p) => new FileSource([p], fileOptions)), ...(options.sources ?? [])];
    this.sinks = new SnapshotSinks((sink, snapshot, error) => {
      this.metrics.sinkFailures.inc({ sink: sink.name });
      log('error', `snapshot sink ${sink.name} failed on snapshot ${snapshot.version}; publishing goes on`, {
        sink: sink.name,
        version: snapshot.version,
        error: error instanceof Error ? error.message : String(error),
      });
    });
    for (const sink of options.sinks ?? []) this.sinks.add(sink);
    this.builder = new SnapshotBuilder({
      published: (snapshot) => this.publish(snapshot),
      refused: (refusal) => {
        this.metrics.configRefusals.inc();
        const current = this.builder.current;
        const inForce = current === undefined ? 'no snapshot has been published yet' : `snapshot ${current.version} stays in force`;
        log('error', `refused a config change${refusal.source === undefined ? '' : ` from ${refusal.source}`}; ${inForce}`, {
          errors: refusal.errors,
          source: refusal.source ?? null,
        });
        this.emit('refused', refusal);
      },
    });
    this.server = new DiscoveryServer(
      this.cache,
      this.metrics,
      {
        onStreamOpen: (status) => {
          log('info', 'proxy connected', { node: status.node.id, peer: status.peer, version: status.ackedVersion });
          const current = this.builder.current;
          if (current !== undefined && this.cache.get(status.node.id) !== current) this.cache.set(status.node.id, current);
          this.emit('stream-open', status);
        },
        onAck: (status, version) => {
          this.checkConvergence();
          this.emit('ack', status, version);
        },
        onNack: (status, version, errors) => {
          log('warn', 'proxy rejected a snapshot (NACK); it keeps its last good one', { node: status.node.id, version, errors });
          // The last proxy to answer may reject: it is done with the version too.
          this.checkConvergence();
          this.emit('nack', status, version, errors);
        },
        onStaleRequest: (status) => this.emit('stale', status),
        onStreamClosed: (status) => {
          log('info', 'proxy disconnected', { node: status.node.id });
          if (![...this.server.proxies.values()].some((p) => p.node.id === status.node.id)) this.cache.clear(status.node.id);
          this.checkConvergence();
          this.emit('stream-closed', status);
        },
      },
      options.view,
      options.services,
    );
  }

  /**
   * Start the sources (the first snapshot is built before this resolves) and listen for
   * proxies; resolves to the bound gRPC port. An address that cannot be bound rejects with a
   * {@link ListenError} (`code` is the errno code, e.g. `EADDRINUSE`; the message is
   * `cannot listen on HOST:PORT: address already in use`), after the sources are stopped.
   */
  async start(grpcHost: string, grpcPort: number): Promise<number> {
    await this.builder.start(this.sources);
    try {
      return await this.server.listen(grpcHost, grpcPort);
    } catch (error) {
      await this.stopSources();
      throw error;
    }
  }

  /** Stop the sources and end every proxy stream. */
  async stop(): Promise<void> {
    await this.stopSources();
    await this.server.close();
  }

  private async stopSources(): Promise<void> {
    for (const source of this.sources) {
      await source.stop();
      this.builder.sourceStopped(source.name);
    }
  }

  /**
   * Add a sink told of every snapshot published from now on — and at once of the snapshot in
   * force, if any. Returns a function that removes it.
   */
  addSink(sink: SnapshotSink): () => void {
    return this.sinks.add(sink);
  }

  /** Every source, with its state, last change, last refusal and resource count (`GET /api/v1/sources`). */
  sourceStatuses(): SourceStatus[] {
    return this.sources.map((source) => this.builder.sourceStatus(source));
  }

  /** Every Dubbo governance rule known, in force or refused, with its source (`GET /api/v1/rules`). */
  rules(): RuleStatus[] {
    return ruleStatuses(this.builder, this.sources);
  }

  /** Every DubboPlugin known, in force or refused, with its source, in the order proxies run them (`GET /api/v1/plugins`). */
  plugins(): PluginStatus[] {
    return pluginStatuses(this.builder, this.sources);
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
    // After the proxies' watches fired: a sink never delays a push.
    this.sinks.publish(snapshot);
    this.emit('published', snapshot);
  }

  private checkConvergence(): void {
    const convergence = this.lastConvergence;
    if (convergence === undefined || convergence.convergedMs !== undefined) return;
    // Proxies that rejected the version are done with it too (their NACK is counted instead).
    // Called on every ACK: no copy of the proxies, and out at the first one still behind.
    let any = false;
    for (const proxy of this.server.proxies.values()) {
      if (proxy.lastNack?.version === convergence.version) continue;
      if ((proxy.settledVersion ?? proxy.ackedVersion) !== convergence.version) return;
      any = true;
    }
    if (!any) return;
    convergence.convergedMs = performance.now() - convergence.publishedAt;
    this.metrics.pushLatency.observe(convergence.convergedMs / 1000);
  }
}
