import t from 'tap';
import { once } from 'node:events';
import { eventually, startTcpPartition, startZooKeeper } from '@dubbo-mesh/test-support';
import { ZooKeeperOperationError, ZooKeeperSession, ZooKeeperUnavailableError } from '@dubbo-mesh/registry-bridge';

const server = await startZooKeeper();
t.teardown(() => server.close());

t.test('operations: create, list, read, versioned write, remove; an ephemeral is owned by the session', async (t) => {
  const session = new ZooKeeperSession({ connect: server.connect });
  t.teardown(() => session.close());
  await session.start();
  t.equal(session.state, 'connected');
  await session.mkdirp('/ops/a/b');
  await session.mkdirp('/ops/a/b');
  t.same(await session.getChildren('/ops/missing'), undefined, 'a missing node lists as undefined');
  const created = await session.create('/ops/a/b/node', Buffer.from('one'), 'ephemeral');
  t.equal(created, '/ops/a/b/node');
  const read = await session.getData('/ops/a/b/node');
  t.equal(read?.data?.toString(), 'one');
  t.equal(read?.stat.ephemeralOwner, session.sessionId, 'my node');
  t.equal((await session.getData('/ops/a'))?.stat.ephemeralOwner, '0', 'a persistent node has no owner');
  const err = await session.create('/ops/a/b/node', undefined, 'ephemeral').catch((e: unknown) => e);
  t.ok(err instanceof ZooKeeperOperationError && err.failure === 'NODE_EXISTS', 'NODE_EXISTS');
  await session.setData('/ops/a/b/node', Buffer.from('two'), read!.stat.version);
  const stale = await session.setData('/ops/a/b/node', Buffer.from('three'), read!.stat.version).catch((e: unknown) => e);
  t.ok(stale instanceof ZooKeeperOperationError && stale.failure === 'BAD_VERSION', 'a stale version is refused');
  const sequential = await session.create('/ops/a/b/seq-', undefined, 'ephemeral-sequential');
  t.match(sequential, /^\/ops\/a\/b\/seq-\d{10}$/);
  const fired = new Promise<void>((resolve) => void session.getChildren('/ops/a/b', resolve));
  t.same((await session.getChildren('/ops/a/b'))?.children.sort(), ['node', sequential.split('/').pop()].sort());
  t.equal(await session.remove('/ops/a/b/node'), true);
  await fired;
  t.equal(await session.remove('/ops/a/b/node'), false, 'a node that is not there');
  t.ok(session.counters.reads > 0 && session.counters.writes > 0);
});

t.test('no server: start fails in one line after the connect timeout', async (t) => {
  const session = new ZooKeeperSession({ connect: '127.0.0.1:1', connectTimeoutMs: 300, spinDelayMs: 50 });
  const error = await session.start().catch((e: unknown) => e);
  t.ok(error instanceof ZooKeeperUnavailableError);
  t.match((error as Error).message, /^no ZooKeeper server answered at 127\.0\.0\.1:1 within 0\.3 s$/);
  t.equal(session.state, 'closed');
});

t.test('a server restart keeps the session; a partition longer than the session timeout expires it and a new one starts', async (t) => {
  const partition = await startTcpPartition({ host: '127.0.0.1', port: server.port });
  t.teardown(() => partition.close());
  const session = new ZooKeeperSession({ connect: partition.address, sessionTimeoutMs: 1000, spinDelayMs: 50 });
  t.teardown(() => session.close());
  await session.start();
  const first = session.sessionId;
  await session.create('/mine', undefined, 'ephemeral');

  const disconnected = once(session, 'disconnected');
  const connected = once(session, 'connected');
  partition.cut();
  await disconnected;
  t.equal(session.state, 'disconnected');
  const expired = once(session, 'expired');
  const started = once(session, 'session-started');
  // Held past the session timeout: the server expires the session; the client hears it on healing.
  const observer = new ZooKeeperSession({ connect: server.connect });
  t.teardown(() => observer.close());
  await observer.start();
  await eventually(async () => (await observer.exists('/mine')) === undefined, 'the server to expire the partitioned session');
  partition.heal();
  await expired;
  await started;
  await connected;
  t.not(session.sessionId, first, 'a new session');
  t.equal(session.state, 'connected');
  t.equal(await session.exists('/mine'), undefined, 'its ephemeral went with the old session');
  t.equal(session.counters.expiries, 1);
});

t.test('a restarted server keeps sessions; a wiped one makes the client start a new session', async (t) => {
  const local = await startZooKeeper();
  t.teardown(() => local.close());
  // Away longer than the session timeout, a session is taken as lost: a slow restart gives a new one (checked below).
  const session = new ZooKeeperSession({ connect: local.connect, sessionTimeoutMs: 4000, spinDelayMs: 50 });
  t.teardown(() => session.close());
  // Short: an empty server refuses the old session's client forever; it must give up on it soon.
  const short = new ZooKeeperSession({ connect: local.connect, sessionTimeoutMs: 1000, spinDelayMs: 50 });
  t.teardown(() => short.close());
  await session.start();
  const first = session.sessionId;
  await session.create('/kept', undefined, 'ephemeral');
  const disconnected = once(session, 'disconnected');
  let newSessions = 0;
  session.on('session-started', () => (newSessions += 1));
  await local.stop();
  await disconnected;
  await local.start();
  await eventually(() => session.state === 'connected', 'the session to connect again');
  // A server killed as a crash may come back behind what the client saw (its last writes not
  // yet in its log) and refuse the old session: then the session says so with a new one.
  if (session.sessionId === first) {
    t.equal(newSessions, 0, 'the same session, no new one announced');
    t.equal((await session.exists('/kept'))?.ephemeralOwner, first, 'its ephemeral kept');
  } else {
    t.equal(newSessions, 1, 'a new session, announced');
    // The old session's ephemeral lives until the server expires that session: never ours.
    t.not((await session.exists('/kept'))?.ephemeralOwner, session.sessionId);
  }
  await short.start();
  const shortFirst = short.sessionId;
  await short.create('/short', undefined, 'ephemeral');
  const started = once(short, 'session-started');
  await local.wipe();
  await local.start();
  await started;
  t.not(short.sessionId, shortFirst, 'an empty server knows no session: a new one');
  t.equal(await short.exists('/short'), undefined);
});

t.test('an operation waiting when the session is given up is rejected, not left hanging', async (t) => {
  const partition = await startTcpPartition({ host: '127.0.0.1', port: server.port });
  t.teardown(() => partition.close());
  const session = new ZooKeeperSession({ connect: partition.address, sessionTimeoutMs: 1000, spinDelayMs: 50 });
  t.teardown(() => session.close());
  await session.start();
  const disconnected = once(session, 'disconnected');
  partition.cut();
  await disconnected;
  // Queued by the library on a client that will be given up: it never calls these back itself.
  const waiting = session.create('/never', undefined, 'ephemeral').catch((e: unknown) => e);
  const error = await waiting;
  t.ok(error instanceof ZooKeeperOperationError && error.failure === 'SESSION_EXPIRED', 'rejected as SESSION_EXPIRED when the session is taken as lost');
  const closing = new ZooKeeperSession({ connect: partition.address, sessionTimeoutMs: 1000, spinDelayMs: 50, connectTimeoutMs: 60_000 });
  const starting = closing.start().catch(() => undefined);
  const queued = closing.getData('/').catch((e: unknown) => e);
  await closing.close();
  await starting;
  const closed = await queued;
  t.ok(closed instanceof ZooKeeperOperationError, 'close() rejects what is still queued');
  partition.heal();
});

t.test('a silent network (no reset) is noticed by a read timeout and the session recovers', async (t) => {
  const partition = await startTcpPartition({ host: '127.0.0.1', port: server.port });
  t.teardown(() => partition.close());
  const session = new ZooKeeperSession({ connect: partition.address, sessionTimeoutMs: 1500, spinDelayMs: 50 });
  t.teardown(() => session.close());
  await session.start();
  const first = session.sessionId;
  const disconnected = once(session, 'disconnected');
  partition.silence();
  await disconnected;
  t.ok(session.counters.silentConnections >= 1, 'the dead connection was dropped by the read timeout');
  partition.heal();
  // Back with the same session if the server had not expired it yet, else with a new one (announced).
  await eventually(() => session.state === 'connected', 'the session to connect again');
  t.ok(session.sessionId === first || session.counters.sessions === 2, 'the same session, or a new one announced');
  t.ok((await session.exists('/')) !== undefined, 'and it answers');
});
