/**
 * What the sidecar logs through: a structured logger with pino's call shape (fields first,
 * then the message), so the command line passes its pino logger and a test passes a
 * recorder. Only the levels the sidecar uses.
 */
export interface SidecarLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}
