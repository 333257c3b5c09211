/**
 * A clock read by the hot path where 25 ms resolution is plenty (idle tracking, the retry
 * budget's one-second slots): one timer updates it, instead of a clock call per frame.
 */
let current = Date.now();
const ticker = setInterval(() => {
  current = Date.now();
}, 25);
ticker.unref();

/** Milliseconds since the epoch, at most ~25 ms old. */
export function coarseNow(): number {
  return current;
}
