// The injector's own certificates against the fake API server of test-support (Secrets and the
// MutatingWebhookConfiguration served as built-in types added with addType), through the real
// client-node: replicas agreeing on one Secret, the leader keeping the webhook's caBundle,
// renewals on a moved wall clock (the new CA trusted before it is served), repairs. Poll
// timers run on a fake clock the test moves.
import t, { type Test } from 'tap';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { X509Certificate } from 'node:crypto';
import { FakeClock, eventually } from '@dubbo-mesh/test-support';
import { startFakeKubeApiServer, type FakeKubeApiServer, type FakeKubeObject } from '@dubbo-mesh/test-support/fake-kube';
import {
  CERTIFICATE_SECRET,
  SECRET_KEYS,
  startWebhookCertificates,
  type WebhookCertificates,
  type WebhookCertificatesOptions,
} from '../dist/webhook-certificates.js';
import { CertificateSecretError } from '../dist/errors.js';
import { createCertificateAuthority, parseCertificates, serviceDnsNames } from '../dist/self-signed-certificates.js';
import { addInjectorTypes } from './fixtures/injector-cluster.js';

const DAY = 24 * 60 * 60 * 1000;
const NAMESPACE = 'dubbo-mesh';
const SECRETS_PATH = `/api/v1/namespaces/${NAMESPACE}/secrets`;
const MWC_PATH = '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/dubbo-mesh-injector';

/** A leadership the test hands out by hand (the real elector is exercised by the app's test). */
class ManualLeadership extends EventEmitter {
  isLeader = false;
  lead(): void {
    this.isLeader = true;
    this.emit('started-leading');
  }
}

async function cluster(t: Test): Promise<FakeKubeApiServer> {
  const server = await startFakeKubeApiServer();
  t.teardown(() => server.close());
  addInjectorTypes(server);
  return server;
}

/** The webhook configuration as deploy/ applies it: two webhooks, no caBundle. */
function webhookConfiguration(): FakeKubeObject {
  const webhook = (name: string) => ({
    name,
    admissionReviewVersions: ['v1'],
    sideEffects: 'None',
    clientConfig: { service: { name: 'dubbo-mesh-injector', namespace: NAMESPACE, path: '/inject', port: 443 } },
    rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
  });
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: 'dubbo-mesh-injector' },
    webhooks: [webhook('namespace.inject.dubbo-mesh.io'), webhook('pod.inject.dubbo-mesh.io')],
  } as FakeKubeObject;
}

function caBundles(server: FakeKubeApiServer): Array<string | undefined> {
  const configuration = server.get('admissionregistration.k8s.io/v1', 'MutatingWebhookConfiguration', undefined, 'dubbo-mesh-injector')!;
  return (configuration.webhooks as Array<{ clientConfig: { caBundle?: string } }>).map((w) => w.clientConfig.caBundle);
}

function secretData(server: FakeKubeApiServer): Record<string, string> {
  const secret = server.get('v1', 'Secret', NAMESPACE, CERTIFICATE_SECRET)!;
  return Object.fromEntries(Object.entries(secret.data as Record<string, string>).map(([key, value]) => [key, Buffer.from(value, 'base64').toString('utf8')]));
}

const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;

function replica(
  t: Test,
  server: FakeKubeApiServer,
  options: Partial<WebhookCertificatesOptions> & { clock: FakeClock },
): { start(): Promise<WebhookCertificates>; leadership: ManualLeadership; log: string[] } {
  const leadership = new ManualLeadership();
  const log: string[] = [];
  return {
    leadership,
    log,
    async start() {
      const certificates = await startWebhookCertificates({
        kubeConfig: server.kubeConfig(),
        namespace: NAMESPACE,
        service: 'dubbo-mesh-injector',
        webhookConfig: 'dubbo-mesh-injector',
        leadership,
        pollIntervalMs: 10_000,
        log: (level, message) => void log.push(`${level}: ${message}`),
        ...options,
      });
      t.teardown(() => certificates.stop());
      return certificates;
    },
  };
}

/** Make `leadership` lead, and wait until the pass that starts on it finished. */
async function lead(leadership: ManualLeadership, certificates: WebhookCertificates): Promise<void> {
  await certificates.settled();
  const synced = new Promise<void>((resolve) => certificates.once('synced', () => resolve()));
  leadership.lead();
  await synced;
  await certificates.settled();
}

/** Move the fake clock past one poll and wait until `certificates` finished it. */
async function poll(clock: FakeClock, ...replicas: WebhookCertificates[]): Promise<void> {
  // A pass already under way (a start's, a lead's) would answer for the step: wait it out first.
  await Promise.all(replicas.map((r) => r.settled()));
  const synced = replicas.map((r) => new Promise<void>((resolve) => r.once('synced', () => resolve())));
  clock.advance(10_000);
  await Promise.all(synced);
  await Promise.all(replicas.map((r) => r.settled()));
}

t.test('replicas that start together agree on one Secret; the leader puts its CA into every webhook', async (t) => {
  const server = await cluster(t);
  server.create(webhookConfiguration());
  const clock = new FakeClock();
  const replicas = [replica(t, server, { clock }), replica(t, server, { clock }), replica(t, server, { clock })];
  const started = await Promise.all(replicas.map((r) => r.start()));
  const data = secretData(server);
  t.same(Object.keys(data).sort(), [SECRET_KEYS.caBundle, SECRET_KEYS.caKey, SECRET_KEYS.cert, SECRET_KEYS.key].sort());
  t.equal(server.get('v1', 'Secret', NAMESPACE, CERTIFICATE_SECRET)!.type, 'kubernetes.io/tls');
  for (const certificates of started) t.equal(certificates.current().cert, data[SECRET_KEYS.cert], 'each replica serves the Secret’s certificate');
  const posts = server.requests.filter((r) => r.method === 'POST' && r.path === SECRETS_PATH);
  t.equal(posts.filter((r) => r.status === 201).length, 1, 'one create won');
  t.ok(
    posts.filter((r) => r.status !== 201).every((r) => r.status === 409),
    `the others (${posts.length - 1} created too) got 409 and read the winner’s`,
  );

  const leaf = new X509Certificate(data[SECRET_KEYS.cert]!);
  const [ca] = parseCertificates(data[SECRET_KEYS.caBundle]!);
  t.ok(leaf.verify(ca!.publicKey), 'ca.crt signed tls.crt');
  t.match(
    leaf.subjectAltName,
    serviceDnsNames('dubbo-mesh-injector', NAMESPACE)
      .map((n) => `DNS:${n}`)
      .join(', '),
  );

  t.same(caBundles(server), [undefined, undefined], 'no replica leads yet: the webhook is not patched');
  await poll(clock, ...started);
  t.same(
    started.map((r) => r.caBundleTrusted),
    [false, false, false],
    'no caBundle: no replica is trusted',
  );
  await lead(replicas[1]!.leadership, started[1]!);
  t.ok(
    caBundles(server).every((b) => b !== undefined),
    'the leader patched the caBundle',
  );
  t.equal(started[1]!.caBundleTrusted, true, 'and read it back: trusted');
  await poll(clock, ...started);
  t.same(
    started.map((r) => r.caBundleTrusted),
    [true, true, true],
    'every replica sees the caBundle trust the certificate it serves',
  );
  t.same(caBundles(server), [Buffer.from(data[SECRET_KEYS.caBundle]!).toString('base64'), Buffer.from(data[SECRET_KEYS.caBundle]!).toString('base64')]);
  const patches = server.requests.filter((r) => r.method === 'PATCH' && r.path === MWC_PATH);
  t.equal(patches.length, 1, 'one JSON patch for both webhooks');

  // caBundles that hold another CA (not ours): replicas that do not lead say so; the leader puts ours back.
  const other = await createCertificateAuthority({ now: new Date() });
  const withCaBundles = (first: string | undefined, second: string | undefined) => {
    const configuration = server.get('admissionregistration.k8s.io/v1', 'MutatingWebhookConfiguration', undefined, 'dubbo-mesh-injector')!;
    const webhooks = configuration.webhooks as Array<{ clientConfig: Record<string, unknown> }>;
    server.replace({
      ...configuration,
      webhooks: [
        { ...webhooks[0]!, clientConfig: { ...webhooks[0]!.clientConfig, caBundle: first } },
        { ...webhooks[1]!, clientConfig: { ...webhooks[1]!.clientConfig, caBundle: second } },
      ],
    } as FakeKubeObject);
  };
  const ours = Buffer.from(data[SECRET_KEYS.caBundle]!).toString('base64');
  const theirs = Buffer.from(other.cert).toString('base64');
  replicas[1]!.leadership.isLeader = false;
  withCaBundles(theirs, theirs);
  await poll(clock, ...started);
  t.same(
    started.map((r) => r.caBundleTrusted),
    [false, false, false],
    'a caBundle that trusts another CA only: not trusted',
  );
  withCaBundles(ours, theirs);
  await poll(clock, ...started);
  t.same(
    started.map((r) => r.caBundleTrusted),
    [false, false, false],
    'one webhook that does not trust it is enough to say not trusted',
  );
  await lead(replicas[1]!.leadership, started[1]!);
  t.equal(started[1]!.caBundleTrusted, true, 'the leader put the CA back');

  // Re-applying deploy/ empties the caBundle: the leader's next poll puts it back; the others leave it.
  server.replace({ ...webhookConfiguration(), metadata: { name: 'dubbo-mesh-injector' } });
  t.same(caBundles(server), [undefined, undefined]);
  await poll(clock, ...started);
  t.same(caBundles(server), [Buffer.from(data[SECRET_KEYS.caBundle]!).toString('base64'), Buffer.from(data[SECRET_KEYS.caBundle]!).toString('base64')]);
  t.equal(server.requests.filter((r) => r.method === 'PATCH' && r.path === MWC_PATH).length, 3, 'patched by the leader alone');
});

t.test('a create that loses the race (409) reads and serves the winner’s Secret', async (t) => {
  const server = await cluster(t);
  const clock = new FakeClock();
  const first = await replica(t, server, { clock }).start();
  // The second replica's read misses the Secret (as if it read just before the first wrote).
  server.failNext({ method: 'GET', path: `${SECRETS_PATH}/${CERTIFICATE_SECRET}` }, 404);
  const second = await replica(t, server, { clock }).start();
  t.equal(second.current().cert, first.current().cert);
  t.same(
    server.requests.filter((r) => r.path.startsWith(SECRETS_PATH)).map((r) => `${r.method} ${r.status}`),
    ['GET 404', 'POST 201', 'GET 404', 'POST 409', 'GET 200'],
  );
});

/** The CAs each webhook's caBundle holds, by fingerprint. */
function trustedCas(server: FakeKubeApiServer): string[][] {
  return caBundles(server).map((encoded) => parseCertificates(Buffer.from(encoded ?? '', 'base64').toString('utf8')).map((ca) => ca.fingerprint256));
}

/** The requests to the Secret and the webhook configuration that write, as `METHOD status` from index `from` on. */
function writesSince(server: FakeKubeApiServer, from: number): string[] {
  return server.requests
    .slice(from)
    .filter((r) => (r.method === 'PATCH' && r.path === MWC_PATH) || (r.method === 'PUT' && r.path.startsWith(SECRETS_PATH)))
    .map((r) => `${r.method} ${r.status}`);
}

t.test(
  'renewal of the CA in two passes: the new CA into the caBundle (the old one kept) first, the certificate it signed into the Secret a poll later',
  async (t) => {
    const server = await cluster(t);
    server.create(webhookConfiguration());
    const clock = new FakeClock();
    let now = Date.now();
    const wallClock = () => new Date(now);
    const leader = replica(t, server, { clock, wallClock });
    const follower = replica(t, server, { clock, wallClock });
    const a = await leader.start();
    const b = await follower.start();
    await lead(leader.leadership, a);
    t.not(caBundles(server)[0], undefined, 'the first caBundle');
    const before = secretData(server);
    const oldCa = parseCertificates(before[SECRET_KEYS.caBundle]!)[0]!;

    now += 300 * DAY;
    await poll(clock, a, b);
    t.equal(secretData(server)[SECRET_KEYS.cert], before[SECRET_KEYS.cert], '65 days before expiry: nothing renewed');

    // Pass 1: the new CA is trusted, nothing it signed is written or served.
    now += 40 * DAY;
    let mark = server.requests.length;
    await poll(clock, a, b);
    t.same(writesSince(server, mark), ['PATCH 200'], 'pass 1 patches the caBundle and writes no Secret');
    const [first, second] = trustedCas(server);
    t.same(first, second, 'both webhooks trust the same CAs');
    t.equal(first!.length, 2, 'the new CA and the old one');
    t.equal(first![1], oldCa.fingerprint256, 'the old CA still trusted: replicas serve its certificate');
    const newCa = first![0]!;
    t.not(newCa, oldCa.fingerprint256);
    t.equal(secretData(server)[SECRET_KEYS.cert], before[SECRET_KEYS.cert], 'the Secret unchanged');
    t.equal(fingerprint(a.current().cert), fingerprint(before[SECRET_KEYS.cert]!), 'the leader serves the old certificate still');
    t.ok(
      leader.log.includes('info: the certificate to write waits until the webhook caBundle has trusted its CA long enough for every API server to see it'),
      'it says why it waits',
    );

    // Pass 2, a poll (10 s on the clock) later: the certificate the trusted CA signed is written.
    mark = server.requests.length;
    const changedB = new Promise<void>((resolve) => b.once('changed', () => resolve()));
    await poll(clock, a, b);
    t.same(writesSince(server, mark), ['PUT 200'], 'pass 2 writes the Secret, the caBundle needs nothing more');
    const after = secretData(server);
    t.not(after[SECRET_KEYS.cert], before[SECRET_KEYS.cert], 'a new serving certificate');
    const bundle = parseCertificates(after[SECRET_KEYS.caBundle]!);
    t.same(
      bundle.map((ca) => ca.fingerprint256),
      [newCa, oldCa.fingerprint256],
      'the Secret’s bundle is what the webhook trusts: the new CA first, the old one kept',
    );
    t.ok(new X509Certificate(after[SECRET_KEYS.cert]!).verify(bundle[0]!.publicKey), 'signed by the CA the webhook trusted a poll ago');
    t.equal(fingerprint(a.current().cert), fingerprint(after[SECRET_KEYS.cert]!), 'the leader serves it at once');
    t.same(trustedCas(server), [
      [newCa, oldCa.fingerprint256],
      [newCa, oldCa.fingerprint256],
    ]);

    await poll(clock, a, b);
    await changedB;
    t.equal(fingerprint(b.current().cert), fingerprint(after[SECRET_KEYS.cert]!), 'the other replica serves it after its poll');
    t.ok(leader.log.includes('info: renewed the CA and the serving certificate'), 'logged');
  },
);

t.test(
  'a caBundle patch refused (422: the configuration changed in between) writes no certificate of the new CA; the next passes patch, then write',
  async (t) => {
    const server = await cluster(t);
    server.create(webhookConfiguration());
    const clock = new FakeClock();
    let now = Date.now();
    const leader = replica(t, server, { clock, wallClock: () => new Date(now) });
    const certificates = await leader.start();
    await lead(leader.leadership, certificates);
    t.not(caBundles(server)[0], undefined, 'the first caBundle');
    const before = secretData(server);
    const oldCa = parseCertificates(before[SECRET_KEYS.caBundle]!)[0]!.fingerprint256;

    now += 340 * DAY;
    server.failNext({ method: 'PATCH', path: MWC_PATH }, 422);
    let mark = server.requests.length;
    await poll(clock, certificates);
    t.same(writesSince(server, mark), ['PATCH 422'], 'the patch is refused and nothing is written');
    t.same(trustedCas(server), [[oldCa], [oldCa]], 'the webhook trusts the old CA only');
    t.match(leader.log.join('\n'), /warn: the webhook configuration dubbo-mesh-injector changed while its caBundle was patched/);

    // Even a poll later the caBundle never held the new CA: still nothing written.
    server.failNext({ method: 'PATCH', path: MWC_PATH }, 422);
    mark = server.requests.length;
    await poll(clock, certificates);
    t.same(writesSince(server, mark), ['PATCH 422']);
    t.equal(secretData(server)[SECRET_KEYS.cert], before[SECRET_KEYS.cert], 'the Secret unchanged');
    t.equal(certificates.current().cert, before[SECRET_KEYS.cert], 'the old certificate served');

    mark = server.requests.length;
    await poll(clock, certificates);
    t.same(writesSince(server, mark), ['PATCH 200'], 'the patch goes through, the write waits');
    const newCa = trustedCas(server)[0]![0]!;
    mark = server.requests.length;
    await poll(clock, certificates);
    t.same(writesSince(server, mark), ['PUT 200'], 'a poll later the certificate is written');
    const after = secretData(server);
    t.ok(new X509Certificate(after[SECRET_KEYS.cert]!).verify(parseCertificates(after[SECRET_KEYS.caBundle]!)[0]!.publicKey));
    t.equal(parseCertificates(after[SECRET_KEYS.caBundle]!)[0]!.fingerprint256, newCa, 'signed by the CA the webhook holds');
  },
);

t.test('a 409 on the Secret’s write reads the Secret again and goes on from it, without patching the caBundle from what it read before', async (t) => {
  const server = await cluster(t);
  server.create(webhookConfiguration());
  const clock = new FakeClock();
  let now = Date.now();
  const leader = replica(t, server, { clock, wallClock: () => new Date(now) });
  const certificates = await leader.start();
  await lead(leader.leadership, certificates);
  t.not(caBundles(server)[0], undefined, 'the first caBundle');
  now += 340 * DAY;
  await poll(clock, certificates);
  const trusted = trustedCas(server);
  t.equal(trusted[0]!.length, 2, 'pass 1: the new CA trusted');

  server.failNext({ method: 'PUT', path: `${SECRETS_PATH}/${CERTIFICATE_SECRET}` }, 409);
  const mark = server.requests.length;
  await poll(clock, certificates);
  const after = server.requests
    .slice(mark)
    .filter((r) => r.path.startsWith(SECRETS_PATH) || r.path === MWC_PATH)
    .map((r) => `${r.method} ${r.path === MWC_PATH ? 'webhook' : 'secret'} ${r.status}`);
  t.same(
    after,
    ['GET secret 200', 'GET webhook 200', 'PUT secret 409', 'GET secret 200', 'GET webhook 200', 'PUT secret 200'],
    'the 409 is followed by a fresh read of the Secret, no patch, and the write again',
  );
  t.same(trustedCas(server), trusted, 'the caBundle never went back to the old bundle');
  t.equal(parseCertificates(secretData(server)[SECRET_KEYS.caBundle]!)[0]!.fingerprint256, trusted[0]![0], 'written with the CA trusted');
});

t.test('a serving certificate due before its CA is renewed alone, from the same CA', async (t) => {
  const server = await cluster(t);
  server.create(webhookConfiguration());
  const clock = new FakeClock();
  let now = Date.now();
  const leader = replica(t, server, { clock, wallClock: () => new Date(now), certificateValidityMs: 60 * DAY });
  const certificates = await leader.start();
  await lead(leader.leadership, certificates);
  t.not(caBundles(server)[0], undefined, 'the first caBundle');
  const before = secretData(server);
  now += 31 * DAY;
  await poll(clock, certificates);
  const after = secretData(server);
  t.not(after[SECRET_KEYS.cert], before[SECRET_KEYS.cert], 'renewed');
  t.equal(after[SECRET_KEYS.caBundle], before[SECRET_KEYS.caBundle], 'the same CA bundle');
  t.equal(after[SECRET_KEYS.caKey], before[SECRET_KEYS.caKey]);
  t.equal(server.requests.filter((r) => r.method === 'PATCH' && r.path === MWC_PATH).length, 1, 'the webhook needs no new patch');
  t.ok(leader.log.includes('info: renewed the serving certificate'));
});

t.test('a deleted Secret is written again by the leader with the certificate served; a broken one is replaced by the leader only, in two passes', async (t) => {
  const server = await cluster(t);
  server.create(webhookConfiguration());
  const clock = new FakeClock();
  const leader = replica(t, server, { clock });
  const follower = replica(t, server, { clock });
  const a = await leader.start();
  const b = await follower.start();
  const first = secretData(server);

  server.remove('v1', 'Secret', NAMESPACE, CERTIFICATE_SECRET);
  await poll(clock, a, b);
  t.notOk(server.get('v1', 'Secret', NAMESPACE, CERTIFICATE_SECRET), 'no replica that does not lead writes it');
  t.match(follower.log.join('\n'), /warn: Secret dubbo-mesh\/dubbo-mesh-injector-tls is missing; serving the last good certificate/);
  t.equal(b.current().cert, first[SECRET_KEYS.cert], 'and they serve what they served');
  await lead(leader.leadership, a);
  t.ok(server.get('v1', 'Secret', NAMESPACE, CERTIFICATE_SECRET), 'the leader wrote it again');
  t.same(secretData(server), first, 'with what replicas serve: no new CA, nothing trusted changes');
  await eventually(() => caBundles(server)[0] !== undefined, 'the caBundle');

  const broken = server.get('v1', 'Secret', NAMESPACE, CERTIFICATE_SECRET)!;
  server.replace({ ...broken, data: { ...(broken.data as object), [SECRET_KEYS.cert]: Buffer.from('garbage').toString('base64') } } as FakeKubeObject);
  leader.leadership.isLeader = false;
  await poll(clock, a, b);
  t.equal(b.current().cert, first[SECRET_KEYS.cert], 'a broken Secret is not served');
  t.equal(secretData(server)[SECRET_KEYS.cert], 'garbage', 'and no replica that does not lead rewrites it');
  t.match(follower.log.join('\n'), /holds no usable certificate \(tls.crt: not a PEM certificate/);
  const oldCa = parseCertificates(first[SECRET_KEYS.caBundle]!)[0]!.fingerprint256;
  t.same(trustedCas(server), [[oldCa], [oldCa]]);

  await lead(leader.leadership, a);
  t.equal(trustedCas(server)[0]!.length, 2, 'the leader trusts a new CA');
  t.equal(secretData(server)[SECRET_KEYS.cert], 'garbage', 'pass 1: not written yet');
  t.equal(trustedCas(server)[0]![1], oldCa, 'the CA of the certificate still served stays trusted');
  await poll(clock, a, b);
  const repaired = secretData(server);
  t.not(repaired[SECRET_KEYS.cert], 'garbage', 'pass 2: replaced');
  t.equal(parseCertificates(repaired[SECRET_KEYS.caBundle]!)[0]!.fingerprint256, trustedCas(server)[0]![0], 'by a certificate of the CA trusted');
  t.ok(leader.log.includes('warn: replaced the Secret of the webhook certificates: it held no usable certificate'));
  await poll(clock, a, b);
  t.equal(b.current().cert, repaired[SECRET_KEYS.cert]);
});

t.test('a replica that starts while the Secret holds nothing usable waits for a leader to replace it; it never replaces it itself', async (t) => {
  const server = await cluster(t);
  server.create(webhookConfiguration());
  const clock = new FakeClock();
  const first = replica(t, server, { clock });
  await first.start();
  const broken = server.get('v1', 'Secret', NAMESPACE, CERTIFICATE_SECRET)!;
  server.replace({ ...broken, data: { ...(broken.data as object), [SECRET_KEYS.key]: '' } } as FakeKubeObject);
  const secretsBefore = server.requests.filter((r) => r.method !== 'GET' && r.path.startsWith(SECRETS_PATH)).length;

  const late = replica(t, server, { clock });
  let started: WebhookCertificates | undefined;
  const starting = late.start().then((certificates) => (started = certificates));
  await eventually(() => late.log.some((l) => /holds no usable certificate \(no tls\.key\); waiting for the leader to replace it/.test(l)), 'the warning');
  clock.advance(10_000);
  await eventually(() => server.requests.filter((r) => r.method === 'GET' && r.path.startsWith(SECRETS_PATH)).length >= 4, 'a poll');
  t.equal(started, undefined, 'not started');
  t.equal(
    server.requests.filter((r) => r.method !== 'GET' && r.path.startsWith(SECRETS_PATH)).length,
    secretsBefore,
    'no write by a replica that does not lead',
  );

  late.leadership.lead();
  await eventually(() => trustedCas(server)[0]!.length > 0, 'the leader to trust its new CA');
  await eventually(() => {
    clock.advance(10_000);
    return started !== undefined;
  }, 'the start to end once the Secret was replaced');
  const certificates = await starting;
  t.equal(certificates.current().cert, secretData(server)[SECRET_KEYS.cert]);
});

t.test('a missing webhook configuration is warned about once, and patched once it exists', async (t) => {
  const server = await cluster(t);
  const clock = new FakeClock();
  const leader = replica(t, server, { clock });
  const certificates = await leader.start();
  leader.leadership.lead();
  await poll(clock, certificates);
  await poll(clock, certificates);
  t.same(
    leader.log.filter((l) => l.startsWith('warn:')),
    ['warn: MutatingWebhookConfiguration dubbo-mesh-injector does not exist: the API server sends the injector no pods'],
  );
  server.create(webhookConfiguration());
  await poll(clock, certificates);
  t.ok(caBundles(server).every((b) => b === Buffer.from(certificates.caBundle()).toString('base64')));
});

t.test('an API server that does not answer at start is one error naming the Secret', async (t) => {
  const server = await cluster(t);
  await server.stop();
  const error = await replica(t, server, { clock: new FakeClock() })
    .start()
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  t.ok(error instanceof CertificateSecretError);
  t.match((error as Error).message, /^cannot keep the serving certificate in Secret dubbo-mesh\/dubbo-mesh-injector-tls: ECONNREFUSED/);
  t.notMatch((error as Error).message, /\n/);
  await server.restart();
  server.failNext({ method: 'POST', path: SECRETS_PATH }, 403);
  const forbidden = await replica(t, server, { clock: new FakeClock() })
    .start()
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  t.match((forbidden as Error).message, /^cannot keep the serving certificate in Secret dubbo-mesh\/dubbo-mesh-injector-tls: HTTP 403/);
});

t.test('an API server that takes the connection but never answers fails the start after the request timeout', async (t) => {
  const sockets = new Set<net.Socket>();
  const silent = net.createServer((socket) => void sockets.add(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => silent.close(() => resolve()));
  });
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'silent', server: `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'silent' }],
    contexts: [{ name: 'silent', cluster: 'silent', user: 'silent' }],
    currentContext: 'silent',
  });
  const error = await startWebhookCertificates({
    kubeConfig,
    namespace: NAMESPACE,
    service: 'dubbo-mesh-injector',
    webhookConfig: 'dubbo-mesh-injector',
    leadership: new ManualLeadership(),
    clock: new FakeClock(),
    requestTimeoutMs: 300,
  }).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(error instanceof CertificateSecretError);
  t.equal((error as Error).message, 'cannot keep the serving certificate in Secret dubbo-mesh/dubbo-mesh-injector-tls: ETIMEDOUT (no answer in 0.3 s)');
});
