// ExportWriter against a real ZooKeeper: diffs, ownership, the mapping CAS, lost sessions, retries.
import t, { type Test } from 'tap';
import { once } from 'node:events';
import { assembleMeshConfig, parseMeshYaml, type MeshConfig } from '@dubbo-mesh/config';
import { eventually, FakeClock, startTcpPartition, startZooKeeper } from '@dubbo-mesh/test-support';
import { ExportWriter, exportedNodes, NO_EXPORTED_NODES, ZooKeeperSession, type ExportedNodes } from '@dubbo-mesh/registry-bridge';

const server = await startZooKeeper();
t.teardown(() => server.close());

function meshConfig(yaml: string): MeshConfig {
  const parsed = parseMeshYaml(yaml, 'mesh.yaml');
  const assembled = assembleMeshConfig(parsed.resources);
  if (parsed.errors.length > 0 || !assembled.valid) throw new Error([...parsed.errors, ...(assembled.valid ? [] : assembled.errors)].join('\n'));
  return assembled.result;
}

/** One service `name` providing `iface` at each address. */
function service(name: string, iface: string, addresses: string[]): string {
  return `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: ${name}}
spec:
  interfaces: [{interface: ${iface}, version: 1.0.0}]
  endpoints: [${addresses.map((address) => `{address: ${address}}`).join(', ')}]
`;
}

async function session(t: Test, connect = server.connect, sessionTimeoutMs?: number): Promise<ZooKeeperSession> {
  const made = new ZooKeeperSession({ connect, spinDelayMs: 50, connectTimeoutMs: 60_000, ...(sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs }) });
  t.teardown(() => made.close());
  await made.start();
  return made;
}

/** Every wanted ephemeral exists, owned by `owner`, with its data; every metadata node exists. */
async function written(observer: ZooKeeperSession, nodes: ExportedNodes, owner: string | undefined): Promise<boolean> {
  for (const [path, data] of nodes.ephemerals) {
    const read = await observer.getData(path);
    if (read === undefined || read.stat.ephemeralOwner !== owner || (read.data?.toString() ?? '') !== data) return false;
  }
  for (const path of nodes.persistents.keys()) if ((await observer.exists(path)) === undefined) return false;
  return true;
}

async function children(observer: ZooKeeperSession, path: string): Promise<string[]> {
  return ((await observer.getChildren(path))?.children ?? []).sort();
}

t.test('writes the nodes; an unchanged wish writes nothing; an endpoint gone, its nodes go; the mapping keeps other apps', async (t) => {
  const observer = await session(t);
  const writerSession = await session(t);
  // A Java application already maps the interface: it must stay listed.
  await observer.mkdirp('/dubbo/mapping');
  await observer.create('/dubbo/mapping/org.example.Greeter', Buffer.from('java-greeter'), 'persistent');
  const writer = new ExportWriter({ session: writerSession });
  t.teardown(() => writer.stop());

  const two = exportedNodes(meshConfig(service('greeter', 'org.example.Greeter', ['10.1.0.1:20880', '10.1.0.2:20880'])), { kind: 'endpoints' });
  let settled = once(writer, 'settled');
  writer.setDesired(two);
  await settled;
  t.ok(await written(observer, two, writerSession.sessionId), 'every node, owned by the writer’s session');
  t.equal((await children(observer, '/dubbo/org.example.Greeter/providers')).length, 2);
  t.same(await children(observer, '/services/greeter'), ['10.1.0.1:20880', '10.1.0.2:20880']);
  t.equal((await observer.getData('/dubbo/mapping/org.example.Greeter'))?.data?.toString(), 'java-greeter,greeter', 'appended after the Java app');
  t.same(writer.status(), { wanted: 6, written: 6, conflicts: 0, errors: 0, lastError: undefined, retrying: false });

  const before = { ...writerSession.counters };
  settled = once(writer, 'settled');
  writer.setDesired(exportedNodes(meshConfig(service('greeter', 'org.example.Greeter', ['10.1.0.1:20880', '10.1.0.2:20880'])), { kind: 'endpoints' }));
  await settled;
  t.same([writerSession.counters.reads, writerSession.counters.writes], [before.reads, before.writes], 'the same nodes again: no ZooKeeper operation');

  const one = exportedNodes(meshConfig(service('greeter', 'org.example.Greeter', ['10.1.0.1:20880'])), { kind: 'endpoints' });
  settled = once(writer, 'settled');
  writer.setDesired(one);
  await settled;
  t.ok(await written(observer, one, writerSession.sessionId));
  const left = await children(observer, '/dubbo/org.example.Greeter/providers');
  t.equal(left.length, 1, 'the gone endpoint’s provider node is removed');
  t.match(decodeURIComponent(left[0]!), /^dubbo:\/\/10\.1\.0\.1:20880\//);
  t.same(await children(observer, '/services/greeter'), ['10.1.0.1:20880'], 'and its instance');
  t.equal((await observer.getData('/dubbo/mapping/org.example.Greeter'))?.data?.toString(), 'java-greeter,greeter', 'the mapping is never shrunk');

  settled = once(writer, 'settled');
  writer.setDesired(NO_EXPORTED_NODES);
  await settled;
  t.same(await children(observer, '/dubbo/org.example.Greeter/providers'), [], 'nothing wanted: every own node removed');
  t.same(await children(observer, '/services/greeter'), []);
});

t.test('mapping: concurrent writers each append with compare-and-set; none is lost', async (t) => {
  const observer = await session(t);
  const writers = await Promise.all(
    ['alpha', 'beta', 'gamma', 'delta'].map(async (app, i) => {
      const writer = new ExportWriter({ session: await session(t) });
      t.teardown(() => writer.stop());
      return { writer, nodes: exportedNodes(meshConfig(service(app, 'org.example.Shared', [`10.2.0.${i + 1}:20880`])), { kind: 'endpoints' }) };
    }),
  );
  await Promise.all(
    writers.map(({ writer, nodes }) => {
      const settled = once(writer, 'settled');
      writer.setDesired(nodes);
      return settled;
    }),
  );
  const listed = (await observer.getData('/dubbo/mapping/org.example.Shared'))?.data?.toString().split(',').sort();
  t.same(listed, ['alpha', 'beta', 'delta', 'gamma']);
});

t.test('a node another session owns is left alone, and created when it goes', async (t) => {
  const other = await session(t);
  const writerSession = await session(t);
  const observer = await session(t);
  const nodes = exportedNodes(meshConfig(service('held', 'org.example.Held', ['10.3.0.1:20880'])), { kind: 'endpoints' });
  const [providerPath] = [...nodes.ephemerals.keys()].filter((path) => path.includes('/providers/'));
  await other.mkdirp('/dubbo/org.example.Held/providers');
  await other.create(providerPath!, Buffer.from('the other one'), 'ephemeral');
  const writer = new ExportWriter({ session: writerSession });
  t.teardown(() => writer.stop());
  const settled = once(writer, 'settled');
  writer.setDesired(nodes);
  await settled;
  const held = await observer.getData(providerPath!);
  t.equal(held?.stat.ephemeralOwner, other.sessionId, 'still the other session’s');
  t.equal(held?.data?.toString(), 'the other one', 'not rewritten');
  t.equal(writer.status().conflicts, 1);
  t.equal((await observer.exists('/services/held/10.3.0.1:20880'))?.ephemeralOwner, writerSession.sessionId, 'the rest is written');

  await other.close();
  await eventually(async () => (await observer.exists(providerPath!))?.ephemeralOwner === writerSession.sessionId, 'the writer to take the node over');
  t.equal((await observer.getData(providerPath!))?.data?.length ?? 0, 0, 'with its own (empty) data');
  t.equal(writer.status().conflicts, 0);
});

t.test('ZooKeeper restarted empty: a new session re-creates every export', async (t) => {
  const local = await startZooKeeper();
  t.teardown(() => local.close());
  // The writer reaches the server through a forwarder, held shut while the server restarts: a
  // JVM starting up on a loaded machine can accept a connection and never answer its handshake,
  // and node-zookeeper-client then waits on it forever (see the report of this change).
  const partition = await startTcpPartition({ host: '127.0.0.1', port: local.port });
  t.teardown(() => partition.close());
  // Short: an empty server refuses the old session's client; the session gives up on it after this.
  const writerSession = await session(t, partition.address, 1000);
  const writer = new ExportWriter({ session: writerSession });
  t.teardown(() => writer.stop());
  const nodes = exportedNodes(meshConfig(service('phoenix', 'org.example.Phoenix', ['10.4.0.1:20880', '10.4.0.2:20880'])), { kind: 'endpoints' });
  const settled = once(writer, 'settled');
  writer.setDesired(nodes);
  await settled;
  const first = writerSession.sessionId;

  const started = once(writerSession, 'session-started');
  partition.cut();
  await local.wipe();
  await local.start();
  partition.heal();
  await started;
  t.not(writerSession.sessionId, first, 'a new session');
  const observer = await session(t, local.connect);
  await eventually(() => written(observer, nodes, writerSession.sessionId), 'every node again, in the new session');
  t.pass('every node again, in the new session');
  // The mapping is written in the same pass, after the ephemerals may already be seen: wait for it too.
  const mapping = async () => (await observer.getData('/dubbo/mapping/org.example.Phoenix'))?.data?.toString();
  await eventually(async () => (await mapping()) === 'phoenix', 'the mapping written again');
  t.equal(await mapping(), 'phoenix', 'the mapping too');
});

t.test('a session expired across a partition: the new session re-creates the exports', async (t) => {
  const partition = await startTcpPartition({ host: '127.0.0.1', port: server.port });
  t.teardown(() => partition.close());
  const writerSession = await session(t, partition.address, 1000);
  const writer = new ExportWriter({ session: writerSession });
  t.teardown(() => writer.stop());
  const observer = await session(t);
  const nodes = exportedNodes(meshConfig(service('islander', 'org.example.Island', ['10.5.0.1:20880'])), { kind: 'endpoints' });
  const settled = once(writer, 'settled');
  writer.setDesired(nodes);
  await settled;
  const first = writerSession.sessionId;

  partition.cut();
  await eventually(async () => (await observer.exists('/services/islander/10.5.0.1:20880')) === undefined, 'the server to expire the partitioned session');
  const started = once(writerSession, 'session-started');
  partition.heal();
  await started;
  t.not(writerSession.sessionId, first);
  await eventually(() => written(observer, nodes, writerSession.sessionId), 'the exports owned by the new session');
  t.pass('re-created by the new session');
});

t.test('a failed write is retried with backoff on the injected clock, never thrown', async (t) => {
  const blocker = await session(t);
  const writerSession = await session(t);
  const observer = await session(t);
  // An ephemeral node cannot have children: the interface folder made ephemeral blocks the provider node.
  await blocker.mkdirp('/dubbo');
  await blocker.create('/dubbo/org.example.Blocked', undefined, 'ephemeral');
  const clock = new FakeClock();
  const writer = new ExportWriter({ session: writerSession, clock, retryMinMs: 1000, retryMaxMs: 4000 });
  t.teardown(() => writer.stop());
  const nodes = exportedNodes(meshConfig(service('blocked', 'org.example.Blocked', ['10.6.0.1:20880'])), { kind: 'endpoints' });
  writer.setDesired(nodes);
  await eventually(() => writer.status().retrying, 'the first pass to fail');
  const failed = writer.status();
  t.ok(failed.errors >= 1);
  t.match(failed.lastError, /org\.example\.Blocked/);
  t.equal(clock.nextTimerAt, clock.now() + 1000, 'first retry after 1 s');
  clock.advance(1000);
  await eventually(() => writer.status().retrying && writer.status().errors > failed.errors, 'the second pass to fail');
  t.equal(clock.nextTimerAt, clock.now() + 2000, 'then 2 s');
  clock.advance(2000);
  await eventually(() => writer.status().retrying && clock.nextTimerAt === clock.now() + 4000, 'the third pass to fail');
  t.pass('then 4 s (the maximum)');

  await blocker.close();
  await eventually(async () => (await observer.exists('/dubbo/org.example.Blocked')) === undefined, 'the blocking node to go');
  const settled = once(writer, 'settled');
  clock.advance(4000);
  await settled;
  t.ok(await written(observer, nodes, writerSession.sessionId), 'written once the cause is gone');
  t.same([writer.status().retrying, writer.status().lastError], [false, undefined]);
});
