// `dubbo-mesh injector` as an application (CONVENTIONS 9b: the command line parses argv and
// calls this; the tests call it too): the serving certificate (from files, or kept in a Secret
// with a leader patching the webhook's caBundle), the HTTPS webhook, the admin API, and a stop.
//
// The admission handler is the pure `reviewAdmission(body, config)` of admission.ts, with
// `config = defaultInjectorConfig(admissionSettingsFromFlags(values))`: the command line builds
// it; this module only takes it as `handle` and never makes one of its own.
import { hostname } from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import { KubernetesLeaseLock, LeaderElector, systemClock, type Clock } from '@dubbo-mesh/leader-election';
import { DEFAULT_IMAGE } from './injector-config.js';
import { DEFAULT_SERVICE, DEFAULT_WEBHOOK_CONFIG } from './injector-flags.js';
import { JAVA_RECIPE_MODES, type JavaRecipeMode } from './java-recipe.js';
import { InjectorMetrics } from './injector-metrics.js';
import { startInjectorAdmin, startInjectorServer, type AdmissionHandler, type HostPort, type InjectorLogger, type InjectorServer } from './injector-server.js';
import { CertificateSecretError, InjectorFlagError, oneLine } from './errors.js';
import { startTlsFileWatcher, type CertificateSource } from './tls-files.js';

/** The namespace the injector is installed in unless `POD_NAMESPACE` says otherwise. */
export const DEFAULT_INJECTOR_NAMESPACE = 'dubbo-mesh';
/** The Lease the injector replicas elect the one that patches the webhook's caBundle with (in their namespace). */
export const INJECTOR_LEASE = 'dubbo-mesh-injector';

/**
 * How long a stopping injector keeps serving after `/ready` turned 503 (5 s): the pod stays an
 * endpoint of its Service for a second or two after SIGTERM (kube-proxy and the API server's
 * own view catch up late), and a review refused meanwhile admits the pod without a sidecar
 * (`failurePolicy: Ignore`). The pod's terminationGracePeriodSeconds (30 s) covers it.
 */
export const DEFAULT_DRAIN_MS = 5000;

/** Environment variables the injector reads (the downward API sets them in its pod). */
export const INJECTOR_ENV = {
  /** Its namespace: where its Secret and Lease are. */
  POD_NAMESPACE: 'POD_NAMESPACE',
  /** Its pod name: its identity in the Lease. */
  POD_NAME: 'POD_NAME',
  /** Set in every pod by the kubelet: the injector runs in a cluster. */
  KUBERNETES_SERVICE_HOST: 'KUBERNETES_SERVICE_HOST',
  /** A kubeconfig file: the injector can reach a cluster from outside it. */
  KUBECONFIG: 'KUBECONFIG',
} as const;

/** One of the values of `--java-recipe`. */
export type JavaRecipe = JavaRecipeMode;

/** Flag values as the command line parsed them (the flag or its env twin, else the default). */
export type InjectorFlagValues = Readonly<Record<string, string | readonly string[] | boolean | undefined>>;

/** The admission handler's settings from the flags, named after them (their names are InjectorConfig's). */
export interface AdmissionSettings {
  /** `--control-plane`: what injected sidecars get as their `--control-plane`. */
  readonly controlPlane: string;
  /** `--image`. */
  readonly image: string;
  /** `--native-sidecar`. */
  readonly nativeSidecar: boolean;
  /** `--java-recipe`. */
  readonly javaRecipe: JavaRecipe;
  /** `--fail-open`. */
  readonly failOpen: boolean;
}

const stringFlag = (values: InjectorFlagValues, flag: string): string | undefined => {
  const value = values[flag];
  return typeof value === 'string' ? value : undefined;
};

/** `HOST:PORT`, what the proxy's `--control-plane` takes (an IPv6 host in brackets). */
const HOST_PORT = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$/;

/**
 * The handler's settings from the flags, each checked: `--control-plane` given and HOST:PORT,
 * `--native-sidecar` true or false, `--java-recipe` one of {@link JAVA_RECIPE_MODES}. Throws an
 * {@link InjectorFlagError} naming the flag.
 */
export function admissionSettingsFromFlags(values: InjectorFlagValues): AdmissionSettings {
  const controlPlane = stringFlag(values, 'control-plane');
  if (controlPlane === undefined || controlPlane === '')
    throw new InjectorFlagError('control-plane', '--control-plane HOST:PORT is required: the control plane injected sidecars connect to');
  const port = HOST_PORT.exec(controlPlane)?.[1];
  if (port === undefined || Number(port) < 1 || Number(port) > 65535)
    throw new InjectorFlagError('control-plane', `--control-plane: ${JSON.stringify(controlPlane)} is not HOST:PORT`);
  const native = stringFlag(values, 'native-sidecar') ?? 'true';
  if (native !== 'true' && native !== 'false')
    throw new InjectorFlagError('native-sidecar', `--native-sidecar: ${JSON.stringify(native)} is not true or false`);
  const recipe = stringFlag(values, 'java-recipe') ?? 'consumer';
  if (!(JAVA_RECIPE_MODES as readonly string[]).includes(recipe))
    throw new InjectorFlagError('java-recipe', `--java-recipe: ${JSON.stringify(recipe)} is not one of ${JAVA_RECIPE_MODES.join(', ')}`);
  const image = stringFlag(values, 'image') ?? DEFAULT_IMAGE;
  if (image === '' || /\s/.test(image)) throw new InjectorFlagError('image', `--image: ${JSON.stringify(image)} is not an image reference`);
  return Object.freeze({ controlPlane, image, nativeSidecar: native === 'true', javaRecipe: recipe as JavaRecipe, failOpen: values['fail-open'] === true });
}

/** Where the serving certificate comes from. */
export type CertificateOrigin =
  /** `--tls-cert` / `--tls-key`, followed as they change. */
  | {
      readonly kind: 'files';
      readonly certPath: string;
      readonly keyPath: string;
      /** `--service` and `POD_NAMESPACE`: a certificate that does not name `<service>.<namespace>.svc` is warned about. */
      readonly service?: string;
      readonly namespace?: string;
      readonly debounceMs?: number;
      readonly pollIntervalMs?: number;
    }
  /** The injector's own CA and certificate in its Secret; the leader of its Lease patches the webhook's caBundle. */
  | {
      readonly kind: 'kubernetes';
      /** Default: in-cluster, else `KUBECONFIG`, else `~/.kube/config`. */
      readonly kubeConfig?: KubeConfig;
      /** `POD_NAMESPACE`: where the Secret and the Lease are. */
      readonly namespace: string;
      /** `--service`. */
      readonly service: string;
      /** `--webhook-config`. */
      readonly webhookConfig: string;
      /** This replica's name in the Lease (`POD_NAME`). */
      readonly identity: string;
      /** The Secret poll (default 10 s), how long a new CA is trusted before a certificate it signed is written (default 10 s), and the election's timing (client-go's defaults). */
      readonly pollIntervalMs?: number;
      readonly caPropagationMs?: number;
      readonly leaseDurationMs?: number;
      readonly renewDeadlineMs?: number;
      readonly retryPeriodMs?: number;
    };

/**
 * Where the certificate comes from, by the flags and the environment: `--tls-cert` and
 * `--tls-key` (both or neither), else the injector's own when it can reach a cluster (in a pod,
 * or with `KUBECONFIG`). Throws an {@link InjectorFlagError} naming the flag otherwise.
 */
export function certificateOriginFromFlags(values: InjectorFlagValues, env: Readonly<Record<string, string | undefined>> = process.env): CertificateOrigin {
  const certPath = stringFlag(values, 'tls-cert');
  const keyPath = stringFlag(values, 'tls-key');
  if (certPath !== undefined && keyPath === undefined) throw new InjectorFlagError('tls-key', '--tls-cert needs --tls-key: give both or neither');
  if (keyPath !== undefined && certPath === undefined) throw new InjectorFlagError('tls-cert', '--tls-key needs --tls-cert: give both or neither');
  const namespace = env[INJECTOR_ENV.POD_NAMESPACE] || DEFAULT_INJECTOR_NAMESPACE;
  const service = stringFlag(values, 'service') || DEFAULT_SERVICE;
  if (certPath !== undefined && keyPath !== undefined) return { kind: 'files', certPath, keyPath, service, namespace };
  const inCluster = (env[INJECTOR_ENV.KUBERNETES_SERVICE_HOST] ?? '') !== '' || (env[INJECTOR_ENV.KUBECONFIG] ?? '') !== '';
  if (!inCluster)
    throw new InjectorFlagError(
      'tls-cert',
      'give --tls-cert PATH and --tls-key PATH: outside a Kubernetes cluster (no KUBERNETES_SERVICE_HOST, no KUBECONFIG) the injector cannot keep its own certificate in a Secret',
    );
  return {
    kind: 'kubernetes',
    namespace,
    service,
    webhookConfig: stringFlag(values, 'webhook-config') || DEFAULT_WEBHOOK_CONFIG,
    identity: env[INJECTOR_ENV.POD_NAME] || `${hostname()}_${process.pid}`,
  };
}

/** Options of {@link startInjectorApp}. */
export interface InjectorAppOptions {
  /** `--listen` (port 0: any free port). */
  readonly listen: HostPort;
  /** `--admin` (port 0: any free port). */
  readonly admin: HostPort;
  readonly certificates: CertificateOrigin;
  /** The admission handler (`reviewAdmission` with its configuration). */
  readonly handle: AdmissionHandler;
  readonly logger: InjectorLogger;
  /** Time for debounces, polls and the election. Default: real time. */
  readonly clock?: Clock;
  /** Time for certificate validity (of the TLS files, and of the Secret's). Default `new Date()`. */
  readonly wallClock?: () => Date;
  /** Default {@link DEFAULT_BODY_LIMIT_BYTES}. */
  readonly bodyLimitBytes?: number;
  /** How long {@link InjectorApp.stop} keeps the webhook serving after `/ready` turned 503, on `clock` (default {@link DEFAULT_DRAIN_MS}; 0: none). */
  readonly drainMs?: number;
}

/** Options of {@link InjectorApp.stop}. */
export interface InjectorStopOptions {
  /** False: close the webhook without waiting out the drain (also cuts a drain under way short, as a second signal does). Default true. */
  readonly drain?: boolean;
}

/** A running injector. */
export interface InjectorApp {
  /** The webhook's bound port. */
  readonly port: number;
  /** The admin API's bound port. */
  readonly adminPort: number;
  readonly metrics: InjectorMetrics;
  readonly server: InjectorServer;
  /** The serving certificate's source (files or Secret). */
  readonly certificates: CertificateSource;
  /** The election of the replica that patches the caBundle (own certificates only). */
  readonly elector: LeaderElector | undefined;
  /**
   * Stop: `/ready` answers 503 at once while the webhook keeps serving for the drain; then the
   * webhook closes (requests in flight finish, idle keep-alive connections are closed), then the
   * admin API, the certificate source and the election (the Lease is released). A second call
   * resolves with the first; one with `{ drain: false }` cuts the drain short.
   */
  stop(signal?: string, options?: InjectorStopOptions): Promise<void>;
}

/** Client-node's own order: in-cluster, else `KUBECONFIG`, else `~/.kube/config`; one line if it cannot. */
async function loadKubeConfig(): Promise<KubeConfig> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kubeConfig = new KubeConfig();
  try {
    kubeConfig.loadFromDefault();
  } catch (error) {
    throw new CertificateSecretError(
      `cannot load the Kubernetes configuration (${process.env.KUBECONFIG ?? 'in-cluster or ~/.kube/config'}): ${oneLine(error)}`,
      {
        cause: error,
      },
    );
  }
  return kubeConfig;
}

/**
 * Start the injector: the serving certificate first (a bad file or an unreachable API server
 * binds nothing), then the webhook, then the admin API; a failure at any step undoes the steps
 * before it and rejects with a typed error: {@link TlsFilesError} (naming `--tls-cert` or
 * `--tls-key`), {@link CertificateSecretError}, or {@link InjectorListenError} (`listen` or
 * `admin`). Ready (`/ready` 200) when this resolves.
 */
export async function startInjectorApp(options: InjectorAppOptions): Promise<InjectorApp> {
  const { logger } = options;
  const clock = options.clock ?? systemClock;
  const metrics = new InjectorMetrics();
  const log = (level: 'info' | 'warn' | 'error', message: string, fields: Record<string, unknown> = {}) => logger[level](fields, message);
  const origin = options.certificates;

  let certificates: CertificateSource & { stop(): void };
  let elector: LeaderElector | undefined;
  if (origin.kind === 'files') {
    const watcher = await startTlsFileWatcher({
      certPath: origin.certPath,
      keyPath: origin.keyPath,
      clock,
      log,
      ...(options.wallClock === undefined ? {} : { wallClock: options.wallClock }),
      ...(origin.service === undefined ? {} : { expectedDnsName: `${origin.service}.${origin.namespace ?? DEFAULT_INJECTOR_NAMESPACE}.svc` }),
      ...(origin.debounceMs === undefined ? {} : { debounceMs: origin.debounceMs }),
      ...(origin.pollIntervalMs === undefined ? {} : { pollIntervalMs: origin.pollIntervalMs }),
    });
    // A renewal whose files do not make a valid pair never reaches the server: count it here.
    watcher.on('rejected', () => metrics.certificateReloads.inc({ result: 'rejected' }));
    certificates = watcher;
  } else {
    // Loaded only for its own certificates: the Kubernetes client is most of a start's time.
    const { startWebhookCertificates } = await import('./webhook-certificates.js');
    const kubeConfig = origin.kubeConfig ?? (await loadKubeConfig());
    elector = new LeaderElector({
      lock: new KubernetesLeaseLock(kubeConfig, origin.namespace, INJECTOR_LEASE, {
        labels: { 'app.kubernetes.io/name': 'dubbo-mesh-injector', 'app.kubernetes.io/part-of': 'dubbo-mesh' },
      }),
      identity: origin.identity,
      clock,
      log,
      ...(origin.leaseDurationMs === undefined ? {} : { leaseDurationMs: origin.leaseDurationMs }),
      ...(origin.renewDeadlineMs === undefined ? {} : { renewDeadlineMs: origin.renewDeadlineMs }),
      ...(origin.retryPeriodMs === undefined ? {} : { retryPeriodMs: origin.retryPeriodMs }),
    });
    const lease = `${origin.namespace}/${INJECTOR_LEASE}`;
    elector.on('started-leading', () => log('info', 'leading: this replica renews the certificates and keeps the webhook caBundle', { lease }));
    elector.on('stopped-leading', () => log('info', 'no longer leading: another replica keeps the webhook caBundle', { lease }));
    // The election runs first: a start that finds the Secret unusable waits for the leader to
    // replace it, and when this is the only replica, the leader is this one.
    elector.start();
    try {
      const own = await startWebhookCertificates({
        kubeConfig,
        namespace: origin.namespace,
        service: origin.service,
        webhookConfig: origin.webhookConfig,
        leadership: elector,
        clock,
        ...(options.wallClock === undefined ? {} : { wallClock: options.wallClock }),
        ...(origin.pollIntervalMs === undefined ? {} : { pollIntervalMs: origin.pollIntervalMs }),
        ...(origin.caPropagationMs === undefined ? {} : { caPropagationMs: origin.caPropagationMs }),
        log,
      });
      const leadership = elector;
      metrics.watchOwnCertificates({ leading: () => leadership.isLeader, caBundleTrusted: () => own.caBundleTrusted });
      certificates = own;
    } catch (error) {
      await elector.stop();
      throw error;
    }
  }
  const stopCertificates = async () => {
    certificates.stop();
    await elector?.stop();
  };

  let server: InjectorServer;
  try {
    server = await startInjectorServer({
      listen: options.listen,
      tls: certificates,
      handle: options.handle,
      logger,
      metrics,
      ...(options.bodyLimitBytes === undefined ? {} : { bodyLimitBytes: options.bodyLimitBytes }),
    });
  } catch (error) {
    await stopCertificates();
    throw error;
  }
  // Ready while the webhook serves and the injector is not stopping: a stopping replica leaves the Service's endpoints first.
  let draining = false;
  const readiness = {
    get serving() {
      return server.serving && !draining;
    },
  };
  let admin;
  try {
    admin = await startInjectorAdmin(readiness, metrics, options.admin);
  } catch (error) {
    await server.close();
    await stopCertificates();
    throw error;
  }
  const listenHost = options.listen.host.includes(':') ? `[${options.listen.host}]` : options.listen.host;
  const adminHost = options.admin.host.includes(':') ? `[${options.admin.host}]` : options.admin.host;
  logger.info(
    {
      listen: `${listenHost}:${server.port}`,
      admin: `${adminHost}:${admin.port}`,
      certificates: origin.kind === 'files' ? `files ${origin.certPath} ${origin.keyPath}` : `Secret ${origin.namespace}/dubbo-mesh-injector-tls`,
    },
    'injector ready',
  );
  let stopping: Promise<void> | undefined;
  let endDrain: (() => void) | undefined;
  return {
    port: server.port,
    adminPort: admin.port,
    metrics,
    server,
    certificates,
    elector,
    stop(signal, stopOptions = {}) {
      const drain = stopOptions.drain !== false;
      if (!drain) endDrain?.();
      stopping ??= (async () => {
        draining = true;
        const drainMs = drain ? Math.max(0, options.drainMs ?? DEFAULT_DRAIN_MS) : 0;
        logger.info({ signal, drainMs }, 'injector stopping: /ready answers 503; the webhook serves until the drain ends');
        if (drainMs > 0) {
          await new Promise<void>((resolve) => {
            const timer = clock.setTimer(resolve, drainMs);
            endDrain = () => {
              clock.clearTimer(timer);
              resolve();
            };
          });
        }
        endDrain = undefined;
        await server.close();
        await admin.close();
        await stopCertificates();
        logger.info({}, 'injector stopped');
      })();
      return stopping;
    },
  };
}
