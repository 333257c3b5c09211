import { hostname } from 'node:os';
import type { ControlPlaneExtension } from '@dubbo-mesh/control-plane';
import { KubernetesLeaseLock, LeaderElector } from '@dubbo-mesh/leader-election';
import { KubeConfig } from '@kubernetes/client-node';
import { probeApiServer } from './api-server-probe.js';
import { systemClock, type Clock } from './clock.js';
import { KubernetesUnavailableError, KubernetesUnavailableReason } from './errors.js';
import { IngressStatusWriter } from './ingress-status-writer.js';
import { KubernetesSource, type KubernetesSourceOptions } from './kubernetes-source.js';
import { ResolveConfigMapWriter } from './resolve-config-map-writer.js';
import { StatusWriter } from './status-writer.js';

/** Environment variables the Kubernetes extension reads (the downward API sets them in the control plane's pod). */
export const KUBERNETES_ENV = {
  /** The control plane's namespace: where its Lease is, and its gateway Service by default. */
  POD_NAMESPACE: 'POD_NAMESPACE',
  /** The control plane's pod name: its identity in the Lease. */
  POD_NAME: 'POD_NAME',
} as const;

/** The Lease the control-plane replicas elect their leader with (SPEC). */
export const LEASE_NAME = 'dubbo-mesh-control-plane';
/** The gateway's Service, whose address is written into the Ingresses it serves, unless named otherwise. */
export const DEFAULT_GATEWAY_SERVICE = 'dubbo-mesh-gateway';

/** What `--kubernetes` is started with. */
export interface KubernetesExtensionOptions {
  /** `--kube-namespace`: follow one namespace; undefined: every namespace. */
  readonly namespace?: string;
  /** `--kube-gateway-service`: the gateway's Service name, in the control plane's namespace (default `dubbo-mesh-gateway`). */
  readonly gatewayService?: string;
  /** The cluster configuration (tests); default: in-cluster, else `KUBECONFIG`, else `~/.kube/config`. */
  readonly kubeConfig?: KubeConfig;
  /** Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** This replica's identity in the Lease; default `POD_NAME`, else host name and process id. */
  readonly identity?: string;
  /** The leader election's timing (client-go's defaults: 15 s, 10 s, 2 s). */
  readonly leaseDurationMs?: number;
  readonly renewDeadlineMs?: number;
  readonly retryPeriodMs?: number;
  readonly clock?: Clock;
  /** The source's debounce and informer timing (tests). */
  readonly source?: Pick<KubernetesSourceOptions, 'debounceMs' | 'maxDelayMs' | 'informers'>;
  readonly log?: (level: 'info' | 'warn', message: string, fields: Record<string, unknown>) => void;
}

/** The Kubernetes extension of a control plane, with its parts for tests and the admin API. */
export interface KubernetesExtension extends ControlPlaneExtension {
  readonly source: KubernetesSource;
  readonly elector: LeaderElector;
  readonly statusWriter: StatusWriter;
  readonly ingressStatusWriter: IngressStatusWriter;
  readonly resolveConfigMapWriter: ResolveConfigMapWriter;
}

/**
 * `--kubernetes`: checks the API server can be used (one line at start if not: unreachable,
 * credentials, RBAC, CRDs missing), then gives the control plane the Kubernetes source, and
 * the status writers and the resolve ConfigMap writer (the Java recipe's file) as sinks, written
 * only while this replica leads the `dubbo-mesh-control-plane` Lease in `POD_NAMESPACE`.
 */
export async function createKubernetesExtension(options: KubernetesExtensionOptions = {}): Promise<KubernetesExtension> {
  const env = options.env ?? process.env;
  const kubeConfig = options.kubeConfig ?? loadKubeConfig();
  await probeApiServer(kubeConfig, options.namespace);
  const clock = options.clock ?? systemClock;
  const podNamespace = env[KUBERNETES_ENV.POD_NAMESPACE] ?? 'default';
  const identity = options.identity ?? env[KUBERNETES_ENV.POD_NAME] ?? `${hostname()}_${process.pid}`;
  const elector = new LeaderElector({
    lock: new KubernetesLeaseLock(kubeConfig, podNamespace, LEASE_NAME),
    identity,
    clock,
    ...(options.log === undefined
      ? {}
      : {
          log: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) =>
            options.log!(level === 'error' ? 'warn' : level, message, fields ?? {}),
        }),
    ...(options.leaseDurationMs === undefined ? {} : { leaseDurationMs: options.leaseDurationMs }),
    ...(options.renewDeadlineMs === undefined ? {} : { renewDeadlineMs: options.renewDeadlineMs }),
    ...(options.retryPeriodMs === undefined ? {} : { retryPeriodMs: options.retryPeriodMs }),
  });
  const source = new KubernetesSource({
    kubeConfig,
    namespace: options.namespace,
    clock,
    log: options.log,
    leadership: () => ({ identity, leading: elector.isLeader, leader: elector.leader }),
    // The writer is made below, from this source; details are asked for only once both exist.
    writers: (): Record<string, unknown> => ({ resolveConfigMaps: resolveConfigMapWriter.status() }),
    ...options.source,
  });
  elector.on('started-leading', () => options.log?.('info', 'leading: this replica writes statuses', { identity, lease: `${podNamespace}/${LEASE_NAME}` }));
  elector.on('stopped-leading', () => options.log?.('warn', 'no longer leading: another replica writes statuses', { identity }));
  const statusWriter = new StatusWriter({ source, kubeConfig, leadership: elector, clock, log: options.log });
  const ingressStatusWriter = new IngressStatusWriter({
    source,
    kubeConfig,
    leadership: elector,
    clock,
    gatewayService: { namespace: podNamespace, name: options.gatewayService ?? DEFAULT_GATEWAY_SERVICE },
    log: options.log,
  });
  const resolveConfigMapWriter = new ResolveConfigMapWriter({ source, kubeConfig, leadership: elector, clock, log: options.log });
  return {
    name: 'kubernetes',
    source,
    elector,
    statusWriter,
    ingressStatusWriter,
    resolveConfigMapWriter,
    sources: [source],
    sinks: [statusWriter, resolveConfigMapWriter],
    start: async () => {
      elector.start();
    },
    stop: async () => {
      statusWriter.stop();
      ingressStatusWriter.stop();
      resolveConfigMapWriter.stop();
      await elector.stop();
    },
  };
}

/** In-cluster configuration when running in a pod, else `KUBECONFIG`, else `~/.kube/config` (client-node's own order). */
export function loadKubeConfig(): KubeConfig {
  const kubeConfig = new KubeConfig();
  try {
    kubeConfig.loadFromDefault();
  } catch (error) {
    // A kubeconfig that cannot be read or parsed: say which, in one line.
    const file = process.env.KUBECONFIG ?? '~/.kube/config';
    throw new KubernetesUnavailableError(
      KubernetesUnavailableReason.FAILED,
      `cannot load the Kubernetes configuration (${file}): ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
      { cause: error },
    );
  }
  return kubeConfig;
}
