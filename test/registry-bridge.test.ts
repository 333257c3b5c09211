// The registry bridge end to end, with real peers: a real ZooKeeper (Debian's), providers
// registered exactly as Java Dubbo 2.7 registers them (one ZooKeeper session each, as a JVM
// has), apache-dubbo-js as the mesh consumer (through a consumer proxy) and as the native
// consumer (in its own ZooKeeper mode), and the control-plane app with `--zookeeper`.
import t, { type Test } from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startControlPlaneApp, type ControlPlaneApp } from '@dubbo-mesh/control-plane';
import {
  ZooKeeperSession,
  createRegistryBridgeExtension,
  encodeNodeName,
  registryBridgeSettings,
  type RegistryBridgeExtension,
} from '@dubbo-mesh/registry-bridge';
import { startSidecar, type SidecarHandle } from '@dubbo-mesh/sidecar';
import {
  USER_SERVICE,
  eventually,
  makeUser,
  recordingLogger,
  startTcpPartition,
  startTestProvider,
  startZooKeeper,
  userValue,
  type TestProvider,
} from '@dubbo-mesh/test-support';
import { userClient, type UserClient } from '../packages/proxy/test/fixtures/consumer.js';
import { startNativeUserConsumer } from '@dubbo-mesh/test-support/native-consumer';

const zk = await startZooKeeper();
t.teardown(() => zk.close());

/** A provider that answers with its name, so a call tells who served it. */
async function provider(t: Test, name: string, host = '127.0.0.1'): Promise<TestProvider> {
  const started = await startTestProvider({
    host,
    port: 0,
    services: { [USER_SERVICE]: { getUser: ([id]) => userValue({ ...makeUser(id as number), name }), existUser: () => true } },
  });
  t.teardown(() => started.close());
  return started;
}

/**
 * A provider URL as Java Dubbo 2.7.23 writes it (parameters sorted, `anyhost` first, see
 * /work/research-registry.md and PEERS.md), for UserService 1.0.0.
 */
function javaProviderUrl(host: string, port: number, application: string): string {
  return (
    `dubbo://${host}:${port}/${USER_SERVICE}?anyhost=true&application=${application}&deprecated=false&dubbo=2.0.2&dynamic=true&generic=false` +
    `&interface=${USER_SERVICE}&methods=existUser,getUser&pid=4242&release=2.7.23&side=provider&timestamp=1700000000000&version=1.0.0`
  );
}

/** A provider's registration: its own ZooKeeper session, as a JVM's; closing it is the JVM going away. */
async function register(t: Test, host: string, port: number, application: string): Promise<{ unregister(): Promise<void> }> {
  const session = new ZooKeeperSession({ connect: zk.connect });
  await session.start();
  t.teardown(() => session.close());
  const folder = `/dubbo/${USER_SERVICE}/providers`;
  await session.mkdirp(folder);
  await session.create(`${folder}/${encodeNodeName(javaProviderUrl(host, port, application))}`, undefined, 'ephemeral');
  return { unregister: () => session.close() };
}

interface Plane {
  app: ControlPlaneApp;
  bridge: RegistryBridgeExtension;
  configDir: string;
  writeConfig(yaml: string): Promise<void>;
}

async function startPlane(
  t: Test,
  options: { export?: string; connect?: string; identity?: string; sessionTimeoutMs?: number; yaml?: string } = {},
): Promise<Plane> {
  const configDir = await mkdtemp(path.join(tmpdir(), 'dubbo-mesh-bridge-'));
  t.teardown(() => rm(configDir, { recursive: true, force: true }));
  const writeConfig = (yaml: string) => writeFile(path.join(configDir, 'mesh.yaml'), yaml);
  if (options.yaml !== undefined) await writeConfig(options.yaml);
  const bridge = await createRegistryBridgeExtension({
    settings: registryBridgeSettings({ zookeeper: options.connect ?? zk.connect, zookeeperExport: options.export ?? 'none' })!,
    importTiming: { debounceMs: 20, maxDelayMs: 100 },
    ...(options.identity === undefined ? {} : { identity: options.identity }),
    ...(options.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: options.sessionTimeoutMs }),
  });
  const app = await startControlPlaneApp({
    configPaths: [configDir],
    grpc: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    logger: recordingLogger(),
    fileSource: { settleMs: 20 },
    extensions: [bridge],
  });
  t.teardown(() => app.stop());
  return { app, bridge, configDir, writeConfig };
}

interface Consumer {
  sidecar: SidecarHandle;
  client: UserClient;
  who(id?: number): Promise<string>;
  applied(plane: Plane, check?: () => boolean): Promise<void>;
}

async function meshConsumer(t: Test, plane: Plane): Promise<Consumer> {
  const sidecar = await startSidecar({
    role: 'proxy',
    node: { id: 'consumer-0.default', service: 'consumer', namespace: 'default' },
    config: { kind: 'control-plane', address: { host: '127.0.0.1', port: plane.app.grpcPort } },
    outbound: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    logger: recordingLogger(),
  });
  t.teardown(() => sidecar.destroy());
  const outbound = sidecar.addresses.outbound!;
  const client = userClient(`${outbound.host}:${outbound.port}`);
  t.teardown(() => client.close());
  const who = async (id = 1) => {
    const result = await client.getUser(id);
    return result.err !== null ? `error: ${result.err.message}` : (result.res as { name: string }).name;
  };
  const applied = (p: Plane, check: () => boolean = () => true) =>
    eventually(
      () => sidecar.version !== undefined && sidecar.version === p.app.controlPlane.snapshot?.version && check(),
      'the consumer proxy to run the newest snapshot',
    );
  return { sidecar, client, who, applied };
}

const endpointsOf = (plane: Plane, service: string) =>
  (plane.app.controlPlane.snapshot?.config.services.find((s) => s.metadata.name === service)?.endpoints ?? []).map((e) => e.address).sort();

t.test('import: a registry provider is called through the mesh, and leaves with its registration', async (t) => {
  const a = await provider(t, 'registry-a', '127.0.0.2');
  const b = await provider(t, 'registry-b', '127.0.0.3');
  const plane = await startPlane(t);
  const consumer = await meshConsumer(t, plane);
  await register(t, '127.0.0.2', a.port, 'user-provider');
  const regB = await register(t, '127.0.0.3', b.port, 'user-provider');
  await consumer.applied(plane, () => endpointsOf(plane, 'user-provider').length === 2);
  const served = new Set<string>();
  for (let i = 0; i < 60 && served.size < 2; i++) served.add(await consumer.who(i));
  t.same([...served].sort(), ['registry-a', 'registry-b'], 'both registry providers serve mesh calls');
  await regB.unregister();
  await consumer.applied(plane, () => endpointsOf(plane, 'user-provider').length === 1);
  const after = new Set(await Promise.all(Array.from({ length: 20 }, (_, i) => consumer.who(i))));
  t.same([...after], ['registry-a'], 'the unregistered provider gets no call');
});

t.test('export: a native consumer (apache-dubbo-js in ZooKeeper mode) calls a mesh provider', async (t) => {
  const mesh = await provider(t, 'mesh-c', '127.0.0.4');
  const plane = await startPlane(t, {
    export: 'endpoints',
    yaml: `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: order-provider}
spec:
  interfaces: [{interface: ${USER_SERVICE}, version: 1.0.0}]
  endpoints: [{address: "127.0.0.4:${mesh.port}"}]
`,
  });
  t.ok(plane.bridge.exportSink !== undefined);
  const native = await startNativeUserConsumer({ zookeeper: zk.connect, version: '1.0.0' });
  t.teardown(() => native.close());
  // The folder may still list the previous test's providers for a moment (their sessions close as it ends).
  await eventually(async () => ((await native.getUser(7)).res as { name?: string } | null)?.name === 'mesh-c', 'a call served by the mesh provider');
  const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => native.getUser(i)));
  t.same(
    answers.map((answer) => (answer.res as { name?: string } | null)?.name ?? String(answer.err)),
    Array.from({ length: 10 }, () => 'mesh-c'),
    'every call served by the exported mesh provider',
  );
});

const meshYaml = (addresses: string[]) => `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: user-provider}
spec:
  interfaces: [{interface: ${USER_SERVICE}, version: 1.0.0}]
  endpoints: [${addresses.map((address) => `{address: "${address}"}`).join(', ')}]
`;

t.test('migration, one instance at a time: consumers on both sides, 0 failed calls', async (t) => {
  const hosts = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];
  const providers = await Promise.all(hosts.map((host, i) => provider(t, `user-${i + 1}`, host)));
  const address = (i: number) => `${hosts[i]}:${providers[i]!.port}`;
  // user-1 and user-2 still register themselves; user-3 and user-4 moved to the mesh already.
  const registrations = [await register(t, hosts[0]!, providers[0]!.port, 'user-provider'), await register(t, hosts[1]!, providers[1]!.port, 'user-provider')];
  let inMesh = [2, 3];
  const plane = await startPlane(t, { export: 'endpoints', yaml: meshYaml(inMesh.map(address)) });
  const consumer = await meshConsumer(t, plane);
  await consumer.applied(plane, () => endpointsOf(plane, 'user-provider').length === 4);
  const native = await startNativeUserConsumer({ zookeeper: zk.connect, version: '1.0.0' });
  t.teardown(() => native.close());

  const errors: string[] = [];
  const served = { mesh: new Map<string, number>(), native: new Map<string, number>() };
  let stop = false;
  let calls = 0;
  const loop = async (side: 'mesh' | 'native', call: (id: number) => Promise<{ res: unknown; err: Error | null }>) => {
    for (let id = 0; !stop; id++) {
      const answer = await call(id);
      const name = (answer.res as { name?: string } | null)?.name;
      if (answer.err !== null || name === undefined) errors.push(`${side}: ${answer.err?.message ?? 'no answer'}`);
      else served[side].set(name, (served[side].get(name) ?? 0) + 1);
      calls += 1;
    }
  };
  const traffic = Promise.all([0, 1].flatMap(() => [loop('mesh', (id) => consumer.client.getUser(id)), loop('native', (id) => native.getUser(id))]));
  const reached = (side: 'mesh' | 'native', names: string[]) => {
    served[side].clear();
    return eventually(() => names.every((name) => (served[side].get(name) ?? 0) > 0), `${side} consumers to reach ${names.join(', ')}`);
  };
  const endpoints = () => plane.app.controlPlane.snapshot!.config.services.find((s) => s.metadata.name === 'user-provider')?.endpoints ?? [];
  const meshEndpoints = () => endpoints().filter((e) => e.labels['dubbo-mesh.io/registry'] === undefined);
  const registryEndpoints = () => endpoints().filter((e) => e.labels['dubbo-mesh.io/registry'] !== undefined);
  const everyone = ['user-1', 'user-2', 'user-3', 'user-4'];
  await reached('mesh', everyone);
  await reached('native', everyone);

  for (const moving of [0, 1]) {
    // Into the mesh first, then out of the registry: the instance is on both sides' lists throughout.
    inMesh = [...inMesh, moving];
    await plane.writeConfig(meshYaml(inMesh.map(address)));
    await consumer.applied(plane, () => meshEndpoints().length === inMesh.length);
    await registrations[moving]!.unregister();
    await consumer.applied(plane, () => registryEndpoints().length === 1 - moving);
    await reached('mesh', everyone);
    await reached('native', everyone);
  }
  stop = true;
  await traffic;
  t.same(errors, [], 'no call failed on either side');
  t.ok(calls > 50, `${calls} calls made during the moves`);
  t.same(endpointsOf(plane, 'user-provider'), [0, 1, 2, 3].map(address).sort(), 'every instance in the mesh');
});

t.test('two control planes, one exporter; when it is cut off, the other takes over and native calls go on', async (t) => {
  const mesh = await provider(t, 'mesh-d', '127.0.0.6');
  const yaml = meshYaml([`127.0.0.6:${mesh.port}`]);
  const partition = await startTcpPartition({ host: '127.0.0.1', port: zk.port });
  t.teardown(() => partition.close());
  // The first joins through a network that can be cut, with a short session: its session can be made to expire.
  const first = await startPlane(t, { export: 'endpoints', connect: partition.address, identity: 'cp-1', sessionTimeoutMs: 1000, yaml });
  await eventually(() => first.bridge.lock?.isLeader === true, 'the first control plane to lead');
  const second = await startPlane(t, { export: 'endpoints', identity: 'cp-2', yaml });
  t.equal(second.bridge.lock?.isLeader, false, 'one leader');

  const observer = new ZooKeeperSession({ connect: zk.connect });
  t.teardown(() => observer.close());
  await observer.start();
  const folder = `/dubbo/${USER_SERVICE}/providers`;
  const owners = async () => {
    const names = (await observer.getChildren(folder))?.children ?? [];
    const stats = await Promise.all(names.map((name) => observer.exists(`${folder}/${name}`)));
    return stats.map((stat) => stat?.ephemeralOwner);
  };
  await eventually(async () => (await owners()).length === 1, 'the export');
  t.same(await owners(), [first.bridge.session.sessionId], 'written by the leader only');

  const native = await startNativeUserConsumer({ zookeeper: zk.connect, version: '1.0.0' });
  t.teardown(() => native.close());
  await eventually(async () => ((await native.getUser(1)).res as { name?: string } | null)?.name === 'mesh-d', 'a native call to the exported provider');

  const firstSession = first.bridge.session.sessionId;
  partition.cut();
  await eventually(() => second.bridge.lock?.isLeader === true, 'the second control plane to take over');
  await eventually(async () => {
    const now = await owners();
    return now.length === 1 && now[0] === second.bridge.session.sessionId;
  }, 'the export re-created by the new leader');
  partition.heal();
  await eventually(
    () => first.bridge.session.state === 'connected' && first.bridge.session.sessionId !== firstSession,
    'the first to come back with a new session',
  );
  t.equal(first.bridge.lock?.isLeader, false, 'it comes back as a follower');
  t.same(await owners(), [second.bridge.session.sessionId], 'and writes nothing');
  await eventually(async () => ((await native.getUser(2)).res as { name?: string } | null)?.name === 'mesh-d', 'native calls go on');
});

t.test('ZooKeeper stopped: the import stays in force and mesh calls go on; restarted, changes flow again', async (t) => {
  const a = await provider(t, 'kept-a', '127.0.0.7');
  const plane = await startPlane(t);
  const consumer = await meshConsumer(t, plane);
  await register(t, '127.0.0.7', a.port, 'kept-provider');
  await consumer.applied(plane, () => endpointsOf(plane, 'kept-provider').length === 1);
  const sources = () => plane.app.controlPlane.sourceStatuses().find((status) => status.name === 'zookeeper');
  await zk.stop();
  await eventually(() => sources()?.state === 'disconnected', 'the source to show disconnected');
  const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => consumer.who(i)));
  t.same([...new Set(answers)], ['kept-a'], 'calls go on with the last import');
  t.equal(endpointsOf(plane, 'kept-provider').length, 1, 'the endpoint is kept while ZooKeeper is away');
  await zk.start();
  await eventually(() => sources()?.state === 'ok', 'the source to reconnect');
  const b = await provider(t, 'kept-b', '127.0.0.8');
  await register(t, '127.0.0.8', b.port, 'kept-provider');
  await consumer.applied(plane, () => endpointsOf(plane, 'kept-provider').length === 2);
  t.pass('a provider registered after the restart is imported');
});
