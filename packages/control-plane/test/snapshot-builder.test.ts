// Merging sources: a service moved from one source to another arrives whole, and one
// source's conflict does not hold back the others' independent changes.
import t from 'tap';
import { validateResource, type LocatedResource } from '@dubbo-mesh/config';
import { SnapshotBuilder, type ConfigSource, type Refusal, type Snapshot, type SourceState } from '@dubbo-mesh/control-plane';

function service(name: string): LocatedResource {
  const raw = { apiVersion: 'dubbo-mesh.io/v1alpha1', kind: 'DubboService', metadata: { name }, spec: { interfaces: [`org.example.${name}`] } };
  const result = validateResource(raw);
  if (!result.valid) throw new Error(result.errors.join('\n'));
  return { resource: result.result, raw };
}

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
}

async function builderWith(...sources: ScriptedSource[]) {
  const published: Snapshot[] = [];
  const refused: Refusal[] = [];
  const builder = new SnapshotBuilder({ published: (s) => published.push(s), refused: (r) => refused.push(r) });
  await builder.start(sources);
  const names = () => [...(builder.current?.resources ?? [])].map((r) => r.name).sort();
  return { builder, published, refused, names };
}

t.test('a service moved between sources (written to the new one first) arrives whole when the old one catches up', async (t) => {
  const a = new ScriptedSource('a', [service('s')]);
  const b = new ScriptedSource('b', [service('t')]);
  const { refused, names } = await builderWith(a, b);
  t.same(names(), ['s', 't']);
  b.set([service('t'), service('s')]); // s defined twice for a moment
  t.equal(refused.length, 1, 'refused while s is in both');
  t.same(names(), ['s', 't'], 'the snapshot in force stays');
  a.set([]); // a catches up
  t.same(names(), ['s', 't'], 's is there, from b: the refused state of b was kept and merged again');
});

t.test("one source's conflict does not hold back another's independent change", async (t) => {
  const a = new ScriptedSource('a', [service('s')]);
  const b = new ScriptedSource('b', [service('t')]);
  const c = new ScriptedSource('c', [service('u')]);
  const { builder, names } = await builderWith(a, b, c);
  b.set([service('t'), service('s')]); // conflicts with a
  c.set([service('u'), service('v')]); // unrelated
  t.same(names(), ['s', 't', 'u', 'v'], "c's change is in force; b's waits");
  t.not(builder.lastRefusal, undefined, "b's refusal is still shown");
  b.set([service('t')]);
  t.same(names(), ['s', 't', 'u', 'v']);
  t.equal(builder.lastRefusal, undefined, 'cleared once every source is in force');
});

t.test('source status: a source refused with the others is invalid until its state is in force; the other stays ok', async (t) => {
  const a = new ScriptedSource('a', [service('s')]);
  const b = new ScriptedSource('b', [service('t')]);
  const { builder } = await builderWith(a, b);
  t.match(builder.sourceStatus(a), { name: 'a', type: 'other', state: 'ok', resources: 1, lastRefusal: undefined, error: undefined });
  b.set([service('t'), service('s')]);
  t.match(builder.sourceStatus(a), { state: 'ok', resources: 1, lastRefusal: undefined });
  const refused = builder.sourceStatus(b);
  t.match(refused, { state: 'invalid', resources: 1 }, 'its state in force (one resource) stays');
  t.match(refused.error, /DubboService default\/s/);
  t.same(refused.lastRefusal?.errors, builder.lastRefusal?.errors);
  b.set([service('t'), service('u')]);
  t.match(builder.sourceStatus(b), { state: 'ok', resources: 2, error: undefined });
  t.same(builder.sourceStatus(b).lastRefusal, refused.lastRefusal, 'the refusal is kept as history');
  builder.sourceStopped('b');
  t.match(builder.sourceStatus(b), { state: 'stopped', resources: 2 });
});

t.test('source status: an invalid first state; a conflict at start marks every source outside the merge', async (t) => {
  const broken: ConfigSource = {
    name: 'broken',
    type: 'file',
    start: async (emit) => emit({ kind: 'invalid', errors: ['x.yaml:3:1: first', 'x.yaml:4:1: second'], origins: ['x.yaml'] }),
    stop: async () => {},
  };
  const waiting: ConfigSource = { name: 'waiting', start: () => new Promise(() => {}), stop: async () => {} };
  const builder = new SnapshotBuilder({ published: () => {}, refused: () => {} });
  t.match(builder.sourceStatus(waiting), { state: 'starting', lastChange: undefined, resources: 0, error: undefined });
  await builder.start([broken]);
  const status = builder.sourceStatus(broken);
  t.match(status, { name: 'broken', type: 'file', state: 'invalid', resources: 0, error: 'x.yaml:3:1: first (and 1 more)' });
  t.same(status.lastRefusal?.origins, ['x.yaml']);
  t.ok(status.lastChange instanceof Date);

  const { builder: conflicting } = await builderWith(new ScriptedSource('one', [service('s')]), new ScriptedSource('two', [service('s')]));
  t.equal(conflicting.current, undefined, 'nothing published');
  for (const name of ['one', 'two']) {
    const s = conflicting.sourceStatus({ name, start: async () => {}, stop: async () => {} });
    t.equal(s.state, 'invalid', `${name} is outside the merge`);
    t.match(s.error, /DubboService default\/s/);
  }
});

/** A source whose objects stand alone (Kubernetes): refused one by one, told which. */
class GranularSource extends ScriptedSource {
  readonly refusal = 'resource' as const;
  readonly told: Array<ReadonlyMap<string, readonly string[]>> = [];
  onResourcesRefused(refused: ReadonlyMap<string, readonly string[]>): void {
    this.told.push(refused);
  }
}

function located(raw: Record<string, unknown>, origin: string): LocatedResource {
  const result = validateResource(raw);
  if (!result.valid) throw new Error(result.errors.join('\n'));
  return { resource: result.result, raw, origin };
}
const route = (name: string, service: string) =>
  located(
    {
      apiVersion: 'dubbo-mesh.io/v1alpha1',
      kind: 'DubboRoute',
      metadata: { name },
      spec: { hosts: ['org.example.x'], routes: [{ name: 'r', destinations: [{ service, weight: 1 }] }] },
    },
    `kubernetes DubboRoute default/${name}`,
  );
const svc = (name: string, origin: string) => ({ ...service(name), origin });

t.test('a source that refuses resource by resource: the resources at fault are left out, the rest goes in, the source is told and stays ok', async (t) => {
  const files = new ScriptedSource('files', [svc('s', 'mesh.yaml')]);
  // `t` claims the key files' `s` holds (the file wins: it comes first); `dangling` names a
  // service that does not exist; `to-t` names `t`, which is left out: so it goes too.
  const clash = located(
    { apiVersion: 'dubbo-mesh.io/v1alpha1', kind: 'DubboService', metadata: { name: 't' }, spec: { interfaces: ['org.example.s'] } },
    'kubernetes DubboService default/t',
  );
  const cluster = new GranularSource('kubernetes', [
    svc('u', 'kubernetes DubboService default/u'),
    clash,
    route('dangling', 'ghost'),
    route('to-t', 't'),
    route('to-u', 'u'),
  ]);
  const { builder, refused, names } = await builderWith(files, cluster);
  t.same(names(), ['s', 'to-u', 'u'], 'everything that holds is in force');
  t.equal(refused.length, 0, 'no change was refused as a whole');
  const told = cluster.told.at(-1)!;
  t.same([...told.keys()].sort(), ['kubernetes DubboRoute default/dangling', 'kubernetes DubboRoute default/to-t', 'kubernetes DubboService default/t']);
  t.match(told.get('kubernetes DubboRoute default/dangling')!.join('\n'), /DubboRoute default\/dangling: spec\.routes\[0\]\.destinations\[0\]\.service: /);
  t.match(
    told.get('kubernetes DubboService default/t')!.join('\n'),
    /DubboService default\/t: spec\.interfaces\[0\]: service key is already provided by DubboService s/,
  );
  const status = builder.sourceStatus(cluster);
  t.equal(status.state, 'ok', 'per-object refusals leave the source ok');
  t.equal(status.resources, 2);
  cluster.set([svc('u', 'kubernetes DubboService default/u'), route('to-u', 'u')]);
  t.same(cluster.told.at(-1), new Map(), 'told when nothing is refused any more');
  t.equal(builder.sourceStatus(files).state, 'ok');
});

t.test("a file naming a custom resource that is deleted does not freeze the cluster's other changes: its last version stays", async (t) => {
  const fileRoute = { ...route('by-file', 'k'), origin: 'mesh.yaml' };
  const files = new ScriptedSource('files', [fileRoute]);
  const endpointsOf = (address: string) =>
    located(
      {
        apiVersion: 'dubbo-mesh.io/v1alpha1',
        kind: 'DubboService',
        metadata: { name: 'user' },
        spec: { interfaces: ['org.example.user'], endpoints: [{ address }] },
      },
      'kubernetes DubboService default/user',
    );
  const k = svc('k', 'kubernetes DubboService default/k');
  const cluster = new GranularSource('kubernetes', [k, endpointsOf('10.0.0.5:20880')]);
  const held: string[][] = [];
  (cluster as unknown as { onResourcesHeld(items: LocatedResource[]): void }).onResourcesHeld = (items) =>
    held.push(items.map((i) => i.resource.metadata.name));
  const { builder, refused, names } = await builderWith(files, cluster);
  t.same(names(), ['by-file', 'k', 'user']);
  // `k` deleted, and user's pod replaced, in one change.
  cluster.set([endpointsOf('10.0.0.6:20880')]);
  t.equal(refused.length, 0, 'nothing refused as a whole');
  t.same(names(), ['by-file', 'k', 'user'], "k's last version stays: the file still names it");
  const user = builder.current!.config.services.find((s) => s.metadata.name === 'user')!;
  t.same(
    user.endpoints.map((e) => e.address),
    ['10.0.0.6:20880'],
    "the cluster's other change went in",
  );
  t.same(held.at(-1), ['k'], 'the source is told what is held');
  // The file stops naming k: it goes.
  files.set([]);
  t.same(names(), ['user']);
});

t.test('a change of another source does not tell a granular source its refusals are over', async (t) => {
  const files = new ScriptedSource('files', [svc('a', 'mesh.yaml'), route('r', 'k')]);
  const cluster = new GranularSource('kubernetes', [svc('k', 'kubernetes DubboService default/k'), route('bad', 'ghost')]);
  const { builder, names } = await builderWith(files, cluster);
  const told = () => [...cluster.told.at(-1)!.keys()];
  t.same(told(), ['kubernetes DubboRoute default/bad']);
  cluster.set([route('bad', 'ghost')]); // k deleted; the file's route still names it: held
  t.same(told(), ['kubernetes DubboRoute default/bad']);
  files.set([svc('a', 'mesh.yaml'), svc('b', 'mesh.yaml'), route('r', 'k')]);
  t.same(names(), ['a', 'b', 'k', 'r'], "the file's change is in, k held");
  t.same(told(), ['kubernetes DubboRoute default/bad'], 'the bad route is still refused, and the source still told so');
  t.equal(builder.sourceStatus(cluster).state, 'ok');
});
