// The shared timeout queue, on fake time: deadlines are exact, whatever the machine's load.
import t from 'tap';
import { MAX_TIMER_MS, TimeoutQueue, type TimeoutEntry } from '@dubbo-mesh/proxy';
import { FakeClock } from '@dubbo-mesh/test-support';

function entry(name: string, fired: string[]): TimeoutEntry {
  return {
    timeoutDeadline: 0,
    timeoutPrev: undefined,
    timeoutNext: undefined,
    timeoutList: undefined,
    onTimeout: () => fired.push(name),
  };
}

t.test('entries expire in deadline order across durations; cancelled ones never fire', async (t) => {
  const clock = new FakeClock();
  const fired: string[] = [];
  const queue = new TimeoutQueue(clock);
  const a = entry('a 60ms', fired);
  const b = entry('b 20ms', fired);
  const c = entry('c 60ms', fired);
  const d = entry('d 40ms (cancelled)', fired);
  queue.add(a, 60);
  queue.add(b, 20);
  queue.add(c, 60);
  queue.add(d, 40);
  t.equal(queue.pending, 4);
  queue.cancel(d);
  queue.cancel(d); // a second cancel is a no-op
  t.equal(queue.pending, 3);
  clock.advance(19);
  t.same(fired, [], 'nothing before the first deadline');
  clock.advance(1);
  t.same(fired, ['b 20ms'], 'the shorter duration, added later, fires first');
  clock.advance(39);
  t.same(fired, ['b 20ms'], 'the 40 ms entry was cancelled, the 60 ms ones are not due');
  clock.advance(1);
  t.same(fired, ['b 20ms', 'a 60ms', 'c 60ms'], 'one duration fires in the order added');
  t.equal(queue.pending, 0);
  t.equal(clock.pendingTimers, 0, 'no timer is left armed');
});

t.test('an entry added again is moved, not queued twice; clear drops everything', async (t) => {
  const clock = new FakeClock();
  const fired: string[] = [];
  const queue = new TimeoutQueue(clock);
  const a = entry('a', fired);
  queue.add(a, 10);
  queue.add(a, 30);
  t.equal(queue.pending, 1);
  clock.advance(20);
  t.same(fired, [], 'the first deadline was replaced');
  clock.advance(10);
  t.same(fired, ['a']);
  queue.add(a, 10);
  queue.clear();
  clock.advance(25);
  t.same(fired, ['a'], 'cleared entries never fire');
  t.equal(clock.pendingTimers, 0);
});

t.test('entries added at different times keep their own deadlines', async (t) => {
  const clock = new FakeClock();
  const fired: string[] = [];
  const queue = new TimeoutQueue(clock);
  queue.add(entry('first', fired), 100);
  clock.advance(50);
  queue.add(entry('second', fired), 100);
  queue.add(entry('short', fired), 10);
  clock.advance(10);
  t.same(fired, ['short']);
  clock.advance(40);
  t.same(fired, ['short', 'first'], 'due 100 ms after it was added');
  clock.advance(49);
  t.same(fired, ['short', 'first']);
  clock.advance(1);
  t.same(fired, ['short', 'first', 'second']);
});

t.test('a timeout longer than a Node timer can wait is capped, not turned into a 1 ms spin', async (t) => {
  const clock = new FakeClock();
  const fired: string[] = [];
  const queue = new TimeoutQueue(clock);
  queue.add(entry('far', fired), 3_000_000_000);
  t.equal(clock.nextTimerAt, clock.now() + MAX_TIMER_MS, 'armed for the longest delay a timer takes');
  clock.advance(MAX_TIMER_MS - 1);
  t.same(fired, [], 'and it has not fired before');
  clock.advance(1);
  t.same(fired, ['far'], 'it fires at the capped deadline');
  t.equal(queue.pending, 0);
});

t.test('the real clock caps long timeouts without a TimeoutOverflowWarning', async (t) => {
  const warnings: string[] = [];
  const onWarning = (warning: Error) => warnings.push(warning.name);
  process.on('warning', onWarning);
  t.teardown(() => process.off('warning', onWarning));
  const queue = new TimeoutQueue();
  queue.add(entry('far', []), 3_000_000_000);
  // A warning is emitted on the next tick after the timer is armed: wait for a later event.
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  queue.clear();
  t.same(warnings, [], 'no TimeoutOverflowWarning');
});

t.test('timeouts of many distinct values, answered in time, leave nothing behind', async (t) => {
  const queue = new TimeoutQueue(new FakeClock());
  const fired: string[] = [];
  for (let ms = 1000; ms < 11_000; ms++) {
    const e = entry(`e${ms}`, fired);
    queue.add(e, ms); // a consumer may send any timeout value
    queue.cancel(e); // and the call is answered
  }
  t.equal(queue.pending, 0);
  // Internals, on purpose: the per-value lists must not pile up (memory a consumer controls).
  t.equal((queue as unknown as { lists: Map<number, unknown> }).lists.size, 0, 'no list per past timeout value');
});

t.test('a duration whose list emptied is queued in a new list, and fires', async (t) => {
  const clock = new FakeClock();
  const queue = new TimeoutQueue(clock);
  const fired: string[] = [];
  const first = entry('first', fired);
  queue.add(first, 20);
  queue.cancel(first); // the 20 ms list empties and goes
  const second = entry('second', fired);
  queue.add(second, 20); // the same duration straight after
  const other = entry('other', fired);
  queue.add(other, 5000); // another duration in between
  queue.cancel(other);
  const third = entry('third', fired);
  queue.add(third, 20);
  clock.advance(20);
  t.same(fired, ['second', 'third'], 'both fire, in order');
  t.equal(queue.pending, 0);
});
