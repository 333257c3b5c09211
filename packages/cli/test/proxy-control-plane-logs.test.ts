// What a `--control-plane` proxy logs, as a user reads it: listening but not ready before its
// first snapshot, ready after, a reconnect that finds the snapshot unchanged, and a rejected
// snapshot when none was accepted yet. Real processes; a fake control plane only where the
// real one cannot misbehave (it validates what it sends).
import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { discoveryServiceDefinition } from '@dubbo-mesh/discovery';
import { startChild } from './fixtures/child.js';

/** A free port: bound on :0, then released for a process started next. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

t.test('a proxy says what is true: listening but not ready before its first snapshot, ready after, and a reconnect with the snapshot unchanged', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-cp-cli-'));
  const file = path.join(dir, 'mesh.yaml');
  await writeFile(
    file,
    `apiVersion: dubbo-mesh.io/v1alpha1\nkind: DubboService\nmetadata: {name: s}\nspec:\n  interfaces: [org.example.S]\n  endpoints: [{address: 127.0.0.1:20880}]\n`,
  );
  const grpcAddress = `127.0.0.1:${await freePort()}`;
  const children: Array<ReturnType<typeof startChild>> = [];
  t.teardown(async () => {
    for (const child of children) child.process.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });
  const proxy = startChild(['proxy', '--node', 'early', '--control-plane', grpcAddress, '--outbound', '127.0.0.1:0', '--admin', '127.0.0.1:0']);
  children.push(proxy);
  const listening = await proxy.waitFor((l) => l.msg === 'proxy listening; waiting for its first snapshot from the control plane');
  const unreachable = await proxy.waitFor(
    (l) => l.msg === 'control plane unreachable; no snapshot yet: calls are answered 70 (SERVICE_ERROR) until one arrives',
  );
  t.equal(unreachable.version, null);
  const notReady = await fetch(`http://${listening.admin as string}/ready`);
  t.same([notReady.status, await notReady.json()], [503, { ready: false, version: null }], '/ready is 503 before the first snapshot');
  t.notOk(
    proxy.lines.some((l) => l.msg === 'proxy ready' || /serving the last snapshot|stays in force/.test(String(l.msg))),
    'nothing claims a snapshot it does not have',
  );

  const first = startChild(['control-plane', '--config', file, '--grpc', grpcAddress, '--admin', '127.0.0.1:0']);
  children.push(first);
  const cpReady = await first.waitFor((l) => l.msg === 'control plane ready');
  const ready = await proxy.waitFor((l) => l.msg === 'proxy ready');
  t.equal(ready.version, cpReady.version, 'ready once the first snapshot is applied');
  t.equal((await fetch(`http://${listening.admin as string}/ready`)).status, 200);

  // The control plane restarts with the same config: the proxy reconnects and says nothing changed.
  first.process.kill('SIGTERM');
  t.equal(await first.exited, 0);
  const away = await proxy.waitFor((l) => l.msg === 'control plane unreachable; serving the last snapshot');
  t.equal(away.version, cpReady.version);
  const second = startChild(['control-plane', '--config', file, '--grpc', grpcAddress, '--admin', '127.0.0.1:0']);
  children.push(second);
  const unchanged = await proxy.waitFor((l) => l.msg === 'the snapshot is unchanged since before the reconnect; it stays in force');
  t.equal(unchanged.version, cpReady.version);
  t.equal(proxy.lines.filter((l) => l.msg === 'connected to the control plane').length, 2, 'the reconnect is logged');
  t.equal(proxy.lines.filter((l) => l.msg === 'applied a snapshot from the control plane').length, 1, 'and nothing was applied again');
  proxy.process.kill('SIGTERM');
  t.equal(await proxy.exited, 0);
  second.process.kill('SIGTERM');
  t.equal(await second.exited, 0);
});

t.test('a snapshot rejected before any was accepted says that calls are answered 70, not that a previous one stays', async (t) => {
  // A control plane that sends what no proxy accepts (the real one validates before it sends).
  const server = new grpc.Server();
  server.addService(discoveryServiceDefinition(), {
    DeltaSnapshots: (stream: grpc.ServerDuplexStream<{ response_nonce: string }, object>) => {
      stream.on('data', (request: { response_nonce: string }) => {
        if (request.response_nonce !== '') return; // the NACK
        stream.write({
          version_info: 'bad-1',
          nonce: '1',
          removed_resources: [],
          resources: [{ kind: 'DubboService', namespace: 'default', name: 'x', json: '{"kind":"DubboService"}', version: 'v1' }],
        });
      });
    },
    StreamSnapshots: (stream: grpc.ServerDuplexStream<object, object>) => stream.end(),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  const proxy = startChild(['proxy', '--node', 'n1', '--control-plane', `127.0.0.1:${port}`, '--outbound', '127.0.0.1:0', '--admin', '127.0.0.1:0']);
  t.teardown(() => {
    proxy.process.kill('SIGKILL');
    server.forceShutdown();
  });
  const rejected = await proxy.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('rejected a snapshot from the control plane'));
  t.equal(rejected.msg, 'rejected a snapshot from the control plane; no snapshot yet: calls are answered 70 (SERVICE_ERROR) until a valid one arrives');
  t.equal(rejected.version, 'bad-1');
  t.ok((rejected.errors as string[]).length > 0, 'with the errors');
  t.notOk(
    proxy.lines.some((l) => l.msg === 'proxy ready'),
    'and it is not ready',
  );
});
