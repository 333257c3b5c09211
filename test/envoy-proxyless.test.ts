// A real xDS client against the control plane: @grpc/grpc-js-xds resolves
// xds:///greeter.default through the control plane's ADS and calls plain gRPC servers listed as
// the mesh service's endpoints; it follows endpoint changes and DubboRoutes, and a resource it
// cannot accept is NACKed, recorded, and does not break its calls.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import * as grpcXds from '@grpc/grpc-js-xds';
import t from 'tap';
import { ControlPlane, startControlPlaneAdmin } from '@dubbo-mesh/control-plane';
import { EnvoyAds, EnvoyTranslator, TYPE_URLS, decodeAny, encodeAny, type EnvoyNodeResources } from '@dubbo-mesh/envoy-xds';
import { next, tempDir, until, writeConfig } from './fixtures/control-plane.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const definition = protoLoader.loadSync(path.join(here, 'fixtures/greeter.proto'), { keepCase: true });
const greeterPackage = grpc.loadPackageDefinition(definition) as unknown as { dubbo_mesh: { test: { Greeter: grpc.ServiceClientConstructor } } };
const Greeter = greeterPackage.dubbo_mesh.test.Greeter;
const INTERFACE = 'dubbo_mesh.test.Greeter';

interface GreeterServer {
  name: string;
  port: number;
  calls: number;
  close(): Promise<void>;
}

async function startGreeter(name: string): Promise<GreeterServer> {
  const server = new grpc.Server();
  const state: GreeterServer = { name, port: 0, calls: 0, close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())) };
  server.addService(Greeter.service, {
    SayHello: (call: grpc.ServerUnaryCall<{ name: string }, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      state.calls += 1;
      callback(null, { message: `hello ${call.request.name}`, server: name });
    },
  });
  state.port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port))),
  );
  return state;
}

function meshYaml(endpoints: ReadonlyArray<{ port: number; version: string }>, route?: string): string {
  return `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: greeter, namespace: default}
spec:
  interfaces: [${INTERFACE}]
  endpoints:
${endpoints.map((e) => `    - {address: 127.0.0.1:${e.port}, labels: {version: ${e.version}}}`).join('\n')}
---
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboPolicy
metadata: {name: greeter, namespace: default}
spec:
  service: greeter
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
${route ?? ''}`;
}

const TO_V2 = `---
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboRoute
metadata: {name: greeter-v2, namespace: default}
spec:
  hosts: [${INTERFACE}]
  routes:
    - name: all-to-v2
      destinations: [{service: greeter, subset: v2, weight: 100}]
`;

t.test('a proxyless gRPC client resolves xds:///greeter.default through the control plane and follows it', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'mesh.yaml');
  const servers = await Promise.all(['s1', 's2', 's3'].map(startGreeter));
  t.teardown(() => Promise.all(servers.map((s) => s.close())));
  const [s1, s2, s3] = servers as [GreeterServer, GreeterServer, GreeterServer];
  await writeConfig(
    file,
    meshYaml([
      { port: s1.port, version: 'v1' },
      { port: s2.port, version: 'v1' },
    ]),
  );

  // A translator that, when told to, serves the cluster with an lb_policy gRPC does not
  // implement: a resource the client cannot accept.
  const translator = new EnvoyTranslator();
  let corrupt = false;
  const corrupted = new WeakMap<EnvoyNodeResources, EnvoyNodeResources>();
  const ads = new EnvoyAds({
    resourcesFor: (snapshot, node) => {
      const resources = translator.resourcesFor(snapshot, node);
      if (!corrupt) return resources;
      let bad = corrupted.get(resources);
      if (bad === undefined) {
        const clusters = resources.types.get(TYPE_URLS.cluster)!;
        const cluster = clusters.byName.get('greeter.default')!;
        const decoded = decodeAny(cluster.any);
        delete decoded['@type'];
        const any = encodeAny(TYPE_URLS.cluster, { ...decoded, lb_policy: 'MAGLEV' });
        const byName = new Map(clusters.byName);
        byName.set('greeter.default', { name: 'greeter.default', version: `${cluster.version}-maglev`, any });
        const types = new Map(resources.types);
        types.set(TYPE_URLS.cluster, { typeUrl: TYPE_URLS.cluster, version: `${clusters.version}-maglev`, byName });
        corrupted.set(resources, (bad = { ...resources, types }));
      }
      return bad;
    },
  });
  const controlPlane = new ControlPlane({ configPaths: [file], services: [ads] });
  const grpcPort = await controlPlane.start('127.0.0.1', 0);
  const admin = await startControlPlaneAdmin(controlPlane, '127.0.0.1', 0);
  t.teardown(async () => {
    await admin.server.close();
    await controlPlane.stop();
  });

  const bootstrap = JSON.parse(await readFile(path.join(root, 'envoy/grpc-bootstrap.json'), 'utf8')) as {
    xds_servers: Array<{ server_uri: string }>;
    node: { id: string };
  };
  bootstrap.xds_servers[0]!.server_uri = `127.0.0.1:${grpcPort}`;
  bootstrap.node.id = 'proxyless-test-client';
  process.env.GRPC_XDS_BOOTSTRAP_CONFIG = JSON.stringify(bootstrap);
  grpcXds.register();
  const client = new Greeter('xds:///greeter.default', grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    SayHello(request: { name: string }, callback: (error: grpc.ServiceError | null, reply: { server: string }) => void): void;
  };
  t.teardown(() => client.close());
  const call = () =>
    new Promise<string>((resolve, reject) => client.SayHello({ name: 'mesh' }, (error, reply) => (error ? reject(error) : resolve(reply.server))));
  /** Calls until `servers` have all answered (at most `limit` calls); what answered, by server. */
  async function callUntil(expected: readonly string[], limit = 200): Promise<Set<string>> {
    const seen = new Set<string>();
    for (let i = 0; i < limit && !expected.every((name) => seen.has(name)); i++) seen.add(await call());
    return seen;
  }

  t.same([...(await callUntil(['s1', 's2']))].sort(), ['s1', 's2'], 'round robin over both endpoints');
  const proxy = controlPlane.proxies().find((p) => p.node.id === 'proxyless-test-client');
  t.ok(proxy, 'the client is a connected proxy');
  t.equal(proxy?.ackedVersion, controlPlane.snapshot?.version, 'it ACKed the snapshot in force');

  // Endpoints change: s1 goes, s3 comes.
  const published = next(controlPlane, 'published');
  await writeConfig(
    file,
    meshYaml([
      { port: s2.port, version: 'v1' },
      { port: s3.port, version: 'v2' },
    ]),
  );
  const [snapshot] = await published;
  await until(controlPlane, 'ack', () => controlPlane.proxies().some((p) => p.node.id === 'proxyless-test-client' && p.ackedVersion === snapshot.version));
  t.ok((await callUntil(['s3'])).has('s3'), 'the client reaches the new endpoint');
  const before = s1.calls;
  await callUntil(['never'], 20);
  t.equal(s1.calls, before, 'and never the removed one');

  // A DubboRoute sends every call to subset v2 (s3).
  const routed = next(controlPlane, 'published');
  await writeConfig(
    file,
    meshYaml(
      [
        { port: s2.port, version: 'v1' },
        { port: s3.port, version: 'v2' },
      ],
      TO_V2,
    ),
  );
  const [routedSnapshot] = await routed;
  await until(controlPlane, 'ack', () =>
    controlPlane.proxies().some((p) => p.node.id === 'proxyless-test-client' && p.ackedVersion === routedSnapshot.version),
  );
  // The route names the subset's cluster: the client subscribes to it (and its endpoints) now,
  // and switches once it has them. Calls go on meanwhile; wait until ten in a row reach s3.
  let inARow = 0;
  for (let i = 0; i < 500 && inARow < 10; i++) inARow = (await call()) === 's3' ? inARow + 1 : 0;
  t.equal(inARow, 10, 'the route reaches subset v2');
  const s2Before = s2.calls;
  const answered = new Set<string>();
  for (let i = 0; i < 20; i++) answered.add(await call());
  t.same([...answered], ['s3'], 'the route sends every call to subset v2');
  t.equal(s2.calls, s2Before, 'and none to v1');

  // A resource the client cannot accept: NACKed, recorded, calls go on with the last good one.
  corrupt = true;
  const nacked = next(controlPlane, 'nack', (status: { node: { id: string } }) => status.node.id === 'proxyless-test-client');
  await writeConfig(
    file,
    meshYaml(
      [
        { port: s2.port, version: 'v1' },
        { port: s3.port, version: 'v2' },
      ],
      TO_V2.replace('weight: 100', 'weight: 99'),
    ),
  );
  const [, , errors] = await nacked;
  t.match(errors.join('\n'), /lb_policy/, 'the NACK says why');
  const response = await fetch(`http://127.0.0.1:${admin.port}/api/v1/proxies`);
  const listed = (await response.json()) as Array<{ node: { id: string }; lastNack: { message: string } | null }>;
  t.match(listed.find((p) => p.node.id === 'proxyless-test-client')?.lastNack?.message ?? '', /lb_policy/, '/api/v1/proxies shows the NACK');
  t.equal(await call(), 's3', 'calls still work on the last good resources');
});
