import t from 'tap';
import { TimeoutQueue, monotonicNow, type TimeoutEntry } from '@dubbo-mesh/proxy';

function entry(name: string, fired: string[]): TimeoutEntry {
  return {
    timeoutDeadline: 0, timeoutPrev: undefined, timeoutNext: undefined, timeoutList: undefined,
    onTimeout: () => fired.push(name),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

t.test('entries expire in deadline order across durations; cancelled ones never fire', async (t) => {
  const fired: string[] = [];
  const queue = new TimeoutQueue();
  const started = monotonicNow();
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
  await sleep(35);
  t.same(fired, ['b 20ms'], 'the shorter duration, added later, fires first');
  await sleep(60);
  t.same(fired, ['b 20ms', 'a 60ms', 'c 60ms'], 'one duration fires in the order added');
  t.ok(monotonicNow() - started >= 60, 'not before its deadline');
  t.equal(queue.pending, 0);
});

t.test('an entry added again is moved, not queued twice; clear drops everything', async (t) => {
  const fired: string[] = [];
  const queue = new TimeoutQueue();
  const a = entry('a', fired);
  queue.add(a, 10);
  queue.add(a, 30);
  t.equal(queue.pending, 1);
  await sleep(20);
  t.same(fired, [], 'the first deadline was replaced');
  await sleep(30);
  t.same(fired, ['a']);
  queue.add(a, 10);
  queue.clear();
  await sleep(25);
  t.same(fired, ['a'], 'cleared entries never fire');
});

t.test('a timeout longer than a Node timer can wait is capped, not turned into a 1 ms spin', async (t) => {
  const warnings: string[] = [];
  const onWarning = (warning: Error) => warnings.push(warning.name);
  process.on('warning', onWarning);
  t.teardown(() => process.off('warning', onWarning));
  const fired: string[] = [];
  const queue = new TimeoutQueue();
  t.teardown(() => queue.clear());
  queue.add(entry('far', fired), 3_000_000_000);
  await sleep(50);
  t.same(warnings, [], 'no TimeoutOverflowWarning');
  t.same(fired, [], 'and it has not fired');
  t.equal(queue.pending, 1);
});

t.test('timeouts of many distinct values, answered in time, leave nothing behind', async (t) => {
  const queue = new TimeoutQueue();
  t.teardown(() => queue.clear());
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
  const queue = new TimeoutQueue();
  t.teardown(() => queue.clear());
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
  await sleep(60);
  t.same(fired, ['second', 'third'], 'both fire, in order');
  t.equal(queue.pending, 0);
});
