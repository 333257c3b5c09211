import * as grpc from '@grpc/grpc-js';

/** A severity of grpc-js's own diagnostics. */
export type GrpcLogLevel = 'debug' | 'info' | 'error';

/**
 * Send grpc-js's own diagnostics (it writes them to stderr by default, e.g. `E No address
 * added…` next to a bind failure the caller reports itself) to `log` instead, so a process
 * that logs JSON keeps one format and its stderr keeps only what is meant for the user.
 * grpc-js has one logger per process: the last call wins.
 */
export function routeGrpcLogs(log: (level: GrpcLogLevel, message: string) => void): void {
  const line = (args: unknown[]) => args.map((arg) => (typeof arg === 'string' ? arg : String(arg))).join(' ');
  grpc.setLogger({
    debug: (...args: unknown[]) => log('debug', line(args)),
    info: (...args: unknown[]) => log('info', line(args)),
    error: (...args: unknown[]) => log('error', line(args)),
  });
}
