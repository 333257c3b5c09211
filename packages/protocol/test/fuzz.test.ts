// Fuzz: at least 100,000 random and mutated frames per run through the streaming decoder,
// the peek and the full decoders. Only typed errors may come out: no crash, no hang, and
// memory stays bounded. Seeded, so a failure reproduces (FUZZ_SEED=n to try another).
import t from 'tap';
import {
  DubboProtocolError,
  FrameDecoder,
  HEADER_LENGTH,
  OpaqueValue,
  decodeEventData,
  decodeRequestBody,
  decodeResponseBody,
  encodeErrorResponse,
  encodeFrame,
  encodeHeartbeatRequest,
  encodeReadonlyEvent,
  encodeRequest,
  encodeResponse,
  encodeResponseBody,
  PeekCache,
  isHeartbeat,
  isReadonlyEvent,
  javaException,
  peekRequest,
  peekRequestFrame,
  peekResponseFlag,
  type Frame,
} from '@dubbo-mesh/protocol';
import { makeUser, seededRandom, userValue } from '@dubbo-mesh/test-support';
import { requestCorpus } from './fixtures/corpus.js';

const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 100_000);
const SEED = Number(process.env.FUZZ_SEED ?? 20261121);

const random = seededRandom(SEED);
const int = (n: number) => Math.floor(random() * n);

const requestBodies = requestCorpus()
  .filter((c) => c.body.length < 20000)
  .map((c) => c.body);
const responseBodies = [
  encodeResponseBody({ kind: 'value', value: userValue(makeUser(1)) }),
  encodeResponseBody({ kind: 'value', value: { $class: 'java.util.List', $: [userValue(makeUser(2)), userValue(makeUser(3))] }, attachments: { a: 'b' } }),
  encodeResponseBody({ kind: 'exception', exception: javaException('java.lang.RuntimeException', 'boom'), attachments: {} }),
  encodeResponseBody({ kind: 'null' }),
];
const seeds: Buffer[] = [
  ...requestBodies.map((body, i) => encodeRequest(BigInt(i), body)),
  ...responseBodies.map((body, i) => encodeResponse({ requestId: BigInt(i), body })),
  encodeHeartbeatRequest(1n),
  encodeReadonlyEvent(2n),
  encodeErrorResponse(3n, 70, 'no healthy instance'),
];

function mutate(input: Buffer): Buffer {
  const bytes = Buffer.from(input);
  const rounds = 1 + int(4);
  let out = bytes;
  for (let r = 0; r < rounds; r++) {
    switch (int(7)) {
      case 0:
        out[int(out.length)] ^= 1 << int(8);
        break;
      case 1:
        out[int(out.length)] = int(256);
        break;
      case 2: {
        const at = int(out.length);
        out = Buffer.concat([out.subarray(0, at), Buffer.from(Array.from({ length: 1 + int(8) }, () => int(256))), out.subarray(at)]);
        break;
      }
      case 3: {
        const at = int(out.length);
        out = Buffer.concat([out.subarray(0, at), out.subarray(Math.min(out.length, at + 1 + int(16)))]);
        break;
      }
      case 4:
        out = out.subarray(0, int(out.length + 1));
        break;
      case 5: {
        const at = int(out.length);
        const len = int(32);
        out = Buffer.concat([out.subarray(0, at), out.subarray(at, at + len), out.subarray(at)]);
        break;
      }
      default: {
        const special = [0x00, 0x1f, 0x43, 0x48, 0x4d, 0x4f, 0x51, 0x52, 0x55, 0x56, 0x57, 0x58, 0x5a, 0x60, 0x70, 0x78, 0x7f, 0xff];
        out[int(out.length)] = special[int(special.length)]!;
      }
    }
    if (out.length === 0) out = Buffer.from([int(256)]);
  }
  return out;
}

/** Re-frame a mutated body with a correct header so the mutation reaches the body decoders. */
function reframe(frame: Buffer, body: Buffer): Buffer {
  return encodeFrame({
    isRequest: (frame[2]! & 0x80) !== 0,
    twoWay: (frame[2]! & 0x40) !== 0,
    event: (frame[2]! & 0x20) !== 0,
    requestId: 9n,
    status: frame[3],
    body,
  });
}

t.test(`${ITERATIONS} random and mutated frames give only typed errors`, async (t) => {
  const stats = { frames: 0, typedErrors: 0, peeked: 0, fullDecoded: 0, fullAfterPeekFailed: 0, disagreements: 0 };
  const unexpected: string[] = [];
  const heapBefore = process.memoryUsage().heapUsed;
  let maxBuffered = 0;

  const peekCache = new PeekCache();
  const guard = (what: string, input: Buffer, run: () => void) => {
    try {
      run();
    } catch (error) {
      if (error instanceof DubboProtocolError) stats.typedErrors += 1;
      else if (unexpected.length < 5) unexpected.push(`${what}: ${String(error)} on ${input.toString('hex').slice(0, 200)}`);
    }
  };

  const inspect = (frame: Frame) => {
    stats.frames += 1;
    const { header, body } = frame;
    if (header.event) {
      isHeartbeat(frame);
      isReadonlyEvent(frame);
      guard('event', body, () => decodeEventData(frame));
      return;
    }
    if (header.isRequest) {
      let peeked = false;
      guard('peek', body, () => {
        const peek = peekRequest(body);
        peeked = true;
        stats.peeked += 1;
        if (peek.parameterCount > 0) peek.decodeArgument(int(peek.parameterCount));
      });
      // Through a connection's cache (shared by every frame of the run): the same answer, or the same refusal.
      let cachedOutcome = 'refused';
      guard('cached peek', body, () => {
        // Half through the frame (compared where it lies in its received chunk), half through a body view.
        const cached = stats.frames % 2 === 0 ? peekRequestFrame(frame, undefined, peekCache) : peekRequest(body, undefined, peekCache);
        cachedOutcome = JSON.stringify([
          cached.path,
          cached.version,
          cached.method,
          cached.argumentOffsets,
          cached.attachmentOffsets,
          cached.attachment('group'),
          cached.attachment('timeout'),
        ]);
      });
      let plainOutcome = 'refused';
      guard('peek again', body, () => {
        const plain = peekRequest(body);
        plainOutcome = JSON.stringify([
          plain.path,
          plain.version,
          plain.method,
          plain.argumentOffsets,
          plain.attachmentOffsets,
          plain.attachment('group'),
          plain.attachment('timeout'),
        ]);
      });
      if (cachedOutcome !== plainOutcome) stats.disagreements += 1;
      if (stats.frames % 8 === 0) {
        guard('full decode', body, () => {
          const full = decodeRequestBody(body);
          stats.fullDecoded += 1;
          if (!peeked) stats.fullAfterPeekFailed += 1;
          const peek = peekRequest(body);
          if (peek.method !== full.method || peek.path !== full.path) stats.disagreements += 1;
          for (const [key, value] of Object.entries(peek.attachments)) {
            if (!(value instanceof OpaqueValue) && JSON.stringify(value) !== JSON.stringify(full.attachments[key])) stats.disagreements += 1;
          }
        });
      }
      return;
    }
    guard('response flag', body, () => peekResponseFlag(body));
    if (stats.frames % 4 === 0) guard('response decode', body, () => decodeResponseBody(body));
  };

  for (let i = 0; i < ITERATIONS; i++) {
    const seed = seeds[int(seeds.length)]!;
    let input: Buffer;
    const mode = int(10);
    if (mode < 6) input = reframe(seed, mutate(seed.subarray(HEADER_LENGTH)));
    else if (mode < 9) input = mutate(seed);
    else input = Buffer.from(Array.from({ length: int(64) }, () => int(256)));
    if (mode === 8) input = Buffer.concat([input.subarray(0, 2), Buffer.from([0xda, 0xbb]), input.subarray(2)]);

    const decoder = new FrameDecoder({ maxPayload: 1 << 20 });
    guard('framing', input, () => {
      for (let offset = 0; offset < input.length;) {
        const size = 1 + int(input.length);
        decoder.push(input.subarray(offset, offset + size));
        offset += size;
        maxBuffered = Math.max(maxBuffered, decoder.bufferedBytes);
        for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) inspect(frame);
      }
    });
  }
  const heapGrowthMiB = (process.memoryUsage().heapUsed - heapBefore) / 1048576;
  t.same(unexpected, [], 'no error other than the typed ones');
  t.equal(stats.disagreements, 0, 'where both succeed, peek and full decode agree');
  t.equal(stats.fullAfterPeekFailed, 0, 'full decode never accepts what peek refused');
  t.ok(stats.frames > ITERATIONS / 2, `${stats.frames} frames reached the body decoders`);
  t.ok(stats.peeked > 1000, `${stats.peeked} mutated requests still peeked`);
  t.ok(maxBuffered <= (1 << 20) + HEADER_LENGTH, `decoder never held more than the payload limit (max ${maxBuffered} bytes)`);
  t.ok(heapGrowthMiB < 256, `heap growth ${heapGrowthMiB.toFixed(1)} MiB`);
  t.comment(JSON.stringify({ seed: SEED, ...stats }));
});
