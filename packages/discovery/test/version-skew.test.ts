import { EventEmitter } from 'node:events';
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { parseMeshYaml } from '@dubbo-mesh/config';
import { DiscoveryClient, discoveryServiceDefinition, fromWireResources } from '@dubbo-mesh/discovery';

type Request = { version_info: string; response_nonce: string; error_detail: { message: string; errors: string[] } | null };

const SERVICE = {
  apiVersion: 'dubbo-mesh.io/v1alpha1',
  kind: 'DubboService',
  metadata: { name: 's' },
  spec: { interfaces: ['org.example.S'], endpoints: [{ address: '127.0.0.1:20880' }] },
};
/** What a newer control plane might send: fields this version does not know, at three depths. */
const NEWER_ROUTE = {
  apiVersion: 'dubbo-mesh.io/v1alpha1',
  kind: 'DubboRoute',
  metadata: { name: 'r' },
  spec: { hosts: ['org.example.S'], mirror: { service: 's' }, routes: [{ canary: true, destinations: [{ service: 's', priority: 1 }] }] },
};
const wire = (doc: { kind: string; metadata: { name: string } }, version: string) => ({
  kind: doc.kind,
  namespace: 'default',
  name: doc.metadata.name,
  json: JSON.stringify(doc),
  version,
});

/** A control plane stand-in on a real gRPC server: each stream gets the next scripted snapshot. */
async function serve(t: { teardown(fn: () => void): void }, snapshots: Array<{ version: string; resources: ReturnType<typeof wire>[] }>) {
  const requests: Request[] = [];
  const received = new EventEmitter<{ request: [Request] }>();
  const server = new grpc.Server();
  server.addService(discoveryServiceDefinition(), {
    DeltaSnapshots: (stream: grpc.ServerDuplexStream<Request, object>) => {
      stream.on('data', (request: Request) => {
        requests.push(request);
        received.emit('request', request);
        const next = snapshots.shift();
        if (request.response_nonce === '' || next !== undefined) {
          if (next !== undefined) stream.write({ version_info: next.version, nonce: next.version, resources: next.resources, removed_resources: [] });
        }
      });
    },
    StreamSnapshots: (stream: grpc.ServerDuplexStream<object, object>) => stream.end(),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  t.teardown(() => server.forceShutdown());
  /** The first request that `test` holds for, now or when it comes. */
  const request = (test: (request: Request) => boolean) =>
    new Promise<Request>((resolve) => {
      const seen = requests.find(test);
      if (seen !== undefined) return resolve(seen);
      const listener = (next: Request) => {
        if (!test(next)) return;
        received.off('request', listener);
        resolve(next);
      };
      received.on('request', listener);
    });
  return { port, request };
}

t.test('a resource with fields this proxy does not know is applied and ACKed, with a warning naming resource and path; as a file it is refused', async (t) => {
  const { port, request } = await serve(t, [{ version: 'v1', resources: [wire(SERVICE, 'a'), wire(NEWER_ROUTE, 'b')] }]);
  const applied: string[] = [];
  const client = new DiscoveryClient({
    address: `127.0.0.1:${port}`,
    node: { id: 'n', role: 'proxy' },
    apply: (config, version) => applied.push(`${version}:${config.routes[0]?.routes[0]?.destinations[0]?.service}`),
  });
  t.teardown(() => client.close());
  const warned = new Promise<[string, string[]]>((resolve) => client.once('warning', (version, warnings) => resolve([version, warnings])));
  const acked = new Promise<string>((resolve) => client.once('ack', resolve));
  const nacked: string[] = [];
  client.on('nack', (version) => nacked.push(version));
  client.start();
  const [version, warnings] = await warned;
  t.equal(await acked, 'v1', 'ACKed');
  t.equal(version, 'v1');
  t.same(warnings, [
    'resources[1] DubboRoute default/r: DubboRoute default/r: spec.mirror: unknown field, ignored (expected one of: hosts, routes)',
    'resources[1] DubboRoute default/r: DubboRoute default/r: spec.routes[0].canary: unknown field, ignored (expected one of: name, match, destinations, timeout, retries)',
    'resources[1] DubboRoute default/r: DubboRoute default/r: spec.routes[0].destinations[0].priority: unknown field, ignored (expected one of: service, subset, weight)',
  ]);
  t.equal(client.unknownFieldWarnings, 3, 'counted');
  t.same(applied, ['v1:s'], 'applied');
  t.same(nacked, []);
  t.equal(client.acceptedVersion, 'v1');
  // The ACK reaches the control plane: the version, no error.
  t.match(await request((r) => r.response_nonce === 'v1'), { version_info: 'v1', error_detail: null });

  const yaml = `apiVersion: dubbo-mesh.io/v1alpha1\nkind: DubboRoute\nmetadata: {name: r}\nspec:\n  hosts: [org.example.S]\n  mirror: {service: s}\n  routes:\n    - canary: true\n      destinations:\n        - {service: s, priority: 1}\n`;
  t.same(
    parseMeshYaml(yaml, 'route.yaml').errors,
    [
      'route.yaml:6:11: DubboRoute default/r: spec.mirror: unknown field (expected one of: hosts, routes)',
      'route.yaml:8:15: DubboRoute default/r: spec.routes[0].canary: unknown field (expected one of: name, match, destinations, timeout, retries)',
      'route.yaml:10:34: DubboRoute default/r: spec.routes[0].destinations[0].priority: unknown field (expected one of: service, subset, weight)',
    ],
    'the same document as a file is refused',
  );
});

t.test('a wrong value is still a NACK; a kind this proxy does not know is ignored with a warning', async (t) => {
  const broken = { ...NEWER_ROUTE, spec: { ...NEWER_ROUTE.spec, routes: [{ destinations: [{ service: 's', weight: -1 }] }] } };
  const rule = { apiVersion: 'dubbo-mesh.io/v1alpha1', kind: 'DubboFutureThing', metadata: { name: 'x' }, spec: {} };
  // The NACKed v1 is not held: the delta v2 is all the proxy has then.
  const { port } = await serve(t, [
    { version: 'v1', resources: [wire(SERVICE, 'a'), wire(broken, 'b')] },
    { version: 'v2', resources: [wire(rule, 'c')] },
  ]);
  const client = new DiscoveryClient({ address: `127.0.0.1:${port}`, node: { id: 'n', role: 'proxy' }, apply: () => {} });
  t.teardown(() => client.close());
  const nacked = new Promise<[string, string[]]>((resolve) => client.once('nack', (version, errors) => resolve([version, errors])));
  const warned = new Promise<string[]>((resolve) => client.once('warning', (_version, warnings) => resolve(warnings)));
  const acked = new Promise<string>((resolve) => client.once('ack', resolve));
  client.start();
  t.same(await nacked, ['v1', ['resources[1] DubboRoute default/r: DubboRoute default/r: spec.routes[0].destinations[0].weight: must be >= 0']]);
  t.same(await warned, [
    'resources[0] DubboFutureThing default/x: kind: unknown kind, resource ignored (this proxy knows: DubboService, DubboRoute, DubboPolicy, DubboIngress, DubboRule, DubboPlugin)',
  ]);
  t.equal(await acked, 'v2');
  t.equal(client.unknownFieldWarnings, 1);
});

t.test('fromWireResources: warnings only for what is unknown; none for a known document', async (t) => {
  const known = fromWireResources([wire(SERVICE, 'a')]);
  t.match(known, { valid: true, warnings: [] });
  const json = fromWireResources([{ ...wire(SERVICE, 'a'), json: '{' }]);
  t.match(json, { valid: false, errors: [/^resources\[0\] DubboService default\/s: json: not JSON/] });
});
