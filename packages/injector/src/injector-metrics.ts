import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** How a review ended, the `result` label of `dubbo_mesh_injector_reviews_total`. */
export type ReviewResult = 'injected' | 'skipped' | 'refused' | 'bad_request' | 'error';

/** What the gauges of the injector's own certificates read when scraped. */
export interface OwnCertificatesState {
  /** Whether this replica leads the Lease (renews the certificates, keeps the caBundle). */
  leading(): boolean;
  /** Whether every webhook's caBundle, as last read, holds the CA that signed the certificate this replica serves. */
  caBundleTrusted(): boolean;
}

/** Every {@link ReviewResult}, so each one is exported at 0 before it first happens (an alert on a rate needs the series). */
export const REVIEW_RESULTS: readonly ReviewResult[] = ['injected', 'skipped', 'refused', 'bad_request', 'error'];

/**
 * The injector's Prometheus metrics, one registry per injector (one list, CONVENTIONS 12): its
 * own are `dubbo_mesh_injector_*`; the Node process metrics keep their standard names.
 */
export class InjectorMetrics {
  readonly registry = new Registry();
  /** Reviews answered, by result: injected, skipped (answered without a sidecar), refused (`allowed: false`), bad_request (400), error (500). */
  readonly reviews = new Counter({
    name: 'dubbo_mesh_injector_reviews_total',
    help: 'Admission reviews answered, by result',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  /** From the request's arrival to its answer sent (body parsing and serialization included). */
  readonly reviewDuration = new Histogram({
    name: 'dubbo_mesh_injector_review_duration_seconds',
    help: 'Time to answer an admission review, from its arrival to the answer sent',
    // The API server's webhook timeout is 10 s here; the work itself takes well under a millisecond.
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 2.5, 10],
    registers: [this.registry],
  });
  /** Serving certificates taken into use after start (a rotation of the files or of the Secret), or refused as invalid (the old one stays). */
  readonly certificateReloads = new Counter({
    name: 'dubbo_mesh_injector_certificate_reloads_total',
    help: 'Serving certificate changes seen after start, by result (applied, or rejected and the previous one kept)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  /** When the serving certificate in use expires: an alert can fire well before a renewal that did not happen bites. */
  readonly certificateNotAfter = new Gauge({
    name: 'dubbo_mesh_injector_certificate_not_after_seconds',
    help: 'Expiry of the serving certificate in use, in seconds since the Unix epoch',
    registers: [this.registry],
  });

  constructor() {
    for (const result of REVIEW_RESULTS) this.reviews.inc({ result }, 0);
    for (const result of ['applied', 'rejected']) this.certificateReloads.inc({ result }, 0);
    collectDefaultMetrics({ register: this.registry });
  }

  /**
   * Export `dubbo_mesh_injector_leader` and `dubbo_mesh_injector_ca_bundle_trusted`, read from
   * `state` at each scrape. Only with its own certificates: with `--tls-cert` there is no
   * election, and whoever issued the files keeps the caBundle. A replica whose caBundle gauge
   * stays 0 serves a certificate the API server refuses (`failurePolicy: Ignore` then admits
   * pods without a sidecar): with no leader at all (every replica's leader gauge 0) nobody will fix it.
   */
  watchOwnCertificates(state: OwnCertificatesState): void {
    new Gauge({
      name: 'dubbo_mesh_injector_leader',
      help: 'Whether this replica leads the injector Lease: renews the certificates and keeps the webhook caBundle (1) or not (0)',
      registers: [this.registry],
      collect() {
        this.set(state.leading() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'dubbo_mesh_injector_ca_bundle_trusted',
      help: 'Whether every webhook caBundle of the MutatingWebhookConfiguration, as last read, holds the CA of the certificate this replica serves (1) or not (0)',
      registers: [this.registry],
      collect() {
        this.set(state.caBundleTrusted() ? 1 : 0);
      },
    });
  }
}
