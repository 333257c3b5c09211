import type { Frame } from '@dubbo-mesh/protocol';
import type { EndpointStats } from '@dubbo-mesh/load-balancer';
import type { HealthCheckConfig, OutlierDetectionConfig } from '@dubbo-mesh/config';
import { OverflowError, type ProxyError } from './errors.js';
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
  /** Called when the endpoint's availability changes (READONLY, connect failures). */
  onAvailabilityChange: (endpoint: UpstreamEndpoint) => void;
  /** Called with a READONLY event the instance sent. */
  onReadonly?: (endpoint: UpstreamEndpoint, frame: Frame) => void;
}

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
  /** Ejected by outlier detection until this time (ms since epoch); 0 when not ejected. */
  ejectedUntil = 0;
  /** How many times it was ejected: each ejection lasts baseEjectionTime × this. */
  ejections = 0;
  private ejectionTimer: NodeJS.Timeout | undefined;
  /** Active health: false after `unhealthyThreshold` unanswered heartbeats in a row. */
  healthy = true;
  private healthCheck: HealthCheckConfig | undefined;
  private healthTimer: NodeJS.Timeout | undefined;
  private healthFailures = 0;
  private healthSuccesses = 0;
  private probing = false;
  private connections: UpstreamConnection[] = [];
  settings: PoolSettings;

  constructor(
    readonly host: string,
    readonly port: number,
    settings: PoolSettings,
    private readonly options: UpstreamEndpointOptions,
  ) {
    this.id = `${host}:${port}`;
    this.settings = settings;
  }

  /** Whether new calls may be sent here (not READONLY, not failing health checks; ejection is weighed by the cluster). */
  get available(): boolean {
    return !this.readonly && this.healthy;
  }

  /**
   * Turn active health checking on (or off with undefined): every `intervalMs` a Dubbo
   * heartbeat goes over one of the pool's connections (opening one if needed) and must be
   * answered within `timeoutMs`.
   */
  configureHealthCheck(config: HealthCheckConfig | undefined): void {
    if (JSON.stringify(config) === JSON.stringify(this.healthCheck)) return;
    this.healthCheck = config;
    clearInterval(this.healthTimer);
    this.healthTimer = undefined;
    if (config === undefined) {
      if (!this.healthy) {
        this.healthy = true;
        this.options.onAvailabilityChange(this);
      }
      return;
    }
    this.healthTimer = setInterval(() => void this.probe(), config.intervalMs);
    this.healthTimer.unref();
  }

  private async probe(): Promise<void> {
    const config = this.healthCheck;
    if (config === undefined || this.probing) return;
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
    return this.ejectedUntil > Date.now();
  }

  /** A call succeeded. */
  recordSuccess(): void {
    this.consecutiveErrors = 0;
  }

  /**
   * A call failed at the connection level. After `consecutiveErrors` in a row the endpoint is
   * ejected for baseEjectionTime × the number of times it has been ejected.
   */
  recordFailure(outlier: OutlierDetectionConfig | undefined): void {
    this.consecutiveErrors += 1;
    if (outlier === undefined || this.consecutiveErrors < outlier.consecutiveErrors || this.ejected) return;
    this.ejections += 1;
    this.consecutiveErrors = 0;
    const duration = Math.min(outlier.baseEjectionTimeMs * this.ejections, 300_000);
    this.ejectedUntil = Date.now() + duration;
    this.options.onAvailabilityChange(this);
    clearTimeout(this.ejectionTimer);
    this.ejectionTimer = setTimeout(() => this.options.onAvailabilityChange(this), duration + 1);
    this.ejectionTimer.unref();
  }

  /** Open connections. */
  get openConnections(): number {
    return this.connections.filter((c) => c.isOpen).length;
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
    if (best === undefined || (bestLoad > 0 && connections.length < this.settings.maxConnections)) {
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
        host: this.host, port: this.port, connectTimeoutMs: this.settings.connectTimeoutMs,
        maxPayload: this.options.maxPayload, heartbeatIntervalMs: this.options.heartbeatIntervalMs,
      },
      {
        onOpen: () => {
          stats.gauges.upstream_cx_active += 1;
        },
        onClose: (closed: UpstreamConnection, _error: ProxyError, inFlight: number) => {
          this.connections = this.connections.filter((c) => c !== closed);
          if (closed.opened) stats.gauges.upstream_cx_active -= 1;
          else stats.counters.upstream_cx_connect_fail += 1;
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
    clearTimeout(this.ejectionTimer);
    clearInterval(this.healthTimer);
    for (const connection of this.connections) connection.destroy(reason);
    this.connections = [];
  }
}
