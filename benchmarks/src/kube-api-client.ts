// What the Kubernetes benchmark writes to the API server, as the cluster's controllers and the
// kubelet write it: plain HTTP requests (fetch, a kept-alive connection) with the API server's
// verbs — POST a Pod, PUT an EndpointSlice on its resourceVersion, merge-PATCH a Pod's status,
// DELETE a Pod. Any answer but 2xx throws: a benchmark whose writes fail measures nothing.

/** A JSON object as the API server returns it. */
export type KubeObjectJson = { metadata: { name: string; resourceVersion?: string } & Record<string, unknown> } & Record<string, unknown>;

/** A request the API server refused. */
export class KubeApiRequestError extends Error {
  readonly code = 'KUBE_API_REQUEST_FAILED';
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    body: string,
  ) {
    super(`${method} ${path} answered ${status}: ${body.slice(0, 300)}`);
  }
}

/** Paths of the namespaced objects the benchmark writes. */
export const kubePaths = {
  pods: (namespace: string) => `/api/v1/namespaces/${namespace}/pods`,
  pod: (namespace: string, name: string) => `/api/v1/namespaces/${namespace}/pods/${name}`,
  podStatus: (namespace: string, name: string) => `/api/v1/namespaces/${namespace}/pods/${name}/status`,
  slices: (namespace: string) => `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices`,
  slice: (namespace: string, name: string) => `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices/${name}`,
} as const;

/** A minimal client of the API server at `url`, counting its writes. */
export class KubeApiClient {
  /** Writes answered (POST, PUT, PATCH, DELETE). */
  writes = 0;

  constructor(private readonly url: string) {}

  async get(path: string): Promise<KubeObjectJson> {
    return (await this.request('GET', path)) as KubeObjectJson;
  }

  /** The items of a list, with a label selector. */
  async list(path: string, labelSelector: string): Promise<KubeObjectJson[]> {
    const list = (await this.request('GET', `${path}?labelSelector=${encodeURIComponent(labelSelector)}`)) as { items: KubeObjectJson[] };
    return list.items;
  }

  async create(path: string, body: unknown): Promise<KubeObjectJson> {
    return (await this.request('POST', path, body)) as KubeObjectJson;
  }

  async replace(path: string, body: unknown): Promise<KubeObjectJson> {
    return (await this.request('PUT', path, body)) as KubeObjectJson;
  }

  async mergePatch(path: string, patch: unknown): Promise<KubeObjectJson> {
    return (await this.request('PATCH', path, patch, 'application/merge-patch+json')) as KubeObjectJson;
  }

  async delete(path: string): Promise<void> {
    await this.request('DELETE', path);
  }

  private async request(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<unknown> {
    const response = await fetch(`${this.url}${path}`, {
      method,
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'Content-Type': contentType } }),
    });
    const text = await response.text();
    if (!response.ok) throw new KubeApiRequestError(method, path, response.status, text);
    if (method !== 'GET') this.writes += 1;
    return JSON.parse(text) as unknown;
  }
}
