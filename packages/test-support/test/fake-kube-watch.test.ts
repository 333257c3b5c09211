// The fake Kubernetes API server's watch streams and paths seen raw (fetch, no client
// library), and its programmatic API: what a client that reads the stream itself relies on.
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import t, { type Test } from 'tap';
import { FakeClock } from '@dubbo-mesh/test-support';
import {
  FakeKubeErrorCode,
  FakeKubeStatusError,
  FakeKubeUnknownTypeError,
  startFakeKubeApiServer,
  type FakeKubeApiServer,
  type FakeKubeApiServerOptions,
  type FakeKubeObject,
} from '@dubbo-mesh/test-support/fake-kube';

interface WatchEvent {
  type: string;
  object: { kind?: string; apiVersion?: string; metadata: { name?: string; resourceVersion?: string; [key: string]: unknown }; [key: string]: unknown };
}

async function fakeServer(t: Test, options?: FakeKubeApiServerOptions): Promise<FakeKubeApiServer> {
  const server = await startFakeKubeApiServer(options);
  t.teardown(() => server.close());
  return server;
}

function pod(name: string, labels?: Record<string, string>, namespace = 'default'): FakeKubeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, ...(labels ? { labels } : {}) }, spec: { containers: [] } };
}

// A watch read line by line; `next()` is the next event, or 'end' when the server ended the stream cleanly.
async function openWatch(t: Test, url: string) {
  const controller = new AbortController();
  const response = await fetch(url, { signal: controller.signal });
  t.teardown(() => controller.abort());
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let ended = false;
  return {
    response,
    async next(): Promise<WatchEvent | 'end'> {
      for (;;) {
        const newline = buffer.indexOf('\n');
        if (newline >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + 1);
          return JSON.parse(line) as WatchEvent;
        }
        if (ended) return 'end';
        const chunk = await reader.read();
        if (chunk.done) ended = true;
        else buffer += decoder.decode(chunk.value, { stream: true });
      }
    },
  };
}

const brief = (event: WatchEvent | 'end') =>
  event === 'end' ? 'end' : `${event.type} ${event.object.metadata.name ?? ''}@${event.object.metadata.resourceVersion}`;

t.test('a watch from resourceVersion 0 or none starts with ADDED for each object, then live events; a DELETED carries the deletion’s version', async (t) => {
  const server = await fakeServer(t);
  server.create(pod('a'));
  server.create(pod('b'));
  for (const from of ['0', undefined]) {
    const watch = await openWatch(t, `${server.url}/api/v1/namespaces/default/pods?watch=true${from === undefined ? '' : `&resourceVersion=${from}`}`);
    t.equal(watch.response.status, 200);
    t.equal(watch.response.headers.get('content-type'), 'application/json');
    t.equal(watch.response.headers.get('transfer-encoding'), 'chunked');
    const first = await watch.next();
    t.same([brief(first), brief(await watch.next())], ['ADDED a@2', 'ADDED b@3'], `from ${from ?? 'nothing'}`);
    t.match(first, { object: { kind: 'Pod', apiVersion: 'v1' } }, 'watch objects carry type meta');
  }
  const watch = await openWatch(t, `${server.url}/api/v1/namespaces/default/pods?watch=1&resourceVersion=3`);
  server.remove('v1', 'Pod', 'default', 'a');
  const deleted = await watch.next();
  t.equal(brief(deleted), 'DELETED a@4', 'the delete’s own resourceVersion, as the etcd watcher gives it');
  t.equal(server.resourceVersion(), '4');
});

t.test('a watch from N replays what came after N; objects entering or leaving the selection are ADDED or DELETED', async (t) => {
  const server = await fakeServer(t);
  server.create(pod('a', { app: 'web' })); // 2
  server.create(pod('b', { app: 'db' })); // 3
  server.patch('v1', 'Pod', 'default', 'a', { metadata: { annotations: { x: 'y' } } }); // 4
  server.patch('v1', 'Pod', 'default', 'b', { metadata: { labels: { app: 'web' } } }); // 5: b enters
  server.patch('v1', 'Pod', 'default', 'a', { metadata: { labels: { app: 'api' } } }); // 6: a leaves
  server.create(pod('c', { app: 'web' }, 'other')); // 7: another namespace
  const all = await openWatch(t, `${server.url}/api/v1/namespaces/default/pods?watch=true&resourceVersion=3`);
  t.same([brief(await all.next()), brief(await all.next()), brief(await all.next())], ['MODIFIED a@4', 'MODIFIED b@5', 'MODIFIED a@6']);
  const selected = await openWatch(t, `${server.url}/api/v1/namespaces/default/pods?watch=true&resourceVersion=2&labelSelector=app%3Dweb`);
  const replay = [await selected.next(), await selected.next(), await selected.next()];
  t.same(replay.map(brief), ['MODIFIED a@4', 'ADDED b@5', 'DELETED a@6']);
  t.same((replay[2] as WatchEvent).object.metadata.labels, { app: 'web' }, 'a DELETED for leaving carries the last content that matched');
  const everywhere = await openWatch(t, `${server.url}/api/v1/pods?watch=true&resourceVersion=6`);
  t.equal(brief(await everywhere.next()), 'ADDED c@7', 'the all-namespaces watch');
  server.create(pod('d', { app: 'web' }));
  t.equal(brief(await selected.next()), 'ADDED d@8', 'then live');
});

t.test('bookmarks go only to watches that asked, carry apiVersion, kind and metadata.resourceVersion only, on demand or on an interval', async (t) => {
  const clock = new FakeClock();
  const server = await fakeServer(t, { clock, bookmarkIntervalMs: 60_000 });
  server.create(pod('a'));
  const asked = await openWatch(t, `${server.url}/api/v1/namespaces/default/pods?watch=true&resourceVersion=2&allowWatchBookmarks=true`);
  const plain = await openWatch(t, `${server.url}/api/v1/namespaces/default/pods?watch=true&resourceVersion=2`);
  server.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'unrelated' } }); // 3: moves the global version only
  server.sendBookmarks();
  t.same(await asked.next(), { type: 'BOOKMARK', object: { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: '3' } } });
  clock.advance(60_000);
  t.same(await asked.next(), { type: 'BOOKMARK', object: { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: '3' } } }, 'the interval');
  server.create(pod('b'));
  t.equal(brief(await plain.next()), 'ADDED b@4', 'the watch that did not ask got no bookmark before its next event');
  t.equal(brief(await asked.next()), 'ADDED b@4');
});

t.test('timeoutSeconds and closeWatches() end a stream cleanly', async (t) => {
  const clock = new FakeClock();
  const server = await fakeServer(t, { clock });
  const timed = await openWatch(t, `${server.url}/api/v1/namespaces/default/pods?watch=true&timeoutSeconds=30`);
  const open = await openWatch(t, `${server.url}/api/v1/namespaces/default/pods?watch=true`);
  t.equal(server.watchCount(), 2);
  clock.advance(29_999);
  server.create(pod('a'));
  t.equal(brief(await timed.next()), 'ADDED a@2', 'still open before its timeout');
  clock.advance(1);
  t.equal(await timed.next(), 'end');
  t.equal(brief(await open.next()), 'ADDED a@2');
  server.closeWatches();
  t.equal(await open.next(), 'end');
  t.equal(server.watchCount(), 0);
});

t.test('a watch from before compact() is refused: one ERROR event with a 410 Status, or an HTTP 410', async (t) => {
  const server = await fakeServer(t);
  server.create(pod('a'));
  server.create(pod('b'));
  server.compact();
  const event = await openWatch(t, `${server.url}/api/v1/namespaces/default/pods?watch=true&resourceVersion=2`);
  t.equal(event.response.status, 200);
  t.same(await event.next(), {
    type: 'ERROR',
    object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'too old resource version: 2 (3)', reason: 'Expired', code: 410 },
  });
  t.equal(await event.next(), 'end');
  const current = await openWatch(t, `${server.url}/api/v1/namespaces/default/pods?watch=true&resourceVersion=3`);
  server.create(pod('c'));
  t.equal(brief(await current.next()), 'ADDED c@4', 'a watch from the compaction point is fine');

  const strict = await fakeServer(t, { tooOldMode: 'http' });
  strict.create(pod('a'));
  strict.compact();
  const refused = await fetch(`${strict.url}/api/v1/namespaces/default/pods?watch=true&resourceVersion=1`);
  t.equal(refused.status, 410);
  t.equal(refused.headers.get('content-type'), 'application/json');
  t.match(await refused.json(), { kind: 'Status', reason: 'Expired', code: 410, message: 'too old resource version: 1 (2)' });
  const notANumber = await fetch(`${strict.url}/api/v1/namespaces/default/pods?watch=true&resourceVersion=abc`);
  t.equal(notANumber.status, 500, 'a resourceVersion that is not a number');
});

t.test('paths: cluster-scoped types, the status subresource, unknown paths, verbs, discovery', async (t) => {
  const server = await fakeServer(t, {
    types: [{ group: 'dubbo-mesh.io', version: 'v1alpha1', plural: 'dubboplugins', kind: 'DubboPlugin', namespaced: false }],
  });
  const post = (url: string, body: unknown, method = 'POST') =>
    fetch(`${server.url}${url}`, { method, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const ingressClass = await post('/apis/networking.k8s.io/v1/ingressclasses', {
    metadata: { name: 'dubbo', namespace: 'ignored' },
    spec: { controller: 'dubbo-mesh.io/gateway' },
  });
  t.equal(ingressClass.status, 201);
  t.match(await ingressClass.json(), { kind: 'IngressClass', metadata: { name: 'dubbo', generation: 1 } });
  t.equal(server.get('networking.k8s.io/v1', 'IngressClass', undefined, 'dubbo')!.metadata.namespace, undefined, 'cluster-scoped: no namespace');
  const listed = (await (await fetch(`${server.url}/apis/networking.k8s.io/v1/ingressclasses`)).json()) as { kind: string; items: object[] };
  t.equal(listed.kind, 'IngressClassList');
  t.notOk('kind' in listed.items[0]! || 'apiVersion' in listed.items[0]!, 'a built-in list’s items carry no type meta');
  t.equal((await post('/apis/dubbo-mesh.io/v1alpha1/dubboplugins', { metadata: { name: 'p' } })).status, 400, 'a custom resource body needs its kind');
  t.equal(
    (await post('/apis/dubbo-mesh.io/v1alpha1/dubboplugins', { apiVersion: 'dubbo-mesh.io/v1alpha1', kind: 'DubboPlugin', metadata: { name: 'p' } })).status,
    201,
  );
  const pluginList = (await (await fetch(`${server.url}/apis/dubbo-mesh.io/v1alpha1/dubboplugins`)).json()) as { metadata: object; items: object[] };
  t.same(pluginList.metadata, { continue: '', resourceVersion: '3' });
  t.match(pluginList.items[0], { apiVersion: 'dubbo-mesh.io/v1alpha1', kind: 'DubboPlugin' }, 'a custom resource list’s items do');

  server.create({ apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'gw' }, spec: { ingressClassName: 'dubbo' } });
  const status = await post(
    '/apis/networking.k8s.io/v1/namespaces/default/ingresses/gw/status',
    { metadata: { name: 'gw' }, spec: { ingressClassName: 'x' }, status: { loadBalancer: { ingress: [{ ip: '10.0.0.1' }] } } },
    'PUT',
  );
  t.equal(status.status, 200);
  t.match(await status.json(), {
    spec: { ingressClassName: 'dubbo' },
    status: { loadBalancer: { ingress: [{ ip: '10.0.0.1' }] } },
    metadata: { generation: 1 },
  });
  t.equal((await fetch(`${server.url}/apis/networking.k8s.io/v1/namespaces/default/ingresses/gw/status`)).status, 200);
  t.equal((await fetch(`${server.url}/apis/networking.k8s.io/v1/ingressclasses/dubbo/status`)).status, 404, 'no status subresource');

  const page = await fetch(`${server.url}/apis/nothing.example/v1/things`);
  t.equal(page.status, 404);
  t.equal(page.headers.get('content-type'), 'text/plain; charset=utf-8');
  t.equal(await page.text(), '404 page not found\n', 'a group nobody serves: the mux’s plain 404');
  const resource = await fetch(`${server.url}/api/v1/namespaces/default/configmaps`);
  t.equal(resource.status, 404);
  t.match(await resource.json(), { kind: 'Status', reason: 'NotFound', message: 'the server could not find the requested resource', details: {} });
  t.equal((await fetch(`${server.url}/api/v1/pods/a`)).status, 404, 'a namespaced object needs its namespace');
  t.equal((await post('/api/v1/namespaces/default/pods', {}, 'PUT')).status, 405);
  t.equal((await fetch(`${server.url}/api/v1/namespaces/default/pods`, { method: 'DELETE' })).status, 405, 'deletecollection is not implemented');
  t.equal((await post('/api/v1/namespaces/default/pods', { metadata: {} })).status, 422, 'no name');
  const generated = (await (await post('/api/v1/namespaces/default/pods', { metadata: { generateName: 'web-' } })).json()) as FakeKubeObject;
  t.match(generated.metadata.name, /^web-[0-9a-f]{5}$/);
  t.equal((await post('/api/v1/namespaces/default/pods', { metadata: { name: 'rv', resourceVersion: '5' } })).status, 500, 'a resourceVersion on a create');
  t.equal((await post('/api/v1/namespaces/default/pods', 'not json')).status, 400);

  t.match(await (await fetch(`${server.url}/api`)).json(), { kind: 'APIVersions', versions: ['v1'] });
  t.match(await (await fetch(`${server.url}/apis`)).json(), {
    kind: 'APIGroupList',
    groups: [{ name: 'discovery.k8s.io' }, { name: 'networking.k8s.io' }, { name: 'coordination.k8s.io' }, { name: 'dubbo-mesh.io' }],
  });
  t.match(await (await fetch(`${server.url}/apis/networking.k8s.io/v1`)).json(), {
    kind: 'APIResourceList',
    groupVersion: 'networking.k8s.io/v1',
    resources: [{ name: 'ingresses', namespaced: true, kind: 'Ingress' }, { name: 'ingresses/status' }, { name: 'ingressclasses', namespaced: false }],
  });
  t.match(await (await fetch(`${server.url}/version`)).json(), { gitVersion: /fake/ });
});

t.test('the programmatic API throws what the HTTP API answers, hands out copies, and may stage what clients cannot', async (t) => {
  const server = await fakeServer(t);
  const created = server.create(pod('a'));
  t.match(created.metadata, {
    namespace: 'default',
    resourceVersion: '2',
    generation: 1,
    uid: /^[0-9a-f-]{36}$/,
    creationTimestamp: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
  });
  t.throws(() => server.create(pod('a')), { code: FakeKubeErrorCode.ALREADY_EXISTS, httpStatus: 409, status: { reason: 'AlreadyExists' } });
  t.throws(() => server.replace({ ...created, metadata: { ...created.metadata, resourceVersion: '1' } }), FakeKubeStatusError);
  t.throws(() => server.remove('v1', 'Pod', 'default', 'nope'), { code: FakeKubeErrorCode.NOT_FOUND });
  t.throws(() => server.get('v1', 'ConfigMap', 'default', 'x'), FakeKubeUnknownTypeError);
  t.throws(() => server.create({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'l' }, spec: { renewTime: '2026-01-01T00:00:00Z' } }), {
    code: FakeKubeErrorCode.BAD_REQUEST,
  });

  const copy = server.get('v1', 'Pod', 'default', 'a')!;
  copy.metadata.name = 'changed';
  t.equal(server.get('v1', 'Pod', 'default', 'a')!.metadata.name, 'a', 'get hands out a copy');

  const withStatus = server.create({ ...pod('b'), status: { phase: 'Running', podIP: '10.0.0.2' } });
  t.same(withStatus.status, { phase: 'Running', podIP: '10.0.0.2' }, 'create keeps a given status (a shortcut for tests)');
  const replaced = server.replace({ ...withStatus, spec: { containers: [{ name: 'x' }] }, status: { phase: 'Failed' } });
  t.equal(replaced.metadata.generation, 2);
  t.same(replaced.status, { phase: 'Running', podIP: '10.0.0.2' }, 'replace ignores status');
  const updated = server.updateStatus('v1', 'Pod', 'default', 'b', { phase: 'Succeeded' });
  t.same(updated.status, { phase: 'Succeeded' });
  t.equal(updated.metadata.generation, 2);
  const terminating = server.patch('v1', 'Pod', 'default', 'b', { metadata: { deletionTimestamp: '2026-01-01T00:00:00Z' } });
  t.equal(terminating.metadata.deletionTimestamp, '2026-01-01T00:00:00Z', 'a test may stage a terminating pod');

  const service = server.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 's', generation: 7 } });
  t.equal(service.metadata.generation, undefined, 'services have no generation');
  t.same(
    server.list('v1', 'Pod').map((object) => object.metadata.name),
    ['a', 'b'],
  );
  t.throws(() => server.addType({ group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true }), /already serves/);
});

t.test('writeKubeConfig() writes a kubeconfig client-node loads from a file (a child process’s KUBECONFIG)', async (t) => {
  const server = await fakeServer(t);
  server.create(pod('a'));
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-fake-kube-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'kubeconfig.yaml');
  await server.writeKubeConfig(file);
  const config = new k8s.KubeConfig();
  config.loadFromFile(file);
  t.equal(config.getCurrentCluster()?.server, server.url);
  t.equal(config.getContextObject(config.getCurrentContext())?.namespace, 'default');
  const core = config.makeApiClient(k8s.CoreV1Api);
  t.same(
    (await core.listNamespacedPod({ namespace: 'default' })).items.map((item) => item.metadata?.name),
    ['a'],
  );
  await writeFile(path.join(dir, 'unused'), '');
});
