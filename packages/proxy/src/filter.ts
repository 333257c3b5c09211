import type { RequestPeek, ScalarValue, WritableScalar } from '@dubbo-mesh/protocol';
import type { CallContext } from './call-context.js';
import type { RouteDecision } from './routing-table.js';

/**
 * A filter's answer in place of the provider's: a Dubbo response status that is an error
 * (any of `ResponseStatus` but `OK`, e.g. 70 `SERVICE_ERROR`) and a message. The consumer
 * gets `dubbo-mesh [DM_ERR_FILTER_REPLY]: <filter name>: <message>` with that status, and
 * the proxy counts it (`local_response_filter`).
 */
export interface LocalReply {
  readonly status: number;
  readonly message: string;
}

/**
 * What a filter phase returns: nothing to let the call go on, or a {@link LocalReply} to
 * answer it at once. A promise of either makes the phase asynchronous.
 */
export type FilterOutcome = LocalReply | undefined | void;

/** The provider's answer, as the response phase sees it. */
export interface FilterResponse {
  /** The response status (20 `OK`, or the provider's error status). */
  readonly status: number;
  /** Whether an OK response carries a business exception (a Java exception the method threw). */
  readonly businessException: boolean;
  /** The instance that answered (`host:port`). */
  readonly endpoint: string;
}

/** One routed call, as filters and endpoint narrowings see it. */
export interface FilterCall {
  /**
   * The call's id: one per call, the same in both phases and for every filter, unique in this
   * process (`<random per process>-<counter>`); made when first read.
   */
  readonly id: string;
  /** The request as the consumer sent it: path, version, method, attachments, arguments on demand. */
  readonly peek: RequestPeek;
  /** The route decision the call follows (its `serviceKey`, `rule`, destinations). */
  readonly decision: RouteDecision;
  /** `group/interface:version`. */
  readonly serviceKey: string;
  /** The method invoked (for a generic `$invoke`, the method it names). */
  readonly method: string;
  /** Whether the consumer waits for an answer (a one-way call gets no local reply either). */
  readonly twoWay: boolean;
  /** Who calls, from where, through which proxy; each value read when first asked for. */
  readonly context: CallContext;
  /** An attachment, with the changes filters made so far (`undefined` when absent or removed). */
  attachment(name: string): ScalarValue | undefined;
  /**
   * Every attachment, with the changes filters made so far (a long beyond 2^53 as its decimal
   * string; a map, list or object as an opaque value). The object is the peek's own when no
   * filter changed anything: do not change it.
   */
  attachments(): Readonly<Record<string, ScalarValue>>;
  /**
   * Set an attachment on the request the provider gets (request phase only). Changes are
   * applied once, after the last request filter: the body's attachment map is rewritten and
   * the frame's body length set; argument bytes are copied as they are.
   */
  setAttachment(name: string, value: WritableScalar): void;
  /** Remove an attachment from the request the provider gets (request phase only). */
  removeAttachment(name: string): void;
}

/**
 * A filter on the proxy's call path (Envoy's decoder/encoder filters, small). Filters run
 * in order on the request, before the router picks an instance, and in reverse order on the
 * response. Either phase may be absent; either may return a promise. A filter that throws,
 * rejects, or answers with a non-error status ends the call with status 80 naming it.
 */
export interface ProxyFilter {
  /** Names the filter in replies, logs and errors. */
  readonly name: string;
  /**
   * Whether the filter applies to calls that follow `decision`. Asked once per route
   * decision (a decision is shared by every call of a service key and rule, and replaced
   * with the snapshot) and remembered: keep it cheap, and decide from the decision only.
   * Absent: the filter applies to every routed call.
   */
  appliesTo?(decision: RouteDecision): boolean;
  /** The request phase: go on (return nothing), change attachments, or answer with a local reply. */
  onRequest?(call: FilterCall): FilterOutcome | Promise<FilterOutcome>;
  /** The response phase: see the status; go on, or replace the answer with a local reply. */
  onResponse?(call: FilterCall, response: FilterResponse): FilterOutcome | Promise<FilterOutcome>;
}
