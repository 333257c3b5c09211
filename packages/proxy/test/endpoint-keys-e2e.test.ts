// Per-endpoint service keys end to end: apache-dubbo-js → outbound proxy → two providers of
// one mesh service, one serving UserService 1.0.0 and the other 2.0.0 (an application halfway
// through a rolling upgrade, as the registry bridge imports it). Every call reaches a provider
// of its own version; a consumer asking version `*` reaches both.
import t from 'tap';
import { DubboProxy } from '@dubbo-mesh/proxy';
import { USER_SERVICE, makeUser, startTestProvider, userValue, type TestProvider } from '@dubbo-mesh/test-support';
import { buildConfig } from './fixtures/mesh.js';
import { userClient } from './fixtures/consumer.js';

const V1 = { interface: USER_SERVICE, group: '', version: '1.0.0' };
const V2 = { interface: USER_SERVICE, group: '', version: '2.0.0' };
const V3 = { interface: USER_SERVICE, group: '', version: '3.0.0' };

/** A provider whose users carry its name and the version each call asked for. */
async function provider(name: string): Promise<TestProvider> {
  return startTestProvider({
    services: {
      [USER_SERVICE]: {
        getUser: ([id], request) => userValue({ ...makeUser(id as number), name: `${name} ${request.version}` }),
      },
    },
  });
}

let outbound: DubboProxy;
let address: string;
t.before(async () => {
  const old = await provider('old');
  const upgraded = await provider('upgraded');
  t.teardown(async () => {
    await outbound.stop(100);
    await old.close();
    await upgraded.close();
  });
  outbound = new DubboProxy({ node: 'consumer', role: 'proxy', outbound: { host: '127.0.0.1', port: 0 } });
  await outbound.start();
  address = `127.0.0.1:${outbound.addresses().outbound!.port}`;
  outbound.applySnapshot(
    buildConfig([
      {
        apiVersion: 'dubbo-mesh.io/v1alpha1',
        kind: 'DubboService',
        metadata: { name: 'user-app' },
        spec: {
          interfaces: [V1, V2, V3],
          endpoints: [
            { address: old.address, interfaces: [V1] },
            { address: upgraded.address, interfaces: [V2] },
          ],
        },
      },
    ]),
    'v1',
  );
});

/** The names (provider and version served) of `count` concurrent calls of one client. */
async function served(version: string, count: number): Promise<{ names: Map<string, number>; errors: string[] }> {
  const client = userClient(address, { version });
  try {
    const results = await Promise.all(Array.from({ length: count }, (_, i) => client.getUser(i + 1)));
    const names = new Map<string, number>();
    const errors: string[] = [];
    for (const result of results) {
      if (result.err !== null) errors.push(result.err.message);
      else {
        const name = (result.res as { name: string }).name;
        names.set(name, (names.get(name) ?? 0) + 1);
      }
    }
    return { names, errors };
  } finally {
    client.close();
  }
}

t.test('200 calls of each version all reach the provider of that version', async (t) => {
  const v1 = await served('1.0.0', 200);
  t.same(v1.errors, []);
  t.same([...v1.names], [['old 1.0.0', 200]], 'every 1.0.0 call reached the old instance');
  const v2 = await served('2.0.0', 200);
  t.same(v2.errors, []);
  t.same([...v2.names], [['upgraded 2.0.0', 200]], 'every 2.0.0 call reached the upgraded instance');
  const names = outbound.clusters.allClusters().map((cluster) => cluster.name);
  t.ok(
    names.includes(`default/user-app [${USER_SERVICE}:1.0.0]`) && names.includes(`default/user-app [${USER_SERVICE}:2.0.0]`),
    `one cluster per key: ${names.join(', ')}`,
  );
});

t.test('a consumer asking version * reaches both instances, as a Dubbo consumer would', async (t) => {
  const any = await served('*', 100);
  t.same(any.errors, []);
  t.same([...any.names.keys()].sort(), ['old *', 'upgraded *']);
});

t.test('a key of the service that no endpoint provides: no healthy instance, naming the key', async (t) => {
  const v3 = await served('3.0.0', 3);
  t.equal(v3.errors.length, 3);
  t.match(v3.errors[0], `no healthy instance of default/user-app [${USER_SERVICE}:3.0.0]: it has no endpoints`);
});
