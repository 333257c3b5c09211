/**
 * Envoy's retry budget: retries in flight may be at most `percent` of the calls in flight
 * (but at least `minConcurrency`), so in an outage retries add at most ~20% load instead of
 * multiplying it.
 */
export class RetryBudget {
  /** Retries in flight. */
  active = 0;

  constructor(
    readonly percent = 20,
    readonly minConcurrency = 3,
  ) {}

  /** Whether one more retry may start, with `requestsActive` calls in flight. */
  allows(requestsActive: number): boolean {
    return this.active < Math.max(this.minConcurrency, (requestsActive * this.percent) / 100);
  }
}
