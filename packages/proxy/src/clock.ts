import { performance } from 'node:perf_hooks';

/**
 * The proxy's one clock: every deadline, age and duration the proxy computes is read from a
 * `Clock`, and every timer it arms is armed through it, so that one time base is used
 * everywhere (monotonic milliseconds: wall-clock jumps never expire calls or end ejections)
 * and tests run timing logic on fake time ({@link Clock} is small on purpose so a fake is
 * honest: see `FakeClock` in `@dubbo-mesh/test-support`).
 */
export interface Clock {
  /** Monotonic milliseconds (an arbitrary origin; compare readings of one clock only). */
  now(): number;
  /**
   * Run `callback` once, `delayMs` from now. Timers never keep the process alive. Returns a
   * handle for {@link clearTimer}.
   */
  setTimer(callback: () => void, delayMs: number): unknown;
  /** Cancel a timer; a handle that already fired, or undefined, is ignored. */
  clearTimer(handle: unknown): void;
}

/** The longest delay a Node timer takes (~24.8 days); longer ones are capped to it. */
export const MAX_TIMER_MS = 0x7fffffff;

let reading = 0;
let fresh = false;
const markStale = (): void => {
  fresh = false;
};

/**
 * Monotonic milliseconds, read at most once per synchronous burst (one received chunk, one
 * timer callback): every call handled in that burst shares the reading, and a microtask marks
 * it stale when the burst ends, so a reading is never carried into a later event.
 */
export function monotonicNow(): number {
  if (!fresh) {
    reading = performance.now();
    fresh = true;
    queueMicrotask(markStale);
  }
  return reading;
}

/** Real time: {@link monotonicNow} and unref'd Node timers. */
export const systemClock: Clock = {
  now: monotonicNow,
  setTimer(callback, delayMs) {
    const timer = setTimeout(callback, Math.min(MAX_TIMER_MS, Math.max(0, delayMs)));
    timer.unref();
    return timer;
  },
  clearTimer(handle) {
    if (handle !== undefined) clearTimeout(handle as NodeJS.Timeout);
  },
};

/** A monotonic reading of `clock` as wall-clock time (for showing deadlines to people). */
export function toWallClock(clock: Clock, monotonicMs: number): Date {
  return new Date(Date.now() + (monotonicMs - clock.now()));
}
