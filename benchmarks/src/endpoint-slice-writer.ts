// The EndpointSlice controller's writes for one Service, as the benchmark plays that
// controller: it keeps the Service's slices as it last wrote them and replaces a whole slice
// (PUT on its resourceVersion) for each change — an endpoint's conditions, an endpoint gone,
// an endpoint added to a slice with room (≤ 100 endpoints), as the real controller does.
import { kubePaths, type KubeApiClient, type KubeObjectJson } from './kube-api-client.js';
import { MAX_ENDPOINTS_PER_SLICE, NAMESPACE, SERVICE_NAME_LABEL } from './kube-bench-cluster.js';

type Endpoint = Record<string, unknown> & { targetRef?: { name?: string }; conditions?: Record<string, unknown> };

/** The slices of one Service, written one change at a time. */
export class EndpointSliceWriter {
  private constructor(
    private readonly api: KubeApiClient,
    private readonly slices: Map<string, KubeObjectJson>,
  ) {}

  /** The Service's slices as the API server has them now. */
  static async load(api: KubeApiClient, service: string): Promise<EndpointSliceWriter> {
    const items = await api.list(kubePaths.slices(NAMESPACE), `${SERVICE_NAME_LABEL}=${service}`);
    if (items.length === 0) throw new Error(`Service ${service} has no EndpointSlice`);
    return new EndpointSliceWriter(api, new Map(items.map((slice) => [slice.metadata.name, slice])));
  }

  /** Every endpoint of every slice. */
  endpoints(): Endpoint[] {
    return [...this.slices.values()].flatMap((slice) => (slice.endpoints ?? []) as Endpoint[]);
  }

  /** Set the conditions of the pod's endpoint. */
  async setConditions(pod: string, conditions: { ready: boolean; serving: boolean; terminating: boolean }): Promise<void> {
    const [name, endpoints, at] = this.find(pod);
    const next = [...endpoints];
    next[at] = { ...endpoints[at]!, conditions };
    await this.write(name, next);
  }

  /** Remove the pod's endpoint (its pod is gone). */
  async remove(pod: string): Promise<void> {
    const [name, endpoints, at] = this.find(pod);
    await this.write(
      name,
      endpoints.filter((_, i) => i !== at),
    );
  }

  /** Add an endpoint to the first slice with room. */
  async add(endpoint: Record<string, unknown>): Promise<void> {
    for (const [name, slice] of this.slices) {
      const endpoints = (slice.endpoints ?? []) as Endpoint[];
      if (endpoints.length < MAX_ENDPOINTS_PER_SLICE) return this.write(name, [...endpoints, endpoint]);
    }
    throw new Error('every EndpointSlice is full (the benchmark removes an endpoint before it adds one)');
  }

  private find(pod: string): [string, Endpoint[], number] {
    for (const [name, slice] of this.slices) {
      const endpoints = (slice.endpoints ?? []) as Endpoint[];
      const at = endpoints.findIndex((endpoint) => endpoint.targetRef?.name === pod);
      if (at >= 0) return [name, endpoints, at];
    }
    throw new Error(`no endpoint of pod ${pod} in the Service's slices`);
  }

  private async write(name: string, endpoints: Endpoint[]): Promise<void> {
    const slice = this.slices.get(name)!;
    // The whole slice on the resourceVersion last read: a conflict (409) would throw.
    const written = await this.api.replace(kubePaths.slice(NAMESPACE, name), { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', ...slice, endpoints });
    this.slices.set(name, written);
  }
}
