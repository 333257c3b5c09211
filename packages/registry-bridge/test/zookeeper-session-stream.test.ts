// What node-zookeeper-client 1.1.3 does with a broken stream, mended by ZooKeeperSession: a
// reply it cannot read throws out of its socket handler (an uncaught exception, the process
// would end), and a reply cut short by a lost connection is read in front of the next
// connection's bytes. Both are driven here on a real client against a real ZooKeeper.
import t from 'tap';
import { eventually, startZooKeeper } from '@dubbo-mesh/test-support';
import { ZooKeeperSession } from '@dubbo-mesh/registry-bridge';

const server = await startZooKeeper();
t.teardown(() => server.close());

interface Manager {
  pendingBuffer: Buffer | null;
  socket?: { destroy(): void };
  onSocketData(buffer: Buffer): void;
}

/** The library's connection manager of the session's client now. */
const managerOf = (session: ZooKeeperSession): Manager => (session as unknown as { client: { connectionManager: Manager } }).client.connectionManager;

t.test('a reply the library cannot read drops the connection, not the process; the session goes on', async (t) => {
  const session = new ZooKeeperSession({ connect: server.connect, spinDelayMs: 50 });
  await session.start();
  t.teardown(() => session.close());
  const sessionId = session.sessionId;
  await session.mkdirp('/stream/a');
  // A watcher event (xid -1) whose body is missing: the library reads past the buffer's end.
  const truncated = Buffer.alloc(20);
  truncated.writeInt32BE(16, 0);
  truncated.writeInt32BE(-1, 4);
  t.doesNotThrow(() => managerOf(session).onSocketData(truncated), 'no exception out of the socket handler');
  t.equal(session.counters.corruptReplies, 1, 'counted');
  await eventually(
    async () => session.state === 'connected' && (await session.exists('/stream/a').catch(() => undefined)) !== undefined,
    'the session to read again',
  );
  t.equal(session.sessionId, sessionId, 'the same session, on a new connection');
});

t.test('the bytes of a reply cut short are dropped with their connection', async (t) => {
  const session = new ZooKeeperSession({ connect: server.connect, spinDelayMs: 50 });
  await session.start();
  t.teardown(() => session.close());
  await session.mkdirp('/stream/b');
  const sessionId = session.sessionId;
  const sessions = session.counters.sessions;
  const manager = managerOf(session);
  // The first bytes of a 99-byte reply, then the connection is lost.
  manager.pendingBuffer = Buffer.from([0, 0, 0, 99, 1, 2]);
  manager.socket?.destroy();
  await eventually(
    async () => session.state === 'connected' && (await session.exists('/stream/b').catch(() => undefined)) !== undefined,
    'the new connection to answer',
  );
  t.equal(session.counters.corruptReplies, 0, 'the new connection read cleanly');
  // Read after the stale bytes, the handshake's answer would never complete: the client would
  // be replaced a session timeout later, with a new session.
  t.equal(session.sessionId, sessionId, 'the same session');
  t.equal(session.counters.sessions, sessions, 'no new session');
});
