import t from 'tap';
import { inspect } from 'node:util';
import {
  BadMagicError,
  DEFAULT_MAX_PAYLOAD,
  ErrorCode,
  FrameDecoder,
  HEADER_LENGTH,
  PayloadTooLargeError,
  decodeFrame,
  encodeHeartbeatRequest,
  encodeRequest,
  readRequestId,
  writeRequestId,
  type Frame,
} from '@dubbo-mesh/protocol';
import { requestCorpus } from './fixtures/corpus.js';

const frames = requestCorpus()
  .slice(0, 6)
  .map((entry, i) => encodeRequest(BigInt(i + 1), entry.body));
const sample = frames[2]!;

function drain(decoder: FrameDecoder): Frame[] {
  const out: Frame[] = [];
  for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) out.push(frame);
  return out;
}

t.test('a frame split at every point decodes once, whole and equal', async (t) => {
  for (let split = 0; split <= sample.length; split++) {
    const decoder = new FrameDecoder();
    decoder.push(sample.subarray(0, split));
    const early = drain(decoder);
    if (split < sample.length && early.length !== 0) t.fail(`frame returned after ${split} bytes`);
    decoder.push(sample.subarray(split));
    const got = [...early, ...drain(decoder)];
    if (got.length !== 1 || !got[0]!.bytes.equals(sample)) t.fail(`split at ${split}`);
    if (decoder.bufferedBytes !== 0) t.fail(`bytes left after split at ${split}`);
  }
  t.pass(`${sample.length + 1} split points`);
});

t.test('a frame fed one byte at a time', async (t) => {
  const decoder = new FrameDecoder();
  const got: Frame[] = [];
  for (const byte of sample) {
    decoder.push(Buffer.from([byte]));
    got.push(...drain(decoder));
  }
  t.equal(got.length, 1);
  t.ok(got[0]!.bytes.equals(sample));
  t.equal(got[0]!.header.requestId, 3n);
  t.equal(got[0]!.body.length, got[0]!.header.bodyLength);
});

t.test('many frames in one chunk, and in random chunks', async (t) => {
  const stream = Buffer.concat(Array.from({ length: 50 }, (_, i) => frames[i % frames.length]!));
  const decoder = new FrameDecoder();
  decoder.push(stream);
  const all = drain(decoder);
  t.equal(all.length, 50);
  t.ok(all.every((frame, i) => frame.bytes.equals(frames[i % frames.length]!)));
  t.equal(all[0]!.bytes.buffer, stream.buffer, 'a frame inside one chunk is a view, not a copy');

  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const chunked = new FrameDecoder();
  const got: Frame[] = [];
  for (let offset = 0; offset < stream.length;) {
    const size = 1 + Math.floor(random() * 700);
    chunked.push(stream.subarray(offset, offset + size));
    offset += size;
    got.push(...drain(chunked));
  }
  t.equal(got.length, 50);
  t.ok(
    got.every((frame, i) => frame.bytes.equals(frames[i % frames.length]!)),
    'every frame intact',
  );
});

t.test('a bad magic number fails at once and the decoder stays failed', async (t) => {
  const decoder = new FrameDecoder();
  decoder.push(Buffer.from([0xda]));
  t.equal(decoder.next(), undefined, 'one good magic byte is not enough to judge');
  decoder.push(Buffer.from('GET / HTTP/1.1\r\n'));
  t.throws(() => decoder.next(), { code: ErrorCode.BAD_MAGIC, message: 'bad magic number 0xda47, expected 0xdabb' });
  t.throws(() => decoder.next(), BadMagicError, 'still failed');
  const early = new FrameDecoder();
  early.push(Buffer.from([0x00]));
  t.throws(() => early.next(), { code: ErrorCode.BAD_MAGIC }, 'a wrong first byte fails before more arrive');
  const afterGood = new FrameDecoder();
  afterGood.push(Buffer.concat([sample, Buffer.from('garbage that is long enough')]));
  t.ok(afterGood.next()!.bytes.equals(sample), 'the good frame before the garbage is delivered');
  t.throws(() => afterGood.next(), { code: ErrorCode.BAD_MAGIC });
});

t.test('an oversize frame fails as soon as its header arrives', async (t) => {
  const header = Buffer.from(sample.subarray(0, HEADER_LENGTH));
  header.writeInt32BE(DEFAULT_MAX_PAYLOAD + 1, 12);
  const decoder = new FrameDecoder();
  decoder.push(header);
  t.throws(() => decoder.next(), {
    code: ErrorCode.PAYLOAD_TOO_LARGE,
    message: `body length ${DEFAULT_MAX_PAYLOAD + 1} exceeds the payload limit of 8388608 bytes`,
  });
  t.equal(decoder.bufferedBytes, 0, 'nothing is kept');

  const small = new FrameDecoder({ maxPayload: 64 });
  small.push(sample);
  t.throws(() => small.next(), PayloadTooLargeError, 'the limit is configurable');

  const negative = Buffer.from(header);
  negative.writeInt32BE(-1, 12);
  t.throws(() => decodeFrame(negative), { code: ErrorCode.PAYLOAD_TOO_LARGE, message: 'invalid body length -1' });
  const exact = new FrameDecoder({ maxPayload: sample.length - HEADER_LENGTH });
  exact.push(sample);
  t.ok(exact.next(), 'a body exactly at the limit is accepted');
  t.throws(() => new FrameDecoder({ maxPayload: -1 }), RangeError);
});

t.test('decodeFrame reports how many bytes are missing', async (t) => {
  t.same(decodeFrame(sample.subarray(0, 5)), { kind: 'need-more', missing: 11 });
  t.same(decodeFrame(sample.subarray(0, 20)), { kind: 'need-more', missing: sample.length - 20 });
  const result = decodeFrame(Buffer.concat([sample, sample]), sample.length);
  t.equal(result.kind, 'frame');
  if (result.kind === 'frame') t.equal(result.nextOffset, sample.length * 2);
});

t.test('a decoded frame keeps the request id it arrived with when its bytes are rewritten in place', async (t) => {
  const decoder = new FrameDecoder();
  decoder.push(encodeHeartbeatRequest(-5n));
  const frame = decoder.next()!;
  t.equal(frame.header.requestId, -5n);
  writeRequestId(frame.bytes, 77n);
  t.equal(frame.header.requestId, -5n, 'the id read at decode time');
  t.equal(readRequestId(frame.bytes), 77n, 'the bytes carry the new id');
  t.equal(frame.body.length, frame.header.bodyLength);
  t.equal(frame.body.buffer, frame.bytes.buffer, 'the body is a view, not a copy');
});

t.test('frames are Buffer views of the chunk they arrived in, at any offset inside it', async (t) => {
  // A chunk as a socket hands it over: a slice of a larger pooled allocation, at an odd offset.
  const pool = Buffer.alloc(frames.reduce((n, f) => n + f.length, 0) + 13, 0xee);
  let at = 7;
  for (const frame of frames) at += frame.copy(pool, at);
  const chunk = pool.subarray(7, at);
  const decoder = new FrameDecoder();
  decoder.push(chunk.subarray(0, frames[0]!.length + 5)); // the second frame spans two chunks
  decoder.push(chunk.subarray(frames[0]!.length + 5));
  const decoded = drain(decoder);
  t.equal(decoded.length, frames.length);
  decoded.forEach((frame, i) => {
    t.ok(Buffer.isBuffer(frame.bytes) && Buffer.isBuffer(frame.body), `frame ${i}: bytes and body are Buffers`);
    t.same(frame.bytes, frames[i], `frame ${i}: the bytes`);
    t.same(frame.body, frames[i]!.subarray(HEADER_LENGTH), `frame ${i}: the body`);
    t.equal(frame.bytes.readUInt32BE(12), frame.header.bodyLength, `frame ${i}: Buffer methods work`);
    t.equal(frame.bytes.constructor, Buffer, `frame ${i}: its constructor is Buffer`);
    t.match(inspect(frame.bytes), /^<Buffer da bb /, `frame ${i}: it prints as a Buffer`);
    t.ok(Buffer.isBuffer(frame.bytes.map((b) => b)), `frame ${i}: methods that make new arrays make Buffers`);
  });
  t.equal(decoded[0]!.bytes.buffer, pool.buffer, 'a frame inside one chunk is a view of it');
  t.not(decoded[1]!.bytes.buffer, pool.buffer, 'a frame across chunks is a copy');
  t.equal(decoded[1]!.body.buffer, decoded[1]!.bytes.buffer, 'and its body a view of that copy');
  // The proxy rewrites ids in place: the write lands in the received chunk.
  writeRequestId(decoded[2]!.bytes, 99n);
  t.equal(readRequestId(chunk.subarray(frames[0]!.length + frames[1]!.length)), 99n);
});

t.test("pendingFrameBytes: the incomplete frame's whole size, wherever its header is split", async (t) => {
  for (let split = 0; split < sample.length; split++) {
    const decoder = new FrameDecoder();
    // Fed byte by byte up to the split, so the header spans many chunks.
    for (const byte of sample.subarray(0, split)) decoder.push(Buffer.from([byte]));
    drain(decoder);
    const want = split === 0 ? 0 : split < HEADER_LENGTH ? HEADER_LENGTH : sample.length;
    if (decoder.pendingFrameBytes !== want) t.fail(`after ${split} bytes: ${decoder.pendingFrameBytes}, not ${want}`);
  }
  const decoder = new FrameDecoder();
  decoder.push(Buffer.concat([sample, sample.subarray(0, 20)]));
  t.equal(drain(decoder).length, 1);
  t.equal(decoder.pendingFrameBytes, sample.length, 'the frame after a complete one');
  t.pass('every split point');
});
