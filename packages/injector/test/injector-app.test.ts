// The injector as the command line starts it, with a small handler written here: from TLS files
// (rotated through a Secret volume's symlink swap: new connections see the new certificate, an
// invalid rotation keeps the old one), and with its own certificates in a cluster (the fake API
// server, the real client-node and the real election on the Lease dubbo-mesh-injector): both
// replicas serve the Secret's certificate and the leader's caBundle lets a client that trusts
// only the webhook configuration call either. Plus the flags' checks and start-up failures.
import t, { type Test } from 'tap';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { FakeClock, eventually } from '@dubbo-mesh/test-support';
import { startFakeKubeApiServer, type FakeKubeApiServer, type FakeKubeObject } from '@dubbo-mesh/test-support/fake-kube';
import {
  DEFAULT_DRAIN_MS,
  admissionSettingsFromFlags,
  certificateOriginFromFlags,
  startInjectorApp,
  type InjectorApp,
  type InjectorAppOptions,
} from '../dist/injector-app.js';
import type { AdmissionHandler } from '../dist/injector-server.js';
import { InjectorFlagError, InjectorListenError, TlsFilesError } from '../dist/errors.js';
import type { CertificatePair } from '../dist/tls-files.js';
import { httpGet, httpsRequest, recordingInjectorLogger, servedFingerprint, testCertificates } from './fixtures/https-fixtures.js';
import { addInjectorTypes } from './fixtures/injector-cluster.js';

/** Echoes the review's uid, allowed, no patch: what a handler that skips every pod answers. */
const handle: AdmissionHandler = (body) => {
  const uid = (body as { request?: { uid?: string } }).request?.uid;
  if (typeof uid !== 'string') throw Object.assign(new Error('request.uid: required'), { code: 'DM_ERR_BAD_ADMISSION_REVIEW' });
  return {
    review: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, allowed: true } },
    decision: { injected: false, reason: 'test', warnings: [] },
  };
};
const REVIEW = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u-1', object: { kind: 'Pod' } } });
const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;
const LOOPBACK = { host: '127.0.0.1', port: 0 };

async function start(t: Test, options: Partial<InjectorAppOptions> & Pick<InjectorAppOptions, 'certificates'>): Promise<InjectorApp> {
  const app = await startInjectorApp({ listen: LOOPBACK, admin: LOOPBACK, handle, logger: recordingInjectorLogger(), ...options });
  t.teardown(() => app.stop('test', { drain: false }));
  return app;
}

async function secretVolume(t: Test, pair: CertificatePair) {
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-injector-tls-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const write = async (version: string, files: CertificatePair) => {
    await mkdir(path.join(dir, version));
    await writeFile(path.join(dir, version, 'tls.crt'), files.cert);
    await writeFile(path.join(dir, version, 'tls.key'), files.key);
  };
  await write('..v1', pair);
  await symlink('..v1', path.join(dir, '..data'));
  await symlink('..data/tls.crt', path.join(dir, 'tls.crt'));
  await symlink('..data/tls.key', path.join(dir, 'tls.key'));
  return {
    cert: path.join(dir, 'tls.crt'),
    key: path.join(dir, 'tls.key'),
    async swap(version: string, files: CertificatePair) {
      await write(version, files);
      await symlink(version, path.join(dir, '..data_tmp'));
      await rename(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
    },
  };
}

t.test('from TLS files: rotated files are served to new connections; an invalid rotation keeps the old certificate', async (t) => {
  const first = await testCertificates();
  const second = await testCertificates();
  const trust = `${first.ca.cert}${second.ca.cert}`;
  const volume = await secretVolume(t, first.serving);
  const clock = new FakeClock();
  const app = await start(t, { certificates: { kind: 'files', certPath: volume.cert, keyPath: volume.key, pollIntervalMs: 0 }, clock });
  t.same(await httpGet(app.adminPort, '/ready'), { status: 200, body: '{"ready":true}' });
  t.equal((await httpsRequest(app.port, first.ca.cert, { body: REVIEW })).status, 200);
  t.equal(await servedFingerprint(app.port, trust), fingerprint(first.serving.cert));

  const watcher = app.certificates as unknown as { reloadScheduled: boolean };
  await volume.swap('..v2', second.serving);
  await eventually(() => watcher.reloadScheduled, 'the swap to be seen');
  clock.advance(1000);
  await eventually(async () => (await servedFingerprint(app.port, trust)) === fingerprint(second.serving.cert), 'new connections to get the new certificate');
  t.equal((await httpsRequest(app.port, second.ca.cert, { body: REVIEW })).status, 200, 'reviews answered under it');

  await volume.swap('..v3', { cert: first.serving.cert, key: second.serving.key });
  await eventually(() => watcher.reloadScheduled, 'the bad swap to be seen');
  clock.advance(1000);
  await eventually(async () => /certificate_reloads_total\{result="rejected"\} 1/.test((await httpGet(app.adminPort, '/metrics')).body), 'the rejection');
  t.notMatch(
    (await httpGet(app.adminPort, '/metrics')).body,
    /dubbo_mesh_injector_(leader|ca_bundle_trusted)/,
    'no election and no caBundle of its own with TLS files',
  );
  t.equal(await servedFingerprint(app.port, trust), fingerprint(second.serving.cert), 'the old certificate stays');
  t.match((await httpGet(app.adminPort, '/metrics')).body, /certificate_reloads_total\{result="applied"\} 1/);
});

/** The value of an unlabelled gauge on the admin API's /metrics, NaN when it is not exported. */
async function gauge(adminPort: number, name: string): Promise<number> {
  const line = (await httpGet(adminPort, '/metrics')).body.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? NaN : Number(line.split(' ')[1]);
}

/** Whether a TCP connection to 127.0.0.1:`port` is refused (nothing listens). */
function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

t.test('stop: /ready turns 503 at once, the webhook serves through the drain, then closes with its idle keep-alive connections', async (t) => {
  const { ca, serving } = await testCertificates();
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-injector-drain-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'tls.crt'), serving.cert);
  await writeFile(path.join(dir, 'tls.key'), serving.key);
  const clock = new FakeClock();
  const logger = recordingInjectorLogger();
  const app = await start(t, {
    certificates: { kind: 'files', certPath: path.join(dir, 'tls.crt'), keyPath: path.join(dir, 'tls.key'), pollIntervalMs: 0 },
    clock,
    logger,
  });
  // The API server keeps its connections: one stays open, idle, through the stop.
  const agent = new https.Agent({ keepAlive: true });
  t.teardown(() => agent.destroy());
  const kept = new Promise<net.Socket>((resolve) => agent.once('free', (socket: net.Socket) => resolve(socket)));
  t.equal((await httpsRequest(app.port, ca.cert, { body: REVIEW, agent })).status, 200);
  const idle = await kept;
  const idleClosed = new Promise<void>((resolve) => idle.once('close', () => resolve()));

  let stopped = false;
  const stopping = app.stop('SIGTERM').then(() => void (stopped = true));
  t.same(await httpGet(app.adminPort, '/ready'), { status: 503, body: '{"ready":false}' }, '/ready answers 503 at once');
  t.equal((await httpsRequest(app.port, ca.cert, { body: REVIEW })).status, 200, 'the webhook still reviews pods');
  clock.advance(DEFAULT_DRAIN_MS - 1);
  t.equal((await httpsRequest(app.port, ca.cert, { body: REVIEW })).status, 200, 'until the drain ends');
  t.same(await httpGet(app.adminPort, '/ready'), { status: 503, body: '{"ready":false}' });
  t.notOk(stopped, 'not stopped before the drain ends');
  clock.advance(1);
  await stopping;
  await idleClosed;
  t.pass('the idle keep-alive connection was closed: close() did not wait for its 120 s timeout');
  t.ok(await refused(app.port), 'the webhook no longer listens');
  t.ok(await refused(app.adminPort), 'nor the admin API');
  t.same(
    logger.lines.filter((l) => /^injector stop/.test(l.message)).map((l) => [l.message, l.fields.drainMs]),
    [
      ['injector stopping: /ready answers 503; the webhook serves until the drain ends', DEFAULT_DRAIN_MS],
      ['injector stopped', undefined],
    ],
  );

  // Stopping again resolves with the first stop.
  await app.stop('SIGTERM');
});

t.test('stop: a second stop without the drain (a second signal) cuts the drain short', async (t) => {
  const { serving } = await testCertificates();
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-injector-drain-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'tls.crt'), serving.cert);
  await writeFile(path.join(dir, 'tls.key'), serving.key);
  const clock = new FakeClock();
  const app = await start(t, {
    certificates: { kind: 'files', certPath: path.join(dir, 'tls.crt'), keyPath: path.join(dir, 'tls.key'), pollIntervalMs: 0 },
    clock,
    drainMs: 60_000,
  });
  const first = app.stop('SIGTERM');
  t.equal(clock.nextTimerAt, clock.now() + 60_000, 'draining for the drainMs given');
  await app.stop('SIGINT', { drain: false });
  await first;
  t.ok(await refused(app.port), 'closed without the clock moving');
  t.equal(clock.pendingTimers, 0, 'the drain timer is gone');
});

async function cluster(t: Test): Promise<FakeKubeApiServer> {
  const server = await startFakeKubeApiServer();
  t.teardown(() => server.close());
  addInjectorTypes(server);
  server.create({
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: 'dubbo-mesh-injector' },
    webhooks: [
      {
        name: 'inject.dubbo-mesh.io',
        admissionReviewVersions: ['v1'],
        sideEffects: 'None',
        clientConfig: { service: { name: 'dubbo-mesh-injector', namespace: 'dubbo-mesh', path: '/inject', port: 443 } },
      },
    ],
  } as FakeKubeObject);
  return server;
}

t.test('in a cluster: both replicas serve the Secret’s certificate; the leader of the Lease sets the caBundle that clients trust', async (t) => {
  const server = await cluster(t);
  const clock = new FakeClock();
  const origin = (identity: string) =>
    ({
      kind: 'kubernetes',
      kubeConfig: server.kubeConfig(),
      namespace: 'dubbo-mesh',
      service: 'dubbo-mesh-injector',
      webhookConfig: 'dubbo-mesh-injector',
      identity,
      pollIntervalMs: 1000,
    }) as const;
  const a = await start(t, { certificates: origin('injector-a'), clock });
  await eventually(() => a.elector!.isLeader, 'replica a to lead');
  const b = await start(t, { certificates: origin('injector-b'), clock });
  await eventually(() => b.elector!.leader === 'injector-a', 'replica b to see the leader');
  const lease = server.get('coordination.k8s.io/v1', 'Lease', 'dubbo-mesh', 'dubbo-mesh-injector')!;
  t.equal((lease.spec as { holderIdentity: string }).holderIdentity, 'injector-a');

  // What the API server does: trust what the webhook configuration's caBundle says.
  const caBundle = () => {
    const configuration = server.get('admissionregistration.k8s.io/v1', 'MutatingWebhookConfiguration', undefined, 'dubbo-mesh-injector')!;
    const encoded = (configuration.webhooks as Array<{ clientConfig: { caBundle?: string } }>)[0]!.clientConfig.caBundle;
    return encoded === undefined ? undefined : Buffer.from(encoded, 'base64').toString('utf8');
  };
  await eventually(() => caBundle() !== undefined, 'the leader to set the caBundle');
  for (const [name, app] of [
    ['a', a],
    ['b', b],
  ] as const) {
    const answer = await httpsRequest(app.port, caBundle()!, { body: REVIEW });
    t.equal(answer.status, 200, `replica ${name} is trusted through the caBundle`);
    t.equal(JSON.parse(answer.body).response.uid, 'u-1');
  }
  t.equal(await servedFingerprint(a.port, caBundle()!), await servedFingerprint(b.port, caBundle()!), 'one certificate for both');
  t.same(await httpGet(b.adminPort, '/ready'), { status: 200, body: '{"ready":true}' });

  // The gauges: who leads, and whether the caBundle trusts what each replica serves (known from its next poll).
  t.equal(await gauge(b.adminPort, 'dubbo_mesh_injector_ca_bundle_trusted'), 0, 'not known to be trusted before a poll read the caBundle');
  clock.advance(1000);
  await eventually(async () => (await gauge(b.adminPort, 'dubbo_mesh_injector_ca_bundle_trusted')) === 1, 'replica b to see the caBundle trust it');
  await eventually(async () => (await gauge(a.adminPort, 'dubbo_mesh_injector_ca_bundle_trusted')) === 1, 'replica a likewise');
  t.equal(await gauge(a.adminPort, 'dubbo_mesh_injector_leader'), 1, 'a leads');
  t.equal(await gauge(b.adminPort, 'dubbo_mesh_injector_leader'), 0, 'b does not');

  // The leader stops: after the drain it releases the Lease, and the other replica takes it at its next try.
  const stopping = a.stop('SIGTERM');
  clock.advance(DEFAULT_DRAIN_MS);
  await stopping;
  await eventually(() => {
    clock.advance(1000);
    return b.elector!.isLeader;
  }, 'replica b to lead');
});

t.test(
  'in a cluster, alone, with a Secret that holds nothing usable: its election runs during the start, so it leads, replaces the Secret and starts',
  async (t) => {
    const server = await cluster(t);
    server.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'dubbo-mesh-injector-tls', namespace: 'dubbo-mesh' },
      type: 'kubernetes.io/tls',
      data: { 'tls.crt': Buffer.from('garbage').toString('base64') },
    } as FakeKubeObject);
    const clock = new FakeClock();
    let app: InjectorApp | undefined;
    // Polls and the CA's propagation of a second, an election that needs no renewal meanwhile:
    // the test moves the clock a second at a time.
    const starting = startInjectorApp({
      listen: LOOPBACK,
      admin: LOOPBACK,
      handle,
      logger: recordingInjectorLogger(),
      clock,
      certificates: {
        kind: 'kubernetes',
        kubeConfig: server.kubeConfig(),
        namespace: 'dubbo-mesh',
        service: 'dubbo-mesh-injector',
        webhookConfig: 'dubbo-mesh-injector',
        identity: 'injector-alone',
        pollIntervalMs: 1000,
        caPropagationMs: 1000,
        leaseDurationMs: 600_000,
        renewDeadlineMs: 400_000,
        retryPeriodMs: 200_000,
      },
    }).then((started) => {
      t.teardown(() => started.stop('test', { drain: false }));
      app = started;
      return started;
    });
    const caBundle = () => {
      const configuration = server.get('admissionregistration.k8s.io/v1', 'MutatingWebhookConfiguration', undefined, 'dubbo-mesh-injector')!;
      const encoded = (configuration.webhooks as Array<{ clientConfig: { caBundle?: string } }>)[0]!.clientConfig.caBundle;
      return encoded === undefined ? undefined : Buffer.from(encoded, 'base64').toString('utf8');
    };
    await eventually(() => caBundle() !== undefined, 'the leader to put a new CA into the caBundle');
    t.equal(app, undefined, 'not started: nothing to serve yet');
    await eventually(() => {
      if (app === undefined) clock.advance(1000);
      return app !== undefined;
    }, 'the Secret to be replaced and the start to end');
    const started = await starting;
    t.ok(started.elector!.isLeader);
    t.same(await httpGet(started.adminPort, '/ready'), { status: 200, body: '{"ready":true}' });
    t.equal((await httpsRequest(started.port, caBundle()!, { body: REVIEW })).status, 200, 'trusted through the caBundle');
  },
);

t.test('flags: the handler settings and the certificate origin, each failure naming the flag', async (t) => {
  t.same(admissionSettingsFromFlags({ 'control-plane': 'dubbo-mesh-control-plane.dubbo-mesh.svc:15010' }), {
    controlPlane: 'dubbo-mesh-control-plane.dubbo-mesh.svc:15010',
    image: 'dubbo-mesh:0.1.0',
    nativeSidecar: true,
    javaRecipe: 'consumer',
    failOpen: false,
  });
  t.same(
    admissionSettingsFromFlags({
      'control-plane': '[::1]:15010',
      image: 'registry.local/dm:1',
      'native-sidecar': 'false',
      'java-recipe': 'migration',
      'fail-open': true,
    }),
    { controlPlane: '[::1]:15010', image: 'registry.local/dm:1', nativeSidecar: false, javaRecipe: 'migration', failOpen: true },
  );
  const refused: Array<[Record<string, string | boolean>, string, RegExp]> = [
    [{}, 'control-plane', /^--control-plane HOST:PORT is required/],
    [{ 'control-plane': 'nowhere' }, 'control-plane', /^--control-plane: "nowhere" is not HOST:PORT$/],
    [{ 'control-plane': 'cp:99999' }, 'control-plane', /is not HOST:PORT/],
    [{ 'control-plane': 'cp:15010', 'native-sidecar': 'yes' }, 'native-sidecar', /^--native-sidecar: "yes" is not true or false$/],
    [{ 'control-plane': 'cp:15010', 'java-recipe': 'all' }, 'java-recipe', /^--java-recipe: "all" is not one of consumer, migration, off$/],
    [{ 'control-plane': 'cp:15010', image: 'a b' }, 'image', /^--image/],
  ];
  for (const [values, flag, message] of refused) {
    const error = t.throws(() => admissionSettingsFromFlags(values)) as unknown as InjectorFlagError;
    t.ok(error instanceof InjectorFlagError, `${JSON.stringify(values)}: an InjectorFlagError`);
    t.equal(error.flag, flag);
    t.match(error.message, message);
  }

  t.same(certificateOriginFromFlags({ 'tls-cert': 'a.crt', 'tls-key': 'a.key' }, {}), {
    kind: 'files',
    certPath: 'a.crt',
    keyPath: 'a.key',
    service: 'dubbo-mesh-injector',
    namespace: 'dubbo-mesh',
  });
  t.match(certificateOriginFromFlags({ 'tls-cert': 'a.crt', 'tls-key': 'a.key', service: 'inj' }, { POD_NAMESPACE: 'mesh' }), {
    service: 'inj',
    namespace: 'mesh',
  });
  t.match(certificateOriginFromFlags({}, { KUBERNETES_SERVICE_HOST: '10.0.0.1', POD_NAMESPACE: 'mesh-system', POD_NAME: 'injector-0' }), {
    kind: 'kubernetes',
    namespace: 'mesh-system',
    identity: 'injector-0',
    service: 'dubbo-mesh-injector',
    webhookConfig: 'dubbo-mesh-injector',
  });
  t.match(certificateOriginFromFlags({ service: 'inj', 'webhook-config': 'wh' }, { KUBECONFIG: '/tmp/kc' }), {
    kind: 'kubernetes',
    namespace: 'dubbo-mesh',
    service: 'inj',
    webhookConfig: 'wh',
  });
  const originFailures: Array<[Record<string, string>, Record<string, string>, string, RegExp]> = [
    [{ 'tls-cert': 'a.crt' }, {}, 'tls-key', /^--tls-cert needs --tls-key/],
    [{ 'tls-key': 'a.key' }, { KUBERNETES_SERVICE_HOST: '10.0.0.1' }, 'tls-cert', /^--tls-key needs --tls-cert/],
    [{}, {}, 'tls-cert', /^give --tls-cert PATH and --tls-key PATH: outside a Kubernetes cluster/],
  ];
  for (const [values, env, flag, message] of originFailures) {
    const error = t.throws(() => certificateOriginFromFlags(values, env)) as unknown as InjectorFlagError;
    t.equal(error.flag, flag);
    t.match(error.message, message);
  }
});

t.test('start-up failures: a bad file or a busy address binds nothing and leaves nothing open', async (t) => {
  const { serving } = await testCertificates();
  const other = await testCertificates();
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-injector-start-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'tls.crt'), serving.cert);
  await writeFile(path.join(dir, 'tls.key'), serving.key);
  await writeFile(path.join(dir, 'other.key'), other.serving.key);
  const files = { kind: 'files', certPath: path.join(dir, 'tls.crt'), keyPath: path.join(dir, 'tls.key') } as const;

  const mismatch = await startInjectorApp({
    listen: LOOPBACK,
    admin: LOOPBACK,
    handle,
    logger: recordingInjectorLogger(),
    certificates: { ...files, keyPath: path.join(dir, 'other.key') },
  }).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(mismatch instanceof TlsFilesError);
  t.equal((mismatch as TlsFilesError).flag, 'tls-key');

  // A certificate past its expiry: /ready would say 200 while the API server refuses every handshake.
  const late = new Date(new X509Certificate(serving.cert).validTo).getTime() + 1000;
  const expired = await startInjectorApp({
    listen: LOOPBACK,
    admin: LOOPBACK,
    handle,
    logger: recordingInjectorLogger(),
    certificates: files,
    wallClock: () => new Date(late),
  }).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(expired instanceof TlsFilesError, 'an expired certificate is refused at start');
  t.equal((expired as TlsFilesError).flag, 'tls-cert');
  t.match((expired as TlsFilesError).message, /^the certificate expired on /);

  // One for another Service is served, with a warning naming the one the API server calls.
  const logger = recordingInjectorLogger();
  const elsewhere = await start(t, { certificates: { ...files, service: 'injector', namespace: 'mesh-system' }, logger });
  t.same(await httpGet(elsewhere.adminPort, '/ready'), { status: 200, body: '{"ready":true}' });
  t.match(
    logger.lines.filter((l) => l.level === 'warn').map((l) => l.message),
    [/^the certificate of --tls-cert does not name injector\.mesh-system\.svc: /],
  );
  await elsewhere.stop('test');

  const busy = net.createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => new Promise<void>((resolve) => busy.close(() => resolve())));
  const busyAddress = { host: '127.0.0.1', port: (busy.address() as net.AddressInfo).port };
  const listen = await startInjectorApp({ listen: busyAddress, admin: LOOPBACK, handle, logger: recordingInjectorLogger(), certificates: files }).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.equal((listen as InjectorListenError).listener, 'listen');

  // The webhook binds a port first; when the admin API cannot, the webhook's port is free again.
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
  const webhookPort = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const admin = await startInjectorApp({
    listen: { host: '127.0.0.1', port: webhookPort },
    admin: busyAddress,
    handle,
    logger: recordingInjectorLogger(),
    certificates: files,
  }).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.equal((admin as InjectorListenError).listener, 'admin');
  const again = net.createServer();
  await new Promise<void>((resolve, reject) => {
    again.once('error', reject);
    again.listen(webhookPort, '127.0.0.1', () => resolve());
  });
  await new Promise<void>((resolve) => again.close(() => resolve()));
  t.pass('the webhook port was closed again');
});
