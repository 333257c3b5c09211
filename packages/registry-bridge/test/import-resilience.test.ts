import t from 'tap';
import { once } from 'node:events';
import { FakeClock, eventually, startTcpPartition, startZooKeeper } from '@dubbo-mesh/test-support';
import { ZooKeeperOperationError, ZooKeeperSession } from '@dubbo-mesh/registry-bridge';
import { startImport } from './fixtures/import-harness.js';
import { registerProvider } from './fixtures/import-registry.js';

const server = await startZooKeeper();
t.teardown(() => server.close());
const providers = new ZooKeeperSession({ connect: server.connect });
await providers.start();
t.teardown(() => providers.close());

const url = (host: string, extra = '') =>
  `dubbo://${host}:20880/org.example.Greeter?anyhost=true&application=greeter&dubbo=2.0.2${extra}&interface=org.example.Greeter&methods=hi&pid=1&release=2.7.23&side=provider&timestamp=1600000000000`;

t.test('a partition past the session expiry: nothing emitted while away, then a re-list shows the removals made meanwhile', async (t) => {
  const roots = { root: '/partitioned', servicesRoot: '/partitioned-services' };
  const a = await registerProvider(providers, url('10.5.0.1'), roots.root);
  await registerProvider(providers, url('10.5.0.2'), roots.root);
  const partition = await startTcpPartition({ host: '127.0.0.1', port: server.port });
  t.teardown(() => partition.close());
  const harness = await startImport(partition.address, roots, { sessionTimeoutMs: 1000 });
  t.teardown(() => harness.close());
  t.same(harness.addresses('greeter'), ['10.5.0.1:20880', '10.5.0.2:20880']);
  // A node of the import's session: gone when the server has expired that session.
  const probe = await harness.session.create('/partitioned-probe', undefined, 'ephemeral');
  const emitted = harness.states.length;

  const disconnected = once(harness.session, 'disconnected');
  partition.cut();
  await disconnected;
  const connection = harness.source.connection!();
  t.equal(connection.connected, false);
  t.match(connection.error, /connection lost .* the last import stays in force/);
  // Meanwhile in the registry: one provider goes, another comes.
  await providers.remove(a);
  await registerProvider(providers, url('10.5.0.3'), roots.root);
  await eventually(async () => (await providers.exists(probe)) === undefined, 'the server to expire the partitioned session');
  t.equal(harness.states.length, emitted, 'nothing emitted while away');
  t.same(harness.addresses('greeter'), ['10.5.0.1:20880', '10.5.0.2:20880'], 'the last import stays');

  const started = once(harness.session, 'session-started');
  partition.heal();
  await started;
  await harness.until(
    (services) => services.get('greeter')?.endpoints.length === 2 && services.get('greeter')!.endpoints[0]!.address === '10.5.0.2:20880',
    'the re-list',
  );
  t.same(harness.addresses('greeter'), ['10.5.0.2:20880', '10.5.0.3:20880'], 'the removal made meanwhile is seen');
  t.equal(harness.states.length, emitted + 1, 'one new state: the diff');
  t.equal(harness.source.details().relists, 1);
  t.ok(harness.source.connection!().connected);
  // Watches are set again in the new session: a later change is followed.
  await registerProvider(providers, url('10.5.0.4'), roots.root);
  await harness.until((services) => services.get('greeter')?.endpoints.length === 3, 'a change after the re-list');
});

t.test('ZooKeeper stopped: the last import stays and the source says disconnected; restarted: followed again', async (t) => {
  const local = await startZooKeeper();
  t.teardown(() => local.close());
  const writer = new ZooKeeperSession({ connect: local.connect, spinDelayMs: 50, sessionTimeoutMs: 2000 });
  t.teardown(() => writer.close());
  await writer.start();
  const roots = { root: '/dubbo', servicesRoot: '/services' };
  // dynamic=false: Dubbo registers a persistent node (it outlives its process).
  await registerProvider(writer, url('10.6.0.1', '&dynamic=false'), roots.root);
  await registerProvider(writer, url('10.6.0.2', '&dynamic=false'), roots.root);
  // Whether a session outlives a killed server depends on what the server had synced (the test
  // server does not sync): the import follows either way, re-setting its watches or re-listing.
  const harness = await startImport(local.connect, roots, { sessionTimeoutMs: 3000 });
  t.teardown(() => harness.close());
  t.same(harness.addresses('greeter'), ['10.6.0.1:20880', '10.6.0.2:20880']);
  const emitted = harness.states.length;

  const disconnected = once(harness.session, 'disconnected');
  await local.stop();
  await disconnected;
  t.equal(harness.source.connection!().connected, false);
  t.match(harness.source.details(), { connected: false });
  t.equal(harness.states.length, emitted, 'nothing emitted');
  t.same(harness.addresses('greeter'), ['10.6.0.1:20880', '10.6.0.2:20880'], 'the last import stays');

  const reconnected = once(harness.session, 'connected');
  await local.start();
  await reconnected;
  t.ok(harness.source.connection!().connected);
  await registerProvider(writer, url('10.6.0.3', '&dynamic=false'), roots.root);
  await harness.until((services) => services.get('greeter')?.endpoints.length === 3, 'a change after the restart');
  t.equal(harness.source.details().relists, harness.session.counters.expiries, 'a re-list for each new session, none otherwise');
});

t.test('a path that cannot be read is retried with backoff and holds up nothing else', async (t) => {
  const roots = { root: '/flaky', servicesRoot: '/flaky-services' };
  await registerProvider(providers, url('10.7.0.1'), roots.root);
  await registerProvider(providers, url('10.7.0.2').replaceAll('org.example.Greeter', 'org.example.Broken'), roots.root);
  const broken = `${roots.root}/org.example.Broken/providers`;
  let failures = 3;
  // A real session whose reads of one folder fail a few times, as a server-side error would.
  class FlakySession extends ZooKeeperSession {
    override getChildren(path: string, watcher?: () => void) {
      if (path === broken && failures > 0) {
        failures -= 1;
        return Promise.reject(new ZooKeeperOperationError('OTHER', 'getChildren', path, 'MARSHALLING_ERROR'));
      }
      return super.getChildren(path, watcher);
    }
  }
  const session = new FlakySession({ connect: server.connect });
  await session.start();
  t.teardown(() => session.close());
  const { RegistryImportSource } = await import('@dubbo-mesh/registry-bridge');
  const logged: string[] = [];
  const source = new RegistryImportSource({ session, ...roots, retry: { initialMs: 100, maxMs: 400 }, log: (_level, message) => logged.push(message) });
  t.teardown(() => source.stop());
  const states: number[] = [];
  await source.start((state) => {
    const resource = state.kind === 'resources' ? state.resources[0]?.resource : undefined;
    if (resource?.kind === 'DubboService') states.push(resource.endpoints.length);
  });
  t.same(states, [1], 'started with what could be read');
  t.match(source.details().failingPaths, [{ path: broken, error: /MARSHALLING_ERROR/ }]);
  t.same(logged, ['ZooKeeper read failed; retrying with backoff'], 'logged once, not at every retry');
  await eventually(() => states.at(-1) === 2, 'the folder read once it can be');
  t.same(source.details().failingPaths, []);
  t.equal(failures, 0);
});

t.test('while disconnected a due change (a warm-up step) is held, and emitted once connected again', async (t) => {
  const local = await startZooKeeper();
  t.teardown(() => local.close());
  const writer = new ZooKeeperSession({ connect: local.connect, spinDelayMs: 50, sessionTimeoutMs: 2000 });
  t.teardown(() => writer.close());
  await writer.start();
  const T0 = 1_700_000_000_000;
  const clock = new FakeClock(0);
  // A Dubbo 3 provider up a minute of a two-minute warm-up (linear, steps of 6 s): weight 50, 55 at the next step.
  await registerProvider(
    writer,
    url('10.9.0.1', `&dynamic=false&timestamp=${T0 - 60_000}&warmup=120000`)
      .replace('&timestamp=1600000000000', '')
      .replace('release=2.7.23', 'release=3.2.16'),
  );
  const harness = await startImport(local.connect, { clock, wallClock: () => T0 + clock.now() }, { sessionTimeoutMs: 3000 });
  t.teardown(() => harness.close());
  const weight = () => harness.services().get('greeter')?.endpoints[0]?.weight;
  t.equal(weight(), 50);
  const emitted = harness.states.length;

  const disconnected = once(harness.session, 'disconnected');
  await local.stop();
  await disconnected;
  clock.advance(6000);
  t.equal(harness.states.length, emitted, 'the step is due, but nothing is emitted while disconnected');
  t.equal(weight(), 50);

  const reconnected = once(harness.session, 'connected');
  await local.start();
  await reconnected;
  // The same session (the change was held: emitted after the debounce) or a new one (re-listed, then emitted).
  await eventually(() => harness.source.details().relisting === false, 'any re-list to finish');
  clock.advance(100);
  await eventually(() => weight() === 55, 'the held step emitted');
  t.equal(harness.states.length, emitted + 1);
});
