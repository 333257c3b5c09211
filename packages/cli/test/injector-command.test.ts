// `dubbo-mesh injector` as users run it: the real executable, its synopsis against the flag
// table, one-line failures with their exit codes (the rest of the flags' checks are the
// injector's own tests: each case here is a process start), a review over HTTPS from TLS files, and a start
// in a cluster (the fake API server through KUBECONFIG) where it keeps its own certificate and
// patches the webhook's caBundle, and SIGTERM stopping it with exit 0.

import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eventually } from '@dubbo-mesh/test-support';
import { startFakeKubeApiServer, type FakeKubeObject } from '@dubbo-mesh/test-support/fake-kube';
import { INJECTOR_FLAGS, createCertificateAuthority, issueServingCertificate, serviceDnsNames } from '@dubbo-mesh/injector';
import { COMMANDS } from '../src/commands.js';
import { runToEnd, startChild } from './fixtures/child.js';
import { oneLine } from './fixtures/start-up.js';
import { addInjectorTypes } from '../../injector/test/fixtures/injector-cluster.js';

const dir = await mkdtemp(path.join(tmpdir(), 'dm-injector-cli-'));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const ca = await createCertificateAuthority({ now: new Date() });
const serving = await issueServingCertificate(ca, { dnsNames: serviceDnsNames('dubbo-mesh-injector', 'dubbo-mesh'), now: new Date() });
const certFile = path.join(dir, 'tls.crt');
const keyFile = path.join(dir, 'tls.key');
await writeFile(certFile, serving.cert);
await writeFile(keyFile, serving.key);
const TLS = ['--tls-cert', certFile, '--tls-key', keyFile];
// Made 400 days ago: expired 35 days ago.
const longAgo = new Date(Date.now() - 400 * 24 * 60 * 60 * 1000);
const expired = await issueServingCertificate(await createCertificateAuthority({ now: longAgo }), {
  dnsNames: serviceDnsNames('dubbo-mesh-injector', 'dubbo-mesh'),
  now: longAgo,
});
const expiredCertFile = path.join(dir, 'expired.crt');
const expiredKeyFile = path.join(dir, 'expired.key');
await writeFile(expiredCertFile, expired.cert);
await writeFile(expiredKeyFile, expired.key);
const CP = ['--control-plane', 'dubbo-mesh-control-plane.dubbo-mesh.svc:15010'];

/** The environment of a process outside any cluster. */
function outsideCluster(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.KUBERNETES_SERVICE_HOST;
  delete env.KUBECONFIG;
  return env;
}

/** A Deployment's pod as the API server sends it to the webhook: generateName, no name. */
function podReview(uid: string): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'shop',
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          generateName: 'orders-7d9f8b6c4-',
          namespace: 'shop',
          labels: { app: 'orders', 'pod-template-hash': '7d9f8b6c4', 'dubbo-mesh.io/inject': 'true' },
        },
        spec: {
          containers: [{ name: 'orders', image: 'example/orders:1.0', ports: [{ name: 'dubbo', containerPort: 20880 }] }],
          serviceAccountName: 'default',
        },
      },
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  });
}

function post(port: number, trust: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = https.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/inject',
        ca: trust,
        servername: 'dubbo-mesh-injector.dubbo-mesh.svc',
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

t.test('the synopsis names every flag of the injector’s flag table, with its default', async (t) => {
  const usage = COMMANDS.find((command) => command.name === 'injector')!.usage;
  const named = new Set([...usage.matchAll(/--([a-z][a-z-]*)/g)].map((match) => match[1]!));
  t.same(named, new Set(INJECTOR_FLAGS.map((flag) => flag.name)));
  for (const flag of INJECTOR_FLAGS) {
    if (flag.default === undefined) continue;
    const shown = new RegExp(`--${flag.name} ([^\\]\\s]+)`).exec(usage)?.[1];
    t.ok(shown === flag.default || shown!.split('|')[0] === flag.default, `--${flag.name} shows its default ${flag.default} (${shown})`);
  }
  const help = await runToEnd(['injector', '--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /^Usage: dubbo-mesh injector --control-plane HOST:PORT/);
});

t.test('a bad invocation is one line naming the flag, exit 2', async (t) => {
  const cases: Array<[string[], NodeJS.ProcessEnv | undefined, RegExp]> = [
    [[...TLS], undefined, /^dubbo-mesh injector: --control-plane HOST:PORT is required/],
    [[...CP, ...TLS, '--java-recipe', 'all'], undefined, /^dubbo-mesh injector: --java-recipe: "all" is not one of consumer, migration, off$/],
    [[...CP, '--tls-cert', certFile], undefined, /^dubbo-mesh injector: --tls-cert needs --tls-key/],
    [[...CP], outsideCluster(), /^dubbo-mesh injector: give --tls-cert PATH and --tls-key PATH: outside a Kubernetes cluster/],
  ];
  const results = await Promise.all(cases.map(([args, env]) => runToEnd(['injector', ...args], env === undefined ? {} : { env })));
  cases.forEach(([args, , message], i) => {
    const result = results[i]!;
    t.equal(result.code, 2, `${args.join(' ')}: exit 2`);
    t.equal(result.stderr.split('\n').filter((l) => l !== '').length, 1, `${args.join(' ')}: one line`);
    t.match(result.stderr.trimEnd(), message);
  });
});

t.test('start-up failures are one line naming the flag, exit 1', async (t) => {
  const busy = net.createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => new Promise<void>((resolve) => busy.close(() => resolve())));
  const address = `127.0.0.1:${(busy.address() as net.AddressInfo).port}`;
  const missing = path.join(dir, 'missing.crt');
  const cases: Array<[string, string[], string | RegExp]> = [
    ['--listen in use', [...CP, ...TLS, '--listen', address, '--admin', '127.0.0.1:0'], `dubbo-mesh injector: --listen ${address}: address already in use`],
    ['--admin in use', [...CP, ...TLS, '--listen', '127.0.0.1:0', '--admin', address], `dubbo-mesh injector: --admin ${address}: address already in use`],
    [
      'an unreadable --tls-cert',
      [...CP, '--tls-cert', missing, '--tls-key', keyFile, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0'],
      `dubbo-mesh injector: --tls-cert ${missing}: cannot read: no such file`,
    ],
    [
      'an expired --tls-cert',
      [...CP, '--tls-cert', expiredCertFile, '--tls-key', expiredKeyFile, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0'],
      new RegExp(
        `^dubbo-mesh injector: --tls-cert ${expiredCertFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: the certificate expired on \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z \\(valid from `,
      ),
    ],
  ];
  const results = await Promise.all(cases.map(([, args]) => runToEnd(['injector', ...args])));
  cases.forEach(([what, , expected], i) => oneLine(t, results[i]!, expected, what));
});

t.test(
  'from TLS files: ready, a Deployment pod reviewed over HTTPS; SIGTERM drains (/ready 503, reviews still answered), a second signal ends it with exit 0',
  async (t) => {
    const child = startChild(['injector', ...CP, ...TLS, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--log-level', 'debug']);
    t.teardown(() => child.process.kill('SIGKILL'));
    const ready = await child.waitFor((line) => line.msg === 'injector ready', 120_000);
    const port = Number(String(ready.listen).split(':').pop());
    const adminPort = Number(String(ready.admin).split(':').pop());
    t.equal((await fetch(`http://127.0.0.1:${adminPort}/ready`)).status, 200);
    const answer = await post(port, ca.cert, podReview('0f5b6a2c-1111-2222-3333-444455556666'));
    t.equal(answer.status, 200);
    const review = JSON.parse(answer.body) as { apiVersion: string; kind: string; response: { uid: string; allowed: boolean; patchType?: string } };
    t.match(review, {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: '0f5b6a2c-1111-2222-3333-444455556666', allowed: true, patchType: 'JSONPatch' },
    });
    const truncated = await post(port, ca.cert, podReview('x').slice(0, 100));
    t.equal(truncated.status, 400, 'truncated JSON is a 400');
    t.equal((await post(port, ca.cert, podReview('after'))).status, 200, 'and the webhook still serves');
    await child.waitFor((line) => line.level === 20 && line.uid === '0f5b6a2c-1111-2222-3333-444455556666');
    child.process.kill('SIGTERM');
    const stopping = await child.waitFor((line) => typeof line.msg === 'string' && line.msg.startsWith('injector stopping'));
    t.equal(stopping.drainMs, 5000, 'a drain of 5 s');
    t.equal((await fetch(`http://127.0.0.1:${adminPort}/ready`)).status, 503, 'SIGTERM: /ready answers 503 at once');
    t.equal((await post(port, ca.cert, podReview('draining'))).status, 200, 'while the webhook still reviews pods');
    // The drain would end on its own after 5 s; a second signal ends it now.
    child.process.kill('SIGTERM');
    t.equal(await child.exited, 0, 'SIGTERM: exit 0');
    t.ok(child.lines.some((line) => line.msg === 'a second signal: closing without waiting out the drain'));
    t.ok(child.lines.some((line) => line.msg === 'injector stopped'));
  },
);

t.test('in a cluster: its own certificate in the Secret, the caBundle patched by the leader', async (t) => {
  const cluster = await startFakeKubeApiServer();
  t.teardown(() => cluster.close());
  addInjectorTypes(cluster);
  cluster.create({
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
  const kubeconfig = path.join(dir, 'kubeconfig');
  await cluster.writeKubeConfig(kubeconfig);
  const env = { ...outsideCluster(), KUBECONFIG: kubeconfig, POD_NAMESPACE: 'dubbo-mesh', POD_NAME: 'dubbo-mesh-injector-0' };
  const child = startChild(['injector', ...CP, '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0'], env);
  t.teardown(() => child.process.kill('SIGKILL'));
  const ready = await child.waitFor((line) => line.msg === 'injector ready', 120_000);
  const port = Number(String(ready.listen).split(':').pop());
  t.ok(cluster.get('v1', 'Secret', 'dubbo-mesh', 'dubbo-mesh-injector-tls'), 'the Secret was created');
  const caBundle = () =>
    (
      cluster.get('admissionregistration.k8s.io/v1', 'MutatingWebhookConfiguration', undefined, 'dubbo-mesh-injector')!.webhooks as Array<{
        clientConfig: { caBundle?: string };
      }>
    )[0]!.clientConfig.caBundle;
  await eventually(() => caBundle() !== undefined, 'the leader to patch the caBundle');
  t.equal(
    (cluster.get('coordination.k8s.io/v1', 'Lease', 'dubbo-mesh', 'dubbo-mesh-injector')!.spec as { holderIdentity: string }).holderIdentity,
    'dubbo-mesh-injector-0',
  );
  const answer = await post(port, Buffer.from(caBundle()!, 'base64').toString('utf8'), podReview('in-cluster'));
  t.equal(answer.status, 200, 'trusted through the caBundle, as the API server trusts it');
  child.process.kill('SIGTERM');
  await child.waitFor((line) => typeof line.msg === 'string' && line.msg.startsWith('injector stopping'));
  child.process.kill('SIGINT');
  t.equal(await child.exited, 0);
  t.equal(
    (cluster.get('coordination.k8s.io/v1', 'Lease', 'dubbo-mesh', 'dubbo-mesh-injector')!.spec as { holderIdentity: string }).holderIdentity,
    '',
    'the Lease released on stop',
  );
});
