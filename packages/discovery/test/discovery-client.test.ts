import net from 'node:net';
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { DiscoveryClient, discoveryServiceDefinition } from '@dubbo-mesh/discovery';

t.test('with no control plane the client retries with full-jitter exponential backoff, capped', async (t) => {
  // A port that refuses: bind, note it, close.
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));

  const draws = [1, 1, 1, 1, 1, 0.5];
  const delays: number[] = [];
  const client = new DiscoveryClient({
    address: `127.0.0.1:${port}`,
    node: { id: 'n', role: 'proxy' },
    apply: () => {},
    initialBackoffMs: 10,
    maxBackoffMs: 40,
    random: () => draws.shift() ?? 1,
  });
  // The client's timers do not hold the process open (a proxy's listeners do): hold it here.
  const keepAlive = setInterval(() => {}, 1000);
  t.teardown(() => {
    clearInterval(keepAlive);
    client.close();
  });
  const done = new Promise<void>((resolve) =>
    client.on('disconnected', (_reason, delayMs) => {
      delays.push(delayMs);
      if (delays.length === 6) resolve();
    }),
  );
  client.start();
  await done;
  t.same(delays, [10, 20, 40, 40, 40, 20], 'the ceiling doubles from 10 ms to the 40 ms cap; the delay is random × ceiling');
  t.equal(client.acceptedVersion, '', 'nothing was accepted');
  t.equal(client.connected, false);
});

t.test(
  'a delta reconnect asks with no version and the resources it holds; an empty answer with the same version is "unchanged", ACKed and not applied again',
  async (t) => {
    type Request = { version_info: string; response_nonce: string; initial_resource_versions: Record<string, string>; error_detail: unknown };
    const resource = {
      kind: 'DubboService',
      namespace: 'default',
      name: 's',
      json: JSON.stringify({
        apiVersion: 'dubbo-mesh.io/v1alpha1',
        kind: 'DubboService',
        metadata: { name: 's' },
        spec: { interfaces: ['org.example.S'], endpoints: [{ address: '127.0.0.1:20880' }] },
      }),
      version: 'r1',
    };
    const requests: Request[][] = [];
    const streams: Array<grpc.ServerDuplexStream<Request, object>> = [];
    const server = new grpc.Server();
    server.addService(discoveryServiceDefinition(), {
      DeltaSnapshots: (stream: grpc.ServerDuplexStream<Request, object>) => {
        const seen: Request[] = [];
        requests.push(seen);
        streams.push(stream);
        stream.on('data', (request: Request) => {
          seen.push(request);
          if (request.response_nonce !== '') return;
          // First stream: the snapshot. A reconnect: nothing changed since what it holds.
          const first = requests.length === 1;
          stream.write({ version_info: 'v1', nonce: String(requests.length), resources: first ? [resource] : [], removed_resources: [] });
        });
      },
      StreamSnapshots: (stream: grpc.ServerDuplexStream<object, object>) => stream.end(),
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
    );
    const applied: string[] = [];
    const client = new DiscoveryClient({
      address: `127.0.0.1:${port}`,
      node: { id: 'n', role: 'proxy' },
      apply: (_config, version) => applied.push(version),
      initialBackoffMs: 1,
      random: () => 0,
    });
    t.teardown(() => {
      client.close();
      server.forceShutdown();
    });
    const acked = new Promise<string>((resolve) => client.once('ack', resolve));
    client.start();
    t.equal(await acked, 'v1');
    // The server ends the stream; the client reconnects.
    const unchanged = new Promise<string>((resolve) => client.once('unchanged', resolve));
    streams[0]!.end();
    t.equal(await unchanged, 'v1', 'the reconnect is confirmed unchanged');
    t.same(applied, ['v1'], 'and nothing was applied again');
    const again = requests[1]!;
    t.equal(again[0]!.version_info, '', 'the reconnect asks with no version');
    t.same(again[0]!.initial_resource_versions, { 'DubboService/default/s': 'r1' }, 'and the resources it holds');
    // The ACK of the unchanged answer reaches the server (its nonce, the version held).
    await new Promise<void>((resolve) => (again.length > 1 ? resolve() : streams[1]!.once('data', () => resolve())));
    t.match(again[1], { version_info: 'v1', response_nonce: '2', error_detail: null });
    t.equal(client.acceptedVersion, 'v1');
  },
);
