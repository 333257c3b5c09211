import t from 'tap';
import net from 'node:net';
import { eventually, freePort, startTestProvider, ProviderException, startZooKeeper, type TestProvider } from '@dubbo-mesh/test-support';
import { METADATA_SERVICE_INTERFACE, MetadataServiceError, ZooKeeperSession, fetchMetadataInfo } from '@dubbo-mesh/registry-bridge';
import { startImport } from './fixtures/import-harness.js';
import {
  DEMO_PROVIDER_REMOTE_METADATA,
  DUBBO_3_1_4_INSTANCE,
  publishMetadata,
  registerInstance,
  registerProvider,
  serviceInstance,
  writeMapping,
} from './fixtures/import-registry.js';

const server = await startZooKeeper();
t.teardown(() => server.close());
const providers = new ZooKeeperSession({ connect: server.connect });
await providers.start();
t.teardown(() => providers.close());

let roots = 0;
function freshRoot(): { root: string; servicesRoot: string } {
  roots += 1;
  return { root: `/dubbo${roots}`, servicesRoot: `/services${roots}` };
}

/** `org.apache.dubbo.metadata.MetadataInfo` as a Java provider's Hessian2 writes it (hessian-lite: fields by name, no transient ones). */
function metadataInfoValue(
  app: string,
  revision: string,
  services: Array<{ name: string; group?: string; version?: string; port: number; params: Record<string, string> }>,
) {
  const entries = services.map((service) => [
    `${service.group ? `${service.group}/` : ''}${service.name}${service.version ? `:${service.version}` : ''}:dubbo`,
    {
      $class: 'org.apache.dubbo.metadata.MetadataInfo$ServiceInfo',
      $: {
        name: service.name,
        group: service.group ?? null,
        version: service.version ?? null,
        protocol: 'dubbo',
        port: service.port,
        path: service.name,
        params: { $class: 'java.util.HashMap', $: service.params },
      },
    },
  ]);
  return { $class: 'org.apache.dubbo.metadata.MetadataInfo', $: { app, revision, services: { $class: 'java.util.HashMap', $: Object.fromEntries(entries) } } };
}

/** A Dubbo 3 provider's MetadataService (what `ConfigurableMetadataServiceExporter` exports), scripted per revision. */
async function startMetadataService(
  revisions: Map<string, unknown>,
  port?: number,
): Promise<{ provider: TestProvider; calls: Array<{ args: unknown[]; attachments: Record<string, unknown>; version: string }> }> {
  const calls: Array<{ args: unknown[]; attachments: Record<string, unknown>; version: string }> = [];
  const provider = await startTestProvider({
    port,
    services: {
      [METADATA_SERVICE_INTERFACE]: {
        getMetadataInfo: (args, request) => {
          calls.push({ args, attachments: request.attachments, version: request.version });
          const value = revisions.get(String(args[0]));
          if (value instanceof Error) throw value;
          return value ?? null;
        },
      },
    },
  });
  return { provider, calls };
}

/** The 3.1.4 instance (dubbo-website), moved to a local address, its MetadataService on `metadataPort`. */
function localInstance(
  address: string,
  metadataPort: number,
  revision = DUBBO_3_1_4_INSTANCE.payload.metadata['dubbo.metadata.revision'],
): Record<string, unknown> {
  const metadata = {
    ...DUBBO_3_1_4_INSTANCE.payload.metadata,
    'dubbo.metadata-service.url-params': DUBBO_3_1_4_INSTANCE.payload.metadata['dubbo.metadata-service.url-params'].replace(
      '"port":"20880"',
      `"port":"${metadataPort}"`,
    ),
    'dubbo.metadata.revision': revision,
  };
  return serviceInstance('first-dubbo-provider', address, 20880, metadata);
}

const GREETINGS = 'org.apache.dubbo.samples.api.GreetingsService';
const GREETINGS_PARAMS = {
  application: 'first-dubbo-provider',
  release: '3.1.4',
  side: 'provider',
  methods: 'sayHi',
  'prefer.serialization': 'fastjson2,hessian2',
};

t.test('remote metadata (storage-type remote): each revision read once from /dubbo/metadata, other protocols skipped', async (t) => {
  const roots = freshRoot();
  await publishMetadata(providers, DEMO_PROVIDER_REMOTE_METADATA, roots.root);
  await writeMapping(providers, 'org.apache.dubbo.demo.DemoService', ['demo-provider'], roots.root);
  const metadata = (address: string) => ({
    'dubbo.endpoints': '[{"port":20880,"protocol":"dubbo"}]',
    'dubbo.metadata.revision': DEMO_PROVIDER_REMOTE_METADATA.revision,
    'dubbo.metadata.storage-type': 'remote',
    timestamp: '1626887121829',
    ipv6: address,
  });
  await registerInstance(providers, serviceInstance('demo-provider', '10.3.0.1', 20880, metadata('10.3.0.1')), roots.servicesRoot);
  const harness = await startImport(server.connect, roots);
  t.teardown(() => harness.close());
  const service = harness.services().get('demo-provider');
  t.same(service?.interfaces, [{ interface: 'org.apache.dubbo.demo.DemoService', group: '', version: '' }]);
  t.same(harness.addresses('demo-provider'), ['10.3.0.1:20880'], 'the port from dubbo.endpoints');
  t.same(service?.endpoints[0]!.labels, {
    application: 'demo-provider',
    delay: '5000',
    'dubbo-mesh.io/registry': 'zookeeper',
    release: '',
    timeout: '3000',
  });
  t.same(harness.source.details().skipped, { protocol: 1 }, 'the rest service');

  await registerInstance(providers, serviceInstance('demo-provider', '10.3.0.2', 20880, metadata('10.3.0.2')), roots.servicesRoot);
  await harness.until((services) => services.get('demo-provider')?.endpoints.length === 2, 'the second instance');
  t.equal(harness.source.details().metadataFetches, 1, 'the revision was read once');
  // Revision "0": an application that exports nothing; an instance of the bridge's own export.
  await registerInstance(
    providers,
    serviceInstance('demo-provider', '10.3.0.3', 20880, { ...metadata('10.3.0.3'), 'dubbo.metadata.revision': '0' }),
    roots.servicesRoot,
  );
  await registerInstance(
    providers,
    serviceInstance('demo-provider', '10.3.0.4', 20880, { ...metadata('10.3.0.4'), 'meshed-by': 'dubbo-mesh' }),
    roots.servicesRoot,
  );
  await eventually(() => harness.source.details().instances === 4, 'the import to see all four instances');
  // Every instance read (none still `reading`): the empty revision and our own export among them.
  await eventually(() => {
    const byStatus = harness.source.details().instancesByStatus as Record<string, number>;
    return byStatus['no-services'] === 1 && byStatus.skipped === 1 && byStatus.reading === undefined;
  }, 'every instance read');
  t.same(harness.addresses('demo-provider'), ['10.3.0.1:20880', '10.3.0.2:20880']);
  t.same(harness.source.details().instancesByStatus, { imported: 2, 'no-services': 1, skipped: 1 });
  t.same(harness.source.details().skipped, { protocol: 2, 'meshed-by': 1 });
  // A revision whose metadata is missing: left out, reported, retried.
  await registerInstance(
    providers,
    serviceInstance('demo-provider', '10.3.0.5', 20880, { ...metadata('10.3.0.5'), 'dubbo.metadata.revision': 'late' }),
    roots.servicesRoot,
  );
  await eventually(() => (harness.source.details().metadataFailures as unknown[]).length === 1, 'the failure reported');
  t.match(harness.source.details().metadataFailures, [{ revision: 'late', storageType: 'remote', error: /does not exist/ }]);
  await publishMetadata(providers, { ...DEMO_PROVIDER_REMOTE_METADATA, revision: 'late' }, roots.root);
  await harness.until((services) => services.get('demo-provider')?.endpoints.length === 3, 'the late metadata, retried with backoff');
  t.same(harness.source.details().metadataFailures, []);
});

t.test('local metadata: a MetadataService call with group = application, version 1.0.0, cached per revision', async (t) => {
  const roots = freshRoot();
  const revision = DUBBO_3_1_4_INSTANCE.payload.metadata['dubbo.metadata.revision'];
  const revisions = new Map<string, unknown>([
    [revision, metadataInfoValue('first-dubbo-provider', revision, [{ name: GREETINGS, port: 20880, params: GREETINGS_PARAMS }])],
  ]);
  const { provider, calls } = await startMetadataService(revisions);
  t.teardown(() => provider.close());
  const node = await registerInstance(providers, localInstance('127.0.0.1', provider.port), roots.servicesRoot);
  const harness = await startImport(server.connect, roots);
  t.teardown(() => harness.close());
  t.same(harness.services().get('first-dubbo-provider')?.interfaces, [{ interface: GREETINGS, group: '', version: '' }]);
  t.same(harness.addresses('first-dubbo-provider'), ['127.0.0.1:20880']);
  t.equal(calls.length, 1);
  t.same(calls[0]!.args, [revision]);
  t.equal(calls[0]!.version, '1.0.0');
  t.match(calls[0]!.attachments, {
    path: METADATA_SERVICE_INTERFACE,
    interface: METADATA_SERVICE_INTERFACE,
    group: 'first-dubbo-provider',
    version: '1.0.0',
    timeout: '3000',
  });

  // Another instance of the same revision: no second call.
  await registerInstance(providers, localInstance('127.0.0.2', provider.port), roots.servicesRoot);
  await harness.until((services) => services.get('first-dubbo-provider')?.endpoints.length === 2, 'the second instance');
  t.equal(calls.length, 1, 'the revision is cached');

  // The provider exports one more service: a new revision, rewritten in the same node.
  revisions.set(
    'r2',
    metadataInfoValue('first-dubbo-provider', 'r2', [
      { name: GREETINGS, port: 20880, params: GREETINGS_PARAMS },
      { name: 'org.example.Extra', group: 'g1', version: '2.0.0', port: 20880, params: GREETINGS_PARAMS },
    ]),
  );
  const stat = await providers.exists(node);
  await providers.setData(node, Buffer.from(JSON.stringify(localInstance('127.0.0.1', provider.port, 'r2'))), stat!.version);
  await harness.until((services) => services.get('first-dubbo-provider')?.interfaces.length === 2, 'the new revision');
  const service = harness.services().get('first-dubbo-provider')!;
  t.same(
    service.endpoints.map((endpoint) => endpoint.interfaces?.length),
    [2, 1],
    'the instances now provide different keys: each lists its own',
  );
  t.equal(calls.length, 2);
});

t.test('a MetadataService that fails leaves its instance out, reported, and is retried with backoff', async (t) => {
  const roots = freshRoot();
  const revision = 'r-failing';
  const port = await freePort();
  await registerInstance(providers, localInstance('127.0.0.1', port, revision), roots.servicesRoot);
  const harness = await startImport(server.connect, roots);
  t.teardown(() => harness.close());
  t.equal(harness.services().size, 0, 'left out');
  t.match(harness.source.details().metadataFailures, [
    {
      instance: `${roots.servicesRoot}/first-dubbo-provider/127.0.0.1:20880`,
      application: 'first-dubbo-provider',
      revision,
      storageType: 'local',
      error: /ECONNREFUSED/,
    },
  ]);
  // The provider comes up: the first answer is an exception, the next one the metadata.
  const revisions = new Map<string, unknown>([[revision, new ProviderException('java.lang.IllegalStateException', 'not ready')]]);
  const { provider, calls } = await startMetadataService(revisions, port);
  t.teardown(() => provider.close());
  await eventually(() => calls.length >= 1, 'a retry');
  await eventually(() => /IllegalStateException: not ready/.test(JSON.stringify(harness.source.details().metadataFailures)), 'the exception reported');
  revisions.set(revision, metadataInfoValue('first-dubbo-provider', revision, [{ name: GREETINGS, port: 20880, params: GREETINGS_PARAMS }]));
  await harness.until((services) => services.has('first-dubbo-provider'), 'the instance imported once its MetadataService answers');
  t.same(harness.source.details().metadataFailures, []);
  t.ok((harness.source.details().metadataFailures as unknown[]).length === 0);
});

t.test('register-mode all: an application in both modes gives each address once', async (t) => {
  const roots = freshRoot();
  const revision = 'r-all';
  await publishMetadata(
    providers,
    {
      app: 'first-dubbo-provider',
      revision,
      services: { [`${GREETINGS}:dubbo`]: { name: GREETINGS, protocol: 'dubbo', port: 20880, path: GREETINGS, params: GREETINGS_PARAMS } },
    } as { app: string; revision: string },
    roots.root,
  );
  await registerInstance(
    providers,
    serviceInstance('first-dubbo-provider', '10.4.0.1', 20880, {
      'dubbo.endpoints': '[{"port":20880,"protocol":"dubbo"}]',
      'dubbo.metadata.revision': revision,
      'dubbo.metadata.storage-type': 'remote',
      timestamp: '1677463548624',
    }),
    roots.servicesRoot,
  );
  await registerProvider(
    providers,
    `dubbo://10.4.0.1:20880/${GREETINGS}?anyhost=true&application=first-dubbo-provider&background=false&deprecated=false&dubbo=2.0.2&dynamic=true&generic=false&interface=${GREETINGS}&methods=sayHi&pid=37828&prefer.serialization=fastjson2,hessian2&release=3.1.4&service-name-mapping=true&side=provider&timestamp=1677463548624`,
    roots.root,
  );
  const harness = await startImport(server.connect, roots);
  t.teardown(() => harness.close());
  t.equal(harness.source.details().providers, 2, 'seen twice');
  t.same(harness.addresses('first-dubbo-provider'), ['10.4.0.1:20880'], 'one endpoint');
  t.match(harness.states.at(-1)![0]!.origin, `zookeeper:${roots.root}/${GREETINGS}/providers,${roots.servicesRoot}/first-dubbo-provider#first-dubbo-provider`);
});

t.test('the MetadataService client: what a provider without the revision, or one that never answers, gives', async (t) => {
  const { provider } = await startMetadataService(new Map());
  t.teardown(() => provider.close());
  const unknown = await fetchMetadataInfo({ host: '127.0.0.1', port: provider.port, application: 'a', revision: 'nope' }).catch((error: unknown) => error);
  t.ok(unknown instanceof MetadataServiceError);
  t.match((unknown as Error).message, /^MetadataService of a at 127\.0\.0\.1:\d+: it has no metadata for revision nope$/);
  // Accepts, reads, never answers.
  const silent = net.createServer((socket) => socket.on('error', () => socket.destroy()).resume());
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => silent.close(() => resolve())));
  const port = (silent.address() as net.AddressInfo).port;
  const timedOut = await fetchMetadataInfo({ host: '127.0.0.1', port, application: 'a', revision: 'r', timeoutMs: 200 }).catch((error: unknown) => error);
  t.match((timedOut as Error).message, /no answer within 200 ms/);
});
