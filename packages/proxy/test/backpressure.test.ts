// Backpressure end to end: an instance that stops reading makes the proxy stop reading the
// consumers that feed it, instead of buffering what they send without bound; when the
// instance reads again, every call is delivered and answered.
import t from 'tap';
import net from 'node:net';
import { FrameDecoder, encodeRequest, encodeRequestBody, encodeResponse, encodeResponseBody, readRequestId } from '@dubbo-mesh/protocol';
import {
  DEFAULT_DOWNSTREAM_LIMITS,
  DownstreamConnection,
  DubboProxy,
  FrameBudget,
  ProxyStats,
  UPSTREAM_BUFFER_LIMIT,
  UpstreamConnection,
  systemClock,
} from '@dubbo-mesh/proxy';
import { USER_SERVICE, eventually } from '@dubbo-mesh/test-support';

/** An instance that reads nothing until `release()`, then answers every request. */
async function stalledInstance(): Promise<{ port: number; release(): void; received(): number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let released = false;
  let received = 0;
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const decoder = new FrameDecoder({ maxPayload: 16 * 1024 * 1024 });
    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk);
      for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) {
        if (frame.header.event) continue;
        received += 1;
        if (frame.header.twoWay)
          socket.write(encodeResponse({ requestId: frame.header.requestId, body: encodeResponseBody({ value: frame.header.bodyLength }) }));
      }
    });
    if (!released) socket.pause();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    release() {
      released = true;
      for (const socket of sockets) socket.resume();
    },
    received: () => received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

for (const twoWay of [true, false]) {
  t.test(`a stalled instance pauses the consumer's connection (${twoWay ? 'two-way' : 'one-way'} calls); nothing is lost when it reads again`, async (t) => {
    const instance = await stalledInstance();
    const proxy = new DubboProxy({
      node: 'bp',
      role: 'proxy',
      inbound: { host: '127.0.0.1', port: 0 },
      inboundTarget: { host: '127.0.0.1', port: instance.port },
      defaultTimeoutMs: 60_000,
    });
    await proxy.start();
    const consumer = net.connect(proxy.addresses().inbound!.port, '127.0.0.1');
    t.teardown(async () => {
      consumer.destroy();
      await proxy.destroy();
      await instance.close();
    });
    consumer.on('error', () => {});
    await new Promise((resolve) => consumer.once('connect', resolve));
    const answers = new Map<bigint, number>();
    const decoder = new FrameDecoder();
    consumer.on('data', (chunk: Buffer) => {
      decoder.push(chunk);
      for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) answers.set(readRequestId(frame.bytes), frame.header.status);
    });

    // 64 MiB of calls: far more than the kernel's socket buffers on both sides plus the proxy's limit hold.
    const payload = 'x'.repeat(256 * 1024);
    const body = encodeRequestBody({ path: USER_SERVICE, method: 'echo', parameterTypes: ['java.lang.String'], arguments: [payload] });
    const calls = 256;
    for (let i = 1; i <= calls; i++) consumer.write(encodeRequest(BigInt(i), body, { twoWay }));
    const sent = calls * (body.length + 16);

    // The proxy stops reading once the upstream connection holds its limit unsent.
    const counters = proxy.stats.counters;
    await eventually(() => counters.downstream_flow_control_paused_reading >= 1, 'the proxy to pause reading the consumer');
    t.ok(
      consumer.writableLength > sent / 4,
      `the consumer still holds ${(consumer.writableLength / 2 ** 20).toFixed(1)} MiB of ${(sent / 2 ** 20).toFixed(1)} MiB: the proxy did not take it all into memory`,
    );
    t.equal(instance.received(), 0, 'the stalled instance read nothing');
    t.ok(UPSTREAM_BUFFER_LIMIT < sent / 16, 'the limit is far below what was sent');

    instance.release();
    await eventually(() => instance.received() >= calls, 'every call to reach the instance');
    t.equal(instance.received(), calls, 'each call reached the instance once');
    if (twoWay) {
      await eventually(() => answers.size >= calls, 'every answer');
      t.equal(answers.size, calls, 'every call was answered once the instance read again');
      t.ok(
        [...answers.values()].every((status) => status === 20),
        'each with OK',
      );
    }
    t.ok(counters.downstream_flow_control_resumed_reading >= 1, 'the proxy resumed reading');
    t.equal(consumer.writableLength, 0);
  });
}

t.test('a paused consumer connection that closes is forgotten by the upstream it waited for', async (t) => {
  const instance = await stalledInstance();
  const upstream = new UpstreamConnection(
    { host: '127.0.0.1', port: instance.port, connectTimeoutMs: 1000, maxPayload: 16 * 1024 * 1024, heartbeatIntervalMs: 60_000 },
    { onOpen() {}, onClose() {}, onReadonly() {} },
  );
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const accepted = await new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  t.teardown(async () => {
    client.destroy();
    upstream.destroy();
    await instance.close();
    await new Promise((resolve) => server.close(resolve));
  });
  const stats = new ProxyStats();
  const downstream = new DownstreamConnection(accepted, () => {}, {
    stats,
    clock: systemClock,
    maxPayload: 1 << 20,
    limits: DEFAULT_DOWNSTREAM_LIMITS,
    frameBudget: new FrameBudget(1 << 30),
  });
  await eventually(() => upstream.isOpen, 'the upstream connection to open');
  // Fill the upstream past its limit: the instance reads nothing.
  const call = { upstreamId: 0, onResponse() {}, onError() {} };
  const body = encodeRequestBody({ path: USER_SERVICE, method: 'echo', parameterTypes: ['java.lang.String'], arguments: ['y'.repeat(1024 * 1024)] });
  for (let i = 0; i < 200 && !upstream.saturated; i++) upstream.send(encodeRequest(BigInt(i), body), call);
  // Handed to the socket when the loop's poll phase ends.
  await new Promise((resolve) => setImmediate(resolve));
  t.ok(upstream.saturated, 'the upstream connection is saturated');
  downstream.waitFor(upstream);
  downstream.waitFor(upstream); // a second call on the same pair waits once
  t.equal(stats.counters.downstream_flow_control_paused_reading, 1);
  const waiters = () => (upstream as unknown as { drainWaiters: unknown[] }).drainWaiters.length;
  t.equal(waiters(), 1, 'the consumer connection waits');
  client.destroy();
  await new Promise((resolve) => accepted.once('close', resolve));
  t.equal(waiters(), 0, 'and is forgotten once it closed (nothing of it is kept)');
});
