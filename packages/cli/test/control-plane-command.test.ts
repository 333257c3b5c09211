// `dubbo-mesh control-plane` and `dubbo-mesh proxy --control-plane` as users run them: two
// processes talking gRPC, a real provider and the real apache-dubbo-js consumer.
import t from 'tap';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import dubboJs from 'apache-dubbo-js';
import { USER_SERVICE, closeDirectlyDubbo, makeUser, startTestProvider, userValue } from '@dubbo-mesh/test-support';
import { eventually, freePort } from '@dubbo-mesh/test-support';
import { startFakeKubeApiServer } from '@dubbo-mesh/test-support/fake-kube';
import { startChild } from './fixtures/child.js';

const { DirectlyDubbo, java } = dubboJs as unknown as {
  DirectlyDubbo: {
    from(options: object): { proxyService(options: object): Record<string, (...args: unknown[]) => Promise<{ res: unknown; err: Error | null }>> };
  };
  java: { long(value: number): unknown };
};

t.test('a proxy takes its config from the control plane; the admin API shows both sides', async (t) => {
  const provider = await startTestProvider({ services: { [USER_SERVICE]: { getUser: ([id]) => userValue(makeUser(id as number)) } } });
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-cp-cli-'));
  const file = path.join(dir, 'mesh.yaml');
  await writeFile(
    file,
    `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: user-provider}
spec:
  interfaces: [${USER_SERVICE}]
  endpoints: [{address: 127.0.0.1:${provider.port}}]
`,
  );
  const controlPlane = startChild(['control-plane', '--config', file, '--grpc', '127.0.0.1:0', '--admin', '127.0.0.1:0']);
  t.teardown(async () => {
    controlPlane.process.kill('SIGKILL');
    await provider.close();
    await rm(dir, { recursive: true, force: true });
  });
  const cpReady = await controlPlane.waitFor((l) => l.msg === 'control plane ready');
  const proxy = startChild([
    'proxy',
    '--node',
    'consumer-7',
    '--labels',
    'app=shop',
    '--control-plane',
    cpReady.grpc as string,
    '--outbound',
    '127.0.0.1:0',
    '--admin',
    '127.0.0.1:0',
  ]);
  t.teardown(() => proxy.process.kill('SIGKILL'));
  const listening = await proxy.waitFor((l) => l.msg === 'proxy listening; waiting for its first snapshot from the control plane');
  const applied = await proxy.waitFor((l) => l.msg === 'applied a snapshot from the control plane');
  t.equal(applied.version, cpReady.version, "the proxy applied the control plane's version");
  t.equal((await proxy.waitFor((l) => l.msg === 'proxy ready')).version, cpReady.version, 'and says it is ready');

  const dubbo = DirectlyDubbo.from({
    dubboAddress: `127.0.0.1:${(listening.listeners as { outbound: { port: number } }).outbound.port}`,
    dubboVersion: '2.0.2',
    dubboInvokeTimeout: 5,
  });
  t.teardown(() => closeDirectlyDubbo(dubbo));
  const users = dubbo.proxyService({ dubboInterface: USER_SERVICE, version: '1.0.0', methods: { getUser: (id: number) => [java.long(id)] } });
  t.equal(((await users.getUser!(5)).res as { id: number }).id, 5, 'a call routed by the pushed snapshot');

  const admin = `http://${cpReady.admin as string}`;
  // The proxy logs before its ACK has reached the control plane: wait for the control plane's side.
  await eventually(async () => /dubbo_mesh_cp_acks_total 1/.test(await (await fetch(`${admin}/metrics`)).text()), 'the ACK counted in /metrics');
  const proxies = (await (await fetch(`${admin}/api/v1/proxies`)).json()) as Array<{
    node: { id: string; labels: Record<string, string> };
    ackedVersion: string;
    lastNack: unknown;
  }>;
  t.equal(proxies.length, 1);
  t.equal(proxies[0]!.node.id, 'consumer-7');
  t.same(proxies[0]!.node.labels, { app: 'shop' });
  t.equal(proxies[0]!.ackedVersion, cpReady.version);
  t.equal(proxies[0]!.lastNack, null);
  t.same(await (await fetch(`${admin}/api/v1/snapshots`)).json(), [
    { node: 'consumer-7', version: cpReady.version, counts: { services: 1, endpoints: 1, routes: 0, policies: 0, mappings: 1 } },
  ]);
  const one = (await (await fetch(`${admin}/api/v1/snapshots/consumer-7`)).json()) as { resources: Array<{ kind: string }> };
  t.equal(one.resources[0]!.kind, 'DubboService');
  t.equal((await fetch(`${admin}/api/v1/snapshots/nobody`)).status, 404);
  t.same(await (await fetch(`${admin}/api/v1/mappings`)).json(), [{ interface: USER_SERVICE, group: '', version: '', service: 'default/user-provider' }]);
  t.equal(((await (await fetch(`${admin}/api/v1/services`)).json()) as unknown[]).length, 1);
  t.same(await (await fetch(`${admin}/api/v1/routes`)).json(), []);
  t.same(await (await fetch(`${admin}/healthz`)).json(), { status: 'ok' });
  const readyz = (await (await fetch(`${admin}/readyz`)).json()) as { ready: boolean; version: string };
  t.same([readyz.ready, readyz.version], [true, cpReady.version]);
  const metrics = await (await fetch(`${admin}/metrics`)).text();
  t.match(metrics, /dubbo_mesh_cp_connected_proxies 1/);
  t.match(metrics, /dubbo_mesh_cp_acks_total 1/);
  t.match(metrics, /dubbo_mesh_cp_push_latency_seconds_count 0/, 'the first snapshot was published before any proxy: no push to time');
  const proxyReady = (await (await fetch(`http://${listening.admin as string}/ready`)).json()) as { ready: boolean; version: string };
  t.same([proxyReady.ready, proxyReady.version], [true, cpReady.version]);
  // A change while the proxy is connected: a push, timed from publish to the proxy's ACK.
  await writeFile(
    file,
    (await readFile(file, 'utf8')).replace(
      `endpoints: [{address: 127.0.0.1:${provider.port}}]`,
      `endpoints: [{address: 127.0.0.1:${provider.port}, weight: 50}]`,
    ),
  );
  await proxy.waitFor((l) => l.msg === 'applied a snapshot from the control plane' && l.version !== cpReady.version);
  await eventually(
    async () => /dubbo_mesh_cp_push_latency_seconds_count 1/.test(await (await fetch(`${admin}/metrics`)).text()),
    'the push latency observed in /metrics',
  );
  t.pass('the push is timed');

  controlPlane.process.kill('SIGTERM');
  t.equal(await controlPlane.exited, 0, 'the control plane stops on SIGTERM');
  await proxy.waitFor((l) => l.msg === 'control plane unreachable; serving the last snapshot');
  t.equal(((await users.getUser!(6)).res as { id: number }).id, 6, 'the proxy serves on without its control plane');
  proxy.process.kill('SIGTERM');
  t.equal(await proxy.exited, 0);
});

t.test('control-plane with one valid and one invalid --config exits 1 rather than serve half the config', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-cp-cli-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const good = path.join(dir, 'services.yaml');
  const bad = path.join(dir, 'routes.yaml');
  await writeFile(
    good,
    `apiVersion: dubbo-mesh.io/v1alpha1\nkind: DubboService\nmetadata: {name: s}\nspec:\n  interfaces: [org.example.S]\n  endpoints: [{address: 127.0.0.1:20880}]\n`,
  );
  await writeFile(
    bad,
    'apiVersion: dubbo-mesh.io/v1alpha1\nkind: DubboRoute\nmetadata: {name: r}\nspec:\n  hosts: [org.example.S]\n  routes: [{destinations: [{service: s, weigth: 1}]}]\n',
  );
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

t.test('control-plane --kubernetes with no API server at KUBECONFIG exits 1 in one line naming the flag and the address', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-cp-cli-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const port = await freePort();
  const kubeconfig = path.join(dir, 'kubeconfig');
  await writeFile(
    kubeconfig,
    `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "http://127.0.0.1:${port}", insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n`,
  );
  const child = startChild(['control-plane', '--kubernetes', '--grpc', '127.0.0.1:0', '--admin', '127.0.0.1:0'], { KUBECONFIG: kubeconfig });
  let stderr = '';
  child.process.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  t.equal(await child.exited, 1);
  t.equal(stderr.trim().split('\n').length, 1, 'one line, no stack');
  t.match(stderr, `dubbo-mesh control-plane: --kubernetes: cannot reach the Kubernetes API server at http://127.0.0.1:${port}: ECONNREFUSED`);
  // The same address without insecure-skip-tls-verify: the client refuses plain HTTP, and the line says so.
  await writeFile(kubeconfig, (await readFile(kubeconfig, 'utf8')).replace(', insecure-skip-tls-verify: true', ''));
  const plain = startChild(['control-plane', '--kubernetes', '--grpc', '127.0.0.1:0', '--admin', '127.0.0.1:0'], { KUBECONFIG: kubeconfig });
  let plainStderr = '';
  plain.process.stderr!.on('data', (chunk: Buffer) => (plainStderr += chunk.toString()));
  t.equal(await plain.exited, 1);
  t.match(
    plainStderr,
    /--kubernetes: the API server address http:\/\/127\.0\.0\.1:\d+ is plain HTTP, which the Kubernetes client refuses unless the kubeconfig's cluster sets insecure-skip-tls-verify: true/,
  );
});

t.test('control-plane --kubernetes without the CRDs installed says how to install them', async (t) => {
  const cluster = await startFakeKubeApiServer();
  t.teardown(() => cluster.close());
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-cp-cli-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const kubeconfig = path.join(dir, 'kubeconfig');
  await cluster.writeKubeConfig(kubeconfig);
  const child = startChild(['control-plane', '--kubernetes', '--grpc', '127.0.0.1:0', '--admin', '127.0.0.1:0'], { KUBECONFIG: kubeconfig });
  let stderr = '';
  child.process.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  t.equal(await child.exited, 1);
  t.match(
    stderr,
    /--kubernetes: the dubbo-mesh CustomResourceDefinitions are not installed \(404 on \/apis\/dubbo-mesh.io\/v1alpha1\/dubboservices\): kubectl apply -f deploy\/crds.yaml/,
  );
});
