// Active health checks: an instance that accepts connections but never answers is found by
// heartbeats before any call is sent to it, and comes back when it answers again.
import t from 'tap';
import net from 'node:net';
import { buildConfig, startMesh } from './fixtures/mesh.js';
import { userClient } from './fixtures/consumer.js';
import { USER_SERVICE, eventually } from '@dubbo-mesh/test-support';

t.test('heartbeats take a silent instance out of rotation and bring it back', async (t) => {
  const mesh = await startMesh([
    { name: 'v1-a', version: 'v1' },
    { name: 'v1-b', version: 'v1' },
  ]);
  // A black hole: accepts, reads, never answers — no call and no heartbeat gets a reply.
  const silent = new Set<net.Socket>();
  let answering = false;
  const blackHole = net.createServer((socket) => {
    silent.add(socket);
    socket.on('data', (chunk: Buffer) => {
      // When "recovered", answer heartbeats (event flag set) with a heartbeat response.
      if (answering && (chunk[2]! & 0x20) !== 0) {
        const reply = Buffer.from('dabb2214000000000000000000000001' + '4e', 'hex');
        chunk.copy(reply, 4, 4, 12);
        socket.write(reply);
      }
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', () => resolve()));
  const blackHolePort = (blackHole.address() as net.AddressInfo).port;
  const client = userClient(mesh.outboundAddress);
  t.teardown(async () => {
    client.close();
    for (const socket of silent) socket.destroy();
    blackHole.close();
    await mesh.close();
  });

  mesh.outbound.applySnapshot(
    buildConfig([
      {
        apiVersion: 'dubbo-mesh.io/v1alpha1',
        kind: 'DubboService',
        metadata: { name: 'user-provider' },
        spec: {
          interfaces: [USER_SERVICE],
          endpoints: [...mesh.instances.map((i) => ({ address: i.inboundAddress })), { address: `127.0.0.1:${blackHolePort}` }],
        },
      },
      {
        apiVersion: 'dubbo-mesh.io/v1alpha1',
        kind: 'DubboPolicy',
        metadata: { name: 'user-provider' },
        // A timeout far above what a loaded machine takes to answer a heartbeat over loopback.
        spec: { service: 'user-provider', healthCheck: { interval: '50ms', timeout: '1s', unhealthyThreshold: 2, healthyThreshold: 1 } },
      },
      {
        apiVersion: 'dubbo-mesh.io/v1alpha1',
        kind: 'DubboRoute',
        metadata: { name: 'r' },
        spec: { hosts: [USER_SERVICE], routes: [{ destinations: [{ service: 'user-provider' }], timeout: '300ms', retries: { attempts: 0 } }] },
      },
    ]),
    'health',
  );
  const endpoint = () => mesh.outbound.clusters.allEndpoints().find((e) => e.port === blackHolePort)!;
  await eventually(() => !endpoint().healthy, 'the silent instance to be marked unhealthy');
  t.pass('the silent instance is marked unhealthy by heartbeats alone');
  t.ok(
    mesh.outbound.clusters
      .allEndpoints()
      .filter((e) => e.port !== blackHolePort)
      .every((e) => e.healthy),
    'the answering ones stay healthy',
  );

  const results = await Promise.all(Array.from({ length: 60 }, (_, i) => client.getUser(i)));
  t.equal(results.filter((r) => r.err !== null).length, 0, 'no call went to it (none timed out, with retries off)');

  answering = true;
  await eventually(() => endpoint().healthy, 'the instance to be healthy again');
  t.pass('answered heartbeats bring it back');
});
