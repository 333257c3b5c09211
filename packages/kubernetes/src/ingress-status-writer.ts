import { NetworkingV1Api, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import type { Clock } from './clock.js';
import { LeaderWriter } from './leader-writer.js';
import { array, record, text, type KubeObject } from './kube-objects.js';
import type { KubernetesSource } from './kubernetes-source.js';
import type { Leadership } from './leadership.js';

/** One address of `status.loadBalancer.ingress`. */
export interface LoadBalancerIngress {
  ip?: string;
  hostname?: string;
}

/**
 * The gateway's addresses, from its Service: the load balancer's (`status.loadBalancer.ingress`),
 * else the Service's `spec.externalIPs`; none when it has neither (a ClusterIP gateway: callers
 * outside the cluster cannot reach it, and nothing is written).
 */
export function gatewayAddresses(service: KubeObject | undefined): LoadBalancerIngress[] {
  const fromBalancer = array(record(record(service?.status)?.loadBalancer)?.ingress)
    .map(record)
    .flatMap((entry): LoadBalancerIngress[] => {
      const ip = text(entry?.ip);
      const hostname = text(entry?.hostname);
      if (ip !== undefined) return [{ ip }];
      return hostname === undefined ? [] : [{ hostname }];
    });
  if (fromBalancer.length > 0) return fromBalancer;
  return array(record(service?.spec)?.externalIPs)
    .map(text)
    .flatMap((ip) => (ip === undefined ? [] : [{ ip }]));
}

/** Options of the Ingress status writer. */
export interface IngressStatusWriterOptions {
  readonly source: KubernetesSource;
  readonly kubeConfig: KubeConfig;
  readonly leadership: Leadership;
  /** The gateway's Service (`--kube-gateway-service`, default `dubbo-mesh-gateway` in the control plane's namespace). */
  readonly gatewayService: { readonly namespace: string; readonly name: string };
  readonly clock?: Clock;
  readonly retryMs?: number;
  readonly log?: (level: 'info' | 'warn', message: string, fields: Record<string, unknown>) => void;
}

/**
 * Writes the gateway's address into `status.loadBalancer.ingress` of every Ingress the gateway
 * serves (SPEC), as ingress controllers do, so `kubectl get ingress` shows where callers outside
 * the cluster connect. Only the leader writes, and only what differs.
 */
export class IngressStatusWriter extends LeaderWriter {
  private readonly api: NetworkingV1Api;
  /** What was last written per Ingress, until the informer shows it (no second write meanwhile). */
  private readonly written = new Map<string, string>();
  writes = 0;

  constructor(private readonly options: IngressStatusWriterOptions) {
    super(options);
    this.api = options.kubeConfig.makeApiClient(NetworkingV1Api);
  }

  protected async pass(): Promise<boolean> {
    const { namespace, name } = this.options.gatewayService;
    const addresses = gatewayAddresses(this.options.source.service(namespace, name));
    if (addresses.length === 0) return false;
    const wanted = JSON.stringify(addresses);
    let failed = false;
    for (const ingress of this.options.source.servedIngresses()) {
      const current = array(record(record(ingress.status)?.loadBalancer)?.ingress).map((entry) => {
        const e = record(entry) ?? {};
        return text(e.ip) !== undefined ? { ip: text(e.ip) } : { hostname: text(e.hostname) };
      });
      const id = `${ingress.metadata?.namespace ?? ''}/${ingress.metadata?.name ?? ''}`;
      if (JSON.stringify(current) === wanted) {
        this.written.delete(id);
        continue;
      }
      if (this.written.get(id) === wanted) continue;
      if (!this.mayWrite) return failed;
      try {
        await this.api.patchNamespacedIngressStatus(
          { name: ingress.metadata?.name ?? '', namespace: ingress.metadata?.namespace ?? '', body: { status: { loadBalancer: { ingress: addresses } } } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
        this.written.set(id, wanted);
        this.writes += 1;
        this.options.log?.('info', 'wrote the gateway address into an Ingress status', { ingress: id, addresses: wanted });
      } catch (error) {
        if ((error as { code?: unknown }).code === 404) continue;
        failed = true;
        this.options.log?.('warn', `cannot write the status of Ingress ${ingress.metadata?.namespace ?? ''}/${ingress.metadata?.name ?? ''}; retrying`, {
          error: error instanceof Error ? error.message.split('\n')[0] : String(error),
        });
      }
    }
    return failed;
  }
}
