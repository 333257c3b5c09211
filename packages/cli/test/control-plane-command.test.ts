// `dubbo-mesh control-plane` and `dubbo-mesh proxy --control-plane` as users run them: two
// processes talking gRPC, a real provider and the real apache-dubbo-js consumer.
import t from 'tap';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import dubboJs from 'apache-dubbo-js';
import { USER_SERVICE, closeDirectlyDubbo, makeUser, startTestProvider, userValue } from '@dubbo-mesh/test-support';
import * as grpc from '@grpc/grpc-js';
import { discoveryServiceDefinition } from '@dubbo-mesh/discovery';
import { startChild, until } from './fixtures/child.js';

const { DirectlyDubbo, java } = dubboJs as unknown as {
  DirectlyDubbo: { from(options: object): { proxyService(options: object): Record<string, (...args: unknown[]) => Promise<{ res: unknown; err: Error | null }>> } };
  java: { long(value: number): unknown };
};

t.test('a proxy takes its config from the control plane; the admin API shows both sides', async (t) => {
  const provider = await startTestProvider({ services: { [USER_SERVICE]: { getUser: ([id]) => userValue(makeUser(id as number)) } } });
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-cp-cli-'));
  const file = path.join(dir, 'mesh.yaml');
  await writeFile(file, `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: user-provider}
spec:
  interfaces: [${USER_SERVICE}]
  endpoints: [{address: 127.0.0.1:${provider.port}}]
`);
  const controlPlane = startChild(['control-plane', '--config', file, '--grpc', '127.0.0.1:0', '--admin', '127.0.0.1:0']);
  t.teardown(async () => {
    controlPlane.process.kill('SIGKILL');
    await provider.close();
    await rm(dir, { recursive: true, force: true });
  });
  const cpReady = await controlPlane.waitFor((l) => l.msg === 'control plane ready');
  const proxy = startChild(['proxy', '--node', 'consumer-7', '--labels', 'app=shop', '--control-plane', cpReady.grpc as string, '--outbound', '127.0.0.1:0', '--admin', '127.0.0.1:0']);
  t.teardown(() => proxy.process.kill('SIGKILL'));
  const listening = await proxy.waitFor((l) => l.msg === 'proxy listening; waiting for its first snapshot from the control plane');
  const applied = await proxy.waitFor((l) => l.msg === 'applied a snapshot from the control plane');
  t.equal(applied.version, cpReady.version, 'the proxy applied the control plane\'s version');
  t.equal((await proxy.waitFor((l) => l.msg === 'proxy ready')).version, cpReady.version, 'and says it is ready');

  const dubbo = DirectlyDubbo.from({ dubboAddress: `127.0.0.1:${(listening.listeners as { outbound: { port: number } }).outbound.port}`, dubboVersion: '2.0.2', dubboInvokeTimeout: 5 });
  t.teardown(() => closeDirectlyDubbo(dubbo));
  const users = dubbo.proxyService({ dubboInterface: USER_SERVICE, version: '1.0.0', methods: { getUser: (id: number) => [java.long(id)] } });
  t.equal(((await users.getUser!(5)).res as { id: number }).id, 5, 'a call routed by the pushed snapshot');

  const admin = `http://${cpReady.admin as string}`;
  // The proxy logs before its ACK has reached the control plane: wait for the control plane's side.
  await until(async () => /dubbo_mesh_cp_acks_total 1/.test(await (await fetch(`${admin}/metrics`)).text()));
  const proxies = await (await fetch(`${admin}/api/v1/proxies`)).json() as Array<{ node: { id: string; labels: Record<string, string> }; ackedVersion: string; lastNack: unknown }>;
  t.equal(proxies.length, 1);
  t.equal(proxies[0]!.node.id, 'consumer-7');
  t.same(proxies[0]!.node.labels, { app: 'shop' });
  t.equal(proxies[0]!.ackedVersion, cpReady.version);
  t.equal(proxies[0]!.lastNack, null);
  t.same(await (await fetch(`${admin}/api/v1/snapshots`)).json(), [{ node: 'consumer-7', version: cpReady.version, counts: { services: 1, endpoints: 1, routes: 0, policies: 0, mappings: 1 } }]);
  const one = await (await fetch(`${admin}/api/v1/snapshots/consumer-7`)).json() as { resources: Array<{ kind: string }> };
  t.equal(one.resources[0]!.kind, 'DubboService');
  t.equal((await fetch(`${admin}/api/v1/snapshots/nobody`)).status, 404);
  t.same(await (await fetch(`${admin}/api/v1/mappings`)).json(), [{ interface: USER_SERVICE, group: '', version: '', service: 'default/user-provider' }]);
  t.equal(((await (await fetch(`${admin}/api/v1/services`)).json()) as unknown[]).length, 1);
  t.same(await (await fetch(`${admin}/api/v1/routes`)).json(), []);
  t.same(await (await fetch(`${admin}/healthz`)).json(), { status: 'ok' });
  const readyz = await (await fetch(`${admin}/readyz`)).json() as { ready: boolean; version: string };
  t.same([readyz.ready, readyz.version], [true, cpReady.version]);
  const metrics = await (await fetch(`${admin}/metrics`)).text();
  t.match(metrics, /dubbo_mesh_cp_connected_proxies 1/);
  t.match(metrics, /dubbo_mesh_cp_acks_total 1/);
  t.match(metrics, /dubbo_mesh_cp_push_latency_seconds_count 0/, 'the first snapshot was published before any proxy: no push to time');
  const proxyReady = await (await fetch(`http://${listening.admin as string}/ready`)).json() as { ready: boolean; version: string };
  t.same([proxyReady.ready, proxyReady.version], [true, cpReady.version]);
  // A change while the proxy is connected: a push, timed from publish to the proxy's ACK.
  await writeFile(file, (await readFile(file, 'utf8')).replace(`endpoints: [{address: 127.0.0.1:${provider.port}}]`, `endpoints: [{address: 127.0.0.1:${provider.port}, weight: 50}]`));
  await proxy.waitFor((l) => l.msg === 'applied a snapshot from the control plane' && l.version !== cpReady.version);
  await until(async () => /dubbo_mesh_cp_push_latency_seconds_count 1/.test(await (await fetch(`${admin}/metrics`)).text()));
  t.pass('the push is timed');

  controlPlane.process.kill('SIGTERM');
  t.equal(await controlPlane.exited, 0, 'the control plane stops on SIGTERM');
  await proxy.waitFor((l) => l.msg === 'control plane unreachable; serving the last snapshot');
  t.equal(((await users.getUser!(6)).res as { id: number }).id, 6, 'the proxy serves on without its control plane');
  proxy.process.kill('SIGTERM');
  t.equal(await proxy.exited, 0);
});

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
  await writeFile(file, `apiVersion: dubbo-mesh.io/v1alpha1\nkind: DubboService\nmetadata: {name: s}\nspec:\n  interfaces: [org.example.S]\n  endpoints: [{address: 127.0.0.1:20880}]\n`);
  const grpcAddress = `127.0.0.1:${await freePort()}`;
  const children: Array<ReturnType<typeof startChild>> = [];
  t.teardown(async () => {
    for (const child of children) child.process.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });
  const proxy = startChild(['proxy', '--node', 'early', '--control-plane', grpcAddress, '--outbound', '127.0.0.1:0', '--admin', '127.0.0.1:0']);
  children.push(proxy);
  const listening = await proxy.waitFor((l) => l.msg === 'proxy listening; waiting for its first snapshot from the control plane');
  const unreachable = await proxy.waitFor((l) => l.msg === 'control plane unreachable; no snapshot yet: calls are answered 70 (SERVICE_ERROR) until one arrives');
  t.equal(unreachable.version, null);
  const notReady = await fetch(`http://${listening.admin as string}/ready`);
  t.same([notReady.status, await notReady.json()], [503, { ready: false, version: null }], '/ready is 503 before the first snapshot');
  t.notOk(proxy.lines.some((l) => l.msg === 'proxy ready' || /serving the last snapshot|stays in force/.test(String(l.msg))), 'nothing claims a snapshot it does not have');

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

t.test('control-plane with one valid and one invalid --config exits 1 rather than serve half the config', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-cp-cli-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const good = path.join(dir, 'services.yaml');
  const bad = path.join(dir, 'routes.yaml');
  await writeFile(good, `apiVersion: dubbo-mesh.io/v1alpha1\nkind: DubboService\nmetadata: {name: s}\nspec:\n  interfaces: [org.example.S]\n  endpoints: [{address: 127.0.0.1:20880}]\n`);
  await writeFile(bad, 'apiVersion: dubbo-mesh.io/v1alpha1\nkind: DubboRoute\nmetadata: {name: r}\nspec:\n  hosts: [org.example.S]\n  routes: [{destinations: [{service: s, weigth: 1}]}]\n');
  const child = startChild(['control-plane', '--config', good, '--config', bad, '--grpc', '127.0.0.1:0', '--admin', '127.0.0.1:0']);
  let stderr = '';
  child.process.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  t.equal(await child.exited, 1);
  t.match(stderr, `${bad}:6:`);
  t.match(stderr, /weigth/);
});

t.test('control-plane with an invalid file exits 1 naming file, line and field', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-cp-cli-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'bad.yaml');
  await writeFile(file, 'apiVersion: dubbo-mesh.io/v1alpha1\nkind: DubboPolicy\nmetadata: {name: p}\nspec: {service: ghost}\n');
  const child = startChild(['control-plane', '--config', file, '--grpc', '127.0.0.1:0', '--admin', '127.0.0.1:0']);
  let stderr = '';
  child.process.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  t.equal(await child.exited, 1);
  t.match(stderr, `${file}:4:`);
  t.match(stderr, 'DubboPolicy default/p: spec.service: no DubboService "ghost"');
});

t.test('a snapshot rejected before any was accepted says that calls are answered 70, not that a previous one stays', async (t) => {
  // A control plane that sends what no proxy accepts (the real one validates before it sends).
  const server = new grpc.Server();
  server.addService(discoveryServiceDefinition(), {
    DeltaSnapshots: (stream: grpc.ServerDuplexStream<{ response_nonce: string }, object>) => {
      stream.on('data', (request: { response_nonce: string }) => {
        if (request.response_nonce !== '') return; // the NACK
        stream.write({ version_info: 'bad-1', nonce: '1', removed_resources: [], resources: [{ kind: 'DubboService', namespace: 'default', name: 'x', json: '{"kind":"DubboService"}', version: 'v1' }] });
      });
    },
    StreamSnapshots: (stream: grpc.ServerDuplexStream<object, object>) => stream.end(),
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))));
  const proxy = startChild(['proxy', '--node', 'n1', '--control-plane', `127.0.0.1:${port}`, '--outbound', '127.0.0.1:0', '--admin', '127.0.0.1:0']);
  t.teardown(() => {
    proxy.process.kill('SIGKILL');
    server.forceShutdown();
  });
  const rejected = await proxy.waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('rejected a snapshot from the control plane'));
  t.equal(rejected.msg, 'rejected a snapshot from the control plane; no snapshot yet: calls are answered 70 (SERVICE_ERROR) until a valid one arrives');
  t.equal(rejected.version, 'bad-1');
  t.ok((rejected.errors as string[]).length > 0, 'with the errors');
  t.notOk(proxy.lines.some((l) => l.msg === 'proxy ready'), 'and it is not ready');
});
