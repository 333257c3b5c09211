import t from 'tap';
import { ErrorCode, HessianScanner, decodeRequestBody, encodeRequestBody, peekRequest } from '@dubbo-mesh/protocol';

const prefix = encodeRequestBody({ path: 'p', method: 'm', parameterTypes: ['java.lang.Object'], arguments: [null] });
// The body up to (not including) the single argument `N` and its attachments map.
const head = prefix.subarray(0, peekRequest(prefix).argumentsOffset);

function withArgument(argument: Buffer): Buffer {
  return Buffer.concat([head, argument, Buffer.from([0x48, 0x5a])]);
}

t.test('a decoded map key __proto__ never changes a prototype', async (t) => {
  const polluting = encodeRequestBody({
    path: 'p',
    method: 'm',
    parameterTypes: ['java.util.Map'],
    arguments: [{ $class: 'java.util.HashMap', $: JSON.parse('{"__proto__": {"polluted": true}, "ok": 1}') }],
    attachments: JSON.parse('{"__proto__": "x"}'),
  });
  const decoded = decodeRequestBody(polluting);
  const map = decoded.arguments[0] as Record<string, unknown>;
  t.equal(Object.getPrototypeOf(map), Object.prototype);
  t.equal((map as { polluted?: unknown }).polluted, undefined);
  t.same(Object.keys(map), ['__proto__', 'ok'], 'kept as an own key');
  t.equal(({} as { polluted?: unknown }).polluted, undefined);
  t.equal(Object.getPrototypeOf(peekRequest(polluting).attachments), null);
  t.equal(peekRequest(polluting).attachments['__proto__'], 'x');
  t.equal(Object.getPrototypeOf(decoded.attachments), Object.prototype);
});

t.test('nesting deeper than the limit is refused', async (t) => {
  const deep = withArgument(Buffer.concat([Buffer.alloc(100, 0x79), Buffer.from([0x4e])])); // 100 nested one-element lists
  t.throws(() => peekRequest(deep), { code: ErrorCode.HESSIAN_LIMIT, message: /nesting deeper than 64/ });
  t.throws(() => decodeRequestBody(deep), { code: ErrorCode.HESSIAN_LIMIT }, 'full decode checks first');
  const ok = withArgument(Buffer.concat([Buffer.alloc(60, 0x79), Buffer.from([0x4e])]));
  t.equal(peekRequest(ok).parameterCount, 1, '60 levels are fine');
  const deepUnbounded = withArgument(Buffer.concat([Buffer.alloc(100000, 0x57), Buffer.from([0x4e])]));
  t.throws(() => peekRequest(deepUnbounded), { code: ErrorCode.HESSIAN_LIMIT }, 'no stack overflow');
});

t.test('declared lengths beyond the bytes there fail at once', async (t) => {
  const hugeList = withArgument(Buffer.from([0x58, 0x49, 0x7f, 0xff, 0xff, 0xff, 0x4e]));
  t.throws(() => peekRequest(hugeList), { code: ErrorCode.HESSIAN_LIMIT, message: 'list of 2147483647 elements exceeds the limit of 4194304' });
  const longerThanBytes = withArgument(Buffer.from([0x58, 0xcb, 0xe8, 0x4e]));
  t.throws(() => peekRequest(longerThanBytes), { code: ErrorCode.TRUNCATED }, 'a list of 1,000 in 3 bytes');
  const hugeClass = withArgument(Buffer.from([0x43, 0x01, 0x41, 0xcb, 0xe8, 0x4e]));
  t.throws(() => peekRequest(hugeClass), { code: ErrorCode.TRUNCATED }, 'a class of 1,000 fields in 3 bytes');
  const negative = withArgument(Buffer.from([0x58, 0x8f]));
  t.throws(() => peekRequest(negative), { code: ErrorCode.HESSIAN_DECODE, message: /negative list length -1/ });
  const limited = new HessianScanner({ maxDepth: 8, maxCollectionLength: 2 }).reset(Buffer.from([0x7b, 0x91, 0x91, 0x91]));
  t.throws(() => limited.skipValue(), { code: ErrorCode.HESSIAN_LIMIT }, 'an untyped fixed list of 3 > limit 2');
  const unterminated = new HessianScanner({ maxDepth: 8, maxCollectionLength: 2 }).reset(Buffer.from([0x57, 0x91, 0x91, 0x91, 0x5a]));
  t.throws(() => unterminated.skipValue(), { code: ErrorCode.HESSIAN_LIMIT });
});

t.test('references must name something that exists', async (t) => {
  t.throws(() => peekRequest(withArgument(Buffer.from([0x51, 0x90]))), {
    code: ErrorCode.HESSIAN_DECODE,
    message: /back-reference 0 .* names no earlier value/,
  });
  t.throws(() => peekRequest(withArgument(Buffer.from([0x60]))), { code: ErrorCode.HESSIAN_DECODE, message: /names class definition 0, but 0 are defined/ });
  t.throws(() => peekRequest(withArgument(Buffer.from([0x70, 0x91]))), { code: ErrorCode.HESSIAN_DECODE, message: /type reference 1/ });
  t.throws(() => decodeRequestBody(withArgument(Buffer.from([0x60]))), { code: ErrorCode.HESSIAN_DECODE });
  const selfReference = withArgument(Buffer.from([0x57, 0x51, 0x90, 0x5a]));
  t.equal(peekRequest(selfReference).parameterCount, 1, 'a list may refer to itself');
});

t.test('strings: bad UTF-8 and split sequences', async (t) => {
  t.throws(() => peekRequest(withArgument(Buffer.from([0x01, 0xff]))), { code: ErrorCode.HESSIAN_DECODE, message: /bad UTF-8 lead byte 0xff/ });
  t.throws(() => peekRequest(withArgument(Buffer.from([0x02, 0xe4, 0xb8]))), { code: ErrorCode.HESSIAN_DECODE, message: /bad UTF-8 continuation byte 0x48/ });
  t.throws(() => peekRequest(withArgument(Buffer.from([0x01, 0xf0, 0x9f, 0x98, 0x80]))), { code: ErrorCode.HESSIAN_DECODE, message: /splits a 4-byte/ });
  const surrogates = Buffer.from([0x02, 0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80]); // 😀 as Java writes it
  const scanner = new HessianScanner().reset(surrogates);
  t.equal(scanner.readString(), '😀', 'surrogate pairs written one unit at a time decode');
});

t.test('every reserved code is refused', async (t) => {
  for (const code of [0x40, 0x45, 0x47, 0x50, 0x5a]) {
    t.throws(() => peekRequest(withArgument(Buffer.from([code]))), { code: ErrorCode.HESSIAN_DECODE }, `0x${code.toString(16)}`);
  }
});
