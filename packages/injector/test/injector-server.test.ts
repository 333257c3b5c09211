// The webhook's server over real HTTPS (verified as the API server verifies it), with a small
// handler written here: what it answers, what it refuses and how, that it keeps serving after
// each bad request, what it logs and counts, and certificate changes seen by new connections.
import t, { type Test } from 'tap';
import { EventEmitter } from 'node:events';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { KEEP_ALIVE_TIMEOUT_MS, startInjectorAdmin, startInjectorServer, type AdmissionHandler, type InjectorServer } from '../dist/injector-server.js';
import { InjectorMetrics } from '../dist/injector-metrics.js';
import { InjectorListenError } from '../dist/errors.js';
import type { CertificatePair, CertificateSource } from '../dist/tls-files.js';
import { eventually } from '@dubbo-mesh/test-support';
import { SERVER_NAME, httpGet, httpsRequest, recordingInjectorLogger, servedFingerprint, testCertificates } from './fixtures/https-fixtures.js';

const { ca, serving } = await testCertificates();

/** A certificate source the test changes by hand. */
function manualSource(initial: CertificatePair): CertificateSource & { change(pair: CertificatePair): void } {
  const events = new EventEmitter();
  let pair = initial;
  return {
    current: () => pair,
    onChange(listener) {
      events.on('change', listener);
      return () => events.off('change', listener);
    },
    change(next) {
      pair = next;
      events.emit('change', next);
    },
  };
}

class TestBadReviewError extends Error {
  readonly code = 'DM_ERR_BAD_ADMISSION_REVIEW';
}

/**
 * The test's handler, in the contract's shape: a review of a pod labelled inject=true is
 * "injected", inject=false "skipped", a `bad` annotation refused (allowed: false) and a `warn`
 * one admitted with a warning; no `request` is a bad review; a pod named `crash` is a bug.
 */
const handle: AdmissionHandler = (body) => {
  const request = (
    body as { request?: { uid?: string; name?: string; object?: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> } } } }
  )?.request;
  if (typeof request !== 'object' || request === null || typeof request.uid !== 'string')
    throw new TestBadReviewError('request.uid: required: not an AdmissionReview');
  if (request.name === 'crash') throw new TypeError("Cannot read properties of undefined (reading 'containers')");
  const metadata = request.object?.metadata ?? {};
  if (metadata.annotations?.bad !== undefined) {
    return {
      review: {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        response: { uid: request.uid, allowed: false, status: { message: 'bad: invalid' } },
      },
      decision: { injected: false, reason: 'invalid annotation bad', warnings: [] },
    };
  }
  const injected = metadata.labels?.inject === 'true';
  const warnings = metadata.annotations?.warn !== undefined ? ['warn: deprecated'] : [];
  return {
    review: {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: request.uid, allowed: true, ...(injected ? { patchType: 'JSONPatch', patch: 'W10=' } : {}), warnings },
    },
    decision: { injected, reason: injected ? 'labelled' : 'not labelled', warnings },
  };
};

function review(
  uid: string,
  pod: { name?: string; generateName?: string; labels?: Record<string, string>; annotations?: Record<string, string> } = {},
): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      operation: 'CREATE',
      namespace: 'shop',
      name: pod.name ?? '',
      object: { apiVersion: 'v1', kind: 'Pod', metadata: { generateName: pod.generateName, labels: pod.labels, annotations: pod.annotations } },
    },
  });
}

async function start(t: Test, options: { bodyLimitBytes?: number } = {}) {
  const logger = recordingInjectorLogger();
  const metrics = new InjectorMetrics();
  const tls = manualSource(serving);
  const server = await startInjectorServer({ listen: { host: '127.0.0.1', port: 0 }, tls, handle, logger, metrics, ...options });
  const admin = await startInjectorAdmin(server, metrics, { host: '127.0.0.1', port: 0 });
  t.teardown(async () => {
    await admin.close();
    await server.close();
  });
  return { server, admin, logger, tls, metrics };
}

async function metric(adminPort: number, name: string): Promise<number> {
  const text = (await httpGet(adminPort, '/metrics')).body;
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? NaN : Number(line.split(' ')[1]);
}

t.test('a review is answered 200 with the handler’s review; decisions are logged at debug, refusals and warnings at info', async (t) => {
  const { server, admin, logger } = await start(t);
  const injected = await httpsRequest(server.port, ca.cert, { body: review('uid-1', { generateName: 'shop-7d9f-', labels: { inject: 'true' } }) });
  t.equal(injected.status, 200);
  t.match(injected.headers['content-type'], /^application\/json/);
  t.same(JSON.parse(injected.body), {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid: 'uid-1', allowed: true, patchType: 'JSONPatch', patch: 'W10=', warnings: [] },
  });
  const skipped = await httpsRequest(server.port, ca.cert, { body: review('uid-2', { name: 'plain' }) });
  t.equal(JSON.parse(skipped.body).response.allowed, true);
  const refused = await httpsRequest(server.port, ca.cert, { body: review('uid-3', { name: 'bad-one', annotations: { bad: 'x' } }) });
  t.equal(refused.status, 200, 'a refusal is a review too');
  t.equal(JSON.parse(refused.body).response.allowed, false);
  const warned = await httpsRequest(server.port, ca.cert, { body: review('uid-4', { name: 'old', labels: { inject: 'true' }, annotations: { warn: 'x' } }) });
  t.equal(warned.status, 200);

  const lines = logger.lines.map((l) => ({ level: l.level, message: l.message, uid: l.fields.uid, pod: l.fields.pod, result: l.fields.result }));
  t.same(lines, [
    { level: 'debug', message: 'injected the sidecar', uid: 'uid-1', pod: 'shop-7d9f-*', result: 'injected' },
    { level: 'debug', message: 'left a pod as it is', uid: 'uid-2', pod: 'plain', result: 'skipped' },
    { level: 'info', message: 'refused a pod', uid: 'uid-3', pod: 'bad-one', result: 'refused' },
    { level: 'info', message: 'reviewed a pod, with warnings', uid: 'uid-4', pod: 'old', result: 'injected' },
  ]);
  t.equal(logger.lines[2]!.fields.reason, 'invalid annotation bad');
  t.same(logger.lines[3]!.fields.warnings, ['warn: deprecated']);
  t.equal(logger.lines[0]!.fields.namespace, 'shop');

  t.equal(await metric(admin.port, 'dubbo_mesh_injector_reviews_total{result="injected"}'), 2);
  t.equal(await metric(admin.port, 'dubbo_mesh_injector_reviews_total{result="skipped"}'), 1);
  t.equal(await metric(admin.port, 'dubbo_mesh_injector_reviews_total{result="refused"}'), 1);
  t.equal(await metric(admin.port, 'dubbo_mesh_injector_reviews_total{result="bad_request"}'), 0, 'exported at 0 before it happens');
  t.equal(await metric(admin.port, 'dubbo_mesh_injector_review_duration_seconds_count'), 4, 'every review timed');
  t.equal(await metric(admin.port, 'dubbo_mesh_injector_certificate_not_after_seconds'), Math.floor(serving.notAfter.getTime() / 1000));
});

t.test('bad requests get 4xx with one line, a handler bug 500; the server keeps serving after each', async (t) => {
  const { server, admin, logger } = await start(t, { bodyLimitBytes: 64 * 1024 });
  const full = review('uid-ok', { labels: { inject: 'true' } });
  const cases: Array<[string, Parameters<typeof httpsRequest>[2], number, RegExp]> = [
    ['truncated JSON', { body: full.slice(0, full.length / 2) }, 400, /JSON/i],
    ['JSON that is not a review', { body: '{"kind":"Pod"}' }, 400, /^request\.uid: required: not an AdmissionReview$/],
    ['an empty body', { body: '' }, 400, /empty/i],
    ['another media type', { body: full, contentType: 'text/plain' }, 415, /media type|content-type/i],
    ['a body over the limit', { body: JSON.stringify({ padding: 'x'.repeat(70 * 1024) }) }, 413, /too large/i],
    ['GET /inject', { method: 'GET' }, 405, /POST only/],
    ['another path', { path: '/mutate', body: full }, 404, /POST \/inject/],
  ];
  for (const [what, options, status, message] of cases) {
    const answer = await httpsRequest(server.port, ca.cert, options);
    t.equal(answer.status, status, `${what}: ${status}`);
    const error = (JSON.parse(answer.body) as { error: string }).error;
    t.match(error, message, `${what}: says why`);
    t.notMatch(error, /\n/, `${what}: on one line`);
    const after = await httpsRequest(server.port, ca.cert, { body: full });
    t.equal(after.status, 200, `${what}: the next review is answered`);
  }
  t.equal((await httpsRequest(server.port, ca.cert, { method: 'GET' })).headers.allow, 'POST', '405 says what is allowed');

  const crash = await httpsRequest(server.port, ca.cert, { body: review('uid-crash', { name: 'crash' }) });
  t.equal(crash.status, 500);
  t.match(JSON.parse(crash.body).error, /see its log/);
  const bug = logger.lines.find((l) => l.level === 'error')!;
  t.equal(bug.message, 'the admission handler failed');
  t.match(bug.fields.error, /TypeError: Cannot read properties of undefined[\s\S]*\n\s+at /, 'logged with its stack');
  t.equal(bug.fields.uid, 'uid-crash');
  t.equal((await httpsRequest(server.port, ca.cert, { body: full })).status, 200, 'serving after the bug');

  // Five on POST /inject: truncated, not a review, empty, media type, too large; the 405 and 404 are not reviews.
  t.equal(await metric(admin.port, 'dubbo_mesh_injector_reviews_total{result="bad_request"}'), 5);
  t.equal(await metric(admin.port, 'dubbo_mesh_injector_reviews_total{result="error"}'), 1);
  t.equal(await metric(admin.port, 'dubbo_mesh_injector_reviews_total{result="injected"}'), 8, 'the good review after each case');
  t.ok(
    logger.lines.filter((l) => l.level === 'info').every((l) => /^refused a request/.test(l.message)),
    'each bad request logged at info',
  );
});

t.test('keep-alive connections carry many reviews, and are kept idle longer than the API server keeps them (90 s)', async (t) => {
  const { server } = await start(t);
  const agent = new https.Agent({ keepAlive: true, maxSockets: 2 });
  t.teardown(() => agent.destroy());
  const sockets = new Set<unknown>();
  agent.on('free', (socket) => sockets.add(socket));
  const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => httpsRequest(server.port, ca.cert, { body: review(`uid-${i}`), agent })));
  t.ok(answers.every((a) => a.status === 200 && JSON.parse(a.body).response.uid.startsWith('uid-')));
  t.ok(sockets.size <= 2, `on at most two connections (${sockets.size})`);
  // What the server tells a keep-alive client is what its socket timer does (Node sets both from keepAliveTimeout).
  const timeout = Number(/^timeout=(\d+)$/.exec(String(answers[0]!.headers['keep-alive']))?.[1]);
  t.equal(timeout, KEEP_ALIVE_TIMEOUT_MS / 1000, `idle connections kept ${timeout} s`);
  t.ok(timeout > 90, 'longer than Go’s idle timeout, so the API server closes first');
});

t.test('a new certificate is served to new connections; one TLS cannot use is refused and the old one stays', async (t) => {
  const { server, admin, tls, logger } = await start(t);
  const next = await testCertificates();
  const bundle = `${ca.cert}${next.ca.cert}`;
  t.equal(await servedFingerprint(server.port, bundle), new X509Certificate(serving.cert).fingerprint256);
  tls.change(next.serving);
  t.equal(await servedFingerprint(server.port, bundle), new X509Certificate(next.serving.cert).fingerprint256, 'a new connection sees the new certificate');
  t.equal((await httpsRequest(server.port, next.ca.cert, { body: review('after') })).status, 200, 'and reviews are answered under it');
  t.equal(server.certificate.cert, next.serving.cert);

  tls.change({ cert: serving.cert, key: next.serving.key });
  t.equal(await servedFingerprint(server.port, bundle), new X509Certificate(next.serving.cert).fingerprint256, 'a mismatched pair is not served');
  t.equal(logger.lines.at(-1)!.message, 'TLS cannot use the new certificate; the one in use stays');
  t.equal(await metric(admin.port, 'dubbo_mesh_injector_certificate_reloads_total{result="applied"}'), 1);
  t.equal(await metric(admin.port, 'dubbo_mesh_injector_certificate_reloads_total{result="rejected"}'), 1);
  t.equal(await metric(admin.port, 'dubbo_mesh_injector_certificate_not_after_seconds'), Math.floor(next.serving.notAfter.getTime() / 1000));
});

t.test('a review in flight when the server closes is answered with Connection: close, so no kept-alive connection outlives close()', async (t) => {
  let closing: Promise<void> | undefined;
  // The handler starts the close while its own review is in flight: the connection is busy, not idle.
  const closingHandle: AdmissionHandler = (body) => {
    closing ??= server.close();
    return handle(body);
  };
  const server: InjectorServer = await startInjectorServer({
    listen: { host: '127.0.0.1', port: 0 },
    tls: manualSource(serving),
    handle: closingHandle,
    logger: recordingInjectorLogger(),
  });
  const socket = tls.connect({ host: '127.0.0.1', port: server.port, ca: ca.cert, servername: SERVER_NAME });
  t.teardown(() => void socket.destroy());
  await new Promise<void>((resolve) => socket.once('secureConnect', () => resolve()));
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const ended = new Promise<void>((resolve) => socket.once('end', () => resolve()));
  const body = review('in-flight');
  socket.write(
    `POST /inject HTTP/1.1\r\nHost: ${SERVER_NAME}\r\nConnection: keep-alive\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  await eventually(() => text.includes('"uid":"in-flight"'), 'the answer');
  t.match(text, /^HTTP\/1\.1 200 /, 'answered');
  const closes = /\r\nconnection: close\r\n/i.test(text);
  t.ok(closes, 'with Connection: close');
  // Without it the connection would stay open up to the keep-alive timeout, and close() with it.
  if (!closes) socket.destroy();
  else await ended;
  await closing;
});

t.test('/ready is 200 while serving and 503 once closed', async (t) => {
  const metrics = new InjectorMetrics();
  const server = await startInjectorServer({
    listen: { host: '127.0.0.1', port: 0 },
    tls: manualSource(serving),
    handle,
    logger: recordingInjectorLogger(),
    metrics,
  });
  const admin = await startInjectorAdmin(server, metrics, { host: '127.0.0.1', port: 0 });
  t.teardown(() => admin.close());
  t.same(await httpGet(admin.port, '/ready'), { status: 200, body: '{"ready":true}' });
  await server.close();
  t.same(await httpGet(admin.port, '/ready'), { status: 503, body: '{"ready":false}' });
});

t.test('an address in use is an InjectorListenError naming the listener', async (t) => {
  const busy = net.createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => new Promise<void>((resolve) => busy.close(() => resolve())));
  const port = (busy.address() as net.AddressInfo).port;
  const error = await startInjectorServer({ listen: { host: '127.0.0.1', port }, tls: manualSource(serving), handle, logger: recordingInjectorLogger() }).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(error instanceof InjectorListenError);
  t.equal((error as InjectorListenError).listener, 'listen');
  t.equal(((error as InjectorListenError).cause as { code?: string }).code, 'EADDRINUSE');
  const server: InjectorServer = await startInjectorServer({
    listen: { host: '127.0.0.1', port: 0 },
    tls: manualSource(serving),
    handle,
    logger: recordingInjectorLogger(),
  });
  t.teardown(() => server.close());
  const adminError = await startInjectorAdmin(server, server.metrics, { host: '127.0.0.1', port }).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.equal((adminError as InjectorListenError).listener, 'admin');
  t.equal((adminError as InjectorListenError).code, 'DM_ERR_INJECTOR_LISTEN');
});
