// The discovery API on the real gRPC stack, driven by a plain @grpc/grpc-js client built only
// from proto/ (no code of ours on the client side): snapshots, ACK, NACK, stale nonces.
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ControlPlane, startControlPlaneAdmin } from '@dubbo-mesh/control-plane';
import { meshYaml, next, tempDir, writeConfig } from './fixtures/control-plane.js';

const protoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../proto');

interface Response {
  version_info: string;
  nonce: string;
  resources: Array<{ kind: string; name: string; json: string }>;
  mappings: Array<{ interface: string; service: string }>;
}

/** A stream of `method` from a client built from proto/ alone. */
function plainClient<R = Response>(address: string, method: 'StreamSnapshots' | 'DeltaSnapshots' = 'StreamSnapshots'): grpc.ClientDuplexStream<object, R> {
  const definition = protoLoader.loadSync('dubbo_mesh/discovery/v1/discovery.proto', {
    includeDirs: [protoRoot],
    keepCase: true,
    defaults: true,
    enums: String,
  });
  const api = grpc.loadPackageDefinition(definition) as unknown as {
    dubbo_mesh: { discovery: { v1: { SnapshotDiscoveryService: grpc.ServiceClientConstructor } } };
  };
  const client = new api.dubbo_mesh.discovery.v1.SnapshotDiscoveryService(address, grpc.credentials.createInsecure());
  return (client as unknown as Record<string, () => grpc.ClientDuplexStream<object, R>>)[method]!.call(client);
}

/** Responses of a stream, awaited one at a time (undefined only if none comes for a long time: the test then fails instead of hanging). */
function responses(stream: grpc.ClientDuplexStream<object, Response>): { next(timeoutMs?: number): Promise<Response | undefined> } {
  const queue: Response[] = [];
  const waiters: Array<(r: Response) => void> = [];
  stream.on('data', (r: Response) => (waiters.length > 0 ? waiters.shift()!(r) : queue.push(r)));
  stream.on('error', () => {});
  return {
    next: (timeoutMs = 20_000) =>
      queue.length > 0
        ? Promise.resolve(queue.shift())
        : new Promise((resolve) => {
            const timer = setTimeout(() => {
              waiters.splice(waiters.indexOf(waiter), 1);
              resolve(undefined);
            }, timeoutMs);
            const waiter = (r: Response) => {
              clearTimeout(timer);
              resolve(r);
            };
            waiters.push(waiter);
          }),
  };
}

const node = { id: 'plain-1', service: '', namespace: 'default', labels: { app: 'test' }, role: 'PROXY' };
const v1Only = [
  { address: '127.0.0.1:20991', version: 'v1' },
  { address: '127.0.0.1:20992', version: 'v2' },
];

t.test('a plain grpc-js client reads snapshots, ACKs, NACKs, and its stale nonces are ignored', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'mesh.yaml');
  await writeConfig(file, meshYaml(v1Only, { v1: 90, v2: 10 }));
  const controlPlane = new ControlPlane({ configPaths: [file] });
  const port = await controlPlane.start('127.0.0.1', 0);
  const admin = await startControlPlaneAdmin(controlPlane, '127.0.0.1', 0);
  const stream = plainClient(`127.0.0.1:${port}`);
  t.teardown(async () => {
    stream.cancel();
    await admin.server.close();
    await controlPlane.stop();
  });
  const incoming = responses(stream);

  stream.write({ node, version_info: '', response_nonce: '' });
  const first = (await incoming.next())!;
  t.ok(first, 'the first request gets the snapshot');
  t.equal(first.version_info, controlPlane.snapshot!.version);
  t.equal(first.nonce, '1');
  t.same(first.resources.map((r) => `${r.kind}/${r.name}`).sort(), ['DubboPolicy/user-provider', 'DubboRoute/user-split', 'DubboService/user-provider']);
  const service = JSON.parse(first.resources.find((r) => r.kind === 'DubboService')!.json) as { spec: { endpoints: unknown[] } };
  t.equal(service.spec.endpoints.length, 2, 'resources are the YAML documents as JSON');
  t.same(
    first.mappings.map((m) => `${m.interface}→${m.service}`),
    ['org.apache.dubbo.benchmark.service.UserService→default/user-provider'],
  );

  const acked = next(controlPlane, 'ack');
  stream.write({ node, version_info: first.version_info, response_nonce: first.nonce });
  await acked;
  t.equal(controlPlane.proxies()[0]?.ackedVersion, first.version_info, 'the ACK is recorded');

  await writeConfig(file, meshYaml(v1Only, { v1: 50, v2: 50 }));
  const second = (await incoming.next())!;
  t.ok(second, 'a file change is pushed');
  t.not(second.version_info, first.version_info);
  // Nonce 2: the stream sent nothing between the ACK and this change (a response in
  // between would have taken nonce 2), with no wait for "nothing" to happen.
  t.equal(second.nonce, '2', 'nothing more was sent while the snapshot was unchanged');

  // A request answering the older nonce is stale: ignored, whatever it says.
  const staleBefore = (await controlPlane.metrics.staleRequests.get()).values[0]?.value ?? 0;
  let stale = next(controlPlane, 'stale');
  stream.write({ node, version_info: '', response_nonce: first.nonce, error_detail: { code: 3, message: 'stale', errors: ['x'] } });
  await stale;
  t.equal((await controlPlane.metrics.staleRequests.get()).values[0]?.value, staleBefore + 1, 'counted as stale');
  t.equal(controlPlane.proxies()[0]!.lastNack, undefined, 'a stale NACK is not recorded');

  // A repeated first request (empty nonce) is stale too, not an ACK of anything.
  stale = next(controlPlane, 'stale');
  stream.write({ node, version_info: 'bogus', response_nonce: '' });
  await stale;
  t.equal((await controlPlane.metrics.staleRequests.get()).values[0]?.value, staleBefore + 2, 'an empty nonce after the first request is stale');
  t.equal(controlPlane.proxies()[0]!.ackedVersion, first.version_info, 'and changes nothing');

  // NACK the second: recorded, the proxy keeps the first, and the same version is not sent again.
  const nacked = next(controlPlane, 'nack');
  stream.write({
    node,
    version_info: first.version_info,
    response_nonce: second.nonce,
    error_detail: { code: 3, message: 'rejected for the test', errors: ['resources[0]: spec.port: bad'] },
  });
  await nacked;
  const proxies = (await (await fetch(`http://127.0.0.1:${admin.port}/api/v1/proxies`)).json()) as Array<{
    node: { id: string };
    ackedVersion: string;
    lastNack: { version: string; errors: string[] };
  }>;
  t.equal(proxies[0]!.node.id, 'plain-1');
  t.equal(proxies[0]!.ackedVersion, first.version_info, 'the admin API shows the version the proxy still holds');
  t.same(proxies[0]!.lastNack.errors, ['resources[0]: spec.port: bad']);
  t.equal(proxies[0]!.lastNack.version, second.version_info);
  // Not on a new stream of the same node either: it opens now, and its first response
  // must be the next change, not the rejected version.
  const again = plainClient(`127.0.0.1:${port}`);
  const againIncoming = responses(again);
  const opened = next(controlPlane, 'stream-open');
  again.write({ node, version_info: first.version_info, response_nonce: '' });
  await opened;

  await writeConfig(file, meshYaml(v1Only, { v1: 10, v2: 90 }));
  const third = (await incoming.next())!;
  t.ok(third, 'the next change is pushed after a NACK');
  t.equal(third.nonce, '3', 'the rejected version was not pushed again (it would have taken nonce 3)');
  const againFirst = (await againIncoming.next())!;
  t.equal(againFirst.version_info, third.version_info, 'a reconnecting node is not sent the version it rejected: its first response is the next one');
  again.cancel();
  const ackedThird = next(controlPlane, 'ack', (_status: unknown, version: string) => version === third.version_info);
  stream.write({ node, version_info: third.version_info, response_nonce: third.nonce });
  await ackedThird;
  t.equal((await controlPlane.metrics.nacks.get()).values[0]?.value, 1);
});

t.test('a first request without a node id ends the stream with INVALID_ARGUMENT', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'mesh.yaml');
  await writeConfig(file, meshYaml(v1Only, { v1: 90, v2: 10 }));
  const controlPlane = new ControlPlane({ configPaths: [file] });
  const port = await controlPlane.start('127.0.0.1', 0);
  t.teardown(() => controlPlane.stop());
  const stream = plainClient(`127.0.0.1:${port}`);
  const failed = new Promise<grpc.ServiceError>((resolve) => stream.on('error', resolve));
  stream.on('data', () => {});
  stream.write({ version_info: '', response_nonce: '' });
  const error = await failed;
  t.equal(error.code, grpc.status.INVALID_ARGUMENT);
  t.match(error.details, /node\.id/);
  // The server forgets the stream before it sends the error, so this holds once the error is here.
  t.equal(controlPlane.proxies().length, 0);
});

interface DeltaResponse {
  version_info: string;
  nonce: string;
  resources: Array<{ kind: string; namespace: string; name: string; json: string; version: string }>;
  removed_resources: string[];
}

t.test('delta streams send only what changed since the snapshot the proxy holds', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'mesh.yaml');
  const extra = path.join(dir, 'extra.yaml');
  await writeConfig(file, meshYaml(v1Only, { v1: 90, v2: 10 }));
  await writeConfig(
    extra,
    'apiVersion: dubbo-mesh.io/v1alpha1\nkind: DubboService\nmetadata: {name: orders}\nspec:\n  interfaces: [org.example.Orders]\n  endpoints: [{address: 127.0.0.1:20999}]\n',
  );
  const controlPlane = new ControlPlane({ configPaths: [dir] });
  const port = await controlPlane.start('127.0.0.1', 0);
  const streams: Array<grpc.ClientDuplexStream<object, DeltaResponse>> = [];
  t.teardown(async () => {
    for (const stream of streams) stream.cancel();
    await controlPlane.stop();
  });
  const open = () => {
    const stream = plainClient<DeltaResponse>(`127.0.0.1:${port}`, 'DeltaSnapshots');
    streams.push(stream);
    return { stream, incoming: responses(stream as never) as unknown as { next(timeoutMs?: number): Promise<DeltaResponse | undefined> } };
  };
  const { stream, incoming } = open();
  stream.write({ node, version_info: '', response_nonce: '', initial_resource_versions: {} });
  const first = (await incoming.next())!;
  t.equal(first.resources.length, 4, 'a proxy holding nothing gets every resource');
  t.same(first.removed_resources, []);
  t.ok(
    first.resources.every((r) => r.version.length === 16),
    'each with its version',
  );
  stream.write({ node, version_info: first.version_info, response_nonce: first.nonce });

  await writeConfig(file, meshYaml(v1Only, { v1: 50, v2: 50 }));
  const second = (await incoming.next())!;
  t.same(
    second.resources.map((r) => `${r.kind}/${r.name}`),
    ['DubboRoute/user-split'],
    'one route changed: only it travels',
  );
  t.same(second.removed_resources, []);

  // NACK it: the next delta is computed from what the proxy still holds (the first snapshot).
  const nacked = next(controlPlane, 'nack');
  stream.write({ node, version_info: first.version_info, response_nonce: second.nonce, error_detail: { code: 3, message: 'no', errors: ['no'] } });
  await nacked;
  await rm(extra);
  const third = (await incoming.next())!;
  t.same(
    third.resources.map((r) => `${r.kind}/${r.name}`),
    ['DubboRoute/user-split'],
    'the route change the proxy rejected is sent again with the next change',
  );
  t.same(third.removed_resources, ['DubboService/default/orders'], 'a removed resource is named');
  stream.write({ node, version_info: third.version_info, response_nonce: third.nonce });

  // A proxy reconnecting with what it holds receives only the difference.
  const heldVersions = Object.fromEntries(first.resources.map((r) => [`${r.kind}/${r.namespace}/${r.name}`, r.version]));
  const again = open();
  again.stream.write({ node: { ...node, id: 'plain-2' }, version_info: first.version_info, response_nonce: '', initial_resource_versions: heldVersions });
  const resync = (await again.incoming.next())!;
  t.equal(resync.version_info, third.version_info);
  t.same(
    resync.resources.map((r) => r.name),
    ['user-split'],
  );
  t.same(resync.removed_resources, ['DubboService/default/orders']);
});

/** A mesh file big enough that its snapshot is a large response (≥ 256 KiB), with `port` in every endpoint. */
function largeMesh(port: number): string {
  const docs: string[] = [];
  for (let i = 0; i < 300; i += 1) {
    const endpoints = Array.from(
      { length: 12 },
      (_, j) => `    - {address: 10.${i >> 8}.${i & 255}.${j}:${port}, labels: {version: v1, zone: zone-${j}}}`,
    ).join('\n');
    docs.push(
      `apiVersion: dubbo-mesh.io/v1alpha1\nkind: DubboService\nmetadata: {name: large-${i}}\nspec:\n  interfaces: [org.example.large.Service${i}]\n  endpoints:\n${endpoints}\n`,
    );
  }
  return docs.join('---\n');
}

t.test('a stream waiting for a large-response slot is not sent the version another stream of its node just rejected', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'mesh.yaml');
  await writeConfig(file, largeMesh(20880));
  const controlPlane = new ControlPlane({ configPaths: [file] });
  const port = await controlPlane.start('127.0.0.1', 0);
  const streams: Array<grpc.ClientDuplexStream<object, Response>> = [];
  t.teardown(async () => {
    for (const stream of streams) stream.cancel();
    await controlPlane.stop();
  });
  const open = (id: string) => {
    const stream = plainClient(`127.0.0.1:${port}`);
    streams.push(stream);
    const incoming = responses(stream);
    stream.write({ node: { ...node, id }, version_info: '', response_nonce: '' });
    return { stream, incoming, node: { ...node, id } };
  };
  // Every slot but one is held by proxies that never answer their first (large) response.
  const fillers = Array.from({ length: 15 }, (_, i) => open(`filler-${i}`));
  for (const filler of fillers) t.ok(await filler.incoming.next(), 'a filler got its snapshot');
  const rejected = controlPlane.snapshot!.version;
  // The node's first stream takes the last slot; its second stream waits in line.
  const x = open('twice');
  const xFirst = (await x.incoming.next())!;
  t.equal(xFirst.version_info, rejected);
  const secondOpened = next(controlPlane, 'stream-open', (status: { node: { id: string } }) => status.node.id === 'twice');
  const y = open('twice');
  await secondOpened;
  // The first stream rejects it: the slot it frees must not carry that version to the second.
  const nacked = next(controlPlane, 'nack');
  x.stream.write({ node: x.node, version_info: '', response_nonce: xFirst.nonce, error_detail: { code: 3, message: 'rejected for the test', errors: ['x'] } });
  await nacked;
  await writeConfig(file, largeMesh(20881));
  // Both streams of the node want the new version and share the one free slot: answer the
  // first stream's responses so the second gets its turn.
  x.stream.on('data', (response: Response) => x.stream.write({ node: x.node, version_info: response.version_info, response_nonce: response.nonce }));
  const yFirst = (await y.incoming.next(60_000))!;
  t.ok(yFirst, 'the waiting stream is answered');
  t.not(yFirst.version_info, rejected, 'its first response is the next version, not the one its node rejected');
  t.equal(yFirst.version_info, controlPlane.snapshot!.version);
});
