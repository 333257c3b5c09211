import {
  BC_INT_ZERO,
  HEADER_LENGTH,
  HessianScanner,
  PayloadTooLargeError,
  ResponseFlag,
  ResponseStatus,
  decodeErrorMessage,
  encodeHessianString,
  isKnownResponseStatus,
  peekRequest,
  requestIdHigh,
  requestIdLow,
  rewriteRequestFrame,
  writeRequestIdWords,
  type Frame,
  type FrameHeader,
  type RequestPeek,
  type WritableScalar,
} from '@dubbo-mesh/protocol';
import { DEFAULT_RETRY_POLICY, type RetryOn, type RetryPolicy } from '@dubbo-mesh/config';
import type { PickContext } from '@dubbo-mesh/load-balancer';
import type { Cluster, ClusterMember } from './cluster.js';
import type { ClusterManager } from './cluster-manager.js';
import type { DownstreamConnection } from './downstream-connection.js';
import type { NodeIdentity } from './call-context.js';
import type { Clock } from './clock.js';
import type { EndpointNarrowing } from './endpoint-narrowing.js';
import {
  FilterFailedError,
  FilterReplyError,
  NoHealthyUpstreamError,
  OverflowError,
  ProxyError,
  ProxyErrorCode,
  RouteTimeoutError,
  capName,
  inboundFailure,
  relayedFailure,
  type ProxyErrorCodeValue,
} from './errors.js';
import { ActiveFilterCall } from './filter-call.js';
import type { FilterOutcome, LocalReply, ProxyFilter } from './filter.js';
import type { SelectedChain } from './filter-chain.js';
import type { ParkedCall } from './downstream-connection.js';
import type { RetryBudget } from './retry-budget.js';
import { drawDestination, drawOtherDestination, formatServiceKey, type RouteDecision, type RouteDestination, type ServiceKeyRewrite } from './routing-table.js';
import type { CounterName, ProxyStats } from './stats.js';
import type { UpstreamCall } from './upstream-connection.js';
import type { UpstreamConnection } from './upstream-connection.js';
import type { TimeoutEntry, TimeoutQueue } from './timeouts.js';

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
  /** This proxy's identity, for the context of filtered calls (absent: the node id is `unknown`). */
  readonly node?: NodeIdentity;
  /**
   * Route a call again by its request as rewritten by filters (the route rules may match the
   * attachments they changed); undefined: no route for it (the call keeps the decision it had).
   */
  readonly reroute?: (peek: RequestPeek) => Rerouted | ProxyError;
  /** The payload limit a request rewritten by filters must stay within (absent: not checked). */
  readonly maxPayload?: number;
}

/** The identity a context reports when its proxy gave none. */
const UNKNOWN_NODE: NodeIdentity = Object.freeze({ id: 'unknown', service: undefined, namespace: undefined, labels: Object.freeze({}), ip: undefined });

/** A call routed again: its decision, and the endpoint narrowings that apply to it. */
export interface Rerouted {
  readonly decision: RouteDecision;
  readonly narrowings: readonly EndpointNarrowing[];
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
  [ProxyErrorCode.UNKNOWN_TARGET_APPLICATION]: 'local_response_unknown_target_application',
  [ProxyErrorCode.NO_HEALTHY_UPSTREAM]: 'local_response_no_healthy_upstream',
  [ProxyErrorCode.CONNECT_FAILURE]: 'local_response_no_healthy_upstream',
  [ProxyErrorCode.UPSTREAM_UNAVAILABLE]: 'local_response_no_healthy_upstream',
  [ProxyErrorCode.APP_NOT_REACHED]: 'local_response_no_healthy_upstream',
  [ProxyErrorCode.APP_LOST]: 'local_response_no_healthy_upstream',
  [ProxyErrorCode.ROUTE_TIMEOUT]: 'local_response_timeout',
  [ProxyErrorCode.OVERFLOW]: 'local_response_overflow',
  [ProxyErrorCode.BAD_REQUEST]: 'local_response_bad_request',
  [ProxyErrorCode.FILTER_REPLY]: 'local_response_filter',
  [ProxyErrorCode.FILTER_FAILED]: 'filter_error',
};

// A relayed response's flag byte: flags 0 and 3 (a business exception) are the compact ints
// BC_INT_ZERO + 0 and + 3 (read from the frame, not a body view: no view per response).
const FLAG_EXCEPTION = BC_INT_ZERO + ResponseFlag.RESPONSE_WITH_EXCEPTION;
const FLAG_EXCEPTION_WITH_ATTACHMENTS = BC_INT_ZERO + ResponseFlag.RESPONSE_WITH_EXCEPTION_WITH_ATTACHMENTS;

/** Reads the head of a rewritten body, to find its service version. */
const versionScanner = new HessianScanner();

/**
 * A request frame sent with another service key: the `group` attachment set (removed for
 * none) and the service version set both in the body's version field and in the `version`
 * attachment (`0.0.0` for none). A Java provider looks the exporter up by the attachments
 * (they override the body's version when it decodes the call), and Dubbo 3 also checks the
 * body's version (`keyWithoutGroup(path, version)`) before it reads the arguments: both must
 * be concrete. Strings define no Hessian state, so replacing the version string leaves every
 * later value's meaning as it was. Throws what `rewriteRequestFrame` throws
 * (`AttachmentRewriteError`, `PayloadTooLargeError`).
 */
function rewriteServiceKey(frame: Buffer, peek: RequestPeek, rewrite: ServiceKeyRewrite, maxPayload: number | undefined): Buffer {
  const version = rewrite.version === '' ? '0.0.0' : rewrite.version;
  const changes = new Map<string, WritableScalar | undefined>([
    ['group', rewrite.group === '' ? undefined : rewrite.group],
    ['version', version],
  ]);
  const rewritten = rewriteRequestFrame(frame, peek, changes, maxPayload);
  // The body starts with the dubbo version and the path, then the service version.
  const scanner = versionScanner.reset(rewritten, HEADER_LENGTH, rewritten.length, HEADER_LENGTH);
  scanner.skipValue();
  scanner.skipValue();
  const start = scanner.position;
  scanner.skipValue();
  const out = Buffer.concat([rewritten.subarray(0, start), encodeHessianString(version), rewritten.subarray(scanner.position)]);
  const bodyLength = out.length - HEADER_LENGTH;
  if (maxPayload !== undefined && bodyLength > maxPayload) throw new PayloadTooLargeError(bodyLength, maxPayload);
  // Header bytes 12-15: the body length, big-endian.
  out.writeUInt32BE(bodyLength, 12);
  return out;
}

/** Whether a phase returned a promise (a thenable from any library counts). */
function isPromiseLike(value: unknown): value is PromiseLike<FilterOutcome> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/** A filter outcome checked: undefined to go on, a local reply, or why the outcome breaks the contract. */
function checkOutcome(outcome: unknown): LocalReply | undefined | string {
  if (outcome === undefined || outcome === null) return undefined;
  if (typeof outcome !== 'object') return `returned ${typeof outcome}, not a local reply or nothing`;
  const { status, message } = outcome as Partial<LocalReply>;
  if (typeof status !== 'number' || !isKnownResponseStatus(status) || status === ResponseStatus.OK)
    return `answered with status ${String(status)}, which is no Dubbo error status`;
  if (typeof message !== 'string') return 'answered with a local reply whose message is not a string';
  return outcome as LocalReply;
}

/** Words of an error a filter threw, for its reply. */
function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

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

/** Whether an attempt failed for its destination alone (no available member, the circuit breaker, not in the config): another destination may take the call. */
function isDestinationFailure(error: ProxyError): boolean {
  return error.code === ProxyErrorCode.NO_HEALTHY_UPSTREAM || error.code === ProxyErrorCode.OVERFLOW;
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
export class ActiveRequest implements UpstreamCall, TimeoutEntry, ParkedCall {
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
  /** The cluster counting the current attempt for the circuit breaker (see `ClusterManager.breakerOf`). */
  private breaker: Cluster | undefined;
  private member: ClusterMember | undefined;
  /** The destination of the current attempt (routed calls). */
  private destination: RouteDestination | undefined;
  /** The endpoint of the latest attempt, kept after release for the access log. */
  private lastEndpointId: string | undefined;
  private readonly startedAt: number;
  private attemptStartedAt = 0;
  /** A retry the policy allowed was refused by the retry budget. */
  private budgetRefused = false;
  /** The consumer's request id, as the two words of the header (restored on the response). */
  private readonly idHigh: number;
  private readonly idLow: number;
  /** From the route; a Dubbo override rule may set them for a route that does not (first attempt). */
  private retries: RetryPolicy;
  private timeoutMs: number;
  /** The call as filters see it, with its filter state: only when a filter or narrowing applies. */
  private call: ActiveFilterCall | undefined;
  /** Tokens of filter awaits handed out so far. */
  private awaitTokens = 0;
  /** The token of the filter await pending, 0 when none is. */
  private awaiting = 0;

  constructor(
    private readonly downstream: DownstreamConnection,
    private readonly frame: Frame,
    private readonly context: RequestContext,
    /** Where the call goes (a route decision taken again after filters changed the attachments). */
    private target: RequestTarget,
    /** The request's peek (routed calls only). */
    private peek?: RequestPeek,
    /** The filters and narrowings that apply (routed calls only; undefined when none does). */
    private chain?: SelectedChain,
  ) {
    this.startedAt = context.clock.now();
    this.idHigh = requestIdHigh(frame.bytes);
    this.idLow = requestIdLow(frame.bytes);
    this.retries = target.kind === 'route' ? (target.retries ?? DEFAULT_RETRY_POLICY) : NO_RETRIES;
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
    if (this.chain === undefined) return this.attempt();
    const target = this.target as RouteDecision;
    this.call = new ActiveFilterCall(this.peek!, target, this.frame.header.twoWay, this.context.node ?? UNKNOWN_NODE, this.downstream);
    this.runRequestFilters(0);
  }

  /** Run the request phase of the filters from `from` on; at the end, the router. */
  private runRequestFilters(from: number): void {
    const filters = this.chain!.request;
    const call = this.call!;
    for (let i = from; i < filters.length; i++) {
      const filter = filters[i]!;
      let outcome: unknown;
      try {
        outcome = filter.onRequest!(call);
      } catch (error) {
        return this.filterFailed(filter, describe(error), error);
      }
      if (isPromiseLike(outcome)) return this.awaitFilter(filter, i, 'request', outcome);
      if (outcome !== undefined && this.onFilterOutcome(filter, outcome)) return;
    }
    this.afterRequestFilters();
  }

  /** The request phase is over: apply the attachment changes, then route. */
  private afterRequestFilters(): void {
    const call = this.call!;
    call.requestPhaseOver = true;
    if (call.changes !== undefined) {
      try {
        const bytes = rewriteRequestFrame(this.frame.bytes, this.peek!, call.changes, this.context.maxPayload);
        // Read again, so the hash key, the narrowings and the access log see what is sent.
        this.peek = call.peek = peekRequest(bytes.subarray(HEADER_LENGTH));
        call.rewritten = bytes;
      } catch (error) {
        // Refused changes (one that would change what a later attachment means, or a body past the payload limit) are named.
        const detail =
          error instanceof PayloadTooLargeError
            ? `the rewritten request body is ${error.bodyLength} bytes, over the payload limit of ${error.maxPayload} bytes`
            : describe(error);
        return this.finish(new FilterFailedError('attachment rewrite', detail, { cause: error }));
      }
      // Filters run before routing: the route rules see the attachments they set (and a
      // consumer's timeout they set counts).
      const rerouted = this.context.reroute?.(this.peek!);
      if (rerouted instanceof ProxyError) return this.finish(rerouted);
      if (rerouted !== undefined && rerouted.decision !== this.target) this.follow(rerouted);
      else this.timeoutMs = this.resolveTimeout();
    }
    this.attempt();
  }

  /**
   * Take another route decision (before the first attempt): its retries and timeout, and the
   * endpoint narrowings that apply to it. The filters stay those the call started with (their
   * response phases answer the request phases that ran).
   */
  private follow({ decision, narrowings }: Rerouted): void {
    // (The same rule of a newer snapshot is no other route: not counted.)
    if (decision.rule !== (this.target as RouteDecision).rule || decision.serviceKey !== this.target.serviceKey)
      this.context.stats.counters.request_rerouted += 1;
    this.target = decision;
    this.call!.decision = decision;
    const chain = this.chain!;
    if (narrowings !== chain.narrowings) this.chain = { request: chain.request, response: chain.response, narrowings };
    this.retries = decision.retries ?? DEFAULT_RETRY_POLICY;
    this.timeoutMs = this.resolveTimeout();
  }

  /** Run the response phase of the filters from `from` on; at the end, deliver the answer. */
  private runResponseFilters(from: number): void {
    const filters = this.chain!.response;
    const call = this.call!;
    const view = call.responseView!;
    for (let i = from; i < filters.length; i++) {
      const filter = filters[i]!;
      let outcome: unknown;
      try {
        outcome = filter.onResponse!(call, view);
      } catch (error) {
        return this.filterFailed(filter, describe(error), error);
      }
      if (isPromiseLike(outcome)) return this.awaitFilter(filter, i, 'response', outcome);
      if (outcome !== undefined && this.onFilterOutcome(filter, outcome)) return;
    }
    const response = call.response!;
    call.response = undefined;
    this.deliver(response, view.endpoint);
  }

  /**
   * A filter's phase returned a promise: the call waits for it under the route timeout, and
   * ends at once if its consumer disconnects meanwhile. Each await has its own token, set
   * before `then` is called: a thenable may settle inside `then` (the settle is used at
   * once), and a settle whose token is no longer current (a thenable calling back twice, or
   * after the call moved on) is ignored.
   */
  private awaitFilter(filter: ProxyFilter, index: number, phase: 'request' | 'response', promise: PromiseLike<FilterOutcome>): void {
    const call = this.call!;
    const token = ++this.awaitTokens;
    this.awaiting = token;
    call.pendingFilter = filter;
    call.pendingPhase = phase;
    if (!this.downstream.park(this)) this.onDownstreamClosed();
    // The request phase counts from the call's start; the response phase gets what is left of its try.
    else this.context.timeouts.add(this, this.remainingMs(phase === 'request' ? this.startedAt : this.attemptStartedAt, this.context.clock.now()));
    // Handlers whatever happened above: a rejection is never left unhandled.
    try {
      promise.then(
        (outcome) => this.onFilterSettled(token, filter, index, phase, outcome, undefined, false),
        (error: unknown) => this.onFilterSettled(token, filter, index, phase, undefined, error, true),
      );
    } catch (error) {
      // A thenable whose then() throws: the phase failed (unless it settled first).
      this.onFilterSettled(token, filter, index, phase, undefined, error, true);
    }
  }

  /**
   * What is left at `now` of the route timeout counted from `since`, rounded up to a whole
   * millisecond: calls with the same timeout then share a few timeout lists instead of one
   * each per fraction of a millisecond of the clock.
   */
  private remainingMs(since: number, now: number): number {
    return Math.max(1, Math.ceil(this.timeoutMs - (now - since)));
  }

  private onFilterSettled(
    token: number,
    filter: ProxyFilter,
    index: number,
    phase: 'request' | 'response',
    outcome: unknown,
    error: unknown,
    failed: boolean,
  ): void {
    if (this.done || token !== this.awaiting) return;
    const call = this.call!;
    this.awaiting = 0;
    call.pendingFilter = undefined;
    call.pendingPhase = undefined;
    this.context.timeouts.cancel(this);
    this.downstream.unpark(this);
    if (failed) return this.filterFailed(filter, describe(error), error);
    if (outcome !== undefined && this.onFilterOutcome(filter, outcome)) return;
    if (phase === 'request') this.runRequestFilters(index + 1);
    else this.runResponseFilters(index + 1);
  }

  /** A filter returned something: a local reply ends the call (true); a broken outcome fails it (true); nothing goes on (false). */
  private onFilterOutcome(filter: ProxyFilter, outcome: unknown): boolean {
    const checked = checkOutcome(outcome);
    if (checked === undefined) return false;
    if (typeof checked === 'string') this.filterFailed(filter, checked, undefined);
    else this.finish(new FilterReplyError(filter.name, checked.status, checked.message));
    return true;
  }

  private filterFailed(filter: { readonly name: string }, detail: string, cause: unknown): void {
    this.finish(new FilterFailedError(`filter ${filter.name}`, detail, cause === undefined ? undefined : { cause }));
  }

  /** The consumer disconnected while a filter was pending: end the call, sending nothing either way. */
  onDownstreamClosed(): void {
    if (this.done) return;
    const call = this.call!;
    this.awaiting = 0;
    call.pendingFilter = undefined;
    call.pendingPhase = undefined;
    call.response = undefined;
    this.context.timeouts.cancel(this);
    this.context.stats.counters.request_abandoned += 1;
    this.complete(ResponseStatus.CHANNEL_INACTIVE, this.lastEndpointId);
  }

  private chooseCluster(): Cluster | ProxyError {
    const target = this.target;
    if (target.kind === 'static') return target.cluster;
    const chosen = target.destinations.length === 1 ? target.destinations[0]! : drawDestination(target, Math.random());
    this.destination = chosen;
    const cluster = this.context.clusters.clusterOf(chosen);
    return cluster === undefined ? this.notInConfig(chosen, target) : this.overridden(cluster, target);
  }

  /**
   * The cluster as Dubbo's override rules make it for this call's key (itself when none is in
   * force). Their retries count for a call whose route sets none, from its first attempt's
   * cluster on; their timeouts, per member, in {@link send}.
   */
  private overridden(cluster: Cluster, target: RouteDecision): Cluster {
    const view = this.context.clusters.withOverrides(cluster, target.serviceKey);
    const overrides = view.callOverrides;
    if (overrides !== undefined && this.attempts === 0 && target.retries === undefined && overrides.retries !== undefined) {
      this.retries = { ...this.retries, attempts: overrides.retries };
    }
    return view;
  }

  private notInConfig(destination: RouteDestination, target: RouteDecision): ProxyError {
    return new NoHealthyUpstreamError(
      `${destination.serviceId}${destination.subset ? `/${destination.subset}` : ''}`,
      `not in the config in force (for ${capName(target.serviceKey)})`,
    );
  }

  /** Pick through the narrowings: each keeps a subset of what the one before kept; the picker is the cluster's for that set. */
  private pickNarrowed(cluster: Cluster, narrowings: readonly EndpointNarrowing[]): ClusterMember | string | ProxyError {
    const call = this.call!;
    let members: readonly ClusterMember[] = cluster.members;
    for (const narrowing of narrowings) {
      let kept: readonly ClusterMember[];
      try {
        kept = narrowing.narrow(call, members, cluster.name);
      } catch (error) {
        return new FilterFailedError(`endpoint narrowing ${narrowing.name}`, describe(error), { cause: error });
      }
      if (!Array.isArray(kept)) return new FilterFailedError(`endpoint narrowing ${narrowing.name}`, 'narrow() returned no array');
      if (kept.length === 0) {
        return new NoHealthyUpstreamError(
          cluster.name,
          narrowing.whyEmpty?.() ??
            `endpoint narrowing ${narrowing.name} kept none of ${members.length === cluster.members.length ? 'its' : 'the'} ${members.length} endpoint${members.length === 1 ? '' : 's'}`,
        );
      }
      members = kept;
    }
    return cluster.pickAmong(members, pickContext, this.context.clusters.epoch);
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
    if (cluster instanceof ProxyError) return this.noDestinationTakes(cluster);
    const member = this.pickIn(cluster);
    if (member instanceof ProxyError) return this.noDestinationTakes(member);
    this.send(cluster, member);
  }

  /** The cluster counting calls for this attempt's circuit breaker: a key cluster's (or an overridden view's) is its service's plain cluster. */
  private breakerOf(cluster: Cluster): Cluster {
    return this.destination?.keyFilter === undefined && cluster.callOverrides === undefined ? cluster : this.context.clusters.breakerOf(cluster);
  }

  /** A member of the cluster for this attempt, or why there is none (the circuit breaker, no available member, a narrowing). */
  private pickIn(cluster: Cluster): ClusterMember | ProxyError {
    const breaker = this.breakerOf(cluster);
    if (breaker.active >= breaker.pool.maxRequests) {
      return new OverflowError(`${breaker.name} has ${breaker.active} calls in flight (maxRequests ${breaker.pool.maxRequests})`);
    }
    pickContext.exclude = this.tried;
    pickContext.hashKey = this.hashKey(cluster);
    const narrowings = this.chain?.narrowings;
    const member =
      narrowings === undefined || narrowings.length === 0 ? cluster.pick(pickContext, this.context.clusters.epoch) : this.pickNarrowed(cluster, narrowings);
    pickContext.hashKey = undefined;
    return typeof member === 'string' ? new NoHealthyUpstreamError(cluster.name, member) : member;
  }

  /**
   * The drawn destination cannot take the call. A call with a wildcard or a group list
   * ({@link RouteDecision.failover}) goes to another of its destinations, drawn by weight among
   * those not tried yet, as a Dubbo consumer reaches any matching provider; it fails, with
   * the first destination's reason, only when none can take it. Any other call fails now.
   */
  private noDestinationTakes(error: ProxyError): void {
    const target = this.target;
    if (target.kind !== 'route' || target.failover !== true || !isDestinationFailure(error)) return this.finish(error);
    const skipped: RouteDestination[] = [this.destination!];
    for (;;) {
      const next = drawOtherDestination(target, skipped, Math.random());
      if (next === undefined) {
        const others = target.destinations.length - 1;
        const detail = `nor could the ${others} other destination${others === 1 ? '' : 's'} of ${capName(target.serviceKey)} take the call`;
        return this.finish(new ProxyError(error.code, error.status, `${error.message} (${detail})`, { cause: error }));
      }
      skipped.push(next);
      this.destination = next;
      const found = this.context.clusters.clusterOf(next);
      const cluster = found === undefined ? undefined : this.overridden(found, target);
      const member = cluster === undefined ? this.notInConfig(next, target) : this.pickIn(cluster);
      if (!(member instanceof ProxyError)) return this.send(cluster!, member);
      if (!isDestinationFailure(member)) return this.finish(member);
    }
  }

  /** Send the call (a new attempt) to a member of a cluster. */
  private send(cluster: Cluster, member: ClusterMember): void {
    // A retry sends a copy: the first attempt's bytes may still sit in a socket buffer.
    const request = this.call?.rewritten ?? this.frame.bytes;
    let bytes: Buffer;
    const rewrite = this.destination?.rewrite;
    if (rewrite === undefined) bytes = this.attempts === 0 ? request : Buffer.from(request);
    else {
      // A call with a wildcard or a group list goes with its provider's concrete key (a new buffer each attempt).
      try {
        bytes = rewriteServiceKey(request, this.peek!, rewrite, this.context.maxPayload);
      } catch (error) {
        const detail =
          error instanceof PayloadTooLargeError
            ? `the body would be ${error.bodyLength} bytes, over the payload limit of ${error.maxPayload} bytes`
            : describe(error);
        const key = formatServiceKey(this.peek!.path, rewrite.group, rewrite.version);
        return this.finish(
          new ProxyError(ProxyErrorCode.BAD_REQUEST, ResponseStatus.BAD_REQUEST, `cannot send the call as ${capName(key)} to ${cluster.name}: ${detail}`, {
            cause: error,
          }),
        );
      }
    }
    // An override rule's timeout is the provider's: it counts for the attempt sent to it.
    const overrides = cluster.callOverrides;
    if (overrides !== undefined && this.target.timeoutMs === undefined) this.timeoutMs = overrides.timeoutsMs?.get(member) ?? this.resolveTimeout();
    this.attempts += 1;
    this.cluster = cluster;
    const breaker = this.breakerOf(cluster);
    this.breaker = breaker;
    this.member = member;
    this.lastEndpointId = member.id;
    cluster.active += 1;
    if (breaker !== cluster) breaker.active += 1;
    member.stats.active += 1;
    // The first attempt starts with the call (no second clock read), unless filters ran first.
    this.attemptStartedAt = this.attempts === 1 && this.call === undefined ? this.startedAt : this.context.clock.now();
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
    // After filters, the first try gets what is left of the route timeout.
    this.context.timeouts.add(this, attempt === 1 && this.call !== undefined ? this.remainingMs(this.startedAt, this.attemptStartedAt) : this.timeoutMs);
  }

  /** Undo the in-flight accounting of the current attempt. */
  private release(): void {
    if (this.member === undefined) return;
    this.member.stats.active -= 1;
    this.cluster!.active -= 1;
    if (this.breaker !== this.cluster) this.breaker!.active -= 1;
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
    member.upstream.recordSuccess(this.context.clock.now() - this.attemptStartedAt);
    const endpointId = member.id;
    this.release();
    const responseFilters = this.chain?.response;
    if (responseFilters === undefined || responseFilters.length === 0) return this.deliver(frame, endpointId);
    const status = frame.header.status;
    const flag = frame.bytes[HEADER_LENGTH];
    const call = this.call!;
    call.response = frame;
    call.responseView = {
      status,
      businessException: status === ResponseStatus.OK && (flag === FLAG_EXCEPTION || flag === FLAG_EXCEPTION_WITH_ATTACHMENTS),
      endpoint: endpointId,
    };
    this.runResponseFilters(0);
  }

  /** Relay the provider's answer to the consumer, with the consumer's own id. */
  private deliver(frame: Frame, endpointId: string): void {
    const bytes = frame.bytes;
    writeRequestIdWords(bytes, this.idHigh, this.idLow);
    const stats = this.context.stats;
    stats.counters.response += 1;
    const status = frame.header.status;
    if (status !== ResponseStatus.OK) stats.counters.response_error += 1;
    // A business exception is a normal response, never retried.
    else if (bytes[HEADER_LENGTH] === FLAG_EXCEPTION || bytes[HEADER_LENGTH] === FLAG_EXCEPTION_WITH_ATTACHMENTS)
      stats.counters.response_business_exception += 1;
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
    const call = this.call;
    const filter = call?.pendingFilter;
    if (filter !== undefined) {
      // A filter still pending when the route timeout passes: the call is answered 31, and
      // whatever the filter says later is ignored.
      const phase = call!.pendingPhase;
      this.awaiting = 0;
      call!.pendingFilter = undefined;
      call!.pendingPhase = undefined;
      call!.response = undefined;
      this.downstream.unpark(this);
      return this.finish(
        new RouteTimeoutError(this.timeoutMs, this.target.serviceKey, this.attempts, `the ${phase} phase of filter ${filter.name} had not finished`),
      );
    }
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
