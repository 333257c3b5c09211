// One instance's pool on fake time: connect backoff after refused connects, and outlier
// ejection with Envoy's analysis interval.
import net from 'node:net';
import t from 'tap';
import { DEFAULT_CONNECTION_POOL } from '@dubbo-mesh/config';
import {
  CONNECT_BACKOFF_BASE_MS,
  CONNECT_BACKOFF_MAX_MS,
  DubboProxy,
  ProxyErrorCode,
  ProxyStats,
  UpstreamEndpoint,
  type ProxyError,
  type UpstreamCall,
} from '@dubbo-mesh/proxy';
import { encodeRequest, encodeRequestBody } from '@dubbo-mesh/protocol';
import { FakeClock, USER_SERVICE, startTestProvider, eventually } from '@dubbo-mesh/test-support';
import { buildConfig } from './fixtures/mesh.js';
import { userClient } from './fixtures/consumer.js';

/** A port nothing listens on (bound, then closed). */
async function deadPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function endpointOn(port: number, clock: FakeClock, stats = new ProxyStats()) {
  let changes = 0;
  const endpoint = new UpstreamEndpoint(
    '127.0.0.1',
    port,
    { ...DEFAULT_CONNECTION_POOL, connectTimeoutMs: 5_000 },
    {
      maxPayload: 1 << 20,
      heartbeatIntervalMs: 60_000,
      stats,
      clock,
      random: () => 0.5,
      onAvailabilityChange: () => changes++,
    },
  );
  return { endpoint, stats, changes: () => changes };
}

const body = encodeRequestBody({ path: USER_SERVICE, method: 'getUser', parameterTypes: ['long'], arguments: [{ $class: 'long', $: 1 }] });

/** Send one call and resolve with its error (the instance is dead). */
function failedSend(endpoint: UpstreamEndpoint): Promise<ProxyError> {
  return new Promise((resolve) => {
    const call: UpstreamCall = { upstreamId: 0, onResponse: () => resolve(new Error('answered') as ProxyError), onError: resolve };
    endpoint.send(encodeRequest(1n, body), call);
  });
}

t.test('refused connects back off: 250 ms doubling to 5 s (jittered), unavailable meanwhile, reset by a connect that works', async (t) => {
  const clock = new FakeClock();
  const port = await deadPort();
  const { endpoint, stats } = endpointOn(port, clock);
  t.teardown(() => endpoint.close('test over'));
  const waits: number[] = [];
  for (let failure = 1; failure <= 7; failure++) {
    const error = await failedSend(endpoint);
    t.equal(error.code, ProxyErrorCode.CONNECT_FAILURE);
    t.equal(endpoint.available, false, `unavailable after failure ${failure}`);
    t.match(endpoint.unavailableReason, new RegExp(`failed ${failure} connects? in a row; next attempt in \\d+ ms`));
    const wait = endpoint.connectBackoffUntil - clock.now();
    waits.push(wait);
    clock.advance(wait - 1);
    t.equal(endpoint.available, false, 'still waiting 1 ms before');
    clock.advance(1);
    t.equal(endpoint.available, true, 'available again once the wait is over');
  }
  t.same(waits, [250, 500, 1000, 2000, 4000, 5000, 5000], 'with the jitter at its middle: doubling, capped');
  t.equal(waits[0], CONNECT_BACKOFF_BASE_MS);
  t.equal(waits[6], CONNECT_BACKOFF_MAX_MS);
  t.equal(stats.counters.upstream_cx_connect_fail, 7, 'one dial per wait, no more');
  // The instance comes up on that port: the next connect works and the backoff starts over.
  const provider = await startTestProvider({ port, services: { [USER_SERVICE]: { getUser: () => 'ok' } } });
  t.teardown(() => provider.close());
  const answered = await new Promise<boolean>((resolve) =>
    endpoint.send(encodeRequest(1n, body), { upstreamId: 0, onResponse: () => resolve(true), onError: () => resolve(false) }),
  );
  t.equal(answered, true);
  t.equal(endpoint.connectFailures, 0, 'reset by a connect that worked');
});

t.test('the jitter spreads waits over ±20%', async (t) => {
  const clock = new FakeClock();
  const port = await deadPort();
  for (const [random, wait] of [
    [0, 200],
    [1, 300],
  ] as const) {
    const endpoint = new UpstreamEndpoint('127.0.0.1', port, DEFAULT_CONNECTION_POOL, {
      maxPayload: 1 << 20,
      heartbeatIntervalMs: 60_000,
      stats: new ProxyStats(),
      clock,
      random: () => random,
      onAvailabilityChange: () => {},
    });
    await failedSend(endpoint);
    t.equal(endpoint.connectBackoffUntil - clock.now(), wait);
    endpoint.close('test over');
  }
});

t.test('a dead instance among live ones is dialled a handful of times, not hundreds; no call fails', async (t) => {
  const live = await startTestProvider({ services: { [USER_SERVICE]: { getUser: ([id]) => ({ $class: 'long', $: id }) } } });
  const port = await deadPort();
  const proxy = new DubboProxy({ node: 'p', role: 'proxy', outbound: { host: '127.0.0.1', port: 0 } });
  await proxy.start();
  proxy.applySnapshot(
    buildConfig([
      {
        apiVersion: 'dubbo-mesh.io/v1alpha1',
        kind: 'DubboService',
        metadata: { name: 's' },
        spec: { interfaces: [USER_SERVICE], endpoints: [{ address: live.address }, { address: `127.0.0.1:${port}` }] },
      },
    ]),
    'v1',
  );
  const client = userClient(`127.0.0.1:${proxy.addresses().outbound!.port}`);
  t.teardown(async () => {
    client.close();
    await proxy.destroy();
    await live.close();
  });
  let failed = 0;
  for (let batch = 0; batch < 20; batch++) {
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => client.getUser(batch * 50 + i)));
    failed += results.filter((r) => r.err !== null).length;
  }
  t.equal(failed, 0, 'every one of 1,000 calls answered (retried on the live instance)');
  const dials = proxy.stats.counters.upstream_cx_connect_fail;
  t.ok(dials >= 1 && dials <= 10, `the dead instance was dialled ${dials} times`);
});

t.test('ejection lasts whole outlier-detection intervals, and the multiplier shrinks by one per quiet interval', async (t) => {
  const clock = new FakeClock();
  const { endpoint, changes } = endpointOn(1, clock);
  t.teardown(() => endpoint.close('test over'));
  const outlier = { consecutiveErrors: 2, intervalMs: 10_000, baseEjectionTimeMs: 3_000, maxEjectionPercent: 50 };
  endpoint.recordFailure(outlier);
  t.equal(endpoint.ejected, false, 'one error of two');
  endpoint.recordFailure(outlier);
  t.equal(endpoint.ejected, true);
  t.equal(endpoint.ejections, 1);
  t.equal(endpoint.ejectedUntil - clock.now(), 10_000, '3 s rounded up to the next 10 s interval');
  clock.advance(9_999);
  t.equal(endpoint.ejected, true);
  const before = changes();
  clock.advance(1);
  t.equal(endpoint.ejected, false, 'back at the interval boundary');
  t.equal(changes(), before + 1, 'and the clusters are told');
  endpoint.recordFailure(outlier);
  endpoint.recordFailure(outlier);
  t.equal(endpoint.ejections, 2, 'ejected again at once: the multiplier grows');
  t.equal(endpoint.ejectedUntil - clock.now(), 10_000, '6 s, rounded up');
  for (let i = 0; i < 4; i++) {
    endpoint.recordFailure(outlier);
    endpoint.recordFailure(outlier);
    clock.advance(endpoint.ejectedUntil - clock.now());
  }
  t.equal(endpoint.ejections, 5, 'the fifth ejection in a row lasts 15 s: two intervals');
  clock.advance(25_000); // two and a half quiet intervals after it ended
  endpoint.recordFailure(outlier);
  endpoint.recordFailure(outlier);
  t.equal(endpoint.ejections, 4, 'two quiet intervals took two off the multiplier of 5 before this ejection added one');
  t.equal(endpoint.ejectedUntil - clock.now(), 20_000, '12 s rounded up to two intervals');
});

/** A clock whose timers fire a little before its own reading says they are due, as Node's may against performance.now(). */
class EarlyClock extends FakeClock {
  override now(): number {
    return super.now() - 0.5;
  }
}

t.test('the end of a backoff or an ejection is the timer firing, not a clock comparison (timers may fire early)', async (t) => {
  const clock = new EarlyClock();
  const port = await deadPort();
  const { endpoint, changes } = endpointOn(port, clock);
  t.teardown(() => endpoint.close('test over'));
  await failedSend(endpoint);
  const before = changes();
  clock.advance(250);
  t.equal(changes(), before + 1, 'the clusters are told');
  t.equal(endpoint.available, true, 'available when they rebuild their pickers, though the clock reads 0.5 ms short');
  const outlier = { consecutiveErrors: 1, intervalMs: 1000, baseEjectionTimeMs: 1000, maxEjectionPercent: 100 };
  endpoint.recordFailure(outlier);
  t.equal(endpoint.ejected, true);
  clock.advance(1000);
  t.equal(endpoint.ejected, false, 'not ejected once its timer fired');
});

t.test('a failed extra connection does not take an endpoint with a working connection out of rotation', async (t) => {
  const held: Array<() => void> = [];
  const provider = await startTestProvider({ services: { [USER_SERVICE]: { getUser: () => new Promise((resolve) => held.push(() => resolve('ok'))) } } });
  const clock = new FakeClock();
  const stats = new ProxyStats();
  const endpoint = new UpstreamEndpoint(
    provider.host,
    provider.port,
    { ...DEFAULT_CONNECTION_POOL, maxConnections: 2, connectTimeoutMs: 5_000 },
    {
      maxPayload: 1 << 20,
      heartbeatIntervalMs: 60_000,
      stats,
      clock,
      random: () => 0.5,
      onAvailabilityChange: () => {},
    },
  );
  t.teardown(async () => {
    for (const release of held) release();
    endpoint.close('test over');
    await provider.close();
  });
  const answers: boolean[] = [];
  const send = () => endpoint.send(encodeRequest(1n, body), { upstreamId: 0, onResponse: () => answers.push(true), onError: () => answers.push(false) });
  send();
  await eventually(() => held.length === 1, 'the first call to reach the provider');
  // The provider stops accepting: its open connection still works, a new one is refused.
  await provider.stopAccepting();
  send(); // the first connection is busy: a second is dialled, and refused
  await eventually(() => stats.counters.upstream_cx_connect_fail === 1, 'the extra connection to fail');
  t.equal(endpoint.backingOff, true, 'dialling backs off');
  t.equal(endpoint.available, true, 'but the endpoint keeps taking calls over its open connection');
  send();
  await eventually(() => held.length === 2, 'the later call to arrive over the open connection');
  t.equal(stats.counters.upstream_cx_total, 2, 'no dial while backing off');
  while (held.length > 0) held.shift()!();
  await eventually(() => answers.length === 3, 'the answers');
  t.equal(answers.filter((a) => a).length, 2, 'the calls on the open connection are answered; the one queued on the refused dial failed (a proxy retries it)');
});
