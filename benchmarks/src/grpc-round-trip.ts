// The floor under a gRPC plugin row of `bench:proxy --plugin`: the same grpc-js client the
// proxy uses (PluginChannel) calling the same plugin server with the request the
// proxy would send for the benchmark's call, from the benchmark process, with no proxy and no
// Dubbo. What a gRPC plugin adds cannot be less than this round trip.
import type * as grpc from '@grpc/grpc-js';
import { PluginChannel, type PluginRequest } from '@dubbo-mesh/plugins';
import { USER_SERVICE } from '@dubbo-mesh/test-support';
import type { LoadResult } from './load-generator.js';

/** Options of {@link runGrpcRoundTrips}. */
export interface GrpcRoundTripOptions {
  port: number;
  /** Calls in flight (a closed loop: a new call as soon as one answers). */
  concurrency: number;
  durationMs: number;
  warmupMs: number;
  /** The deadline of each call, as the plugin's timeout gives it. */
  timeoutMs: number;
  /** Called when measuring starts and ends (to sample the server's CPU). */
  onMeasure?: (phase: 'start' | 'end') => void;
}

/** What the proxy sends a request-phase plugin for the load generator's getUser call. */
function benchRequest(id: number): PluginRequest {
  return {
    id: String(id),
    tag: '',
    phase: 'REQUEST',
    service: USER_SERVICE,
    group: '',
    version: '1.0.0',
    method: 'getUser',
    attachments: { path: USER_SERVICE, interface: USER_SERVICE, version: '1.0.0', timeout: '3000', application: 'bench-consumer' },
    source_address: '127.0.0.1:40000',
    application: 'bench-consumer',
    status: 0,
  };
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

/** Closed-loop unary Execute calls for warm-up then `durationMs`; latencies of the measured ones; `clientCpuSeconds` is this process's. */
export async function runGrpcRoundTrips(options: GrpcRoundTripOptions): Promise<LoadResult & { clientCpuSeconds: number }> {
  // The proxy's own channel (its client options), held for the run.
  const channel = new PluginChannel(`127.0.0.1:${options.port}`);
  const client = channel.begin();
  const execute = (client as unknown as Record<string, (...args: unknown[]) => grpc.ClientUnaryCall>).Execute!;
  const latencies: number[] = [];
  let errors = 0;
  let measuring = false;
  let stopping = false;
  let nextId = 1;
  const call = () =>
    new Promise<void>((resolve) => {
      const at = performance.now();
      execute.call(client, benchRequest(nextId++), { deadline: Date.now() + options.timeoutMs }, (error: grpc.ServiceError | null) => {
        if (measuring) {
          if (error !== null) errors += 1;
          else latencies.push(performance.now() - at);
        }
        resolve();
      });
    });
  const loops = Array.from({ length: options.concurrency }, async () => {
    while (!stopping) await call();
  });
  await new Promise((resolve) => setTimeout(resolve, options.warmupMs));
  options.onMeasure?.('start');
  const cpuAtStart = process.cpuUsage();
  measuring = true;
  const start = performance.now();
  await new Promise((resolve) => setTimeout(resolve, options.durationMs));
  measuring = false;
  const elapsed = performance.now() - start;
  const cpu = process.cpuUsage(cpuAtStart);
  options.onMeasure?.('end');
  stopping = true;
  await Promise.all(loops);
  channel.close();
  const sorted = Float64Array.from(latencies).sort();
  return {
    calls: sorted.length,
    errors,
    qps: (sorted.length / elapsed) * 1000,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    p999Ms: percentile(sorted, 0.999),
    clientCpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
}
