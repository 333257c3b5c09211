/**
 * Errors of the control plane, classified by `code` (never by message text). A start-up
 * failure a user can cause carries the cause's own code, so the command line can name the
 * flag and the cause in one line.
 */

/** What a `listen` failure's code means, in plain words. */
const LISTEN_CAUSES: Readonly<Record<string, string>> = {
  EADDRINUSE: 'address already in use',
  EACCES: 'permission denied (a port below 1024 needs privileges)',
  EADDRNOTAVAIL: 'address not available (not an address of this host)',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found (name resolution failed)',
};

/** The control plane could not listen on an address. `code` is the errno code (`EADDRINUSE`, `EACCES`, …). */
export class ListenError extends Error {
  readonly code: string;

  constructor(readonly host: string, readonly port: number, code: string | undefined, options?: { cause?: unknown }) {
    const cause = code === undefined ? undefined : LISTEN_CAUSES[code];
    const detail = cause ?? (options?.cause instanceof Error ? options.cause.message : code ?? 'unknown error');
    super(`cannot listen on ${host}:${port}: ${detail}`, options);
    this.name = 'ListenError';
    this.code = code ?? 'DM_ERR_LISTEN';
  }
}
