// Every exit code of `dubbo-mesh`, in one place (documented in docs/operations.md).

/** Invalid configuration, or a start-up failure the user can fix (an address in use, an unreadable file). */
export const EXIT_START_UP = 1;
/** A bad invocation: unknown command or flag, a flag value that does not parse. */
export const EXIT_USAGE = 2;
/** A command or source that is not available in this build. */
export const EXIT_UNAVAILABLE = 3;
