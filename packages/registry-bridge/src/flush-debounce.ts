import type { Clock } from '@dubbo-mesh/leader-election';

/**
 * When a ZooKeeper source rebuilds after changes: `debounceMs` after the last change of a
 * burst, but never later than `maxDelayMs` after its first, so a folder that never stops
 * changing is still published. Time is the injected clock's (tests run it on fake time).
 */
export class FlushDebounce {
  private timer: unknown;
  private firstAt = 0;

  constructor(
    private readonly clock: Clock,
    private readonly debounceMs: number,
    private readonly maxDelayMs: number,
    /** Called when the wait is over. */
    private readonly fire: () => void,
  ) {}

  /** A change: wait `debounceMs` more, within `maxDelayMs` of the burst's first change. */
  schedule(): void {
    const now = this.clock.now();
    if (this.timer === undefined) this.firstAt = now;
    else {
      // Past the longest wait: the timer already armed fires when it must.
      if (now + this.debounceMs > this.firstAt + this.maxDelayMs) return;
      this.clock.clearTimer(this.timer);
    }
    this.timer = this.clock.setTimer(
      () => {
        this.timer = undefined;
        this.fire();
      },
      Math.max(0, Math.min(this.debounceMs, this.firstAt + this.maxDelayMs - now)),
    );
  }

  /** Forget a pending wait (the source flushed by itself, or stops). */
  cancel(): void {
    this.clock.clearTimer(this.timer);
    this.timer = undefined;
  }
}
