import { systemClock, type Clock } from './clock.js';

/**
 * A retry budget over a time window (Finagle's RetryBudget): every call deposits
 * `percent`/100 of a token that lives `ttlSeconds`; every retry withdraws one token, from
 * those deposits or from a reserve of `minRetriesPerSecond` × `ttlSeconds`. Over any window
 * retries stay within `percent` of the calls (plus the reserve), so an outage cannot turn
 * into a retry storm — yet the burst of failures when one instance dies is absorbed.
 */
export class RetryBudget {
  /** Hundredths of a token per slot, so deposits add up exactly. */
  private readonly slots: Float64Array;
  private readonly slotSeconds: Float64Array;

  constructor(
    readonly percent = 20,
    readonly minRetriesPerSecond = 10,
    readonly ttlSeconds = 10,
    private readonly clock: Pick<Clock, 'now'> = systemClock,
  ) {
    this.slots = new Float64Array(ttlSeconds);
    this.slotSeconds = new Float64Array(ttlSeconds).fill(-1);
  }

  /** The clock reading the last slot was found for, and that slot: calls of one burst share a reading, so most reuse it. */
  private lastNow = -1;
  private lastSlot = 0;

  private slot(): number {
    const now = this.clock.now();
    if (now === this.lastNow) return this.lastSlot;
    const second = Math.floor(now / 1000);
    const index = second % this.ttlSeconds;
    if (this.slotSeconds[index] !== second) {
      this.slotSeconds[index] = second;
      this.slots[index] = 0;
    }
    this.lastNow = now;
    this.lastSlot = index;
    return index;
  }

  /** Tokens available now, the reserve included. */
  balance(): number {
    return this.hundredths() / 100;
  }

  private hundredths(): number {
    const second = Math.floor(this.clock.now() / 1000);
    let sum = this.minRetriesPerSecond * this.ttlSeconds * 100;
    for (let i = 0; i < this.ttlSeconds; i++) if (second - this.slotSeconds[i]! < this.ttlSeconds) sum += this.slots[i]!;
    return sum;
  }

  /** A call started. */
  deposit(): void {
    this.slots[this.slot()]! += this.percent;
  }

  /** Take a token for one retry; false when the budget is spent. */
  tryWithdraw(): boolean {
    if (this.hundredths() < 100) return false;
    this.slots[this.slot()]! -= 100;
    return true;
  }
}
