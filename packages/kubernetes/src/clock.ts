/**
 * The clock the Kubernetes source reads and arms timers through (the shape of the proxy's
 * `Clock`, declared here so this package depends on no application package): backoffs,
 * the watchdog and the debounce run on fake time in tests.
 */
export interface Clock {
  /** Monotonic milliseconds. */
  now(): number;
  /** Run `callback` once after `delayMs`; timers never keep the process alive. */
  setTimer(callback: () => void, delayMs: number): unknown;
  clearTimer(handle: unknown): void;
}

/** Real time: `performance.now()` and unref'd Node timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer(callback, delayMs) {
    const timer = setTimeout(callback, Math.min(Math.max(0, delayMs), 0x7fffffff));
    timer.unref();
    return timer;
  },
  clearTimer(handle) {
    if (handle !== undefined) clearTimeout(handle as NodeJS.Timeout);
  },
};
