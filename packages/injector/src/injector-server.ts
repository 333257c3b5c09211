// The webhook's HTTPS server (`--listen`) and its admin API (`--admin`). The server knows
// nothing of pods: it takes JSON in, calls the pure handler, and answers its review, so the
// handler is tested without sockets and the server with a handler written in the test.
import { X509Certificate } from 'node:crypto';
import type { Server as HttpsServer } from 'node:https';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { InjectorMetrics, type ReviewResult } from './injector-metrics.js';
import { InjectorErrorCode, InjectorListenError, oneLine } from './errors.js';
import type { CertificatePair, CertificateSource } from './tls-files.js';

/** What the server logs through: pino's call shape (fields, then the message); the command line passes its pino logger. */
export interface InjectorLogger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/**
 * What the admission handler returns (the contract's `AdmissionOutcome`): the AdmissionReview
 * to answer with 200, and the decision, for the log and the metrics.
 */
export interface AdmissionHandlerResult {
  readonly review: object;
  readonly decision: { readonly injected: boolean; readonly reason: string; readonly warnings: readonly string[] };
}

/**
 * The admission handler: a parsed request body in, a review out. It throws an error whose
 * `code` is `DM_ERR_BAD_ADMISSION_REVIEW` for a body that is not an AdmissionReview of a Pod
 * (answered 400); anything else it throws is a bug (answered 500 and logged).
 */
export type AdmissionHandler = (body: unknown) => AdmissionHandlerResult;

/** An address to listen on. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** The path the MutatingWebhookConfiguration sends reviews to. */
export const INJECT_PATH = '/inject';

/**
 * How long an idle keep-alive connection is kept open: longer than the 90 s after which the API
 * server's Go client closes its own idle connections, so the server never closes one the client
 * is about to reuse (Go does not retry a POST that met a closed connection: the review fails,
 * and `failurePolicy: Ignore` admits the pod without a sidecar).
 */
export const KEEP_ALIVE_TIMEOUT_MS = 120_000;

/** The largest request body taken (the API server's own limit on a request is in this range); a larger one is answered 413. */
export const DEFAULT_BODY_LIMIT_BYTES = 10 * 1024 * 1024;

/** Options of {@link startInjectorServer}. */
export interface InjectorServerOptions {
  /** `--listen` (port 0: any free port, see {@link InjectorServer.port}). */
  readonly listen: HostPort;
  /** The serving certificate, followed as it changes. */
  readonly tls: CertificateSource;
  readonly handle: AdmissionHandler;
  readonly logger: InjectorLogger;
  /** Default: a registry of its own. */
  readonly metrics?: InjectorMetrics;
  /** Default {@link DEFAULT_BODY_LIMIT_BYTES}. */
  readonly bodyLimitBytes?: number;
}

/** A running webhook server. */
export interface InjectorServer {
  /** The bound port. */
  readonly port: number;
  readonly metrics: InjectorMetrics;
  /** The certificate served to new connections. */
  readonly certificate: CertificatePair;
  /** Whether it listens with a certificate (what `/ready` answers). */
  readonly serving: boolean;
  /** Serve `pair` to new TLS connections (open ones keep theirs); throws if TLS cannot use it, and the old one stays. */
  setCertificate(pair: CertificatePair): void;
  /** Stop taking connections, let requests in flight finish (their connections close after the answer), close idle keep-alive connections. */
  close(): Promise<void>;
}

/** What a review's log line says about the pod, read defensively from the body (the handler has judged it already). */
function describeRequest(body: unknown): Record<string, unknown> {
  const request = (body as { request?: Record<string, unknown> } | null)?.request;
  if (typeof request !== 'object' || request === null) return {};
  const metadata = (request.object as { metadata?: Record<string, unknown> } | undefined)?.metadata ?? {};
  const name = request.name || metadata.name;
  return {
    uid: request.uid,
    namespace: request.namespace ?? metadata.namespace,
    // A Deployment's pods have no name yet: the generateName tells whose they are.
    pod: name || (typeof metadata.generateName === 'string' ? `${metadata.generateName}*` : undefined),
    operation: request.operation,
  };
}

function resultOf(outcome: AdmissionHandlerResult): ReviewResult {
  const allowed = (outcome.review as { response?: { allowed?: unknown } }).response?.allowed;
  if (allowed === false) return 'refused';
  return outcome.decision.injected ? 'injected' : 'skipped';
}

function notAfterSeconds(cert: string): number | undefined {
  try {
    return Math.floor(new Date(new X509Certificate(cert).validTo).getTime() / 1000);
  } catch {
    return undefined;
  }
}

/**
 * Start the webhook: HTTPS (HTTP/1.1) on `listen`, `POST /inject` with a JSON AdmissionReview
 * (up to `bodyLimitBytes`), answered 200 with the handler's review. A body that is not JSON, or
 * that the handler refuses as not an AdmissionReview, is a 400 with a one-line message; another
 * path is a 404, another method on `/inject` a 405; a handler that throws anything else is a 500,
 * logged with its stack. None of these stops the server. One log line per decision at debug,
 * refusals and warnings at info; counts and latency in `metrics`. The certificate follows `tls`.
 * Rejects with an {@link InjectorListenError} if it cannot listen.
 */
export async function startInjectorServer(options: InjectorServerOptions): Promise<InjectorServer> {
  const { logger, handle } = options;
  const metrics = options.metrics ?? new InjectorMetrics();
  let certificate = options.tls.current();
  const app: FastifyInstance<HttpsServer> = Fastify({
    https: { cert: certificate.cert, key: certificate.key },
    http2: false,
    bodyLimit: options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES,
    logger: false,
    // Idle keep-alive connections (the API server keeps some) do not hold up close().
    forceCloseConnections: 'idle',
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    // A review that still comes while the server closes (on a connection busy when close()
    // began) is answered, not refused with a 503 that `failurePolicy: Ignore` turns into a pod
    // without its sidecar; fastify answers it with `Connection: close`.
    return503OnClosing: false,
  });
  // JSON only (what the API server sends): fastify's text/plain parser would hand a string to the handler.
  app.removeContentTypeParser('text/plain');
  let serving = false;
  let closing = false;
  // A connection busy when close() began is not idle then, so close() leaves it open: its
  // answer closes it, or it would stay open (and close() wait) until the keep-alive timeout.
  app.addHook('onSend', async (_request, reply, payload) => {
    if (closing) reply.header('connection', 'close');
    return payload;
  });

  const isReview = (method: string, url: string | undefined) => method === 'POST' && url === INJECT_PATH;
  app.addHook('onResponse', async (request, reply) => {
    if (!isReview(request.method, request.routeOptions.url)) return;
    metrics.reviewDuration.observe(reply.elapsedTime / 1000);
  });

  app.post(INJECT_PATH, async (request, reply) => {
    const body: unknown = request.body;
    let outcome: AdmissionHandlerResult;
    try {
      outcome = handle(body);
    } catch (error) {
      if ((error as { code?: unknown } | null)?.code === InjectorErrorCode.BAD_ADMISSION_REVIEW) {
        metrics.reviews.inc({ result: 'bad_request' });
        logger.info({ ...describeRequest(body), error: oneLine(error) }, 'refused a request that is not an AdmissionReview of a Pod');
        return reply.code(400).send({ error: oneLine(error) });
      }
      metrics.reviews.inc({ result: 'error' });
      logger.error({ ...describeRequest(body), error: error instanceof Error ? error.stack : String(error) }, 'the admission handler failed');
      return reply.code(500).send({ error: 'the injector failed to review this pod (see its log)' });
    }
    const result = resultOf(outcome);
    metrics.reviews.inc({ result });
    const fields = { ...describeRequest(body), result, reason: outcome.decision.reason, warnings: outcome.decision.warnings };
    if (result === 'refused' || outcome.decision.warnings.length > 0)
      logger.info(fields, result === 'refused' ? 'refused a pod' : 'reviewed a pod, with warnings');
    else logger.debug(fields, result === 'injected' ? 'injected the sidecar' : 'left a pod as it is');
    return reply.code(200).type('application/json').send(outcome.review);
  });
  app.route({
    method: ['GET', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'],
    url: INJECT_PATH,
    handler: async (_request, reply) =>
      reply
        .code(405)
        .header('allow', 'POST')
        .send({ error: `${INJECT_PATH} takes POST only` }),
  });
  app.setNotFoundHandler(async (request, reply) =>
    reply.code(404).send({ error: `no route ${request.method} ${request.url.split('?')[0]}: the webhook is POST ${INJECT_PATH}` }),
  );
  // What fastify refuses before the handler (a body that is not JSON, too large, of another
  // media type): the status it chose, with one line.
  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (isReview(request.method, request.routeOptions.url)) metrics.reviews.inc({ result: status < 500 ? 'bad_request' : 'error' });
    if (status < 500) logger.info({ path: request.url, status, error: oneLine(error) }, 'refused a request');
    else logger.error({ path: request.url, error: error.stack }, 'a request failed');
    return reply.code(status).send({ error: status < 500 ? oneLine(error) : 'the injector failed (see its log)' });
  });

  const applyCertificate = (pair: CertificatePair) => {
    app.server.setSecureContext({ cert: pair.cert, key: pair.key });
    certificate = pair;
    const notAfter = notAfterSeconds(pair.cert);
    if (notAfter !== undefined) metrics.certificateNotAfter.set(notAfter);
  };
  const unsubscribe = options.tls.onChange((pair) => {
    try {
      applyCertificate(pair);
      metrics.certificateReloads.inc({ result: 'applied' });
      logger.info({ notAfter: new Date((notAfterSeconds(pair.cert) ?? 0) * 1000).toISOString() }, 'serving a new certificate to new connections');
    } catch (error) {
      metrics.certificateReloads.inc({ result: 'rejected' });
      logger.warn({ error: oneLine(error) }, 'TLS cannot use the new certificate; the one in use stays');
    }
  });
  const initialNotAfter = notAfterSeconds(certificate.cert);
  if (initialNotAfter !== undefined) metrics.certificateNotAfter.set(initialNotAfter);

  try {
    await app.listen({ host: options.listen.host, port: options.listen.port });
  } catch (error) {
    unsubscribe();
    await app.close().catch(() => {});
    throw new InjectorListenError('listen', options.listen, error);
  }
  serving = true;
  const address = app.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.listen.port;
  return {
    port,
    metrics,
    get certificate() {
      return certificate;
    },
    get serving() {
      return serving;
    },
    setCertificate: applyCertificate,
    async close() {
      serving = false;
      closing = true;
      unsubscribe();
      await app.close();
    },
  };
}

/** What `/ready` asks of the injector. */
export interface InjectorReadiness {
  readonly serving: boolean;
}

/** A running admin API. */
export interface InjectorAdmin {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The injector's admin API (HTTP, `--admin`): `GET /ready` (200 once the webhook serves with a
 * certificate, else 503) and `GET /metrics` (Prometheus text). Rejects with an
 * {@link InjectorListenError} (`admin`) if it cannot listen.
 */
export async function startInjectorAdmin(readiness: InjectorReadiness, metrics: InjectorMetrics, address: HostPort): Promise<InjectorAdmin> {
  const app = Fastify({ logger: false, forceCloseConnections: true });
  app.get('/ready', async (_request, reply) => {
    const ready = readiness.serving;
    return reply.code(ready ? 200 : 503).send({ ready });
  });
  app.get('/metrics', async (_request, reply) => {
    reply.type('text/plain; version=0.0.4');
    return metrics.registry.metrics();
  });
  try {
    await app.listen({ host: address.host, port: address.port });
  } catch (error) {
    await app.close().catch(() => {});
    throw new InjectorListenError('admin', address, error);
  }
  const bound = app.server.address();
  return {
    port: typeof bound === 'object' && bound !== null ? bound.port : address.port,
    close: () => app.close(),
  };
}
