import { listenCause } from '@dubbo-mesh/config';
import { ResponseStatus, encodeErrorResponse } from '@dubbo-mesh/protocol';

/** Stable codes of the proxy's errors. */
export const ProxyErrorCode = {
  SERVICE_NOT_FOUND: 'DM_ERR_SERVICE_NOT_FOUND',
  /** The call's `target-application` attachment names no host of a DubboIngress (an Ingress of class dubbo): status 60. */
  UNKNOWN_TARGET_APPLICATION: 'DM_ERR_UNKNOWN_TARGET_APPLICATION',
  NO_HEALTHY_UPSTREAM: 'DM_ERR_NO_HEALTHY_UPSTREAM',
  ROUTE_TIMEOUT: 'DM_ERR_ROUTE_TIMEOUT',
  OVERFLOW: 'DM_ERR_OVERFLOW',
  BAD_REQUEST: 'DM_ERR_BAD_REQUEST',
  CONNECT_FAILURE: 'DM_ERR_CONNECT_FAILURE',
  UPSTREAM_UNAVAILABLE: 'DM_ERR_UPSTREAM_UNAVAILABLE',
  /** An inbound sidecar could not hand the call to its application: the call did not run. */
  APP_NOT_REACHED: 'DM_ERR_APP_NOT_REACHED',
  /** An inbound sidecar lost its application's connection with the call in flight: it may have run. */
  APP_LOST: 'DM_ERR_APP_LOST',
  CONFIG: 'DM_ERR_CONFIG',
  /** A filter answered the call itself, with its own status (see docs/plugins.md). */
  FILTER_REPLY: 'DM_ERR_FILTER_REPLY',
  /** A filter or an endpoint narrowing threw, rejected, or answered with a status that is no error status: status 80. */
  FILTER_FAILED: 'DM_ERR_FILTER_FAILED',
} as const;
export type ProxyErrorCodeValue = (typeof ProxyErrorCode)[keyof typeof ProxyErrorCode];

/**
 * A listener could not bind its address (a start-up failure the user causes). `listener`
 * names which one, so the command line can name its flag; `code` is the errno code.
 */
export class ListenError extends Error {
  readonly code: string;
  constructor(
    readonly listener: 'outbound' | 'inbound' | 'gateway',
    readonly address: string,
    cause: NodeJS.ErrnoException,
  ) {
    const code = cause.code ?? 'UNKNOWN';
    super(`cannot listen on ${address}: ${listenCause(code, cause.message)}`, { cause });
    this.name = 'ListenError';
    this.code = code;
  }
}

/** How every local reply's message starts: `dubbo-mesh [DM_ERR_…]: what happened`. */
export const LOCAL_REPLY_PREFIX = 'dubbo-mesh [';

/** The wire form of a local reply: the code in brackets is the machine-readable part (docs/operations.md). */
const LOCAL_REPLY_PATTERN = /^dubbo-mesh \[(DM_ERR_[A-Z_]+)\]: /;

/** The longest name (service key, method, address) a message repeats; longer ones are cut. */
export const MAX_NAME_IN_MESSAGE = 256;

/**
 * `name` as a message may repeat it: names come from consumers, and a 100 KB service path
 * must not come back in every error reply and log line.
 */
export function capName(name: string, max = MAX_NAME_IN_MESSAGE): string {
  return name.length <= max ? name : `${name.slice(0, max)}…(${name.length - max} more characters)`;
}

/** Base of the proxy's errors. An error that ends a call knows the Dubbo status it is sent as. */
export class ProxyError extends Error {
  constructor(
    readonly code: ProxyErrorCodeValue,
    /** The response status of the local reply. */
    readonly status: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }

  /** This error as a Dubbo error response carrying the consumer's own request id. */
  toLocalReply(requestId: bigint): Buffer {
    return encodeErrorResponse(requestId, this.status, `${LOCAL_REPLY_PREFIX}${this.code}]: ${this.message}`);
  }
}

/** No mesh service provides the service key (status 60). */
export class ServiceNotFoundError extends ProxyError {
  constructor(serviceKey: string) {
    super(ProxyErrorCode.SERVICE_NOT_FOUND, ResponseStatus.SERVICE_NOT_FOUND, `no mesh service provides ${capName(serviceKey)}`);
  }
}

/**
 * The call names a target application (its `target-application` attachment) that no Ingress
 * of class dubbo serves (status 60, as for an unknown service key: the consumer asked for
 * something the mesh does not have). The call is not routed by its service key instead: it
 * asked for that application.
 */
export class UnknownTargetApplicationError extends ProxyError {
  constructor(readonly targetApplication: string) {
    super(
      ProxyErrorCode.UNKNOWN_TARGET_APPLICATION,
      ResponseStatus.SERVICE_NOT_FOUND,
      `no Ingress of class dubbo serves target-application ${JSON.stringify(capName(targetApplication))}`,
    );
  }
}

/** A filter's local reply: the status it chose, its message after the filter's name. */
export class FilterReplyError extends ProxyError {
  constructor(filter: string, status: number, message: string) {
    super(ProxyErrorCode.FILTER_REPLY, status, `${filter}: ${message}`);
  }
}

/** A filter or endpoint narrowing failed (threw, rejected, broke its contract): status 80, naming it. */
export class FilterFailedError extends ProxyError {
  constructor(filter: string, detail: string, options?: { cause?: unknown }) {
    super(ProxyErrorCode.FILTER_FAILED, ResponseStatus.SERVER_ERROR, `${filter} failed: ${detail}`, options);
  }
}

/** The destination has no instance that can take the call (status 70). */
export class NoHealthyUpstreamError extends ProxyError {
  constructor(cluster: string, detail: string) {
    super(ProxyErrorCode.NO_HEALTHY_UPSTREAM, ResponseStatus.SERVICE_ERROR, `no healthy instance of ${cluster}: ${detail}`);
  }
}

/** The proxy has no configuration yet (its control plane has not answered): status 70. */
export class NoConfigError extends ProxyError {
  constructor(serviceKey: string) {
    super(
      ProxyErrorCode.NO_HEALTHY_UPSTREAM,
      ResponseStatus.SERVICE_ERROR,
      `no configuration yet, so no route for ${capName(serviceKey)}: the proxy is waiting for its first snapshot from the control plane`,
    );
  }
}

/** The route's timeout passed (status 31). `why` says why no further attempt was made, when it was not the policy. */
export class RouteTimeoutError extends ProxyError {
  constructor(timeoutMs: number, serviceKey: string, attempts: number, why?: string) {
    super(
      ProxyErrorCode.ROUTE_TIMEOUT,
      ResponseStatus.SERVER_TIMEOUT,
      `no response for ${capName(serviceKey)} within ${timeoutMs} ms (${attempts} attempt${attempts === 1 ? '' : 's'}${why === undefined ? '' : `; ${why}`})`,
    );
  }
}

/** A connection-pool or circuit-breaker limit (status 100). */
export class OverflowError extends ProxyError {
  constructor(detail: string) {
    super(ProxyErrorCode.OVERFLOW, ResponseStatus.SERVER_THREADPOOL_EXHAUSTED_ERROR, detail);
  }
}

/** A request the proxy cannot read (status 40). */
export class BadRequestError extends ProxyError {
  constructor(detail: string, options?: { cause?: unknown }) {
    super(ProxyErrorCode.BAD_REQUEST, ResponseStatus.BAD_REQUEST, `cannot decode request: ${detail}`, options);
  }
}

/** Connecting to an instance failed or timed out: retryable as `connect-failure` (status 70 when final). */
export class ConnectFailureError extends ProxyError {
  constructor(endpoint: string, detail: string) {
    super(ProxyErrorCode.CONNECT_FAILURE, ResponseStatus.SERVICE_ERROR, `cannot connect to ${endpoint}: ${detail}`);
  }
}

/** The connection to an instance closed with the call in flight: retryable as `unavailable` (status 70 when final). */
export class UpstreamUnavailableError extends ProxyError {
  constructor(endpoint: string, detail: string) {
    super(ProxyErrorCode.UPSTREAM_UNAVAILABLE, ResponseStatus.SERVICE_ERROR, `instance ${endpoint} became unavailable: ${detail}`);
  }
}

/**
 * An inbound proxy could not hand a call to its application (connect failure, no
 * instance: the call did not run) or lost the connection with the call in flight (it may
 * have run). Its code (`DM_ERR_APP_NOT_REACHED` / `DM_ERR_APP_LOST`) goes on the wire in the
 * reply, so the proxy that sent the call can tell it from any other error by code, never by
 * message text (see {@link relayedFailure}).
 */
export class ApplicationUnreachableError extends ProxyError {
  constructor(cause: ProxyError) {
    const lost = cause.code === ProxyErrorCode.UPSTREAM_UNAVAILABLE;
    super(
      lost ? ProxyErrorCode.APP_LOST : ProxyErrorCode.APP_NOT_REACHED,
      ResponseStatus.SERVICE_ERROR,
      `the application behind the inbound proxy ${lost ? 'lost' : 'did not get'} the call: ${cause.message}`,
      { cause },
    );
  }
}

/** The failure of an inbound call as the inbound proxy answers it: application failures are marked, the rest as they are. */
export function inboundFailure(error: ProxyError): ProxyError {
  const code = error.code;
  if (code === ProxyErrorCode.CONNECT_FAILURE || code === ProxyErrorCode.NO_HEALTHY_UPSTREAM || code === ProxyErrorCode.UPSTREAM_UNAVAILABLE)
    return new ApplicationUnreachableError(error);
  return error;
}

/**
 * The instance a call went to is a sidecar, and it answered that its application did not
 * get the call or lost it. Carries the code of what happened there, so this proxy retries
 * on another instance (under the route's `retryOn`) and counts the failure against that
 * endpoint as if it had seen it itself.
 */
export class RelayedFailureError extends ProxyError {
  constructor(code: typeof ProxyErrorCode.CONNECT_FAILURE | typeof ProxyErrorCode.UPSTREAM_UNAVAILABLE, endpoint: string, detail: string) {
    super(code, ResponseStatus.SERVICE_ERROR, `the sidecar at ${endpoint} answered: ${detail}`);
  }
}

/**
 * Read a status-70 answer from `endpoint` as a relayed failure: only an inbound proxy's
 * {@link ApplicationUnreachableError}, recognised by its wire code. Anything else (a
 * provider's own error, or a routing proxy's or gateway's final error, which already
 * retried) is undefined and passed to the consumer as it is, so retries never multiply
 * across hops.
 */
export function relayedFailure(endpoint: string, message: string): RelayedFailureError | undefined {
  if (message.startsWith(LEGACY_PREFIX)) return legacyRelayedFailure(endpoint, message.slice(LEGACY_PREFIX.length));
  if (!message.startsWith(LOCAL_REPLY_PREFIX)) return undefined;
  const match = LOCAL_REPLY_PATTERN.exec(message);
  if (match === null) return undefined;
  const code = match[1];
  const detail = message.slice(match[0].length);
  if (code === ProxyErrorCode.APP_NOT_REACHED) return new RelayedFailureError(ProxyErrorCode.CONNECT_FAILURE, endpoint, detail);
  if (code === ProxyErrorCode.APP_LOST) return new RelayedFailureError(ProxyErrorCode.UPSTREAM_UNAVAILABLE, endpoint, detail);
  return undefined;
}

// Sidecars before the codes went on the wire (0.1.0) said it in words only. Read for one
// release, so a rolling upgrade keeps failing over between old and new sidecars.
const LEGACY_PREFIX = 'dubbo-mesh: ';
const LEGACY_NOT_REACHED = 'the application behind the inbound proxy did not get the call: ';
const LEGACY_LOST = 'the application behind the inbound proxy lost the call: ';

function legacyRelayedFailure(endpoint: string, answer: string): RelayedFailureError | undefined {
  if (answer.startsWith(LEGACY_NOT_REACHED) || answer.startsWith(LEGACY_LOST)) {
    return new RelayedFailureError(answer.startsWith(LEGACY_LOST) ? ProxyErrorCode.UPSTREAM_UNAVAILABLE : ProxyErrorCode.CONNECT_FAILURE, endpoint, answer);
  }
  return undefined;
}
