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
