// The demo's provider, called over a real socket with frames the protocol package encodes:
// values, business exceptions, an unknown service or method, a failing handler, heartbeats.
import t from 'tap';
import net from 'node:net';
import {
  FrameDecoder,
  ResponseStatus,
  decodeErrorMessage,
  decodeFrame,
  decodeResponseBody,
  encodeHeartbeatRequest,
  encodeRequest,
  encodeRequestBody,
  type Frame,
} from '@dubbo-mesh/protocol';
import { ProviderException, USER_SERVICE, makeUser, startDubboProvider, userValue } from '@dubbo-mesh/dubbo-provider';

/** One connection that sends frames and hands back the response to each request id. */
async function connect(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const decoder = new FrameDecoder();
  const waiting = new Map<bigint, (frame: Frame) => void>();
  socket.on('data', (chunk: Buffer) => {
    decoder.push(chunk);
    for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) {
      // A copy: the frame is a view of the chunk just read.
      const copy = decodeFrame(Buffer.from(frame.bytes));
      if (copy.kind === 'frame') waiting.get(frame.header.requestId)?.(copy.frame);
      waiting.delete(frame.header.requestId);
    }
  });
  const send = (id: bigint, bytes: Buffer) =>
    new Promise<Frame>((resolve) => {
      waiting.set(id, resolve);
      socket.write(bytes);
    });
  const call = (id: bigint, path: string, method: string, args: unknown[]) =>
    send(
      id,
      encodeRequest(
        id,
        encodeRequestBody({
          path,
          version: '1.0.0',
          method,
          parameterTypes: args.map(() => 'long'),
          arguments: args.map((a) => ({ $class: 'long', $: a })),
          attachments: { path, interface: path },
        }),
      ),
    );
  return { socket, send, call };
}

t.test('a provider answers values, exceptions, unknown services and methods, failures and heartbeats', async (t) => {
  const provider = await startDubboProvider({
    services: {
      [USER_SERVICE]: {
        getUser: ([id]) => userValue(makeUser(Number(id))),
        existUser: () => {
          throw new ProviderException('java.lang.IllegalStateException', 'no such user');
        },
        listUser: () => {
          throw new Error('database down');
        },
        createUser: () => null,
      },
    },
  });
  const client = await connect(provider.port);
  t.teardown(async () => {
    client.socket.destroy();
    await provider.close();
  });
  t.equal(provider.address, `127.0.0.1:${provider.port}`);

  const value = await client.call(1n, USER_SERVICE, 'getUser', [7]);
  t.equal(value.header.status, ResponseStatus.OK);
  const result = decodeResponseBody(value.body);
  t.equal(result.kind, 'value');
  t.equal((result as { value: { id: number } }).value.id, 7, "the handler's value, as a User bean");

  const nothing = decodeResponseBody((await client.call(2n, USER_SERVICE, 'createUser', [1])).body);
  t.equal(nothing.kind, 'null', 'null is a null result');

  const exception = await client.call(3n, USER_SERVICE, 'existUser', [1]);
  t.equal(exception.header.status, ResponseStatus.OK, 'a business exception is an OK response');
  t.equal(decodeResponseBody(exception.body).kind, 'exception');

  const unknownService = await client.call(4n, 'org.example.Nope', 'x', []);
  t.equal(unknownService.header.status, ResponseStatus.SERVICE_NOT_FOUND);
  t.equal(decodeErrorMessage(unknownService.body), 'service org.example.Nope not found on this provider');
  const unknownMethod = await client.call(5n, USER_SERVICE, 'deleteUser', []);
  t.equal(unknownMethod.header.status, ResponseStatus.SERVICE_NOT_FOUND);
  t.equal(decodeErrorMessage(unknownMethod.body), `method deleteUser of ${USER_SERVICE} not found on this provider`);

  const failed = await client.call(6n, USER_SERVICE, 'listUser', [1]);
  t.equal(failed.header.status, ResponseStatus.SERVICE_ERROR);
  t.equal(decodeErrorMessage(failed.body), 'handler failed: database down');

  const heartbeat = await client.send(9n, encodeHeartbeatRequest(9n));
  t.ok(heartbeat.header.event && !heartbeat.header.isRequest, 'a heartbeat is answered with an event response');
  t.equal(provider.requestCount, 6, 'heartbeats are not requests');
});

t.test('close ends the open connections and frees the port', async (t) => {
  const provider = await startDubboProvider({ services: {} });
  const client = await connect(provider.port);
  const closed = new Promise<void>((resolve) => client.socket.once('close', () => resolve()));
  await provider.close();
  await closed;
  const again = net.createServer();
  await new Promise<void>((resolve, reject) => again.once('error', reject).listen(provider.port, '127.0.0.1', () => resolve()));
  t.pass('the port can be bound again');
  await new Promise((resolve) => again.close(resolve));
});
