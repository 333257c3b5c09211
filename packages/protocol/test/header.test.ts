import t from 'tap';
import {
  EncodeError,
  ErrorCode,
  Flag,
  ResponseStatus,
  SerializationId,
  encodeErrorResponse,
  decodeErrorMessage,
  decodeFrame,
  isKnownResponseStatus,
  readHeader,
  readRequestId,
  requestIdHigh,
  requestIdLow,
  responseStatusName,
  serializationName,
  writeHeader,
  writeRequestId,
  writeRequestIdWords,
} from '@dubbo-mesh/protocol';

t.test('request header bytes are exact', async (t) => {
  const header = writeHeader({ isRequest: true, twoWay: true, serializationId: SerializationId.HESSIAN2, requestId: 1n, bodyLength: 0x0102 });
  t.equal(header.toString('hex'), 'dabbc2000000000000000001' + '00000102', 'flag 0xc2 as apache-dubbo-js sends');
  const event = writeHeader({ isRequest: true, twoWay: true, event: true, serializationId: 2, requestId: 0x1122334455667788n, bodyLength: 1 });
  t.equal(event.toString('hex'), 'dabbe200112233445566778800000001');
  const oneWay = writeHeader({ isRequest: true, serializationId: 2, requestId: 9n, bodyLength: 0 });
  t.equal(oneWay[2], 0x82);
});

t.test('response header bytes are exact', async (t) => {
  const ok = writeHeader({ isRequest: false, status: ResponseStatus.OK, serializationId: 2, requestId: 42n, bodyLength: 3 });
  t.equal(ok.toString('hex'), 'dabb0214000000000000002a00000003');
  const twoWayIgnored = writeHeader({ isRequest: false, twoWay: true, serializationId: 2, status: 20, requestId: 1n, bodyLength: 0 });
  t.equal(twoWayIgnored[2], 0x02, 'two-way is a request flag only');
});

t.test('headers round-trip, ids included', async (t) => {
  for (const requestId of [0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 9007199254740993n]) {
    const bytes = writeHeader({ isRequest: true, twoWay: true, serializationId: SerializationId.KRYO, requestId, bodyLength: 7 });
    const header = readHeader(bytes);
    t.same(header, { isRequest: true, twoWay: true, event: false, serializationId: 8, status: 0, requestId, bodyLength: 7 });
    writeRequestId(bytes, 77n);
    t.equal(readRequestId(bytes), 77n, 'id rewritten in place');
  }
  t.equal(Flag.SERIALIZATION_MASK, 0x1f);
});

t.test('writeHeader refuses values that do not fit', async (t) => {
  t.throws(() => writeHeader({ isRequest: true, serializationId: 32, requestId: 1n, bodyLength: 0 }), EncodeError);
  t.throws(() => writeHeader({ isRequest: false, status: 256, serializationId: 2, requestId: 1n, bodyLength: 0 }), { code: ErrorCode.ENCODE });
  t.throws(() => writeHeader({ isRequest: false, serializationId: 2, requestId: 1n, bodyLength: -1 }), { code: ErrorCode.ENCODE });
});

t.test('every Dubbo status code is known by name and survives an error response', async (t) => {
  const expected: Record<number, string> = {
    20: 'OK',
    25: 'SERIALIZATION_ERROR',
    30: 'CLIENT_TIMEOUT',
    31: 'SERVER_TIMEOUT',
    35: 'CHANNEL_INACTIVE',
    40: 'BAD_REQUEST',
    50: 'BAD_RESPONSE',
    60: 'SERVICE_NOT_FOUND',
    70: 'SERVICE_ERROR',
    80: 'SERVER_ERROR',
    90: 'CLIENT_ERROR',
    100: 'SERVER_THREADPOOL_EXHAUSTED_ERROR',
  };
  t.same(
    Object.values(ResponseStatus).sort((a, b) => a - b),
    Object.keys(expected).map(Number),
  );
  for (const [code, name] of Object.entries(expected)) {
    const status = Number(code);
    t.equal(responseStatusName(status), name);
    t.ok(isKnownResponseStatus(status));
    const frame = encodeErrorResponse(5n, status, `cause of ${name}: 中文`);
    const decoded = decodeFrame(frame);
    if (decoded.kind !== 'frame') throw new Error('incomplete');
    t.equal(decoded.frame.header.status, status);
    t.equal(decoded.frame.header.requestId, 5n);
    t.equal(decodeErrorMessage(decoded.frame.body), `cause of ${name}: 中文`);
  }
  t.equal(responseStatusName(21), 'UNKNOWN(21)');
  t.notOk(isKnownResponseStatus(21));
});

t.test('every serialization id is known by name', async (t) => {
  const expected: Record<number, string> = {
    2: 'HESSIAN2',
    3: 'JAVA',
    4: 'COMPACTED_JAVA',
    6: 'FASTJSON',
    7: 'NATIVE_JAVA',
    8: 'KRYO',
    9: 'FST',
    10: 'NATIVE_HESSIAN',
    11: 'AVRO',
    12: 'PROTOSTUFF',
    16: 'GSON',
    21: 'PROTOBUF_JSON',
    22: 'PROTOBUF',
    23: 'FASTJSON2',
  };
  for (const [id, name] of Object.entries(expected)) t.equal(serializationName(Number(id)), name);
  t.equal(serializationName(31), 'UNKNOWN(31)');
});

t.test('request ids as two 32-bit words agree with the BigInt reader and writer', async (t) => {
  const header = writeHeader({ isRequest: true, twoWay: true, serializationId: 2, requestId: 0n, bodyLength: 0 });
  for (const id of [0n, 1n, 0xffffffffn, 0x100000000n, 0x7fffffffffffffffn, -1n, -0x8000000000000000n, 0x80000000_80000001n - (1n << 64n)]) {
    writeRequestId(header, id);
    const high = requestIdHigh(header);
    const low = requestIdLow(header);
    t.ok(high >= 0 && high <= 0xffffffff && low >= 0 && low <= 0xffffffff, `${id}: unsigned words`);
    t.equal(BigInt.asIntN(64, (BigInt(high) << 32n) | BigInt(low)), id, `${id}: read`);
    const other = Buffer.alloc(16);
    writeRequestIdWords(other, high, low);
    t.equal(readRequestId(other), id, `${id}: written`);
    t.same(other.subarray(0, 4), Buffer.alloc(4), 'nothing outside the id is touched');
  }
});
