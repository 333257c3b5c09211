import t from 'tap';
import { FakeClock } from '@dubbo-mesh/test-support';
import {
  LeaderElectionConfigError,
  LeaderElector,
  LeaseRequestError,
  type Clock,
  type LeaderElectorOptions,
  type LeaseRecord,
} from '@dubbo-mesh/leader-election';
import { InMemoryLeaseLock, LeaseStore, type Injection } from './in-memory-lease-lock.js';

const BASE = Date.UTC(2026, 11, 2, 10, 0, 0);
const HOUR = 3_600_000;
type EventName = 'started-leading' | 'stopped-leading' | 'new-leader';

interface Candidate {
  elector: LeaderElector;
  lock: InMemoryLeaseLock;
  logs: Array<{ level: string; message: string }>;
}

/**
 * Candidates on one fake time line and one store. Each candidate has its own monotonic clock
 * (a view of the fake time with its own origin) and its own wall clock (skewed as the test
 * says); time moves only in `advance`, timer by timer, letting the lock's answers settle in
 * between, and after each step the world checks that no two candidates lead at once.
 */
class World {
  readonly clock = new FakeClock(50_000);
  readonly store = new LeaseStore(() => this.clock.now());
  readonly events: Array<{ at: number; who: string; event: EventName; arg?: string }> = [];
  readonly candidates = new Map<string, Candidate>();
  overlaps: string[] = [];

  add(identity: string, options: Partial<LeaderElectorOptions> & { skewMs?: number; clockOriginMs?: number } = {}): Candidate {
    const { skewMs = 0, clockOriginMs = 0, ...rest } = options;
    const lock = new InMemoryLeaseLock(this.store, identity, () => this.clock.now());
    const clock: Clock = {
      now: () => this.clock.now() + clockOriginMs,
      setTimer: (callback, delayMs) => this.clock.setTimer(callback, delayMs),
      clearTimer: (handle) => this.clock.clearTimer(handle),
    };
    const logs: Candidate['logs'] = [];
    const elector = new LeaderElector({
      lock,
      identity,
      clock,
      wallClock: () => new Date(BASE + this.clock.now() + skewMs),
      random: () => 0,
      log: (level, message) => logs.push({ level, message }),
      ...rest,
    });
    for (const event of ['started-leading', 'stopped-leading', 'new-leader'] as const) {
      elector.on(event, (arg?: string) => this.events.push({ at: this.clock.now(), who: identity, event, ...(arg === undefined ? {} : { arg }) }));
    }
    const candidate = { elector, lock, logs };
    this.candidates.set(identity, candidate);
    return candidate;
  }

  /** Let every answer already due arrive (the in-memory lock answers on microtasks). */
  async settle(): Promise<void> {
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
    const leading = [...this.candidates.values()].filter((candidate) => candidate.elector.isLeader).map((candidate) => candidate.elector.identity);
    if (leading.length > 1) this.overlaps.push(`${this.clock.now()}: ${leading.join(', ')}`);
  }

  /** Move time on by `ms`, firing timers one at a time and settling after each. */
  async advance(ms: number): Promise<void> {
    const end = this.clock.now() + ms;
    await this.settle();
    for (;;) {
      const next = this.clock.nextTimerAt;
      if (next === undefined || next > end) break;
      this.clock.advance(next - this.clock.now());
      await this.settle();
    }
    this.clock.advance(end - this.clock.now());
    await this.settle();
  }

  /** Advance until `check` holds (failing after `limitMs`), returning the time it first held. */
  async until(check: () => boolean, limitMs: number, what: string): Promise<number> {
    const end = this.clock.now() + limitMs;
    await this.settle();
    while (!check()) {
      const next = this.clock.nextTimerAt;
      if (next === undefined || next > end) throw new Error(`${what}: did not happen within ${limitMs} ms`);
      this.clock.advance(next - this.clock.now());
      await this.settle();
    }
    return this.clock.now();
  }

  eventsOf(who: string, event?: EventName): Array<{ at: number; event: EventName; arg?: string }> {
    return this.events.filter((entry) => entry.who === who && (event === undefined || entry.event === event));
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.candidates.values()].map((candidate) => candidate.elector.stop()));
  }
}

function leftover(holderIdentity: string, renewTime: number): LeaseRecord {
  return { holderIdentity, leaseDurationSeconds: 15, acquireTime: new Date(renewTime - 60_000), renewTime: new Date(renewTime), leaseTransitions: 3 };
}

t.test('options are checked with client-go rules, every broken rule named at once', async (t) => {
  const store = new LeaseStore(() => 0);
  const lock = new InMemoryLeaseLock(store, 'a', () => 0);
  const errorOf = (options: Partial<LeaderElectorOptions>): LeaderElectionConfigError => {
    try {
      new LeaderElector({ lock, identity: 'a', ...options });
    } catch (error) {
      if (error instanceof LeaderElectionConfigError) return error;
      throw error;
    }
    throw new Error('no error');
  };
  const equal = errorOf({ leaseDurationMs: 10_000, renewDeadlineMs: 10_000 });
  t.equal(equal.code, 'DM_ERR_LEADER_ELECTION_CONFIG');
  t.equal(equal.message, 'invalid leader election options: leaseDurationMs (10000) must be greater than renewDeadlineMs (10000)');
  t.same(errorOf({ renewDeadlineMs: 2_400, retryPeriodMs: 2_000 }).errors, ['renewDeadlineMs (2400) must be greater than retryPeriodMs × 1.2 (2400)']);
  t.same(errorOf({ leaseDurationMs: 15_500 }).errors, ['leaseDurationMs: must be a whole number of seconds (a Lease carries leaseDurationSeconds), got 15500']);
  t.same(errorOf({ identity: '', retryPeriodMs: 0, leaseDurationMs: 5_000 }).errors, [
    'identity: must be a non-empty string',
    'retryPeriodMs: must be a number of milliseconds greater than 0, got 0',
    'leaseDurationMs (5000) must be greater than renewDeadlineMs (10000)',
  ]);
  t.same(errorOf({ lock: undefined as unknown as InMemoryLeaseLock }).errors, ['lock: must be a LeaseLock (describe, get, create, update)']);
  t.doesNotThrow(() => new LeaderElector({ lock, identity: 'a' }), "client-go's defaults 15 s / 10 s / 2 s hold");
  t.doesNotThrow(() => new LeaderElector({ lock, identity: 'a', leaseDurationMs: 3_000, renewDeadlineMs: 2_401, retryPeriodMs: 2_000 }));
});

t.test('of two candidates started together exactly one leads, and the other follows it', async (t) => {
  const world = new World();
  const a = world.add('a');
  const b = world.add('b', { clockOriginMs: 9_000_000 });
  a.elector.start();
  b.elector.start();
  await world.settle();
  // Both read "no lease" and both created: the store let one create through and answered the other 409.
  t.same(
    world.store.writes.map((write) => write.operation),
    ['create'],
  );
  t.equal(world.store.conflicts, 1, 'the slower create met a conflict');
  const winner = world.store.lastWrite.by;
  const loser = winner === 'a' ? 'b' : 'a';
  t.ok(world.candidates.get(winner)!.elector.isLeader);
  t.notOk(world.candidates.get(loser)!.elector.isLeader, 'a 409 on create means someone else won');
  t.same(world.eventsOf(winner), [
    { at: 50_000, who: winner, event: 'new-leader', arg: winner },
    { at: 50_000, who: winner, event: 'started-leading' },
  ]);
  t.same(world.store.lease?.record.leaseTransitions, 0);
  t.equal(world.store.lease?.record.leaseDurationSeconds, 15);
  t.equal(world.store.lease?.record.acquireTime.getTime(), BASE + 50_000, 'times come from the wall clock');

  await world.advance(120_000);
  t.same(world.eventsOf(loser, 'new-leader'), [{ at: 52_000, who: loser, event: 'new-leader', arg: winner }], 'the loser learns the leader at its next try');
  t.equal(world.candidates.get(loser)!.elector.leader, winner);
  t.equal(world.candidates.get(winner)!.elector.leader, winner);
  t.same(world.eventsOf(loser, 'started-leading'), [], 'the loser never takes over a lease that is being renewed');
  const renewals = world.store.writes.filter((write) => write.by === winner);
  t.equal(renewals.length, 61, 'the leader renews every retry period');
  t.ok(
    renewals.every((write) => write.record.acquireTime.getTime() === BASE + 50_000 && write.record.leaseTransitions === 0),
    'a renewal keeps acquireTime and leaseTransitions',
  );
  t.equal(world.store.lastWrite.record.renewTime.getTime(), BASE + 170_000);
  t.same(world.overlaps, []);
  await world.stopAll();
});

t.test('a candidate takes over only after leaseDuration without a change, by its own clock', async (t) => {
  const world = new World();
  const a = world.add('a', { releaseOnStop: false });
  a.elector.start();
  await world.advance(1_000);
  const b = world.add('b', { clockOriginMs: -7_777_777 });
  b.elector.start();
  await world.advance(10_000);
  await a.elector.stop(); // a dies without releasing
  const lastRenewal = world.store.lastWrite.at;
  t.equal(lastRenewal, 60_000);
  const tookOver = await world.until(() => b.elector.isLeader, 60_000, 'b leads');
  t.ok(tookOver >= lastRenewal + 15_000, `not before the lease duration after the last change it could have seen (${tookOver - lastRenewal} ms)`);
  t.ok(tookOver <= lastRenewal + 15_000 + 2 * 2_000, `at the first try after it (${tookOver - lastRenewal} ms)`);
  t.equal(world.store.lease?.record.holderIdentity, 'b');
  t.equal(world.store.lease?.record.leaseTransitions, 1, 'a new holder is a transition');
  t.equal(world.store.lease?.record.acquireTime.getTime(), BASE + tookOver);
  t.same(world.overlaps, []);
  await world.stopAll();
});

t.test("a holder's skewed clock changes nothing: only changes of the record count", async (t) => {
  for (const skewMs of [5 * HOUR, -5 * HOUR]) {
    await t.test(`a live holder whose clock is ${skewMs / HOUR} h off keeps the lease`, async (t) => {
      const world = new World();
      const holder = world.add('holder', { skewMs });
      holder.elector.start();
      await world.advance(1_000);
      const candidate = world.add('candidate');
      candidate.elector.start();
      await world.advance(180_000);
      t.equal(world.store.lastWrite.record.renewTime.getTime(), BASE + world.store.lastWrite.at + skewMs, "the lease carries the holder's skewed time");
      t.ok(holder.elector.isLeader);
      t.same(world.eventsOf('candidate', 'started-leading'), []);
      t.equal(candidate.elector.leader, 'holder');
      await holder.elector.stop();
      const released = world.clock.now();
      await world.until(() => candidate.elector.isLeader, 2_000, 'the candidate leads after the release');
      t.ok(world.clock.now() - released <= 2_000);
      t.same(world.overlaps, []);
      await world.stopAll();
    });
  }

  for (const [label, renewTime] of [
    ['10 h in the future', BASE + 50_000 + 10 * HOUR],
    ['10 h in the past', BASE + 50_000 - 10 * HOUR],
  ] as const) {
    await t.test(`a dead holder's lease renewed ${label} is taken over a lease duration after it was first seen`, async (t) => {
      const world = new World();
      world.store.put(leftover('ghost', renewTime));
      const candidate = world.add('candidate');
      candidate.elector.start();
      await world.settle();
      t.equal(candidate.elector.leader, 'ghost');
      await world.advance(14_999);
      t.notOk(candidate.elector.isLeader, 'not at once, whatever the timestamps say');
      const tookOver = await world.until(() => candidate.elector.isLeader, 4_000, 'the candidate leads');
      t.equal(tookOver, 50_000 + 16_000, 'at the first try at or after 15 s (tries every 2 s)');
      t.equal(world.store.lease?.record.leaseTransitions, 4);
      await world.stopAll();
    });
  }
});

t.test('a leader whose renewals fail for renewDeadline steps down before anyone can take over', async (t) => {
  for (const failure of ['error', 'hang'] as const) {
    await t.test(`renewals that ${failure === 'error' ? 'fail' : 'never answer'}`, async (t) => {
      const world = new World();
      const a = world.add('a');
      a.elector.start();
      await world.advance(1_000);
      const b = world.add('b');
      b.elector.start();
      await world.advance(5_000);
      const lastRenewal = world.store.lastWrite.at;
      let broken = true;
      a.lock.inject = (): Injection => (!broken ? undefined : failure === 'hang' ? 'hang' : new LeaseRequestError('test/lease', 'connect ECONNREFUSED'));
      const steppedDown = await world.until(() => !a.elector.isLeader, 30_000, 'a steps down');
      t.equal(steppedDown, lastRenewal + 10_000, 'renewDeadline after the start of the last successful renewal');
      t.same(
        world.eventsOf('a', 'stopped-leading').map((event) => event.at),
        [steppedDown],
      );
      if (failure === 'error')
        t.same(
          a.logs.filter((line) => line.level === 'warn').map((line) => line.message),
          ['cannot renew the lease: connect ECONNREFUSED', 'stopped leading: no renewal succeeded for 10000 ms'],
          'a failure that repeats is logged once',
        );
      const tookOver = await world.until(() => b.elector.isLeader, 30_000, 'b leads');
      t.ok(tookOver >= lastRenewal + 15_000 && tookOver > steppedDown, 'b takes over only after the lease duration, after a stepped down');
      broken = false;
      await world.advance(60_000);
      t.notOk(a.elector.isLeader, 'a, a candidate again, follows b');
      t.equal(a.elector.leader, 'b');
      t.same(world.overlaps, []);
      await world.stopAll();
    });
  }
});

t.test('a renewal that meets a conflict because another holder wrote the lease ends leadership at once', async (t) => {
  const world = new World();
  const a = world.add('a');
  a.elector.start();
  await world.advance(3_000);
  t.ok(a.elector.isLeader);
  world.store.put(
    { holderIdentity: 'intruder', leaseDurationSeconds: 15, acquireTime: new Date(BASE), renewTime: new Date(BASE), leaseTransitions: 1 },
    'intruder',
  );
  const conflictsBefore = world.store.conflicts;
  const steppedDown = await world.until(() => !a.elector.isLeader, 3_000, 'a steps down');
  t.equal(steppedDown, 54_000, 'at the next renewal, not after the renew deadline');
  t.equal(world.store.conflicts, conflictsBefore + 1, 'the renewal over the old version met a 409');
  t.equal(a.elector.leader, 'intruder');
  t.same(
    world.eventsOf('a').slice(-2),
    [
      { at: 54_000, who: 'a', event: 'stopped-leading' },
      { at: 54_000, who: 'a', event: 'new-leader', arg: 'intruder' },
    ],
    'listeners hear they stopped leading before they hear of the new leader',
  );
  t.equal(world.store.lease?.record.holderIdentity, 'intruder', 'a did not write over the new holder');
  await world.stopAll();
});

t.test('candidates racing for an expired lease: one update wins, the other meets a conflict and does not lead', async (t) => {
  const world = new World();
  world.store.put(leftover('ghost', BASE));
  const a = world.add('a');
  const b = world.add('b');
  a.elector.start();
  b.elector.start();
  await world.advance(16_000);
  t.equal(world.store.conflicts, 1);
  const leaders = [a, b].filter((candidate) => candidate.elector.isLeader).map((candidate) => candidate.elector.identity);
  t.same(leaders, [world.store.lastWrite.by]);
  t.equal(world.store.lease?.record.leaseTransitions, 4);
  await world.advance(30_000);
  t.same(world.overlaps, []);
  t.equal(world.store.lease?.record.leaseTransitions, 4, 'no further transitions');
  await world.stopAll();
});

t.test('stop() releases the lease after stopped-leading, and another candidate takes it at its next try', async (t) => {
  const world = new World();
  const a = world.add('a');
  a.elector.start();
  await world.advance(1_000);
  const b = world.add('b');
  b.elector.start();
  await world.advance(5_000);
  let holderWhenStopped: string | undefined;
  a.elector.on('stopped-leading', () => (holderWhenStopped = world.store.lease?.record.holderIdentity));
  const stoppedAt = world.clock.now();
  await a.elector.stop();
  t.equal(holderWhenStopped, 'a', 'listeners hear stopped-leading before the lease is released');
  t.notOk(a.elector.isLeader);
  t.same(world.store.lease?.record, {
    holderIdentity: '',
    leaseDurationSeconds: 1,
    acquireTime: new Date(BASE + stoppedAt),
    renewTime: new Date(BASE + stoppedAt),
    leaseTransitions: 0,
  });
  const tookOver = await world.until(() => b.elector.isLeader, 2_000, 'b leads');
  t.ok(tookOver - stoppedAt <= 2_000, 'within one retry period');
  t.equal(world.store.lease?.record.leaseTransitions, 1);
  t.same(
    world.eventsOf('b', 'new-leader').map((event) => event.arg),
    ['a', 'b'],
    'a lease with no holder is not a new leader',
  );
  t.same(a.logs.at(-1), { level: 'info', message: 'released the lease' });
  await world.stopAll();
});

t.test('without releaseOnStop the lease stays until it expires', async (t) => {
  const world = new World();
  const a = world.add('a', { releaseOnStop: false });
  const b = world.add('b');
  a.elector.start();
  await world.settle();
  b.elector.start();
  await world.advance(4_000);
  await a.elector.stop();
  t.equal(world.store.lease?.record.holderIdentity, 'a');
  await world.advance(12_000);
  t.notOk(b.elector.isLeader);
  await world.until(() => b.elector.isLeader, 8_000, 'b leads after the lease duration');
  await world.stopAll();
});

t.test('leaseTransitions counts changes of holder across release, expiry and re-acquisition', async (t) => {
  const world = new World();
  const a = world.add('a');
  a.elector.start();
  await world.settle();
  t.equal(world.store.lease?.record.leaseTransitions, 0);
  const b = world.add('b', { releaseOnStop: false });
  b.elector.start();
  await world.advance(2_000);
  await a.elector.stop();
  await world.until(() => b.elector.isLeader, 2_000, 'b leads');
  t.equal(world.store.lease?.record.leaseTransitions, 1);
  a.elector.start();
  await world.advance(20_000);
  t.equal(world.store.lease?.record.leaseTransitions, 1, 'renewals are no transitions');
  await b.elector.stop();
  await world.until(() => a.elector.isLeader, 20_000, 'a leads again');
  t.equal(world.store.lease?.record.leaseTransitions, 2);
  t.same(
    world.eventsOf('a', 'new-leader').map((event) => event.arg),
    ['a', 'b', 'a'],
  );
  await world.stopAll();
});

t.test("candidates' tries are jittered by retryPeriod × (1 + random × 1.2)", async (t) => {
  const world = new World();
  world.store.put(leftover('ghost', BASE));
  const a = world.add('a', { random: () => 0.5 });
  a.elector.start();
  await world.advance(10_000);
  t.same(
    a.lock.calls.map((call) => call.at - 50_000),
    [0, 3_200, 6_400, 9_600],
  );
  await world.stopAll();
});

t.test('a listener that throws is logged and does not end the campaign', async (t) => {
  const world = new World();
  const a = world.add('a');
  a.elector.on('started-leading', () => {
    throw new Error('listener bug');
  });
  a.elector.start();
  await world.advance(10_000);
  t.ok(a.elector.isLeader);
  t.ok(a.logs.some((line) => line.level === 'error' && line.message === 'a started-leading listener threw: listener bug'));
  t.equal(world.store.lastWrite.at, 60_000, 'still renewing');
  await world.stopAll();
});

t.test('stop() waits for a try in flight at most the renew deadline, then releases', async (t) => {
  const world = new World();
  const a = world.add('a');
  a.elector.start();
  await world.settle();
  a.lock.inject = () => 'hang';
  await world.advance(2_000); // the renewal at 52 000 never answers
  let stopped = false;
  const stopping = a.elector.stop();
  t.equal(a.elector.stop(), stopping, 'a second stop() is the first');
  void stopping.then(() => (stopped = true));
  t.notOk(a.elector.isLeader, 'stopped-leading comes at once');
  await world.advance(9_999);
  t.notOk(stopped);
  a.lock.inject = undefined;
  await world.advance(1);
  t.ok(stopped, 'the try counts as failed after the renew deadline');
  t.equal(world.store.lease?.record.holderIdentity, '', 'and the lease, still ours, is released');
});
