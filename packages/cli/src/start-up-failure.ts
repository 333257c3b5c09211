// Start-up failures a user causes and can fix: one line naming the flag and the cause, exit 1,
// never a stack trace (SPEC "Command line"). A stack trace stays for what is a bug of ours.
import { listenCause } from '@dubbo-mesh/config';

/**
 * A start-up failure the user can fix. `main` prints `details` (one line each: every error of
 * an invalid file), then the message, and exits 1 (`EXIT_START_UP`).
 */
export class StartUpError extends Error {
  constructor(
    message: string,
    readonly details: readonly string[] = [],
  ) {
    super(message);
    this.name = 'StartUpError';
  }
}

/** Plain words for the errno codes of reading a file or folder. */
const FILE_CAUSES: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or folder',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  ENOTDIR: 'a part of the path is not a folder',
  ELOOP: 'too many symbolic links',
};

function errnoCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** What the system said about `error`. */
function said(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * A listener that could not bind: `dubbo-mesh proxy: --admin 127.0.0.1:15001: address already
 * in use`. The cause is classified by the error's errno `code`; an error without a known code
 * keeps its own message, so nothing the system said is lost.
 */
export function listenFailure(command: string, flag: string, address: { host: string; port: number }, error: unknown): StartUpError {
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return new StartUpError(`dubbo-mesh ${command}: --${flag} ${host}:${address.port}: ${listenCause(errnoCode(error), said(error))}`);
}

/** Why a file or folder cannot be read, in plain words (`no such file or folder`), else what the system said. */
export function fileCause(error: unknown): string {
  return FILE_CAUSES[errnoCode(error) ?? ''] ?? said(error);
}

/** A file or folder a flag names that cannot be read: `dubbo-mesh proxy: --static mesh.yaml: cannot read: no such file or folder`. */
export function fileFailure(command: string, flag: string, file: string, error: unknown): StartUpError {
  return new StartUpError(`dubbo-mesh ${command}: --${flag} ${file}: cannot read: ${fileCause(error)}`);
}
