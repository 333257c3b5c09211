// The snapshot builder merges the registry bridge's imports (mergeable DubboServices) into the
// mesh's services of the same name from another source: the snapshot carries both sets of
// endpoints, an unchanged pair is not encoded again, the import stands alone while its twin
// is gone, and a refusal names the source at fault.
import t from 'tap';
import { validateResource, type DubboServiceConfig, type LocatedResource } from '@dubbo-mesh/config';
import { SnapshotBuilder, type ConfigSource, type Refusal, type Snapshot, type SourceState } from '@dubbo-mesh/control-plane';

const REGISTRY = { 'dubbo-mesh.io/registry': 'zookeeper' };
const USER_KEY = 'DubboService/default/user';

function located(raw: Record<string, unknown>, extra: Partial<LocatedResource>): LocatedResource {
  const result = validateResource(raw);
  if (!result.valid) throw new Error(result.errors.join('\n'));
  return { resource: result.result, raw, ...extra };
}

const serviceRaw = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'dubbo-mesh.io/v1alpha1', kind: 'DubboService', metadata: { name }, spec });
const mesh = (name: string, spec: Record<string, unknown>) => located(serviceRaw(name, spec), { origin: 'mesh.yaml' });
const imported = (name: string, spec: Record<string, unknown>) => located(serviceRaw(name, spec), { origin: `zookeeper application ${name}`, mergeable: true });
const route = located(
  {
    apiVersion: 'dubbo-mesh.io/v1alpha1',
    kind: 'DubboRoute',
    metadata: { name: 'to-user' },
    spec: { hosts: ['org.example.User'], routes: [{ name: 'all', destinations: [{ service: 'user', weight: 1 }] }] },
  },
  { origin: 'mesh.yaml' },
);

const twin = mesh('user', { interfaces: ['org.example.User'], endpoints: [{ address: '10.0.0.1:20880', labels: { side: 'mesh' } }] });
const importedUser = imported('user', {
  interfaces: ['org.example.User'],
  endpoints: [
    { address: '10.0.0.1:20880', labels: REGISTRY },
    { address: '10.0.0.2:20880', labels: REGISTRY },
  ],
});
const order = mesh('order', { interfaces: ['org.example.Order'] });

/** A source the test drives by hand. */
class ScriptedSource implements ConfigSource {
  private emitState: ((state: SourceState) => void) | undefined;
  constructor(
    readonly name: string,
    private readonly first: LocatedResource[],
  ) {}
  async start(emit: (state: SourceState) => void): Promise<void> {
    this.emitState = emit;
    emit({ kind: 'resources', resources: this.first });
  }
  async stop(): Promise<void> {}
  set(resources: LocatedResource[]): void {
    this.emitState!({ kind: 'resources', resources });
  }
  emit(state: SourceState): void {
    this.emitState!(state);
  }
}

/** A source whose objects stand alone, refused one by one (as the registry bridge's may). */
class GranularSource extends ScriptedSource {
  readonly refusal = 'resource' as const;
  readonly told: Array<ReadonlyMap<string, readonly string[]>> = [];
  onResourcesRefused(refused: ReadonlyMap<string, readonly string[]>): void {
    this.told.push(refused);
  }
}

async function builderWith(...sources: ScriptedSource[]) {
  const published: Snapshot[] = [];
  const refused: Refusal[] = [];
  const builder = new SnapshotBuilder({ published: (s) => published.push(s), refused: (r) => refused.push(r) });
  await builder.start(sources);
  return { builder, published, refused };
}

interface WireService {
  spec: { endpoints: Array<{ address: string; labels?: Record<string, string> }> };
}
const wireUser = (snapshot: Snapshot) => JSON.parse(snapshot.byKey.get(USER_KEY)!.json) as WireService;
const userConfig = (snapshot: Snapshot) => snapshot.config.services.find((s) => s.metadata.name === 'user')!;

t.test('a snapshot carries the merged service: both sets of endpoints, each source counting its own', async (t) => {
  const files = new ScriptedSource('files', [twin, route]);
  const registry = new ScriptedSource('zookeeper', [importedUser]);
  const { builder, refused } = await builderWith(files, registry);
  t.equal(refused.length, 0);
  const snapshot = builder.current!;
  t.equal(snapshot.counts.services, 1, 'one service, not two');
  t.equal(snapshot.counts.endpoints, 2);
  const wire = wireUser(snapshot);
  t.same(
    wire.spec.endpoints.map((e) => e.address),
    ['10.0.0.1:20880', '10.0.0.2:20880'],
    'the wire JSON has both sets',
  );
  t.same(wire.spec.endpoints[0]!.labels, { side: 'mesh' }, "the mesh's entry for an address both list");
  t.same(wire.spec.endpoints[1]!.labels, REGISTRY);
  const again = validateResource(wire);
  t.ok(again.valid, 'the wire form validates as a proxy would');
  if (again.valid) t.same(again.result, userConfig(snapshot), 'to the service in the snapshot');
  t.match(builder.sourceStatus(files), { state: 'ok', resources: 2 });
  t.match(builder.sourceStatus(registry), { state: 'ok', resources: 1 });
});

t.test('nothing changed, nothing re-encoded: the same version and the same wire resource', async (t) => {
  const files = new ScriptedSource('files', [twin, route]);
  const registry = new ScriptedSource('zookeeper', [importedUser]);
  const { builder, published } = await builderWith(files, registry);
  const first = builder.current!;
  registry.set([importedUser]);
  files.set([{ ...twin }, { ...route }]); // new wrappers around the same raw forms, as a rewritten file's other documents
  t.equal(published.length, 1, 'no new snapshot');
  t.equal(builder.current!.version, first.version);
  files.set([{ ...twin }, route, order]);
  t.equal(published.length, 2, 'another change: a new snapshot');
  const second = builder.current!;
  t.not(second.version, first.version);
  t.equal(second.byKey.get(USER_KEY), first.byKey.get(USER_KEY), 'the merged wire resource is the same object: its raw form was too');
  t.equal(userConfig(second), userConfig(first), 'and the same validated service');
});

t.test('the twin removed: the import stands alone; the twin back: merged again, the same as before', async (t) => {
  const files = new ScriptedSource('files', [twin, route]);
  const registry = new ScriptedSource('zookeeper', [importedUser]);
  const { builder, refused } = await builderWith(files, registry);
  const merged = builder.current!;
  files.set([route]);
  t.equal(refused.length, 0, 'the route still has its service: the import');
  const alone = builder.current!;
  t.not(alone.version, merged.version);
  t.equal(alone.byKey.get(USER_KEY)!.json, JSON.stringify(importedUser.raw), 'the import as its source gave it');
  t.same(
    userConfig(alone).endpoints.map((e) => e.address),
    ['10.0.0.1:20880', '10.0.0.2:20880'],
  );
  t.match(builder.sourceStatus(files), { state: 'ok', resources: 1 });
  files.set([twin, route]);
  t.equal(builder.current!.version, merged.version, 'the merged content again: the same version');
  t.equal(builder.current!.byKey.get(USER_KEY), merged.byKey.get(USER_KEY), 'and the same wire resource');
  registry.set([]);
  t.equal(wireUser(builder.current!).spec.endpoints.length, 1, "the import gone: the twin's endpoints alone");
  t.equal(builder.current!.byKey.get(USER_KEY)!.json, JSON.stringify(twin.raw));
});

t.test("an import that adds a key another mesh service holds: refused as the import's, the mesh's sources untouched", async (t) => {
  const files = new ScriptedSource('files', [twin, order, route]);
  const registry = new ScriptedSource('zookeeper', [importedUser]);
  const { builder, refused } = await builderWith(files, registry);
  const before = builder.current!;
  registry.set([imported('user', { interfaces: ['org.example.User', 'org.example.Order'], endpoints: [{ address: '10.0.0.3:20880' }] })]);
  t.equal(refused.length, 1);
  t.same(refused[0]!.origins, ['zookeeper application user'], 'the import, not the mesh file');
  t.equal(refused[0]!.source, 'zookeeper application user');
  t.match(refused[0]!.errors.join('\n'), /service key is already provided by DubboService/);
  t.equal(builder.current, before, 'the snapshot in force stays');
  t.match(builder.sourceStatus(files), { state: 'ok', lastRefusal: undefined });
  t.match(builder.sourceStatus(registry), { state: 'invalid', resources: 1 });
  registry.set([importedUser]);
  t.match(builder.sourceStatus(registry), { state: 'ok' });
  t.equal(builder.lastRefusal, undefined);

  // The twin's own conflict is the mesh file's.
  files.set([{ ...mesh('user', { interfaces: ['org.example.User', 'org.example.Order'] }) }, order, route]);
  t.equal(refused.length, 2);
  t.same(refused[1]!.origins, ['mesh.yaml']);
  t.match(builder.sourceStatus(files), { state: 'invalid' });
  t.match(builder.sourceStatus(registry), { state: 'ok' });
});

t.test('a source that refuses resource by resource: its import is left out, the twin stays in force alone', async (t) => {
  const files = new ScriptedSource('files', [order, twin, route]);
  const registry = new GranularSource('zookeeper', [importedUser, imported('audit', { interfaces: ['org.example.Audit'] })]);
  const { builder, refused } = await builderWith(files, registry);
  t.equal(builder.current!.counts.services, 3);
  registry.set([
    imported('user', { interfaces: ['org.example.Order'], endpoints: [{ address: '10.0.0.3:20880' }] }),
    imported('audit', { interfaces: ['org.example.Audit'] }),
  ]);
  t.equal(refused.length, 0, 'nothing refused as a whole');
  const told = registry.told.at(-1)!;
  t.same([...told.keys()], ['zookeeper application user']);
  t.match(told.get('zookeeper application user')!.join('\n'), /DubboService default\/user: spec\.interfaces\[1\]: service key is already provided/);
  t.same(
    userConfig(builder.current!).endpoints.map((e) => e.address),
    ['10.0.0.1:20880'],
    "the twin alone: the import's endpoints are not in force",
  );
  t.equal(wireUser(builder.current!).spec.endpoints.length, 1);
  t.match(builder.sourceStatus(registry), { state: 'ok', resources: 1 });
  t.match(builder.sourceStatus(files), { state: 'ok', resources: 3 });
});

t.test("a source's invalid state is reported without a merged service's name counted twice", async (t) => {
  const files = new ScriptedSource('files', [twin, route]);
  const registry = new ScriptedSource('zookeeper', [importedUser]);
  const { refused } = await builderWith(files, registry);
  files.emit({ kind: 'invalid', errors: ['mesh.yaml:9:1: spec.port: must be an integer'], origins: ['mesh.yaml'], resources: [twin, route] });
  t.equal(refused.length, 1);
  t.same(refused[0]!.errors, ['mesh.yaml:9:1: spec.port: must be an integer'], 'no "defined twice"');
});

t.test('the merged service is what the config holds: its endpoints name their keys once the import adds some', async (t) => {
  const files = new ScriptedSource('files', [twin]);
  const v2 = { interface: 'org.example.User', group: '', version: '2.0.0' };
  const registry = new ScriptedSource('zookeeper', [imported('user', { interfaces: [v2], endpoints: [{ address: '10.0.0.2:20880', labels: REGISTRY }] })]);
  const { builder } = await builderWith(files, registry);
  const user: DubboServiceConfig = userConfig(builder.current!);
  t.same(user.interfaces, [{ interface: 'org.example.User' }, v2]);
  t.same(
    user.endpoints.map((e) => [e.address, e.interfaces]),
    [
      ['10.0.0.1:20880', [{ interface: 'org.example.User' }]],
      ['10.0.0.2:20880', [v2]],
    ],
  );
  t.same(
    builder.current!.mappings.map((m) => `${m.interface}:${m.group}:${m.version} ${m.service}`),
    ['org.example.User:: default/user', 'org.example.User::2.0.0 default/user'],
  );
});
