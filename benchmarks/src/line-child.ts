// A child process of a benchmark whose stdout is JSON lines (the control plane's pino log, the
// fake API server's ready line): every line kept, parsed once, waited for with a timeout that
// names what was awaited, and the child killed when the benchmark ends however it ends.
import { spawn, type ChildProcess } from 'node:child_process';

/** One line of a child's stdout, parsed when it is a JSON object. */
export type LogRecord = Record<string, unknown>;

/** A running child with its stdout lines. */
export interface LineChild {
  readonly process: ChildProcess;
  /** Every JSON line so far (other lines are left out). */
  readonly records: LogRecord[];
  /** The first record from index `from` (default 0) on that matches; rejects after `timeoutMs` or when the child exits first. */
  waitFor(predicate: (record: LogRecord) => boolean, what: string, timeoutMs: number, from?: number): Promise<LogRecord>;
  /** Resolves with the exit code (or signal name) when the child exits. */
  readonly exited: Promise<number | string>;
}

const running = new Set<ChildProcess>();

/** Start `node ARGS` with stdout read line by line, stdin a pipe (a child can end when it closes), stderr passed through. */
export function spawnLineChild(nodeArgs: string[], env: NodeJS.ProcessEnv = process.env): LineChild {
  const child = spawn(process.execPath, nodeArgs, { stdio: ['pipe', 'pipe', 'inherit'], env });
  running.add(child);
  const records: LogRecord[] = [];
  const waiters = new Set<() => void>();
  let buffered = '';
  let exitedWith: number | string | undefined;
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => {
      running.delete(child);
      exitedWith = code ?? signal ?? 'unknown';
      resolve(exitedWith);
      for (const waiter of [...waiters]) waiter();
    }),
  );
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    for (const part of parts) {
      if (!part.startsWith('{')) continue;
      try {
        records.push(JSON.parse(part) as LogRecord);
      } catch {
        // A line that only looks like JSON: not a record.
      }
    }
    for (const waiter of [...waiters]) waiter();
  });
  const waitFor = (predicate: (record: LogRecord) => boolean, what: string, timeoutMs: number, from = 0) =>
    new Promise<LogRecord>((resolve, reject) => {
      let scanned = from;
      const done = () => {
        waiters.delete(check);
        clearTimeout(timer);
      };
      const check = () => {
        for (; scanned < records.length; scanned++) {
          if (predicate(records[scanned]!)) {
            done();
            resolve(records[scanned]!);
            return;
          }
        }
        if (exitedWith !== undefined) {
          done();
          reject(new Error(`${what}: the child exited (${exitedWith}) first`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${what}: not within ${timeoutMs} ms`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  return { process: child, records, waitFor, exited };
}

/** Ask a child to stop (SIGTERM, so a `--cpu-prof` child writes its profile), SIGKILL after `graceMs`. */
export async function stopChild(child: LineChild, graceMs: number): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  child.process.kill('SIGTERM');
  const timer = setTimeout(() => child.process.kill('SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(timer);
}

/** SIGKILL every child still running (on exit, on a signal, on a failure). */
export function killChildren(): void {
  for (const child of running) child.kill('SIGKILL');
}
