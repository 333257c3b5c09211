// Consumers that do not play by the rules: one that writes and never reads, one that floods a
// connection, one that trickles a frame, one that idles, many that hold large half-sent
// frames, and one that speaks HTTP. Each is bounded, and the well-behaved ones go on.
import net from 'node:net';
import t from 'tap';
import { FrameDecoder, encodeHeartbeatRequest, encodeRequest, encodeRequestBody, readRequestId, type Frame } from '@dubbo-mesh/protocol';
import { DEFAULT_DOWNSTREAM_LIMITS, DownstreamConnection, DubboProxy, FrameBudget, ProxyStats, type DownstreamLimits } from '@dubbo-mesh/proxy';
import { FakeClock, USER_SERVICE, startTestProvider, eventually } from '@dubbo-mesh/test-support';
import { buildConfig } from './fixtures/mesh.js';

/** A raw consumer connection that collects the frames it is sent. */
async function rawConsumer(port: number): Promise<{ socket: net.Socket; frames: Frame[]; closed: Promise<void> }> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  const frames: Frame[] = [];
  const decoder = new FrameDecoder({ maxPayload: 64 << 20 });
  socket.on('data', (chunk: Buffer) => {
    decoder.push(chunk);
    for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) frames.push(frame);
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise((resolve) => socket.once('connect', resolve));
  return { socket, frames, closed };
}

function echoRequest(id: number, text: string): Buffer {
  return encodeRequest(
    BigInt(id),
    encodeRequestBody({ path: USER_SERVICE, version: '1.0.0', method: 'echo', parameterTypes: ['java.lang.String'], arguments: [text] }),
  );
}

function serviceConfig(address: string, pool?: object) {
  return buildConfig([
    { apiVersion: 'dubbo-mesh.io/v1alpha1', kind: 'DubboService', metadata: { name: 'echo' }, spec: { interfaces: [USER_SERVICE], endpoints: [{ address }] } },
    ...(pool === undefined
      ? []
      : [{ apiVersion: 'dubbo-mesh.io/v1alpha1', kind: 'DubboPolicy', metadata: { name: 'echo' }, spec: { service: 'echo', connectionPool: pool } }]),
  ]);
}

t.test('a consumer that writes and never reads stops being read: its unread replies stay bounded; all are delivered once it reads', async (t) => {
  const reply = 'r'.repeat(16 * 1024);
  const provider = await startTestProvider({ services: { [USER_SERVICE]: { echo: () => reply } } });
  // Timeouts far away: this is about memory, and a loaded machine may take seconds for 80 MB.
  const proxy = new DubboProxy({ node: 'p', role: 'proxy', outbound: { host: '127.0.0.1', port: 0 }, defaultTimeoutMs: 120_000 });
  await proxy.start();
  proxy.applySnapshot(serviceConfig(provider.address), 'v1');
  const consumer = await rawConsumer(proxy.addresses().outbound!.port);
  t.teardown(async () => {
    consumer.socket.destroy();
    await proxy.destroy();
    await provider.close();
  });
  consumer.socket.pause(); // reads nothing
  const calls = 5000; // 80 MB of replies
  for (let id = 1; id <= calls; id++) consumer.socket.write(echoRequest(id, 'x'));
  const { counters, gauges } = proxy.stats;
  await eventually(() => counters.downstream_cx_write_backed_up >= 1, 'the proxy to stop reading the consumer whose replies back up');
  // Calls read before the pause are answered into the consumer's buffer; then nothing moves.
  await eventually(() => gauges.request_active === 0, 'the calls in flight to finish');
  t.ok(provider.requestCount < calls / 2, `the proxy read ${provider.requestCount} of ${calls} calls, not all of them`);
  t.equal(counters.downstream_flow_control_paused_reading - counters.downstream_flow_control_resumed_reading, 1, 'and it is not reading now');
  consumer.socket.resume();
  await eventually(() => consumer.frames.length >= calls, 'every reply');
  t.equal(new Set(consumer.frames.map((f) => readRequestId(f.bytes))).size, calls, 'every call answered once, after the consumer read again');
  t.same(
    consumer.frames.filter((f) => f.header.status !== 20).map((f) => f.header.status),
    [],
    'each with OK',
  );
  t.ok(counters.downstream_flow_control_resumed_reading >= 1, 'reading resumed once the replies drained');
});

t.test('one flooding connection takes at most its share of calls in flight; another consumer still gets through', async (t) => {
  const held: Array<() => void> = [];
  const provider = await startTestProvider({
    services: { [USER_SERVICE]: { echo: ([text]) => new Promise((resolve) => held.push(() => resolve(text))) } },
  });
  const proxy = new DubboProxy({ node: 'p', role: 'proxy', outbound: { host: '127.0.0.1', port: 0 }, limits: { maxRequestsPerConnection: 8 } });
  await proxy.start();
  // The service admits 20 calls in flight: without a per-connection cap the flood would take them all.
  proxy.applySnapshot(serviceConfig(provider.address, { maxRequests: 20 }), 'v1');
  const port = proxy.addresses().outbound!.port;
  const flooder = await rawConsumer(port);
  const other = await rawConsumer(port);
  t.teardown(async () => {
    for (const release of held) release();
    flooder.socket.destroy();
    other.socket.destroy();
    await proxy.destroy();
    await provider.close();
  });
  for (let id = 1; id <= 100; id++) flooder.socket.write(echoRequest(id, `f${id}`));
  await eventually(() => provider.requestCount >= 8, 'the first eight calls of the flood');
  await eventually(() => proxy.stats.counters.downstream_cx_max_requests_reached >= 1, 'the flooding connection to reach its cap');
  other.socket.write(echoRequest(1, 'other'));
  await eventually(() => provider.requestCount >= 9, "the other consumer's call to reach the provider");
  t.equal(provider.requestCount, 9, 'the flood holds exactly its cap of 8 in flight');
  t.same(flooder.frames, [], 'nothing of the flood was refused');
  while (held.length > 0) held.shift()!();
  await eventually(() => other.frames.length === 1, 'the other answer');
  t.equal(other.frames[0]!.header.status, 20, 'the other consumer is answered OK');
  // Released calls make room: the rest of the flood follows, 8 at a time.
  const releaser = setInterval(() => {
    while (held.length > 0) held.shift()!();
  }, 1);
  t.teardown(() => clearInterval(releaser));
  await eventually(() => flooder.frames.length >= 100, 'the whole flood to be answered');
  t.ok(
    flooder.frames.every((f) => f.header.status === 20),
    'every call of the flood answered OK, none with 100',
  );
});

/** A DownstreamConnection on a real socket pair, with fake time and the given limits. */
async function connectionUnderTest(
  t: { teardown(fn: () => unknown): void },
  limits: Partial<DownstreamLimits>,
  budget = new FrameBudget(1 << 30),
  reply?: Buffer,
) {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  client.on('error', () => {});
  const accepted = await new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const clock = new FakeClock();
  const stats = new ProxyStats();
  const requests: Frame[] = [];
  const connection = new DownstreamConnection(
    accepted,
    (c, frame) => {
      requests.push(frame);
      if (reply !== undefined) c.write(reply);
    },
    {
      stats,
      clock,
      maxPayload: 8 << 20,
      limits: { ...DEFAULT_DOWNSTREAM_LIMITS, ...limits },
      frameBudget: budget,
    },
  );
  t.teardown(() => {
    client.destroy();
    accepted.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  /** Write bytes and resolve once the connection under test has read them (its data listener runs first). */
  const send = async (bytes: Buffer): Promise<void> => {
    const read = new Promise((resolve) => accepted.once('data', resolve));
    client.write(bytes);
    await read;
  };
  const closed = new Promise<void>((resolve) => accepted.once('close', () => resolve()));
  return { clock, stats, connection, accepted, client, send, requests, closed };
}

t.test('a frame trickled a byte at a time is cut off at the frame timeout, counted from its first byte', async (t) => {
  const { clock, stats, connection, accepted, send, closed } = await connectionUnderTest(t, { frameTimeoutMs: 30_000 });
  const frame = echoRequest(1, 's'.repeat(1000));
  let sent = 0;
  // One byte every 100 ms of fake time: always something new, never a whole frame.
  while (clock.now() - 1_000 < 29_900 && sent < frame.length - 1) {
    await send(frame.subarray(sent, sent + 1));
    sent += 1;
    clock.advance(100);
    connection.sweep(clock.now());
  }
  t.equal(stats.counters.downstream_cx_rx_frame_timeout, 0, 'not cut off before the timeout');
  t.equal(accepted.destroyed, false);
  clock.advance(100);
  connection.sweep(clock.now());
  t.equal(stats.counters.downstream_cx_rx_frame_timeout, 1, 'cut off 30 s after the frame began, though bytes kept coming');
  await closed;
  t.pass('the connection is closed');
});

t.test('a new frame gets the whole timeout; a connection between frames is not timed', async (t) => {
  const { clock, stats, connection, send, requests } = await connectionUnderTest(t, { frameTimeoutMs: 1_000, idleTimeoutMs: 0 });
  const first = echoRequest(1, 'a');
  const second = echoRequest(2, 'b');
  await send(first.subarray(0, 10));
  clock.advance(900);
  connection.sweep(clock.now());
  await send(Buffer.concat([first.subarray(10), second.subarray(0, 10)])); // the first completes, the second begins
  t.equal(requests.length, 1);
  clock.advance(900);
  connection.sweep(clock.now());
  t.equal(stats.counters.downstream_cx_rx_frame_timeout, 0, 'the second frame began 900 ms ago');
  await send(second.subarray(10));
  t.equal(requests.length, 2);
  clock.advance(60_000);
  connection.sweep(clock.now());
  t.equal(stats.counters.downstream_cx_rx_frame_timeout, 0, 'nothing incomplete: no frame timeout');
});

t.test('a consumer that does not read its replies gets no pass on the frame timeout, and its reservation goes with it', async (t) => {
  const budget = new FrameBudget(1 << 30);
  const { clock, stats, connection, client, send, closed } = await connectionUnderTest(t, { frameTimeoutMs: 30_000 }, budget, Buffer.alloc(16 << 20, 1));
  client.pause(); // reads nothing
  // A call answered with 16 MiB it will not read, and the header of a large frame behind it.
  await send(Buffer.concat([echoRequest(1, 'a'), echoRequest(2, 'b'.repeat(1 << 20)).subarray(0, 16)]));
  t.equal(stats.counters.downstream_cx_write_backed_up, 1, 'the proxy stopped reading it');
  t.ok(budget.used > 0, 'the large frame is reserved');
  clock.advance(30_000);
  connection.sweep(clock.now());
  t.equal(stats.counters.downstream_cx_rx_frame_timeout, 1, 'paused for its own unread replies, the frame still times out');
  await closed;
  t.equal(budget.used, 0, 'its reservation is released');
});

t.test('an idle connection with replies it never takes is destroyed, not ended and left waiting', async (t) => {
  const { clock, stats, connection, client, send, closed } = await connectionUnderTest(t, { idleTimeoutMs: 10_000 }, undefined, Buffer.alloc(16 << 20, 1));
  client.pause();
  await send(echoRequest(1, 'a'));
  await eventually(() => stats.counters.downstream_cx_write_backed_up === 1, 'the replies to back up');
  clock.advance(10_000);
  connection.sweep(clock.now());
  await closed;
  connection.sweep(clock.now() + 1_000);
  t.equal(stats.counters.downstream_cx_idle_timeout, 1, 'counted once');
});

t.test('a connection with nothing in flight and nothing read for the idle timeout is closed; a heartbeat keeps it', async (t) => {
  const clock = new FakeClock();
  const proxy = new DubboProxy({ node: 'p', role: 'proxy', outbound: { host: '127.0.0.1', port: 0 }, clock, limits: { idleTimeoutMs: 10_000 } });
  await proxy.start();
  const consumer = await rawConsumer(proxy.addresses().outbound!.port);
  t.teardown(async () => {
    consumer.socket.destroy();
    await proxy.destroy();
  });
  await eventually(() => proxy.stats.counters.downstream_cx_total === 1, 'the proxy to accept the connection');
  clock.advance(9_000);
  consumer.socket.write(encodeHeartbeatRequest(1n));
  await eventually(() => consumer.frames.length === 1, 'the heartbeat answer');
  clock.advance(9_000);
  t.equal(proxy.stats.counters.downstream_cx_idle_timeout, 0, 'the heartbeat 9 s ago keeps it');
  clock.advance(1_000);
  await consumer.closed;
  t.equal(proxy.stats.counters.downstream_cx_idle_timeout, 1, 'closed 10 s after the last read');
});

t.test('incomplete frames of all connections share one cap: a frame beyond it is refused at its header; the others go on', async (t) => {
  const provider = await startTestProvider({ services: { [USER_SERVICE]: { echo: ([text]) => String(text).length } } });
  const proxy = new DubboProxy({ node: 'p', role: 'proxy', outbound: { host: '127.0.0.1', port: 0 }, maxBufferedFrameBytes: 1024 * 1024 });
  await proxy.start();
  proxy.applySnapshot(serviceConfig(provider.address), 'v1');
  const port = proxy.addresses().outbound!.port;
  const big = echoRequest(1, 'b'.repeat(700 * 1024));
  const first = await rawConsumer(port);
  const second = await rawConsumer(port);
  t.teardown(async () => {
    first.socket.destroy();
    second.socket.destroy();
    await proxy.destroy();
    await provider.close();
  });
  first.socket.write(big.subarray(0, big.length - 1)); // all but its last byte
  await eventually(() => proxy.stats.gauges.frame_buffer_bytes === big.length, 'the first frame to be reserved');
  second.socket.write(big.subarray(0, 16)); // a header declaring as much again
  await second.closed;
  t.equal(proxy.stats.counters.downstream_cx_buffer_limit, 1, 'the second frame was refused and counted');
  first.socket.write(big.subarray(big.length - 1));
  await eventually(() => first.frames.length === 1, 'the first call to be answered');
  t.equal(first.frames[0]!.header.status, 20, 'the connection within the cap goes on');
  t.equal(proxy.stats.gauges.frame_buffer_bytes, 0, 'nothing is reserved once the frame is whole');
  const third = await rawConsumer(port);
  t.teardown(() => third.socket.destroy());
  third.socket.write(big);
  await eventually(() => third.frames.length === 1, 'a later large call to be answered');
  t.equal(third.frames[0]!.header.status, 20, 'the room is there again');
});

t.test('an HTTP request on a Dubbo port closes that connection with one log line, no stack trace', async (t) => {
  const lines: unknown[][] = [];
  const proxy = new DubboProxy({ node: 'p', role: 'proxy', outbound: { host: '127.0.0.1', port: 0 }, log: (...args: unknown[]) => lines.push(args) });
  await proxy.start();
  const consumer = await rawConsumer(proxy.addresses().outbound!.port);
  t.teardown(async () => {
    consumer.socket.destroy();
    await proxy.destroy();
  });
  consumer.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  await consumer.closed;
  t.equal(lines.length, 1);
  t.equal(lines[0]!.length, 1, 'a message only, no error object for a logger to print a stack of');
  t.match(String(lines[0]![0]), /^closing downstream connection 127\.0\.0\.1:\d+: .*magic/);
  t.equal(proxy.stats.counters.downstream_cx_protocol_error, 1);
});

t.test('a limit given a value that would disable it or stall every connection is refused', async (t) => {
  const make = (limits: object) => () => new DubboProxy({ node: 'p', role: 'proxy', outbound: { host: '127.0.0.1', port: 0 }, limits });
  t.throws(make({ maxRequestsPerConnection: 0 }), /limits\.maxRequestsPerConnection must be a number of at least 1, got 0/);
  t.throws(make({ frameTimeoutMs: Number.NaN }), /limits\.frameTimeoutMs/);
  t.throws(make({ writeBufferLimitBytes: 1024 }), /limits\.writeBufferLimitBytes must be a number of at least 16384/);
  t.doesNotThrow(make({ idleTimeoutMs: 0, frameTimeoutMs: undefined }), 'idle 0 turns it off; undefined keeps the default');
});
