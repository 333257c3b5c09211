// Failure paths end to end: instances dying under load, snapshot swaps under load, circuit
// breakers and READONLY — with the real apache-dubbo-js consumer.
import t, { type Test } from 'tap';
import net from 'node:net';
import { FrameDecoder, encodeRequest, encodeRequestBody } from '@dubbo-mesh/protocol';
import { USER_SERVICE, eventually } from '@dubbo-mesh/test-support';
import { startMesh, type Instance, type Mesh } from './fixtures/mesh.js';
import { userClient, type UserClient } from './fixtures/consumer.js';

async function load(
  clients: UserClient[],
  total: number,
  concurrency: number,
  during?: (done: number) => void | Promise<void>,
): Promise<{ errors: string[]; done: number }> {
  const errors: string[] = [];
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      while (next < total) {
        const id = next++;
        const result = await clients[worker % clients.length]!.getUser(id);
        if (result.err !== null) errors.push(String(result.err.message));
        else if ((result.res as { id: number }).id !== id) errors.push(`wrong result for ${id}`);
        done += 1;
        await during?.(done);
      }
    }),
  );
  return { errors, done };
}

/** A mesh with one apache-dubbo-js client on its outbound proxy, closed when the test ends. */
async function meshWithClient(t: Test): Promise<{ mesh: Mesh; client: UserClient }> {
  const mesh = await startMesh();
  const client = userClient(mesh.outboundAddress);
  t.teardown(async () => {
    client.close();
    await mesh.close();
  });
  return { mesh, client };
}

/**
 * 3,000 calls from two apache-dubbo-js clients over 60 workers; `kill` runs on instance 1
 * after the 800th. The mesh and clients close when the test ends.
 */
async function loadWithKill(
  t: Test,
  kill: (victim: Instance) => Promise<void>,
): Promise<{ mesh: Mesh; clients: UserClient[]; victim: Instance; errors: string[]; done: number }> {
  const mesh = await startMesh();
  const clients = [userClient(mesh.outboundAddress), userClient(mesh.outboundAddress)];
  t.teardown(async () => {
    clients.forEach((c) => c.close());
    await mesh.close();
  });
  const victim = mesh.instances[1]!;
  let killed = false;
  const { errors, done } = await load(clients, 3000, 60, async (count) => {
    if (count === 800 && !killed) {
      killed = true;
      await kill(victim);
    }
  });
  return { mesh, clients, victim, errors, done };
}

t.test('an instance killed under load: no failed call, and it is ejected', async (t) => {
  const { mesh, clients, victim, errors, done } = await loadWithKill(t, async (victim) => {
    await victim.inbound.destroy(); // the pod's sidecar dies abruptly, calls in flight included
    await victim.provider.close();
  });
  t.equal(done, 3000);
  t.same(errors, [], 'every call succeeded: lost connections and refused connects were retried elsewhere');
  t.ok(mesh.outbound.stats.counters.upstream_rq_retry > 0, `${mesh.outbound.stats.counters.upstream_rq_retry} retries`);
  const endpoint = mesh.outbound.clusters.allEndpoints().find((e) => e.id === victim.inboundAddress)!;
  t.ok(endpoint.ejected, 'the dead instance is ejected');
  const callsAfter = mesh.instances[0]!.calls + mesh.instances[2]!.calls;
  await load(clients, 200, 20);
  t.equal(mesh.instances[0]!.calls + mesh.instances[2]!.calls - callsAfter, 200, 'later calls go to the live instances');
});

t.test('an application killed under load behind its live sidecar: no failed call, and the instance is ejected', async (t) => {
  // The application dies; its inbound proxy stays up and answers 70 for it.
  const { mesh, clients, victim, errors, done } = await loadWithKill(t, (victim) => victim.provider.close());
  t.equal(done, 3000);
  t.same(errors, [], 'every call succeeded: the sidecar\'s "cannot connect" answers were retried on other instances');
  const counters = mesh.outbound.stats.counters;
  t.ok(counters.upstream_rq_relayed_failure > 0, `${counters.upstream_rq_relayed_failure} relayed failures`);
  t.ok(counters.upstream_rq_retry >= counters.upstream_rq_relayed_failure, 'each was retried');
  const endpoint = mesh.outbound.clusters.allEndpoints().find((e) => e.id === victim.inboundAddress)!;
  t.ok(endpoint.ejected, 'the instance whose application died is ejected');
  // With retries off, the consumer sees the relayed failure, naming both hops.
  mesh.outbound.applySnapshot(
    mesh.config({
      route: { hosts: [USER_SERVICE], routes: [{ destinations: [{ service: 'user-provider', subset: victim.version }], retries: { attempts: 0 } }] },
    }),
    'no-retries',
  );
  endpoint.ejectedUntil = 0; // let a call reach it again
  mesh.outbound.clusters.epoch += 1;
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => clients[0]!.getUser(i)));
  const relayed = results.map((r) => String(r.err?.message ?? '')).filter((m) => m.includes('did not get the call'));
  t.ok(relayed.length > 0, "a call that reached the dead application's sidecar fails with its answer");
  t.match(
    relayed[0]!,
    new RegExp(
      `dubbo-mesh \\[DM_ERR_\\w+\\]: the sidecar at ${victim.inboundAddress.replace(/\./g, '\\.')} answered: the application behind the inbound proxy did not get the call: (cannot connect to|no healthy instance of inbound: .* failed \\d+ connects? in a row)`,
    ),
  );
});

t.test('snapshot swaps under load lose no call', async (t) => {
  const { mesh, client } = await meshWithClient(t);
  const configs = [
    mesh.config({ route: { hosts: [USER_SERVICE], routes: [{ destinations: [{ service: 'user-provider', subset: 'v1' }] }] } }),
    mesh.config({ route: { hosts: [USER_SERVICE], routes: [{ destinations: [{ service: 'user-provider', subset: 'v2' }] }] } }),
    mesh.config(),
  ];
  let swaps = 0;
  const timer = setInterval(() => mesh.outbound.applySnapshot(configs[swaps % 3]!, `swap-${++swaps}`), 5);
  const { errors, done } = await load([client], 3000, 50);
  clearInterval(timer);
  t.equal(done, 3000);
  t.same(errors, []);
  t.ok(swaps > 10, `${swaps} snapshot swaps during the load`);
  t.ok(
    mesh.instances.every((i) => i.calls > 0),
    'every instance served under the changing routes',
  );
});

t.test('the circuit breaker answers 100 past maxRequests', async (t) => {
  const { mesh, client } = await meshWithClient(t);
  mesh.outbound.applySnapshot(mesh.config({ policy: { connectionPool: { maxRequests: 3 } } }), 'breaker');
  for (const instance of mesh.instances) instance.delayMs = 200;
  const results = await Promise.all(Array.from({ length: 10 }, (_, i) => client.getUser(i)));
  const overflow = results.filter((r) => /maxRequests 3/.test(String(r.err?.message)));
  t.equal(results.filter((r) => r.err === null).length, 3, 'three calls in flight are allowed');
  t.equal(overflow.length, 7, 'the rest get a local reply naming the limit');
  t.match(String(overflow[0]!.err!.message), /dubbo-mesh \[DM_ERR_\w+\]: default\/user-provider has 3 calls in flight \(maxRequests 3\)/);
  t.equal(mesh.outbound.stats.counters.local_response_overflow, 7);
});

t.test("a provider's READONLY event reaches the outbound proxy, which stops sending there", async (t) => {
  const { mesh, client } = await meshWithClient(t);
  await load([client], 60, 6); // connections everywhere
  const leaving = mesh.instances[0]!;
  leaving.provider.sendReadonly();
  const endpoint = () => mesh.outbound.clusters.allEndpoints().find((e) => e.id === leaving.inboundAddress)!;
  await eventually(() => endpoint().readonly, 'the outbound proxy to mark the endpoint READONLY');
  t.ok(endpoint().readonly, 'the inbound proxy forwarded READONLY and the outbound proxy marked the endpoint');
  const before = leaving.calls;
  const { errors } = await load([client], 200, 10);
  t.same(errors, []);
  t.equal(leaving.calls, before, 'no new call went to the leaving instance');
});

t.test('an instance stopped gracefully (SIGTERM) loses no call even with retries off', async (t) => {
  const { mesh, client } = await meshWithClient(t);
  mesh.outbound.applySnapshot(
    mesh.config({ route: { hosts: [USER_SERVICE], routes: [{ destinations: [{ service: 'user-provider' }], retries: { attempts: 0 } }] } }),
    'no-retries',
  );
  const leaving = mesh.instances[1]!;
  let stopped: Promise<boolean> | undefined;
  const { errors } = await load([client], 2000, 40, (count) => {
    if (count === 500 && stopped === undefined) stopped = leaving.inbound.stop(2000);
  });
  t.same(errors, [], 'READONLY moved new calls away and calls in flight were answered');
  t.equal(await stopped, true, 'the drain finished in time');
});

t.test('a drain answers the calls in flight before it ends the connection', async (t) => {
  const { mesh, client } = await meshWithClient(t);
  mesh.outbound.applySnapshot(
    mesh.config({ route: { hosts: [USER_SERVICE], routes: [{ destinations: [{ service: 'user-provider' }], retries: { attempts: 0 } }] } }),
    'no-retries',
  );
  await load([client], 30, 6); // connections everywhere
  for (const instance of mesh.instances) instance.delayMs = 150;
  const before = mesh.instances.reduce((sum, i) => sum + i.calls, 0);
  const calls = Promise.all(Array.from({ length: 9 }, (_, i) => client.getUser(i)));
  // Every call is in flight at its provider before the drains begin.
  await eventually(() => mesh.instances.reduce((sum, i) => sum + i.calls, 0) === before + 9, 'the nine calls to reach their providers');
  const stopped = await Promise.all(mesh.instances.map((i) => i.inbound.stop(2000)));
  const results = await calls;
  t.same(
    results.map((r) => r.err?.message ?? null),
    Array(9).fill(null),
    'every call in flight got its answer',
  );
  t.same(stopped, [true, true, true], 'each drain ended when its last call was answered');
});

t.test('a call sent on a connection whose drain has ended is not executed (its answer could not be sent)', async (t) => {
  const mesh = await startMesh([{ name: 'late', version: 'v1' }]);
  t.teardown(() => mesh.close());
  const instance = mesh.instances[0]!;
  const port = Number(mesh.outboundAddress.split(':')[1]);
  const body = encodeRequestBody({
    path: USER_SERVICE,
    version: '1.0.0',
    method: 'getUser',
    parameterTypes: ['long'],
    arguments: [{ $class: 'long', $: 1 }],
    attachments: {},
  });
  // A: one slow call keeps the proxy's drain going. B: idle, so its drain ends at once.
  const a = net.connect(port, '127.0.0.1');
  const b = net.connect(port, '127.0.0.1');
  b.allowHalfOpen = true; // B keeps writing after the proxy's end, as a careless client might
  for (const socket of [a, b]) {
    socket.on('error', () => {});
    socket.on('data', () => {});
  }
  await Promise.all([a, b].map((socket) => new Promise((resolve) => socket.once('connect', resolve))));
  instance.delayMs = 400;
  a.write(encodeRequest(1n, body));
  await eventually(() => instance.calls === 1, "A's call to reach the provider");
  const bEnded = new Promise((resolve) => b.once('end', resolve));
  const stopped = mesh.outbound.stop(2000);
  await bEnded;
  const before = instance.calls;
  t.equal(mesh.outbound.stats.gauges.downstream_cx_active, 2, 'A and B are both still open at the proxy');
  b.write(encodeRequest(2n, body));
  // The positive signal: the proxy closes its side of B when the late call arrives, instead of executing it.
  await eventually(() => mesh.outbound.stats.gauges.downstream_cx_active === 1, 'the proxy to close B');
  t.equal(instance.calls, before, 'the late call was not forwarded');
  t.equal(await stopped, true, "A's call was answered and the drain finished");
  a.destroy();
  b.destroy();
});

t.test('a one-way call that fails gets no local reply (its consumer waits for none), a two-way one does', async (t) => {
  const mesh = await startMesh([{ name: 'only', version: 'v1' }]);
  t.teardown(() => mesh.close());
  const socket = net.connect(Number(mesh.outboundAddress.split(':')[1]), '127.0.0.1');
  t.teardown(() => socket.destroy());
  await new Promise((resolve) => socket.once('connect', resolve));
  const ids: bigint[] = [];
  const decoder = new FrameDecoder();
  socket.on('data', (chunk: Buffer) => {
    decoder.push(chunk);
    for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) ids.push(frame.header.requestId);
  });
  const body = encodeRequestBody({ path: 'org.example.Unknown', method: 'm', parameterTypes: [], arguments: [] });
  socket.write(encodeRequest(1n, body, { twoWay: false }));
  socket.write(encodeRequest(2n, body));
  // A third call after them is the positive signal: once it is answered, any answer to the first would have come.
  socket.write(encodeRequest(3n, body));
  await eventually(() => ids.length >= 2, 'the answers to the two-way calls');
  t.same(ids, [2n, 3n], 'only the two-way calls are answered (60, service not found)');
  t.equal(mesh.outbound.stats.counters.local_response_service_not_found, 3, 'all three are counted');
});
