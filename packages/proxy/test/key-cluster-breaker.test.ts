// The circuit breaker of a service whose endpoints name their keys: its key clusters (one per
// key its calls use) count their calls in flight on the service's own cluster, so a service
// whose calls span several keys admits `maxRequests` in all, not `maxRequests` per key.
import t from 'tap';
import { DubboProxy } from '@dubbo-mesh/proxy';
import { USER_SERVICE, eventually, makeUser, startTestProvider, userValue, type TestProvider } from '@dubbo-mesh/test-support';
import { buildConfig } from './fixtures/mesh.js';
import { userClient } from './fixtures/consumer.js';

const V1 = { interface: USER_SERVICE, group: '', version: '1.0.0' };
const V2 = { interface: USER_SERVICE, group: '', version: '2.0.0' };

t.test('calls of two keys share the service’s maxRequests', async (t) => {
  // Each provider holds its calls until released.
  const held: Array<() => void> = [];
  const holding = (name: string): Promise<TestProvider> =>
    startTestProvider({
      services: {
        [USER_SERVICE]: {
          getUser: ([id]) => new Promise((resolve) => held.push(() => resolve(userValue({ ...makeUser(id as number), name })))),
        },
      },
    });
  const old = await holding('old');
  const upgraded = await holding('upgraded');
  const proxy = new DubboProxy({ node: 'consumer', role: 'proxy', outbound: { host: '127.0.0.1', port: 0 } });
  await proxy.start();
  const v1 = userClient(`127.0.0.1:${proxy.addresses().outbound!.port}`, { version: '1.0.0' });
  const v2 = userClient(`127.0.0.1:${proxy.addresses().outbound!.port}`, { version: '2.0.0' });
  t.teardown(async () => {
    for (const release of held) release();
    v1.close();
    v2.close();
    await proxy.stop(100);
    await old.close();
    await upgraded.close();
  });
  proxy.applySnapshot(
    buildConfig([
      {
        apiVersion: 'dubbo-mesh.io/v1alpha1',
        kind: 'DubboService',
        metadata: { name: 'user-app' },
        spec: {
          interfaces: [V1, V2],
          endpoints: [
            { address: old.address, interfaces: [V1] },
            { address: upgraded.address, interfaces: [V2] },
          ],
        },
      },
      {
        apiVersion: 'dubbo-mesh.io/v1alpha1',
        kind: 'DubboPolicy',
        metadata: { name: 'user-app' },
        spec: { service: 'user-app', connectionPool: { maxRequests: 2 } },
      },
    ]),
    'v1',
  );
  const first = [v1.getUser(1), v2.getUser(2)];
  await eventually(() => held.length === 2, 'both calls held by their providers');
  const third = await v1.getUser(3);
  t.match(third.err?.message, /default\/user-app has 2 calls in flight \(maxRequests 2\)/, 'a third call of either key overflows the service’s limit');
  const fourth = await v2.getUser(4);
  t.match(fourth.err?.message, /maxRequests 2/);
  for (const release of held.splice(0)) release();
  const answers = await Promise.all(first);
  t.same(
    answers.map((answer) => (answer.res as { name: string }).name),
    ['old', 'upgraded'],
  );
  await eventually(() => proxy.clusters.allClusters().every((cluster) => cluster.active === 0), 'nothing counted in flight');
  const after = v2.getUser(5);
  await eventually(() => held.length === 1, 'a call is admitted again');
  held.splice(0)[0]!();
  t.equal(((await after).res as { name: string }).name, 'upgraded');
});
