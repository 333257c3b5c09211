import net from 'node:net';
import { DEFAULT_CONNECTION_POOL, type MeshConfig } from '@dubbo-mesh/config';
import {
  DEFAULT_MAX_PAYLOAD,
  SerializationId,
  isDubboProtocolError,
  peekRequestFrame,
  serializationName,
  type Frame,
  type RequestPeek,
} from '@dubbo-mesh/protocol';
import { ActiveRequest, sendLocalReply, type AccessLogEntry, type RequestContext, type StaticTarget } from './active-request.js';
import { nodeIdentity, type NodeIdentity } from './call-context.js';
import { systemClock, type Clock } from './clock.js';
import type { EndpointNarrowing } from './endpoint-narrowing.js';
import type { ProxyFilter } from './filter.js';
import { FilterChain } from './filter-chain.js';
import { GovernanceRules } from './governance-rules.js';
import { sameFilters, type ProxyExtension } from './proxy-extension.js';
import { ClusterManager } from './cluster-manager.js';
import {
  DEFAULT_DOWNSTREAM_LIMITS,
  DEFAULT_MAX_BUFFERED_FRAME_BYTES,
  DownstreamConnection,
  FrameBudget,
  type DownstreamContext,
  type DownstreamLimits,
  type RequestHandler,
} from './downstream-connection.js';
import { BadRequestError, ListenError, NoConfigError, ServiceNotFoundError, UnknownTargetApplicationError } from './errors.js';
import { RetryBudget } from './retry-budget.js';
import { RoutingTable, formatServiceKey, type RouteDecision } from './routing-table.js';
import { ProxyStats } from './stats.js';
import { TimeoutQueue } from './timeouts.js';

const NO_NARROWINGS: readonly EndpointNarrowing[] = Object.freeze([]);

/** `host:port` split. */
export interface HostPort {
  host: string;
  port: number;
}

/** Options of a proxy or gateway. */
export interface ProxyOptions {
  /** Node id (for logs and the control plane). */
  node: string;
  /** The mesh service this proxy runs beside (its identity for filters and rules; optional). */
  service?: string;
  /** The namespace of that service (optional). */
  namespace?: string;
  /** This proxy's labels (optional), e.g. the instance's own tags. */
  labels?: Readonly<Record<string, string>>;
  /**
   * The IP of the instance this proxy runs beside (a pod's IP): the consumer's host as Dubbo's
   * governance rules see it for calls from the local application. Optional.
   */
  ip?: string;
  /**
   * Filters on every routed (outbound and gateway) call, in order (see docs/plugins.md).
   * None: a call takes the plain path and pays nothing for the possibility.
   */
  filters?: readonly ProxyFilter[];
  /** Endpoint narrowings applied after a route chose a destination, before load balancing. */
  endpointNarrowings?: readonly EndpointNarrowing[];
  /** What the application composes in: filters per snapshot (plugins), admin sections, cleanup. */
  extensions?: readonly ProxyExtension[];
  role: 'proxy' | 'gateway';
  /** Where the local application sends its calls (proxy), or the gateway's one address. */
  outbound?: HostPort;
  /** Where other proxies send calls for the local application. */
  inbound?: HostPort;
  /** The local application's Dubbo port, for inbound calls. */
  inboundTarget?: HostPort;
  maxPayload?: number;
  /** Upstream idle heartbeat interval; 60 s as Dubbo's default. */
  heartbeatIntervalMs?: number;
  /** Timeout when neither route nor request gives one. */
  defaultTimeoutMs?: number;
  /** How long an endpoint that left the config keeps its connections for in-flight calls. */
  removedEndpointGraceMs?: number;
  /** Per-connection limits against hostile or broken consumers (defaults: {@link DEFAULT_DOWNSTREAM_LIMITS}). */
  limits?: Partial<DownstreamLimits>;
  /** Cap on bytes of incomplete frames over all downstream connections; default 64 MiB (eight frames of the 8 MiB payload limit). */
  maxBufferedFrameBytes?: number;
  /** How often connections are checked against the frame and idle timeouts; default 1 s. */
  sweepIntervalMs?: number;
  /** The retry budget shared by every call (Finagle's): retries may add `percent`% to calls, plus `minRetriesPerSecond`. Default 20% + 10/s over 10 s. */
  retryBudget?: { percent?: number; minRetriesPerSecond?: number; ttlSeconds?: number };
  /** The clock of every timer and deadline (tests pass a fake one). */
  clock?: Clock;
  onAccessLog?: (entry: AccessLogEntry) => void;
  /**
   * Warnings worth an operator's eye (a connection closed for a bad frame, …): one line
   * each, never with an error object (a consumer's mistake is not a stack trace).
   */
  log?: (message: string) => void;
}

/** The downstream limits with their defaults, checked: a bad value must not silently disable a limit or pause every connection. */
function checkedLimits(given: Partial<DownstreamLimits> | undefined): DownstreamLimits {
  const limits = { ...DEFAULT_DOWNSTREAM_LIMITS };
  for (const [name, value] of Object.entries(given ?? {}) as Array<[keyof DownstreamLimits, number | undefined]>) {
    if (value === undefined) continue;
    const min = name === 'idleTimeoutMs' ? 0 : name === 'writeBufferLimitBytes' ? 16 * 1024 : 1;
    if (!Number.isFinite(value) || value < min) throw new RangeError(`limits.${name} must be a number of at least ${min}, got ${value}`);
    limits[name] = value;
  }
  return Object.freeze(limits);
}

/** A bound listener. */
interface Listener {
  readonly name: 'outbound' | 'inbound' | 'gateway';
  readonly server: net.Server;
  readonly connections: Set<DownstreamConnection>;
}

/**
 * The sidecar proxy (and, with role `gateway`, the edge gateway): listeners, the snapshot in
 * force, the clusters and the stats. A new snapshot swaps in atomically: calls in flight
 * finish on the clusters they started on; connections to endpoints that stay are kept.
 */
export class DubboProxy {
  readonly stats = new ProxyStats();
  readonly clusters: ClusterManager;
  private table: RoutingTable | undefined;
  private readonly listeners: Listener[] = [];
  private readonly context: RequestContext;
  private inboundTarget: StaticTarget | undefined;
  private stopping = false;
  private readonly maxPayload: number;
  /** The clock of every timer and deadline of this proxy. */
  readonly clock: Clock;
  private readonly downstream: DownstreamContext;
  private sweepTimer: unknown;
  private readonly sweepIntervalMs: number;
  /** This proxy's identity, as filters see it in a call's context. */
  readonly node: NodeIdentity;
  /** The filter chain in force; undefined when it holds nothing (then calls take the plain path). */
  private chain: FilterChain | undefined;
  /** The filters and narrowings given (options or {@link setFilterChain}), without the governance rules'. */
  private ownFilters: ProxyFilter[] = [];
  private ownNarrowings: EndpointNarrowing[] = [];
  /** Dubbo's governance rules of the snapshot in force; undefined when it has none. */
  private governance: GovernanceRules | undefined;
  /** The extensions' filters for the snapshot in force, after the own ones. */
  private snapshotFilters: readonly ProxyFilter[] = [];
  /** What the application composed in (see {@link ProxyExtension}). */
  readonly extensions: readonly ProxyExtension[];

  constructor(private readonly options: ProxyOptions) {
    this.maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    const clock = (this.clock = options.clock ?? systemClock);
    this.sweepIntervalMs = options.sweepIntervalMs ?? 1000;
    this.node = nodeIdentity(options.node, options.service, options.namespace, options.labels, options.ip);
    this.extensions = [...(options.extensions ?? [])];
    this.setFilterChain({ filters: options.filters, endpointNarrowings: options.endpointNarrowings });
    this.downstream = {
      stats: this.stats,
      clock,
      maxPayload: this.maxPayload,
      limits: checkedLimits(options.limits),
      frameBudget: new FrameBudget(options.maxBufferedFrameBytes ?? DEFAULT_MAX_BUFFERED_FRAME_BYTES, this.stats),
      log: options.log,
    };
    this.clusters = new ClusterManager({
      maxPayload: this.maxPayload,
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 60_000,
      stats: this.stats,
      clock,
      removedEndpointGraceMs: options.removedEndpointGraceMs ?? 30_000,
      onReadonly: (endpoint, frame) => {
        // The local application is going away: tell the proxies that call it, so they stop too.
        if (endpoint.isStatic) this.broadcastInbound(frame);
      },
    });
    this.context = {
      stats: this.stats,
      clusters: this.clusters,
      clock,
      retryBudget: new RetryBudget(options.retryBudget?.percent, options.retryBudget?.minRetriesPerSecond, options.retryBudget?.ttlSeconds, clock),
      timeouts: new TimeoutQueue(clock),
      defaultTimeoutMs: options.defaultTimeoutMs ?? 3000,
      maxPayload: this.maxPayload,
      onComplete: options.onAccessLog,
      node: this.node,
      reroute: (peek) => {
        const decision = this.decide(peek);
        if (typeof decision === 'string') return new UnknownTargetApplicationError(decision);
        if (decision === undefined) return new ServiceNotFoundError(formatServiceKey(peek.path, peek.group, peek.version === '0.0.0' ? '' : peek.version));
        return { decision, narrowings: this.chain?.select(decision)?.narrowings ?? NO_NARROWINGS };
      },
    };
  }

  /** The filter chain in force, or undefined when there is none. */
  get filterChain(): FilterChain | undefined {
    return this.chain;
  }

  /**
   * Replace the whole filter chain (filters and endpoint narrowings; an omitted list is
   * empty), atomically: calls that started keep the chain they started with, new calls take
   * this one. For plugins that come and go with snapshots. Throws a TypeError for a filter
   * without a name, two with one name, or one with neither phase; the chain in force stays.
   */
  setFilterChain(chain: { filters?: readonly ProxyFilter[]; endpointNarrowings?: readonly EndpointNarrowing[] }): void {
    const filters = [...(chain.filters ?? [])];
    const narrowings = [...(chain.endpointNarrowings ?? [])];
    this.chain = this.buildChain(filters, narrowings, this.governance, this.snapshotFilters);
    this.ownFilters = filters;
    this.ownNarrowings = narrowings;
  }

  /**
   * The chain of these filters, then the extensions' (plugins), and these narrowings, then the
   * governance rules' narrowings (Dubbo's condition and tag rules narrow what the route and the
   * other narrowings kept); undefined when it holds nothing.
   */
  private buildChain(
    filters: ProxyFilter[],
    narrowings: EndpointNarrowing[],
    governance: GovernanceRules | undefined,
    snapshotFilters: readonly ProxyFilter[],
  ): FilterChain | undefined {
    const next = new FilterChain(
      snapshotFilters.length === 0 ? filters : [...filters, ...snapshotFilters],
      governance === undefined ? narrowings : [...narrowings, ...governance.narrowings],
      this.onSelectionError,
    );
    return next.empty ? undefined : next;
  }

  /** Dubbo's governance rules of the snapshot in force (undefined when it has none). */
  get governanceRules(): GovernanceRules | undefined {
    return this.governance;
  }

  /** A filter's `appliesTo` threw: counted and logged; the filter applies. */
  private readonly onSelectionError = (name: string, error: unknown): void => {
    this.stats.counters.filter_error += 1;
    this.options.log?.(`filter ${name}: appliesTo threw (${error instanceof Error ? error.message : String(error)}); it applies to the calls of that route`);
  };

  /** The snapshot in force and its version, or undefined before the first one. */
  get snapshot(): { version: string; config: MeshConfig } | undefined {
    return this.table === undefined ? undefined : { version: this.table.version, config: this.table.config };
  }

  /** Whether the proxy can route: listening, with a snapshot, not stopping. */
  get ready(): boolean {
    return this.table !== undefined && this.listeners.length > 0 && !this.stopping;
  }

  /** Swap in a validated config. */
  applySnapshot(config: MeshConfig, version: string): void {
    if (this.extensions.length === 0) return this.commitSnapshot(config, version, this.snapshotFilters);
    let applied = false;
    try {
      this.commitSnapshot(
        config,
        version,
        this.extensions.flatMap((extension) => extension.filtersFor?.(config, this) ?? []),
      );
      applied = true;
    } finally {
      // A refused snapshot leaves the extensions' filters in force as they were.
      for (const extension of this.extensions) extension.snapshotSettled?.(applied);
    }
  }

  /** Swap in a snapshot with these extension filters: everything that can throw runs before anything changes. */
  private commitSnapshot(config: MeshConfig, version: string, snapshotFilters: readonly ProxyFilter[]): void {
    const table = new RoutingTable(config, version);
    const governance = GovernanceRules.compile(config, this.node, this.governance);
    // The chain changes only when rules or the extensions' filters come, go or change: a snapshot without either keeps the chain as it is.
    const chain =
      governance !== undefined || this.governance !== undefined || !sameFilters(snapshotFilters, this.snapshotFilters)
        ? this.buildChain(this.ownFilters, this.ownNarrowings, governance, snapshotFilters)
        : this.chain;
    this.clusters.apply(table, governance);
    this.chain = chain;
    this.governance = governance;
    this.snapshotFilters = snapshotFilters;
    this.table = table;
  }

  /**
   * Bind the listeners the options name. Rejects with a {@link ListenError} naming the
   * listener when an address cannot be bound; listeners bound before it are closed again.
   */
  async start(): Promise<void> {
    try {
      await this.bindListeners();
    } catch (error) {
      await this.destroy();
      this.listeners.length = 0;
      throw error;
    }
    this.sweepTimer = this.clock.setTimer(this.sweep, this.sweepIntervalMs);
  }

  /** Check every downstream connection against the frame and idle timeouts. */
  private readonly sweep = (): void => {
    const now = this.clock.now();
    for (const listener of this.listeners) for (const connection of listener.connections) connection.sweep(now);
    if (!this.stopping) this.sweepTimer = this.clock.setTimer(this.sweep, this.sweepIntervalMs);
  };

  private async bindListeners(): Promise<void> {
    const { outbound, inbound, inboundTarget, role } = this.options;
    if (outbound !== undefined) await this.listen(role === 'gateway' ? 'gateway' : 'outbound', outbound, this.routedHandler);
    if (inbound !== undefined) {
      if (inboundTarget === undefined) throw new Error('an inbound listener needs an inbound target');
      this.inboundTarget = {
        kind: 'static',
        cluster: this.clusters.staticCluster('inbound', inboundTarget.host, inboundTarget.port, DEFAULT_CONNECTION_POOL),
        serviceKey: 'inbound',
        timeoutMs: undefined,
      };
      await this.listen('inbound', inbound, this.inboundHandler);
    }
  }

  /** Bound addresses by listener name. */
  addresses(): Record<string, HostPort> {
    const out: Record<string, HostPort> = {};
    for (const listener of this.listeners) {
      const address = listener.server.address() as net.AddressInfo;
      out[listener.name] = { host: address.address, port: address.port };
    }
    return out;
  }

  private async listen(name: Listener['name'], address: HostPort, handler: RequestHandler): Promise<void> {
    const connections = new Set<DownstreamConnection>();
    const server = net.createServer((socket) => {
      if (this.stopping) {
        socket.destroy();
        return;
      }
      const connection = new DownstreamConnection(socket, handler, this.downstream);
      connections.add(connection);
      socket.on('close', () => connections.delete(connection));
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException) => reject(new ListenError(name, `${address.host}:${address.port}`, error));
      server.once('error', onError);
      server.listen(address.port, address.host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    this.listeners.push({ name, server, connections });
  }

  /** Outbound and gateway: route each call by the target application it names (DubboIngress), else by its service key. */
  private readonly routedHandler: RequestHandler = (connection, frame) => {
    if (frame.header.serializationId !== SerializationId.HESSIAN2) {
      this.stats.counters.request_decoding_error += 1;
      return sendLocalReply(
        connection,
        this.stats,
        frame.header,
        new BadRequestError(`serialization ${serializationName(frame.header.serializationId)} is not routed by the mesh; use hessian2`),
      );
    }
    let peek;
    try {
      peek = peekRequestFrame(frame, undefined, connection.peekCache);
    } catch (error) {
      if (!isDubboProtocolError(error)) throw error;
      this.stats.counters.request_decoding_error += 1;
      return sendLocalReply(connection, this.stats, frame.header, new BadRequestError(error.message, { cause: error }));
    }
    const table = this.table;
    let decision: RouteDecision | undefined;
    // Only with DubboIngress rules in force is a call's target application read (per call: two
    // calls on one connection may name two applications); without, this costs one branch.
    // (Inline, as decide() does it: the call path saves the method call.)
    if (table !== undefined && table.routesByTargetApplication) {
      const byApplication = table.routeByTargetApplication(peek);
      if (typeof byApplication === 'string') return sendLocalReply(connection, this.stats, frame.header, new UnknownTargetApplicationError(byApplication));
      decision = byApplication;
    }
    if (decision === undefined) decision = table?.route(peek);
    if (decision === undefined) {
      const serviceKey = formatServiceKey(peek.path, peek.group, peek.version === '0.0.0' ? '' : peek.version);
      return sendLocalReply(connection, this.stats, frame.header, table === undefined ? new NoConfigError(serviceKey) : new ServiceNotFoundError(serviceKey));
    }
    const chain = this.chain;
    new ActiveRequest(connection, frame, this.context, decision, peek, chain === undefined ? undefined : chain.select(decision)).start();
  };

  /**
   * The route decision of a call: by the target application it names (DubboIngress), else by
   * its service key; a string: the unknown target application it names; undefined: no route.
   */
  private decide(peek: RequestPeek): RouteDecision | string | undefined {
    const table = this.table;
    if (table === undefined) return undefined;
    // Only with DubboIngress rules in force is a call's target application read (per call: two
    // calls on one connection may name two applications); without, this costs one branch.
    if (table.routesByTargetApplication) {
      const byApplication = table.routeByTargetApplication(peek);
      if (byApplication !== undefined) return byApplication;
    }
    return table.route(peek);
  }

  /** Inbound: every call goes to the local application, forwarded without decoding its body. */
  private readonly inboundHandler: RequestHandler = (connection, frame: Frame) => {
    new ActiveRequest(connection, frame, this.context, this.inboundTarget!).start();
  };

  private broadcastInbound(frame: Frame): void {
    for (const listener of this.listeners) {
      if (listener.name !== 'inbound') continue;
      for (const connection of listener.connections) connection.write(frame.bytes);
    }
  }

  /**
   * Die at once, as a killed process would: no READONLY, no drain; every connection is
   * destroyed with its calls in flight. For fatal errors, and for tests of the callers'
   * failover.
   */
  async destroy(): Promise<void> {
    this.stopping = true;
    this.clock.clearTimer(this.sweepTimer);
    const closed = this.listeners.map((listener) => new Promise<void>((resolve) => listener.server.close(() => resolve())));
    for (const listener of this.listeners) for (const connection of listener.connections) connection.socket.destroy();
    this.clusters.close();
    await Promise.all(closed);
    await this.closeExtensions();
  }

  /** Let each extension release what it holds; one that fails to is logged, the others still close. */
  private async closeExtensions(): Promise<void> {
    for (const extension of this.extensions) {
      try {
        await extension.close?.();
      } catch (error) {
        this.options.log?.(`${extension.name}: failed to close (${error instanceof Error ? error.message : String(error)})`);
      }
    }
  }

  /**
   * Stop: accept nothing new, let calls in flight finish (up to `drainTimeoutMs`), then close
   * every connection. Resolves true when everything drained in time.
   */
  async stop(drainTimeoutMs = 5000): Promise<boolean> {
    this.stopping = true;
    this.clock.clearTimer(this.sweepTimer);
    const closed = this.listeners.map((listener) => new Promise<void>((resolve) => listener.server.close(() => resolve())));
    const drained = Promise.all(this.listeners.flatMap((listener) => [...listener.connections].map((c) => c.drain()))).then(() => true);
    let timer: unknown;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = this.clock.setTimer(() => resolve(false), drainTimeoutMs);
    });
    const inTime = await Promise.race([drained, timedOut]);
    this.clock.clearTimer(timer);
    for (const listener of this.listeners) for (const connection of listener.connections) connection.socket.destroy();
    this.clusters.close();
    await Promise.all(closed);
    await this.closeExtensions();
    return inTime;
  }
}
