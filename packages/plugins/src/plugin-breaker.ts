import type { PluginCircuitBreakerConfig } from '@dubbo-mesh/config';

/** Where a plugin's breaker is. */
export type PluginBreakerState = 'closed' | 'open' | 'half-open';

/**
 * A plugin's own circuit breaker: `consecutiveFailures` failures in a row open it, and while
 * it is open the plugin is not called (its failure policy applies at once, so a plugin that is
 * down does not add its timeout to every call). After `openFor`, one call probes it
 * (half-open): a success closes the breaker, a failure opens it again. Time is the caller's
 * clock (milliseconds).
 */
export class PluginBreaker {
  private failures = 0;
  private openUntil = 0;
  private probing = false;
  private current: PluginBreakerState = 'closed';
  /** Times it opened. */
  opened = 0;

  constructor(
    private readonly config: PluginCircuitBreakerConfig,
    private readonly now: () => number,
  ) {}

  /** The state now (an open breaker whose time is up reads half-open). */
  get state(): PluginBreakerState {
    if (this.current === 'open' && this.now() >= this.openUntil) return 'half-open';
    return this.current;
  }

  /** When an open breaker lets a probe through (clock ms); 0 when not open. */
  get openUntilMs(): number {
    return this.current === 'open' ? this.openUntil : 0;
  }

  /** Whether a call may go to the plugin now (taking the one probe of a half-open breaker). */
  allow(): boolean {
    if (this.current === 'closed') return true;
    if (this.current === 'open') {
      if (this.now() < this.openUntil) return false;
      this.current = 'half-open';
      this.probing = false;
    }
    if (this.probing) return false;
    this.probing = true;
    return true;
  }

  /** The plugin answered: true when this closed an open (half-open) breaker. */
  success(): boolean {
    this.failures = 0;
    if (this.current === 'closed') return false;
    this.current = 'closed';
    this.probing = false;
    return true;
  }

  /** Close it at once (what failed was replaced: a module that loaded again). */
  reset(): void {
    this.failures = 0;
    this.current = 'closed';
    this.probing = false;
  }

  /** The plugin failed: true when this opened the breaker. */
  failure(): boolean {
    this.failures += 1;
    if (this.current === 'half-open' || (this.current === 'closed' && this.failures >= this.config.consecutiveFailures)) {
      this.current = 'open';
      this.openUntil = this.now() + this.config.openForMs;
      this.probing = false;
      this.opened += 1;
      return true;
    }
    return false;
  }
}
