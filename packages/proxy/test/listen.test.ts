// A listen address a user got wrong: start() says which listener and why, and leaves nothing bound.
import net from 'node:net';
import t from 'tap';
import { DubboProxy, ListenError } from '@dubbo-mesh/proxy';

t.test('an inbound address in use rejects with a ListenError naming the listener; the outbound one is released', async (t) => {
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => taken.close(() => resolve())));
  const port = (taken.address() as net.AddressInfo).port;
  const proxy = new DubboProxy({
    node: 'n',
    role: 'proxy',
    outbound: { host: '127.0.0.1', port: 0 },
    inbound: { host: '127.0.0.1', port },
    inboundTarget: { host: '127.0.0.1', port: 1 },
  });
  const error = await proxy.start().then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(error instanceof ListenError, 'a ListenError');
  const listenError = error as ListenError;
  t.equal(listenError.listener, 'inbound');
  t.equal(listenError.code, 'EADDRINUSE');
  t.equal(listenError.message, `cannot listen on 127.0.0.1:${port}: address already in use`);
  t.same(proxy.addresses(), {}, 'the outbound listener bound before it is closed again');
  t.equal(proxy.ready, false);
});
