// The discovery server through a view other than the default: one that serves a single
// resource type and answers with that type's version, as an xDS view does per type. A
// snapshot whose other types changed sends nothing on its streams; a change of its type does.
import { once } from 'node:events';
import t from 'tap';
import { validateResource, type LocatedResource } from '@dubbo-mesh/config';
import { createDiscoveryClient, encodeSharedResponse, type DiscoveryResponse } from '@dubbo-mesh/discovery';
import {
  ControlPlane,
  DubboMeshDiscoveryView,
  type ConfigSource,
  type DiscoveryView,
  type Snapshot,
  type SourceState,
  type Subscription,
} from '@dubbo-mesh/control-plane';

function resource(raw: Record<string, unknown>): LocatedResource {
  const result = validateResource(raw);
  if (!result.valid) throw new Error(result.errors.join('\n'));
  return { resource: result.result, raw };
}
const service = (port: number) =>
  resource({
    apiVersion: 'dubbo-mesh.io/v1alpha1',
    kind: 'DubboService',
    metadata: { name: 'users' },
    spec: { interfaces: ['org.example.Users'], endpoints: [{ address: `127.0.0.1:${port}` }] },
  });
const route = (timeout: string) =>
  resource({
    apiVersion: 'dubbo-mesh.io/v1alpha1',
    kind: 'DubboRoute',
    metadata: { name: 'users' },
    spec: { hosts: ['org.example.Users'], routes: [{ timeout, destinations: [{ service: 'users' }] }] },
  });

/** Routes only, versioned by the route type's version. */
class RoutesOnlyView implements DiscoveryView {
  private readonly dubbo = new DubboMeshDiscoveryView();
  readonly name = 'routes-only';
  readonly service = this.dubbo.service;
  readonly methods: Readonly<Record<string, Subscription>> = { StreamSnapshots: { mode: 'sotw', types: ['DubboRoute'] } };
  readRequest(request: unknown) {
    return this.dubbo.readRequest(request);
  }
  versionOf(snapshot: Snapshot): string {
    return snapshot.typeVersion('DubboRoute') ?? '';
  }
  response(snapshot: Snapshot): Buffer {
    return encodeSharedResponse({ version_info: this.versionOf(snapshot), resources: [...snapshot.resourcesOf('DubboRoute')], mappings: [] });
  }
  message(response: Buffer, nonce: string): unknown {
    return this.dubbo.message(response, nonce);
  }
}

/** A source the test drives by hand. */
class ScriptedSource implements ConfigSource {
  readonly name = 'scripted';
  private emitState: ((state: SourceState) => void) | undefined;
  constructor(private readonly first: LocatedResource[]) {}
  async start(emit: (state: SourceState) => void): Promise<void> {
    this.emitState = emit;
    emit({ kind: 'resources', resources: this.first });
  }
  async stop(): Promise<void> {}
  set(resources: LocatedResource[]): void {
    this.emitState!({ kind: 'resources', resources });
  }
}

t.test('a per-type view: streams get their type, versioned by it, and nothing when only other types change', async (t) => {
  const source = new ScriptedSource([service(1), route('1s')]);
  const controlPlane = new ControlPlane({ sources: [source], view: new RoutesOnlyView() });
  t.teardown(() => controlPlane.stop());
  const port = await controlPlane.start('127.0.0.1', 0);
  const client = createDiscoveryClient(`127.0.0.1:${port}`);
  t.teardown(() => client.close());
  const stream = client.StreamSnapshots();
  t.teardown(() => stream.cancel());
  stream.on('error', () => {});
  const responses: DiscoveryResponse[] = [];
  const waiters: Array<(r: DiscoveryResponse) => void> = [];
  stream.on('data', (r: DiscoveryResponse) => (waiters.length > 0 ? waiters.shift()!(r) : responses.push(r)));
  const nextResponse = () => new Promise<DiscoveryResponse>((resolve) => (responses.length > 0 ? resolve(responses.shift()!) : waiters.push(resolve)));
  const pushes = async () => (await controlPlane.metrics.pushes.get()).values[0]?.value ?? 0;
  const node = { id: 'envoy-1', service: '', namespace: 'default', labels: {}, role: 'PROXY' as const };

  stream.write({ node, version_info: '', response_nonce: '', error_detail: null });
  const first = await nextResponse();
  const snapshot = controlPlane.snapshot!;
  t.equal(first.version_info, snapshot.typeVersion('DubboRoute'), "the route type's version, not the snapshot's");
  t.same(
    first.resources.map((r) => `${r.kind}/${r.name}`),
    ['DubboRoute/users'],
    'only its type',
  );
  const acked = once(controlPlane, 'ack');
  stream.write({ node, version_info: first.version_info, response_nonce: first.nonce, error_detail: null });
  t.same((await acked)[1], first.version_info);

  let published = once(controlPlane, 'published');
  source.set([service(2), route('1s')]);
  const [servicesChanged] = (await published) as [Snapshot];
  t.not(servicesChanged.version, snapshot.version, 'a new snapshot…');
  t.equal(servicesChanged.typeVersion('DubboRoute'), first.version_info, '…with the same routes');
  t.equal(await pushes(), 1, 'nothing sent: the stream has that route version');

  published = once(controlPlane, 'published');
  source.set([service(2), route('2s')]);
  await published;
  const second = await nextResponse();
  t.equal(second.nonce, '2');
  t.equal(second.version_info, controlPlane.snapshot!.typeVersion('DubboRoute'));
  t.not(second.version_info, first.version_info);
  t.match(JSON.parse(second.resources[0]!.json), { spec: { routes: [{ timeout: '2s' }] } });
  t.equal(await pushes(), 2);

  // NACK it: a snapshot with other changes but the same rejected route version is not sent.
  const nacked = once(controlPlane, 'nack');
  stream.write({
    node,
    version_info: first.version_info,
    response_nonce: second.nonce,
    error_detail: { code: 3, message: 'no', errors: ['timeout too long'] },
  });
  t.equal((await nacked)[1], second.version_info);
  published = once(controlPlane, 'published');
  source.set([service(3), route('2s')]);
  await published;
  t.equal(await pushes(), 2, 'the rejected route version is not sent again');
  published = once(controlPlane, 'published');
  source.set([service(3), route('3s')]);
  await published;
  const third = await nextResponse();
  t.equal(third.nonce, '3', 'a newer route version is');
  t.match(JSON.parse(third.resources[0]!.json), { spec: { routes: [{ timeout: '3s' }] } });
});
