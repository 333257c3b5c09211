import { systemClock, type Clock } from './clock.js';
import { LeaderElectionConfigError } from './errors.js';
import type { LeaseLock } from './lease-lock.js';

/**
 * client-go's jitter factor: a candidate waits between `retryPeriodMs` and
 * `retryPeriodMs × (1 + JITTER_FACTOR)` between tries, so candidates started together spread
 * out; and a renewal deadline must leave room for at least one jittered retry.
 */
export const JITTER_FACTOR = 1.2;

/** How an elector logs: the control plane's log shape (level, message, fields). */
export type LeaderElectionLog = (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;

/** Options of a LeaderElector; the timing defaults are client-go's (and kube-controller-manager's). */
export interface LeaderElectorOptions {
  /** Where the lease lives. */
  lock: LeaseLock;
  /** This candidate's name in the lease (a pod name); must be unique among the candidates. */
  identity: string;
  /**
   * How long a candidate waits, from when it last saw the lease change, before it takes a held
   * lease over; written into the lease as `leaseDurationSeconds`, so a whole number of seconds.
   */
  leaseDurationMs?: number;
  /** How long a leader keeps leading while its renewals fail: from the start of its last successful renewal. */
  renewDeadlineMs?: number;
  /** How long a candidate waits between tries to acquire (jittered), and a leader between renewals. */
  retryPeriodMs?: number;
  /** Monotonic time and timers; all expiry is judged on it. Defaults to real time. */
  clock?: Clock;
  /** The times written into the lease (informative only; never compared with our clock). Defaults to `new Date()`. */
  wallClock?: () => Date;
  /** On `stop()`, hand the lease back (holder '', duration 1 s) so another candidate takes it at its next try. Default true. */
  releaseOnStop?: boolean;
  /** Jitter source, a number in [0, 1); defaults to `Math.random` (tests pass a fixed one). */
  random?: () => number;
  /** Where to log acquisitions, step-downs and lock failures. */
  log?: LeaderElectionLog;
}

/** {@link LeaderElectorOptions} checked, with every default filled in. */
export interface ResolvedLeaderElectorOptions {
  readonly lock: LeaseLock;
  readonly identity: string;
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly clock: Clock;
  readonly wallClock: () => Date;
  readonly releaseOnStop: boolean;
  readonly random: () => number;
  readonly log: LeaderElectionLog;
}

/** client-go's defaults: 15 s lease, 10 s renew deadline, 2 s retry period. */
export const DEFAULT_LEASE_DURATION_MS = 15_000;
/** See {@link DEFAULT_LEASE_DURATION_MS}. */
export const DEFAULT_RENEW_DEADLINE_MS = 10_000;
/** See {@link DEFAULT_LEASE_DURATION_MS}. */
export const DEFAULT_RETRY_PERIOD_MS = 2_000;

/**
 * Check `options` and fill in the defaults. Every broken rule is reported at once, each
 * message naming the option; the rules are client-go's: leaseDurationMs > renewDeadlineMs >
 * retryPeriodMs × 1.2 > 0 (a leader must step down before any candidate can judge its lease
 * expired, and must get more than one jittered try before it does).
 */
export function resolveLeaderElectorOptions(options: LeaderElectorOptions): ResolvedLeaderElectorOptions {
  const errors: string[] = [];
  const leaseDurationMs = options.leaseDurationMs ?? DEFAULT_LEASE_DURATION_MS;
  const renewDeadlineMs = options.renewDeadlineMs ?? DEFAULT_RENEW_DEADLINE_MS;
  const retryPeriodMs = options.retryPeriodMs ?? DEFAULT_RETRY_PERIOD_MS;
  const lock = options.lock as Partial<LeaseLock> | undefined;
  if (lock === undefined || lock === null || typeof lock.get !== 'function' || typeof lock.create !== 'function' || typeof lock.update !== 'function') {
    errors.push('lock: must be a LeaseLock (describe, get, create, update)');
  }
  if (typeof options.identity !== 'string' || options.identity === '') errors.push('identity: must be a non-empty string');
  const positive = (name: string, value: number): boolean => {
    if (typeof value === 'number' && Number.isFinite(value) && value > 0) return true;
    errors.push(`${name}: must be a number of milliseconds greater than 0, got ${String(value)}`);
    return false;
  };
  const leaseOk = positive('leaseDurationMs', leaseDurationMs);
  const renewOk = positive('renewDeadlineMs', renewDeadlineMs);
  const retryOk = positive('retryPeriodMs', retryPeriodMs);
  if (leaseOk && !Number.isInteger(leaseDurationMs / 1000)) {
    errors.push(`leaseDurationMs: must be a whole number of seconds (a Lease carries leaseDurationSeconds), got ${leaseDurationMs}`);
  }
  if (leaseOk && renewOk && leaseDurationMs <= renewDeadlineMs) {
    errors.push(`leaseDurationMs (${leaseDurationMs}) must be greater than renewDeadlineMs (${renewDeadlineMs})`);
  }
  if (renewOk && retryOk && renewDeadlineMs <= retryPeriodMs * JITTER_FACTOR) {
    errors.push(`renewDeadlineMs (${renewDeadlineMs}) must be greater than retryPeriodMs × ${JITTER_FACTOR} (${retryPeriodMs * JITTER_FACTOR})`);
  }
  if (errors.length > 0) throw new LeaderElectionConfigError(errors);
  return Object.freeze({
    lock: options.lock,
    identity: options.identity,
    leaseDurationMs,
    renewDeadlineMs,
    retryPeriodMs,
    clock: options.clock ?? systemClock,
    wallClock: options.wallClock ?? (() => new Date()),
    releaseOnStop: options.releaseOnStop ?? true,
    random: options.random ?? Math.random,
    log: options.log ?? (() => {}),
  });
}
