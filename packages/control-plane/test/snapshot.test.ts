// Typed snapshots (resources by type, a version per type) and the dubbo-mesh discovery view
// that encodes them: what travels, decoded as a proxy decodes it.
import t from 'tap';
import { validateResource, type LocatedResource } from '@dubbo-mesh/config';
import { PreEncodedResponse, discoveryServiceDefinition, type DeltaDiscoveryResponse, type DiscoveryResponse } from '@dubbo-mesh/discovery';
import { DubboMeshDiscoveryView, LargeResponseSlots, Snapshot } from '@dubbo-mesh/control-plane';

const raws = new Map<string, LocatedResource>();
/** A validated resource, the same object for the same content (as a source's YAML cache hands it). */
function resource(raw: Record<string, unknown>): LocatedResource {
  const key = JSON.stringify(raw);
  let located = raws.get(key);
  if (located === undefined) {
    const result = validateResource(raw);
    if (!result.valid) throw new Error(result.errors.join('\n'));
    raws.set(key, (located = { resource: result.result, raw }));
  }
  return located;
}
const service = (name: string, port = 20880) =>
  resource({
    apiVersion: 'dubbo-mesh.io/v1alpha1',
    kind: 'DubboService',
    metadata: { name },
    spec: { interfaces: [`org.example.${name}`], endpoints: [{ address: `127.0.0.1:${port}`, labels: { version: 'v1' } }] },
  });
const policy = (name: string) =>
  resource({
    apiVersion: 'dubbo-mesh.io/v1alpha1',
    kind: 'DubboPolicy',
    metadata: { name },
    spec: { service: name, subsets: [{ name: 'v1', labels: { version: 'v1' } }] },
  });
const route = (name: string, weight = 100) =>
  resource({
    apiVersion: 'dubbo-mesh.io/v1alpha1',
    kind: 'DubboRoute',
    metadata: { name },
    spec: { hosts: [`org.example.${name}`], routes: [{ destinations: [{ service: name, weight }] }] },
  });

function snapshot(items: LocatedResource[]): Snapshot {
  const created = Snapshot.create(items);
  if (!created.valid) throw new Error(created.errors.join('\n'));
  return created.snapshot;
}

const definition = discoveryServiceDefinition();
const decodeWhole = (bytes: Buffer) => definition.StreamSnapshots!.responseDeserialize(new PreEncodedResponse(bytes, '1').encode()) as DiscoveryResponse;
const decodeDelta = (bytes: Buffer) => definition.DeltaSnapshots!.responseDeserialize(new PreEncodedResponse(bytes, '1').encode()) as DeltaDiscoveryResponse;
const names = (response: { resources: Array<{ kind: string; name: string }> }) => response.resources.map((r) => `${r.kind}/${r.name}`).sort();

t.test('a snapshot groups its resources by type, each type with a version of its own', async (t) => {
  const a = snapshot([service('users'), route('users'), service('orders'), policy('users')]);
  t.same([...a.types.keys()], ['DubboPolicy', 'DubboRoute', 'DubboService'], 'types by name');
  t.same(
    a.resourcesOf('DubboService').map((r) => r.name),
    ['users', 'orders'],
  );
  t.same(
    a.resources.map((r) => `${r.kind}/${r.name}`),
    ['DubboPolicy/users', 'DubboRoute/users', 'DubboService/users', 'DubboService/orders'],
    'every resource, type after type',
  );
  const reordered = snapshot([policy('users'), service('users'), service('orders'), route('users')]);
  t.equal(reordered.version, a.version, 'the same resources listed kind by kind in another order: the same version');
  t.same(a.resourcesOf('DubboGateway'), [], 'a type the snapshot has none of');
  t.equal(a.typeVersion('DubboGateway'), undefined);
  t.equal(a.types.get('DubboRoute')!.byKey.get('DubboRoute/default/users')?.name, 'users');
  t.ok(Object.isFrozen(a), 'immutable');

  const b = snapshot([service('users'), route('users', 50), service('orders'), policy('users')]);
  t.not(b.version, a.version);
  t.not(b.typeVersion('DubboRoute'), a.typeVersion('DubboRoute'), 'the changed type has a new version');
  t.equal(b.typeVersion('DubboService'), a.typeVersion('DubboService'), 'the others keep theirs');
  t.equal(b.typeVersion('DubboPolicy'), a.typeVersion('DubboPolicy'));
  t.equal(b.resourcesOf('DubboService')[0], a.resourcesOf('DubboService')[0], "an unchanged resource's wire form is reused");
  t.equal(snapshot([service('users'), route('users'), service('orders'), policy('users')]).version, a.version, 'equal content, equal version');
  t.not(snapshot([service('users'), route('users'), service('orders')]).version, a.version, 'a type gone changes the version');
});

t.test('the view sends the whole snapshot on state-of-the-world streams, encoded once per snapshot', async (t) => {
  const view = new DubboMeshDiscoveryView();
  const a = snapshot([service('users'), policy('users'), route('users')]);
  const bytes = view.response(a, { mode: 'sotw' }, new Map());
  t.equal(view.response(a, { mode: 'sotw' }, new Map()), bytes, 'the same bytes for every stream');
  const decoded = decodeWhole(bytes);
  t.equal(decoded.version_info, a.version);
  t.equal(view.versionOf(a), a.version);
  t.same(names(decoded), ['DubboPolicy/users', 'DubboRoute/users', 'DubboService/users']);
  t.same(
    decoded.mappings.map((m) => `${m.interface}→${m.service}`),
    ['org.example.users→default/users'],
  );
  t.same(Object.keys(view.methods), ['StreamSnapshots', 'DeltaSnapshots']);
  t.same(view.methods.DeltaSnapshots, { mode: 'delta' });
});

t.test('a delta from a held snapshot sends what changed, type by type, and the keys removed; the same as from the versions it reported', async (t) => {
  const view = new DubboMeshDiscoveryView();
  const a = snapshot([service('users'), service('orders'), policy('users'), route('users')]);
  const cases: Array<[string, Snapshot, string[], string[]]> = [
    ['one route changed', snapshot([service('users'), service('orders'), policy('users'), route('users', 50)]), ['DubboRoute/users'], []],
    [
      'a type gone, a service changed',
      snapshot([service('users', 1), service('orders'), route('users')]),
      ['DubboService/users'],
      ['DubboPolicy/default/users'],
    ],
    [
      'a service removed and one added',
      snapshot([service('users'), service('payments'), policy('users'), route('users')]),
      ['DubboService/payments'],
      ['DubboService/default/orders'],
    ],
    ['nothing changed', snapshot([service('users'), service('orders'), policy('users'), route('users')]), [], []],
  ];
  for (const [what, b, changed, removed] of cases) {
    const fromSnapshot = decodeDelta(view.response(b, { mode: 'delta' }, a));
    t.same(names(fromSnapshot), changed, `${what}: changed`);
    t.same(fromSnapshot.removed_resources.sort(), removed, `${what}: removed`);
    t.equal(fromSnapshot.version_info, b.version);
    const fromVersions = decodeDelta(view.response(b, { mode: 'delta' }, new Map(a.versions)));
    t.same(names(fromVersions), changed, `${what}: the same from reported versions`);
    t.same(fromVersions.removed_resources.sort(), removed);
    t.equal(view.delta(b, a), view.delta(b, a), `${what}: encoded once per pair`);
  }
  const fromNothing = view.delta(a, new Map());
  t.equal(view.delta(a, new Map()), fromNothing, 'to a proxy holding nothing: the same bytes for every stream');
  t.same(names(decodeDelta(fromNothing)), ['DubboPolicy/users', 'DubboRoute/users', 'DubboService/orders', 'DubboService/users']);
});

t.test('large-response slots: taken up to the limit, waiters called as slots come back', async (t) => {
  const slots = new LargeResponseSlots(2);
  t.ok(slots.tryTake());
  t.ok(slots.tryTake());
  t.notOk(slots.tryTake(), 'none free');
  const called: string[] = [];
  slots.wait(() => called.push('closed stream')); // takes nothing: the next waiter is called too
  slots.wait(() => {
    called.push('second');
    t.ok(slots.tryTake());
  });
  slots.wait(() => called.push('third'));
  slots.give();
  t.same(called, ['closed stream', 'second'], 'called until the freed slot is taken again');
  t.equal(slots.taken, 2);
  slots.give();
  t.same(called, ['closed stream', 'second', 'third']);
  t.equal(slots.taken, 1);
});
