// Timing of one in-process operation, for the micro-benchmarks (peek-vs-decode, rules-per-call).

/** The time of one operation: the median and 99th percentile over batches. */
export interface OperationTime {
  medianNs: number;
  p99Ns: number;
}

/** How an operation is timed. */
export interface TimingOptions {
  /** Calls per timed batch (the clock is read around a batch, not a call). */
  readonly batch: number;
  /** Timed batches. */
  readonly samples: number;
  /** Calls before timing starts (the JIT settles). */
  readonly warmup: number;
}

/** Per-operation time, from `samples` batches of `batch` calls each, after `warmup` calls. */
export function timeOperation(operation: () => unknown, options: TimingOptions): OperationTime {
  for (let i = 0; i < options.warmup; i++) operation();
  const samples: number[] = [];
  for (let s = 0; s < options.samples; s++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < options.batch; i++) operation();
    samples.push(Number(process.hrtime.bigint() - start) / options.batch);
  }
  samples.sort((a, b) => a - b);
  return { medianNs: samples[Math.floor(samples.length / 2)]!, p99Ns: samples[Math.floor(samples.length * 0.99)]! };
}
