import t from 'tap';
import { PendingCalls, type UpstreamCall } from '@dubbo-mesh/proxy';

const call = (n: number): UpstreamCall => ({ upstreamId: n, onResponse() {}, onError() {} });

t.test('calls are found by id, also past the ring (ids sharing a slot) and across the uint32 wrap', async (t) => {
  const pending = new PendingCalls();
  const calls = new Map<number, UpstreamCall>();
  // 10,000 in flight on one connection: more than the 4,096 slots, so many share a slot.
  for (let id = 1; id <= 10_000; id++) {
    calls.set(id, call(id));
    pending.add(id, calls.get(id)!);
  }
  for (const id of [0xffffffff, 0xfffffffe]) {
    calls.set(id, call(id));
    pending.add(id, calls.get(id)!);
  }
  t.equal(pending.size, 10_002);
  t.equal(pending.take(0), undefined, 'id 0 is never a call');
  t.equal(pending.take(20_000), undefined, 'an unknown id');
  let found = 0;
  for (const id of [...calls.keys()].reverse()) if (pending.take(id) === calls.get(id)) found += 1;
  t.equal(found, 10_002, 'every call found once, by its own id');
  t.equal(pending.size, 0);
  t.equal(pending.take(5), undefined, 'a second take finds nothing (a late response is dropped)');
});

t.test('takeAll returns and forgets every call', async (t) => {
  const pending = new PendingCalls();
  for (let id = 1; id <= 5000; id++) pending.add(id, call(id));
  const all = pending.takeAll();
  t.equal(all.length, 5000);
  t.same(new Set(all.map((c) => c.upstreamId)).size, 5000);
  t.equal(pending.size, 0);
  t.equal(pending.take(1), undefined);
});
