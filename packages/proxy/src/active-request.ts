import { HEADER_LENGTH, ResponseStatus, decodeErrorMessage, requestIdHigh, requestIdLow, writeRequestIdWords, type Frame, type FrameHeader, type RequestPeek } from '@dubbo-mesh/protocol';
import type { RetryOn, RetryPolicy } from '@dubbo-mesh/config';
import type { PickContext } from '@dubbo-mesh/load-balancer';
import type { Cluster, ClusterMember } from './cluster.js';
import type { ClusterManager } from './cluster-manager.js';
import type { DownstreamConnection } from './downstream-connection.js';
import type { Clock } from './clock.js';
import {
  NoHealthyUpstreamError, OverflowError, ProxyError, ProxyErrorCode, RouteTimeoutError, capName, inboundFailure, relayedFailure, type ProxyErrorCodeValue,
} from './errors.js';
import type { RetryBudget } from './retry-budget.js';
import type { RouteDecision } from './routing-table.js';
import type { CounterName, ProxyStats } from './stats.js';
import type { UpstreamCall } from './upstream-connection.js';
import type { UpstreamConnection } from './upstream-connection.js';
import type { TimeoutEntry, TimeoutQueue } from './timeouts.js';

/** Retries when a route names none: Dubbo's failover default, 2 retries, on errors where the call did not complete. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({ attempts: 2, retryOn: Object.freeze(['connect-failure', 'unavailable'] as RetryOn[]) });

/** One line of the access log. */
export interface AccessLogEntry {
  serviceKey: string;
  method: string;
  endpoint: string | undefined;
  status: number;
  durationMs: number;
  attempts: number;
  rule: string | undefined;
}

/** What a call needs from its proxy. */
export interface RequestContext {
  readonly stats: ProxyStats;
  readonly clock: Clock;
  readonly clusters: ClusterManager;
  readonly retryBudget: RetryBudget;
  /** Per-try timeouts of every call. */
  readonly timeouts: TimeoutQueue;
  /** Timeout when neither the route nor the request's `timeout` attachment gives one. */
  readonly defaultTimeoutMs: number;
  readonly onComplete?: (entry: AccessLogEntry) => void;
}

/** Where the call goes: a routed decision, or a fixed cluster (the inbound target). */
export type RequestTarget = RouteDecision | StaticTarget;

/** A fixed cluster (the inbound target): one object per listener, shared by its calls. */
export interface StaticTarget {
  readonly kind: 'static';
  readonly cluster: Cluster;
  readonly serviceKey: string;
  readonly timeoutMs: number | undefined;
}

/** A static target's calls are not retried: the inbound target is one local application. */
const NO_RETRIES: RetryPolicy = Object.freeze({ attempts: 0, retryOn: Object.freeze([] as RetryOn[]) });

/** Reused by every pick (picks are synchronous): no object per call. */
const pickContext: PickContext = { exclude: undefined, hashKey: undefined };

const LOCAL_REPLY_COUNTER: Partial<Record<ProxyErrorCodeValue, CounterName>> = {
  [ProxyErrorCode.SERVICE_NOT_FOUND]: 'local_response_service_not_found',
  [ProxyErrorCode.NO_HEALTHY_UPSTREAM]: 'local_response_no_healthy_upstream',
  [ProxyErrorCode.CONNECT_FAILURE]: 'local_response_no_healthy_upstream',
  [ProxyErrorCode.UPSTREAM_UNAVAILABLE]: 'local_response_no_healthy_upstream',
  [ProxyErrorCode.APP_NOT_REACHED]: 'local_response_no_healthy_upstream',
  [ProxyErrorCode.APP_LOST]: 'local_response_no_healthy_upstream',
  [ProxyErrorCode.ROUTE_TIMEOUT]: 'local_response_timeout',
  [ProxyErrorCode.OVERFLOW]: 'local_response_overflow',
  [ProxyErrorCode.BAD_REQUEST]: 'local_response_bad_request',
};

/**
 * Count a local reply and send it with the consumer's id. A one-way request gets none, as
 * from a Dubbo provider: its consumer waits for nothing, and an answer would be a response
 * to an id it does not know.
 */
export function sendLocalReply(downstream: DownstreamConnection, stats: ProxyStats, header: FrameHeader, error: ProxyError): void {
  const counter = LOCAL_REPLY_COUNTER[error.code];
  if (counter !== undefined) stats.counters[counter] += 1;
  if (header.twoWay) downstream.write(error.toLocalReply(header.requestId));
}

function retryReason(code: ProxyErrorCodeValue): RetryOn | undefined {
  if (code === ProxyErrorCode.CONNECT_FAILURE) return 'connect-failure';
  if (code === ProxyErrorCode.UPSTREAM_UNAVAILABLE) return 'unavailable';
  return undefined;
}

/**
 * One call from a downstream connection: pick a destination and an endpoint, send, and
 * deliver the response with the consumer's own id — or retry on another endpoint, or send a
 * local reply. The router, last in the chain, as Envoy's.
 */
export class ActiveRequest implements UpstreamCall, TimeoutEntry {
  upstreamId = 0;
  timeoutDeadline = 0;
  timeoutPrev: TimeoutEntry | undefined = undefined;
  timeoutNext: TimeoutEntry | undefined = undefined;
  timeoutList: TimeoutEntry['timeoutList'] = undefined;
  private done = false;
  private attempts = 0;
  private tried: Set<string> | undefined;
  /** The connection the current attempt went on. */
  private connection: UpstreamConnection | undefined;
  private cluster: Cluster | undefined;
  private member: ClusterMember | undefined;
  /** The endpoint of the latest attempt, kept after release for the access log. */
  private lastEndpointId: string | undefined;
  private readonly startedAt: number;
  private attemptStartedAt = 0;
  /** A retry the policy allowed was refused by the retry budget. */
  private budgetRefused = false;
  /** The consumer's request id, as the two words of the header (restored on the response). */
  private readonly idHigh: number;
  private readonly idLow: number;
  private readonly retries: RetryPolicy;
  private readonly timeoutMs: number;

  constructor(
    private readonly downstream: DownstreamConnection,
    private readonly frame: Frame,
    private readonly context: RequestContext,
    private readonly target: RequestTarget,
    /** The request's peek (routed calls only). */
    private readonly peek?: RequestPeek,
  ) {
    this.startedAt = context.clock.now();
    this.idHigh = requestIdHigh(frame.bytes);
    this.idLow = requestIdLow(frame.bytes);
    this.retries = target.kind === 'route' ? target.retries ?? DEFAULT_RETRY_POLICY : NO_RETRIES;
    this.timeoutMs = this.resolveTimeout();
  }

  private resolveTimeout(): number {
    const configured = this.target.timeoutMs;
    if (configured !== undefined) return configured;
    if (this.target.kind === 'route') {
      // The consumer's own timeout, as its SDK sent it.
      const sent = this.peek!.attachment('timeout');
      const ms = typeof sent === 'number' ? sent : typeof sent === 'string' ? Number(sent) : NaN;
      if (Number.isFinite(ms) && ms > 0) return ms;
    }
    return this.context.defaultTimeoutMs;
  }

  /** Start the call. */
  start(): void {
    this.context.stats.gauges.request_active += 1;
    this.downstream.active += 1;
    this.context.retryBudget.deposit();
    this.attempt();
  }

  private chooseCluster(): Cluster | ProxyError {
    const target = this.target;
    if (target.kind === 'static') return target.cluster;
    const { destinations, totalWeight, serviceKey } = target;
    let chosen = destinations[0]!;
    if (destinations.length > 1) {
      let offset = Math.random() * totalWeight;
      for (const destination of destinations) {
        offset -= destination.weight;
        if (offset < 0) {
          chosen = destination;
          break;
        }
      }
    }
    const cluster = this.context.clusters.clusterOf(chosen);
    return cluster ?? new NoHealthyUpstreamError(`${chosen.serviceId}${chosen.subset ? `/${chosen.subset}` : ''}`, `not in the config in force (for ${capName(serviceKey)})`);
  }

  private hashKey(cluster: Cluster): (() => string | undefined) | undefined {
    const hashOn = cluster.hashOn;
    const peek = this.peek;
    if (hashOn === undefined || peek === undefined) return undefined;
    return () => {
      if ('attachment' in hashOn) {
        const value = peek.attachment(hashOn.attachment);
        return value === undefined || value === null ? undefined : String(value);
      }
      if (hashOn.argument >= peek.parameterCount) return undefined;
      try {
        const value = peek.decodeArgument(hashOn.argument);
        return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
      } catch {
        return undefined;
      }
    };
  }

  private attempt(): void {
    const cluster = this.chooseCluster();
    if (cluster instanceof ProxyError) return this.finish(cluster);
    if (cluster.active >= cluster.pool.maxRequests) {
      return this.finish(new OverflowError(`${cluster.name} has ${cluster.active} calls in flight (maxRequests ${cluster.pool.maxRequests})`));
    }
    pickContext.exclude = this.tried;
    pickContext.hashKey = this.hashKey(cluster);
    const member = cluster.pick(pickContext, this.context.clusters.epoch);
    pickContext.hashKey = undefined;
    if (typeof member === 'string') return this.finish(new NoHealthyUpstreamError(cluster.name, member));
    // A retry sends a copy: the first attempt's bytes may still sit in a socket buffer.
    const bytes = this.attempts === 0 ? this.frame.bytes : Buffer.from(this.frame.bytes);
    this.attempts += 1;
    this.cluster = cluster;
    this.member = member;
    this.lastEndpointId = member.id;
    cluster.active += 1;
    member.stats.active += 1;
    // The first attempt starts with the call: no second clock read.
    this.attemptStartedAt = this.attempts === 1 ? this.startedAt : this.context.clock.now();
    const attempt = this.attempts;
    let connection: UpstreamConnection;
    try {
      connection = member.upstream.send(bytes, this, this.frame.header.twoWay);
    } catch (error) {
      this.release();
      return this.finish(error instanceof ProxyError ? error : new NoHealthyUpstreamError(cluster.name, String(error)));
    }
    // A connection that fails at once calls onError inside send(), which may already have
    // retried or finished: then this attempt is over.
    if (this.done || this.attempts !== attempt) return;
    this.connection = connection;
    // Backpressure, for one-way calls too: stop reading this consumer while the upstream is full.
    if (connection.saturated) this.downstream.waitFor(connection);
    if (!this.frame.header.twoWay) {
      // One-way: sent (or queued while the connection opens), and nothing comes back.
      this.release();
      this.complete(ResponseStatus.OK);
      return;
    }
    this.context.timeouts.add(this, this.timeoutMs);
  }

  /** Undo the in-flight accounting of the current attempt. */
  private release(): void {
    if (this.member === undefined) return;
    this.member.stats.active -= 1;
    this.cluster!.active -= 1;
    this.member = undefined;
    this.context.timeouts.cancel(this);
  }

  onResponse(frame: Frame): void {
    if (this.done) return;
    const member = this.member!;
    if (frame.header.status === ResponseStatus.SERVICE_ERROR) {
      // A sidecar in front of the instance could not reach its application: fail over as if this proxy had seen it.
      const relayed = relayedFailure(member.id, decodeErrorMessage(frame.body));
      if (relayed !== undefined) {
        this.context.stats.counters.upstream_rq_relayed_failure += 1;
        return this.onError(relayed);
      }
    }
    const elapsed = this.context.clock.now() - this.attemptStartedAt;
    member.stats.ewmaResponseMs = member.stats.ewmaResponseMs === 0 ? elapsed : member.stats.ewmaResponseMs * 0.9 + elapsed * 0.1;
    member.upstream.recordSuccess();
    const endpointId = member.id;
    this.release();
    const bytes = frame.bytes;
    writeRequestIdWords(bytes, this.idHigh, this.idLow);
    const stats = this.context.stats;
    stats.counters.response += 1;
    const status = frame.header.status;
    if (status !== ResponseStatus.OK) stats.counters.response_error += 1;
    // Flags 0 and 3 (a business exception) are compact ints 0x90 and 0x93: a normal response, never retried.
    // Read from the frame, not the body view: no view per response.
    else if (bytes[HEADER_LENGTH] === 0x90 || bytes[HEADER_LENGTH] === 0x93) stats.counters.response_business_exception += 1;
    else stats.counters.response_success += 1;
    this.downstream.write(bytes);
    this.complete(status, endpointId);
  }

  onError(error: ProxyError): void {
    if (this.done) return;
    const member = this.member;
    member?.upstream.recordFailure(this.cluster?.outlierDetection);
    this.release();
    const reason = retryReason(error.code);
    if (reason !== undefined && this.canRetry(reason, member?.id)) return this.retry();
    this.finish(this.budgetRefused ? new ProxyError(error.code, error.status, `${error.message} (${this.budgetText()})`, { cause: error }) : error);
  }

  /** The per-try timeout passed (called by the timeout queue). */
  onTimeout(): void {
    if (this.done) return;
    if (this.member !== undefined) this.connection?.cancel(this.upstreamId);
    const member = this.member;
    member?.upstream.recordFailure(this.cluster?.outlierDetection);
    this.release();
    if (this.canRetry('timeout', member?.id)) return this.retry();
    const serviceKey = this.target.serviceKey;
    this.finish(new RouteTimeoutError(this.timeoutMs, serviceKey, this.attempts, this.budgetRefused ? this.budgetText() : undefined));
  }

  /** Why a retry the route allowed was not made. */
  private budgetText(): string {
    const budget = this.context.retryBudget;
    return `not retried: the retry budget is spent (retries may add ${budget.percent}% to calls, plus ${budget.minRetriesPerSecond} a second)`;
  }

  private canRetry(reason: RetryOn, endpointId: string | undefined): boolean {
    if (this.attempts > this.retries.attempts || !this.retries.retryOn.includes(reason)) return false;
    if (!this.context.retryBudget.tryWithdraw()) {
      this.context.stats.counters.upstream_rq_retry_budget_exhausted += 1;
      this.budgetRefused = true;
      return false;
    }
    if (endpointId !== undefined) (this.tried ??= new Set()).add(endpointId);
    return true;
  }

  private retry(): void {
    this.context.stats.counters.upstream_rq_retry += 1;
    this.attempt();
  }

  /** End with a local reply. */
  private finish(error: ProxyError): void {
    if (this.done) return;
    // An inbound proxy says so when its application did not get the call, for the proxy that sent it.
    const reply = this.target.kind === 'static' ? inboundFailure(error) : error;
    sendLocalReply(this.downstream, this.context.stats, this.frame.header, reply);
    this.complete(error.status, this.lastEndpointId);
  }

  private complete(status: number, endpoint?: string): void {
    this.done = true;
    const stats = this.context.stats;
    stats.gauges.request_active -= 1;
    this.downstream.active -= 1;
    const durationMs = this.context.clock.now() - this.startedAt;
    stats.recordRequestTime(durationMs);
    this.downstream.onRequestDone();
    const onComplete = this.context.onComplete;
    if (onComplete !== undefined) {
      const target = this.target;
      onComplete({
        serviceKey: target.serviceKey,
        method: this.peek?.invokedMethod ?? '',
        endpoint,
        status,
        durationMs,
        attempts: this.attempts,
        rule: target.kind === 'route' ? target.rule : undefined,
      });
    }
  }
}
