// The fake Kubernetes API server driven by the real @kubernetes/client-node 1.4.0: informers
// (makeInformer/ListWatch), the generated typed APIs, CustomObjectsApi on a CRD with a status
// subresource, Leases with MicroTime, label selectors, stop/restart and silenced watches.
import * as k8s from '@kubernetes/client-node';
import t, { type Test } from 'tap';
import { eventually } from '@dubbo-mesh/test-support';
import { startFakeKubeApiServer, type FakeKubeApiServer, type FakeKubeApiServerOptions, type FakeKubeObject } from '@dubbo-mesh/test-support/fake-kube';

const ROUTE_TYPE = { group: 'dubbo-mesh.io', version: 'v1alpha1', plural: 'dubboroutes', kind: 'DubboRoute', namespaced: true, statusSubresource: true };

async function fakeServer(t: Test, options?: FakeKubeApiServerOptions): Promise<FakeKubeApiServer> {
  const server = await startFakeKubeApiServer(options);
  t.teardown(() => server.close());
  return server;
}

function pod(name: string, labels?: Record<string, string>, namespace = 'default'): FakeKubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, ...(labels ? { labels } : {}) },
    spec: { containers: [{ name: 'app', image: 'app:1' }] },
  };
}

// An informer on pods recording its callbacks as lines ("add a", "delete b").
async function podInformer(t: Test, server: FakeKubeApiServer, labelSelector?: string) {
  const config = server.kubeConfig();
  const core = config.makeApiClient(k8s.CoreV1Api);
  const informer = k8s.makeInformer(
    config,
    '/api/v1/namespaces/default/pods',
    () => core.listNamespacedPod({ namespace: 'default', labelSelector }),
    labelSelector,
  );
  const events: string[] = [];
  const errors: unknown[] = [];
  informer.on('add', (object) => events.push(`add ${object.metadata?.name}`));
  informer.on('update', (object) => events.push(`update ${object.metadata?.name}`));
  informer.on('delete', (object) => events.push(`delete ${object.metadata?.name}`));
  informer.on('error', (error) => errors.push(error));
  let stopped = false;
  t.teardown(async () => {
    if (!stopped) await informer.stop();
  });
  await informer.start();
  return {
    informer,
    events,
    errors,
    stop: async () => {
      stopped = true;
      await informer.stop();
    },
  };
}

// The status code and parsed Status body of a call the client refused (client-node 1.x keeps the body as text).
async function refusal(call: Promise<unknown>): Promise<{ code: number; body: { reason?: string; message?: string; details?: unknown; code?: number } }> {
  try {
    await call;
  } catch (error) {
    if (!(error instanceof k8s.ApiException)) throw error;
    return { code: error.code, body: JSON.parse(error.body as string) };
  }
  throw new Error('the call succeeded');
}

const watches = (server: FakeKubeApiServer) => server.requests.filter((request) => request.query.watch === 'true');
const lists = (server: FakeKubeApiServer, path: string) =>
  server.requests.filter((request) => request.method === 'GET' && request.path === path && request.query.watch === undefined);

t.test('an informer sees adds, updates and deletes, and re-lists after compact() to find the deletes it missed', async (t) => {
  const server = await fakeServer(t);
  server.create(pod('a'));
  const { events, errors } = await podInformer(t, server);
  await eventually(() => server.watchCount() === 1, 'the informer to watch');
  t.same(events, ['add a'], 'the list');

  server.create(pod('b'));
  await eventually(() => events.includes('add b'), 'add b');
  server.patch('v1', 'Pod', 'default', 'a', { metadata: { labels: { role: 'web' } } });
  await eventually(() => events.includes('update a'), 'update a');
  server.remove('v1', 'Pod', 'default', 'b');
  await eventually(() => events.includes('delete b'), 'delete b');
  t.same(events, ['add a', 'add b', 'update a', 'delete b']);
  t.equal(watches(server)[0]!.query.resourceVersion, '2', 'the watch starts at the list resourceVersion');

  // Changes the watch never carries, then history forgotten: the resumed watch is told 410,
  // the informer lists again and diffs, so the delete of `a` still fires.
  server.silenceWatches();
  server.create(pod('c'));
  server.remove('v1', 'Pod', 'default', 'a');
  server.compact();
  server.closeWatches();
  await eventually(() => events.includes('delete a') && events.includes('add c'), 'the re-list');
  t.same(events.slice(4).sort(), ['add c', 'delete a']);
  t.equal(lists(server, '/api/v1/namespaces/default/pods').length, 2, 'listed again once');
  const resumed = watches(server)[1]!;
  t.equal(resumed.status, 200, 'the too-old watch is answered 200 with an ERROR event (the watch cache way)');
  t.equal(resumed.query.resourceVersion, '5', 'resumed from the last version the informer saw');
  await eventually(() => server.watchCount() === 1, 'the informer to watch again');
  t.same(errors, []);
});

t.test('an informer re-lists on an HTTP 410 for its watch as well', async (t) => {
  const server = await fakeServer(t, { tooOldMode: 'http' });
  server.create(pod('a'));
  const { events, errors } = await podInformer(t, server);
  await eventually(() => server.watchCount() === 1, 'the informer to watch');
  server.silenceWatches();
  server.remove('v1', 'Pod', 'default', 'a');
  server.compact();
  server.closeWatches();
  await eventually(() => events.includes('delete a'), 'the delete found by the re-list');
  t.equal(watches(server)[1]!.status, 410);
  t.same(errors, []);

  server.failNext({ path: '/api/v1/namespaces/default/pods', watch: true }, 410);
  server.closeWatches();
  await eventually(() => lists(server, '/api/v1/namespaces/default/pods').length === 3, 'a third list after the injected 410');
  t.same(errors, []);
});

t.test('CoreV1Api: create, read, replace, patch (JSON patch and merge patch) and delete, and the refusals as ApiException', async (t) => {
  const server = await fakeServer(t);
  const core = server.kubeConfig().makeApiClient(k8s.CoreV1Api);
  const service = await core.createNamespacedService({
    namespace: 'default',
    body: {
      metadata: { name: 'users', labels: { app: 'users' } },
      spec: { ports: [{ name: 'dubbo', port: 20880 }] },
      status: { loadBalancer: { ingress: [{ ip: '1.2.3.4' }] } },
    },
  });
  t.equal(service.kind, 'Service');
  t.equal(service.metadata?.namespace, 'default');
  t.match(service.metadata?.uid, /^[0-9a-f-]{36}$/);
  t.match(service.metadata?.creationTimestamp, Date, 'creationTimestamp decodes as a date');
  t.equal(service.metadata?.generation, undefined, 'services carry no generation');
  t.same(service.status, undefined, 'a POST drops status: it is a subresource');

  const read = await core.readNamespacedService({ namespace: 'default', name: 'users' });
  t.equal(read.metadata?.resourceVersion, service.metadata?.resourceVersion);

  read.spec!.ports![0]!.port = 20881;
  const replaced = await core.replaceNamespacedService({ namespace: 'default', name: 'users', body: read });
  t.equal(replaced.spec?.ports?.[0]?.port, 20881);
  t.not(replaced.metadata?.resourceVersion, read.metadata?.resourceVersion);
  const stale = await refusal(core.replaceNamespacedService({ namespace: 'default', name: 'users', body: read }));
  t.equal(stale.code, 409);
  t.match(stale.body, {
    reason: 'Conflict',
    message: 'Operation cannot be fulfilled on services "users": the object has been modified; please apply your changes to the latest version and try again',
    details: { name: 'users', kind: 'services' },
    code: 409,
  });

  // client-node 1.4.0 sends application/json-patch+json unless told otherwise.
  const jsonPatched = await core.patchNamespacedService({
    namespace: 'default',
    name: 'users',
    body: [{ op: 'add', path: '/metadata/labels/tier', value: 'backend' }],
  });
  t.same(jsonPatched.metadata?.labels, { app: 'users', tier: 'backend' });
  t.equal(server.requests.at(-1)!.method, 'PATCH');
  const merged = await core.patchNamespacedService(
    { namespace: 'default', name: 'users', body: { metadata: { labels: { tier: null, zone: 'a' } } } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
  );
  t.same(merged.metadata?.labels, { app: 'users', zone: 'a' });
  const strategic = await refusal(
    core.patchNamespacedService(
      { namespace: 'default', name: 'users', body: { metadata: {} } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch),
    ),
  );
  t.equal(strategic.code, 415, 'strategic merge patch is not implemented, and says so');
  const failedTest = await refusal(
    core.patchNamespacedService({ namespace: 'default', name: 'users', body: [{ op: 'test', path: '/metadata/labels/app', value: 'other' }] }),
  );
  t.equal(failedTest.code, 422);

  const missing = await refusal(core.readNamespacedPod({ namespace: 'default', name: 'nope' }));
  t.equal(missing.code, 404);
  t.match(missing.body, { reason: 'NotFound', message: 'pods "nope" not found', details: { name: 'nope', kind: 'pods' }, code: 404 });

  await core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'p' }, spec: { containers: [{ name: 'app', image: 'app:1' }] } } });
  const duplicate = await refusal(core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'p' }, spec: { containers: [] } } }));
  t.equal(duplicate.code, 409);
  t.match(duplicate.body, { reason: 'AlreadyExists', message: 'pods "p" already exists' });
  const wrongNamespace = await refusal(
    core.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'q', namespace: 'other' }, spec: { containers: [] } } }),
  );
  t.equal(wrongNamespace.code, 400);

  const deletedPod = await core.deleteNamespacedPod({ namespace: 'default', name: 'p' });
  t.equal(deletedPod.kind, 'Pod', 'a pod DELETE answers the pod');
  t.equal(await refusal(core.deleteNamespacedPod({ namespace: 'default', name: 'p' })).then((r) => r.code), 404);
  t.equal(server.get('v1', 'Pod', 'default', 'p'), undefined);

  const namespaces = await core.listNamespace();
  t.same(namespaces.items, [], 'namespaces are not required to exist, and none are made up');
});

t.test('CustomObjectsApi on a CRD with a status subresource: status is written through /status only, generation follows spec', async (t) => {
  const server = await fakeServer(t, { types: [ROUTE_TYPE] });
  const custom = server.kubeConfig().makeApiClient(k8s.CustomObjectsApi);
  const where = { group: 'dubbo-mesh.io', version: 'v1alpha1', namespace: 'default', plural: 'dubboroutes' };
  const created = await custom.createNamespacedCustomObject({
    ...where,
    body: { apiVersion: 'dubbo-mesh.io/v1alpha1', kind: 'DubboRoute', metadata: { name: 'r' }, spec: { weight: 1 }, status: { made: 'up' } },
  });
  t.match(created, {
    apiVersion: 'dubbo-mesh.io/v1alpha1',
    kind: 'DubboRoute',
    metadata: { name: 'r', namespace: 'default', generation: 1 },
    spec: { weight: 1 },
  });
  t.equal(created.status, undefined, 'a create does not set status');

  const list = await custom.listNamespacedCustomObject(where);
  t.match(list, {
    apiVersion: 'dubbo-mesh.io/v1alpha1',
    kind: 'DubboRouteList',
    metadata: { resourceVersion: String },
    items: [{ apiVersion: 'dubbo-mesh.io/v1alpha1', kind: 'DubboRoute' }],
  });

  const accepted = { conditions: [{ type: 'Accepted', status: 'True', reason: 'Valid', observedGeneration: 1 }] };
  const withStatus = await custom.replaceNamespacedCustomObjectStatus({ ...where, name: 'r', body: { ...created, spec: { weight: 99 }, status: accepted } });
  t.same(withStatus.status, accepted);
  t.same(withStatus.spec, { weight: 1 }, 'a status write leaves spec alone');
  t.equal(withStatus.metadata.generation, 1, 'and the generation');

  const patchedStatus = await custom.patchNamespacedCustomObjectStatus(
    {
      ...where,
      name: 'r',
      body: { status: { conditions: [{ type: 'Accepted', status: 'False', reason: 'Invalid', message: 'spec.weight: must be <= 100' }] } },
    },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
  );
  t.equal(patchedStatus.status.conditions[0].status, 'False');

  const replaced = await custom.replaceNamespacedCustomObject({
    ...where,
    name: 'r',
    body: { ...patchedStatus, spec: { weight: 2 }, status: { ignored: true } },
  });
  t.equal(replaced.metadata.generation, 2, 'a spec change moves the generation');
  t.equal(replaced.status.conditions[0].status, 'False', 'the main resource ignores status');
  const labelOnly = await custom.patchNamespacedCustomObject({ ...where, name: 'r', body: [{ op: 'add', path: '/metadata/labels', value: { a: 'b' } }] });
  t.equal(labelOnly.metadata.generation, 2, 'a metadata change does not');
  const noop = await custom.patchNamespacedCustomObject(
    { ...where, name: 'r', body: { spec: { weight: 2 } } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
  );
  t.equal(noop.metadata.resourceVersion, labelOnly.metadata.resourceVersion, 'a patch that changes nothing writes nothing');

  const { resourceVersion: _resourceVersion, ...unversioned } = replaced.metadata;
  const unconditional = await refusal(custom.replaceNamespacedCustomObject({ ...where, name: 'r', body: { ...replaced, metadata: unversioned } }));
  t.equal(unconditional.code, 422, 'custom resources need a resourceVersion on PUT');
  t.match(
    unconditional.body.message,
    'dubboroutes.dubbo-mesh.io "r" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update',
  );

  const deleted = await custom.deleteNamespacedCustomObject({ ...where, name: 'r' });
  t.match(deleted, {
    kind: 'Status',
    apiVersion: 'v1',
    status: 'Success',
    details: { name: 'r', group: 'dubbo-mesh.io', kind: 'dubboroutes', uid: created.metadata.uid },
  });
  const missingType = await refusal(custom.listNamespacedCustomObject({ ...where, plural: 'dubboplugins' }));
  t.equal(missingType.code, 404);
});

t.test('CoordinationV1Api: a Lease with MicroTime round-trips; a three-digit time is the server refusal it is for real', async (t) => {
  const server = await fakeServer(t);
  const config = server.kubeConfig();
  const coordination = config.makeApiClient(k8s.CoordinationV1Api);
  const renewTime = new k8s.V1MicroTime('2026-12-02T10:00:00.123Z');
  const created = await coordination.createNamespacedLease({
    namespace: 'dubbo-mesh',
    body: {
      metadata: { name: 'dubbo-mesh-control-plane' },
      spec: { holderIdentity: 'cp-0', leaseDurationSeconds: 15, acquireTime: renewTime, renewTime, leaseTransitions: 0 },
    },
  });
  const read = await coordination.readNamespacedLease({ namespace: 'dubbo-mesh', name: 'dubbo-mesh-control-plane' });
  t.equal(read.spec?.holderIdentity, 'cp-0');
  // client-node 1.4.0 has no deserializer for V1MicroTime: it hands back the wire string.
  t.equal(read.spec?.renewTime as unknown, '2026-12-02T10:00:00.123000Z');
  t.equal(read.metadata?.resourceVersion, created.metadata?.resourceVersion);

  // A plain Date serializes with three digits, as the real server refuses too.
  const plainDate = await refusal(
    coordination.createNamespacedLease({
      namespace: 'dubbo-mesh',
      body: { metadata: { name: 'other' }, spec: { renewTime: new Date('2026-12-02T10:00:00.123Z') as k8s.V1MicroTime } },
    }),
  );
  t.equal(plainDate.code, 400);
  t.match(plainDate.body, {
    reason: 'BadRequest',
    message:
      'Lease in version "v1" cannot be handled as a Lease: parsing time "2026-12-02T10:00:00.123Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse ".123Z" as ".000000"',
  });

  const raw = await fetch(`${server.url}/apis/coordination.k8s.io/v1/namespaces/dubbo-mesh/leases`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'raw' }, spec: { acquireTime: '2026-12-02T10:00:00.123Z' } }),
  });
  t.equal(raw.status, 400);
  t.equal(raw.headers.get('content-type'), 'application/json');
  t.match(await raw.json(), { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'BadRequest', code: 400 });

  const nine = await fetch(`${server.url}/apis/coordination.k8s.io/v1/namespaces/dubbo-mesh/leases`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'raw' },
      spec: { renewTime: '2020-02-28T20:11:41.636526400Z' },
    }),
  });
  t.match((await nine.json()) as object, { message: /cannot parse "400Z" as "Z07:00"$/ }, 'nine digits fail on the zone, as Go reports it');

  const offset = await fetch(`${server.url}/apis/coordination.k8s.io/v1/namespaces/dubbo-mesh/leases`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'offset' },
      spec: { renewTime: '2026-12-02T12:00:00.000001+02:00' },
    }),
  });
  t.equal(offset.status, 201);
  t.equal(((await offset.json()) as { spec: { renewTime: string } }).spec.renewTime, '2026-12-02T10:00:00.000001Z', 'stored as UTC with six digits');

  const patched = await fetch(`${server.url}/apis/coordination.k8s.io/v1/namespaces/dubbo-mesh/leases/dubbo-mesh-control-plane`, {
    method: 'PATCH',
    headers: { 'Content-Type': 'application/merge-patch+json' },
    body: JSON.stringify({ spec: { renewTime: '2026-12-02T10:00:01.5Z' } }),
  });
  t.equal(patched.status, 422, 'a PATCH whose result does not decode is a 422 on the field "patch"');
  t.match(await patched.json(), { reason: 'Invalid', details: { causes: [{ field: 'patch' }] } });

  // Optimistic concurrency as a leader election relies on it.
  const renewed = await coordination.replaceNamespacedLease({
    namespace: 'dubbo-mesh',
    name: 'dubbo-mesh-control-plane',
    body: { ...read, spec: { ...read.spec, renewTime: new k8s.V1MicroTime('2026-12-02T10:00:05Z') } },
  });
  t.equal(renewed.spec?.renewTime as unknown, '2026-12-02T10:00:05.000000Z');
  const lost = await refusal(
    coordination.replaceNamespacedLease({
      namespace: 'dubbo-mesh',
      name: 'dubbo-mesh-control-plane',
      body: { ...read, spec: { ...read.spec, holderIdentity: 'cp-1' } },
    }),
  );
  t.equal(lost.code, 409);
  t.match(lost.body.details, { name: 'dubbo-mesh-control-plane', group: 'coordination.k8s.io', kind: 'leases' });
  const unconditional = await refusal(
    coordination.replaceNamespacedLease({
      namespace: 'dubbo-mesh',
      name: 'dubbo-mesh-control-plane',
      body: { metadata: { name: 'dubbo-mesh-control-plane' }, spec: {} },
    }),
  );
  t.equal(unconditional.code, 422, 'a Lease cannot be updated without a resourceVersion');
  const putCreated = await coordination.replaceNamespacedLease({
    namespace: 'dubbo-mesh',
    name: 'fresh',
    body: { metadata: { name: 'fresh' }, spec: { holderIdentity: 'cp-2' } },
  });
  t.equal(putCreated.spec?.holderIdentity, 'cp-2', 'a PUT creates a missing Lease (AllowCreateOnUpdate)');
  t.equal(server.requests.at(-1)!.status, 201);
  const deleted = await coordination.deleteNamespacedLease({ namespace: 'dubbo-mesh', name: 'fresh' });
  t.match(deleted, { kind: 'Status', status: 'Success', details: { name: 'fresh', group: 'coordination.k8s.io', kind: 'leases' } });
});

t.test('label selectors: lists select, and an informer sees an object leave and enter its selection as delete and add', async (t) => {
  const server = await fakeServer(t);
  server.create(pod('web-1', { app: 'web', tier: 'front' }));
  server.create(pod('web-2', { app: 'web', tier: 'back', legacy: 'yes' }));
  server.create(pod('db', { app: 'db' }));
  server.create(pod('other', { app: 'web' }, 'other'));
  const core = server.kubeConfig().makeApiClient(k8s.CoreV1Api);
  const names = async (labelSelector: string, namespace = 'default') =>
    (await core.listNamespacedPod({ namespace, labelSelector })).items.map((item) => item.metadata?.name);
  t.same(await names('app=web'), ['web-1', 'web-2']);
  t.same(await names('app==web,tier!=back'), ['web-1']);
  t.same(await names('app in (web, db),!legacy'), ['db', 'web-1']);
  t.same(await names('app notin (web)'), ['db']);
  t.same(await names('legacy'), ['web-2']);
  t.same(await names('tier!=front'), ['db', 'web-2'], '!= matches objects without the label');
  t.same(
    (await core.listPodForAllNamespaces({ labelSelector: 'app=web' })).items.map((item) => item.metadata?.name),
    ['web-1', 'web-2', 'other'],
    'all namespaces, in namespace then name order',
  );
  t.same((await core.listNamespacedPod({ namespace: 'default', fieldSelector: 'metadata.name=db' })).items.length, 1);
  t.equal((await refusal(core.listNamespacedPod({ namespace: 'default', labelSelector: 'app in web' }))).code, 400);
  t.equal(
    (await refusal(core.listNamespacedPod({ namespace: 'default', fieldSelector: 'spec.nodeName=n1' }))).code,
    400,
    'only metadata.name and metadata.namespace',
  );

  const { events } = await podInformer(t, server, 'app=web');
  await eventually(() => server.watchCount() === 1, 'the informer to watch');
  t.same(events, ['add web-1', 'add web-2']);
  server.patch('v1', 'Pod', 'default', 'web-1', { metadata: { labels: { app: 'api' } } });
  await eventually(() => events.includes('delete web-1'), 'web-1 to leave');
  server.patch('v1', 'Pod', 'default', 'db', { metadata: { labels: { app: 'web' } } });
  await eventually(() => events.includes('add db'), 'db to enter');
  t.same(watches(server)[0]!.query.labelSelector, 'app=web');
});

t.test('stop() ends an informer’s watch and refuses connections; restart() serves the same state at the same url', async (t) => {
  const server = await fakeServer(t);
  server.create(pod('a'));
  const url = server.url;
  const first = await podInformer(t, server);
  await eventually(() => server.watchCount() === 1, 'the informer to watch');
  await server.stop();
  await eventually(() => first.errors.length === 1, 'the informer to report its broken watch');
  t.equal(server.watchCount(), 0);
  const core = server.kubeConfig().makeApiClient(k8s.CoreV1Api);
  await t.rejects(core.listNamespacedPod({ namespace: 'default' }), 'nothing answers while stopped');
  server.create(pod('b'));

  await server.restart();
  t.equal(server.url, url);
  t.same(
    (await core.listNamespacedPod({ namespace: 'default' })).items.map((item) => item.metadata?.name),
    ['a', 'b'],
  );
  // client-node 1.4.0's informer stops on any error but 410: it is started again by hand.
  await first.informer.start();
  await eventually(() => first.events.includes('add b'), 'the restarted informer to list b');
  t.equal(server.watchCount(), 1);
});

t.test('silenceWatches() leaves an informer on a connection that never speaks again; new watches are normal', async (t) => {
  const server = await fakeServer(t);
  const silenced = await podInformer(t, server);
  await eventually(() => server.watchCount() === 1, 'the first informer to watch');
  server.silenceWatches();
  server.create(pod('a'));
  const fresh = await podInformer(t, server);
  await eventually(() => fresh.events.includes('add a'), 'the second informer to see a');
  server.create(pod('b'));
  await eventually(() => fresh.events.includes('add b'), 'the second informer to see b');
  t.same(silenced.events, [], 'the silenced one heard nothing');
  t.equal(server.watchCount(), 2, 'and its watch is still open');
  t.same(silenced.errors, []);
});

t.test('failNext() answers matching requests with a Status of the given code, then lets them through', async (t) => {
  const server = await fakeServer(t);
  const core = server.kubeConfig().makeApiClient(k8s.CoreV1Api);
  server.failNext({ method: 'get', path: /\/pods$/ }, 503, 2);
  const first = await refusal(core.listNamespacedPod({ namespace: 'default' }));
  t.match(first, { code: 503, body: { reason: 'ServiceUnavailable', code: 503 } });
  t.equal((await refusal(core.listNamespacedPod({ namespace: 'default' }))).code, 503);
  t.same((await core.listNamespacedPod({ namespace: 'default' })).items, []);
  t.same(
    server.requests.map((request) => request.status),
    [503, 503, 200],
  );
});
