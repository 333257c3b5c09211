// --tls-cert/--tls-key: checked at start with one error naming the flag, then followed through a
// Secret volume's symbolic-link swap (what the kubelet does when cert-manager renews), with the
// debounce on a fake clock: the test moves time, the file system sends real events.
import t from 'tap';
import { once } from 'node:events';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { FakeClock, eventually } from '@dubbo-mesh/test-support';
import { namesHost, readCertificatePair, startTlsFileWatcher, type CertificatePair } from '../dist/tls-files.js';
import { TlsFilesError } from '../dist/errors.js';
import { issueServingCertificate } from '../dist/self-signed-certificates.js';
import { testCertificates } from './fixtures/https-fixtures.js';

const DAY = 24 * 60 * 60 * 1000;
const first = await testCertificates();
const second = await testCertificates();
/** Made 400 days ago: expired 35 days ago. */
const expired = await testCertificates(new Date(Date.now() - 400 * DAY));

function fingerprint(pair: CertificatePair): string {
  return new X509Certificate(pair.cert).fingerprint256;
}

/** A folder laid out as the kubelet lays out a Secret volume: tls.crt → ..data/tls.crt, ..data → ..VERSION. */
async function secretVolume(
  pair: CertificatePair,
): Promise<{ dir: string; cert: string; key: string; swap(version: string, pair: CertificatePair): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-tls-'));
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
    dir,
    cert: path.join(dir, 'tls.crt'),
    key: path.join(dir, 'tls.key'),
    async swap(version, files) {
      await write(version, files);
      await symlink(version, path.join(dir, '..data_tmp'));
      await rename(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
    },
  };
}

async function failure(promise: Promise<unknown>): Promise<TlsFilesError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof TlsFilesError) return error;
    throw error;
  }
  throw new Error('expected a TlsFilesError');
}

t.test('at start: each unusable pair is one error naming the flag and the file', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-tls-start-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => writeFile(path.join(dir, name), text).then(() => path.join(dir, name));
  const cert = await file('tls.crt', first.serving.cert);
  const key = await file('tls.key', first.serving.key);
  const otherKey = await file('other.key', second.serving.key);
  const junk = await file('junk.pem', 'hello\n');
  const missing = path.join(dir, 'missing.crt');

  const good = await readCertificatePair(cert, key);
  t.equal(good.checked.fingerprint256, fingerprint(first.serving));
  t.equal(good.checked.notAfter.getTime(), first.serving.notAfter.getTime());

  const cases: Array<[string, string, string, string, RegExp]> = [
    ['missing certificate', missing, key, 'tls-cert', /^cannot read: no such file$/],
    ['missing key', cert, path.join(dir, 'missing.key'), 'tls-key', /^cannot read: no such file$/],
    ['a folder as the certificate', dir, key, 'tls-cert', /^cannot read: a folder, not a file$/],
    ['junk as the certificate', junk, key, 'tls-cert', /^not a PEM certificate/],
    ['junk as the key', cert, junk, 'tls-key', /^not a valid PEM private key/],
    [
      'a key of another certificate',
      cert,
      otherKey,
      'tls-key',
      new RegExp(`^the key does not match the certificate in --tls-cert ${cert.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`),
    ],
    ['a key given as the certificate', key, key, 'tls-cert', /^not a PEM certificate/],
  ];
  for (const [what, certPath, keyPath, flag, message] of cases) {
    const error = await failure(readCertificatePair(certPath, keyPath));
    t.equal(error.flag, flag, `${what}: names --${flag}`);
    t.equal(error.path, flag === 'tls-cert' ? certPath : keyPath, `${what}: names the file`);
    t.match(error.message, message, what);
    t.notMatch(error.message, /\n/, `${what}: one line`);
    t.equal(error.code, 'DM_ERR_INJECTOR_TLS_FILES');
  }
});

t.test('at start: a certificate expired or not yet valid is refused, naming --tls-cert and the dates', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-tls-validity-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const cert = path.join(dir, 'tls.crt');
  const key = path.join(dir, 'tls.key');
  await writeFile(cert, first.serving.cert);
  await writeFile(key, first.serving.key);
  // As the certificate states them (to the second).
  const leaf = new X509Certificate(first.serving.cert);
  const notBefore = new Date(leaf.validFrom).toISOString();
  const notAfter = new Date(leaf.validTo).toISOString();

  const late = await failure(readCertificatePair(cert, key, new Date(new Date(leaf.validTo).getTime() + 1000)));
  t.equal(late.flag, 'tls-cert');
  t.equal(late.path, cert);
  t.match(late.message, new RegExp(`^the certificate expired on ${notAfter.replace(/\./g, '\\.')} \\(valid from ${notBefore.replace(/\./g, '\\.')} to `));
  t.notMatch(late.message, /\n/);
  const early = await failure(readCertificatePair(cert, key, new Date(new Date(leaf.validFrom).getTime() - 1000)));
  t.equal(early.flag, 'tls-cert');
  t.match(early.message, new RegExp(`^the certificate is not valid before ${notBefore.replace(/\./g, '\\.')} `));
  t.equal(
    (await readCertificatePair(cert, key, new Date(first.serving.notBefore.getTime() + 1000))).checked.fingerprint256,
    fingerprint(first.serving),
    'within its validity: taken',
  );

  // The watcher's start checks against its wall clock.
  await writeFile(cert, expired.serving.cert);
  await writeFile(key, expired.serving.key);
  const watcher = await failure(startTlsFileWatcher({ certPath: cert, keyPath: key, clock: new FakeClock(), pollIntervalMs: 0 }));
  t.match(watcher.message, /^the certificate expired on /);
  t.equal(watcher.flag, 'tls-cert');
});

t.test('a rotation to an expired certificate is refused with a warning; the pair in use stays', async (t) => {
  const volume = await secretVolume(first.serving);
  const clock = new FakeClock();
  const warnings: Array<{ message: string; fields: Record<string, unknown> }> = [];
  const watcher = await startTlsFileWatcher({
    certPath: volume.cert,
    keyPath: volume.key,
    clock,
    debounceMs: 1e9,
    pollIntervalMs: 0,
    log: (level, message, fields) => void (level === 'warn' && warnings.push({ message, fields })),
  });
  t.teardown(() => watcher.stop());
  const rejections: TlsFilesError[] = [];
  watcher.on('rejected', (error) => rejections.push(error));
  await volume.swap('..v2', expired.serving);
  await watcher.reload();
  t.equal(rejections.length, 1, 'refused');
  t.equal(rejections[0]?.flag, 'tls-cert');
  t.match(rejections[0]?.message, /^the certificate expired on /);
  t.equal(fingerprint(watcher.current()), fingerprint(first.serving), 'the pair in use stays');
  t.same(
    warnings.map((w) => [w.message, w.fields.flag]),
    [['the TLS files changed but cannot be used; the certificate in use stays', '--tls-cert']],
  );
});

t.test('a certificate that does not name <service>.<namespace>.svc is served, with a warning', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-tls-names-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const other = await issueServingCertificate(first.ca, { dnsNames: ['injector.example.com'], now: new Date() });
  const cert = path.join(dir, 'tls.crt');
  const key = path.join(dir, 'tls.key');
  await writeFile(cert, other.cert);
  await writeFile(key, other.key);
  const warnings: Array<{ message: string; fields: Record<string, unknown> }> = [];
  const options = {
    certPath: cert,
    keyPath: key,
    clock: new FakeClock(),
    debounceMs: 1e9,
    pollIntervalMs: 0,
    expectedDnsName: 'dubbo-mesh-injector.dubbo-mesh.svc',
    log: (level: string, message: string, fields: Record<string, unknown>) => void (level === 'warn' && warnings.push({ message, fields })),
  };
  const watcher = await startTlsFileWatcher(options);
  t.teardown(() => watcher.stop());
  t.equal(watcher.current().cert, other.cert, 'served all the same');
  t.same(warnings, [
    {
      message:
        'the certificate of --tls-cert does not name dubbo-mesh-injector.dubbo-mesh.svc: the API server calls the webhook by that name and will refuse the handshake',
      fields: { cert, dnsNames: ['injector.example.com'] },
    },
  ]);
  // A renewal that names it is taken without a warning.
  await writeFile(cert, first.serving.cert);
  await writeFile(key, first.serving.key);
  await watcher.reload();
  t.equal(fingerprint(watcher.current()), fingerprint(first.serving));
  t.equal(warnings.length, 1, 'no new warning');

  t.ok(namesHost(['*.dubbo-mesh.svc'], 'dubbo-mesh-injector.dubbo-mesh.svc'), 'a wildcard of the leftmost label names it');
  t.ok(namesHost(['Dubbo-Mesh-Injector.dubbo-mesh.svc'], 'dubbo-mesh-injector.dubbo-mesh.svc'), 'names compare without case');
  t.notOk(namesHost(['*.svc'], 'dubbo-mesh-injector.dubbo-mesh.svc'), 'a wildcard stands for one label only');
  t.notOk(namesHost(['dubbo-mesh-injector.dubbo-mesh'], 'dubbo-mesh-injector.dubbo-mesh.svc'));
});

t.test('a Secret volume swap is taken after the debounce; an invalid swap keeps the pair in use', async (t) => {
  const volume = await secretVolume(first.serving);
  const clock = new FakeClock();
  const warnings: string[] = [];
  const watcher = await startTlsFileWatcher({
    certPath: volume.cert,
    keyPath: volume.key,
    clock,
    debounceMs: 1000,
    pollIntervalMs: 0,
    log: (level, message) => void (level === 'warn' && warnings.push(message)),
  });
  t.teardown(() => watcher.stop());
  t.equal(fingerprint(watcher.current()), fingerprint(first.serving));
  const changes: CertificatePair[] = [];
  watcher.onChange((pair) => changes.push(pair));

  await volume.swap('..v2', second.serving);
  await eventually(() => watcher.reloadScheduled, 'the watch to see the swap');
  clock.advance(999);
  t.ok(watcher.reloadScheduled, 'nothing re-read before the folder is quiet for the debounce');
  t.equal(changes.length, 0);
  const reloaded = once(watcher, 'reloaded');
  clock.advance(1);
  await reloaded;
  t.equal(fingerprint(watcher.current()), fingerprint(second.serving), 'the new certificate is in use');
  t.equal(changes.length, 1, 'listeners told once');
  t.equal(changes[0]!.key, second.serving.key, 'with its key');

  // A renewal gone wrong: the first pair's certificate with the second pair's key.
  await volume.swap('..v3', { cert: first.serving.cert, key: second.serving.key });
  await eventually(() => watcher.reloadScheduled, 'the watch to see the bad swap');
  const rejected = once(watcher, 'rejected');
  clock.advance(1000);
  const [error] = (await rejected) as [TlsFilesError];
  t.equal(error.flag, 'tls-key');
  t.match(error.message, /the key does not match the certificate/);
  t.equal(fingerprint(watcher.current()), fingerprint(second.serving), 'the pair in use stays');
  t.equal(changes.length, 1, 'listeners not told');
  t.same(warnings, ['the TLS files changed but cannot be used; the certificate in use stays']);

  // The next good renewal is taken again.
  await volume.swap('..v4', first.serving);
  await eventually(() => watcher.reloadScheduled, 'the watch to see the repaired swap');
  const again = once(watcher, 'reloaded');
  clock.advance(1000);
  await again;
  t.equal(fingerprint(watcher.current()), fingerprint(first.serving));
});

t.test('bad files, then the pair in use again, then the same bad files: the second refusal is told and counted too', async (t) => {
  const volume = await secretVolume(first.serving);
  const clock = new FakeClock();
  const warnings: string[] = [];
  // Re-read by hand: the debounce never runs out on this clock.
  const watcher = await startTlsFileWatcher({
    certPath: volume.cert,
    keyPath: volume.key,
    clock,
    debounceMs: 1e9,
    pollIntervalMs: 0,
    log: (level, message) => void (level === 'warn' && warnings.push(message)),
  });
  t.teardown(() => watcher.stop());
  const rejections: TlsFilesError[] = [];
  watcher.on('rejected', (error) => rejections.push(error));
  const bad = { cert: first.serving.cert, key: second.serving.key };

  await volume.swap('..v2', bad);
  await watcher.reload();
  await watcher.reload();
  t.equal(rejections.length, 1, 'refused once, however often the same bad files are re-read');
  await volume.swap('..v3', first.serving);
  await watcher.reload();
  t.equal(rejections.length, 1, 'the pair in use is no refusal');
  await volume.swap('..v4', bad);
  await watcher.reload();
  t.equal(rejections.length, 2, 'the bad files back again: refused again');
  t.equal(warnings.length, 2, 'and warned about again');
  t.equal(fingerprint(watcher.current()), fingerprint(first.serving));
});

t.test('files rewritten in place are followed too', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-tls-plain-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const cert = path.join(dir, 'server.crt');
  const key = path.join(dir, 'server.key');
  await writeFile(cert, first.serving.cert);
  await writeFile(key, first.serving.key);
  const clock = new FakeClock();
  const watcher = await startTlsFileWatcher({ certPath: cert, keyPath: key, clock, debounceMs: 500, pollIntervalMs: 0 });
  t.teardown(() => watcher.stop());
  await writeFile(cert, second.serving.cert);
  await writeFile(key, second.serving.key);
  await eventually(() => watcher.reloadScheduled, 'the watch to see the writes');
  const reloaded = once(watcher, 'reloaded');
  clock.advance(500);
  await reloaded;
  t.equal(fingerprint(watcher.current()), fingerprint(second.serving));
});

t.test('the poll re-reads the files when no event comes', async (t) => {
  const volume = await secretVolume(first.serving);
  const clock = new FakeClock();
  // A debounce that never runs out here: only the poll can take the change.
  const watcher = await startTlsFileWatcher({ certPath: volume.cert, keyPath: volume.key, clock, debounceMs: 1e9, pollIntervalMs: 60_000 });
  t.teardown(() => watcher.stop());
  await volume.swap('..v2', second.serving);
  const reloaded = once(watcher, 'reloaded');
  clock.advance(60_000);
  await reloaded;
  t.equal(fingerprint(watcher.current()), fingerprint(second.serving));
});

t.test('after stop, a change is not taken', async (t) => {
  const volume = await secretVolume(first.serving);
  const clock = new FakeClock();
  const watcher = await startTlsFileWatcher({ certPath: volume.cert, keyPath: volume.key, clock, debounceMs: 100, pollIntervalMs: 1000 });
  watcher.stop();
  t.equal(clock.pendingTimers, 0, 'no timer left');
  await volume.swap('..v2', second.serving);
  await watcher.reload();
  clock.advance(10_000);
  t.equal(fingerprint(watcher.current()), fingerprint(first.serving));
});
