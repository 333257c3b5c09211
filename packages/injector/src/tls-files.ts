// The webhook's serving certificate from files (`--tls-cert`, `--tls-key`), checked at start and
// followed afterwards: cert-manager renews a certificate by writing a new Secret, and the kubelet
// updates the mounted folder by swapping a symbolic link (`..data` → a new timestamped folder),
// so the folders are watched (a watch on the file itself would keep following the old inode),
// debounced, and re-read as a pair. A new pair that is not valid is refused and the one in use
// stays. A slow poll backs the watch up on file systems that send no events. A certificate
// outside its validity is refused too (the API server would refuse every handshake while
// `/ready` said 200); one that does not name the Service the API server calls is only warned
// about (a name this side does not know may still be right).
import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import path from 'node:path';
import { createSecureContext } from 'node:tls';
import { systemClock, type Clock } from '@dubbo-mesh/leader-election';
import { dnsNamesOf } from './self-signed-certificates.js';
import { TlsFilesError, errnoOf, oneLine, type TlsFileFlag } from './errors.js';

/** A serving certificate (PEM, the leaf first, then any intermediates) and its private key (PEM). */
export interface CertificatePair {
  readonly cert: string;
  readonly key: string;
}

/** Where the server takes its certificate from: the one in use now, and a call when it changes. */
export interface CertificateSource {
  current(): CertificatePair;
  /** Calls `listener` with each new valid pair; returns the unsubscribe. */
  onChange(listener: (pair: CertificatePair) => void): () => void;
}

/** Where a pair came from, for messages: what to call each part (`--tls-cert /etc/tls/tls.crt`). */
export interface PairOrigin {
  readonly cert: string;
  readonly key: string;
}

/** What a valid pair says about itself. */
export interface CheckedPair {
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** SHA-256 fingerprint of the leaf (`AB:CD:…`), as `openssl x509 -fingerprint -sha256` prints it. */
  readonly fingerprint256: string;
  /** The DNS names of the leaf's subjectAltName, in order. */
  readonly dnsNames: readonly string[];
}

/** Why a pair is not valid, and which part it is about. */
export class InvalidCertificatePairError extends Error {
  constructor(
    readonly part: 'cert' | 'key',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'InvalidCertificatePairError';
  }
}

/**
 * Check that `pair` can serve TLS: the certificate is PEM X.509, the key a PEM private key, the
 * key belongs to the (first) certificate, and Node's TLS takes the two. Throws an
 * {@link InvalidCertificatePairError} naming the part (`origin` says how to call each one).
 */
export function checkCertificatePair(pair: CertificatePair, origin: PairOrigin = { cert: 'the certificate', key: 'the key' }): CheckedPair {
  if (!/-----BEGIN CERTIFICATE-----/.test(pair.cert))
    throw new InvalidCertificatePairError('cert', `${origin.cert}: not a PEM certificate (no BEGIN CERTIFICATE block)`);
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pair.cert);
  } catch (error) {
    throw new InvalidCertificatePairError('cert', `${origin.cert}: not a valid PEM certificate: ${oneLine(error)}`, { cause: error });
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(pair.key);
  } catch (error) {
    throw new InvalidCertificatePairError('key', `${origin.key}: not a valid PEM private key: ${oneLine(error)}`, { cause: error });
  }
  if (!certificate.checkPrivateKey(key))
    throw new InvalidCertificatePairError('key', `${origin.key}: the key does not match the certificate in ${origin.cert}`);
  try {
    createSecureContext({ cert: pair.cert, key: pair.key });
  } catch (error) {
    throw new InvalidCertificatePairError('cert', `${origin.cert}: TLS cannot use it with ${origin.key}: ${oneLine(error)}`, { cause: error });
  }
  return {
    notBefore: new Date(certificate.validFrom),
    notAfter: new Date(certificate.validTo),
    fingerprint256: certificate.fingerprint256,
    dnsNames: dnsNamesOf(certificate),
  };
}

/**
 * Whether a certificate for `dnsNames` is valid for `host` as a TLS client checks it (RFC 6125:
 * case-insensitive, a `*` standing for the whole leftmost label only).
 */
export function namesHost(dnsNames: readonly string[], host: string): boolean {
  const wanted = host.toLowerCase();
  return dnsNames.some((name) => {
    const pattern = name.toLowerCase();
    if (!pattern.startsWith('*.')) return pattern === wanted;
    const dot = wanted.indexOf('.');
    return dot > 0 && wanted.slice(dot) === pattern.slice(1);
  });
}

/** Plain words for the errno codes of reading a file. */
const READ_CAUSES: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'a folder, not a file',
  ENOTDIR: 'a part of the path is not a folder',
  ELOOP: 'too many symbolic links',
};

async function readPart(flag: TlsFileFlag, file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new TlsFilesError(flag, file, `cannot read: ${READ_CAUSES[errnoOf(error) ?? ''] ?? oneLine(error)}`, { cause: error });
  }
}

/**
 * Check the texts of `--tls-cert certPath` / `--tls-key keyPath`: a TlsFilesError naming the flag
 * and file if they cannot serve, a certificate expired or not yet valid at `now` included.
 */
function checkFiles(pair: CertificatePair, certPath: string, keyPath: string, now: Date): CheckedPair {
  let checked: CheckedPair;
  try {
    checked = checkCertificatePair(pair, { cert: `--tls-cert ${certPath}`, key: `--tls-key ${keyPath}` });
  } catch (error) {
    if (!(error instanceof InvalidCertificatePairError)) throw error;
    const [flag, file] = error.part === 'cert' ? (['tls-cert', certPath] as const) : (['tls-key', keyPath] as const);
    // The error carries the flag and file: its message is the cause alone.
    throw new TlsFilesError(flag, file, error.message.replace(`--${flag} ${file}: `, ''), { cause: error });
  }
  const validity = `valid from ${checked.notBefore.toISOString()} to ${checked.notAfter.toISOString()}`;
  if (now.getTime() >= checked.notAfter.getTime())
    throw new TlsFilesError('tls-cert', certPath, `the certificate expired on ${checked.notAfter.toISOString()} (${validity}; now ${now.toISOString()})`);
  if (now.getTime() < checked.notBefore.getTime())
    throw new TlsFilesError(
      'tls-cert',
      certPath,
      `the certificate is not valid before ${checked.notBefore.toISOString()} (${validity}; now ${now.toISOString()})`,
    );
  return checked;
}

/**
 * Read and check the pair `--tls-cert certPath` / `--tls-key keyPath`. Throws a
 * {@link TlsFilesError} naming the flag and file: unreadable, not PEM, a key that does not
 * match the certificate, or a certificate expired or not yet valid at `now`.
 */
export async function readCertificatePair(certPath: string, keyPath: string, now: Date = new Date()): Promise<CertificatePair & { checked: CheckedPair }> {
  const [cert, key] = await Promise.all([readPart('tls-cert', certPath), readPart('tls-key', keyPath)]);
  return { cert, key, checked: checkFiles({ cert, key }, certPath, keyPath, now) };
}

/** Options of {@link startTlsFileWatcher}. */
export interface TlsFileWatcherOptions {
  readonly certPath: string;
  readonly keyPath: string;
  /** Time for the debounce and the poll. Default: real time. */
  readonly clock?: Clock;
  /** How long the folders must be quiet after a change before the pair is re-read (default 1000 ms: a renewal writes several files). */
  readonly debounceMs?: number;
  /** Re-read this often whatever the watch says (default 60000 ms; 0: never), for file systems that send no events. */
  readonly pollIntervalMs?: number;
  /** Time for the certificate's validity (never compared with `clock`). Default `new Date()`. */
  readonly wallClock?: () => Date;
  /**
   * The name the API server calls the webhook by (`<service>.<namespace>.svc`): a certificate
   * that does not name it is served, with a warning (the API server will refuse the handshake).
   */
  readonly expectedDnsName?: string;
  /** Where a refused or unreadable new pair, a certificate for other names and a broken watch are told. */
  readonly log?: (level: 'info' | 'warn', message: string, fields: Record<string, unknown>) => void;
}

/** The events of a {@link TlsFileWatcher}. */
export interface TlsFileWatcherEvents {
  /** A change was seen: a re-read is scheduled after the debounce. */
  scheduled: [];
  /** A new valid pair is in use. */
  reloaded: [pair: CertificatePair, checked: CheckedPair];
  /** The files changed but are not a valid pair (or cannot be read): the pair in use stays. */
  rejected: [error: TlsFilesError];
}

/**
 * The pair of `--tls-cert` / `--tls-key`, followed as the files change (see the module
 * comment). Start with {@link startTlsFileWatcher}.
 */
export class TlsFileWatcher extends EventEmitter<TlsFileWatcherEvents> implements CertificateSource {
  private pair: CertificatePair;
  private readonly clock: Clock;
  private readonly debounceMs: number;
  private readonly pollIntervalMs: number;
  private readonly watchers: FSWatcher[] = [];
  private debounceTimer: unknown;
  private pollTimer: unknown;
  private reading: Promise<void> | undefined;
  private readAgain = false;
  /** The last refusal, so a poll does not warn again about the same bad files. */
  private refused: string | undefined;
  private stopped = false;

  constructor(
    private readonly options: TlsFileWatcherOptions,
    initial: CertificatePair,
  ) {
    super();
    this.pair = { cert: initial.cert, key: initial.key };
    this.clock = options.clock ?? systemClock;
    this.debounceMs = options.debounceMs ?? 1000;
    this.pollIntervalMs = options.pollIntervalMs ?? 60_000;
  }

  /** The pair in use. */
  current(): CertificatePair {
    return this.pair;
  }

  onChange(listener: (pair: CertificatePair) => void): () => void {
    const forward = (pair: CertificatePair) => listener(pair);
    this.on('reloaded', forward);
    return () => this.off('reloaded', forward);
  }

  /** Whether a re-read is scheduled (a change was seen, the debounce has not run out). */
  get reloadScheduled(): boolean {
    return this.debounceTimer !== undefined;
  }

  /** Watch the folders of both files and start the poll. */
  start(): void {
    const folders = new Set([path.dirname(path.resolve(this.options.certPath)), path.dirname(path.resolve(this.options.keyPath))]);
    for (const folder of folders) {
      try {
        const watcher = watch(folder, { persistent: false }, () => this.schedule());
        watcher.on('error', (error) =>
          this.options.log?.('warn', 'cannot watch the TLS files any more; re-reading them every poll', { folder, error: oneLine(error) }),
        );
        this.watchers.push(watcher);
      } catch (error) {
        this.options.log?.('warn', 'cannot watch the TLS files; re-reading them every poll', { folder, error: oneLine(error) });
      }
    }
    this.schedulePoll();
  }

  /** Stop watching; a re-read under way finishes but changes nothing. */
  stop(): void {
    this.stopped = true;
    for (const watcher of this.watchers) watcher.close();
    this.watchers.length = 0;
    this.clock.clearTimer(this.debounceTimer);
    this.clock.clearTimer(this.pollTimer);
    this.debounceTimer = undefined;
  }

  /** Re-read the files now (also what the debounce and the poll run); resolves when done. */
  reload(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.reading !== undefined) {
      this.readAgain = true;
      return this.reading;
    }
    this.reading = (async () => {
      do {
        this.readAgain = false;
        try {
          await this.readOnce();
        } catch (error) {
          // A listener of 'reloaded' that threw: told, never thrown out of a timer.
          this.options.log?.('warn', 'a listener of the TLS files failed', { error: oneLine(error) });
        }
      } while (this.readAgain && !this.stopped);
      this.reading = undefined;
    })();
    return this.reading;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.clock.clearTimer(this.debounceTimer);
    this.debounceTimer = this.clock.setTimer(() => {
      this.debounceTimer = undefined;
      void this.reload();
    }, this.debounceMs);
    this.emit('scheduled');
  }

  private schedulePoll(): void {
    if (this.pollIntervalMs <= 0 || this.stopped) return;
    this.pollTimer = this.clock.setTimer(() => {
      void this.reload().finally(() => this.schedulePoll());
    }, this.pollIntervalMs);
  }

  private async readOnce(): Promise<void> {
    const { certPath, keyPath } = this.options;
    let next: CertificatePair & { checked: CheckedPair };
    try {
      const [cert, key] = await Promise.all([readPart('tls-cert', certPath), readPart('tls-key', keyPath)]);
      if (this.stopped) return;
      if (cert === this.pair.cert && key === this.pair.key) {
        // Back to the pair in use: a later return of the bad files is news again.
        this.refused = undefined;
        return;
      }
      next = { cert, key, checked: checkFiles({ cert, key }, certPath, keyPath, this.options.wallClock?.() ?? new Date()) };
    } catch (error) {
      if (this.stopped) return;
      // Never thrown out of a timer: anything unexpected is a refusal too.
      const failure = error instanceof TlsFilesError ? error : new TlsFilesError('tls-cert', certPath, oneLine(error), { cause: error });
      // The same refusal again (the poll, or more events of one change) is not news.
      const refusal = `--${failure.flag} ${failure.path}: ${failure.message}`;
      if (this.refused === refusal) return;
      this.refused = refusal;
      this.options.log?.('warn', 'the TLS files changed but cannot be used; the certificate in use stays', {
        flag: `--${failure.flag}`,
        file: failure.path,
        error: failure.message,
      });
      this.emit('rejected', failure);
      return;
    }
    this.refused = undefined;
    this.pair = { cert: next.cert, key: next.key };
    this.options.log?.('info', 'took a new serving certificate from the TLS files', {
      cert: certPath,
      notAfter: next.checked.notAfter.toISOString(),
      fingerprint256: next.checked.fingerprint256,
    });
    warnIfNotNamed(this.options, next.checked);
    this.emit('reloaded', this.pair, next.checked);
  }
}

/** Warn (once per pair taken) when the certificate does not name `expectedDnsName`. */
function warnIfNotNamed(options: TlsFileWatcherOptions, checked: CheckedPair): void {
  const host = options.expectedDnsName;
  if (host === undefined || namesHost(checked.dnsNames, host)) return;
  options.log?.('warn', `the certificate of --tls-cert does not name ${host}: the API server calls the webhook by that name and will refuse the handshake`, {
    cert: options.certPath,
    dnsNames: checked.dnsNames,
  });
}

/**
 * Read and check `--tls-cert` / `--tls-key` (a {@link TlsFilesError} naming the flag if they
 * cannot serve, or the certificate is outside its validity), then follow them: the returned
 * watcher's `current()` is the pair in use, and `onChange` tells of each new valid pair.
 */
export async function startTlsFileWatcher(options: TlsFileWatcherOptions): Promise<TlsFileWatcher & { readonly checked: CheckedPair }> {
  const initial = await readCertificatePair(options.certPath, options.keyPath, options.wallClock?.() ?? new Date());
  warnIfNotNamed(options, initial.checked);
  const watcher = new TlsFileWatcher(options, initial);
  watcher.start();
  return Object.assign(watcher, { checked: initial.checked });
}
