// Errors of the fake Kubernetes API server. Every refusal is a `Status` object built the way
// k8s.io/apimachinery/pkg/api/errors builds it (message texts, reasons, details), thrown as a
// FakeKubeStatusError so the programmatic API throws what the HTTP API answers.
import { qualifiedResource, type FakeKubeResourceType } from './resource-types.js';

/** A cause inside a `Status`'s details (a field error of a 422). */
export interface FakeKubeStatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

/** The `Status` object (meta/v1) the API server answers every failure with. */
export interface FakeKubeStatus {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message?: string;
  reason?: string;
  details?: { name?: string; group?: string; kind?: string; uid?: string; causes?: FakeKubeStatusCause[]; retryAfterSeconds?: number };
  code?: number;
}

/** Stable codes of the fake API server's errors, one per `Status` reason, plus a type the server does not serve. */
export const FakeKubeErrorCode = {
  BAD_REQUEST: 'DM_ERR_FAKE_KUBE_BAD_REQUEST',
  UNAUTHORIZED: 'DM_ERR_FAKE_KUBE_UNAUTHORIZED',
  FORBIDDEN: 'DM_ERR_FAKE_KUBE_FORBIDDEN',
  NOT_FOUND: 'DM_ERR_FAKE_KUBE_NOT_FOUND',
  METHOD_NOT_ALLOWED: 'DM_ERR_FAKE_KUBE_METHOD_NOT_ALLOWED',
  ALREADY_EXISTS: 'DM_ERR_FAKE_KUBE_ALREADY_EXISTS',
  CONFLICT: 'DM_ERR_FAKE_KUBE_CONFLICT',
  EXPIRED: 'DM_ERR_FAKE_KUBE_EXPIRED',
  UNSUPPORTED_MEDIA_TYPE: 'DM_ERR_FAKE_KUBE_UNSUPPORTED_MEDIA_TYPE',
  INVALID: 'DM_ERR_FAKE_KUBE_INVALID',
  TOO_MANY_REQUESTS: 'DM_ERR_FAKE_KUBE_TOO_MANY_REQUESTS',
  INTERNAL_ERROR: 'DM_ERR_FAKE_KUBE_INTERNAL_ERROR',
  SERVICE_UNAVAILABLE: 'DM_ERR_FAKE_KUBE_SERVICE_UNAVAILABLE',
  TIMEOUT: 'DM_ERR_FAKE_KUBE_TIMEOUT',
  UNKNOWN_TYPE: 'DM_ERR_FAKE_KUBE_UNKNOWN_TYPE',
} as const;
/** One of {@link FakeKubeErrorCode}. */
export type FakeKubeErrorCodeValue = (typeof FakeKubeErrorCode)[keyof typeof FakeKubeErrorCode];

// The reason and error code the real server gives each HTTP status (errors.go's constructors).
const REASONS: Record<number, { reason: string; code: FakeKubeErrorCodeValue }> = {
  400: { reason: 'BadRequest', code: FakeKubeErrorCode.BAD_REQUEST },
  401: { reason: 'Unauthorized', code: FakeKubeErrorCode.UNAUTHORIZED },
  403: { reason: 'Forbidden', code: FakeKubeErrorCode.FORBIDDEN },
  404: { reason: 'NotFound', code: FakeKubeErrorCode.NOT_FOUND },
  405: { reason: 'MethodNotAllowed', code: FakeKubeErrorCode.METHOD_NOT_ALLOWED },
  409: { reason: 'Conflict', code: FakeKubeErrorCode.CONFLICT },
  410: { reason: 'Expired', code: FakeKubeErrorCode.EXPIRED },
  415: { reason: 'UnsupportedMediaType', code: FakeKubeErrorCode.UNSUPPORTED_MEDIA_TYPE },
  422: { reason: 'Invalid', code: FakeKubeErrorCode.INVALID },
  429: { reason: 'TooManyRequests', code: FakeKubeErrorCode.TOO_MANY_REQUESTS },
  500: { reason: 'InternalError', code: FakeKubeErrorCode.INTERNAL_ERROR },
  503: { reason: 'ServiceUnavailable', code: FakeKubeErrorCode.SERVICE_UNAVAILABLE },
  504: { reason: 'Timeout', code: FakeKubeErrorCode.TIMEOUT },
};

/** A refusal of the fake API server: `status` is the `Status` the HTTP API answers with, `httpStatus` its code. */
export class FakeKubeStatusError extends Error {
  readonly code: FakeKubeErrorCodeValue;

  constructor(
    readonly status: FakeKubeStatus,
    readonly httpStatus: number,
  ) {
    super(status.message ?? `HTTP ${httpStatus}`);
    this.name = 'FakeKubeStatusError';
    // By reason first: 409 is both AlreadyExists and Conflict.
    this.code =
      (status.reason === 'AlreadyExists' ? FakeKubeErrorCode.ALREADY_EXISTS : undefined) ?? REASONS[httpStatus]?.code ?? FakeKubeErrorCode.INTERNAL_ERROR;
  }
}

/** An `apiVersion`/`kind` (or path) of a type the fake API server does not serve, from its programmatic API. */
export class FakeKubeUnknownTypeError extends Error {
  readonly code = FakeKubeErrorCode.UNKNOWN_TYPE;

  constructor(message: string) {
    super(message);
    this.name = 'FakeKubeUnknownTypeError';
  }
}

function failure(code: number, message: string, reason: string | undefined, details?: FakeKubeStatus['details']): FakeKubeStatusError {
  const status: FakeKubeStatus = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message };
  if (reason !== undefined && reason !== '') status.reason = reason;
  if (details !== undefined) status.details = details;
  status.code = code;
  return new FakeKubeStatusError(status, code);
}

// details {name, group, kind} as the server fills them: kind is the plural resource, group left out for core.
function resourceDetails(type: FakeKubeResourceType, name: string): NonNullable<FakeKubeStatus['details']> {
  const details: NonNullable<FakeKubeStatus['details']> = { name };
  if (type.group !== '') details.group = type.group;
  details.kind = type.plural;
  return details;
}

/** 404 for a missing object: `pods "x" not found`. */
export function notFound(type: FakeKubeResourceType, name: string): FakeKubeStatusError {
  return failure(404, `${qualifiedResource(type)} "${name}" not found`, 'NotFound', resourceDetails(type, name));
}

/** 404 for a path the server has no resource at. */
export function resourceNotFound(): FakeKubeStatusError {
  return failure(404, 'the server could not find the requested resource', 'NotFound', {});
}

/** 409 for a create of an existing object. */
export function alreadyExists(type: FakeKubeResourceType, name: string): FakeKubeStatusError {
  return failure(409, `${qualifiedResource(type)} "${name}" already exists`, 'AlreadyExists', resourceDetails(type, name));
}

/** 409 for a write with a stale `metadata.resourceVersion` (or a failed precondition, with its own reason text). */
export function conflict(
  type: FakeKubeResourceType,
  name: string,
  why = 'the object has been modified; please apply your changes to the latest version and try again',
): FakeKubeStatusError {
  return failure(409, `Operation cannot be fulfilled on ${qualifiedResource(type)} "${name}": ${why}`, 'Conflict', resourceDetails(type, name));
}

/** 400 with the server's message. */
export function badRequest(message: string): FakeKubeStatusError {
  return failure(400, message, 'BadRequest');
}

/**
 * 422 as `errors.NewInvalid(groupKind, name, fieldErrors)` builds it: the message names the
 * group-kind and every field error, the details carry them as causes.
 */
export function invalid(group: string, kind: string, name: string, causes: Array<{ field: string; message: string; reason?: string }>): FakeKubeStatusError {
  const qualified = group === '' ? kind : `${kind}.${group}`;
  const list = causes.map((cause) => `${cause.field}: ${cause.message}`);
  const message = `${qualified} "${name}" is invalid: ${list.length === 1 ? list[0] : `[${list.join(', ')}]`}`;
  const details: NonNullable<FakeKubeStatus['details']> = {};
  if (name !== '') details.name = name;
  if (group !== '') details.group = group;
  if (kind !== '') details.kind = kind;
  details.causes = causes.map((cause) => ({ reason: cause.reason ?? 'FieldValueInvalid', message: cause.message, field: cause.field }));
  return failure(422, message, 'Invalid', details);
}

/** 410 for a watch (or list) from a resourceVersion older than the history kept: `too old resource version: N (M)`. */
export function expired(message: string): FakeKubeStatusError {
  return failure(410, message, 'Expired');
}

/** 405 for a verb the path does not take. */
export function methodNotAllowed(): FakeKubeStatusError {
  return failure(405, 'the server does not allow this method on the requested resource', 'MethodNotAllowed', {});
}

/** 415 for a body of a media type the endpoint does not take. */
export function unsupportedMediaType(message: string): FakeKubeStatusError {
  return failure(415, message, 'UnsupportedMediaType');
}

/** 500 as `errors.NewInternalError` builds it. */
export function internalError(cause: string): FakeKubeStatusError {
  return failure(500, `Internal error occurred: ${cause}`, 'InternalError', { causes: [{ message: cause }] });
}

/**
 * 500 as the server writes an error that is not an API status (no reason): what it answers a
 * resourceVersion that is not a number, or a resourceVersion on a create.
 */
export function unclassifiedError(message: string): FakeKubeStatusError {
  return failure(500, message, undefined);
}

/** Any status code, with the reason the real server gives it (for injected failures). */
export function statusError(code: number, message?: string): FakeKubeStatusError {
  const known = REASONS[code];
  return failure(code, message ?? `injected failure (HTTP ${code}) by the fake API server`, known?.reason, undefined);
}
