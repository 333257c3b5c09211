/**
 * Exponential backoff as the Kubernetes informer contract has it (CONVENTIONS 8): the first
 * retry after `initialMs`, doubling up to `maxMs`, and back to `initialMs` once progress is
 * seen. No jitter: every informer of one control plane backs off on its own schedule already,
 * and tests read exact delays.
 */
export class Backoff {
  private nextMs: number;

  constructor(
    readonly initialMs = 1_000,
    readonly maxMs = 30_000,
  ) {
    this.nextMs = initialMs;
  }

  /** The delay before the next retry; each call doubles the one after, up to the ceiling. */
  next(): number {
    const delay = this.nextMs;
    this.nextMs = Math.min(this.nextMs * 2, this.maxMs);
    return delay;
  }

  /** Progress was made: the next failure waits `initialMs` again. */
  reset(): void {
    this.nextMs = this.initialMs;
  }
}
