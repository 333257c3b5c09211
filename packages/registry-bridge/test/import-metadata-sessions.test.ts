import t from 'tap';
import { once } from 'node:events';
import { startTcpPartition, startZooKeeper } from '@dubbo-mesh/test-support';
import { ZooKeeperSession } from '@dubbo-mesh/registry-bridge';
import { startImport } from './fixtures/import-harness.js';
import { publishMetadata, registerProvider, serviceInstance } from './fixtures/import-registry.js';

// A remote-metadata read made while ZooKeeper is away may belong to a session that ends
// before it answers. The import must not wait on it: a new session reads again, and its
// re-list completes and is emitted.

const metadata = (app: string, revision: string) => ({
  app,
  revision,
  services: {
    'org.example.Greeter:dubbo': { name: 'org.example.Greeter', protocol: 'dubbo', port: 20880, path: 'org.example.Greeter', params: { application: app } },
  },
});
const instance = (address: string, revision: string) =>
  Buffer.from(JSON.stringify(serviceInstance('greeter', address, 20880, { 'dubbo.metadata.revision': revision, 'dubbo.metadata.storage-type': 'remote' })));

t.test('remote metadata reads in flight when the session is lost do not freeze the import', async (t) => {
  const server = await startZooKeeper({ tickTimeMs: 200 });
  t.teardown(() => server.close());
  const writer = new ZooKeeperSession({ connect: server.connect, spinDelayMs: 50 });
  t.teardown(() => writer.close());
  await writer.start();
  // Instances whose metadata is not published yet: their reads are retried.
  await writer.mkdirp('/services/greeter');
  await writer.create('/services/greeter/10.30.0.1:20880', instance('10.30.0.1', 'r1'), 'ephemeral');
  await writer.create('/services/greeter/10.30.0.2:20880', instance('10.30.0.2', 'r2'), 'ephemeral');
  const partition = await startTcpPartition({ host: '127.0.0.1', port: server.port });
  t.teardown(() => partition.close());
  const harness = await startImport(partition.address, { debounceMs: 10, maxDelayMs: 50, retry: { initialMs: 50, maxMs: 100 } }, { sessionTimeoutMs: 2000 });
  t.teardown(() => harness.close());
  t.equal(harness.source.details().metadataFailures.length, 2, 'both instances wait for their metadata');

  // Cut past the session timeout: the retries made meanwhile are queued in a client that is then given up.
  const expired = once(harness.session, 'expired');
  partition.cut();
  await expired;
  const started = once(harness.session, 'session-started');
  partition.heal();
  await started;

  await publishMetadata(writer, metadata('greeter', 'r1'));
  await publishMetadata(writer, metadata('greeter', 'r2'));
  await registerProvider(writer, 'dubbo://10.30.0.9:20880/org.example.Other?application=other&interface=org.example.Other&side=provider');
  await harness.until((services) => services.has('other'), 'a change after the new session imported');
  await harness.until((services) => services.get('greeter')?.endpoints.length === 2, 'the metadata read in the new session');
  t.same(harness.addresses('greeter'), ['10.30.0.1:20880', '10.30.0.2:20880']);
  const details = harness.source.details();
  t.equal(details.relisting, false);
  t.equal(details.relists, harness.session.counters.expiries, 'a re-list for each new session');
  t.same(details.metadataFailures, []);
});
