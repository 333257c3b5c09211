// The injector's own certificates in a cluster where no `--tls-cert/--tls-key` are given, as
// istiod keeps its webhook's: a CA and a serving certificate for the injector's Service, kept in
// the Secret `dubbo-mesh-injector-tls` so every replica serves the same one, and the CA handed to
// the API server in the MutatingWebhookConfiguration's `caBundle` by the replica that leads.
//
// The rule: the API server trusts a CA before any replica serves a certificate it signed.
// - A replica that starts while the Secret is missing creates it (bootstrap: nothing trusts
//   any certificate of ours yet; a 409 means another replica won: its Secret is read and used).
//   Any other write is the leader's: a replica that does not lead never replaces the Secret
//   nor mints a CA. A replica that starts while the Secret holds nothing usable waits until
//   the leader replaced it.
// - Every replica re-reads the Secret every poll and serves what it holds when it changes, and
//   reads the webhook configuration to tell (a metric) whether its caBundle trusts that.
// - The leader renews in two passes: within 30 days of expiry it makes a new serving
//   certificate (and within 30 days of the CA's expiry a new CA, put in the bundle *with* the
//   old one) and patches the webhook's caBundle to hold its CA; it writes the Secret only at a
//   later pass, once the caBundle as read back has held that CA for `caPropagationMs` (API
//   servers see the caBundle through their informers, a little after it is written). A failed
//   patch (the configuration changed in between) writes nothing: the next pass tries again.
//   A Secret that holds nothing usable is replaced the same way. A 409 on the write (another
//   writer was first) re-reads the Secret and goes again.
// - The leader keeps every webhook's caBundle equal to the Secret's `ca.crt` (re-applying
//   `deploy/` empties it; the next poll puts it back), or to the bundle of the write it plans,
//   and writes a deleted Secret again with the certificate replicas serve.
// Polling rather than watching: these objects change about once a year, and a poll cannot miss
// an event or leave a watch half-open.
import { EventEmitter } from 'node:events';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import {
  AdmissionregistrationV1Api,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1MutatingWebhookConfiguration,
  type V1Secret,
} from '@kubernetes/client-node';
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
import { CertificateSecretError, oneLine } from './errors.js';
import { checkCertificatePair, type CertificatePair, type CertificateSource } from './tls-files.js';

/** The Secret the injector keeps its CA and serving certificate in (in its own namespace). */
export const CERTIFICATE_SECRET = 'dubbo-mesh-injector-tls';

/** The keys of the Secret: a `kubernetes.io/tls` Secret's two, the CA bundle the API server is given, and the CA's key. */
export const SECRET_KEYS = { cert: 'tls.crt', key: 'tls.key', caBundle: 'ca.crt', caKey: 'ca.key' } as const;

/** How long the webhook's caBundle must have held a new CA before the leader writes a certificate it signed (10 s: one poll). */
export const DEFAULT_CA_PROPAGATION_MS = 10_000;

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
  /** Started before (or with) this: a start that waits for the leader to replace an unusable Secret waits on it. */
  readonly leadership: CertificateLeadership;
  /** The Secret's name (default {@link CERTIFICATE_SECRET}). */
  readonly secretName?: string;
  /** Time for the poll and the CA's propagation. Default: real time. */
  readonly clock?: Clock;
  /** Time for certificate validity (never compared with `clock`). Default `new Date()`. */
  readonly wallClock?: () => Date;
  /** How often the Secret and the webhook configuration are re-read (every replica; the leader also writes). Default 10000 ms. */
  readonly pollIntervalMs?: number;
  /** How long the caBundle, as read back, must have held a new CA before a certificate it signed is written (default {@link DEFAULT_CA_PROPAGATION_MS}). */
  readonly caPropagationMs?: number;
  /** Default a year each. */
  readonly caValidityMs?: number;
  readonly certificateValidityMs?: number;
  /** Renew this long before expiry (default 30 days). */
  readonly renewBeforeMs?: number;
  /** How long one request to the API server may take (default 10000 ms). */
  readonly requestTimeoutMs?: number;
  readonly log?: (level: 'info' | 'warn', message: string, fields: Record<string, unknown>) => void;
}

/** The Secret's four texts. */
interface Contents {
  readonly cert: string;
  readonly key: string;
  readonly caBundle: string;
  readonly caKey: string;
}

/** The Secret's contents, checked. */
interface Material {
  readonly pair: CertificatePair;
  /** PEM: the CA that signs now first, then older ones still trusted. */
  readonly caBundle: string;
  readonly caKey: string;
  readonly leaf: X509Certificate;
  readonly cas: readonly X509Certificate[];
  /** The CA of {@link cas} that signed {@link leaf}. */
  readonly signer: X509Certificate;
  readonly resourceVersion: string;
}

/** A Secret write the leader has made ready: written once the API servers trust the CA that signed its certificate. */
interface PlannedWrite {
  readonly contents: Contents;
  /** SHA-256 fingerprint of the CA that signed `contents.cert`. */
  readonly signer: string;
  /** The resourceVersion of the Secret it replaces: a Secret changed since makes the plan stale. */
  readonly basedOn: string;
  readonly level: 'info' | 'warn';
  readonly message: string;
  readonly fields: Record<string, unknown>;
  waitingTold: boolean;
}

/** The webhook configuration as read, and which CAs its caBundles hold. */
interface WebhookTrust {
  readonly configuration: V1MutatingWebhookConfiguration;
  /** Fingerprints of the CAs that every webhook's caBundle holds (none when it has no webhooks). */
  readonly held: ReadonlySet<string>;
  /** Every CA any of its caBundles holds. */
  readonly cas: readonly X509Certificate[];
}

/** The events of a {@link WebhookCertificates}. */
export interface WebhookCertificatesEvents {
  /** The Secret holds a new serving certificate, now in use. */
  changed: [pair: CertificatePair];
  /** A poll (or a sync asked for) finished. */
  synced: [];
  /** {@link WebhookCertificates.stop} was called. */
  stopped: [];
}

/** Passes one sync may run when each asks for another. */
const MAX_ROUNDS = 5;

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
 * Every certificate of `certificates` not expired at `now`, without repeats, as PEM in order:
 * what the API server is told to trust.
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

/** Which CAs the caBundles of `configuration` hold. */
function trustOf(configuration: V1MutatingWebhookConfiguration): WebhookTrust {
  const perWebhook = (configuration.webhooks ?? []).map((webhook) => parseCertificates(unb64(webhook.clientConfig?.caBundle) ?? ''));
  const held = new Set(perWebhook[0]?.map((ca) => ca.fingerprint256) ?? []);
  for (const cas of perWebhook.slice(1)) {
    const here = new Set(cas.map((ca) => ca.fingerprint256));
    for (const fingerprint of held) if (!here.has(fingerprint)) held.delete(fingerprint);
  }
  return { configuration, held, cas: perWebhook.flat() };
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
  private readonly caPropagationMs: number;
  private readonly renewBeforeMs: number;
  private readonly dnsNames: string[];
  private material: Material | undefined;
  /** The leader's write waiting for its CA to be trusted. */
  private planned: PlannedWrite | undefined;
  /** For each CA the caBundles hold (by fingerprint), since when (`clock`) every read has seen it held. */
  private readonly heldSince = new Map<string, number>();
  private trusted = false;
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
    this.caPropagationMs = options.caPropagationMs ?? DEFAULT_CA_PROPAGATION_MS;
    this.renewBeforeMs = options.renewBeforeMs ?? RENEW_BEFORE_MS;
    this.dnsNames = serviceDnsNames(options.service, options.namespace);
  }

  /** `namespace/name` of the Secret. */
  get secret(): string {
    return `${this.options.namespace}/${this.secretName}`;
  }

  /**
   * Whether the webhook configuration, as this replica last read it, holds in every webhook's
   * caBundle the CA that signed the certificate it serves: false before the first poll, and
   * while the configuration is missing or trusts another CA (the API server refuses this
   * replica's handshakes then, and `failurePolicy: Ignore` admits pods without a sidecar).
   */
  get caBundleTrusted(): boolean {
    return this.trusted;
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
   * Get a serving certificate from the Secret, creating the Secret when it is missing
   * (bootstrap), or waiting for the leader to replace one that holds nothing usable, then keep
   * polling. Rejects with a {@link CertificateSecretError} when the API server refuses or does
   * not answer, or when stopped before it had a certificate.
   */
  async start(): Promise<void> {
    this.options.leadership.on('started-leading', this.onLeading);
    const now = this.wallClock();
    let unusable: string | undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        const secret = await this.readSecret();
        if (secret === undefined) {
          // Nothing trusts a certificate of ours yet: whoever starts first makes the CA.
          this.material = await this.createSecret(await this.fresh(now, []), now, 'created the Secret of the webhook certificates with a new CA');
        } else {
          const checked = this.check(secret, now);
          if (typeof checked === 'string') unusable = checked;
          else this.material = checked;
        }
        break;
      } catch (error) {
        // Another replica wrote first (409): read what it wrote. Anything else ends the start.
        if (statusOf(error) === 409 && attempt < 5) continue;
        this.stop();
        if (error instanceof CertificateSecretError) throw error;
        throw new CertificateSecretError(`cannot keep the serving certificate in Secret ${this.secret}: ${describe(error)}`, { cause: error });
      }
    }
    this.schedulePoll();
    if (this.material === undefined) {
      this.warnOnce('secret', `Secret ${this.secret} holds no usable certificate (${unusable}); waiting for the leader to replace it`, {
        secret: this.secret,
      });
      await this.firstCertificate();
    }
    if (this.options.leadership.isLeader) void this.sync();
  }

  /** Stop polling; a pass under way finishes but writes nothing more. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.clock.clearTimer(this.pollTimer);
    this.options.leadership.off('started-leading', this.onLeading);
    this.emit('stopped');
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
      // Again at once after a write met a conflict (bounded: a conflict that keeps coming waits for the next poll).
      for (let round = 0; round < MAX_ROUNDS; round++) {
        this.again = false;
        try {
          await this.pass();
        } catch (error) {
          this.warnOnce('pass', `cannot bring the webhook certificates up to date; retrying`, { secret: this.secret, error: describe(error) });
        }
        if (!this.again || this.stopped) break;
      }
      this.running = undefined;
      this.emit('synced');
    })();
    return this.running;
  }

  /**
   * Resolves once no pass is under way and the next poll is scheduled: a test that steps a
   * fake clock waits for this first, so a step starts a pass of its own rather than landing
   * inside one already running.
   */
  async settled(): Promise<void> {
    while (this.running !== undefined) await this.running;
    // The poll after a pass is scheduled in the pass's `finally`, a turn later.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /** Resolves once a first certificate is served; rejects if stopped before. */
  private firstCertificate(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        this.off('changed', onChanged);
        this.off('stopped', onStopped);
      };
      const onChanged = () => {
        done();
        resolve();
      };
      const onStopped = () => {
        done();
        reject(new CertificateSecretError(`stopped before Secret ${this.secret} held a usable certificate`));
      };
      this.on('changed', onChanged);
      this.on('stopped', onStopped);
    });
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
    const leading = this.options.leadership.isLeader;
    if (!leading || secret?.metadata?.resourceVersion !== this.planned?.basedOn) this.planned = undefined;
    let checked: Material | string | undefined;
    if (secret === undefined) {
      if (this.material === undefined) {
        // Never served (a start waiting on an unusable Secret that is gone now): the bootstrap.
        await this.createAgain(await this.fresh(now, []), now, 'created the Secret of the webhook certificates with a new CA');
        return;
      }
      if (leading) {
        // Deleted: written again with what replicas serve, so that nothing trusted changes.
        await this.createAgain(this.contentsOf(this.material), now, 'wrote the deleted Secret of the webhook certificates again, with the certificate served');
        return;
      }
      this.warnOnce('secret', `Secret ${this.secret} is missing; serving the last good certificate until the leader writes it again`, {
        secret: this.secret,
      });
    } else {
      checked = this.check(secret, now);
      if (typeof checked === 'string') {
        const meanwhile = this.material === undefined ? 'waiting for the leader to replace it' : 'serving the last good one';
        this.warnOnce('secret', `Secret ${this.secret} holds no usable certificate (${checked}); ${meanwhile}`, { secret: this.secret });
      } else {
        this.warned.delete('secret');
        this.adopt(checked);
      }
    }
    const trust = await this.readWebhook();
    if (this.stopped) return;
    if (leading && secret !== undefined && checked !== undefined && this.planned === undefined) this.planned = await this.plan(secret, checked, trust, now);
    if (this.stopped) return;
    const wanted = leading ? (this.planned?.contents.caBundle ?? this.material?.caBundle) : undefined;
    const held = trust === undefined ? undefined : wanted === undefined ? trust.held : await this.syncCaBundle(trust, wanted);
    this.observe(held);
    if (this.planned !== undefined && this.options.leadership.isLeader) await this.writePlanned(this.planned, now);
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
    const signer = cas.find((ca) => leaf.checkIssued(ca) && leaf.verify(ca.publicKey));
    if (signer === undefined) return `${SECRET_KEYS.cert} is not signed by a CA of ${SECRET_KEYS.caBundle}`;
    if (new Date(leaf.validTo).getTime() <= now.getTime()) return `${SECRET_KEYS.cert} expired on ${new Date(leaf.validTo).toISOString()}`;
    return { pair: { cert: cert!, key: key! }, caBundle: caBundle!, caKey: caKey!, leaf, cas, signer, resourceVersion: secret.metadata?.resourceVersion ?? '' };
  }

  private contentsOf(material: Material): Contents {
    return { cert: material.pair.cert, key: material.pair.key, caBundle: material.caBundle, caKey: material.caKey };
  }

  private secretBody(contents: Contents, resourceVersion?: string): V1Secret {
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

  /** A new CA and a serving certificate it signed; the bundle keeps `keep` (those not expired) after the new CA. */
  private async fresh(now: Date, keep: readonly X509Certificate[]): Promise<Contents> {
    const ca = await createCertificateAuthority({ now, validityMs: this.options.caValidityMs ?? CERTIFICATE_VALIDITY_MS });
    const serving = await issueServingCertificate(ca, {
      dnsNames: this.dnsNames,
      now,
      validityMs: this.options.certificateValidityMs ?? CERTIFICATE_VALIDITY_MS,
    });
    return { cert: serving.cert, key: serving.key, caBundle: bundleOf([new X509Certificate(ca.cert), ...keep], now), caKey: ca.key };
  }

  /** POST a new Secret; a 409 (another replica was first) is thrown for the caller. */
  private async createSecret(contents: Contents, now: Date, message: string): Promise<Material> {
    const created = await this.answered(this.core.createNamespacedSecret({ namespace: this.options.namespace, body: this.secretBody(contents) }));
    this.options.log?.('info', message, { secret: this.secret });
    return this.mustCheck(created, now);
  }

  /** {@link createSecret} and serve it, then go again (the caBundle is kept from what the Secret holds); a 409 goes again too, from what the winner wrote. */
  private async createAgain(contents: Contents, now: Date, message: string): Promise<void> {
    try {
      this.adopt(await this.createSecret(contents, now, message));
    } catch (error) {
      if (statusOf(error) !== 409) throw error;
    }
    this.again = true;
  }

  private mustCheck(secret: V1Secret, now: Date): Material {
    const checked = this.check(secret, now);
    if (typeof checked === 'string') throw new CertificateSecretError(`Secret ${this.secret} as written does not check: ${checked}`);
    return checked;
  }

  /**
   * The leader's next write of the Secret, if one is due: a replacement of one that holds
   * nothing usable (a new CA, the CAs that may sign a certificate still served kept in the
   * bundle), or a renewal (see the module comment).
   */
  private async plan(secret: V1Secret, checked: Material | string, trust: WebhookTrust | undefined, now: Date): Promise<PlannedWrite | undefined> {
    const basedOn = secret.metadata?.resourceVersion ?? '';
    const planned = (contents: Contents, level: 'info' | 'warn', message: string, fields: Record<string, unknown>): PlannedWrite => ({
      contents,
      signer: parseCertificates(contents.caBundle)[0]!.fingerprint256,
      basedOn,
      level,
      message,
      fields,
      waitingTold: false,
    });
    if (typeof checked === 'string') {
      const keep = [...(this.material?.cas ?? []), ...(trust?.cas ?? [])];
      return planned(await this.fresh(now, keep), 'warn', 'replaced the Secret of the webhook certificates: it held no usable certificate', { why: checked });
    }
    const material = checked;
    const currentCa = material.cas[0]!;
    const caDue = needsRenewal(currentCa, now, this.renewBeforeMs);
    const names = dnsNamesOf(material.leaf);
    const wrongNames = names.length !== this.dnsNames.length || names.some((name, i) => name !== this.dnsNames[i]);
    // By signature: every CA of the injector has the same kind of name, so names alone cannot tell them apart.
    const notByCurrentCa = material.signer.fingerprint256 !== currentCa.fingerprint256;
    const leafDue = needsRenewal(material.leaf, now, this.renewBeforeMs) || wrongNames || notByCurrentCa;
    if (!caDue && !leafDue) return undefined;
    if (caDue) {
      return planned(await this.fresh(now, material.cas), 'info', 'renewed the CA and the serving certificate', {
        reason: 'the CA expires within the renewal window',
      });
    }
    const serving = await issueServingCertificate(
      { cert: currentCa.toString(), key: material.caKey },
      { dnsNames: this.dnsNames, now, validityMs: this.options.certificateValidityMs ?? CERTIFICATE_VALIDITY_MS },
    );
    return planned(
      { cert: serving.cert, key: serving.key, caBundle: bundleOf(material.cas, now), caKey: material.caKey },
      'info',
      'renewed the serving certificate',
      {
        reason: wrongNames
          ? `the certificate names ${names.join(', ')}`
          : notByCurrentCa
            ? 'the certificate is not signed by the current CA'
            : 'it expires within the renewal window',
      },
    );
  }

  /**
   * Write `planned` into the Secret if the caBundles have held its CA for `caPropagationMs`;
   * else wait for a later pass. A 409 (another writer was first) goes again at once: the
   * Secret is read again, and the caBundle kept from what it holds now, never from what was read before.
   */
  private async writePlanned(planned: PlannedWrite, now: Date): Promise<void> {
    const since = this.heldSince.get(planned.signer);
    if (since === undefined || this.clock.now() - since < this.caPropagationMs) {
      if (!planned.waitingTold) {
        planned.waitingTold = true;
        this.options.log?.('info', 'the certificate to write waits until the webhook caBundle has trusted its CA long enough for every API server to see it', {
          secret: this.secret,
          webhookConfig: this.options.webhookConfig,
          ca: planned.signer,
          trusted: since !== undefined,
        });
      }
      return;
    }
    if (this.stopped || !this.options.leadership.isLeader) return;
    try {
      const written = await this.answered(
        this.core.replaceNamespacedSecret({
          name: this.secretName,
          namespace: this.options.namespace,
          body: this.secretBody(planned.contents, planned.basedOn),
        }),
      );
      this.planned = undefined;
      this.options.log?.(planned.level, planned.message, { secret: this.secret, ...planned.fields });
      this.adopt(this.mustCheck(written, now));
    } catch (error) {
      // The pass that goes again drops the plan if the Secret changed, and writes it again if not.
      if (statusOf(error) !== 409) throw error;
      this.again = true;
    }
  }

  /** Read the webhook configuration: which CAs its caBundles hold; undefined (warned about once) when it does not exist. */
  private async readWebhook(): Promise<WebhookTrust | undefined> {
    const name = this.options.webhookConfig;
    try {
      const configuration = await this.answered(this.admission.readMutatingWebhookConfiguration({ name }));
      this.warned.delete('webhook');
      return trustOf(configuration);
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
      this.warnOnce('webhook', `MutatingWebhookConfiguration ${name} does not exist: the API server sends the injector no pods`, { webhookConfig: name });
      return undefined;
    }
  }

  /**
   * Make every webhook's `clientConfig.caBundle` of the configuration read as `trust` equal
   * `bundle`, with a JSON patch that first tests the resourceVersion read, so a configuration
   * changed in between is not half-patched. Returns the CAs every caBundle holds as the API
   * server answered: after the patch, or as read when the patch failed (422/409: the next
   * pass reads it again) or was not needed.
   */
  private async syncCaBundle(trust: WebhookTrust, bundle: string): Promise<ReadonlySet<string>> {
    const name = this.options.webhookConfig;
    const wanted = b64(bundle);
    const operations: object[] = [];
    (trust.configuration.webhooks ?? []).forEach((webhook, index) => {
      if (webhook.clientConfig?.caBundle !== wanted) operations.push({ op: 'add', path: `/webhooks/${index}/clientConfig/caBundle`, value: wanted });
    });
    if (operations.length === 0 || !this.options.leadership.isLeader || this.stopped) return trust.held;
    let patched: V1MutatingWebhookConfiguration;
    try {
      patched = await this.answered(
        this.admission.patchMutatingWebhookConfiguration(
          { name, body: [{ op: 'test', path: '/metadata/resourceVersion', value: trust.configuration.metadata?.resourceVersion }, ...operations] },
          setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
        ),
      );
    } catch (error) {
      // 422: the test failed (the configuration changed since it was read); 409 likewise. The next poll reads it again.
      if (statusOf(error) === 422 || statusOf(error) === 409) {
        this.warnOnce('patch', `the webhook configuration ${name} changed while its caBundle was patched; patching again at the next poll`, {
          webhookConfig: name,
          error: describe(error),
        });
        return trust.held;
      }
      throw error;
    }
    this.warned.delete('patch');
    this.options.log?.('info', 'set the caBundle of the webhook configuration', { webhookConfig: name, webhooks: operations.length });
    return trustOf(patched).held;
  }

  /** Note which CAs the caBundles hold now (`undefined`: no configuration), and whether they trust the certificate served. */
  private observe(held: ReadonlySet<string> | undefined): void {
    for (const fingerprint of [...this.heldSince.keys()]) if (held === undefined || !held.has(fingerprint)) this.heldSince.delete(fingerprint);
    for (const fingerprint of held ?? []) if (!this.heldSince.has(fingerprint)) this.heldSince.set(fingerprint, this.clock.now());
    this.trusted = held !== undefined && this.material !== undefined && held.has(this.material.signer.fingerprint256);
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
 * if it is missing; waiting for the leader if it holds nothing usable) and keep it current as
 * the module comment says. Rejects with a {@link CertificateSecretError} (one line, naming the
 * Secret) when the API server refuses or does not answer.
 */
export async function startWebhookCertificates(options: WebhookCertificatesOptions): Promise<WebhookCertificates> {
  const certificates = new WebhookCertificates(options);
  await certificates.start();
  return certificates;
}
