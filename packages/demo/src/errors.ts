/**
 * Errors of the demo, classified by `code` (never by message text): start-up failures the
 * command line turns into one line (naming the flag or the file) and an exit code.
 */

/** Stable codes of the demo's errors. */
export const DemoErrorCode = {
  /** The traffic file (or the instances' file the demo wrote) is not valid at start. */
  CONFIG_INVALID: 'DM_ERR_DEMO_CONFIG_INVALID',
  /** The admin API cannot listen on its address. */
  ADMIN_LISTEN: 'DM_ERR_DEMO_ADMIN_LISTEN',
  /** The consumer's proxy got no snapshot from the control plane in time. */
  NO_SNAPSHOT: 'DM_ERR_DEMO_NO_SNAPSHOT',
} as const;
/** One of {@link DemoErrorCode}. */
export type DemoErrorCodeValue = (typeof DemoErrorCode)[keyof typeof DemoErrorCode];

/** Base of the demo's errors. */
export class DemoError extends Error {
  constructor(
    readonly code: DemoErrorCodeValue,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DemoError';
  }
}

/** The demo's config is not valid at start: every error, each naming file, line and field. */
export class DemoConfigInvalidError extends DemoError {
  constructor(
    readonly file: string,
    readonly errors: readonly string[],
  ) {
    super(DemoErrorCode.CONFIG_INVALID, `${file} is not valid (${errors.length} error${errors.length === 1 ? '' : 's'})`);
    this.name = 'DemoConfigInvalidError';
  }
}

/** The admin API cannot listen on `host:port`; `cause` is the system's error (its `code` is the errno code). */
export class DemoAdminListenError extends DemoError {
  constructor(
    readonly host: string,
    readonly port: number,
    cause: unknown,
  ) {
    super(DemoErrorCode.ADMIN_LISTEN, `the admin API cannot listen on ${host}:${port}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'DemoAdminListenError';
  }
}

/** The consumer's proxy got no snapshot from the control plane within `timeoutMs`. */
export class DemoNoSnapshotError extends DemoError {
  constructor(readonly timeoutMs: number) {
    super(DemoErrorCode.NO_SNAPSHOT, `the consumer proxy got no snapshot from the control plane within ${timeoutMs / 1000} s`);
    this.name = 'DemoNoSnapshotError';
  }
}
