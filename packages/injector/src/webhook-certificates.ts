// The injector's own certificates in a cluster where no `--tls-cert/--tls-key` are given, as
// istiod keeps its webhook's: a CA and a serving certificate for the injector's Service, kept in
// the Secret `dubbo-mesh-injector-tls` so every replica serves the same one, and the CA handed to
// the API server in the MutatingWebhookConfiguration's `caBundle` by the replica that leads.
//
// - Any replica creates the Secret when it is missing (a 409 means another replica won: its
//   Secret is read and used), and at start replaces one it cannot serve from at all.
// - Every replica re-reads the Secret every poll and serves what it holds when it changes.
// - The leader renews: within 30 days of expiry a new serving certificate; within 30 days of the
//   CA's expiry a new CA too, put in the bundle *with* the old one, and the webhook's caBundle
//   patched *before* the Secret is written, so the API server trusts the new certificate before
//   any replica serves it, and still trusts the old one replicas serve until they re-read.
// - The leader keeps every webhook's caBundle equal to the Secret's `ca.crt` (re-applying
//   `deploy/` empties it; the next poll puts it back).
// Polling rather than watching: these objects change about once a year, and a poll cannot miss
// an event or leave a watch half-open.
import { EventEmitter } from 'node:events';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { AdmissionregistrationV1Api, CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Secret } from '@kubernetes/client-node';
import { systemClock, type Clock } from '@dubbo-mesh/leader-election';
import {
  CERTIFICATE_VALIDITY_MS,
  RENEW_BEFORE_MS,
  createCertificateAuthority,
  dnsNamesOf,
  issueServingCertificate,
  needsRenewal,
  parseCertificates,
  serviceDnsNames,
} from './self-signed-certificates.js';
import { CertificateSecretError, oneLine } from './server-errors.js';
import { checkCertificatePair, type CertificatePair, type CertificateSource } from './tls-files.js';

/** The Secret the injector keeps its CA and serving certificate in (in its own namespace). */
export const CERTIFICATE_SECRET = 'dubbo-mesh-injector-tls';

/** The keys of the Secret: a `kubernetes.io/tls` Secret's two, the CA bundle the API server is given, and the CA's key. */
export const SECRET_KEYS = { cert: 'tls.crt', key: 'tls.key', caBundle: 'ca.crt', caKey: 'ca.key' } as const;

/** Who may renew and patch: the elector of `@dubbo-mesh/leader-election` has this shape. */
export interface CertificateLeadership {
  readonly isLeader: boolean;
  on(event: 'started-leading', listener: () => void): unknown;
  off(event: 'started-leading', listener: () => void): unknown;
}

/** Options of {@link startWebhookCertificates}. */
export interface WebhookCertificatesOptions {
  readonly kubeConfig: KubeConfig;
  /** The injector's namespace (`POD_NAMESPACE`): where the Secret is. */
  readonly namespace: string;
  /** `--service`: the Service the serving certificate names. */
  readonly service: string;
  /** `--webhook-config`: the MutatingWebhookConfiguration whose caBundle the leader keeps. */
  readonly webhookConfig: string;
  readonly leadership: CertificateLeadership;
  /** The Secret's name (default {@link CERTIFICATE_SECRET}). */
  readonly secretName?: string;
  /** Time for the poll. Default: real time. */
  readonly clock?: Clock;
  /** Time for certificate validity (never compared with `clock`). Default `new Date()`. */
  readonly wallClock?: () => Date;
  /** How often the Secret (every replica) and the webhook's caBundle (the leader) are re-read. Default 10000 ms. */
  readonly pollIntervalMs?: number;
  /** Default a year each. */
  readonly caValidityMs?: number;
  readonly certificateValidityMs?: number;
  /** Renew this long before expiry (default 30 days). */
  readonly renewBeforeMs?: number;
  /** How long one request to the API server may take (default 10000 ms). */
  readonly requestTimeoutMs?: number;
  readonly log?: (level: 'info' | 'warn', message: string, fields: Record<string, unknown>) => void;
}

/** The Secret's contents, checked. */
interface Material {
  readonly pair: CertificatePair;
  /** PEM: the CA that signs now first, then older ones still trusted. */
  readonly caBundle: string;
  readonly caKey: string;
  readonly leaf: X509Certificate;
  readonly cas: readonly X509Certificate[];
  readonly resourceVersion: string;
}

/** The events of a {@link WebhookCertificates}. */
export interface WebhookCertificatesEvents {
  /** The Secret holds a new serving certificate, now in use. */
  changed: [pair: CertificatePair];
  /** A poll (or a sync asked for) finished. */
  synced: [];
}

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const unb64 = (text: string | undefined) => (text === undefined ? undefined : Buffer.from(text, 'base64').toString('utf8'));
const statusOf = (error: unknown): number | undefined => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
};

/** What `error` of a Kubernetes request says, on one line (its HTTP status when it has one). */
function describe(error: unknown): string {
  const status = statusOf(error);
  const body = (error as { body?: unknown } | null)?.body;
  let message: string | undefined;
  if (typeof body === 'string') {
    try {
      message = (JSON.parse(body) as { message?: string }).message;
    } catch {
      message = undefined;
    }
  } else if (typeof body === 'object' && body !== null) message = (body as { message?: string }).message;
  if (status !== undefined) return `HTTP ${status}${message === undefined ? '' : `: ${message}`}`;
  // A socket error is wrapped: its code (ECONNREFUSED …) says the most.
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return `${code} (${oneLine(current)})`;
    current = (current as { cause?: unknown }).cause;
  }
  return oneLine(error);
}

/**
 * Every certificate of `bundle` and `extra` not expired at `now`, without repeats, as PEM in
 * order: what the API server is told to trust.
 */
function bundleOf(certificates: readonly X509Certificate[], now: Date): string {
  const seen = new Set<string>();
  const kept: string[] = [];
  for (const certificate of certificates) {
    if (new Date(certificate.validTo).getTime() <= now.getTime() || seen.has(certificate.fingerprint256)) continue;
    seen.add(certificate.fingerprint256);
    kept.push(certificate.toString().trim());
  }
  return kept.join('\n') + '\n';
}

/**
 * The injector's own certificates (see the module comment): a {@link CertificateSource} for
 * the server. Start with {@link startWebhookCertificates}.
 */
export class WebhookCertificates extends EventEmitter<WebhookCertificatesEvents> implements CertificateSource {
  private readonly core: CoreV1Api;
  private readonly admission: AdmissionregistrationV1Api;
  private readonly clock: Clock;
  private readonly wallClock: () => Date;
  private readonly secretName: string;
  private readonly pollIntervalMs: number;
  private readonly renewBeforeMs: number;
  private readonly dnsNames: string[];
  private material: Material | undefined;
  private pollTimer: unknown;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  /** The last warning of each kind, so a poll does not repeat one every 10 s. */
  private readonly warned = new Map<string, string>();
  private readonly onLeading = () => void this.sync();

  constructor(private readonly options: WebhookCertificatesOptions) {
    super();
    this.core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.admission = options.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
    this.clock = options.clock ?? systemClock;
    this.wallClock = options.wallClock ?? (() => new Date());
    this.secretName = options.secretName ?? CERTIFICATE_SECRET;
    this.pollIntervalMs = options.pollIntervalMs ?? 10_000;
    this.renewBeforeMs = options.renewBeforeMs ?? RENEW_BEFORE_MS;
    this.dnsNames = serviceDnsNames(options.service, options.namespace);
  }

  /** `namespace/name` of the Secret. */
  get secret(): string {
    return `${this.options.namespace}/${this.secretName}`;
  }

  /** The serving certificate in use. Throws before {@link start} resolved. */
  current(): CertificatePair {
    if (this.material === undefined) throw new Error('the webhook certificates are not loaded yet');
    return this.material.pair;
  }

  /** The CA bundle (PEM) the API server must trust: the Secret's `ca.crt`. */
  caBundle(): string {
    if (this.material === undefined) throw new Error('the webhook certificates are not loaded yet');
    return this.material.caBundle;
  }

  onChange(listener: (pair: CertificatePair) => void): () => void {
    this.on('changed', listener);
    return () => this.off('changed', listener);
  }

  /**
   * Get a serving certificate from the Secret, creating the Secret when it is missing (or
   * replacing one that holds nothing usable), then start polling. Rejects with a
   * {@link CertificateSecretError} when the API server refuses or does not answer.
   */
  async start(): Promise<void> {
    const now = this.wallClock();
    for (let attempt = 1; ; attempt++) {
      let secret: V1Secret | undefined;
      try {
        secret = await this.readSecret();
        if (secret === undefined) {
          this.material = await this.createSecret(now);
        } else {
          const checked = this.check(secret, now);
          this.material = typeof checked === 'string' ? await this.replaceSecret(secret, now, checked) : checked;
        }
        break;
      } catch (error) {
        // Another replica wrote first (409): read what it wrote. Anything else ends the start.
        if (statusOf(error) === 409 && attempt < 5) continue;
        if (error instanceof CertificateSecretError) throw error;
        throw new CertificateSecretError(`cannot keep the serving certificate in Secret ${this.secret}: ${describe(error)}`, { cause: error });
      }
    }
    this.options.leadership.on('started-leading', this.onLeading);
    this.schedulePoll();
    if (this.options.leadership.isLeader) void this.sync();
  }

  /** Stop polling; a pass under way finishes but writes nothing more. */
  stop(): void {
    this.stopped = true;
    this.clock.clearTimer(this.pollTimer);
    this.options.leadership.off('started-leading', this.onLeading);
  }

  /**
   * One pass now (coalesced with one under way): re-read the Secret and serve what changed;
   * the leader also renews what is due and brings the webhook's caBundle up to date. Never
   * rejects: failures are logged and the next poll tries again.
   */
  sync(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.running !== undefined) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.pass();
        } catch (error) {
          this.warnOnce('pass', `cannot bring the webhook certificates up to date; retrying`, { secret: this.secret, error: describe(error) });
        }
      } while (this.again && !this.stopped);
      this.running = undefined;
      this.emit('synced');
    })();
    return this.running;
  }

  private schedulePoll(): void {
    if (this.stopped) return;
    this.pollTimer = this.clock.setTimer(() => {
      void this.sync().finally(() => this.schedulePoll());
    }, this.pollIntervalMs);
  }

  private async pass(): Promise<void> {
    const now = this.wallClock();
    const secret = await this.readSecret();
    if (this.stopped) return;
    if (secret === undefined) {
      // Deleted: whoever sees it first makes a new one; the others read it (409) next poll.
      this.adopt(await this.createSecret(now).catch((error: unknown) => (statusOf(error) === 409 ? undefined : Promise.reject(error))));
      if (this.options.leadership.isLeader) await this.syncCaBundle();
      return;
    }
    const checked = this.check(secret, now);
    if (typeof checked === 'string') {
      this.warnOnce('secret', `Secret ${this.secret} holds no usable certificate (${checked}); serving the last good one`, { secret: this.secret });
      if (this.options.leadership.isLeader)
        this.adopt(await this.replaceSecret(secret, now, checked).catch((error: unknown) => (statusOf(error) === 409 ? undefined : Promise.reject(error))));
    } else {
      this.warned.delete('secret');
      this.adopt(checked);
      if (this.options.leadership.isLeader) await this.renewIfDue(checked, now);
    }
    if (this.options.leadership.isLeader) await this.syncCaBundle();
  }

  /** Serve `material` if it is new. */
  private adopt(material: Material | undefined): void {
    if (material === undefined || this.stopped) return;
    const previous = this.material;
    this.material = material;
    if (previous !== undefined && previous.pair.cert === material.pair.cert && previous.pair.key === material.pair.key) return;
    this.options.log?.('info', 'serving the certificate of the Secret', {
      secret: this.secret,
      notAfter: new Date(material.leaf.validTo).toISOString(),
      fingerprint256: material.leaf.fingerprint256,
    });
    this.emit('changed', material.pair);
  }

  private async readSecret(): Promise<V1Secret | undefined> {
    try {
      return await this.answered(this.core.readNamespacedSecret({ name: this.secretName, namespace: this.options.namespace }));
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  /** The Secret's contents if a replica can serve from them, else why not. */
  private check(secret: V1Secret, now: Date): Material | string {
    const data = secret.data ?? {};
    const text = (key: string) => unb64(data[key]);
    const cert = text(SECRET_KEYS.cert);
    const key = text(SECRET_KEYS.key);
    const caBundle = text(SECRET_KEYS.caBundle);
    const caKey = text(SECRET_KEYS.caKey);
    const missing = Object.values(SECRET_KEYS).filter((name) => text(name) === undefined || text(name) === '');
    if (missing.length > 0) return `no ${missing.join(', ')}`;
    try {
      checkCertificatePair({ cert: cert!, key: key! }, { cert: SECRET_KEYS.cert, key: SECRET_KEYS.key });
    } catch (error) {
      return oneLine(error);
    }
    const cas = parseCertificates(caBundle!);
    if (cas.length === 0) return `${SECRET_KEYS.caBundle}: no certificate`;
    try {
      if (!cas[0]!.checkPrivateKey(createPrivateKey(caKey!))) return `${SECRET_KEYS.caKey}: not the key of the first certificate of ${SECRET_KEYS.caBundle}`;
    } catch (error) {
      return `${SECRET_KEYS.caKey}: ${oneLine(error)}`;
    }
    const leaf = new X509Certificate(cert!);
    if (!cas.some((ca) => leaf.checkIssued(ca) && leaf.verify(ca.publicKey))) return `${SECRET_KEYS.cert} is not signed by a CA of ${SECRET_KEYS.caBundle}`;
    if (new Date(leaf.validTo).getTime() <= now.getTime()) return `${SECRET_KEYS.cert} expired on ${new Date(leaf.validTo).toISOString()}`;
    return { pair: { cert: cert!, key: key! }, caBundle: caBundle!, caKey: caKey!, leaf, cas, resourceVersion: secret.metadata?.resourceVersion ?? '' };
  }

  private secretBody(contents: { cert: string; key: string; caBundle: string; caKey: string }, resourceVersion?: string): V1Secret {
    return {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: this.secretName,
        namespace: this.options.namespace,
        labels: { 'app.kubernetes.io/name': 'dubbo-mesh-injector', 'app.kubernetes.io/part-of': 'dubbo-mesh' },
        ...(resourceVersion === undefined ? {} : { resourceVersion }),
      },
      type: 'kubernetes.io/tls',
      data: {
        [SECRET_KEYS.cert]: b64(contents.cert),
        [SECRET_KEYS.key]: b64(contents.key),
        [SECRET_KEYS.caBundle]: b64(contents.caBundle),
        [SECRET_KEYS.caKey]: b64(contents.caKey),
      },
    };
  }

  private async fresh(now: Date, keep: readonly X509Certificate[]): Promise<{ cert: string; key: string; caBundle: string; caKey: string }> {
    const ca = await createCertificateAuthority({ now, validityMs: this.options.caValidityMs ?? CERTIFICATE_VALIDITY_MS });
    const serving = await issueServingCertificate(ca, {
      dnsNames: this.dnsNames,
      now,
      validityMs: this.options.certificateValidityMs ?? CERTIFICATE_VALIDITY_MS,
    });
    return { cert: serving.cert, key: serving.key, caBundle: bundleOf([new X509Certificate(ca.cert), ...keep], now), caKey: ca.key };
  }

  /** POST a new Secret; a 409 (another replica was first) is thrown for the caller. */
  private async createSecret(now: Date): Promise<Material> {
    const contents = await this.fresh(now, []);
    const created = await this.answered(this.core.createNamespacedSecret({ namespace: this.options.namespace, body: this.secretBody(contents) }));
    this.options.log?.('info', 'created the Secret of the webhook certificates with a new CA', { secret: this.secret });
    return this.mustCheck(created, now);
  }

  /** PUT fresh contents over a Secret that holds nothing usable (at its resourceVersion: a 409 is thrown for the caller). */
  private async replaceSecret(secret: V1Secret, now: Date, why: string): Promise<Material> {
    // The CAs the API server may still trust for the certificate served now stay in the bundle.
    const keep = this.material?.cas ?? [];
    const contents = await this.fresh(now, keep);
    if (this.options.leadership.isLeader) await this.syncCaBundle(contents.caBundle);
    const replaced = await this.answered(
      this.core.replaceNamespacedSecret({
        name: this.secretName,
        namespace: this.options.namespace,
        body: this.secretBody(contents, secret.metadata?.resourceVersion),
      }),
    );
    this.options.log?.('warn', 'replaced the Secret of the webhook certificates: it held no usable certificate', { secret: this.secret, why });
    return this.mustCheck(replaced, now);
  }

  private mustCheck(secret: V1Secret, now: Date): Material {
    const checked = this.check(secret, now);
    if (typeof checked === 'string') throw new CertificateSecretError(`Secret ${this.secret} as written does not check: ${checked}`);
    return checked;
  }

  /** The leader's renewals (see the module comment). */
  private async renewIfDue(material: Material, now: Date): Promise<void> {
    const currentCa = material.cas[0]!;
    const caDue = needsRenewal(currentCa, now, this.renewBeforeMs);
    const names = dnsNamesOf(material.leaf);
    const wrongNames = names.length !== this.dnsNames.length || names.some((name, i) => name !== this.dnsNames[i]);
    // By signature: every CA of the injector has the same kind of name, so names alone cannot tell them apart.
    const notByCurrentCa = !material.leaf.verify(currentCa.publicKey);
    const leafDue = needsRenewal(material.leaf, now, this.renewBeforeMs) || wrongNames || notByCurrentCa;
    if (!caDue && !leafDue) return;
    let contents: { cert: string; key: string; caBundle: string; caKey: string };
    if (caDue) {
      contents = await this.fresh(now, material.cas);
    } else {
      const serving = await issueServingCertificate(
        { cert: currentCa.toString(), key: material.caKey },
        { dnsNames: this.dnsNames, now, validityMs: this.options.certificateValidityMs ?? CERTIFICATE_VALIDITY_MS },
      );
      contents = { cert: serving.cert, key: serving.key, caBundle: bundleOf(material.cas, now), caKey: material.caKey };
    }
    if (this.stopped || !this.options.leadership.isLeader) return;
    // The API server must trust the new CA before any replica serves a certificate it signed.
    if (contents.caBundle !== material.caBundle) await this.syncCaBundle(contents.caBundle);
    if (this.stopped || !this.options.leadership.isLeader) return;
    try {
      const written = await this.answered(
        this.core.replaceNamespacedSecret({
          name: this.secretName,
          namespace: this.options.namespace,
          body: this.secretBody(contents, material.resourceVersion),
        }),
      );
      this.options.log?.('info', caDue ? 'renewed the CA and the serving certificate' : 'renewed the serving certificate', {
        secret: this.secret,
        reason: caDue
          ? 'the CA expires within the renewal window'
          : wrongNames
            ? `the certificate names ${names.join(', ')}`
            : 'it expires within the renewal window',
      });
      this.adopt(this.mustCheck(written, now));
    } catch (error) {
      // Another writer was first: the next pass reads what it wrote.
      if (statusOf(error) === 409) return;
      throw error;
    }
  }

  /**
   * Make every webhook's `clientConfig.caBundle` of the MutatingWebhookConfiguration equal
   * `bundle` (default: the Secret's), with a JSON patch that first tests the resourceVersion
   * read, so a configuration changed in between is not half-patched (the next pass reads it
   * again). A missing configuration is warned about once.
   */
  private async syncCaBundle(bundle = this.material?.caBundle): Promise<void> {
    if (bundle === undefined || this.stopped) return;
    const name = this.options.webhookConfig;
    let configuration;
    try {
      configuration = await this.answered(this.admission.readMutatingWebhookConfiguration({ name }));
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
      this.warnOnce('webhook', `MutatingWebhookConfiguration ${name} does not exist: the API server sends the injector no pods`, { webhookConfig: name });
      return;
    }
    this.warned.delete('webhook');
    const wanted = b64(bundle);
    const webhooks = configuration.webhooks ?? [];
    const operations: object[] = [];
    webhooks.forEach((webhook, index) => {
      if (webhook.clientConfig?.caBundle !== wanted) operations.push({ op: 'add', path: `/webhooks/${index}/clientConfig/caBundle`, value: wanted });
    });
    if (operations.length === 0 || !this.options.leadership.isLeader || this.stopped) return;
    try {
      await this.answered(
        this.admission.patchMutatingWebhookConfiguration(
          { name, body: [{ op: 'test', path: '/metadata/resourceVersion', value: configuration.metadata?.resourceVersion }, ...operations] },
          setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
        ),
      );
    } catch (error) {
      // 422: the test failed (the configuration changed since it was read); 409 likewise. The next poll reads it again.
      if (statusOf(error) === 422 || statusOf(error) === 409) {
        this.warnOnce('webhook', `the webhook configuration ${name} changed while its caBundle was patched; patching again at the next poll`, {
          webhookConfig: name,
          error: describe(error),
        });
        return;
      }
      throw error;
    }
    this.options.log?.('info', 'set the caBundle of the webhook configuration', { webhookConfig: name, webhooks: operations.length });
  }

  /**
   * `request`, or an error coded ETIMEDOUT after `requestTimeoutMs`: an API server that does not
   * answer must not hold up the start or every later poll. Real time: a failure detector, not logic.
   */
  private answered<T>(request: Promise<T>): Promise<T> {
    const timeoutMs = this.options.requestTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error(`no answer in ${timeoutMs / 1000} s`), { code: 'ETIMEDOUT' })), timeoutMs);
      timer.unref();
    });
    return Promise.race([request, timeout]).finally(() => clearTimeout(timer));
  }

  private warnOnce(kind: string, message: string, fields: Record<string, unknown>): void {
    const said = `${message} ${JSON.stringify(fields)}`;
    if (this.warned.get(kind) === said) return;
    this.warned.set(kind, said);
    this.options.log?.('warn', message, fields);
  }
}

/**
 * Get the injector's serving certificate from its Secret (creating the Secret, with a new CA,
 * if it is missing) and keep it current as the module comment says. Rejects with a
 * {@link CertificateSecretError} (one line, naming the Secret) when the API server refuses or
 * does not answer.
 */
export async function startWebhookCertificates(options: WebhookCertificatesOptions): Promise<WebhookCertificates> {
  const certificates = new WebhookCertificates(options);
  await certificates.start();
  return certificates;
}
