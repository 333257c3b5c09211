import type { Frame } from '@dubbo-mesh/protocol';
import type { EndpointStats } from '@dubbo-mesh/load-balancer';
import type { HealthCheckConfig, OutlierDetectionConfig } from '@dubbo-mesh/config';
import { systemClock, type Clock } from './clock.js';
import { OverflowError, ProxyErrorCode, type ProxyError } from './errors.js';
import { UpstreamConnection, type UpstreamCall } from './upstream-connection.js';
import type { ProxyStats } from './stats.js';

/** Pool settings of an endpoint (from its service's DubboPolicy). */
export interface PoolSettings {
  maxConnections: number;
  maxPendingRequests: number;
  connectTimeoutMs: number;
}

export interface UpstreamEndpointOptions {
  maxPayload: number;
  heartbeatIntervalMs: number;
  stats: ProxyStats;
  /** Default: real time. */
  clock?: Clock;
  /** Jitter source for the connect backoff (tests pass a fixed one). */
  random?: () => number;
  /** Called when the endpoint's availability changes (READONLY, connect failures). */
  onAvailabilityChange: (endpoint: UpstreamEndpoint) => void;
  /** Called with a READONLY event the instance sent. */
  onReadonly?: (endpoint: UpstreamEndpoint, frame: Frame) => void;
}

/** The first wait after a failed connect; it doubles per failure in a row. */
export const CONNECT_BACKOFF_BASE_MS = 250;
/** The longest wait between connect attempts to one instance. */
export const CONNECT_BACKOFF_MAX_MS = 5_000;
/** How much one response moves the response-time EWMA. */
const EWMA_WEIGHT = 0.1;
/** Ejections last at most this long, however often an instance was ejected. */
const MAX_EJECTION_MS = 300_000;

/**
 * One instance (`host:port`) and its pool of multiplexed connections. Shared by every
 * cluster that lists the address, and kept across snapshot swaps, so a new snapshot drops
 * no connection.
 */
export class UpstreamEndpoint {
  readonly id: string;
  readonly stats: EndpointStats = { active: 0, ewmaResponseMs: 0 };
  /** Outside any snapshot (the inbound target): never closed by a snapshot swap. */
  isStatic = false;
  /** The instance sent READONLY: it takes no new calls. */
  readonly = false;
  /** Consecutive failed calls (connect failures, lost connections, timeouts), for outlier detection. */
  consecutiveErrors = 0;
  /** Ejected by outlier detection until this time (the clock's monotonic ms); 0 when never ejected. */
  ejectedUntil = 0;
  /**
   * The ejection multiplier: each ejection lasts baseEjectionTime × this. It grows by one per
   * ejection and, as Envoy's, shrinks by one per outlier-detection `interval` the instance
   * spent un-ejected since its last ejection ended.
   */
  ejections = 0;
  private ejectionTimer: unknown;
  /** Connect attempts that failed in a row (reset when a connection opens). */
  connectFailures = 0;
  /** No new connection is dialled before this time (monotonic ms): backoff after failed connects. */
  connectBackoffUntil = 0;
  private backoffTimer: unknown;
  /** Active health: false after `unhealthyThreshold` unanswered heartbeats in a row. */
  healthy = true;
  private healthCheck: HealthCheckConfig | undefined;
  private healthTimer: unknown;
  private healthFailures = 0;
  private healthSuccesses = 0;
  private probing = false;
  private connections: UpstreamConnection[] = [];
  private readonly clock: Clock;
  /** Closed for good (left the config, or the proxy stops). */
  private closed = false;
  settings: PoolSettings;

  constructor(
    readonly host: string,
    readonly port: number,
    settings: PoolSettings,
    private readonly options: UpstreamEndpointOptions,
  ) {
    this.id = `${host}:${port}`;
    this.settings = settings;
    this.clock = options.clock ?? systemClock;
  }

  /**
   * Whether new calls may be sent here: not READONLY, not failing health checks, and not
   * waiting to dial again after failed connects with no connection open (a failed extra
   * connection does not take a working one out of rotation). Ejection is weighed by the
   * cluster, against its cap.
   */
  get available(): boolean {
    return !this.readonly && this.healthy && !(this.backingOff && this.openConnections === 0);
  }

  /** Whether a failed connect keeps this instance from being dialled now. */
  get backingOff(): boolean {
    return this.connectBackoffUntil > this.clock.now();
  }

  /** Why the instance takes no new calls, or undefined when it does (ejection aside). */
  get unavailableReason(): string | undefined {
    if (this.readonly) return `${this.id} sent READONLY`;
    if (!this.healthy) return `${this.id} fails its health checks`;
    const wait = this.connectBackoffUntil - this.clock.now();
    if (wait > 0)
      return `${this.id} failed ${this.connectFailures} connect${this.connectFailures === 1 ? '' : 's'} in a row; next attempt in ${Math.ceil(wait)} ms`;
    return undefined;
  }

  /**
   * Turn active health checking on (or off with undefined): every `intervalMs` a Dubbo
   * heartbeat goes over one of the pool's connections (opening one if needed) and must be
   * answered within `timeoutMs`.
   */
  /** The active health check in force (its service's DubboPolicy's), if any. */
  get healthCheckConfig(): HealthCheckConfig | undefined {
    return this.healthCheck;
  }

  configureHealthCheck(config: HealthCheckConfig | undefined): void {
    if (JSON.stringify(config) === JSON.stringify(this.healthCheck)) return;
    this.healthCheck = config;
    this.clock.clearTimer(this.healthTimer);
    this.healthTimer = undefined;
    if (config === undefined) {
      if (!this.healthy) {
        this.healthy = true;
        this.options.onAvailabilityChange(this);
      }
      return;
    }
    this.healthTimer = this.clock.setTimer(this.onHealthTick, config.intervalMs);
  }

  private readonly onHealthTick = (): void => {
    const config = this.healthCheck;
    if (config === undefined) return;
    this.healthTimer = this.clock.setTimer(this.onHealthTick, config.intervalMs);
    void this.probe();
  };

  private async probe(): Promise<void> {
    const config = this.healthCheck;
    // While backing off after failed connects the instance is unavailable anyway: no dial.
    if (config === undefined || this.probing || this.backingOff) return;
    this.probing = true;
    let answered = false;
    try {
      answered = await this.chooseConnection().ping(config.timeoutMs);
    } finally {
      this.probing = false;
    }
    if (answered) {
      this.healthFailures = 0;
      this.healthSuccesses += 1;
      if (!this.healthy && this.healthSuccesses >= config.healthyThreshold) {
        this.healthy = true;
        this.options.onAvailabilityChange(this);
      }
    } else {
      this.healthSuccesses = 0;
      this.healthFailures += 1;
      if (this.healthy && this.healthFailures >= config.unhealthyThreshold) {
        this.healthy = false;
        this.options.onAvailabilityChange(this);
      }
    }
  }

  /** Whether outlier detection has ejected it. */
  get ejected(): boolean {
    return this.ejectedUntil > this.clock.now();
  }

  /**
   * A call was answered after `responseMs` (measured from when its attempt was sent): the
   * error streak ends, and the response time joins the EWMA the load balancers read
   * (`stats.ewmaResponseMs`, weight 0.1 per response; the first response sets it).
   */
  recordSuccess(responseMs?: number): void {
    this.consecutiveErrors = 0;
    if (responseMs === undefined) return;
    const stats = this.stats;
    stats.ewmaResponseMs = stats.ewmaResponseMs === 0 ? responseMs : stats.ewmaResponseMs * (1 - EWMA_WEIGHT) + responseMs * EWMA_WEIGHT;
  }

  /**
   * A call failed at the connection level. After `consecutiveErrors` in a row the endpoint is
   * ejected for baseEjectionTime × its ejection multiplier, and returns at the first
   * outlier-detection `interval` boundary after that (Envoy's analysis sweep): the ejection
   * lasts a whole number of intervals.
   */
  recordFailure(outlier: OutlierDetectionConfig | undefined): void {
    this.consecutiveErrors += 1;
    if (outlier === undefined || this.consecutiveErrors < outlier.consecutiveErrors || this.ejected) return;
    const clock = this.clock;
    const now = clock.now();
    const interval = Math.max(1, outlier.intervalMs);
    // Every interval spent un-ejected since the last ejection ended takes one off the multiplier.
    if (this.ejections > 0) this.ejections = Math.max(0, this.ejections - Math.floor((now - this.ejectedUntil) / interval));
    this.ejections += 1;
    this.consecutiveErrors = 0;
    const duration = Math.min(outlier.baseEjectionTimeMs * this.ejections, MAX_EJECTION_MS);
    this.ejectedUntil = now + Math.min(Math.max(1, Math.ceil(duration / interval)) * interval, MAX_EJECTION_MS);
    this.options.onAvailabilityChange(this);
    clock.clearTimer(this.ejectionTimer);
    this.ejectionTimer = clock.setTimer(this.onEjectionOver, this.ejectedUntil - now);
  }

  /**
   * The ejection is over: the timer says so, not a clock comparison (a timer may fire a
   * fraction of a millisecond early, and a picker rebuilt then would leave the endpoint out
   * until something else changed).
   */
  private readonly onEjectionOver = (): void => {
    this.ejectedUntil = Math.min(this.ejectedUntil, this.clock.now());
    this.options.onAvailabilityChange(this);
  };

  /** The connect backoff is over (set by the timer itself, as {@link onEjectionOver}). */
  private readonly onBackoffOver = (): void => {
    this.connectBackoffUntil = 0;
    this.options.onAvailabilityChange(this);
  };

  /** A connection opened: dialling works again. */
  private onConnected(): void {
    this.connectFailures = 0;
  }

  /**
   * A connect attempt failed (refused, unreachable, timed out): wait before dialling again,
   * 250 ms doubling per failure in a row up to 5 s, ±20% jitter so many proxies do not dial
   * in step. Meanwhile the instance is unavailable: calls go to other instances, or fail at
   * once when there is none, instead of redialling a dead instance hundreds of times a second.
   */
  private onConnectFailed(): void {
    this.connectFailures += 1;
    const clock = this.clock;
    const ceiling = Math.min(CONNECT_BACKOFF_MAX_MS, CONNECT_BACKOFF_BASE_MS * 2 ** Math.min(this.connectFailures - 1, 30));
    const delay = Math.round(ceiling * (0.8 + 0.4 * (this.options.random ?? Math.random)()));
    this.connectBackoffUntil = clock.now() + delay;
    clock.clearTimer(this.backoffTimer);
    this.backoffTimer = clock.setTimer(this.onBackoffOver, delay);
    this.options.onAvailabilityChange(this);
  }

  /** Open connections. */
  get openConnections(): number {
    let open = 0;
    for (const connection of this.connections) if (connection.isOpen) open += 1;
    return open;
  }

  /** Calls waiting for a connection. */
  get queued(): number {
    let queued = 0;
    for (const connection of this.connections) queued += connection.queued;
    return queued;
  }

  /**
   * Send a request frame (its id is rewritten in place). Picks the least-loaded connection,
   * opening another while under `maxConnections` and every open one is busy. Returns the
   * connection it went on (to cancel the call there, or to wait for its drain). Throws
   * OverflowError when `maxPendingRequests` calls already wait for a connection.
   */
  send(bytes: Buffer, call: UpstreamCall, expectsResponse = true): UpstreamConnection {
    const connection = this.chooseConnection();
    if (!connection.isOpen && this.queued >= this.settings.maxPendingRequests) {
      throw new OverflowError(`${this.queued} calls already wait for a connection to ${this.id} (maxPendingRequests ${this.settings.maxPendingRequests})`);
    }
    connection.send(bytes, call, expectsResponse);
    return connection;
  }

  private chooseConnection(): UpstreamConnection {
    let best: UpstreamConnection | undefined;
    let bestLoad = Infinity;
    const connections = this.connections;
    for (let i = 0; i < connections.length; i++) {
      const connection = connections[i]!;
      if (connection.isClosed) continue;
      const load = connection.load;
      if (load < bestLoad) {
        best = connection;
        bestLoad = load;
      }
    }
    // While backing off after failed connects, the open connections carry the calls: no extra dial.
    if (best === undefined || (bestLoad > 0 && connections.length < this.settings.maxConnections && !this.backingOff)) {
      const connection = this.connect();
      return connection;
    }
    return best;
  }

  private connect(): UpstreamConnection {
    const stats = this.options.stats;
    stats.counters.upstream_cx_total += 1;
    const connection = new UpstreamConnection(
      {
        host: this.host,
        port: this.port,
        connectTimeoutMs: this.settings.connectTimeoutMs,
        maxPayload: this.options.maxPayload,
        heartbeatIntervalMs: this.options.heartbeatIntervalMs,
        clock: this.clock,
      },
      {
        onOpen: () => {
          stats.gauges.upstream_cx_active += 1;
          this.onConnected();
        },
        onClose: (closed: UpstreamConnection, error: ProxyError, inFlight: number) => {
          this.connections = this.connections.filter((c) => c !== closed);
          if (closed.opened) stats.gauges.upstream_cx_active -= 1;
          else if (error.code === ProxyErrorCode.CONNECT_FAILURE) {
            stats.counters.upstream_cx_connect_fail += 1;
            if (!this.closed) this.onConnectFailed();
          }
          if (inFlight > 0) stats.counters.upstream_cx_destroy_with_active_rq += 1;
        },
        onReadonly: (_connection, frame) => {
          stats.counters.upstream_readonly_event += 1;
          if (!this.readonly) {
            this.readonly = true;
            this.options.onAvailabilityChange(this);
          }
          this.options.onReadonly?.(this, frame);
        },
      },
    );
    this.connections.push(connection);
    return connection;
  }

  /** Close every connection (the endpoint left the config, or the proxy stops). */
  close(reason: string): void {
    this.closed = true;
    const clock = this.clock;
    clock.clearTimer(this.ejectionTimer);
    clock.clearTimer(this.healthTimer);
    clock.clearTimer(this.backoffTimer);
    this.healthCheck = undefined;
    for (const connection of this.connections) connection.destroy(reason);
    this.connections = [];
  }
}
