// Another discovery API on the discovery server's port (how Envoy's ADS is served): its streams
// are connected proxies like the dubbo-mesh API's, with the same cache, hooks, events,
// convergence and admin API. The service here speaks JSON over one bidi method, so the test
// depends on no other API's protos.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { startControlPlaneApp, type ProxyStatus, type Snapshot } from '@dubbo-mesh/control-plane';
import { DiscoveryClient } from '@dubbo-mesh/discovery';
import { recordingLogger } from '@dubbo-mesh/test-support';
import { JsonDiscovery, TYPE, jsonClient } from './fixtures/json-discovery.js';

const service = (port: number) => `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: s}
spec:
  interfaces: [org.example.S]
  endpoints: [{address: 127.0.0.1:${port}}]
`;
async function folder(t: Test, files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-cp-svc-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return dir;
}

t.test("an extension's discovery service is served on the gRPC port; its streams are proxies like ours", async (t) => {
  const dir = await folder(t, { 'mesh.yaml': service(20001) });
  const app = await startControlPlaneApp({
    configPaths: [dir],
    grpc: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    logger: recordingLogger(),
    fileSource: { settleMs: 20 },
    extensions: [{ name: 'json', services: [new JsonDiscovery()] }],
  });
  t.teardown(() => app.stop());
  const { controlPlane } = app;
  const first = controlPlane.snapshot!.version;

  // Ours, on the same port.
  const ours = new DiscoveryClient({ address: `127.0.0.1:${app.grpcPort}`, node: { id: 'sidecar-1', role: 'proxy', service: 'web' }, apply: () => {} });
  t.teardown(() => ours.close());
  const oursAcked = new Promise((resolve) => ours.once('ack', resolve));
  ours.start();
  await oursAcked;

  const json = jsonClient(app.grpcPort);
  t.teardown(() => json.close());
  const { call, versions } = json;
  const gotVersion = json.nextVersion;
  const opened = new Promise<ProxyStatus>((resolve) => controlPlane.once('stream-open', resolve));
  const sent = gotVersion();
  call.write({ node: { id: 'envoy-1' } });
  t.equal((await opened).node.id, 'envoy-1', 'stream-open fired (the control plane put the snapshot in the cache)');
  await sent;
  t.same(versions, [first], "the node's snapshot came from the shared cache");
  const acked = new Promise<unknown[]>((resolve) => controlPlane.once('ack', (...args) => resolve(args)));
  call.write({ ack: first });
  t.equal((await acked)[1], first, 'the ack event');

  const proxies = controlPlane.proxies();
  t.equal(proxies.length, 2, 'both streams are connected proxies');
  t.not(proxies[0]!.stream, proxies[1]!.stream, 'with distinct stream ids');
  t.equal(proxies.find((p) => p.node.id === 'sidecar-1')!.api, 'dubbo-mesh', 'ours say which API they speak');
  t.equal((await controlPlane.metrics.connectedProxies.get()).values[0]?.value, 2, 'and counted in the connected-proxies gauge');

  // A change reaches it and converges once both ACKed.
  const next = gotVersion();
  const published = new Promise<Snapshot>((resolve) => controlPlane.once('published', resolve));
  await writeFile(path.join(dir, 'mesh.yaml'), service(20002));
  const second = (await published).version;
  await next;
  t.equal(versions.at(-1), second);
  const nacked = new Promise<unknown[]>((resolve) => controlPlane.once('nack', (...args) => resolve(args)));
  call.write({ nack: second });
  t.same((await nacked).slice(1), [second, ['no']], 'the nack event');

  const listed = (await (await fetch(`http://127.0.0.1:${app.adminPort}/api/v1/proxies`)).json()) as Array<Record<string, unknown>>;
  t.match(
    listed.find((p) => (p.node as { id: string }).id === 'envoy-1'),
    {
      api: 'envoy-ads',
      kind: 'proxyless',
      ackedVersion: first,
      sentVersion: second,
      lastNack: { version: second, typeUrl: TYPE, message: `${TYPE}: no`, errors: ['no'] },
      resources: { [TYPE]: { subscribed: ['*'], subscribedCount: 1, sentVersion: second, lastNack: null } },
      untranslated: ['DubboRoute default/r: spec.routes[0].retries: not here'],
      untranslatedCount: 1,
    },
    'GET /api/v1/proxies shows its API, kind, types, NACK and untranslated list',
  );
  t.match(
    listed.find((p) => (p.node as { id: string }).id === 'sidecar-1'),
    { api: 'dubbo-mesh', lastNack: null },
  );
  t.notOk('kind' in listed.find((p) => (p.node as { id: string }).id === 'sidecar-1')!, 'no xDS fields on ours');

  const closed = new Promise<ProxyStatus>((resolve) => controlPlane.once('stream-closed', resolve));
  call.end();
  t.equal((await closed).node.id, 'envoy-1', 'stream-closed fired');
  t.same(
    controlPlane.proxies().map((p) => p.node.id),
    ['sidecar-1'],
    'it is no longer connected',
  );
  t.notOk(controlPlane.cache.nodes().includes('envoy-1'), 'and its snapshot left the cache');
});
