// A logger for the applications' tests: it records every line and lets a test wait for one.

/** What the applications log through: pino's call shape (fields, then the message). */
export interface RecordingLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/** One recorded log line. */
export interface LogLine {
  level: 'info' | 'warn' | 'error';
  message: string;
  fields: Record<string, unknown>;
}

/** A pino-shaped logger (what the applications take) that keeps every line; `waitFor` resolves on the first line (past or future) that matches. */
export function recordingLogger(): RecordingLogger & { lines: LogLine[]; waitFor(predicate: (line: LogLine) => boolean): Promise<LogLine> } {
  const lines: LogLine[] = [];
  const waiters: Array<{ predicate: (line: LogLine) => boolean; resolve: (line: LogLine) => void }> = [];
  const record = (level: LogLine['level']) => (fields: Record<string, unknown>, message: string) => {
    const line = { level, message, fields };
    lines.push(line);
    for (const waiter of [...waiters]) {
      if (!waiter.predicate(line)) continue;
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(line);
    }
  };
  return {
    lines,
    info: record('info'),
    warn: record('warn'),
    error: record('error'),
    // No deadline of its own: the test's timeout is the failure detector.
    waitFor: (predicate) =>
      new Promise((resolve) => {
        const seen = lines.find(predicate);
        if (seen !== undefined) resolve(seen);
        else waiters.push({ predicate, resolve });
      }),
  };
}
