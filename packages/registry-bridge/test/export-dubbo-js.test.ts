// A native Dubbo consumer in ZooKeeper mode (apache-dubbo-js, unmodified) finds and calls mesh
// providers the export registered, and follows the mesh as endpoints come and go.
import t from 'tap';
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import dubboJs from 'apache-dubbo-js';
import { parseMeshYaml } from '@dubbo-mesh/config';
import { Snapshot } from '@dubbo-mesh/control-plane';
import { closeDirectlyDubbo, eventually, makeUser, startTestProvider, startZooKeeper, USER_SERVICE, userValue } from '@dubbo-mesh/test-support';
import { decodeNodeName, RegistryExportSink, ZooKeeperSession } from '@dubbo-mesh/registry-bridge';

type Call = (...args: unknown[]) => Promise<{ res: unknown; err: Error | null }>;
const { Dubbo, zk, setting, java } = dubboJs as unknown as {
  Dubbo: { from(options: object): { ready(): Promise<void>; service: { users: Record<string, Call> } } };
  zk: (options: { url: string }) => (props: object) => {
    _client?: { removeAllListeners(): void; close(): void; connectionManager: { queue(...args: unknown[]): void } };
    _checkTimer?: NodeJS.Timeout;
  };
  setting: { match(iface: string, setting: { version: string }): unknown };
  java: { long(value: number): unknown };
};

// apache-dubbo-js has no close(): its ZooKeeper client and socket workers would keep the test
// process alive. Keep hold of them (its own factories, wrapped) to close them in teardown.
const SocketWorker = (createRequire(import.meta.url)('apache-dubbo-js/es7/socket-worker.js') as { default: { from(url: string): unknown } }).default;
const workers: unknown[] = [];
let consumerClosed = false;
const originalFrom = SocketWorker.from.bind(SocketWorker);
SocketWorker.from = (url: string) => {
  const worker = originalFrom(url);
  workers.push(worker);
  // One made after the consumer was closed (a watch that fired late): closed as soon as it starts.
  if (consumerClosed) setImmediate(() => closeDirectlyDubbo({ _socketWorker: worker }));
  return worker;
};

const server = await startZooKeeper();
t.teardown(() => server.close());

function snapshot(addresses: string[]): Snapshot {
  const parsed = parseMeshYaml(
    `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: user-provider}
spec:
  interfaces: [{interface: ${USER_SERVICE}, version: 1.0.0}]
  endpoints: [${addresses.map((address) => `{address: '${address}'}`).join(', ')}]
`,
    'mesh.yaml',
  );
  const made = Snapshot.create(parsed.resources);
  if (!made.valid) throw new Error(made.errors.join('\n'));
  return made.snapshot;
}

t.test('apache-dubbo-js in ZooKeeper mode calls a mesh provider the export registered, and follows it', async (t) => {
  const providers = await Promise.all(
    [1, 2].map(() => startTestProvider({ services: { [USER_SERVICE]: { getUser: ([id]) => userValue(makeUser(id as number)) } } })),
  );
  const [first, second] = providers as [(typeof providers)[0], (typeof providers)[0]];
  let registry: ReturnType<ReturnType<typeof zk>> | undefined;
  // Teardowns run last-registered first: the consumer is closed before the providers and
  // before the export's session (whose nodes going would fire its watch mid-close).
  t.teardown(() => Promise.all(providers.map((provider) => provider.close())));

  const exporterSession = new ZooKeeperSession({ connect: server.connect, spinDelayMs: 50, connectTimeoutMs: 60_000 });
  t.teardown(() => exporterSession.close());
  await exporterSession.start();
  const leadership = Object.assign(new EventEmitter(), { isLeader: true });
  const sink = new RegistryExportSink({ session: exporterSession, mode: { kind: 'endpoints' }, leadership });
  t.teardown(() => sink.stop());
  const observer = new ZooKeeperSession({ connect: server.connect, connectTimeoutMs: 60_000 });
  t.teardown(() => observer.close());
  await observer.start();
  const providerAddresses = async () =>
    ((await observer.getChildren(`/dubbo/${USER_SERVICE}/providers`))?.children ?? [])
      .map((name) => /^dubbo:\/\/([^/]+)\//.exec(decodeNodeName(name))?.[1])
      .sort();

  sink.onPublished(snapshot([first.address]));
  await eventually(async () => (await providerAddresses()).length === 1, 'the export of the mesh provider');

  const connectToZooKeeper = zk({ url: server.connect });
  const dubbo = Dubbo.from({
    application: { name: 'native-consumer' },
    // Its own ZooKeeper registry, made by its own factory (kept to be closed).
    register: (props: object) => (registry = connectToZooKeeper(props)),
    dubboInvokeTimeout: 10,
    // It keeps only the URLs whose version equals this: the export's version parameter must
    // survive its parser, which drops a URL's first parameter.
    dubboSetting: setting.match(USER_SERVICE, { version: '1.0.0' }),
    service: {
      users: (client: { proxyService(options: object): Record<string, Call> }) =>
        client.proxyService({ dubboInterface: USER_SERVICE, methods: { getUser: (id: number) => [java.long(id)] } }),
    },
  });
  t.teardown(() => {
    consumerClosed = true;
    const client = registry?._client;
    client?.removeAllListeners();
    client?.close();
    // A read in flight (a watch that fired as the client closed) would be retried with backoff
    // for minutes (it was made with retries: 10): later attempts are never sent nor answered.
    if (client !== undefined) client.connectionManager.queue = () => undefined;
    clearInterval(registry?._checkTimer);
    for (const worker of workers) closeDirectlyDubbo({ _socketWorker: worker });
  });
  await dubbo.ready();
  const users = dubbo.service.users;
  const answer = await users.getUser!(7);
  t.equal(answer.err, null);
  t.equal((answer.res as { id: number }).id, 7, 'a call to the exported mesh provider');
  t.equal(first.requestCount, 1);

  // A second endpoint joins the mesh: registered, and the consumer's watch brings it in.
  sink.onPublished(snapshot([first.address, second.address]));
  await eventually(async () => (await providerAddresses()).length === 2, 'the second endpoint exported');
  await eventually(async () => {
    await users.getUser!(8);
    return second.requestCount > 0;
  }, 'a call to reach the second provider');
  t.pass('the consumer followed the export');

  // The first leaves the mesh: its node goes, and the consumer stops calling it.
  sink.onPublished(snapshot([second.address]));
  await eventually(async () => (await providerAddresses()).join() === second.address, 'the first endpoint’s node removed');
  await eventually(async () => {
    const before = first.requestCount;
    for (let i = 0; i < 5; i++) if ((await users.getUser!(9)).err !== null) return false;
    return first.requestCount === before;
  }, 'calls to go to the second provider only');
  t.pass('the consumer dropped the removed provider');
});
