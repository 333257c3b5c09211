import t from 'tap';
import {
  ErrorCode,
  ResponseFlag,
  SerializationId,
  decodeErrorMessage,
  decodeEventData,
  decodeFrame,
  decodeResponseBody,
  encodeErrorMessage,
  encodeFrame,
  encodeHeartbeatRequest,
  encodeHeartbeatResponse,
  encodeReadonlyEvent,
  encodeResponseBody,
  heartbeatResponseFor,
  isExceptionFlag,
  isHeartbeat,
  isReadonlyEvent,
  javaException,
  peekResponseFlag,
  type DubboResult,
  type Frame,
} from '@dubbo-mesh/protocol';

function frameOf(bytes: Buffer): Frame {
  const result = decodeFrame(bytes);
  if (result.kind !== 'frame') throw new Error('incomplete frame');
  return result.frame;
}

t.test('heartbeat bytes are exactly what Java Dubbo and apache-dubbo-js send', async (t) => {
  t.equal(encodeHeartbeatRequest(7n).toString('hex'), 'dabbe200' + '0000000000000007' + '00000001' + '4e');
  t.equal(encodeHeartbeatResponse(7n).toString('hex'), 'dabb2214' + '0000000000000007' + '00000001' + '4e');
  const request = frameOf(encodeHeartbeatRequest(7n));
  t.ok(isHeartbeat(request));
  t.notOk(isReadonlyEvent(request));
  t.equal(decodeEventData(request), null);
  t.ok(heartbeatResponseFor(request).equals(encodeHeartbeatResponse(7n)));
  const kryo = frameOf(
    encodeFrame({ isRequest: true, twoWay: true, event: true, serializationId: SerializationId.KRYO, requestId: 3n, body: Buffer.from([0x00]) }),
  );
  t.ok(isHeartbeat(kryo), 'an event in another serialization is a heartbeat');
  t.equal(frameOf(heartbeatResponseFor(kryo)).header.serializationId, SerializationId.KRYO, 'answered in its own serialization');
  t.ok(frameOf(heartbeatResponseFor(kryo)).body.equals(Buffer.from([0x00])), 'with its own null');
  t.throws(() => decodeEventData(kryo), {
    code: ErrorCode.UNSUPPORTED_SERIALIZATION,
    message: 'serialization KRYO (id 8) is not decoded; only Hessian2 (id 2) is',
  });
});

t.test('READONLY event', async (t) => {
  const bytes = encodeReadonlyEvent(11n);
  t.equal(bytes.toString('hex'), 'dabba200' + '000000000000000b' + '00000002' + '0152');
  const frame = frameOf(bytes);
  t.ok(isReadonlyEvent(frame));
  t.notOk(isHeartbeat(frame));
  t.equal(decodeEventData(frame), 'R');
  const request = frameOf(encodeFrame({ isRequest: true, twoWay: true, requestId: 1n, body: Buffer.from([0x01, 0x52]) }));
  t.notOk(isReadonlyEvent(request), 'a normal request is no event');
});

t.test('response bodies of all six flags round-trip', async (t) => {
  const cases: Array<[DubboResult, number]> = [
    [{ kind: 'exception', exception: javaException('java.lang.IllegalStateException', 'boom') }, ResponseFlag.RESPONSE_WITH_EXCEPTION],
    [{ kind: 'value', value: 'hello' }, ResponseFlag.RESPONSE_VALUE],
    [{ kind: 'null' }, ResponseFlag.RESPONSE_NULL_VALUE],
    [
      { kind: 'exception', exception: javaException('org.example.NoSuchUserException', 'no user 9'), attachments: { a: '1' } },
      ResponseFlag.RESPONSE_WITH_EXCEPTION_WITH_ATTACHMENTS,
    ],
    [{ kind: 'value', value: { $class: 'long', $: 123 }, attachments: { traceId: 'abc' } }, ResponseFlag.RESPONSE_VALUE_WITH_ATTACHMENTS],
    [{ kind: 'null', attachments: {} }, ResponseFlag.RESPONSE_NULL_VALUE_WITH_ATTACHMENTS],
  ];
  for (const [result, flag] of cases) {
    const body = encodeResponseBody(result);
    t.equal(peekResponseFlag(body), flag, `flag ${flag} peeked`);
    t.equal(isExceptionFlag(peekResponseFlag(body)), result.kind === 'exception');
    const decoded = decodeResponseBody(body);
    t.equal(decoded.flag, flag);
    t.equal(decoded.kind, result.kind);
    if (result.attachments) t.same(decoded.attachments, result.attachments);
    else t.equal(decoded.attachments, undefined);
    if (decoded.kind === 'exception') {
      t.type(decoded.exception, Error);
      t.match((decoded.exception as Error).message, /boom|no user 9/);
    }
  }
  t.equal((decodeResponseBody(encodeResponseBody({ kind: 'value', value: 'hello' })) as { value: unknown }).value, 'hello');
});

t.test('bad response bodies fail with typed errors', async (t) => {
  t.throws(() => peekResponseFlag(Buffer.alloc(0)), { code: ErrorCode.MALFORMED_BODY });
  t.throws(() => peekResponseFlag(Buffer.from([0x96])), { code: ErrorCode.MALFORMED_BODY, message: 'unknown response flag 6, expected 0 to 5' });
  t.throws(() => peekResponseFlag(Buffer.from('S')), { code: ErrorCode.HESSIAN_DECODE, message: /expected an int/ });
  t.throws(() => decodeResponseBody(Buffer.from([0x91])), { code: ErrorCode.TRUNCATED }, 'flag VALUE with no value');
  t.throws(() => decodeResponseBody(Buffer.from([0x94, 0x91])), { code: ErrorCode.TRUNCATED }, 'attachments missing');
});

t.test('error messages', async (t) => {
  t.equal(decodeErrorMessage(encodeErrorMessage('Service not found: x')), 'Service not found: x');
  t.equal(decodeErrorMessage(Buffer.from('raw text from a non-Java peer')), 'raw text from a non-Java peer');
  t.equal(decodeErrorMessage(Buffer.alloc(0)), '');
  t.equal(decodeErrorMessage(encodeErrorMessage('y'.repeat(40000))), 'y'.repeat(40000), 'long messages are chunked and read back');
});
