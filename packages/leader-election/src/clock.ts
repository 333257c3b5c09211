import { performance } from 'node:perf_hooks';

/**
 * The time base of leader election: monotonic milliseconds and timers. Expiry is judged only
 * on this clock (from when this replica last saw the lease change), so a wall-clock jump here
 * or skew between replicas never hands the lease over early. The shape of the proxy's `Clock`,
 * declared here so this mechanism depends on no application package; `FakeClock` of
 * `@dubbo-mesh/test-support` fits it.
 */
export interface Clock {
  /** Monotonic milliseconds (an arbitrary origin; compare readings of one clock only). */
  now(): number;
  /** Run `callback` once, `delayMs` from now; returns a handle for {@link clearTimer}. */
  setTimer(callback: () => void, delayMs: number): unknown;
  /** Cancel a timer; a handle that already fired, or undefined, is ignored. */
  clearTimer(handle: unknown): void;
}

/** Real time: `performance.now()` and unref'd Node timers (an elector alone never keeps a process alive). */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer(callback, delayMs) {
    const timer = setTimeout(callback, Math.min(0x7fffffff, Math.max(0, delayMs)));
    timer.unref();
    return timer;
  },
  clearTimer(handle) {
    if (handle !== undefined) clearTimeout(handle as NodeJS.Timeout);
  },
};
