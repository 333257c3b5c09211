/** A response this big (a whole snapshot, typically) takes one of the {@link LargeResponseSlots}. */
export const LARGE_RESPONSE_BYTES = 256 * 1024;
/**
 * How many large responses may be unanswered at once, over all streams. Each costs about two
 * copies of its bytes until the transport has sent it; a thousand proxies connecting at once
 * would otherwise hold a thousand whole snapshots in memory.
 */
export const MAX_LARGE_IN_FLIGHT = 16;
/** How long a stream may hold a large-response slot without answering. */
export const LARGE_RESPONSE_ANSWER_MS = 30_000;

/**
 * The limit on large responses in flight, shared by every stream of a discovery server. A
 * stream takes a slot before it sends a large response and gives it back when the proxy
 * answers (or the stream closes, or a timeout); a stream that finds none free waits in line
 * and is called back when one is.
 */
export class LargeResponseSlots {
  private inFlight = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly max = MAX_LARGE_IN_FLIGHT) {}

  /** Take a slot if one is free. */
  tryTake(): boolean {
    if (this.inFlight >= this.max) return false;
    this.inFlight += 1;
    return true;
  }

  /**
   * Be called back when a slot may be free (the callback then tries again). A waiter whose
   * stream has closed does nothing and takes no slot: the next one is called.
   */
  wait(callback: () => void): void {
    this.waiting.push(callback);
  }

  /** Give a slot back, and call waiters while slots are free. */
  give(): void {
    this.inFlight -= 1;
    while (this.inFlight < this.max && this.waiting.length > 0) this.waiting.shift()!();
  }

  /** Slots taken (for tests and metrics). */
  get taken(): number {
    return this.inFlight;
  }
}
