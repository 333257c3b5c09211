import t from 'tap';
import {
  BC_NULL,
  ErrorCode,
  FrameDecoder,
  decodeRequestBody,
  encodeHessianScalar,
  encodeHessianString,
  encodeRequest,
  encodeRequestBody,
  peekRequest,
  peekRequestFrame,
  rewriteAttachments,
  rewriteRequestFrame,
} from '@dubbo-mesh/protocol';
import { requestCorpus } from './fixtures/corpus.js';

t.test('attachments are added, changed and removed; argument bytes are copied unchanged', async (t) => {
  for (const { name, body } of requestCorpus()) {
    const peek = peekRequest(body);
    const rewritten = rewriteAttachments(peek, { group: 'canary', 'x-mesh-hop': 1, timeout: undefined, 'x-tier': 'gold' });
    t.ok(rewritten.subarray(0, peek.attachmentsOffset).equals(body.subarray(0, peek.attachmentsOffset)), `${name}: invocation and argument bytes identical`);
    const before = decodeRequestBody(body);
    const after = decodeRequestBody(rewritten);
    t.same(after.arguments, before.arguments, `${name}: arguments equal`);
    const expected: Record<string, unknown> = { ...before.attachments, group: 'canary', 'x-mesh-hop': 1, 'x-tier': 'gold' };
    delete expected.timeout;
    t.same(after.attachments, expected, `${name}: attachments changed`);
    const again = peekRequest(rewritten);
    t.equal(again.attachments['x-tier'], 'gold');
  }
});

t.test('no change gives the same bytes', async (t) => {
  for (const { name, body } of requestCorpus()) t.ok(rewriteAttachments(peekRequest(body), {}).equals(body), name);
});

t.test('a body without attachments gets a map', async (t) => {
  const withMap = requestCorpus()[2]!.body;
  const peek = peekRequest(withMap);
  const bare = withMap.subarray(0, peek.attachmentsOffset);
  const rewritten = rewriteAttachments(peekRequest(bare), { group: 'g1' });
  t.same(decodeRequestBody(rewritten).attachments, { group: 'g1' });
});

t.test('a body whose attachments are null gets a map in their place', async (t) => {
  const withMap = requestCorpus()[2]!.body;
  const peek = peekRequest(withMap);
  const nulled = Buffer.concat([withMap.subarray(0, peek.attachmentsOffset), Buffer.from([BC_NULL])]);
  const rewritten = rewriteAttachments(peekRequest(nulled), { group: 'g1' });
  t.same(decodeRequestBody(rewritten).attachments, { group: 'g1' });
  t.same(decodeRequestBody(rewritten).arguments, decodeRequestBody(withMap).arguments);
});

t.test('rewriteRequestFrame keeps the header and sets the new body length', async (t) => {
  for (const { name, body } of requestCorpus()) {
    const frameBytes = encodeRequest(0x0102030405060708n, body, { twoWay: false });
    const decoder = new FrameDecoder();
    decoder.push(frameBytes);
    const frame = decoder.next()!;
    const rewritten = rewriteRequestFrame(frame.bytes, peekRequestFrame(frame), { 'x-tier': 'gold', timeout: undefined });
    const again = new FrameDecoder();
    again.push(rewritten);
    const out = again.next()!;
    t.ok(out !== undefined && again.bufferedBytes === 0, `${name}: one whole frame`);
    t.equal(out.header.requestId, 0x0102030405060708n, `${name}: id kept`);
    t.equal(out.header.twoWay, false, `${name}: flags kept`);
    t.equal(out.header.bodyLength, rewritten.length - 16, `${name}: body length is the new body's`);
    t.ok(out.body.equals(rewriteAttachments(peekRequest(body), { 'x-tier': 'gold', timeout: undefined })), `${name}: the body rewriteAttachments makes`);
    t.equal(peekRequestFrame(out).attachment('x-tier'), 'gold');
  }
});

t.test('scalar encoding', async (t) => {
  const cases: Array<[string | number | bigint | boolean | null, string]> = [
    [0, '90'],
    [-16, '80'],
    [47, 'bf'],
    [48, 'c830'],
    [-2048, 'c000'],
    [262143, 'd7ffff'],
    [262144, '4900040000'],
    [2 ** 40, '4c0000010000000000'],
    [0.5, '443fe0000000000000'],
    [true, '54'],
    [false, '46'],
    [null, '4e'],
    [5n, '4c0000000000000005'],
    ['', '00'],
    ['a', '0161'],
  ];
  for (const [value, hex] of cases) t.equal(encodeHessianScalar(value).toString('hex'), hex, `${String(value)}`);
  t.equal(encodeHessianString('x'.repeat(32)).subarray(0, 2).toString('hex'), '3020');
  t.equal(encodeHessianString('x'.repeat(1024))[0], 0x53);
  const long = encodeHessianString('z'.repeat(0x8001));
  t.equal(long[0], 0x52, 'chunked');
  t.throws(() => encodeHessianScalar(2n ** 64n), { code: ErrorCode.ENCODE });
  t.throws(() => encodeHessianScalar({} as never), { code: ErrorCode.ENCODE });
});

/** The attachments of `body` after `changes`, or the typed error the rewrite refused them with. */
function rewritten(body: Buffer, changes: Record<string, string | undefined>): Record<string, unknown> | { code: string; key: string; message: string } {
  try {
    return decodeRequestBody(rewriteAttachments(peekRequest(body), changes)).attachments;
  } catch (error) {
    const { code, key, message } = error as { code: string; key: string; message: string };
    return { code, key, message };
  }
}

t.test('a changed value that defines a back-reference target a later attachment uses: refused, never a body that means something else', async (t) => {
  const shared = { $class: 'java.util.HashMap', $: { k: 'shared' } };
  const other = { $class: 'java.util.HashMap', $: { k: 'other' } };
  const body = encodeRequestBody({ path: 'com.X', method: 'm', parameterTypes: ['long'], arguments: [1], attachments: { a: shared, c: other, d: shared } });
  t.same(decodeRequestBody(body).attachments, { a: { k: 'shared' }, c: { k: 'other' }, d: { k: 'shared' } });
  for (const [what, change] of [
    ['removed', { a: undefined }],
    ['replaced', { a: 'str' }],
  ] as const) {
    const out = rewritten(body, change);
    t.match(out, { code: ErrorCode.ATTACHMENT_REWRITE, key: 'a' }, `a ${what}: refused, naming the attachment`);
    t.match(
      (out as { message: string }).message,
      /^attachment "a" cannot be changed: its value defines a Hessian class, type or shared value that attachment "c" after it may name/,
    );
  }
  // Changing the last one, or one that defines nothing, is safe and done.
  t.same(rewritten(body, { d: undefined }), { a: { k: 'shared' }, c: { k: 'other' } });
  t.same(rewritten(body, { d: 'x', e: 'y' }), { a: { k: 'shared' }, c: { k: 'other' }, d: 'x', e: 'y' });
});

t.test('a changed value that defines a class a later attachment uses: refused with the typed error, not a decode failure', async (t) => {
  const body = encodeRequestBody({
    path: 'com.X',
    method: 'm',
    parameterTypes: ['long'],
    arguments: [1],
    attachments: { a: { $class: 'com.Ctx', $: { f: 1 } }, b: { $class: 'com.Ctx', $: { f: 2 } }, path: 'com.X' },
  });
  for (const [what, change] of [
    ['removed', { a: undefined }],
    ['replaced', { a: 'str' }],
  ] as const) {
    t.match(rewritten(body, change), { code: ErrorCode.ATTACHMENT_REWRITE, key: 'a' }, `a ${what}`);
  }
  t.same(rewritten(body, { b: undefined }), { a: { f: 1 }, path: 'com.X' }, 'b only uses the class a defined, and only strings follow it');
  t.same(rewritten(body, { path: 'com.Y' }), { a: { f: 1 }, b: { f: 2 }, path: 'com.Y' }, 'a string value defines nothing');
  t.same(rewritten(body, { b: undefined, a: undefined }), { path: 'com.X' }, 'both removed: nothing after them names what they defined');
});

t.test('definitions made by the arguments stay valid: an attachment using them may go', async (t) => {
  const ctx = { $class: 'com.Ctx', $: { f: 1 } };
  const body = encodeRequestBody({
    path: 'com.X',
    method: 'm',
    parameterTypes: ['com.Ctx'],
    arguments: [ctx],
    attachments: { a: ctx, b: { $class: 'com.Ctx', $: { f: 3 } } },
  });
  t.same(rewritten(body, { a: undefined }), { b: { f: 3 } }, 'a was only a back-reference to the argument: it defined nothing');
  t.same(decodeRequestBody(rewriteAttachments(peekRequest(body), { a: undefined })).arguments, [{ f: 1 }]);
});

t.test('rewriteRequestFrame refuses a frame the rewrite makes longer than the payload limit', async (t) => {
  const body = encodeRequestBody({ path: 'com.X', method: 'm', parameterTypes: ['long'], arguments: [1], attachments: { path: 'com.X' } });
  const decoder = new FrameDecoder();
  decoder.push(encodeRequest(1n, body));
  const frame = decoder.next()!;
  const peek = peekRequestFrame(frame);
  const limit = body.length + 40;
  t.ok(rewriteRequestFrame(frame.bytes, peek, { x: 'y'.repeat(20) }, limit).length <= limit + 16, 'within the limit: rewritten');
  t.throws(() => rewriteRequestFrame(frame.bytes, peek, { x: 'y'.repeat(60) }, limit), {
    code: ErrorCode.PAYLOAD_TOO_LARGE,
    message: /exceeds the payload limit of \d+ bytes/,
  });
});
