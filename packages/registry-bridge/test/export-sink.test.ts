// RegistryExportSink: control planes that follow snapshots and export only while leading.
import t, { type Test } from 'tap';
import { EventEmitter } from 'node:events';
import { parseMeshYaml } from '@dubbo-mesh/config';
import { Snapshot } from '@dubbo-mesh/control-plane';
import { eventually, startZooKeeper } from '@dubbo-mesh/test-support';
import { RegistryExportSink, ZooKeeperLeaderLock, ZooKeeperSession, type ExportedNodes } from '@dubbo-mesh/registry-bridge';

const server = await startZooKeeper();
t.teardown(() => server.close());

function snapshot(addresses: string[], iface = 'org.example.Catalog'): Snapshot {
  const parsed = parseMeshYaml(
    `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: catalog}
spec:
  interfaces: [{interface: ${iface}, version: 1.0.0}]
  endpoints: [${addresses.map((address) => `{address: ${address}}`).join(', ')}]
`,
    'mesh.yaml',
  );
  const made = Snapshot.create(parsed.resources);
  if (!made.valid) throw new Error(made.errors.join('\n'));
  return made.snapshot;
}

async function session(t: Test): Promise<ZooKeeperSession> {
  const made = new ZooKeeperSession({ connect: server.connect, spinDelayMs: 50, connectTimeoutMs: 60_000 });
  t.teardown(() => made.close());
  await made.start();
  return made;
}

/** Every ephemeral of `nodes` exists, owned by `owner`. */
async function ownedBy(observer: ZooKeeperSession, nodes: ExportedNodes, owner: string | undefined): Promise<boolean> {
  for (const path of nodes.ephemerals.keys()) if ((await observer.exists(path))?.ephemeralOwner !== owner) return false;
  return true;
}

/** Leadership as the Kubernetes Lease elector gives it, moved by the test. */
class TestLeadership extends EventEmitter<{ 'started-leading': []; 'stopped-leading': [] }> {
  isLeader = false;
  set(leading: boolean): void {
    if (leading === this.isLeader) return;
    this.isLeader = leading;
    this.emit(leading ? 'started-leading' : 'stopped-leading');
  }
}

t.test('two control planes with the ZooKeeper lock: the leader exports; the other takes over when the leader dies', async (t) => {
  const observer = await session(t);
  const planes = await Promise.all(
    ['cp-1', 'cp-2'].map(async (identity) => {
      const zk = await session(t);
      const lock = new ZooKeeperLeaderLock({ session: zk, identity, path: '/dubbo-mesh/leader-sink' });
      t.teardown(() => lock.stop());
      const sink = new RegistryExportSink({ session: zk, mode: { kind: 'endpoints' }, leadership: lock });
      t.teardown(() => sink.stop());
      return { zk, lock, sink };
    }),
  );
  const [one, two] = planes as [(typeof planes)[0], (typeof planes)[0]];
  t.equal(one.sink.name, 'zookeeper-export');
  await one.lock.start();
  await eventually(() => one.lock.isLeader, 'the first to lead');
  await two.lock.start();
  const first = snapshot(['10.7.0.1:20880', '10.7.0.2:20880']);
  for (const plane of planes) plane.sink.onPublished(first);
  await eventually(() => ownedBy(observer, one.sink.exported, one.zk.sessionId), 'the leader to export');
  t.equal(one.sink.exported.ephemerals.size, 4, 'two provider URLs, two instances');
  // Two provider URLs and two instances, one metadata node (both instances have the same services: one revision), one mapping entry.
  await eventually(() => one.sink.status().written === 6, 'every export written');
  t.match(one.sink.status(), { leading: true, mode: 'endpoints', root: '/dubbo', wanted: 6, written: 6, conflicts: 0, errors: 0 });
  t.match(two.sink.status(), { leading: false, wanted: 0, written: 0 }, 'the other writes nothing');
  t.equal(two.zk.counters.writes, 2, 'the follower wrote only its lock node (mkdirp, create)');

  // An endpoint gone from the mesh: its nodes go.
  const second = snapshot(['10.7.0.1:20880']);
  for (const plane of planes) plane.sink.onPublished(second);
  await eventually(async () => (await observer.getChildren('/dubbo/org.example.Catalog/providers'))?.children.length === 1, 'the gone endpoint removed');
  t.same((await observer.getChildren('/services/catalog'))?.children, ['10.7.0.1:20880']);

  // The leader dies: its session's nodes go with it, the other leads and exports everything again.
  await one.sink.stop();
  await one.zk.close();
  await eventually(() => two.lock.isLeader, 'the takeover');
  await eventually(() => ownedBy(observer, two.sink.exported, two.zk.sessionId), 'the new leader to export');
  await eventually(() => two.sink.status().written === 4, 'every export written');
  t.match(two.sink.status(), { leading: true, wanted: 4, written: 4 });
});

t.test('Lease-style leadership: stepping down removes this session’s nodes; the new leader, waiting on them, creates them', async (t) => {
  const observer = await session(t);
  const [zkA, zkB] = [await session(t), await session(t)];
  const [leadA, leadB] = [new TestLeadership(), new TestLeadership()];
  leadA.set(true);
  const a = new RegistryExportSink({ session: zkA, mode: { kind: 'address', host: '192.168.9.9', port: 20880 }, leadership: leadA, root: '/island' });
  const b = new RegistryExportSink({ session: zkB, mode: { kind: 'address', host: '192.168.9.9', port: 20880 }, leadership: leadB, root: '/island' });
  t.teardown(() => a.stop());
  t.teardown(() => b.stop());
  const published = snapshot(['10.8.0.1:20880', '10.8.0.2:20880'], 'org.example.Gateway');
  a.onPublished(published);
  b.onPublished(published);
  t.same(
    [...a.exported.ephemerals.keys()].map((path) => path.replace(/providers\/.*/, 'providers/…')),
    ['/island/org.example.Gateway/providers/…', '/services/catalog/192.168.9.9:20880'],
    'one address for both endpoints: one provider URL, one instance',
  );
  await eventually(() => ownedBy(observer, a.exported, zkA.sessionId), 'A to export');
  const writesOfB = zkB.counters.writes;

  // B is told first (a Lease changes hands before the old holder notices): it waits on A's nodes.
  leadB.set(true);
  await eventually(() => b.status().conflicts === 2, 'B to find A’s nodes and wait on them');
  t.ok(await ownedBy(observer, a.exported, zkA.sessionId), 'A’s nodes left alone');
  leadA.set(false);
  await eventually(() => ownedBy(observer, b.exported, zkB.sessionId), 'B to create them once A removed them');
  t.match(a.status(), { leading: false, wanted: 0, written: 0 });
  t.match(b.status(), { leading: true, conflicts: 0 });
  t.ok(zkB.counters.writes > writesOfB);

  // And back: a takeover writes every export again (nothing is assumed from an earlier term).
  leadB.set(false);
  leadA.set(true);
  await eventually(() => ownedBy(observer, a.exported, zkA.sessionId), 'A to export again');
  t.equal((await observer.getData('/island/mapping/org.example.Gateway'))?.data?.toString(), 'catalog', 'the mapping lists the app once');
});
