// What the control-plane benchmarks read of a running control plane besides its pushes: how
// long it keeps /healthz waiting, its own event-loop delay, and percentiles of what they saw.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../packages/cli/bin/dubbo-mesh.js');

/** A control plane in its own process, its JSON log lines read as they come. */
export interface ControlPlaneProcess {
  readonly child: ChildProcess;
  /** How many log lines were read so far (a later `logLine` may look only after them). */
  readonly lines: number;
  /** The first log line (after the first `after` lines) that `predicate` holds for, once it comes. */
  logLine(predicate: (line: Record<string, unknown>) => boolean, after?: number): Promise<Record<string, unknown>>;
}

/** `dubbo-mesh control-plane --config CONFIG` on free ports, with `nodeArgs` for node (a profiler). */
export function startControlPlaneProcess(configPath: string, nodeArgs: readonly string[] = []): ControlPlaneProcess {
  const child = spawn(
    process.execPath,
    [...nodeArgs, cli, 'control-plane', '--config', configPath, '--grpc', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--log-level', 'info'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const logLines: Array<Record<string, unknown>> = [];
  let buffered = '';
  const waiters: Array<() => void> = [];
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    for (const part of parts) if (part.startsWith('{')) logLines.push(JSON.parse(part) as Record<string, unknown>);
    for (const waiter of waiters.splice(0)) waiter();
  });
  return {
    child,
    get lines() {
      return logLines.length;
    },
    logLine: (predicate, after = 0) =>
      new Promise((resolve) => {
        const check = () => {
          const found = logLines.slice(after).find(predicate);
          if (found) resolve(found);
          else waiters.push(check);
        };
        check();
      }),
  };
}

/**
 * Ask GET /healthz one request at a time until stopped, from a process of its own (so the
 * benchmark's own work — a hundred streams receiving and ACKing — does not count); resolves
 * to the slowest answer in ms. One at a time, on a kept-alive connection: each answer's
 * latency is how long the control plane's event loop was busy with something else.
 */
export function probeHealth(admin: string): { stop(): Promise<{ maxMs: number; probes: number }> } {
  const script = `
    let stopped = false, maxMs = 0, probes = 0;
    process.stdin.on('end', () => (stopped = true));
    process.stdin.resume();
    (async () => {
      while (!stopped) {
        const started = performance.now();
        const response = await fetch('http://${admin}/healthz');
        await response.arrayBuffer();
        if (!response.ok) throw new Error('/healthz answered ' + response.status);
        maxMs = Math.max(maxMs, performance.now() - started);
        probes += 1;
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      process.stdout.write(JSON.stringify({ maxMs, probes }));
    })();`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return {
    async stop() {
      child.stdin!.end();
      await exited;
      return JSON.parse(output) as { maxMs: number; probes: number };
    },
  };
}

/**
 * The control plane's longest event-loop delay since the last scrape, in ms: prom-client's
 * `nodejs_eventloop_lag_max_seconds` (from `monitorEventLoopDelay`, reset at each scrape).
 */
export async function eventLoopMaxMs(admin: string): Promise<number> {
  const text = await (await fetch(`http://${admin}/metrics`)).text();
  const match = /^nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(text);
  return match === null ? NaN : Number(match[1]) * 1000;
}

/** The `p` quantile (0–1) of `values`, nearest rank. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}
