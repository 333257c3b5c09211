import t from 'tap';
import { FakeClock, eventually, startZooKeeper } from '@dubbo-mesh/test-support';
import { ZooKeeperSession, encodeNodeName } from '@dubbo-mesh/registry-bridge';
import { startImport } from './fixtures/import-harness.js';
import {
  DUBBO_2_7_7_NODE,
  DUBBO_3_0_8_NODE,
  DUBBO_3_2_0_NODE,
  DUBBO_3_3_TRI_NODE,
  DUBBO_TEST_FIXTURE_NODE,
  SAMPLES_BASIC_URL,
  registerProvider,
  registerRawNode,
  writeMapping,
} from './fixtures/import-registry.js';

const server = await startZooKeeper();
t.teardown(() => server.close());
// The Java providers: a session of their own, as each Dubbo process has.
const providers = new ZooKeeperSession({ connect: server.connect });
await providers.start();
t.teardown(() => providers.close());

let roots = 0;
/** A root of its own per test: tests never see each other's nodes. */
function freshRoot(): { root: string; servicesRoot: string } {
  roots += 1;
  return { root: `/dubbo${roots}`, servicesRoot: `/services${roots}` };
}

t.test('providers registered exactly as Dubbo 2.7 and 3 write them are imported; Dubbo’s own folders are not services', async (t) => {
  const roots = freshRoot();
  const { root } = roots;
  await registerRawNode(providers, `${root}/com.funnycode.DemoService/providers`, DUBBO_2_7_7_NODE);
  await registerRawNode(providers, `${root}/link.elastic.dubbo.entity.DemoService/providers`, DUBBO_3_0_8_NODE);
  await registerRawNode(providers, `${root}/org.apache.dubbo.samples.api.GreetingsService/providers`, DUBBO_3_2_0_NODE);
  await registerRawNode(providers, `${root}/org.apache.dubbo.springboot.demo.DemoService/providers`, DUBBO_3_3_TRI_NODE);
  await registerRawNode(providers, `${root}/org.apache.dubbo.demo.DemoService/providers`, DUBBO_TEST_FIXTURE_NODE);
  await registerProvider(providers, SAMPLES_BASIC_URL, root);
  // What else lives under the root: rules, the mapping, metadata, a consumer, an interface without providers.
  await providers.mkdirp(`${root}/config/dubbo/demo-provider.configurators`);
  await writeMapping(providers, 'org.apache.dubbo.samples.api.GreetingsService', ['first-dubbo-provider'], root);
  await providers.mkdirp(`${root}/metadata/demo-provider`);
  await registerRawNode(
    providers,
    `${root}/org.apache.dubbo.samples.basic.api.DemoService/consumers`,
    encodeNodeName('consumer://10.0.0.9/org.apache.dubbo.samples.basic.api.DemoService?application=demo-consumer&category=consumers&check=false&side=consumer'),
  );
  await providers.mkdirp(`${root}/org.example.Unused/routers`);

  const harness = await startImport(server.connect, roots);
  t.teardown(() => harness.close());
  t.equal(harness.states.length, 1, 'start resolves after the first complete state was emitted');
  const services = harness.services();
  t.same([...services.keys()].sort(), [
    'demo-provider',
    'demoprovider',
    'dubbo-demo-api-provider',
    'first-dubbo-provider',
    'org.apache.dubbo.demo.demoservice',
  ]);
  t.same(services.get('demoprovider')!.interfaces, [{ interface: 'com.funnycode.DemoService', group: 'tc', version: '1.0.0' }]);
  t.same(harness.addresses('demoprovider'), ['127.0.0.1:12345']);
  t.same(harness.addresses('dubbo-demo-api-provider'), ['192.168.1.9:20880']);
  t.same(harness.addresses('demo-provider'), ['172.18.0.9:20880']);
  t.same(services.get('demo-provider')!.endpoints[0]!.labels, {
    application: 'demo-provider',
    default: 'true',
    'dubbo-mesh.io/registry': 'zookeeper',
    release: '1.0-SNAPSHOT',
  });
  const details = harness.source.details();
  t.equal(details.interfaces, 7, 'every interface folder (config, mapping, metadata are not)');
  t.equal(details.interfacesWithProviders, 5);
  t.equal(details.providers, 5);
  t.same(details.skipped, { protocol: 1 }, 'the Triple provider');
  t.ok(harness.source.connection?.().connected);
  t.equal(harness.states[0]![0]!.mergeable, true);
  t.match(harness.states[0]![0]!.origin, /^zookeeper:\/dubbo\d+\/.+\/providers#/);
});

t.test('unregister and register are followed; an empty folder or only empty:// means no providers', async (t) => {
  const roots = freshRoot();
  const { root } = roots;
  const url = (host: string) =>
    `dubbo://${host}:20880/org.example.Greeter?anyhost=true&application=greeter&dubbo=2.0.2&interface=org.example.Greeter&methods=hi&pid=1&release=2.7.23&side=provider&timestamp=1600000000000&version=1.0.0`;
  const a = await registerProvider(providers, url('10.0.0.1'), root);
  const harness = await startImport(server.connect, roots);
  t.teardown(() => harness.close());
  t.same(harness.addresses('greeter'), ['10.0.0.1:20880']);

  const b = await registerProvider(providers, url('10.0.0.2'), root);
  await harness.until((services) => services.get('greeter')?.endpoints.length === 2, 'the new provider');
  await providers.remove(a);
  await harness.until((services) => services.get('greeter')?.endpoints.length === 1, 'the removed provider to go');
  t.same(harness.addresses('greeter'), ['10.0.0.2:20880']);
  await providers.remove(b);
  await harness.until((services) => !services.has('greeter'), 'an empty folder: no providers');
  await registerRawNode(providers, `${root}/org.example.Greeter/providers`, encodeNodeName('empty://10.0.0.9/org.example.Greeter?category=providers'));
  await registerProvider(providers, url('10.0.0.3'), root);
  await harness.until((services) => services.has('greeter'), 'a provider again');
  t.same(harness.addresses('greeter'), ['10.0.0.3:20880'], 'empty:// beside it is skipped');
  // A new interface folder appears: followed too.
  await registerProvider(providers, url('10.0.0.4').replaceAll('org.example.Greeter', 'org.example.Other'), root);
  await harness.until((services) => services.get('greeter')?.interfaces.length === 2, 'the new interface');
  // The whole interface folder is deleted (an operator cleaning up).
  await providers.remove(`${root}/org.example.Other/providers/${encodeNodeName(url('10.0.0.4').replaceAll('org.example.Greeter', 'org.example.Other'))}`);
  await providers.remove(`${root}/org.example.Other/providers`);
  await providers.remove(`${root}/org.example.Other`);
  await harness.until((services) => services.get('greeter')?.interfaces.length === 1, 'the folder gone');
  t.equal(harness.source.details().interfaces, 1);
});

t.test('bad node names are counted, not thrown; exports (meshed-by) are never imported', async (t) => {
  const roots = freshRoot();
  const { root } = roots;
  const folder = `${root}/org.example.Greeter/providers`;
  await registerRawNode(providers, folder, 'dubbo%3A%2F%2F10.0.0.1%3A20880%2Forg.example.Greeter%3Fapplication%3D%ZZ');
  await registerRawNode(providers, folder, 'dubbo%3A%2F%2F10.0.0.1%3A20880%2Forg.example.Greeter%3Fapplication%3D%C3');
  await registerRawNode(providers, folder, 'garbage');
  await registerProvider(
    providers,
    'dubbo://10.0.0.5:20880/org.example.Greeter?anyhost=true&application=greeter&dubbo=2.0.2&dynamic=true&interface=org.example.Greeter&meshed-by=dubbo-mesh&side=provider',
    root,
  );
  await registerProvider(providers, 'dubbo://10.0.0.6:20880/org.example.Greeter?application=greeter&interface=org.example.Greeter&enabled=false', root);
  await registerProvider(providers, 'dubbo://10.0.0.2:20880/org.example.Greeter?application=greeter&interface=org.example.Greeter&side=provider', root);
  // An interface folder whose own name is not form encoding.
  await registerRawNode(providers, `${root}/bad%G1/providers`, encodeNodeName('dubbo://10.0.0.3:20880/x.Y?application=greeter'));
  const harness = await startImport(server.connect, roots);
  t.teardown(() => harness.close());
  t.same(harness.addresses('greeter'), ['10.0.0.2:20880'], 'only the good provider');
  const details = harness.source.details();
  t.same(details.skipped, { undecodable: 2, 'not-a-url': 1, 'meshed-by': 1, disabled: 1 });
  t.equal((details.skippedExamples as unknown[]).length, 4, 'examples of what looks wrong (not the exports)');
  t.equal(details.interfaces, 1, 'the undecodable interface folder is not followed');
});

t.test('a burst of 1,000 node changes is one state', async (t) => {
  const roots = freshRoot();
  const { root } = roots;
  const clock = new FakeClock();
  await registerProvider(providers, 'dubbo://10.1.0.0:20880/org.example.Burst?application=burst&interface=org.example.Burst', root);
  const harness = await startImport(server.connect, { ...roots, clock });
  t.teardown(() => harness.close());
  t.equal(harness.states.length, 1);
  const readsBefore = (harness.source.details().zookeeper as { reads: number }).reads;
  await Promise.all(
    Array.from({ length: 1000 }, (_, i) =>
      registerProvider(
        providers,
        `dubbo://10.1.${Math.floor(i / 250) + 1}.${i % 250}:20880/org.example.Burst?application=burst&interface=org.example.Burst`,
        root,
      ),
    ),
  );
  // Debounced on the fake clock: the import has seen all of it, nothing was emitted yet.
  await eventually(() => harness.source.details().providers === 1001, 'the import to see every node');
  t.equal(harness.states.length, 1, 'nothing emitted before the debounce');
  clock.advance(100);
  t.equal(harness.states.length, 2, 'one state for the burst');
  t.equal(harness.addresses('burst').length, 1001);
  const reads = (harness.source.details().zookeeper as { reads: number }).reads - readsBefore;
  t.ok(reads < 1000, `fewer reads than changes (${reads}): a watch that fires during a read makes one read after it`);
  clock.advance(10_000);
  t.equal(harness.states.length, 2, 'and nothing more');
});

t.test('a 2,000-node providers folder is imported, and one change in it followed', async (t) => {
  const roots = freshRoot();
  const { root } = roots;
  // Dubbo 2.7.23's full provider URL (~600 characters encoded), 2,000 hosts.
  const url = (i: number) =>
    `dubbo://10.2.${Math.floor(i / 250)}.${i % 250}:20880/org.apache.dubbo.samples.basic.api.DemoService?anyhost=true&application=big&deprecated=false&dubbo=2.0.2&dynamic=true&generic=false&interface=org.apache.dubbo.samples.basic.api.DemoService&methods=testVoid,sayHello&pid=${1000 + i}&release=2.7.23&revision=1.0-SNAPSHOT&side=provider&timestamp=1618918522655`;
  const paths = await Promise.all(Array.from({ length: 2000 }, (_, i) => registerProvider(providers, url(i), root)));
  const harness = await startImport(server.connect, roots);
  t.teardown(() => harness.close());
  t.equal(harness.addresses('big').length, 2000);
  const first = harness.states.at(-1)![0]!;
  await providers.remove(paths[0]!);
  await harness.until((services) => services.get('big')?.endpoints.length === 1999, 'the removal');
  t.not(harness.states.at(-1)![0], first);
});
