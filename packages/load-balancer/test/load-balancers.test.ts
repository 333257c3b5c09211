import t from 'tap';
import { WeightedChoice, getLoadBalancer, weightedRandom, type Endpoint } from '@dubbo-mesh/load-balancer';
import { seededRandom } from '@dubbo-mesh/test-support';

function endpoints(...weights: number[]): Endpoint[] {
  return weights.map((weight, i) => ({ id: `10.0.0.${i + 1}:20880`, weight, stats: { active: 0, ewmaResponseMs: 0 } }));
}

function counts(name: string, list: Endpoint[], calls: number, hashKey?: (i: number) => string): number[] {
  const picker = getLoadBalancer(name).createPicker(list, { random: seededRandom(1) });
  const out = list.map(() => 0);
  for (let i = 0; i < calls; i++) {
    const result = picker.pick(hashKey ? { hashKey: () => hashKey(i) } : {});
    if (result.type !== 'complete') throw new Error(result.reason);
    out[list.indexOf(result.endpoint)]! += 1;
  }
  return out;
}

t.test('every policy honours weights', async (t) => {
  for (const name of ['random', 'round-robin', 'least-request', 'consistent-hash']) {
    const list = endpoints(300, 100, 0);
    const got = counts(name, list, 20000, (i) => `key-${i}`);
    t.equal(got[2], 0, `${name}: weight 0 is never picked`);
    const share = got[0]! / 20000;
    t.ok(share > 0.7 && share < 0.8, `${name}: weight 300 of 400 gets ${(share * 100).toFixed(1)}% (expected 75)`);
  }
});

t.test('round-robin is smooth', async (t) => {
  const list = endpoints(5, 1, 1);
  const picker = getLoadBalancer('round-robin').createPicker(list);
  const order = Array.from({ length: 7 }, () => {
    const r = picker.pick({});
    return r.type === 'complete' ? list.indexOf(r.endpoint) : -1;
  });
  t.same(order, [0, 0, 1, 0, 2, 0, 0], 'a,a,b,a,c,a,a as nginx');
  // A retry excludes what it tried and moves only the others' turns; the rotation goes on from there.
  const even = endpoints(1, 1, 1);
  const rr = getLoadBalancer('round-robin').createPicker(even);
  const at = (context: { exclude?: ReadonlySet<string> }) => {
    const r = rr.pick(context);
    return r.type === 'complete' ? even.indexOf(r.endpoint) : -1;
  };
  t.same([at({}), at({ exclude: new Set([even[1]!.id]) }), at({}), at({})], [0, 2, 1, 2], 'b excluded once: c; then b, whose turn was kept, then c');
});

t.test('least-active prefers the idle instance; ties go by weight', async (t) => {
  const list = endpoints(100, 100, 100);
  list[0]!.stats.active = 3;
  list[1]!.stats.active = 0;
  list[2]!.stats.active = 1;
  t.same(counts('least-active', list, 100), [0, 100, 0]);
  list[2]!.stats.active = 0;
  const tie = counts('least-active', list, 10000);
  t.equal(tie[0], 0);
  t.ok(Math.abs(tie[1]! - tie[2]!) < 500, 'ties split evenly');
});

t.test('shortest-response prefers the fastest, scaled by load', async (t) => {
  const list = endpoints(100, 100);
  list[0]!.stats.ewmaResponseMs = 10;
  list[1]!.stats.ewmaResponseMs = 30;
  t.same(counts('shortest-response', list, 50), [50, 0]);
  list[0]!.stats.active = 5; // 10 × 6 = 60 > 30 × 1
  t.same(counts('shortest-response', list, 50), [0, 50]);
});

t.test('least-request: the busy instance loses its duels', async (t) => {
  const list = endpoints(100, 100, 100);
  list[0]!.stats.active = 50;
  const got = counts('least-request', list, 9000);
  t.ok(got[0]! < 100, `busy instance picked ${got[0]} times of 9000`);
});

t.test('consistent-hash: the same key sticks; removing one endpoint moves only its keys', async (t) => {
  const list = endpoints(100, 100, 100, 100);
  const picker = getLoadBalancer('consistent-hash').createPicker(list);
  const owner = new Map<string, string>();
  for (let i = 0; i < 2000; i++) {
    const key = `user-${i}`;
    const first = picker.pick({ hashKey: () => key });
    const again = picker.pick({ hashKey: () => key });
    if (first.type !== 'complete' || again.type !== 'complete') throw new Error('unavailable');
    if (first.endpoint !== again.endpoint) t.fail(`key ${key} moved`);
    owner.set(key, first.endpoint.id);
  }
  const spread = new Set(owner.values());
  t.equal(spread.size, 4, 'keys spread over every endpoint');
  const fewer = getLoadBalancer('consistent-hash').createPicker(list.slice(1));
  let moved = 0;
  for (const [key, id] of owner) {
    const result = fewer.pick({ hashKey: () => key });
    if (result.type === 'complete' && result.endpoint.id !== id && id !== list[0]!.id) moved += 1;
  }
  t.equal(moved, 0, 'keys of the remaining endpoints stay put');
  const retry = picker.pick({ hashKey: () => 'user-1', exclude: new Set([owner.get('user-1')!]) });
  t.ok(retry.type === 'complete' && retry.endpoint.id !== owner.get('user-1'), 'a retry goes to the next endpoint on the ring');
});

t.test('retries avoid tried endpoints; empty lists are unavailable', async (t) => {
  for (const name of ['random', 'round-robin', 'least-active', 'shortest-response', 'least-request']) {
    const list = endpoints(100, 100);
    const picker = getLoadBalancer(name).createPicker(list, { random: seededRandom(3) });
    for (let i = 0; i < 50; i++) {
      const result = picker.pick({ exclude: new Set([list[0]!.id]) });
      if (result.type !== 'complete' || result.endpoint !== list[1]) t.fail(`${name} picked a tried endpoint`);
    }
    const all = picker.pick({ exclude: new Set(list.map((e) => e.id)) });
    t.equal(all.type, 'complete', `${name}: when all were tried, one is tried again`);
    t.same(getLoadBalancer(name).createPicker([]).pick({}), { type: 'unavailable', reason: 'no endpoints' }, `${name}: empty`);
    t.same(getLoadBalancer(name).createPicker(endpoints(0)).pick({}), { type: 'unavailable', reason: 'every endpoint has weight 0' });
  }
  t.throws(() => getLoadBalancer('fastest'), /unknown load balancer "fastest"; known: random, round-robin/);
});

t.test('a precomputed weighted choice picks what weightedRandom picks, for the same random numbers', async (t) => {
  for (const weights of [[100, 100, 100], [10, 30, 60], [0, 5, 0, 5], [7], []]) {
    const list = endpoints(...weights);
    const choice = new WeightedChoice(list);
    const a = seededRandom(11);
    const b = seededRandom(11);
    let same = true;
    for (let i = 0; i < 2000; i++) {
      const expected = weightedRandom(list, a);
      const result = choice.pick(b);
      const picked = result?.type === 'complete' ? result.endpoint : undefined;
      if (picked !== expected) same = false;
    }
    t.ok(same, `weights ${JSON.stringify(weights)}`);
  }
  const picker = getLoadBalancer('random').createPicker(endpoints(1, 1));
  const first = picker.pick({});
  let shared = true;
  for (let i = 0; i < 100; i++) {
    const result = picker.pick({});
    if (result.type !== 'complete' || first.type !== 'complete' || (result.endpoint === first.endpoint && result !== first)) shared = false;
  }
  t.ok(shared, 'a first attempt gets a shared result object: nothing is allocated per pick');
  const retry = picker.pick({ exclude: new Set([first.type === 'complete' ? first.endpoint.id : '']) });
  t.ok(retry.type === 'complete' && first.type === 'complete' && retry.endpoint !== first.endpoint, 'a retry still avoids the endpoint it tried');
});
