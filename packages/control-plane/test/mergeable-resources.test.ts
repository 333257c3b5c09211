// Merging the registry bridge's imports into the mesh's services of the same name: endpoints
// appended (the mesh's entry wins), interfaces unioned with per-endpoint keys, positions,
// origins, caching by identity, and a result that validates as it is.
import t, { type Test } from 'tap';
import { checkCrossReferences, validateResource, type DubboServiceConfig, type LocatedResource } from '@dubbo-mesh/config';
import { mergeResources, mergedParts, resourcesAtFault } from '@dubbo-mesh/control-plane';

const REGISTRY = { 'dubbo-mesh.io/registry': 'zookeeper' };

function located(raw: Record<string, unknown>, extra: Partial<LocatedResource> = {}): LocatedResource {
  const result = validateResource(raw);
  if (!result.valid) throw new Error(result.errors.join('\n'));
  return { resource: result.result, raw, ...extra };
}

function serviceRaw(name: string, spec: Record<string, unknown>, namespace?: string): Record<string, unknown> {
  return { apiVersion: 'dubbo-mesh.io/v1alpha1', kind: 'DubboService', metadata: { name, ...(namespace === undefined ? {} : { namespace }) }, spec };
}

/** A mesh file's service: origin and locate name the file. */
function mesh(name: string, spec: Record<string, unknown>, namespace?: string): LocatedResource {
  return located(serviceRaw(name, spec, namespace), { origin: 'mesh.yaml', locate: (path) => `mesh.yaml:${path.join('.')}: ` });
}

/** The registry bridge's import of an application. */
function imported(name: string, spec: Record<string, unknown>, namespace?: string): LocatedResource {
  return located(serviceRaw(name, spec, namespace), {
    origin: `zookeeper application ${name}`,
    locate: (path) => `zookeeper ${name}:${path.join('.')}: `,
    mergeable: true,
  });
}

const service = (item: LocatedResource) => item.resource as DubboServiceConfig;
const addresses = (item: LocatedResource) => service(item).endpoints.map((e) => e.address);

/** The merged resource's raw form validates to exactly its validated form. */
function validatesAsItIs(t: Test, item: LocatedResource): void {
  const again = validateResource(JSON.parse(JSON.stringify(item.raw)));
  t.ok(again.valid, again.valid ? 'the raw form validates' : again.errors.join('\n'));
  if (again.valid) t.same(again.result, item.resource, 'to the merged service');
}

t.test('endpoints: the twin first, then the imported ones whose address it does not list (its entry wins)', async (t) => {
  const twin = mesh('user', {
    interfaces: ['org.example.User'],
    endpoints: [{ address: '10.0.0.1:20880', labels: { side: 'mesh' } }, { address: '10.0.0.2:20880' }],
  });
  const imp = imported('user', {
    interfaces: ['org.example.User'],
    endpoints: [
      { address: '10.0.0.2:20880', labels: { ...REGISTRY, side: 'registry' }, weight: 5 },
      { address: '10.0.0.3:20880', labels: REGISTRY },
    ],
  });
  const result = mergeResources([twin, imp]);
  t.equal(result.length, 1, 'the import disappears');
  const merged = result[0]!;
  t.same(addresses(merged), ['10.0.0.1:20880', '10.0.0.2:20880', '10.0.0.3:20880']);
  t.same(service(merged).endpoints[1], service(twin).endpoints[1], "the twin's entry for a shared address");
  t.same(service(merged).endpoints[2]!.labels, REGISTRY);
  t.same(service(merged).interfaces, [{ interface: 'org.example.User' }], 'the same keys: no union');
  t.ok(
    service(merged).endpoints.every((e) => e.interfaces === undefined),
    'no endpoint names keys: every one serves every key',
  );
  t.equal(merged.origin, 'mesh.yaml');
  t.notOk(merged.mergeable);
  t.ok(Object.isFrozen(merged.resource) && Object.isFrozen(service(merged).endpoints) && Object.isFrozen(service(merged).endpoints[2]));
  validatesAsItIs(t, merged);
  t.same(mergedParts(merged), { twin, imports: [imp] });
  t.equal(mergedParts(twin), undefined);
});

t.test('interfaces: unioned (absent and empty differ); each side names its keys once the union has more', async (t) => {
  const twin = mesh('user', {
    port: 20880,
    interfaces: ['org.example.User', 'org.example.Audit'],
    endpoints: [{ address: '10.0.0.1:20880' }, { address: '10.0.0.2:20880', interfaces: ['org.example.Audit'] }],
  });
  const v1 = { interface: 'org.example.User', group: '', version: '1.0' };
  const v2 = { interface: 'org.example.User', group: '', version: '2.0' };
  const imp = imported('user', {
    interfaces: [v1, v2, 'org.example.Audit'],
    endpoints: [
      { address: '10.0.0.3:20880', labels: REGISTRY },
      { address: '10.0.0.4:20880', labels: REGISTRY, interfaces: [v2] },
    ],
  });
  const merged = mergeResources([twin, imp])[0]!;
  t.same(service(merged).interfaces, [{ interface: 'org.example.User' }, { interface: 'org.example.Audit' }, v1, v2], 'the twin’s, then the new ones');
  t.same(
    service(merged).endpoints.map((e) => e.interfaces),
    [
      [{ interface: 'org.example.User' }, { interface: 'org.example.Audit' }],
      [{ interface: 'org.example.Audit' }],
      [v1, v2, { interface: 'org.example.Audit' }],
      [v2],
    ],
    "the twin's endpoints get its keys, the imported ones the import's; named keys stay",
  );
  t.equal(service(merged).port, 20880, "the twin's port");
  validatesAsItIs(t, merged);
  const raw = merged.raw as { spec: { interfaces: unknown[]; endpoints: Array<{ interfaces?: unknown }> } };
  t.same(raw.spec.interfaces, ['org.example.User', 'org.example.Audit', v1, v2], 'the raw form keeps how each side wrote its keys');
  t.same(raw.spec.endpoints[0]!.interfaces, ['org.example.User', 'org.example.Audit']);
});

t.test("an import with fewer keys than its twin: its endpoints name the keys they serve; the twin's stay as they are", async (t) => {
  const twin = mesh('user', { interfaces: ['org.example.User', 'org.example.Audit'], endpoints: [{ address: '10.0.0.1:20880' }] });
  const imp = imported('user', { interfaces: ['org.example.User'], endpoints: [{ address: '10.0.0.3:20880', labels: REGISTRY }] });
  const merged = mergeResources([twin, imp])[0]!;
  t.same(service(merged).interfaces, service(twin).interfaces);
  t.same(
    service(merged).endpoints.map((e) => e.interfaces),
    [undefined, [{ interface: 'org.example.User' }]],
  );
  validatesAsItIs(t, merged);
});

t.test('no twin, two twins, two imports: what does not pair stays as it is (the same objects)', async (t) => {
  const lonely = imported('lonely', { interfaces: ['org.example.Lonely'], endpoints: [{ address: '10.0.0.9:1' }] });
  const other = mesh('other', { interfaces: ['org.example.Other'] });
  const alone = mergeResources([other, lonely]);
  t.same(alone, [other, lonely]);
  t.equal(alone[1], lonely, 'an import without a twin stands alone, unchanged');

  const a = mesh('user', { interfaces: ['org.example.User'] });
  const b = { ...mesh('user', { interfaces: ['org.example.User2'] }), origin: 'other.yaml' };
  const imp = imported('user', { interfaces: ['org.example.User'], endpoints: [{ address: '10.0.0.3:1' }] });
  const twoTwins = mergeResources([a, imp, b]);
  t.equal(twoTwins.length, 3, 'two twins: nothing merged');
  t.ok(
    twoTwins.every((item, i) => item === [a, imp, b][i]),
    'the same objects',
  );
  t.match(checkCrossReferences(twoTwins).errors.join('\n'), /is defined twice/);

  const i1 = imported('app', { interfaces: ['org.example.A'] });
  const i2 = { ...imported('app', { interfaces: ['org.example.A'] }), origin: 'zookeeper two' };
  const twoImports = mergeResources([i1, i2]);
  t.ok(twoImports[0] === i1 && twoImports[1] === i2, 'two imports and no twin: both stay');
  t.match(checkCrossReferences(twoImports).errors.join('\n'), /DubboService default\/app: metadata\.name: is defined twice/);

  const twin = mesh('app', { interfaces: ['org.example.A'], endpoints: [{ address: '10.0.0.1:1' }] });
  const j1 = imported('app', { interfaces: ['org.example.A'], endpoints: [{ address: '10.0.0.2:1' }] });
  const j2 = { ...imported('app', { interfaces: ['org.example.B'], endpoints: [{ address: '10.0.0.3:1' }] }), origin: 'zookeeper two' };
  const both = mergeResources([j1, twin, j2]);
  t.equal(both.length, 1, 'two imports and one twin: both join it');
  t.same(addresses(both[0]!), ['10.0.0.1:1', '10.0.0.2:1', '10.0.0.3:1']);
  t.same(service(both[0]!).interfaces, [{ interface: 'org.example.A' }, { interface: 'org.example.B' }]);
  t.same(mergedParts(both[0]!), { twin, imports: [j1, j2] });
  validatesAsItIs(t, both[0]!);
});

t.test("order and kinds: the merged service takes the twin's place; other namespaces and kinds are never merged", async (t) => {
  const first = mesh('first', { interfaces: ['org.example.First'] });
  const imp = imported('user', { interfaces: ['org.example.User'], endpoints: [{ address: '10.0.0.3:1' }] });
  const twin = mesh('user', { interfaces: ['org.example.User'] });
  const elsewhere = imported('user', { interfaces: ['org.example.User'] }, 'other');
  const routeRaw = (mergeable: boolean) =>
    located(
      {
        apiVersion: 'dubbo-mesh.io/v1alpha1',
        kind: 'DubboRoute',
        metadata: { name: 'r' },
        spec: { hosts: ['org.example.User'], routes: [{ name: 'all', destinations: [{ service: 'user', weight: 1 }] }] },
      },
      mergeable ? { mergeable: true } : {},
    );
  const route = routeRaw(false);
  const mergeableRoute = routeRaw(true);
  const last = mesh('last', { interfaces: ['org.example.Last'] });
  const result = mergeResources([imp, first, route, twin, elsewhere, mergeableRoute, last]);
  t.same(
    result.map((item) => `${item.resource.kind} ${item.resource.metadata.namespace}/${item.resource.metadata.name}`),
    [
      'DubboService default/first',
      'DubboRoute default/r',
      'DubboService default/user',
      'DubboService other/user',
      'DubboRoute default/r',
      'DubboService default/last',
    ],
  );
  t.equal(result[0], first);
  t.equal(result[1], route);
  t.same(addresses(result[2]!), ['10.0.0.3:1']);
  t.equal(result[3], elsewhere, 'another namespace: no twin');
  t.equal(result[4], mergeableRoute, 'a DubboRoute is never merged');
  const none = [first, route, last];
  t.equal(mergeResources(none), none, 'nothing mergeable: the same list');
});

t.test('cached by the identity of the two inputs: an unchanged pair gives the same object', async (t) => {
  const twin = mesh('user', { interfaces: ['org.example.User'], endpoints: [{ address: '10.0.0.1:1' }] });
  const imp = imported('user', { interfaces: ['org.example.User'], endpoints: [{ address: '10.0.0.2:1' }] });
  const once = mergeResources([twin, imp])[0]!;
  t.equal(mergeResources([twin, imp])[0], once, 'the same merged resource');
  const rewrapped = mergeResources([{ ...twin }, { ...imp }])[0]!;
  t.not(rewrapped, once, 'new wrappers: a new located resource');
  t.equal(rewrapped.raw, once.raw, 'but the same raw form (no re-encoding)');
  t.equal(rewrapped.resource, once.resource, 'and the same validated service (an incremental check)');
  const changed = imported('user', { interfaces: ['org.example.User'], endpoints: [{ address: '10.0.0.3:1' }] });
  const other = mergeResources([twin, changed])[0]!;
  t.not(other.raw, once.raw, 'a changed import: a new raw form');
  t.same(addresses(other), ['10.0.0.1:1', '10.0.0.3:1']);
});

t.test("the twin's raw envelope is kept; an import without a raw form still merges into one that validates", async (t) => {
  const raw = {
    ...serviceRaw('user', { interfaces: ['org.example.User'], endpoints: [{ address: '10.0.0.1:1' }] }),
    metadata: { name: 'user', namespace: 'default', resourceVersion: '42', uid: 'abc' },
  };
  const twin = located(raw, { origin: 'kubernetes DubboService default/user' });
  const noRaw = imported('user', {
    interfaces: [{ interface: 'org.example.User', group: '', version: '' }],
    endpoints: [{ address: '10.0.0.2:1', labels: REGISTRY }],
  });
  const merged = mergeResources([twin, { ...noRaw, raw: undefined }])[0]!;
  t.same((merged.raw as { metadata: unknown }).metadata, raw.metadata, "the twin's metadata as its source gave it");
  t.same(service(merged).interfaces, [{ interface: 'org.example.User' }, { interface: 'org.example.User', group: '', version: '' }]);
  validatesAsItIs(t, merged);
});

t.test("errors: the twin's fields name the twin, the imported part names the import", async (t) => {
  const twin = mesh('user', { interfaces: ['org.example.User'], endpoints: [{ address: '10.0.0.1:1' }] });
  const imp = imported('user', {
    interfaces: ['org.example.User', 'org.example.Order'],
    endpoints: [{ address: '10.0.0.1:1' }, { address: '10.0.0.2:1' }],
  });
  const merged = mergeResources([twin, imp])[0]!;
  t.equal(merged.locate!(['spec', 'interfaces', 0]), 'mesh.yaml:spec.interfaces.0: ');
  t.equal(merged.locate!(['spec', 'interfaces', 1]), 'zookeeper user:spec.interfaces.1: ');
  t.equal(merged.locate!(['spec', 'endpoints', 1, 'address']), 'zookeeper user:spec.endpoints.1.address: ', 'the index in the import');
  t.equal(merged.locate!(['metadata', 'name']), 'mesh.yaml:metadata.name: ');
});

t.test('resources at fault: an import that adds a key another service holds is blamed, not its twin nor that service', async (t) => {
  const order = mesh('order', { interfaces: ['org.example.Order'] });
  const twin = mesh('user', { interfaces: ['org.example.User'] });
  const imp = imported('user', { interfaces: ['org.example.User', 'org.example.Order'] });
  for (const items of [mergeResources([order, twin, imp]), mergeResources([twin, imp, order])]) {
    const { errors, offending } = checkCrossReferences(items);
    t.match(errors.join('\n'), /service key is already provided by DubboService/);
    t.same(resourcesAtFault(items, offending), [imp], 'the import, whichever came first');
  }
  const clash = mesh('user', { interfaces: ['org.example.User', 'org.example.Order'] });
  const items = mergeResources([order, clash, imp]);
  t.same(resourcesAtFault(items, checkCrossReferences(items).offending), [clash], "the twin's own conflict is the twin's");
  const plain = [order, { ...order, origin: 'again.yaml' }];
  t.same(resourcesAtFault(plain, checkCrossReferences(plain).offending), [plain[1]], 'nothing merged: the offending as they are');
});
