import t from 'tap';
import { eventually, startZooKeeper } from '@dubbo-mesh/test-support';
import { RegistryImportSource, ZooKeeperSession, type ZooKeeperSessionOptions } from '@dubbo-mesh/registry-bridge';
import { publishMetadata, serviceInstance } from './fixtures/import-registry.js';

// Curator's ServiceDiscoveryImpl.internalRegisterService deletes an instance node it finds
// already there and creates it again: a provider restarted on the same ip:port does this.
// The import must follow the node whatever order it sees the deletion, the creation and the
// folder's listing in.

const server = await startZooKeeper();
t.teardown(() => server.close());
const providers = new ZooKeeperSession({ connect: server.connect });
await providers.start();
t.teardown(() => providers.close());

const metadata = (app: string) => ({
  app,
  revision: 'r1',
  services: {
    'org.example.Greeter:dubbo': { name: 'org.example.Greeter', protocol: 'dubbo', port: 20880, path: 'org.example.Greeter', params: { application: app } },
  },
});
const instanceData = (app: string, address: string) =>
  Buffer.from(JSON.stringify(serviceInstance(app, address, 20880, { 'dubbo.metadata.revision': 'r1', 'dubbo.metadata.storage-type': 'remote' })));

/** A real session whose listings of one folder wait for a gate the test opens (a loaded bridge, a slow read). */
class GatedSession extends ZooKeeperSession {
  gate: Promise<void> | undefined;
  constructor(
    options: ZooKeeperSessionOptions,
    private readonly folder: string,
  ) {
    super(options);
  }
  override async getChildren(path: string, watcher?: () => void) {
    if (path === this.folder && this.gate !== undefined) await this.gate;
    return super.getChildren(path, watcher);
  }
}

async function startSource(session: ZooKeeperSession, root: string, servicesRoot: string) {
  await session.start();
  const source = new RegistryImportSource({ session, root, servicesRoot, debounceMs: 10, maxDelayMs: 50, retry: { initialMs: 50, maxMs: 500 } });
  let addresses: string[] = [];
  await source.start((state) => {
    if (state.kind !== 'resources') return;
    addresses = state.resources.flatMap((item) => (item.resource.kind === 'DubboService' ? item.resource.endpoints.map((endpoint) => endpoint.address) : []));
  });
  return { source, addresses: () => addresses };
}

t.test('an instance deleted and created again while its folder listing is slow is imported again', async (t) => {
  const root = '/gated';
  const servicesRoot = '/gated-services';
  const folder = `${servicesRoot}/greeter`;
  const node = `${folder}/10.20.0.1:20880`;
  await publishMetadata(providers, metadata('greeter'), root);
  await providers.mkdirp(folder);
  await providers.create(node, instanceData('greeter', '10.20.0.1'), 'ephemeral');
  const session = new GatedSession({ connect: server.connect, spinDelayMs: 50 }, folder);
  t.teardown(() => session.close());
  const { source, addresses } = await startSource(session, root, servicesRoot);
  t.teardown(() => source.stop());
  t.same(addresses(), ['10.20.0.1:20880']);

  let open!: () => void;
  session.gate = new Promise((resolve) => (open = resolve));
  await providers.remove(node);
  // The instance's own watch saw the deletion; the folder's listing is held back.
  await eventually(() => addresses().length === 0, 'the deletion imported', 10_000);
  await providers.create(node, instanceData('greeter', '10.20.0.1'), 'ephemeral');
  session.gate = undefined;
  open();
  await eventually(() => addresses().length === 1, 'the instance created again imported', 10_000);
  t.same(source.details().instancesByStatus, { imported: 1 });
});

t.test('20 quick delete and create cycles of one instance: it is imported after each', async (t) => {
  const root = '/churn';
  const servicesRoot = '/churn-services';
  const node = `${servicesRoot}/greeter/10.21.0.1:20880`;
  await publishMetadata(providers, metadata('greeter'), root);
  await publishMetadata(providers, metadata('sentinel'), root);
  await providers.mkdirp(`${servicesRoot}/greeter`);
  await providers.mkdirp(`${servicesRoot}/sentinel`);
  await providers.create(node, instanceData('greeter', '10.21.0.1'), 'ephemeral');
  const session = new ZooKeeperSession({ connect: server.connect, spinDelayMs: 50 });
  t.teardown(() => session.close());
  const { source, addresses } = await startSource(session, root, servicesRoot);
  t.teardown(() => source.stop());
  t.same(addresses(), ['10.21.0.1:20880']);

  for (let cycle = 1; cycle <= 20; cycle += 1) {
    await providers.remove(node);
    await providers.create(node, instanceData('greeter', '10.21.0.1'), 'ephemeral');
    // A sentinel instance made after the cycle: once it is imported, the cycle's events were read.
    const sentinel = await providers.create(`${servicesRoot}/sentinel/10.22.0.${cycle}:20880`, instanceData('sentinel', `10.22.0.${cycle}`), 'ephemeral');
    await eventually(() => addresses().includes(`10.22.0.${cycle}:20880`), `the sentinel of cycle ${cycle}`, 10_000);
    await eventually(() => addresses().includes('10.21.0.1:20880'), `the instance after cycle ${cycle}`, 5_000);
    await providers.remove(sentinel);
  }
  await eventually(() => addresses().length === 1, 'the sentinels gone', 10_000);
  t.same(source.details().instancesByStatus, { imported: 1 });
});
