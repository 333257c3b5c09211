// ZooKeeperLeaderLock against a real ZooKeeper: one leader, takeover, a lost session, stop.
import t, { type Test } from 'tap';
import { once } from 'node:events';
import { eventually, startTcpPartition, startZooKeeper } from '@dubbo-mesh/test-support';
import { ZooKeeperLeaderLock, ZooKeeperSession } from '@dubbo-mesh/registry-bridge';

const server = await startZooKeeper();
t.teardown(() => server.close());

async function session(t: Test, connect = server.connect, sessionTimeoutMs?: number): Promise<ZooKeeperSession> {
  const made = new ZooKeeperSession({ connect, spinDelayMs: 50, connectTimeoutMs: 60_000, ...(sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs }) });
  t.teardown(() => made.close());
  await made.start();
  return made;
}

function lock(t: Test, zk: ZooKeeperSession, identity: string, path: string): ZooKeeperLeaderLock {
  const made = new ZooKeeperLeaderLock({ session: zk, identity, path });
  t.teardown(() => made.stop());
  return made;
}

t.test('two candidates: the first in line leads; the other takes over when its session closes', async (t) => {
  const path = '/dubbo-mesh/leader-a';
  const firstSession = await session(t);
  const secondSession = await session(t);
  const first = lock(t, firstSession, 'cp-1', path);
  const second = lock(t, secondSession, 'cp-2', path);
  const firstLeads = once(first, 'started-leading');
  await first.start();
  await firstLeads;
  await second.start();
  t.same([first.isLeader, second.isLeader], [true, false], 'exactly one leader');
  t.same([first.leader, second.leader], ['cp-1', 'cp-1'], 'both know who leads');
  const observer = await session(t);
  const nodes = (await observer.getChildren(path))!.children;
  t.equal(nodes.length, 2, 'one ephemeral sequential node each');
  const data = await Promise.all(nodes.map(async (name) => (await observer.getData(`${path}/${name}`))!));
  t.same(data.map((read) => read.data?.toString()).sort(), ['cp-1', 'cp-2'], 'holding the identity');
  t.ok(
    data.every((read) => read.stat.ephemeralOwner !== '0'),
    'ephemeral',
  );

  const secondLeads = once(second, 'started-leading');
  await firstSession.close();
  await secondLeads;
  t.same([second.isLeader, second.leader], [true, 'cp-2'], 'the second took over');
});

t.test('stop() steps down and removes its node: the next in line leads at once', async (t) => {
  const path = '/dubbo-mesh/leader-b';
  const a = lock(t, await session(t), 'a', path);
  const b = lock(t, await session(t), 'b', path);
  const c = lock(t, await session(t), 'c', path);
  const aLeads = once(a, 'started-leading');
  await a.start();
  await aLeads;
  await b.start();
  await c.start();
  const aStops = once(a, 'stopped-leading');
  const bLeads = once(b, 'started-leading');
  let cLed = false;
  c.on('started-leading', () => (cLed = true));
  await a.stop();
  await aStops;
  await bLeads;
  t.same([a.isLeader, b.isLeader, c.isLeader, cLed], [false, true, false, false], 'the next in line, only');
  const observer = await session(t);
  t.equal((await observer.getChildren(path))!.children.length, 2, 'a’s node is gone');
  // The one in the middle leaves: the last one now watches the leader, and takes over when it goes.
  const cLeads = once(c, 'started-leading');
  await b.stop();
  await cLeads;
  t.ok(c.isLeader);
});

t.test('a lost session stops leading at once; the lock queues again in the new session', async (t) => {
  const path = '/dubbo-mesh/leader-c';
  const partition = await startTcpPartition({ host: '127.0.0.1', port: server.port });
  t.teardown(() => partition.close());
  const flaky = await session(t, partition.address, 1000);
  const steady = await session(t);
  const leader = lock(t, flaky, 'flaky', path);
  const standby = lock(t, steady, 'steady', path);
  const leads = once(leader, 'started-leading');
  await leader.start();
  await leads;
  await standby.start();

  const stopped = once(leader, 'stopped-leading');
  const standbyLeads = once(standby, 'started-leading');
  partition.cut();
  // Cut off longer than the session timeout: the session is taken as lost (expired) and leadership with it.
  await stopped;
  t.notOk(leader.isLeader, 'stopped leading once the session counts as lost');
  await standbyLeads;
  t.ok(standby.isLeader, 'the standby took over when the server expired the session');

  partition.heal();
  await once(flaky, 'session-started');
  const observer = await session(t);
  await eventually(async () => (await observer.getChildren(path))!.children.length === 2, 'the lock to queue again in its new session');
  t.notOk(leader.isLeader, 'behind the new leader');
  const back = once(leader, 'started-leading');
  await standby.stop();
  await back;
  t.ok(leader.isLeader, 'and leads again when it is first in line');
});
