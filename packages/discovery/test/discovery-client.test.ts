import net from 'node:net';
import t from 'tap';
import { DiscoveryClient } from '@dubbo-mesh/discovery';

t.test('with no control plane the client retries with full-jitter exponential backoff, capped', async (t) => {
  // A port that refuses: bind, note it, close.
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));

  const draws = [1, 1, 1, 1, 1, 0.5];
  const delays: number[] = [];
  const client = new DiscoveryClient({
    address: `127.0.0.1:${port}`, node: { id: 'n', role: 'proxy' }, apply: () => {},
    initialBackoffMs: 10, maxBackoffMs: 40, random: () => draws.shift() ?? 1,
  });
  // The client's timers do not hold the process open (a proxy's listeners do): hold it here.
  const keepAlive = setInterval(() => {}, 1000);
  t.teardown(() => {
    clearInterval(keepAlive);
    client.close();
  });
  const done = new Promise<void>((resolve) => client.on('disconnected', (_reason, delayMs) => {
    delays.push(delayMs);
    if (delays.length === 6) resolve();
  }));
  client.start();
  await done;
  t.same(delays, [10, 20, 40, 40, 40, 20], 'the ceiling doubles from 10 ms to the 40 ms cap; the delay is random × ceiling');
  t.equal(client.acceptedVersion, '', 'nothing was accepted');
  t.equal(client.connected, false);
});
