// End to end on real sockets: apache-dubbo-js → outbound proxy → inbound proxies → providers.
import t from 'tap';
import net from 'node:net';
import { decodeErrorMessage, decodeFrame, encodeHeartbeatRequest, encodeRequest, encodeRequestBody, ResponseStatus } from '@dubbo-mesh/protocol';
import { DubboProxy } from '@dubbo-mesh/proxy';
import { USER_SERVICE, eventually } from '@dubbo-mesh/test-support';
import { startMesh, type Mesh } from './fixtures/mesh.js';
import { userClient } from './fixtures/consumer.js';

let mesh: Mesh;
t.before(async () => {
  mesh = await startMesh();
});
t.teardown(() => mesh.close());

t.test('200 concurrent calls from apache-dubbo-js all get their own results', async (t) => {
  const client = userClient(mesh.outboundAddress);
  t.teardown(() => client.close());
  const results = await Promise.all(Array.from({ length: 200 }, (_, i) => client.getUser(i + 1)));
  const wrong = results.filter((r, i) => r.err !== null || (r.res as { id: number }).id !== i + 1);
  t.equal(wrong.length, 0, 'every call got the user it asked for');
  const served = new Set(results.map((r) => (r.res as { name: string }).name));
  t.same([...served].sort(), ['v1-a', 'v1-b', 'v2-a'], 'with no route, calls spread over every instance');
});

t.test('a weighted route splits 10/90 within 3 points over 10,000 calls', async (t) => {
  mesh.outbound.applySnapshot(
    mesh.config({
      route: {
        hosts: [USER_SERVICE],
        routes: [
          {
            name: 'canary',
            destinations: [
              { service: 'user-provider', subset: 'v2', weight: 10 },
              { service: 'user-provider', subset: 'v1', weight: 90 },
            ],
          },
        ],
      },
    }),
    'split',
  );
  const client = userClient(mesh.outboundAddress);
  t.teardown(() => client.close());
  const bySubset = { v1: 0, v2: 0 };
  let errors = 0;
  for (let batch = 0; batch < 50; batch++) {
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => client.getUser(batch * 200 + i)));
    for (const result of results) {
      if (result.err !== null) errors += 1;
      else bySubset[(result.res as { name: string }).name.startsWith('v2') ? 'v2' : 'v1'] += 1;
    }
  }
  t.equal(errors, 0);
  const v2Share = (bySubset.v2 / 10000) * 100;
  t.ok(Math.abs(v2Share - 10) <= 3, `v2 got ${v2Share.toFixed(2)}% (target 10 ± 3)`);
  t.equal(mesh.log.filter((e) => e.rule === 'canary').length >= 10000, true, 'the access log names the rule');
});

t.test('match on an attachment value routes gold callers to v2', async (t) => {
  mesh.outbound.applySnapshot(
    mesh.config({
      route: {
        hosts: ['org.apache.dubbo.benchmark.service.*'],
        routes: [
          { name: 'gold', match: [{ attachments: { group: { exact: 'gold' } } }], destinations: [{ service: 'user-provider', subset: 'v2' }] },
          { name: 'rest', destinations: [{ service: 'user-provider', subset: 'v1' }] },
        ],
      },
    }),
    'gold',
  );
  const gold = userClient(mesh.outboundAddress, { group: 'gold' });
  const plain = userClient(mesh.outboundAddress);
  t.teardown(() => {
    gold.close();
    plain.close();
  });
  const goldNames = new Set((await Promise.all(Array.from({ length: 20 }, (_, i) => gold.getUser(i)))).map((r) => (r.res as { name: string }).name));
  const plainNames = new Set((await Promise.all(Array.from({ length: 20 }, (_, i) => plain.getUser(i)))).map((r) => (r.res as { name: string }).name));
  t.same([...goldNames], ['v2-a']);
  t.notOk(plainNames.has('v2-a'));
});

t.test('an unknown service key gets status 60 with a message naming it', async (t) => {
  const client = userClient(mesh.outboundAddress);
  t.teardown(() => client.close());
  const result = await client.call('org.example.NoSuchService', 'ping');
  t.equal(result.res, null);
  t.match(String(result.err?.message), /dubbo-mesh \[DM_ERR_\w+\]: no mesh service provides org\.example\.NoSuchService:1\.0\.0/);
  t.ok(mesh.outbound.stats.counters.local_response_service_not_found >= 1);
});

t.test('before its first snapshot a proxy answers 70 saying it waits for its configuration', async (t) => {
  const proxy = new DubboProxy({ node: 'no-config', role: 'proxy', outbound: { host: '127.0.0.1', port: 0 } });
  await proxy.start();
  const client = userClient(`127.0.0.1:${proxy.addresses().outbound!.port}`);
  t.teardown(async () => {
    client.close();
    await proxy.stop(100);
  });
  t.equal(proxy.ready, false, 'not ready');
  const result = await client.getUser(1);
  t.match(
    String(result.err?.message),
    /dubbo-mesh \[DM_ERR_\w+\]: no configuration yet, so no route for org\.apache\.dubbo\.benchmark\.service\.UserService:1\.0\.0: the proxy is waiting for its first snapshot/,
  );
  t.equal(proxy.stats.counters.local_response_no_healthy_upstream, 1);
});

t.test('a one-way call reaches the provider, also on a connection that is still opening', async (t) => {
  const mesh = await startMesh([{ name: 'one-way', version: 'v1' }]);
  t.teardown(() => mesh.close());
  const instance = mesh.instances[0]!;
  const before = instance.calls;
  const body = encodeRequestBody({
    path: USER_SERVICE,
    version: '1.0.0',
    method: 'getUser',
    parameterTypes: ['long'],
    arguments: [{ $class: 'long', $: 5 }],
    attachments: {},
  });
  const socket = net.connect(Number(mesh.outboundAddress.split(':')[1]), '127.0.0.1');
  t.teardown(() => socket.destroy());
  await new Promise((resolve) => socket.once('connect', resolve));
  // The outbound proxy has no connection to the inbound proxy yet, nor the inbound proxy to the provider.
  socket.write(encodeRequest(1n, body, { twoWay: false }));
  socket.write(encodeRequest(2n, body, { twoWay: false }));
  await eventually(() => instance.calls >= before + 2, 'both one-way calls to arrive');
  t.equal(instance.calls - before, 2, 'both one-way calls arrived');
});

t.test('a route timeout is a local reply 31 the real client sees', async (t) => {
  mesh.outbound.applySnapshot(
    mesh.config({
      route: {
        hosts: [USER_SERVICE],
        routes: [{ name: 'slow', destinations: [{ service: 'user-provider', subset: 'v2' }], timeout: '150ms', retries: { attempts: 0 } }],
      },
    }),
    'slow',
  );
  mesh.instances[2]!.delayMs = 1000;
  const client = userClient(mesh.outboundAddress);
  t.teardown(() => {
    client.close();
    mesh.instances[2]!.delayMs = 0;
  });
  const started = Date.now();
  const result = await client.getUser(5);
  t.match(String(result.err?.message), /dubbo-mesh \[DM_ERR_\w+\]: no response for .*UserService:1\.0\.0 within 150 ms \(1 attempt\)/);
  t.ok(Date.now() - started < 900, 'answered at the route timeout, not the provider delay');
  const entry = mesh.log.at(-1)!;
  t.match(entry, { status: 31, rule: 'slow', attempts: 1, endpoint: mesh.instances[2]!.inboundAddress }, 'the access log names the endpoint that timed out');
});

t.test('heartbeats are answered by the proxy itself, byte for byte', async (t) => {
  const socket = net.connect(Number(mesh.outboundAddress.split(':')[1]), '127.0.0.1');
  t.teardown(() => socket.destroy());
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(encodeHeartbeatRequest(0x1234n));
  const reply = await new Promise<Buffer>((resolve) => socket.once('data', resolve));
  t.equal(reply.toString('hex'), 'dabb22140000000000001234000000014e');
});

t.test('garbage on one connection closes it while 50 others keep working', async (t) => {
  mesh.outbound.applySnapshot(mesh.config(), 'plain');
  const clients = Array.from({ length: 50 }, () => userClient(mesh.outboundAddress));
  t.teardown(() => clients.forEach((c) => c.close()));
  const garbage = net.connect(Number(mesh.outboundAddress.split(':')[1]), '127.0.0.1');
  const closed = new Promise((resolve) => garbage.once('close', resolve));
  garbage.on('error', () => {});
  const calls = Promise.all(clients.flatMap((client, i) => [client.getUser(i), client.getUser(i + 1000)]));
  garbage.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await closed;
  const results = await calls;
  t.equal(results.filter((r) => r.err !== null).length, 0, 'all 100 calls on the other connections succeeded');
  t.ok(mesh.outbound.stats.counters.downstream_cx_protocol_error >= 1);
});

t.test('an undecodable request gets status 40 with its own id; the connection stays', async (t) => {
  const socket = net.connect(Number(mesh.outboundAddress.split(':')[1]), '127.0.0.1');
  t.teardown(() => socket.destroy());
  await new Promise((resolve) => socket.once('connect', resolve));
  const good = encodeRequestBody({ path: USER_SERVICE, version: '1.0.0', method: 'getUser', parameterTypes: ['long'], arguments: [{ $class: 'long', $: 1 }] });
  socket.write(encodeRequest(77n, Buffer.from([0x05, 0x32, 0x2e, 0x30, 0x2e, 0x32, 0x45])));
  socket.write(encodeRequest(78n, good));
  const frames: Array<{ id: bigint; status: number; body: Buffer }> = [];
  let buffer = Buffer.alloc(0);
  await new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (let r = decodeFrame(buffer); r.kind === 'frame'; r = decodeFrame(buffer)) {
        frames.push({ id: r.frame.header.requestId, status: r.frame.header.status, body: Buffer.from(r.frame.body) });
        buffer = buffer.subarray(r.nextOffset);
      }
      if (frames.length === 2) resolve();
    });
  });
  const bad = frames.find((f) => f.id === 77n)!;
  t.equal(bad.status, ResponseStatus.BAD_REQUEST);
  t.match(
    decodeErrorMessage(bad.body),
    /dubbo-mesh \[DM_ERR_\w+\]: cannot decode request: request service path at offset 6 is not a string \(hessian code 0x45\)/,
  );
  t.equal(frames.find((f) => f.id === 78n)!.status, ResponseStatus.OK, 'the next call on the same connection works');
});
