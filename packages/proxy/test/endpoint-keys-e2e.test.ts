// Per-endpoint service keys and Dubbo's consumer wildcards end to end: apache-dubbo-js →
// outbound proxy → providers that find the service they export by the exact key they
// receive, as a Java provider does. `user-app` has two providers of one mesh service, one
// serving UserService 1.0.0 and the other 2.0.0 (an application halfway through a rolling
// upgrade, as the registry bridge imports it); `grouped-app` has one provider exporting
// UserService 1.0.0 in groups a and b. Every call reaches a provider of its own key; a call
// asking version `*`, group `*` or a group list reaches them all, sent with each provider's
// own group and version (a Java provider refuses `*` and `a,b`).
import t from 'tap';
import net from 'node:net';
import { FrameDecoder, ResponseStatus, decodeErrorMessage, encodeRequest, encodeRequestBody, type Frame } from '@dubbo-mesh/protocol';
import { DubboProxy, type FilterCall } from '@dubbo-mesh/proxy';
import { USER_SERVICE, eventually, makeUser, startTestProvider, userValue, type TestProvider } from '@dubbo-mesh/test-support';
import { buildConfig } from './fixtures/mesh.js';
import { userClient } from './fixtures/consumer.js';

const V1 = { interface: USER_SERVICE, group: '', version: '1.0.0' };
const V2 = { interface: USER_SERVICE, group: '', version: '2.0.0' };
const V3 = { interface: USER_SERVICE, group: '', version: '3.0.0' };
const GROUP_A = { interface: USER_SERVICE, group: 'a', version: '1.0.0' };
const GROUP_B = { interface: USER_SERVICE, group: 'b', version: '1.0.0' };

/** What a provider received of each call it served: the key it looked its exporter up by, and the attachments. */
interface Served {
  readonly group: string;
  readonly version: string;
  readonly attachments: Record<string, unknown>;
}

/** No version: what Dubbo writes `0.0.0`. */
const bare = (version: string) => (version === '0.0.0' ? '' : version);

/**
 * A provider that exports `exported` (group and version) and finds the service of each call as
 * a Java provider does: Dubbo 3 first checks the body's version (`keyWithoutGroup(path,
 * version)`, "Service … not found, invocation rejected"), then the exporter is looked up by
 * the `group` and `version` attachments (which override the body's version when Java decodes
 * the call): "Not found exported service". The users it returns carry its name and the key.
 */
async function exporting(name: string, exported: ReadonlyArray<{ group: string; version: string }>, served: Served[]): Promise<TestProvider> {
  return startTestProvider({
    services: {
      [USER_SERVICE]: {
        getUser: ([id], request) => {
          const bodyVersion = bare(request.version);
          if (!exported.some((key) => key.version === bodyVersion))
            throw new Error(`Service ${USER_SERVICE}:${request.version} not found, invocation rejected.`);
          const sentVersion = request.attachments.version;
          const version = bare(typeof sentVersion === 'string' ? sentVersion : request.version);
          const sentGroup = request.attachments.group;
          const group = typeof sentGroup === 'string' ? sentGroup : '';
          if (!exported.some((key) => key.group === group && key.version === version)) {
            throw new Error(`Not found exported service: ${group === '' ? '' : `${group}/`}${USER_SERVICE}:${version}`);
          }
          served.push({ group, version, attachments: request.attachments });
          return userValue({ ...makeUser(id as number), name: `${name} ${group === '' ? '' : `${group}/`}${version}` });
        },
      },
    },
  });
}

let outbound: DubboProxy;
let address: string;
let old: TestProvider;
const servedByOld: Served[] = [];
const servedByUpgraded: Served[] = [];
const servedByGrouped: Served[] = [];
t.before(async () => {
  old = await exporting('old', [V1], servedByOld);
  const upgraded = await exporting('upgraded', [V2], servedByUpgraded);
  const grouped = await exporting('grouped', [GROUP_A, GROUP_B], servedByGrouped);
  t.teardown(async () => {
    await outbound.stop(100);
    await old.close();
    await upgraded.close();
    await grouped.close();
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
      {
        apiVersion: 'dubbo-mesh.io/v1alpha1',
        kind: 'DubboService',
        metadata: { name: 'grouped-app' },
        spec: { interfaces: [GROUP_A, GROUP_B], endpoints: [{ address: grouped.address }] },
      },
    ]),
    'v1',
  );
});

/** The names (provider and key served) of `count` concurrent calls of one client, and the errors. */
async function served(options: { group?: string; version: string }, count: number): Promise<{ names: Map<string, number>; errors: string[] }> {
  const client = userClient(address, options);
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
  const v1 = await served({ version: '1.0.0' }, 200);
  t.same(v1.errors, []);
  t.same([...v1.names], [['old 1.0.0', 200]], 'every 1.0.0 call reached the old instance');
  const v2 = await served({ version: '2.0.0' }, 200);
  t.same(v2.errors, []);
  t.same([...v2.names], [['upgraded 2.0.0', 200]], 'every 2.0.0 call reached the upgraded instance');
  const names = outbound.clusters.allClusters().map((cluster) => cluster.name);
  t.ok(
    names.includes(`default/user-app [${USER_SERVICE}:1.0.0]`) && names.includes(`default/user-app [${USER_SERVICE}:2.0.0]`),
    `one cluster per key: ${names.join(', ')}`,
  );
});

t.test('a consumer asking version * reaches both instances, each sent its own version, as a Dubbo consumer would', async (t) => {
  const before = { old: servedByOld.length, upgraded: servedByUpgraded.length };
  const any = await served({ version: '*' }, 100);
  t.same(any.errors, [], 'no provider refused the key it was sent');
  t.same([...any.names.keys()].sort(), ['old 1.0.0', 'upgraded 2.0.0']);
  const received = [...servedByOld.slice(before.old), ...servedByUpgraded.slice(before.upgraded)];
  t.equal(received.length, 100);
  t.ok(
    received.every((call) => call.attachments.version !== '*'),
    'no provider received version * in its attachments',
  );
});

t.test('a group list and group * reach the provider of each group, sent as that group', async (t) => {
  const list = await served({ group: 'a,b', version: '1.0.0' }, 100);
  t.same(list.errors, []);
  t.same([...list.names.keys()].sort(), ['grouped a/1.0.0', 'grouped b/1.0.0'], 'both groups of the list, one provider exporting both');
  const everything = await served({ group: '*', version: '*' }, 200);
  t.same(everything.errors, []);
  t.same(
    [...everything.names.keys()].sort(),
    ['grouped a/1.0.0', 'grouped b/1.0.0', 'old 1.0.0', 'upgraded 2.0.0'],
    'group * and version *: every key of both services, none with no provider',
  );
  const names = outbound.clusters.allClusters().map((cluster) => cluster.name);
  t.notOk(
    names.some((name) => name.includes('a,b') || name.includes('*')),
    `no cluster named after a call's list or wildcard: ${names.join(', ')}`,
  );
});

t.test('a filter’s attachment changes and the concrete key are both sent', async (t) => {
  outbound.setFilterChain({
    filters: [
      {
        name: 'stamp',
        onRequest: (call: FilterCall) => {
          call.setAttachment('x-stamp', 'stamped');
        },
      },
    ],
  });
  t.teardown(() => outbound.setFilterChain({}));
  const before = servedByGrouped.length;
  const list = await served({ group: 'b,zz', version: '*' }, 20);
  t.same(list.errors, []);
  t.same([...list.names], [['grouped b/1.0.0', 20]]);
  const received = servedByGrouped.slice(before);
  t.equal(received.length, 20);
  t.ok(
    received.every((call) => call.attachments['x-stamp'] === 'stamped' && call.group === 'b' && call.version === '1.0.0'),
    'the filter’s attachment and group b, version 1.0.0 on every call',
  );
});

/** Send one hand-made getUser(1) request to the outbound proxy; resolves with the answer. */
async function rawCall(attachments: Record<string, unknown>, version: string): Promise<Frame> {
  const socket = net.connect({ host: '127.0.0.1', port: outbound.addresses().outbound!.port });
  t.teardown(() => socket.destroy());
  const decoder = new FrameDecoder();
  const answer = new Promise<Frame>((resolve) =>
    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk);
      const frame = decoder.next();
      if (frame !== undefined) resolve(frame);
    }),
  );
  const body = encodeRequestBody({ path: USER_SERVICE, version, method: 'getUser', parameterTypes: ['long'], arguments: [1], attachments });
  socket.write(encodeRequest(7n, body));
  return answer;
}

t.test('a request whose key cannot be rewritten is answered with a clear error; the proxy goes on', async (t) => {
  // The group attachment is a map (no group to the router) followed by a list: removing the
  // map would renumber the list's Hessian references, which the rewrite refuses.
  const frame = await rawCall({ path: USER_SERVICE, group: { not: 'a string' }, tags: ['x', 'y'] }, '*');
  t.equal(frame.header.status, ResponseStatus.BAD_REQUEST);
  t.match(decodeErrorMessage(frame.body), new RegExp(`cannot send the call as ${USER_SERVICE.replace(/\./g, '\\.')}:[12]\\.0\\.0 to default/user-app`));
  const again = await served({ version: '*' }, 10);
  t.same(again.errors, [], 'later calls are served');
});

t.test('a wildcard call skips a destination whose endpoints are all unavailable', async (t) => {
  old.sendReadonly();
  await eventually(() => outbound.clusters.allEndpoints().find((endpoint) => endpoint.id === old.address)?.available === false, 'the old instance is READONLY');
  const any = await served({ version: '*' }, 100);
  t.same(any.errors, [], 'no call failed for the old instance');
  t.same([...any.names], [['upgraded 2.0.0', 100]], 'every call reached the upgraded instance');
  const v1 = await served({ version: '1.0.0' }, 3);
  t.equal(v1.errors.length, 3, 'an exact call of the unavailable key still fails: it has no other destination');
});

t.test('no call is left counted in flight: key clusters and the service clusters they count on', async (t) => {
  await eventually(() => outbound.clusters.allClusters().every((cluster) => cluster.active === 0), 'every count back to 0');
  t.ok(outbound.clusters.allClusters().length > 0);
});
