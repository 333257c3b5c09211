import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { FrameDecoder, ResponseStatus, decodeErrorMessage, decodeResponseBody, encodeRequest, encodeRequestBody } from '@dubbo-mesh/protocol';
import { USER_SERVICE } from '@dubbo-mesh/dubbo-provider';

/** Latencies kept per window for percentiles. */
const SAMPLE = 100_000;

/** Counts of a traffic window. */
export interface TrafficCounts {
  requests: number;
  errors: number;
  bySubset: Record<string, number>;
  latenciesMs: number[];
  lastError: string | undefined;
}

/** Counts with nothing counted yet. */
export function emptyCounts(): TrafficCounts {
  return { requests: 0, errors: 0, bySubset: {}, latenciesMs: [], lastError: undefined };
}

/** The value at fraction `p` (0–1) of `values` sorted; 0 for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

/**
 * The demo's consumer: a Dubbo client on our protocol package that keeps `inFlight`
 * getUser calls going through the consumer's sidecar, and counts which subset answered (the
 * demo providers name their version in the user they return).
 */
export class TrafficLoop {
  /** Since the start. */
  readonly total = emptyCounts();
  /** Since the last {@link takeWindow}. */
  private window = emptyCounts();
  private socket: net.Socket | undefined;
  private readonly started = new Map<bigint, number>();
  private nextId = 1n;
  private stopped = false;

  constructor(
    private readonly address: { host: string; port: number },
    private readonly inFlight = 8,
    private readonly pauseMs = 2,
  ) {}

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(this.address.port, this.address.host);
      this.socket = socket;
      const decoder = new FrameDecoder();
      socket.once('connect', () => {
        for (let i = 0; i < this.inFlight; i++) this.send();
        resolve();
      });
      socket.once('error', reject);
      socket.on('data', (chunk: Buffer) => {
        decoder.push(chunk);
        for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) {
          if (frame.header.isRequest || frame.header.event) continue;
          const startedAt = this.started.get(frame.header.requestId);
          if (startedAt === undefined) continue;
          this.started.delete(frame.header.requestId);
          this.record(frame.header.status, frame.body, performance.now() - startedAt);
          if (!this.stopped) setTimeout(() => this.send(), this.pauseMs);
        }
      });
    });
  }

  stop(): void {
    this.stopped = true;
    this.socket?.destroy();
  }

  /** The counts since the last call, and start a new window. */
  takeWindow(): TrafficCounts {
    const window = this.window;
    this.window = emptyCounts();
    return window;
  }

  private send(): void {
    if (this.stopped || this.socket === undefined || this.socket.destroyed) return;
    const id = this.nextId++;
    const body = encodeRequestBody({
      path: USER_SERVICE,
      version: '1.0.0',
      method: 'getUser',
      parameterTypes: ['long'],
      arguments: [{ $class: 'long', $: Number(id % 1000n) }],
      attachments: { path: USER_SERVICE, interface: USER_SERVICE, version: '1.0.0', timeout: 3000, application: 'demo-consumer' },
    });
    this.started.set(id, performance.now());
    this.socket.write(encodeRequest(id, body));
  }

  private record(status: number, body: Buffer, latencyMs: number): void {
    let subset: string | undefined;
    let error: string | undefined;
    if (status !== ResponseStatus.OK) error = `status ${status}: ${decodeErrorMessage(body)}`;
    else {
      try {
        const result = decodeResponseBody(body);
        if (result.kind === 'value') subset = String((result.value as { name?: string }).name ?? '').split('-')[0];
        else error = result.kind === 'exception' ? 'a business exception' : 'no value';
      } catch (decodeError) {
        error = (decodeError as Error).message;
      }
    }
    for (const counts of [this.total, this.window]) {
      counts.requests += 1;
      // A uniform sample of at most SAMPLE latencies (reservoir), so a long demo stays small.
      if (counts.latenciesMs.length < SAMPLE) counts.latenciesMs.push(latencyMs);
      else {
        const slot = Math.floor(Math.random() * counts.requests);
        if (slot < SAMPLE) counts.latenciesMs[slot] = latencyMs;
      }
      if (subset !== undefined) counts.bySubset[subset] = (counts.bySubset[subset] ?? 0) + 1;
      else {
        counts.errors += 1;
        counts.lastError = error;
      }
    }
  }
}
