// The fake Kubernetes API server against responses recorded from real API servers
// (test/fixtures/kube-recorded, sources in its README): status codes, content types, keys and
// value types; whole bodies where the fake can be asked the very same thing. Values that vary
// from run to run (uids, timestamps, versions) are compared by type only.
import { readFile } from 'node:fs/promises';
import t, { type Test } from 'tap';
import { startFakeKubeApiServer, type FakeKubeApiServer, type FakeKubeApiServerOptions } from '@dubbo-mesh/test-support/fake-kube';

interface Replay {
  request_url: string;
  request_method: string;
  request_body: string;
  request_content_type: string | null;
  response_status_code: number;
  response_body: string;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const fixture = (name: string) => readFile(new URL(`./fixtures/kube-recorded/${name}`, import.meta.url), 'utf8');
const replays = async (name: string) => JSON.parse(await fixture(name)) as Replay[];

async function fakeServer(t: Test, options?: FakeKubeApiServerOptions): Promise<FakeKubeApiServer> {
  const server = await startFakeKubeApiServer(options);
  t.teardown(() => server.close());
  return server;
}

const jsonType = (value: unknown) => (value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value);

/**
 * The fake's object against the recorded one, one level: every key the fake writes is in the
 * recording with a value of the same JSON type, and every recorded key the fake lacks is one of
 * `absent` (a difference the fake owns up to).
 */
function sameKeys(t: Test, fake: Json | undefined, real: Json | undefined, where: string, absent: string[] = []): void {
  t.equal(jsonType(fake), 'object', `${where}: the fake's is an object`);
  t.equal(jsonType(real), 'object', `${where}: the recorded one is an object`);
  const fakeObject = fake as Record<string, Json>;
  const realObject = real as Record<string, Json>;
  for (const key of Object.keys(fakeObject)) {
    t.ok(key in realObject, `${where}.${key} is in the recording`);
    if (key in realObject) t.equal(jsonType(fakeObject[key]), jsonType(realObject[key]), `${where}.${key} has the recorded type`);
  }
  const missing = Object.keys(realObject).filter((key) => !(key in fakeObject));
  t.same(
    missing.filter((key) => !absent.includes(key)),
    [],
    `${where}: the fake writes every recorded key${absent.length > 0 ? ` but ${absent.join(', ')}` : ''}`,
  );
}

const NUMERIC = /^\d+$/;

t.test('a built-in type’s list: PodList, metadata.resourceVersion only, items without apiVersion/kind (k8s-openapi, Kubernetes 1.34)', async (t) => {
  const [recorded] = await replays('k8s-openapi-v1-34-pod-list.json');
  const real = JSON.parse(recorded!.response_body) as { [key: string]: Json; items: Array<Record<string, Json>> };
  const server = await fakeServer(t);
  server.create({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'coredns-1', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } },
    spec: { containers: [{ name: 'coredns', image: 'coredns:1' }] },
    status: { phase: 'Running' },
  });
  const response = await fetch(`${server.url}${recorded!.request_url}`);
  const text = await response.text();
  const fake = JSON.parse(text) as { [key: string]: Json; items: Array<Record<string, Json>> };
  t.equal(response.status, recorded!.response_status_code);
  t.equal(response.headers.get('content-type'), 'application/json');
  t.ok(text.endsWith('}\n') && recorded!.response_body.endsWith('}\n'), 'both end the JSON with a newline');
  sameKeys(t, fake, real, 'list');
  t.equal(fake.kind, real.kind);
  t.equal(fake.apiVersion, real.apiVersion);
  sameKeys(t, fake.metadata, real.metadata, 'list.metadata');
  t.match((fake.metadata as { resourceVersion: string }).resourceVersion, NUMERIC);
  t.match((real.metadata as { resourceVersion: string }).resourceVersion, NUMERIC);
  t.ok(
    real.items.every((item) => !('kind' in item) && !('apiVersion' in item)),
    'recorded items have no type meta',
  );
  t.ok(
    fake.items.every((item) => !('kind' in item) && !('apiVersion' in item)),
    'nor do the fake’s',
  );
  const coredns = real.items.find((item) => (item.metadata as { name: string }).name.startsWith('coredns'))!;
  sameKeys(t, fake.items[0], coredns, 'item');
  sameKeys(t, fake.items[0]!.metadata, coredns.metadata, 'item.metadata', ['generateName', 'managedFields', 'ownerReferences']);
});

t.test('a watch stream: one {type, object} per line, ADDED with type meta, then a BOOKMARK (k8s-openapi, Kubernetes 1.34)', async (t) => {
  const [recorded] = await replays('k8s-openapi-v1-34-watch-pods-initial-events.json');
  t.equal(recorded!.response_status_code, 200);
  const realEvents = recorded!.response_body
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as { type: string; object: Record<string, Json> });
  const server = await fakeServer(t);
  server.create({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'coredns-1', namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } },
    spec: { containers: [] },
  });
  server.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'etcd-1', namespace: 'kube-system' }, spec: { containers: [] } });
  // The recording asked sendInitialEvents=true, which the fake does not implement: its ADDED
  // come from resourceVersion=0 and the bookmark is sent on demand.
  const controller = new AbortController();
  t.teardown(() => controller.abort());
  const response = await fetch(`${server.url}/api/v1/namespaces/kube-system/pods?allowWatchBookmarks=true&resourceVersion=0&watch=true`, {
    signal: controller.signal,
  });
  t.equal(response.status, recorded!.response_status_code);
  const reader = response.body!.getReader();
  let text = '';
  server.sendBookmarks();
  while (!text.includes('BOOKMARK') || !text.endsWith('\n')) text += new TextDecoder().decode((await reader.read()).value);
  const fakeEvents = text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as { type: string; object: Record<string, Json> });
  t.same(
    fakeEvents.map((event) => event.type),
    ['ADDED', 'ADDED', 'BOOKMARK'],
  );
  t.same([...new Set(realEvents.map((event) => event.type))], ['ADDED', 'BOOKMARK'], 'the recording has the same two kinds of event');
  for (const [index, event] of fakeEvents.entries()) t.same(Object.keys(event).sort(), ['object', 'type'], `fake line ${index}`);
  for (const [index, event] of realEvents.entries()) t.same(Object.keys(event).sort(), ['object', 'type'], `recorded line ${index}`);
  const realAdded = realEvents.find((event) => event.type === 'ADDED')!.object;
  const fakeAdded = fakeEvents[0]!.object;
  t.match(realAdded, { kind: 'Pod', apiVersion: 'v1' });
  t.match(fakeAdded, { kind: 'Pod', apiVersion: 'v1' });
  sameKeys(t, fakeAdded, realAdded, 'ADDED.object', ['status']);
  const realBookmark = realEvents.at(-1)!.object;
  const fakeBookmark = fakeEvents.at(-1)!.object;
  // A typed Pod with nothing set encodes `spec` and `status`; the initial-events-end
  // annotation comes with sendInitialEvents only. client-node reads neither.
  sameKeys(t, fakeBookmark, realBookmark, 'BOOKMARK.object', ['spec', 'status']);
  sameKeys(t, fakeBookmark.metadata, realBookmark.metadata, 'BOOKMARK.object.metadata', ['annotations']);
  t.same(realBookmark.metadata, {
    resourceVersion: (realBookmark.metadata as { resourceVersion: string }).resourceVersion,
    annotations: { 'k8s.io/initial-events-end': 'true' },
  });
  t.same(fakeBookmark, { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: server.resourceVersion() } });
});

t.test('a custom resource: the recorded requests replayed against the fake answer alike (k8s-openapi, Kubernetes 1.34)', async (t) => {
  const recorded = await replays('k8s-openapi-v1-34-custom-resource.json');
  const group = 'k8s-openapi-tests-custom-resource-definition.com';
  const server = await fakeServer(t, { types: [{ group, version: 'v1', plural: 'foobars', kind: 'FooBar', namespaced: true, statusSubresource: true }] });
  // The CRD's own create/delete are not served by the fake; its three 422s are schema
  // validation, which the fake does not do.
  const exchanges = recorded.filter((replay) => replay.request_url.includes(`/apis/${group}/`) && replay.response_status_code !== 422);
  t.same(
    exchanges.map((replay) => replay.request_method),
    ['POST', 'POST', 'GET', 'GET', 'GET', 'GET', 'DELETE', 'DELETE'],
  );
  for (const replay of exchanges) {
    const where = `${replay.request_method} ${replay.request_url}`;
    const response = await fetch(`${server.url}${replay.request_url}`, {
      method: replay.request_method,
      ...(replay.request_content_type === null ? {} : { headers: { 'Content-Type': replay.request_content_type } }),
      ...(replay.request_body === '' ? {} : { body: replay.request_body }),
    });
    t.equal(response.status, replay.response_status_code, `${where}: status`);
    t.equal(response.headers.get('content-type'), 'application/json', `${where}: content type`);
    if (replay.request_url.includes('watch=true')) {
      // The recorded client read the two ADDED events and hung up.
      const reader = response.body!.getReader();
      let text = '';
      while (text.split('\n').length < 3) text += new TextDecoder().decode((await reader.read()).value);
      await reader.cancel();
      const lines = (body: string) =>
        body
          .split('\n')
          .filter((line) => line !== '')
          .map((line) => JSON.parse(line) as { type: string; object: Record<string, Json> });
      const fakeLines = lines(text);
      const realLines = lines(replay.response_body);
      t.same(
        fakeLines.map((line) => `${line.type} ${(line.object.metadata as { name: string }).name}`),
        realLines.map((line) => `${line.type} ${(line.object.metadata as { name: string }).name}`),
        where,
      );
      sameKeys(t, fakeLines[0]!.object, realLines[0]!.object, `${where} object`);
      continue;
    }
    const fake = (await response.json()) as Record<string, Json>;
    const real = JSON.parse(replay.response_body) as Record<string, Json>;
    sameKeys(t, fake, real, where);
    if (Array.isArray(real.items)) {
      sameKeys(t, fake.metadata, real.metadata, `${where} metadata`);
      t.same(
        (fake.items as Array<Record<string, Json>>).map((item) => [item.apiVersion, item.kind]),
        (real.items as Array<Record<string, Json>>).map((item) => [item.apiVersion, item.kind]),
        `${where}: items carry apiVersion and kind`,
      );
      sameKeys(t, (fake.items as Json[])[0], (real.items as Json[])[0], `${where} item`);
    } else if (real.kind === 'Status') {
      const { uid: fakeUid, ...fakeDetails } = fake.details as Record<string, Json>;
      const { uid: realUid, ...realDetails } = real.details as Record<string, Json>;
      t.same({ ...fake, details: fakeDetails }, { ...real, details: realDetails }, `${where}: the same Status of Success`);
      t.equal(jsonType(fakeUid), jsonType(realUid));
    } else {
      sameKeys(t, fake.metadata, real.metadata, `${where} metadata`, ['managedFields']);
      t.same(fake.spec, real.spec, `${where}: spec`);
      t.equal((fake.metadata as { generation: number }).generation, (real.metadata as { generation: number }).generation);
    }
  }
});

t.test('a 404 for a missing pod is the recorded Status, byte for byte (kubernetes/kubernetes#129177)', async (t) => {
  const transcript = await fixture('kubernetes-issue-129177-pod-404.txt');
  const contentType = /content-type=\[([^\]]+)\]/.exec(transcript)![1];
  const body = transcript.slice(transcript.indexOf('body:') + 'body:'.length).trim();
  const real = JSON.parse(body) as { code: number; details: { name: string } };
  const server = await fakeServer(t);
  const response = await fetch(`${server.url}/api/v1/namespaces/default/pods/${real.details.name}`);
  t.equal(response.status, real.code);
  t.equal(response.headers.get('content-type'), contentType);
  t.equal((await response.text()).trimEnd(), body);
});

t.test('a 409 Conflict on a stale resourceVersion is the recorded Status (helm/helm#9710)', async (t) => {
  const transcript = await fixture('helm-issue-9710-conflict-409.txt');
  const real = (JSON.parse(transcript.slice(transcript.indexOf('{')).trim()) as { ErrStatus: { code: number; details: { name: string; kind: string } } })
    .ErrStatus;
  const server = await fakeServer(t, {
    types: [{ group: '', version: 'v1', plural: 'resourcequotas', kind: 'ResourceQuota', namespaced: true, builtIn: true }],
  });
  const quota = server.create({ apiVersion: 'v1', kind: 'ResourceQuota', metadata: { name: real.details.name }, spec: { hard: { pods: '10' } } });
  server.patch('v1', 'ResourceQuota', 'default', real.details.name, { spec: { hard: { pods: '20' } } });
  const response = await fetch(`${server.url}/api/v1/namespaces/default/resourcequotas/${real.details.name}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(quota),
  });
  t.equal(response.status, real.code);
  t.equal(response.headers.get('content-type'), 'application/json');
  t.same(await response.json(), real);
});

t.test('a 409 AlreadyExists is the recorded response: status, content type, length and body (EnMasseProject/enmasse#1771)', async (t) => {
  const transcript = await fixture('enmasse-issue-1771-already-exists-409.txt');
  const [, method, url, status] = /\] (POST) https:\/\/[^/]+(\S+) (\d{3}) Conflict/.exec(transcript)!;
  const contentType = /Content-Type: (.+)/.exec(transcript)![1]!.trim();
  const contentLength = /Content-Length: (\d+)/.exec(transcript)![1];
  const body = transcript.slice(transcript.indexOf('Response Body: ') + 'Response Body: '.length).trim();
  const server = await fakeServer(t, { types: [{ group: 'template.openshift.io', version: 'v1', plural: 'templates', kind: 'Template', namespaced: true }] });
  const post = () =>
    fetch(`${server.url}${url}`, {
      method,
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ apiVersion: 'template.openshift.io/v1', kind: 'Template', metadata: { name: 'hono-tenant' }, objects: [] }),
    });
  t.equal((await post()).status, 201);
  const response = await post();
  t.equal(String(response.status), status);
  t.equal(response.headers.get('content-type'), contentType);
  t.equal(response.headers.get('content-length'), contentLength, 'the same length: the body and its trailing newline');
  t.equal((await response.text()).trimEnd(), body);
});

t.test('the ERROR event of a watch from a too-old resourceVersion has the recorded shape (wso2/apk#571)', async (t) => {
  const real = JSON.parse(await fixture('wso2-apk-issue-571-watch-error-410.txt')) as { type: string; object: Record<string, Json> };
  const server = await fakeServer(t);
  server.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'a' } });
  server.create({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'b' } });
  server.compact();
  const response = await fetch(`${server.url}/api/v1/pods?watch=true&resourceVersion=2`);
  t.equal(response.status, 200, 'the event form comes in a 200 stream (kubernetes/kubernetes#25151)');
  const lines = (await response.text()).split('\n').filter((line) => line !== '');
  t.equal(lines.length, 1, 'one event, then the end');
  const fake = JSON.parse(lines[0]!) as { type: string; object: Record<string, Json> };
  t.same(Object.keys(fake).sort(), Object.keys(real).sort());
  t.equal(fake.type, real.type);
  t.same(Object.keys(fake.object), Object.keys(real.object), 'the same keys in the same order');
  for (const key of ['kind', 'apiVersion', 'metadata', 'status', 'reason', 'code']) t.same(fake.object[key], real.object[key], key);
  const tooOld = /^too old resource version: (\d+) \((\d+)\)$/;
  t.match(real.object.message, tooOld);
  t.equal(fake.object.message, 'too old resource version: 2 (3)');
});

// The few lines of `kubectl get -o yaml` in the fixture: nested maps, plain and double-quoted scalars.
function parseSimpleYaml(text: string): Record<string, Json> {
  const root: Record<string, Json> = {};
  const stack: Array<{ indent: number; map: Record<string, Json> }> = [{ indent: -1, map: root }];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const indent = line.length - line.trimStart().length;
    const [, key, raw] = /^\s*([^:]+):\s*(.*)$/.exec(line)!;
    while (stack.at(-1)!.indent >= indent) stack.pop();
    const parent = stack.at(-1)!.map;
    if (raw === '') {
      const child: Record<string, Json> = {};
      parent[key!] = child;
      stack.push({ indent, map: child });
    } else {
      parent[key!] = raw!.startsWith('"') ? (JSON.parse(raw!) as string) : /^-?\d+$/.test(raw!) ? Number(raw) : raw!;
    }
  }
  return root;
}

t.test('a Lease reads back as recorded: MicroTime with six digits, no generation (koordinator-sh/koordinator#2095)', async (t) => {
  const real = parseSimpleYaml(await fixture('koordinator-issue-2095-lease.yaml')) as { metadata: Record<string, Json>; spec: Record<string, Json> } & Record<
    string,
    Json
  >;
  const server = await fakeServer(t);
  const namespace = real.metadata.namespace as string;
  const created = await fetch(`${server.url}/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ apiVersion: real.apiVersion, kind: real.kind, metadata: { name: real.metadata.name }, spec: real.spec }),
  });
  t.equal(created.status, 201);
  const fake = (await (
    await fetch(`${server.url}/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${real.metadata.name as string}`)
  ).json()) as typeof real;
  sameKeys(t, fake, real, 'lease');
  sameKeys(t, fake.metadata, real.metadata, 'lease.metadata');
  t.same(fake.spec, real.spec, 'the spec as stored, times unchanged');
  const micro = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;
  for (const field of ['acquireTime', 'renewTime']) {
    t.match(real.spec[field], micro, `recorded ${field}`);
    t.match(fake.spec[field], micro, `fake ${field}`);
  }
  t.match(fake.metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  t.match(real.metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
});

t.test('a nine-digit MicroTime is refused with the BadRequest and Go parse error recorded (krustlet/krustlet#5)', async (t) => {
  const transcript = await fixture('krustlet-issue-5-lease-micro-time-400.txt');
  const [, reason, debugString] = /ApiError (\w+) \((".*")\)\s*$/.exec(transcript)!;
  const realMessage = JSON.parse(debugString!) as string; // a Rust debug string escapes as JSON does here
  const badTime = /parsing time "([^"]+)"/.exec(realMessage)![1]!;
  const server = await fakeServer(t);
  const response = await fetch(`${server.url}/apis/coordination.k8s.io/v1/namespaces/default/leases`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'krustlet' },
      spec: { holderIdentity: 'krustlet', leaseDurationSeconds: 300, renewTime: badTime },
    }),
  });
  t.equal(response.status, 400);
  const fake = (await response.json()) as { reason: string; message: string };
  t.equal(fake.reason, reason);
  const prefix = 'Lease in version "v1" cannot be handled as a Lease: ';
  const goError = `parsing time "${badTime}" as "2006-01-02T15:04:05.000000Z07:00": cannot parse "400Z" as "Z07:00"`;
  t.ok(realMessage.startsWith(prefix) && realMessage.includes(goError), 'the recorded message has the handler’s prefix and Go’s error');
  t.equal(fake.message, `${prefix}${goError}`, 'the fake’s has both, without json-iterator’s wrapping');
});

t.test('a path no API group serves gets the recorded plain-text 404 (kubernetes-client/python#1872)', async (t) => {
  const transcript = await fixture('kubernetes-python-issue-1872-page-not-found-404.txt');
  const header = (name: string) => new RegExp(`'${name}': '([^']+)'`).exec(transcript)![1];
  const body = JSON.parse(`"${/b'(.*)'/.exec(transcript)![1]}"`) as string;
  const server = await fakeServer(t);
  const response = await fetch(`${server.url}/apis/example.com/v1/namespaces/default/widgets`);
  t.equal(response.status, 404);
  t.equal(response.headers.get('content-type'), header('Content-Type'));
  t.equal(response.headers.get('x-content-type-options'), header('X-Content-Type-Options'));
  t.equal(await response.text(), body);
  t.equal(Buffer.byteLength(body), Number(header('Content-Length')));
});
