import { pino, type Logger } from 'pino';
import { routeGrpcLogs } from '@dubbo-mesh/discovery';
import type { LogLevel } from './flags.js';

/**
 * The JSON logger of a long-running command (stdout, one object per line), with grpc-js's
 * own diagnostics routed into it: stderr is kept for the one-line errors a user must read.
 */
export function createLogger(level: LogLevel, base: Record<string, string>): Logger {
  const logger = pino({ name: 'dubbo-mesh', level, base });
  // grpc-js's "errors" are diagnostics next to failures the command reports itself: warn.
  routeGrpcLogs((grpcLevel, message) => logger[grpcLevel === 'error' ? 'warn' : grpcLevel]({ grpc: message }, 'grpc-js diagnostic'));
  return logger;
}
