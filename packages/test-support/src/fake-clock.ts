/**
 * A fake clock for timing logic under test: time moves only when the test says so, so
 * deadlines, backoffs and sweeps are exact and a loaded machine cannot make a test late.
 * It has the shape of the proxy's `Clock` (now, setTimer, clearTimer) without importing
 * it: test-support depends on no application package.
 */
export class FakeClock {
  private current: number;
  private nextId = 1;
  private readonly timers = new Map<number, { at: number; seq: number; callback: () => void }>();

  constructor(start = 1_000) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimer(callback: () => void, delayMs: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.current + Math.max(0, delayMs), seq: id, callback });
    return id;
  }

  clearTimer(handle: unknown): void {
    if (typeof handle === 'number') this.timers.delete(handle);
  }

  /** Timers armed and not yet fired. */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** When the earliest timer fires, or undefined when none is armed. */
  get nextTimerAt(): number | undefined {
    let earliest: number | undefined;
    for (const timer of this.timers.values()) if (earliest === undefined || timer.at < earliest) earliest = timer.at;
    return earliest;
  }

  /**
   * Move time forward by `ms`, firing every timer that falls due on the way, in deadline
   * order (ties in the order they were armed), each with `now()` at its own deadline.
   * Timers armed by a callback fire too if they fall due within the step.
   */
  advance(ms: number): void {
    const end = this.current + ms;
    for (;;) {
      let due: { id: number; at: number; seq: number; callback: () => void } | undefined;
      for (const [id, timer] of this.timers) {
        if (timer.at > end) continue;
        if (due === undefined || timer.at < due.at || (timer.at === due.at && timer.seq < due.seq)) due = { id, ...timer };
      }
      if (due === undefined) break;
      this.timers.delete(due.id);
      this.current = Math.max(this.current, due.at);
      due.callback();
    }
    this.current = end;
  }
}
