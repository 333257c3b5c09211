// The gateway: one address in front of every provider of a cluster, routed per request, so
// a caller outside (here apache-dubbo-js) reaches two different services through it.
import t from 'tap';
import { DubboProxy } from '@dubbo-mesh/proxy';
import { USER_SERVICE, makeUser, startTestProvider, userValue } from '@dubbo-mesh/test-support';
import { buildConfig } from './fixtures/mesh.js';
import { userClient } from './fixtures/consumer.js';

const ORDER_SERVICE = 'org.example.OrderService';

t.test('one gateway address serves every provider, routed per request', async (t) => {
  const users = await startTestProvider({ services: { [USER_SERVICE]: { getUser: ([id]) => userValue(makeUser(id as number)) } } });
  const orders = await startTestProvider({ services: { [ORDER_SERVICE]: { count: () => ({ $class: 'long', $: 7 }) } } });
  const gateway = new DubboProxy({ node: 'edge', role: 'gateway', outbound: { host: '127.0.0.1', port: 0 } });
  await gateway.start();
  gateway.applySnapshot(
    buildConfig([
      {
        apiVersion: 'dubbo-mesh.io/v1alpha1',
        kind: 'DubboService',
        metadata: { name: 'user-provider' },
        spec: { interfaces: [USER_SERVICE], endpoints: [{ address: users.address }] },
      },
      {
        apiVersion: 'dubbo-mesh.io/v1alpha1',
        kind: 'DubboService',
        metadata: { name: 'order-provider' },
        spec: { interfaces: [ORDER_SERVICE], endpoints: [{ address: orders.address }] },
      },
    ]),
    'edge',
  );
  const address = `127.0.0.1:${gateway.addresses().gateway!.port}`;
  const client = userClient(address);
  t.teardown(async () => {
    client.close();
    await gateway.stop(100);
    await users.close();
    await orders.close();
  });
  t.same(Object.keys(gateway.addresses()), ['gateway'], 'the listener is named gateway');
  const user = await client.getUser(3);
  t.equal((user.res as { id: number }).id, 3, 'a UserService call reaches the user provider');
  const count = await client.call(ORDER_SERVICE, 'count');
  t.same(count, { res: 7, err: null }, 'an OrderService call on the same connection reaches the order provider');
  t.equal(users.requestCount, 1);
  t.equal(orders.requestCount, 1);
});

t.test('stopping sends READONLY to connected consumers, then closes', async (t) => {
  const { default: net } = await import('node:net');
  const gateway = new DubboProxy({ node: 'edge', role: 'gateway', outbound: { host: '127.0.0.1', port: 0 } });
  await gateway.start();
  gateway.applySnapshot(buildConfig([]), 'empty');
  const socket = net.connect(gateway.addresses().gateway!.port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  const received: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => received.push(chunk));
  const ended = new Promise((resolve) => socket.once('end', resolve));
  const drained = await gateway.stop(2000);
  await ended;
  t.equal(drained, true, 'nothing was in flight, so the drain ends at once');
  t.equal(Buffer.concat(received).toString('hex'), 'dabba2000000000000000000000000020152', 'a READONLY event (one-way event request, body "R")');
  socket.destroy();
});
