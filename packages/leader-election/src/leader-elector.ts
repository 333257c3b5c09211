import { EventEmitter } from 'node:events';
import { LeaseConflictError, LeaseRequestError } from './errors.js';
import type { LeaseLock, LeaseRecord } from './lease-lock.js';
import { JITTER_FACTOR, resolveLeaderElectorOptions, type LeaderElectorOptions, type ResolvedLeaderElectorOptions } from './leader-elector-options.js';

/** The events of a {@link LeaderElector}, with their arguments. */
export interface LeaderElectorEvents {
  /** This candidate acquired the lease: it may write from now on. */
  'started-leading': [];
  /** This candidate no longer holds the lease (lost it, could not renew it in time, or was stopped): stop writing now. */
  'stopped-leading': [];
  /** The lease names a holder other than the last one seen (the first holder seen included); this candidate too. */
  'new-leader': [identity: string];
}

/** Result of one try at the lease; `startedAt` is when it began, on our clock. */
interface Attempt {
  acquired: boolean;
  startedAt: number;
}

/**
 * Leader election on a lease, client-go's algorithm (`tools/leaderelection`). Every candidate
 * tries to acquire every retry period (jittered); it takes the lease when there is none, when
 * it has no holder, when it holds it already, or when the lease has not changed for the
 * lease's duration *as measured on this candidate's own monotonic clock from when it saw the
 * last change*. The times in the lease are never compared with our time, so clock skew
 * between replicas changes nothing (only a difference in clock rate would). Writes name the
 * version they replace, so when two candidates race one wins and the other gets a conflict.
 * The leader renews every retry period and steps down when no renewal has succeeded for the
 * renew deadline, counted from the start of the last successful one: before any other
 * candidate (which waits the longer lease duration from when it saw that renewal) can take over.
 *
 * Unlike client-go's `Run`, which returns after leading once, an elector that stops leading
 * becomes a candidate again until `stop()`: a control-plane replica keeps serving and may lead later.
 */
export class LeaderElector extends EventEmitter<LeaderElectorEvents> {
  private readonly options: ResolvedLeaderElectorOptions;
  private readonly lock: LeaseLock;
  /** The record as last read or written, its version, and when (our clock) it last changed. */
  private observed: LeaseRecord | undefined;
  private observedVersion: string | undefined;
  private observedAt = 0;
  private reportedLeader = '';
  private leading = false;
  private running = false;
  /** Bumped on every change of mode (start, stop, leading, stepping down): a callback of an older term does nothing. */
  private term = 0;
  private retryTimer: unknown;
  private deadlineTimer: unknown;
  private inFlight: Promise<Attempt> | undefined;
  private lastFailure: string | undefined;
  private stopping: Promise<void> | undefined;

  /** Throws LeaderElectionConfigError when the options break a rule. Does nothing until {@link start}. */
  constructor(options: LeaderElectorOptions) {
    super();
    this.options = resolveLeaderElectorOptions(options);
    this.lock = this.options.lock;
  }

  /** This candidate's identity. */
  get identity(): string {
    return this.options.identity;
  }

  /** Whether this candidate leads now (between `started-leading` and `stopped-leading`). */
  get isLeader(): boolean {
    return this.leading;
  }

  /**
   * The holder named by the lease as last read or written, or undefined when it has none or
   * has not been read yet. It can name this candidate after it stepped down because renewals
   * failed (the lease still says so); {@link isLeader} is the answer to "may I write".
   */
  get leader(): string | undefined {
    const holder = this.observed?.holderIdentity;
    return holder === undefined || holder === '' ? undefined : holder;
  }

  /** Start campaigning: the first try is made now. Does nothing when already started. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.campaign(0);
  }

  /**
   * Stop campaigning. A leader emits `stopped-leading` first (synchronously, so listeners stop
   * writing before anything else happens), then, with `releaseOnStop`, hands the lease back
   * (holder '', duration 1 s) so another candidate takes it at its next try instead of after
   * the lease duration. Waits for a try in flight to settle (at most the renew deadline, on
   * the elector's clock) so its outcome is known before releasing. Resolves once done, and a
   * second call while stopping resolves with the first; never rejects (a failed release is
   * logged: the lease then expires on its own). Call `start()` again only once it resolved.
   */
  stop(): Promise<void> {
    if (!this.running) return this.stopping ?? Promise.resolve();
    this.stopping = this.halt();
    return this.stopping;
  }

  private async halt(): Promise<void> {
    this.running = false;
    this.term++;
    this.clearTimers();
    if (this.leading) {
      this.leading = false;
      this.options.log('info', 'stopped leading: stopping', { lease: this.lock.describe(), identity: this.identity });
      this.notify('stopped-leading');
    }
    if (this.inFlight !== undefined) await this.inFlight;
    if (this.options.releaseOnStop && this.observed?.holderIdentity === this.identity) await this.release();
  }

  /** Become a candidate: try to acquire after `delayMs`, then every jittered retry period until it succeeds. */
  private campaign(delayMs: number): void {
    const term = ++this.term;
    const tick = async (): Promise<void> => {
      this.retryTimer = undefined;
      const attempt = await this.attempt();
      if (term !== this.term) return;
      this.reportTransition();
      // A new-leader listener may have stopped us.
      if (term !== this.term) return;
      if (attempt.acquired) this.startLeading(attempt.startedAt);
      else this.retryTimer = this.options.clock.setTimer(() => void tick(), this.jitteredRetryPeriod());
    };
    if (delayMs <= 0) void tick();
    else this.retryTimer = this.options.clock.setTimer(() => void tick(), delayMs);
  }

  private startLeading(acquiredAt: number): void {
    const term = ++this.term;
    this.leading = true;
    this.armRenewDeadline(term, acquiredAt);
    const renew = async (): Promise<void> => {
      this.retryTimer = undefined;
      const attempt = await this.attempt();
      if (term !== this.term) return;
      if (!attempt.acquired && this.observed?.holderIdentity !== this.identity) {
        // Someone else holds it now (our write met a conflict and the lease names them):
        // waiting out the renew deadline, as client-go does, would only keep two writers
        // longer. Step down before announcing the new leader, so that listeners stop writing first.
        this.stepDown(`the lease is held by ${this.observed?.holderIdentity || 'nobody'}`);
        this.reportTransition();
        return;
      }
      if (attempt.acquired) this.armRenewDeadline(term, attempt.startedAt);
      this.retryTimer = this.options.clock.setTimer(() => void renew(), this.options.retryPeriodMs);
      this.reportTransition();
    };
    this.retryTimer = this.options.clock.setTimer(() => void renew(), this.options.retryPeriodMs);
    this.options.log('info', 'started leading', { lease: this.lock.describe(), identity: this.identity });
    this.notify('started-leading');
  }

  /** Step down at `renewedAt + renewDeadlineMs` unless a later renewal moves the deadline on. */
  private armRenewDeadline(term: number, renewedAt: number): void {
    const { clock, renewDeadlineMs } = this.options;
    if (this.deadlineTimer !== undefined) clock.clearTimer(this.deadlineTimer);
    this.deadlineTimer = clock.setTimer(
      () => {
        this.deadlineTimer = undefined;
        if (term === this.term) this.stepDown(`no renewal succeeded for ${renewDeadlineMs} ms`);
      },
      renewedAt + renewDeadlineMs - clock.now(),
    );
  }

  private stepDown(reason: string): void {
    this.clearTimers();
    this.leading = false;
    this.campaign(this.jitteredRetryPeriod());
    this.options.log('warn', `stopped leading: ${reason}`, { lease: this.lock.describe(), identity: this.identity });
    this.notify('stopped-leading');
  }

  /**
   * One try, remembered while in flight so `stop()` can wait for its outcome. A try the lock
   * has not answered within the renew deadline counts as failed, so a lock call that never
   * answers cannot stall the campaign (its late answer still updates what we observed).
   */
  private attempt(): Promise<Attempt> {
    const { clock, renewDeadlineMs } = this.options;
    const startedAt = clock.now();
    const attempt = new Promise<Attempt>((resolve) => {
      const timer = clock.setTimer(() => {
        this.failed('try', new LeaseRequestError(this.lock.describe(), `no answer within ${renewDeadlineMs} ms`));
        resolve({ acquired: false, startedAt });
      }, renewDeadlineMs);
      void this.tryAcquireOrRenew().then((acquired) => {
        clock.clearTimer(timer);
        resolve({ acquired, startedAt });
      });
    });
    this.inFlight = attempt;
    void attempt.then(() => {
      if (this.inFlight === attempt) this.inFlight = undefined;
    });
    return attempt;
  }

  /**
   * client-go's `tryAcquireOrRenew`: true when the lease names us after this call. Never
   * rejects. Its outcome updates what we observed even when it lands after a change of term,
   * since it is a fact about the lease.
   */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const { identity, leaseDurationMs } = this.options;
    try {
      const now = this.options.wallClock();
      const fresh: LeaseRecord = {
        holderIdentity: identity,
        leaseDurationSeconds: leaseDurationMs / 1000,
        acquireTime: now,
        renewTime: now,
        leaseTransitions: 0,
      };

      // 1. A holder whose lease is valid writes over the version it last saw, without reading first.
      if (this.observed?.holderIdentity === identity && this.observedVersion !== undefined && this.leaseValid()) {
        const renewal = { ...fresh, acquireTime: this.observed.acquireTime, leaseTransitions: this.observed.leaseTransitions };
        try {
          this.observe(renewal, await this.lock.update(renewal, this.observedVersion));
          this.succeeded();
          return true;
        } catch (error) {
          this.failed('renew', error);
        }
      }

      // 2. Read the lease, or create it.
      let current;
      try {
        current = await this.lock.get();
        this.succeeded();
      } catch (error) {
        this.failed('read', error);
        return false;
      }
      if (current === undefined) {
        try {
          this.observe(fresh, await this.lock.create(fresh));
          this.succeeded();
          return true;
        } catch (error) {
          this.failed('create', error);
          return false;
        }
      }

      // 3. Expiry starts over whenever the record changes; its timestamps mean nothing to us.
      if (this.observed === undefined || !sameRecord(this.observed, current.record)) this.observe(current.record, current.version);
      else this.observedVersion = current.version;
      const holder = current.record.holderIdentity;
      if (holder !== '' && holder !== identity && this.leaseValid()) return false;

      // 4. Take it (expired or free) or renew it, over the version just read.
      const record =
        holder === identity
          ? { ...fresh, acquireTime: current.record.acquireTime, leaseTransitions: current.record.leaseTransitions }
          : { ...fresh, leaseTransitions: current.record.leaseTransitions + 1 };
      try {
        this.observe(record, await this.lock.update(record, current.version));
        this.succeeded();
        return true;
      } catch (error) {
        this.failed(holder === identity ? 'renew' : 'acquire', error);
        return false;
      }
    } catch (error) {
      // A lock or wall clock that throws outside its contract must not end the campaign.
      this.failed('try', error);
      return false;
    }
  }

  /** client-go's ReleaseOnCancel: hand back the lease if it still names us, retrying a conflict with a fresh read. */
  private async release(): Promise<void> {
    for (let tries = 0; tries < 3; tries++) {
      try {
        const current = await this.lock.get();
        if (current === undefined || current.record.holderIdentity !== this.identity) return;
        const now = this.options.wallClock();
        const released: LeaseRecord = {
          holderIdentity: '',
          leaseDurationSeconds: 1,
          acquireTime: now,
          renewTime: now,
          leaseTransitions: current.record.leaseTransitions,
        };
        this.observe(released, await this.lock.update(released, current.version));
        this.options.log('info', 'released the lease', { lease: this.lock.describe(), identity: this.identity });
        return;
      } catch (error) {
        if (error instanceof LeaseConflictError) continue;
        this.options.log('warn', `could not release the lease: ${describeError(error)}`, { lease: this.lock.describe(), identity: this.identity });
        return;
      }
    }
  }

  private observe(record: LeaseRecord, version: string): void {
    this.observed = { ...record };
    this.observedVersion = version;
    this.observedAt = this.options.clock.now();
  }

  /** Whether the lease's duration has not yet passed, on our clock, since we saw it change. */
  private leaseValid(): boolean {
    if (this.observed === undefined) return false;
    return this.observedAt + this.observed.leaseDurationSeconds * 1000 > this.options.clock.now();
  }

  /** client-go's maybeReportTransition, except that a lease with no holder is not a new leader. */
  private reportTransition(): void {
    const holder = this.observed?.holderIdentity ?? '';
    if (holder === this.reportedLeader) return;
    this.reportedLeader = holder;
    if (holder === '') return;
    this.options.log('info', `new leader: ${holder}`, { lease: this.lock.describe(), identity: this.identity });
    this.notify('new-leader', holder);
  }

  /** A conflict is the algorithm at work, so only other failures are logged, and only when they change (not every retry period). */
  private failed(action: string, error: unknown): void {
    if (error instanceof LeaseConflictError) return;
    const reason = describeError(error);
    if (reason === this.lastFailure) return;
    this.lastFailure = reason;
    this.options.log('warn', `cannot ${action} the lease: ${reason}`, { lease: this.lock.describe(), identity: this.identity });
  }

  private succeeded(): void {
    if (this.lastFailure === undefined) return;
    this.lastFailure = undefined;
    this.options.log('info', 'the lease can be read and written again', { lease: this.lock.describe(), identity: this.identity });
  }

  private jitteredRetryPeriod(): number {
    const random = Math.min(Math.max(this.options.random(), 0), 1);
    return this.options.retryPeriodMs * (1 + random * JITTER_FACTOR);
  }

  private clearTimers(): void {
    const { clock } = this.options;
    if (this.retryTimer !== undefined) clock.clearTimer(this.retryTimer);
    if (this.deadlineTimer !== undefined) clock.clearTimer(this.deadlineTimer);
    this.retryTimer = undefined;
    this.deadlineTimer = undefined;
  }

  /** Emit without letting a listener's exception end the campaign (it is logged). */
  private notify<K extends keyof LeaderElectorEvents>(event: K, ...args: LeaderElectorEvents[K]): void {
    try {
      (this.emit as (event: K, ...args: LeaderElectorEvents[K]) => boolean)(event, ...args);
    } catch (error) {
      this.options.log('error', `a ${event} listener threw: ${describeError(error)}`, { lease: this.lock.describe(), identity: this.identity });
    }
  }
}

function sameRecord(a: LeaseRecord, b: LeaseRecord): boolean {
  return (
    a.holderIdentity === b.holderIdentity &&
    a.leaseDurationSeconds === b.leaseDurationSeconds &&
    a.leaseTransitions === b.leaseTransitions &&
    Object.is(a.acquireTime.getTime(), b.acquireTime.getTime()) &&
    Object.is(a.renewTime.getTime(), b.renewTime.getTime())
  );
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
