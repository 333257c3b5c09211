import t from 'tap';
import hessian from 'hessian.js';
import {
  ErrorCode,
  OpaqueValue,
  PeekCache,
  decodeRequestBody,
  encodeRequestBody,
  rewriteAttachments,
  isDubboProtocolError,
  parseParameterDescriptor,
  peekRequest,
  peekRequestFrame,
  toParameterDescriptor,
  FrameDecoder,
  encodeRequest,
} from '@dubbo-mesh/protocol';
import { requestCorpus } from './fixtures/corpus.js';

const corpus = requestCorpus();

t.test('peek and full decode agree on every field for the corpus', async (t) => {
  for (const { name, body } of corpus) {
    const peek = peekRequest(body);
    const full = decodeRequestBody(body);
    t.equal(peek.dubboVersion, full.dubboVersion, `${name}: dubbo version`);
    t.equal(peek.path, full.path, `${name}: path`);
    t.equal(peek.version, full.version, `${name}: version`);
    t.equal(peek.method, full.method, `${name}: method`);
    t.equal(peek.parameterDescriptor, full.parameterDescriptor, `${name}: descriptor`);
    t.equal(peek.parameterCount, full.arguments.length, `${name}: argument count`);
    t.same(Object.keys(peek.attachments).sort(), Object.keys(full.attachments).sort(), `${name}: attachment keys`);
    for (const [key, value] of Object.entries(peek.attachments)) {
      if (value instanceof OpaqueValue) {
        t.type(full.attachments[key], 'object', `${name}: opaque attachment ${key} is a structure`);
        continue;
      }
      t.same(value, full.attachments[key], `${name}: attachment ${key}`);
    }
    for (let i = 0; i < peek.parameterCount; i++) {
      t.same(peek.decodeArgument(i), full.arguments[i], `${name}: argument ${i} decoded on demand`);
    }
    t.equal(peek.attachmentsEnd, body.length, `${name}: attachments end the body`);
  }
});

t.test('peek reads what the encoder wrote', async (t) => {
  for (const { name, init, body } of corpus) {
    const peek = peekRequest(body);
    t.equal(peek.path, init.path, `${name}: path`);
    t.equal(peek.method, init.method, `${name}: method`);
    t.equal(peek.version, init.version ?? '0.0.0', `${name}: version`);
    t.equal(peek.parameterDescriptor, toParameterDescriptor(init.parameterTypes ?? []), `${name}: descriptor`);
    const offsets = peek.argumentOffsets;
    for (let i = 1; i < offsets.length; i++) t.ok(offsets[i]! > offsets[i - 1]!, `${name}: argument ${i - 1} has bytes`);
  }
});

t.test('service key fields and generic invocation', async (t) => {
  const getUser = peekRequest(corpus.find((c) => c.name === 'UserService.getUser')!.body);
  t.equal(getUser.interfaceName, 'org.apache.dubbo.benchmark.service.UserService');
  t.equal(getUser.group, 'g1');
  t.equal(getUser.version, '1.0.0');
  t.equal(getUser.attachments.timeout, 3000, 'a timeout sent as a Hessian int is kept as a number');
  t.equal(getUser.generic, false);
  t.equal(getUser.invokedMethod, 'getUser');
  t.equal(Object.getPrototypeOf(getUser.attachments), null, 'attachments have no prototype');

  const generic = peekRequest(corpus.find((c) => c.name === 'generic $invoke')!.body);
  t.equal(generic.method, '$invoke');
  t.equal(generic.generic, true);
  t.equal(generic.invokedMethod, 'getUser', 'the real method of a generic call is read from argument 0');
  t.same(generic.decodeArgument(1), ['long']);
});

t.test('arguments that depend on earlier ones are decoded in order', async (t) => {
  const shared = peekRequest(corpus.find((c) => c.name === 'two objects sharing a class definition')!.body);
  t.equal(shared.independentArguments, 1, "the second User reuses the first one's class definition");
  t.equal((shared.decodeArgument(1) as { id: number }).id, 2);
  const refs = peekRequest(corpus.find((c) => c.name === 'back-references to one object')!.body);
  const list = refs.decodeArgument(0) as unknown[];
  t.equal(list.length, 3);
  t.equal(list[0], list[2], 'back-references resolve to the same object');
  t.equal(refs.decodeArgument(1), 3);
  t.throws(() => refs.decodeArgument(2), RangeError);
});

t.test('non-string attachment values and values outside the BMP', async (t) => {
  const scalars = peekRequest(corpus.find((c) => c.name === 'attachment values of every scalar kind')!.body);
  t.equal(scalars.attachments.hugeLong, '9223372036854775807', 'a long beyond 2^53 reads as a decimal string, as hessian.js does');
  t.equal(scalars.attachments.safeLong, 123456789012);
  t.equal(scalars.attachments.flag, true);
  t.equal(scalars.attachments.nothing, null);
  t.same(scalars.attachments.when, new Date(1600000000000));
  const text = peekRequest(corpus.find((c) => c.name.startsWith('strings'))!.body);
  t.equal(text.attachments.note, 'données 😀');
  t.equal(text.decodeArgument(2), 'emoji 🚀 and 𝄞 outside the BMP');
  t.equal((text.decodeArgument(4) as string).length, 70000);
});

function body(...values: unknown[]): Buffer {
  const encoder = new hessian.EncoderV2();
  for (const value of values) encoder.write(value);
  return Buffer.from(encoder.get());
}

t.test('attachments that are null, missing or a typed map', async (t) => {
  const head = ['2.0.2', 'org.example.S', '1.0.0', 'm', 'I', 5];
  const noMap = body(...head);
  t.same({ ...peekRequest(noMap).attachments }, {}, 'a body without attachments has none');
  t.equal(peekRequest(noMap).attachmentsOffset, noMap.length);
  const nullMap = Buffer.concat([noMap, Buffer.from('N')]);
  t.same({ ...peekRequest(nullMap).attachments }, {});
  // 'M', type 'java.util.TreeMap', group => g9, 'Z': a typed map as Java's Hessian2Output writes one.
  const typed = Buffer.concat([noMap, Buffer.from([0x4d]), body('java.util.TreeMap', 'group', 'g9'), Buffer.from('Z')]);
  t.equal(peekRequest(typed).attachments.group, 'g9');
  t.equal(decodeRequestBody(typed).attachments.group, 'g9');
});

t.test('malformed bodies fail with typed errors', async (t) => {
  const cases: Array<[string, Buffer, string]> = [
    ['empty body', Buffer.alloc(0), ErrorCode.MALFORMED_BODY],
    ['method is an int', body('2.0.2', 'p', 'v', 5), ErrorCode.MALFORMED_BODY],
    ['bad descriptor', body('2.0.2', 'p', 'v', 'm', 'Ljava/lang/String', 'x'), ErrorCode.BAD_DESCRIPTOR],
    ['descriptor names more arguments than there are', body('2.0.2', 'p', 'v', 'm', 'II', 1), ErrorCode.TRUNCATED],
    ['attachments are a list', body('2.0.2', 'p', 'v', 'm', 'I', 1, [1, 2]), ErrorCode.MALFORMED_BODY],
    ['attachment key is an int', Buffer.concat([body('2.0.2', 'p', 'v', 'm', ''), Buffer.from([0x48, 0x91, 0x91, 0x5a])]), ErrorCode.MALFORMED_BODY],
    ['reserved code in an argument', Buffer.concat([body('2.0.2', 'p', 'v', 'm', 'I'), Buffer.from([0x45])]), ErrorCode.HESSIAN_DECODE],
  ];
  for (const [name, bytes, code] of cases) {
    t.throws(() => peekRequest(bytes), { code }, `${name}: peek`);
    t.throws(() => decodeRequestBody(bytes), { code }, `${name}: full decode`);
  }
});

t.test('every truncation of every corpus body is a typed error or a valid body without attachments', async (t) => {
  let typed = 0;
  for (const { name, body } of corpus) {
    const full = peekRequest(body);
    const limit = Math.min(body.length, 4000);
    for (let length = 0; length < limit; length++) {
      try {
        peekRequest(body.subarray(0, length));
        if (length !== full.attachmentsOffset) t.fail(`${name}: prefix of ${length} bytes accepted`);
      } catch (error) {
        if (!isDubboProtocolError(error)) t.fail(`${name}: prefix of ${length} bytes threw ${String(error)}`);
        else typed += 1;
      }
    }
  }
  t.ok(typed > 10000, `${typed} truncations rejected with typed errors`);
});

t.test('parameter descriptors', async (t) => {
  t.same(parseParameterDescriptor('Ljava/lang/String;J[I[[Lorg/x/User;Z'), ['java.lang.String', 'long', 'int[]', 'org.x.User[][]', 'boolean']);
  t.same(parseParameterDescriptor(''), []);
  t.equal(toParameterDescriptor(['java.lang.String', 'long', 'int[]']), 'Ljava/lang/String;J[I');
  t.throws(() => parseParameterDescriptor('Q'), { code: ErrorCode.BAD_DESCRIPTOR, message: 'bad parameter descriptor "Q": unknown type character \'Q\' at 0' });
  t.throws(() => parseParameterDescriptor('['), { code: ErrorCode.BAD_DESCRIPTOR });
  t.throws(() => parseParameterDescriptor('L;'), { code: ErrorCode.BAD_DESCRIPTOR });
  t.throws(() => parseParameterDescriptor('V'), { code: ErrorCode.BAD_DESCRIPTOR });
});

t.test('attachment() reads one attachment from its bytes', async (t) => {
  const getUser = peekRequest(corpus.find((c) => c.name === 'UserService.getUser')!.body);
  t.equal(getUser.attachment('group'), 'g1');
  t.equal(getUser.attachment('timeout'), 3000);
  t.equal(getUser.attachment('missing'), undefined);
  t.equal(getUser.attachment('grou'), undefined, 'a prefix is not a match');
  t.equal(getUser.attachments, getUser.attachments, 'the full object is built once');
  const nested = peekRequest(corpus.find((c) => c.name === 'attachment with a map value (opaque to peek)')!.body);
  t.type(nested.attachment('nested'), OpaqueValue);
  t.equal(nested.attachment('tail'), 'after', 'entries after an opaque value are found');
  // A key sent twice, and a key of 40 chars (not a compact string): the last one wins, as in Java's HashMap.
  const longKey = 'k'.repeat(40);
  const head = body('2.0.2', 'p', '1.0.0', 'm', '');
  const twice = Buffer.concat([head, Buffer.from([0x48]), body('group', 'first', 'group', 'second', longKey, 'long'), Buffer.from('Z')]);
  const peek = peekRequest(twice);
  t.equal(peek.attachment('group'), 'second');
  t.equal(peek.group, 'second');
  t.equal(peek.attachments.group, 'second');
  t.equal(peek.attachment(longKey), 'long');
  t.equal(peek.dubboVersion, '2.0.2');
  t.equal(peek.parameterDescriptor, '');
  t.equal(peek.interfaceName, 'p', 'the path when there is no interface attachment');
});

t.test('a peek through a PeekCache reads what a plain peek reads, call after call', async (t) => {
  const cache = new PeekCache(2);
  // Twice through the corpus: the second pass is served from the cache for the heads it remembers.
  for (let pass = 0; pass < 2; pass++) {
    for (const { name, body } of corpus) {
      const plain = peekRequest(body);
      const cached = peekRequest(body, undefined, cache);
      t.equal(cached.path, plain.path, `${name}: path`);
      t.equal(cached.version, plain.version, `${name}: version`);
      t.equal(cached.method, plain.method, `${name}: method`);
      t.equal(cached.invokedMethod, plain.invokedMethod, `${name}: invoked method`);
      t.equal(cached.dubboVersion, plain.dubboVersion, `${name}: dubbo version`);
      t.equal(cached.parameterDescriptor, plain.parameterDescriptor, `${name}: descriptor`);
      t.same(cached.argumentOffsets, plain.argumentOffsets, `${name}: argument offsets`);
      t.same(cached.attachments, plain.attachments, `${name}: attachments`);
    }
  }
});

t.test('a cached head is reused only when every byte of it matches', async (t) => {
  const cache = new PeekCache();
  const body = (method: string, path = 'org.example.Api') =>
    encodeRequestBody({ path, version: '1.0.0', method, parameterTypes: ['java.lang.String'], arguments: ['x'], attachments: {} });
  const first = peekRequest(body('getUser'), undefined, cache);
  const again = peekRequest(body('getUser'), undefined, cache);
  t.equal(again.path, first.path);
  t.equal(again.method, 'getUser');
  t.equal(peekRequest(body('getUsers'), undefined, cache).method, 'getUsers', 'a longer method with the same start is not taken for the cached one');
  t.equal(peekRequest(body('getUses'), undefined, cache).method, 'getUses', 'one byte different');
  t.equal(peekRequest(body('getUser', 'org.example.Apj'), undefined, cache).path, 'org.example.Apj', 'a different path');
  const truncated = body('getUser').subarray(0, 10);
  t.throws(() => peekRequest(truncated, undefined, cache), 'a body shorter than a cached head is read, and refused, on its own');
});

t.test('a cached attachment map is reused only for the same bytes after the same scanner state', async (t) => {
  const cache = new PeekCache();
  const body = (argument: unknown, attachments: Record<string, unknown>, types = ['java.lang.String']) =>
    encodeRequestBody({ path: 'org.example.Api', version: '1.0.0', method: 'm', parameterTypes: types, arguments: [argument], attachments });
  const first = peekRequest(body('a', { group: 'g1', timeout: 500 }), undefined, cache);
  t.equal(first.attachment('group'), 'g1');
  const second = peekRequest(body('another argument', { group: 'g1', timeout: 500 }), undefined, cache);
  t.equal(second.attachment('group'), 'g1', 'same attachments after a different argument');
  t.equal(second.attachment('timeout'), 500);
  t.equal(second.attachmentsEnd, second.body.length);
  t.same(second.attachments, { group: 'g1', timeout: 500 });
  const other = peekRequest(body('a', { group: 'g2', timeout: 500 }), undefined, cache);
  t.equal(other.attachment('group'), 'g2', 'a different value is read, not taken from the memo');
  const rewritten = rewriteAttachments(second, { group: 'g3' });
  t.equal(peekRequest(rewritten).attachment('group'), 'g3', 'a rewrite of a cached peek uses its own offsets');
  t.equal(peekRequest(rewritten).decodeArgument(0), 'another argument');
  // An argument that defines a class changes the state the attachments are walked from.
  const user = { $class: 'org.example.User', $: { name: 'n' } };
  const withObject = peekRequest(body(user, { group: 'g1', timeout: 500 }, ['org.example.User']), undefined, cache);
  t.equal(withObject.attachment('group'), 'g1');
  t.same(withObject.attachments, peekRequest(body(user, { group: 'g1', timeout: 500 }, ['org.example.User'])).attachments);
});

t.test('frames peeked where they lie in their chunk: one changed byte anywhere is never taken for the cached one', async (t) => {
  const base = encodeRequestBody({
    path: 'org.example.Api',
    version: '1.0.0',
    method: 'getUser',
    parameterTypes: ['long'],
    arguments: [{ $class: 'long', $: 7 }],
    attachments: { group: 'g1', timeout: 500, application: 'app', nested: { $class: 'java.util.HashMap', $: { a: 1 } }, zeros: '\0'.repeat(24) },
  });
  // What a peek says: refused (with the message), or every field; a read after the peek that
  // fails is recorded as such (it never should: the peek walked the whole body).
  const outcome = (run: () => ReturnType<typeof peekRequest>) => {
    let peek: ReturnType<typeof peekRequest>;
    try {
      peek = run();
    } catch (error) {
      return `refused: ${(error as Error).message}`;
    }
    const read = (get: () => unknown) => {
      try {
        return get();
      } catch (error) {
        return `failed after the peek: ${(error as Error).message}`;
      }
    };
    return JSON.stringify([
      peek.path,
      peek.version,
      peek.method,
      read(() => peek.dubboVersion),
      read(() => peek.parameterDescriptor),
      peek.argumentOffsets,
      peek.attachmentOffsets,
      ...['group', 'timeout', 'application', 'nested', 'zeros'].map((key) => read(() => peek.attachment(key))),
      read(() => peek.attachments),
      read(() => peek.decodeArgument(0)),
      peek.body.length,
    ]);
  };
  // The base, then every one-byte change of it, each followed by the base again, all in one chunk at an odd offset.
  const bodies: Buffer[] = [];
  // Flipping the top bit inside a run of zero bytes turns +0 into -0 where eight of them are compared as a float.
  for (const flip of [0x01, 0x80]) {
    for (let position = 0; position < base.length; position++) {
      const variant = Buffer.from(base);
      variant[position] = variant[position]! ^ flip;
      bodies.push(base, variant);
    }
  }
  const frames = bodies.map((body, i) => encodeRequest(BigInt(i), body));
  const chunk = Buffer.concat([Buffer.alloc(3), ...frames]).subarray(3);
  const decoder = new FrameDecoder();
  decoder.push(chunk);
  const cache = new PeekCache();
  let disagreements = 0;
  let hits = 0;
  for (let i = 0, frame = decoder.next(); frame !== undefined; i++, frame = decoder.next()) {
    const cached = outcome(() => peekRequestFrame(frame!, undefined, cache));
    const plain = outcome(() => peekRequest(bodies[i]!));
    const inFrame = outcome(() => peekRequestFrame(frame!));
    if (cached !== plain || inFrame !== plain) disagreements += 1;
    if (i % 2 === 0 && !cached.startsWith('refused')) hits += 1;
  }
  t.equal(
    disagreements,
    0,
    `${bodies.length} frames: a peek in the frame, cached or not, reads what a plain peek of the body reads (offsets, values and errors)`,
  );
  t.match(
    outcome(() => peekRequest(base)),
    /"nested"/,
    'a map attachment is seen (as an opaque range)',
  );
  t.equal(hits, 2 * base.length, 'the base is peeked after every variant');
  // A frame built by hand (not from a decoder) takes the body path, with the same answer.
  t.equal(
    outcome(() => peekRequestFrame({ header: undefined as never, bytes: frames[0]!, body: frames[0]!.subarray(16) }, undefined, cache)),
    outcome(() => peekRequest(base)),
  );
});
