import { ResponseStatus, encodeErrorResponse } from '@dubbo-mesh/protocol';

/** Stable codes of the proxy's errors. */
export const ProxyErrorCode = {
  SERVICE_NOT_FOUND: 'DM_ERR_SERVICE_NOT_FOUND',
  NO_HEALTHY_UPSTREAM: 'DM_ERR_NO_HEALTHY_UPSTREAM',
  ROUTE_TIMEOUT: 'DM_ERR_ROUTE_TIMEOUT',
  OVERFLOW: 'DM_ERR_OVERFLOW',
  BAD_REQUEST: 'DM_ERR_BAD_REQUEST',
  CONNECT_FAILURE: 'DM_ERR_CONNECT_FAILURE',
  UPSTREAM_UNAVAILABLE: 'DM_ERR_UPSTREAM_UNAVAILABLE',
  CONFIG: 'DM_ERR_CONFIG',
} as const;
export type ProxyErrorCodeValue = (typeof ProxyErrorCode)[keyof typeof ProxyErrorCode];

/** How every local reply's message starts. */
export const LOCAL_REPLY_PREFIX = 'dubbo-mesh: ';

// How the messages of the failures another proxy may relay start (see relayedFailure).
const NO_HEALTHY_TEXT = 'no healthy instance of ';
const CONNECT_FAILURE_TEXT = 'cannot connect to ';
const UNAVAILABLE_TEXT = 'instance ';
const BECAME_UNAVAILABLE_TEXT = ' became unavailable: ';

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
    return encodeErrorResponse(requestId, this.status, `${LOCAL_REPLY_PREFIX}${this.message}`);
  }
}

/** No mesh service provides the service key (status 60). */
export class ServiceNotFoundError extends ProxyError {
  constructor(serviceKey: string) {
    super(ProxyErrorCode.SERVICE_NOT_FOUND, ResponseStatus.SERVICE_NOT_FOUND, `no mesh service provides ${serviceKey}`);
  }
}

/** The destination has no instance that can take the call (status 70). */
export class NoHealthyUpstreamError extends ProxyError {
  constructor(cluster: string, detail: string) {
    super(ProxyErrorCode.NO_HEALTHY_UPSTREAM, ResponseStatus.SERVICE_ERROR, `${NO_HEALTHY_TEXT}${cluster}: ${detail}`);
  }
}

/** The proxy has no configuration yet (its control plane has not answered): status 70. */
export class NoConfigError extends ProxyError {
  constructor(serviceKey: string) {
    super(ProxyErrorCode.NO_HEALTHY_UPSTREAM, ResponseStatus.SERVICE_ERROR, `no configuration yet, so no route for ${serviceKey}: the proxy is waiting for its first snapshot from the control plane`);
  }
}

/** The route's timeout passed (status 31). */
export class RouteTimeoutError extends ProxyError {
  constructor(timeoutMs: number, serviceKey: string, attempts: number) {
    super(ProxyErrorCode.ROUTE_TIMEOUT, ResponseStatus.SERVER_TIMEOUT, `no response for ${serviceKey} within ${timeoutMs} ms (${attempts} attempt${attempts === 1 ? '' : 's'})`);
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
    super(ProxyErrorCode.CONNECT_FAILURE, ResponseStatus.SERVICE_ERROR, `${CONNECT_FAILURE_TEXT}${endpoint}: ${detail}`);
  }
}

/** The connection to an instance closed with the call in flight: retryable as `unavailable` (status 70 when final). */
export class UpstreamUnavailableError extends ProxyError {
  constructor(endpoint: string, detail: string) {
    super(ProxyErrorCode.UPSTREAM_UNAVAILABLE, ResponseStatus.SERVICE_ERROR, `${UNAVAILABLE_TEXT}${endpoint}${BECAME_UNAVAILABLE_TEXT}${detail}`);
  }
}

/**
 * The instance a call went to is itself a mesh proxy (the sidecar in front of the
 * application) and answered with its own local reply: it could not reach its application.
 * Carries the code of what happened there, so this proxy retries on another instance and
 * counts the failure against that endpoint as if it had seen it itself.
 */
export class RelayedFailureError extends ProxyError {
  constructor(code: typeof ProxyErrorCode.CONNECT_FAILURE | typeof ProxyErrorCode.UPSTREAM_UNAVAILABLE, endpoint: string, answer: string) {
    super(code, ResponseStatus.SERVICE_ERROR, `the proxy at ${endpoint} could not reach its application: ${answer}`);
  }
}

/**
 * Read a status-70 answer of `endpoint` as a relayed failure: a mesh proxy's local reply
 * saying the call never reached its application (connect failure, no instance) or lost its
 * connection there. Anything else, a provider's own error included, is undefined: it is
 * passed to the consumer as it is.
 */
export function relayedFailure(endpoint: string, message: string): RelayedFailureError | undefined {
  if (!message.startsWith(LOCAL_REPLY_PREFIX)) return undefined;
  const answer = message.slice(LOCAL_REPLY_PREFIX.length);
  if (answer.startsWith(CONNECT_FAILURE_TEXT) || answer.startsWith(NO_HEALTHY_TEXT)) return new RelayedFailureError(ProxyErrorCode.CONNECT_FAILURE, endpoint, answer);
  if (answer.startsWith(UNAVAILABLE_TEXT) && answer.includes(BECAME_UNAVAILABLE_TEXT)) return new RelayedFailureError(ProxyErrorCode.UPSTREAM_UNAVAILABLE, endpoint, answer);
  return undefined;
}
