// A closed-loop Dubbo load generator: `connections` sockets, each keeping `inFlight` calls
// outstanding (a new call as soon as one answers), for a fixed duration.
import net from 'node:net';
import { FrameDecoder, encodeRequest, encodeRequestBody } from '@dubbo-mesh/protocol';
import { USER_SERVICE } from '@dubbo-mesh/test-support';

export interface LoadOptions {
  host: string;
  port: number;
  connections: number;
  inFlight: number;
  durationMs: number;
  warmupMs: number;
  /** Called when measuring starts and ends (to sample other processes' CPU). */
  onMeasure?: (phase: 'start' | 'end') => void;
}

export interface LoadResult {
  calls: number;
  errors: number;
  qps: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
}

/** The request apache/dubbo-benchmark's client sends most: getUser(long). */
export function getUserRequest(): Buffer {
  return encodeRequest(
    0n,
    encodeRequestBody({
      path: USER_SERVICE,
      version: '1.0.0',
      method: 'getUser',
      parameterTypes: ['long'],
      arguments: [{ $class: 'long', $: 42 }],
      attachments: { path: USER_SERVICE, interface: USER_SERVICE, version: '1.0.0', timeout: 3000, application: 'bench-consumer' },
    }),
  );
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const template = getUserRequest();
  const latencies = new Float64Array(20_000_000);
  let recorded = 0;
  let errors = 0;
  let measuring = false;
  let stopping = false;
  const sockets: net.Socket[] = [];
  let nextId = 1;

  await Promise.all(
    Array.from(
      { length: options.connections },
      () =>
        new Promise<void>((resolve, reject) => {
          const socket = net.connect(options.port, options.host);
          socket.setNoDelay(true);
          const started = new Map<number, number>();
          const decoder = new FrameDecoder();
          const send = (count: number) => {
            const batch: Buffer[] = [];
            for (let i = 0; i < count; i++) {
              const request = Buffer.from(template);
              const id = nextId++;
              request.writeUInt32BE(id >>> 0, 8);
              request.writeUInt32BE(Math.floor(id / 0x100000000), 4);
              started.set(id, performance.now());
              batch.push(request);
            }
            socket.write(batch.length === 1 ? batch[0]! : Buffer.concat(batch));
          };
          socket.once('connect', () => {
            sockets.push(socket);
            send(options.inFlight);
            resolve();
          });
          socket.once('error', reject);
          socket.on('data', (chunk: Buffer) => {
            decoder.push(chunk);
            let answered = 0;
            for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) {
              const id = frame.bytes.readUInt32BE(4) * 0x100000000 + frame.bytes.readUInt32BE(8);
              const at = started.get(id);
              if (at === undefined) continue;
              started.delete(id);
              if (measuring) {
                if (frame.header.status !== 20) errors += 1;
                else if (recorded < latencies.length) latencies[recorded++] = performance.now() - at;
              }
              answered += 1;
            }
            if (answered > 0 && !stopping) send(answered);
          });
        }),
    ),
  );

  await new Promise((resolve) => setTimeout(resolve, options.warmupMs));
  options.onMeasure?.('start');
  measuring = true;
  const start = performance.now();
  await new Promise((resolve) => setTimeout(resolve, options.durationMs));
  measuring = false;
  const elapsed = performance.now() - start;
  options.onMeasure?.('end');
  stopping = true;
  for (const socket of sockets) socket.destroy();
  const sorted = latencies.slice(0, recorded).sort();
  return {
    calls: recorded,
    errors,
    qps: (recorded / elapsed) * 1000,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    p999Ms: percentile(sorted, 0.999),
  };
}
