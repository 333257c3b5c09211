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
  constructor(readonly name: string, private readonly first: LocatedResource[]) {}
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
