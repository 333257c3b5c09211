import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { CoordinationV1Api, KubeConfig, V1MicroTime } from '@kubernetes/client-node';
import { FakeClock, eventually } from '@dubbo-mesh/test-support';
import { KubernetesLeaseLock, LeaderElector, LeaseApiError, LeaseConflictError, LeaseRequestError, type LeaseRecord } from '@dubbo-mesh/leader-election';

// What the API server accepts for a MicroTime (metav1.RFC3339Micro): six fractional digits, always.
const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$/;
const LEASES = /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/([^/]+)\/leases(?:\/([^/]+))?$/;

interface SeenRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body?: Record<string, unknown>;
}

type Lease = { metadata: Record<string, unknown>; spec?: Record<string, unknown> } & Record<string, unknown>;

/**
 * The Lease endpoints of an API server, as strict as the real one where it matters here: a
 * MicroTime without six fractional digits is a 400, a create of an existing Lease and an
 * update with a stale resourceVersion are 409s, every write bumps the resourceVersion.
 */
class FakeLeaseApi {
  readonly requests: SeenRequest[] = [];
  readonly leases = new Map<string, Lease>();
  forbidden = false;
  private resourceVersion = 100;
  private readonly server = http.createServer((request, response) => void this.handle(request, response));

  async listen(): Promise<string> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  /** Change a Lease as another client would (bumps its resourceVersion). */
  touch(key: string, change: (lease: Lease) => void): void {
    const lease = this.leases.get(key)!;
    change(lease);
    lease.metadata.resourceVersion = String(++this.resourceVersion);
  }

  private async handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const body = text === '' ? undefined : (JSON.parse(text) as Lease);
    const path = request.url ?? '';
    this.requests.push({ method: request.method ?? '', path, headers: request.headers, ...(body === undefined ? {} : { body }) });
    const answer = (code: number, object: unknown): void => {
      response.writeHead(code, { 'content-type': 'application/json' });
      response.end(JSON.stringify(object));
    };
    const status = (code: number, reason: string, message: string): void =>
      answer(code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason, message, code });
    const match = LEASES.exec(path);
    if (match === null) return status(404, 'NotFound', 'the server could not find the requested resource');
    if (this.forbidden)
      return status(403, 'Forbidden', 'leases.coordination.k8s.io is forbidden: User "system:serviceaccount:mesh:cp" cannot get resource "leases"');
    const [, namespace, name] = match as unknown as [string, string, string | undefined];
    const key = `${namespace}/${name ?? body?.metadata?.name}`;
    const stored = this.leases.get(key);
    if (body !== undefined) {
      for (const field of ['acquireTime', 'renewTime']) {
        const value = body.spec?.[field];
        if (value !== undefined && value !== null && !(typeof value === 'string' && MICRO_TIME.test(value))) {
          return status(
            400,
            'BadRequest',
            `Lease in version "v1" cannot be handled as a Lease: parsing time ${JSON.stringify(JSON.stringify(value))} as "2006-01-02T15:04:05.000000Z07:00": cannot parse`,
          );
        }
      }
    }
    if (request.method === 'GET' && name !== undefined) {
      return stored === undefined ? status(404, 'NotFound', `leases.coordination.k8s.io "${name}" not found`) : answer(200, stored);
    }
    if (request.method === 'POST' && name === undefined && body !== undefined) {
      if (stored !== undefined) return status(409, 'AlreadyExists', `leases.coordination.k8s.io "${body.metadata.name}" already exists`);
      const created: Lease = { ...body, metadata: { ...body.metadata, namespace, uid: 'uid-1', resourceVersion: String(++this.resourceVersion) } };
      this.leases.set(key, created);
      return answer(201, created);
    }
    if (request.method === 'PUT' && name !== undefined && body !== undefined) {
      if (stored === undefined) return status(404, 'NotFound', `leases.coordination.k8s.io "${name}" not found`);
      if (body.metadata.resourceVersion !== stored.metadata.resourceVersion) {
        return status(
          409,
          'Conflict',
          `Operation cannot be fulfilled on leases.coordination.k8s.io "${name}": the object has been modified; please apply your changes to the latest version and try again`,
        );
      }
      const updated: Lease = { ...body, metadata: { ...body.metadata, uid: stored.metadata.uid, resourceVersion: String(++this.resourceVersion) } };
      this.leases.set(key, updated);
      return answer(200, updated);
    }
    return status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
  }
}

function kubeConfigFor(server: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'test', server, skipTLSVerify: true }],
    users: [{ name: 'control-plane', token: 'secret-token' }],
    contexts: [{ name: 'test', cluster: 'test', user: 'control-plane' }],
    currentContext: 'test',
  });
  return kubeConfig;
}

const record = (holderIdentity: string, ms: number, leaseTransitions = 0): LeaseRecord => ({
  holderIdentity,
  leaseDurationSeconds: 15,
  acquireTime: new Date(Date.UTC(2026, 11, 2, 10, 0, 0, ms)),
  renewTime: new Date(Date.UTC(2026, 11, 2, 10, 0, 1, ms)),
  leaseTransitions,
});

t.test('the fake is as strict as the API server: a Date sent through the typed API is a 400', async (t) => {
  const api = new FakeLeaseApi();
  const server = await api.listen();
  t.teardown(() => api.close());
  const typed = kubeConfigFor(server).makeApiClient(CoordinationV1Api);
  const lease = (time: Date) => ({ metadata: { name: 'typed' }, spec: { holderIdentity: 'x', acquireTime: time, renewTime: time } });
  await t.rejects(typed.createNamespacedLease({ namespace: 'mesh', body: lease(new Date('2026-12-02T10:00:00.123Z')) }), { code: 400 });
  t.equal(
    api.requests.at(-1)?.body?.spec && (api.requests.at(-1)!.body!.spec as Record<string, unknown>).acquireTime,
    '2026-12-02T10:00:00.123Z',
    'toISOString: three digits',
  );
  await t.resolves(typed.createNamespacedLease({ namespace: 'mesh', body: lease(new V1MicroTime('2026-12-02T10:00:00.123Z')) }), 'six digits pass');
});

t.test('KubernetesLeaseLock speaks the Lease API as client-go does', async (t) => {
  const api = new FakeLeaseApi();
  const server = await api.listen();
  t.teardown(() => api.close());
  const lock = new KubernetesLeaseLock(kubeConfigFor(server), 'mesh', 'dubbo-mesh-control-plane', { labels: { 'app.kubernetes.io/name': 'dubbo-mesh' } });
  const path = '/apis/coordination.k8s.io/v1/namespaces/mesh/leases';
  t.equal(lock.describe(), 'mesh/dubbo-mesh-control-plane');

  t.equal(await lock.get(), undefined, 'a 404 is no lease');
  t.match(api.requests.at(-1), {
    method: 'GET',
    path: `${path}/dubbo-mesh-control-plane`,
    headers: { authorization: 'Bearer secret-token', accept: 'application/json' },
  });

  const first = await lock.create(record('cp-0', 123));
  t.equal(first, '101');
  t.same(api.requests.at(-1)?.body, {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: 'dubbo-mesh-control-plane', namespace: 'mesh', labels: { 'app.kubernetes.io/name': 'dubbo-mesh' } },
    spec: {
      holderIdentity: 'cp-0',
      leaseDurationSeconds: 15,
      acquireTime: '2026-12-02T10:00:00.123000Z',
      renewTime: '2026-12-02T10:00:01.123000Z',
      leaseTransitions: 0,
    },
  });
  t.match(api.requests.at(-1), { method: 'POST', path, headers: { 'content-type': 'application/json', authorization: 'Bearer secret-token' } });

  const other = new KubernetesLeaseLock(kubeConfigFor(server), 'mesh', 'dubbo-mesh-control-plane');
  const exists = await other.create(record('cp-1', 0)).catch((error: unknown) => error);
  t.ok(exists instanceof LeaseConflictError, 'a 409 on create is a conflict');
  t.equal((exists as LeaseConflictError).code, 'DM_ERR_LEASE_CONFLICT');

  const read = await other.get();
  t.same(read?.record, record('cp-0', 123));
  t.equal(read?.version, '101');
  t.match(read?.raw, { metadata: { uid: 'uid-1' } });

  // Another client annotates the Lease: the version `other` read is stale now.
  api.touch('mesh/dubbo-mesh-control-plane', (lease) => (lease.metadata.annotations = { note: 'kept' }));
  const stale = await other.update(record('cp-1', 456, 1), '101').catch((error: unknown) => error);
  t.ok(stale instanceof LeaseConflictError, 'a 409 on update is a conflict');
  t.equal(api.requests.at(-1)?.method, 'PUT');

  const fresh = await other.get();
  const next = await other.update(record('cp-1', 456, 1), fresh!.version);
  t.equal(next, '103');
  const put = api.requests.at(-1)!;
  t.equal(put.path, `${path}/dubbo-mesh-control-plane`);
  t.match(put.body, {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name: 'dubbo-mesh-control-plane',
      namespace: 'mesh',
      resourceVersion: '102',
      uid: 'uid-1',
      annotations: { note: 'kept' },
      labels: { 'app.kubernetes.io/name': 'dubbo-mesh' },
    },
    spec: { holderIdentity: 'cp-1', acquireTime: '2026-12-02T10:00:00.456000Z', renewTime: '2026-12-02T10:00:01.456000Z', leaseTransitions: 1 },
  });
  t.same((await lock.get())?.record, record('cp-1', 456, 1));
});

t.test('KubernetesLeaseLock classifies the other failures', async (t) => {
  const api = new FakeLeaseApi();
  const server = await api.listen();
  t.teardown(() => api.close());
  const lock = new KubernetesLeaseLock(kubeConfigFor(server), 'mesh', 'lease');
  api.forbidden = true;
  const forbidden = await lock.get().catch((error: unknown) => error);
  t.ok(forbidden instanceof LeaseApiError);
  t.match(forbidden, {
    code: 'DM_ERR_LEASE_API',
    status: 403,
    message: 'GET lease mesh/lease: HTTP 403: leases.coordination.k8s.io is forbidden: User "system:serviceaccount:mesh:cp" cannot get resource "leases"',
  });
  api.forbidden = false;
  const missing = await lock.update(record('cp-0', 0), '7').catch((error: unknown) => error);
  t.match(missing, { code: 'DM_ERR_LEASE_API', status: 404 }, 'an update of a deleted Lease fails (the next try reads and creates)');

  await api.close();
  const refused = await lock.get().catch((error: unknown) => error);
  t.ok(refused instanceof LeaseRequestError);
  t.equal((refused as LeaseRequestError).code, 'DM_ERR_LEASE_REQUEST');

  const noCluster = new KubernetesLeaseLock(new KubeConfig(), 'mesh', 'lease');
  t.match(await noCluster.get().catch((error: unknown) => error), {
    code: 'DM_ERR_LEASE_REQUEST',
    message: 'GET lease mesh/lease: the kubeconfig has no current cluster',
  });
});

t.test('two electors on the Lease API: one leads, hands over on stop, the other takes it at its next try', async (t) => {
  const api = new FakeLeaseApi();
  const server = await api.listen();
  t.teardown(() => api.close());
  const clock = new FakeClock(0);
  const elector = (identity: string) =>
    new LeaderElector({
      lock: new KubernetesLeaseLock(kubeConfigFor(server), 'mesh', 'dubbo-mesh-control-plane'),
      identity,
      clock,
      random: () => 0,
      wallClock: () => new Date(Date.UTC(2026, 11, 2, 10) + clock.now()),
    });
  const a = elector('cp-0');
  const b = elector('cp-1');
  t.teardown(() => Promise.all([a.stop(), b.stop()]));

  const aLeads = once(a, 'started-leading');
  a.start();
  await aLeads;
  const bSeesA = once(b, 'new-leader');
  b.start();
  t.same(await bSeesA, ['cp-0']);
  t.notOk(b.isLeader);

  const before = api.requests.length;
  clock.advance(2_000);
  await eventually(() => api.requests.length === before + 2, 'the renewal and the try');
  t.same(
    api.requests
      .slice(before)
      .map((request) => `${request.method} ${request.body === undefined ? '' : (request.body.spec as Record<string, unknown>).holderIdentity}`)
      .sort(),
    ['GET ', 'PUT cp-0'],
    'the leader renews with one PUT over the version it holds (no GET first); the candidate reads',
  );
  t.notOk(b.isLeader);

  await a.stop();
  const released = api.leases.get('mesh/dubbo-mesh-control-plane')!;
  t.match(released.spec, { holderIdentity: '', leaseDurationSeconds: 1, leaseTransitions: 0 });
  const bLeads = once(b, 'started-leading');
  clock.advance(2_000);
  await bLeads;
  t.match(api.leases.get('mesh/dubbo-mesh-control-plane')!.spec, { holderIdentity: 'cp-1', leaseDurationSeconds: 15, leaseTransitions: 1 });

  const writes = api.requests.filter((request) => request.body !== undefined);
  t.same(
    writes.filter((request) => request.method === 'POST').map((request) => request.path),
    ['/apis/coordination.k8s.io/v1/namespaces/mesh/leases'],
    'the Lease is created once',
  );
  t.ok(
    writes.every((request) => request.method === 'POST' || request.path === '/apis/coordination.k8s.io/v1/namespaces/mesh/leases/dubbo-mesh-control-plane'),
    'every other write is a PUT of the Lease',
  );
  t.ok(
    writes.every((request) => ['acquireTime', 'renewTime'].every((field) => MICRO_TIME.test(String((request.body!.spec as Record<string, unknown>)[field])))),
    'every MicroTime sent has six digits',
  );
});
