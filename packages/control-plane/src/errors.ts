/**
 * Errors of the control plane, classified by `code` (never by message text). A start-up
 * failure a user can cause carries the cause's own code, so the command line can name the
 * flag and the cause in one line.
 */
import { listenCause } from '@dubbo-mesh/config';

/** The control plane could not listen on an address. `code` is the errno code (`EADDRINUSE`, `EACCES`, …). */
export class ListenError extends Error {
  readonly code: string;

  constructor(
    readonly host: string,
    readonly port: number,
    code: string | undefined,
    options?: { cause?: unknown },
  ) {
    const said = options?.cause instanceof Error ? options.cause.message : (code ?? 'unknown error');
    super(`cannot listen on ${host}:${port}: ${listenCause(code, said)}`, options);
    this.name = 'ListenError';
    this.code = code ?? 'DM_ERR_LISTEN';
  }
}

/**
 * The admin web page's files cannot be served (a broken installation: the package's `web/`
 * folder is missing or unreadable). Not a listen failure: no flag of the user's is at fault.
 */
export class AdminPageError extends Error {
  readonly code = 'DM_ERR_ADMIN_PAGE';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AdminPageError';
  }
}

/** Stable codes of the control-plane application's start-up failures. */
export const ControlPlaneAppErrorCode = {
  /** A `--config` path cannot be read. */
  CONFIG_UNREADABLE: 'DM_ERR_CONFIG_UNREADABLE',
  /** The config at start is not valid (any invalid file is fatal at start). */
  CONFIG_INVALID: 'DM_ERR_CONFIG_INVALID',
  /** The gRPC server or the admin API cannot listen on its address. */
  LISTEN: 'DM_ERR_CONTROL_PLANE_LISTEN',
  /** A source other than files (Kubernetes, ZooKeeper) cannot start: its server unreachable, access refused, … */
  SOURCE_UNAVAILABLE: 'DM_ERR_SOURCE_UNAVAILABLE',
} as const;
/** One of {@link ControlPlaneAppErrorCode}. */
export type ControlPlaneAppErrorCodeValue = (typeof ControlPlaneAppErrorCode)[keyof typeof ControlPlaneAppErrorCode];

/** Base of the control-plane application's start-up failures, classified by `code`. */
export class ControlPlaneAppError extends Error {
  constructor(
    readonly code: ControlPlaneAppErrorCodeValue,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ControlPlaneAppError';
  }
}

/** A `--config` path cannot be read; `cause` is the system's error (its `code` is the errno code). */
export class ConfigUnreadableError extends ControlPlaneAppError {
  constructor(
    readonly path: string,
    cause: unknown,
  ) {
    super(ControlPlaneAppErrorCode.CONFIG_UNREADABLE, `cannot read ${path}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'ConfigUnreadableError';
  }
}

/** The config at start is not valid: every error, each naming file, line and field. */
export class StartConfigInvalidError extends ControlPlaneAppError {
  constructor(readonly errors: readonly string[]) {
    super(ControlPlaneAppErrorCode.CONFIG_INVALID, `invalid configuration (${errors.length} error${errors.length === 1 ? '' : 's'})`);
    this.name = 'StartConfigInvalidError';
  }
}

/** The gRPC server (`grpc`) or the admin API (`admin`) cannot listen; `cause` is the error with the errno `code`. */
export class ControlPlaneListenError extends ControlPlaneAppError {
  constructor(
    readonly listener: 'grpc' | 'admin',
    readonly address: { readonly host: string; readonly port: number },
    cause: unknown,
  ) {
    super(
      ControlPlaneAppErrorCode.LISTEN,
      `the ${listener === 'grpc' ? 'gRPC server' : 'admin API'} cannot listen on ${address.host}:${address.port}: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
    this.name = 'ControlPlaneListenError';
  }
}

/**
 * A source other than files cannot start (`--kubernetes`: no API server, no credentials, the
 * CRDs not installed, access refused). `flag` names the flag that asked for it, so the command
 * line says `--kubernetes: …` in one line; `message` says the cause and what to do.
 */
export class SourceUnavailableError extends ControlPlaneAppError {
  constructor(
    readonly flag: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(ControlPlaneAppErrorCode.SOURCE_UNAVAILABLE, message, options);
    this.name = 'SourceUnavailableError';
  }
}
