// The write coalescer on real sockets: every byte arrives once and in order, whatever the
// sizes, bursts and a slow reader do to slab reuse.
import t from 'tap';
import net from 'node:net';
import { SLAB_SIZE, WriteBuffer } from '@dubbo-mesh/proxy';
import { seededRandom, eventually } from '@dubbo-mesh/test-support';

async function socketPair(): Promise<{ writer: net.Socket; reader: net.Socket; close(): Promise<void> }> {
  let accepted!: (socket: net.Socket) => void;
  const acceptedSocket = new Promise<net.Socket>((resolve) => (accepted = resolve));
  const server = net.createServer((socket) => accepted(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const writer = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise((resolve) => writer.once('connect', resolve));
  const reader = await acceptedSocket;
  return {
    writer,
    reader,
    close: () =>
      new Promise<void>((resolve) => {
        writer.destroy();
        reader.destroy();
        server.close(() => resolve());
      }),
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

t.test('bursts of frames of every size arrive whole and in order, with a reader that stalls', async (t) => {
  const { writer, reader, close } = await socketPair();
  t.teardown(close);
  const received: Buffer[] = [];
  let receivedBytes = 0;
  reader.on('data', (chunk: Buffer) => {
    received.push(chunk);
    receivedBytes += chunk.length;
  });
  const random = seededRandom(7);
  const output = new WriteBuffer(writer);
  const sent: Buffer[] = [];
  let sentBytes = 0;
  // The reader stalls from burst 10 until the kernel's buffers are full and 30 more bursts
  // have waited in the socket: those batches' slabs must not be reused before they leave.
  let stalledUntil = Infinity;
  for (let burst = 0; burst < 300 || burst < stalledUntil; burst++) {
    if (burst === 10) reader.pause();
    if (stalledUntil === Infinity && writer.writableLength > 0) stalledUntil = burst + 30;
    if (burst === stalledUntil || burst === 5000) reader.resume();
    const frames = 1 + Math.floor(random() * 40);
    for (let i = 0; i < frames; i++) {
      const roll = random();
      const length =
        roll < 0.05 ? SLAB_SIZE / 2 + Math.floor(random() * SLAB_SIZE) : roll < 0.2 ? 1 + Math.floor(random() * 20_000) : 1 + Math.floor(random() * 400);
      const frame = Buffer.allocUnsafe(length);
      for (let b = 0; b < length; b++) frame[b] = Math.floor(random() * 256);
      const expected = Buffer.from(frame);
      output.write(frame);
      // The caller may reuse its bytes at once (the proxy's received chunks are): a small frame was copied.
      if (length < SLAB_SIZE / 2) frame.fill(0xee);
      sent.push(expected);
      sentBytes += length;
    }
    if (random() < 0.1) output.flush();
    await tick();
  }
  reader.resume();
  t.ok(stalledUntil < 5000, `the socket buffered writes from burst ${stalledUntil - 30} on`);
  await eventually(() => receivedBytes >= sentBytes, 'every byte to arrive');
  t.equal(receivedBytes, sentBytes, `${(sentBytes / 2 ** 20).toFixed(1)} MiB in ${sent.length} frames arrived`);
  t.ok(Buffer.concat(received).equals(Buffer.concat(sent)), 'byte for byte, in order');
});

t.test('nothing is written after the socket ends or is destroyed, and queued bytes are counted', async (t) => {
  const { writer, reader, close } = await socketPair();
  t.teardown(close);
  const output = new WriteBuffer(writer);
  output.write(Buffer.from('abc'));
  output.write(Buffer.from('de'));
  t.equal(output.queuedBytes, 5);
  output.flush();
  t.equal(output.queuedBytes, 0);
  writer.end();
  output.write(Buffer.from('late'));
  t.equal(output.queuedBytes, 0, 'a write after end is dropped');
  const chunks: Buffer[] = [];
  reader.on('data', (chunk: Buffer) => chunks.push(chunk));
  await new Promise((resolve) => reader.once('end', resolve));
  t.equal(Buffer.concat(chunks).toString(), 'abcde');
});

t.test('a backed-up socket holds about the bytes it has to send, not a slab per batch', async (t) => {
  const { writer, reader, close } = await socketPair();
  t.teardown(close);
  reader.pause(); // reads nothing: every batch after the kernel's buffers fill waits in the socket
  const output = new WriteBuffer(writer);
  // Fill the kernel's buffers first, in large frames (written as they are).
  const large = Buffer.alloc(SLAB_SIZE, 2);
  for (let i = 0; i < 2000 && writer.writableLength === 0; i++) {
    output.write(large);
    await tick();
  }
  t.ok(writer.writableLength > 0, 'the socket is backed up');
  const frame = Buffer.alloc(200, 1);
  const before = process.memoryUsage().arrayBuffers;
  const waitingBefore = writer.writableLength;
  // Then one small frame per loop turn: one batch, one flush each, every one waiting in the socket.
  for (let turn = 0; turn < 3000; turn++) {
    output.write(frame);
    await tick();
  }
  const held = process.memoryUsage().arrayBuffers - before;
  t.equal(writer.writableLength - waitingBefore, 3000 * 200, 'every small batch waits in the socket');
  // A slab per waiting batch would be 3000 x 64 KiB = 188 MiB; the free list holds at most 4 MiB.
  t.ok(held < 16 * 2 ** 20, `memory held: ${(held / 2 ** 20).toFixed(1)} MiB for ${((3000 * 200) / 2 ** 20).toFixed(1)} MiB waiting`);
});
