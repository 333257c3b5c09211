// The injector's own CA and serving certificate, judged by Node's X.509 parser, by OpenSSL's
// verifier (with the TLS server purpose, as strict as a Go client on the points that matter:
// SANs, key usage, CA constraints) and by a real TLS handshake that checks the name.
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import {
  CERTIFICATE_VALIDITY_MS,
  createCertificateAuthority,
  dnsNamesOf,
  issueServingCertificate,
  needsRenewal,
  parseCertificates,
  serviceDnsNames,
} from '../dist/self-signed-certificates.js';
import { SERVER_NAME, httpsRequest } from './fixtures/https-fixtures.js';

const DAY = 24 * 60 * 60 * 1000;
const now = new Date('2026-12-01T12:00:00Z');

t.test("the Service's DNS names, short to fully qualified", async (t) => {
  t.same(serviceDnsNames('dubbo-mesh-injector', 'dubbo-mesh'), [
    'dubbo-mesh-injector',
    'dubbo-mesh-injector.dubbo-mesh',
    'dubbo-mesh-injector.dubbo-mesh.svc',
    'dubbo-mesh-injector.dubbo-mesh.svc.cluster.local',
  ]);
});

t.test('a CA that signs, and a serving certificate for the Service that it signed', async (t) => {
  const ca = await createCertificateAuthority({ now });
  const caCert = new X509Certificate(ca.cert);
  t.ok(caCert.ca, 'the CA is a CA');
  t.ok(caCert.verify(caCert.publicKey), 'self-signed');
  t.match(caCert.subject, /CN=dubbo-mesh-injector-ca-[0-9a-f]{8}$/m, 'a CA name that tells generations apart');
  t.not(new X509Certificate((await createCertificateAuthority({ now })).cert).subject, caCert.subject, 'the next CA has another name');
  t.equal(new Date(caCert.validTo).getTime(), Math.floor((now.getTime() + CERTIFICATE_VALIDITY_MS) / 1000) * 1000, 'valid a year from now');
  t.ok(new Date(caCert.validFrom).getTime() < now.getTime(), 'back-dated a little for clocks behind ours');

  const names = serviceDnsNames('dubbo-mesh-injector', 'dubbo-mesh');
  const serving = await issueServingCertificate(ca, { dnsNames: names, now });
  const leaf = new X509Certificate(serving.cert);
  t.notOk(leaf.ca, 'the serving certificate is not a CA');
  t.ok(leaf.verify(caCert.publicKey), 'signed by the CA');
  t.ok(leaf.checkIssued(caCert), 'names the CA as its issuer');
  t.same(dnsNamesOf(leaf), names, 'SANs: every name of the Service');
  t.ok(leaf.checkHost('dubbo-mesh-injector.dubbo-mesh.svc'), 'matches the name the API server calls');
  t.notOk(leaf.checkHost('other.dubbo-mesh.svc'));
  t.same(leaf.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'for TLS servers only');
  t.ok(leaf.checkPrivateKey((await import('node:crypto')).createPrivateKey(serving.key)), 'its key is the one returned');
  t.not(leaf.serialNumber, caCert.serialNumber);
  t.notMatch(leaf.serialNumber, /^[89A-F]/, 'a positive serial');

  const dir = await mkdtemp(path.join(tmpdir(), 'dm-x509-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'ca.pem'), ca.cert);
  await writeFile(path.join(dir, 'leaf.pem'), serving.cert);
  const openssl = await new Promise<{ code: number | null; out: string }>((resolve) =>
    execFile('openssl', ['verify', '-CAfile', path.join(dir, 'ca.pem'), '-purpose', 'sslserver', path.join(dir, 'leaf.pem')], (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : ((error as { code?: number }).code ?? 1), out: stdout + stderr }),
    ),
  );
  if (openssl.code === 127 || /ENOENT/.test(openssl.out)) t.comment('openssl is not installed: its check is skipped');
  else t.equal(openssl.code, 0, `openssl verify -purpose sslserver: ${openssl.out.trim()}`);
});

t.test('a TLS client that trusts the CA reaches the server by its Service name, and only by it', async (t) => {
  const ca = await createCertificateAuthority({ now: new Date() });
  const serving = await issueServingCertificate(ca, { dnsNames: serviceDnsNames('dubbo-mesh-injector', 'dubbo-mesh'), now: new Date() });
  const server = https.createServer({ cert: serving.cert, key: serving.key }, (_request, response) => response.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as { port: number }).port;
  const answer = await httpsRequest(port, ca.cert, { method: 'GET', path: '/' });
  t.equal(answer.body, 'ok', `verified for ${SERVER_NAME}`);
  const wrongName = await new Promise<Error>((resolve) => {
    const request = https.request({ host: '127.0.0.1', port, ca: ca.cert, servername: 'elsewhere.dubbo-mesh.svc', agent: false }, () =>
      resolve(new Error('answered')),
    );
    request.on('error', resolve);
    request.end();
  });
  t.match(wrongName.message, /does not match|altnames/i, 'another name is refused');
  const otherCa = await createCertificateAuthority({ now: new Date() });
  await t.rejects(httpsRequest(port, otherCa.cert, { method: 'GET', path: '/' }), /self[- ]signed|unable to verify|certificate/i, 'another CA is refused');
});

t.test('a serving certificate never outlives its CA', async (t) => {
  const ca = await createCertificateAuthority({ now, validityMs: 100 * DAY });
  const serving = await issueServingCertificate(ca, { dnsNames: ['a.b.svc'], now });
  t.equal(serving.notAfter.getTime(), ca.notAfter.getTime());
  t.equal(new X509Certificate(serving.cert).validTo, new X509Certificate(ca.cert).validTo);
});

t.test('renewal is due within 30 days of expiry, or when the certificate is not valid yet', async (t) => {
  const ca = await createCertificateAuthority({ now });
  const cert = new X509Certificate(ca.cert);
  t.notOk(needsRenewal(cert, now), 'fresh');
  t.notOk(needsRenewal(cert, new Date(now.getTime() + 334 * DAY)), '31 days left');
  t.ok(needsRenewal(cert, new Date(now.getTime() + 336 * DAY)), '29 days left');
  t.ok(needsRenewal(cert, new Date(now.getTime() + 400 * DAY)), 'expired');
  t.ok(needsRenewal(cert, new Date(now.getTime() - 2 * DAY)), 'not valid yet (a clock far behind)');
});

t.test('a PEM bundle parses to its certificates in order; junk is left out', async (t) => {
  const a = await createCertificateAuthority({ now, commonName: 'a' });
  const b = await createCertificateAuthority({ now, commonName: 'b' });
  const parsed = parseCertificates(`${a.cert}\n${b.cert}-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n`);
  t.same(
    parsed.map((c) => c.subject.split('\n').find((line) => line.startsWith('CN='))),
    ['CN=a', 'CN=b'],
  );
  t.same(parseCertificates('nothing here'), []);
});
