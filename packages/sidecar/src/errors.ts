/**
 * Errors of the sidecar application, classified by `code` (never by message text). Each
 * start-up failure a user can cause says which input it is about (the `--static` path, the
 * admin address), so the command line can name the flag; the cause is kept as `cause`.
 * A listener that cannot bind is the proxy's own `ListenError` (its `listener` says which).
 */

/** Stable codes of the sidecar's errors. */
export const SidecarErrorCode = {
  /** The `--static` file or folder cannot be read. */
  STATIC_UNREADABLE: 'DM_ERR_STATIC_UNREADABLE',
  /** The `--static` config is not valid at start. */
  STATIC_INVALID: 'DM_ERR_STATIC_INVALID',
  /** The admin API cannot listen on its address. */
  ADMIN_LISTEN: 'DM_ERR_ADMIN_LISTEN',
} as const;
/** One of {@link SidecarErrorCode}. */
export type SidecarErrorCodeValue = (typeof SidecarErrorCode)[keyof typeof SidecarErrorCode];

/** Base of the sidecar's errors. */
export class SidecarError extends Error {
  constructor(
    readonly code: SidecarErrorCodeValue,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SidecarError';
  }
}

/** The errno code of `error`, if it has one (`ENOENT`, `EADDRINUSE`, …). */
export function errnoOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The `--static` file or folder cannot be read; `cause` is what the system said (its `code` is the errno code). */
export class StaticConfigUnreadableError extends SidecarError {
  constructor(
    readonly path: string,
    cause: unknown,
  ) {
    super(SidecarErrorCode.STATIC_UNREADABLE, `cannot read ${path}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'StaticConfigUnreadableError';
  }
}

/** The `--static` config is not valid at start: every error, each naming file, line and field. */
export class StaticConfigInvalidError extends SidecarError {
  constructor(
    readonly path: string,
    readonly errors: readonly string[],
  ) {
    super(SidecarErrorCode.STATIC_INVALID, `${path}: invalid configuration (${errors.length} error${errors.length === 1 ? '' : 's'})`);
    this.name = 'StaticConfigInvalidError';
  }
}

/** The admin API cannot listen on `host:port`; `cause` is the system's error (its `code` is the errno code). */
export class AdminListenError extends SidecarError {
  constructor(
    readonly host: string,
    readonly port: number,
    cause: unknown,
  ) {
    super(SidecarErrorCode.ADMIN_LISTEN, `the admin API cannot listen on ${host}:${port}: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
    this.name = 'AdminListenError';
  }
}
