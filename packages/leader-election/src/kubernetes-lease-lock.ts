import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { LeaseApiError, LeaseConflictError, LeaseRequestError } from './errors.js';
import type { LeaseLock, LeaseRecord, LeaseSnapshot } from './lease-lock.js';
import { formatMicroTime, parseMicroTime } from './micro-time.js';

const API_VERSION = 'coordination.k8s.io/v1';

/** Options of a {@link KubernetesLeaseLock}. */
export interface KubernetesLeaseLockOptions {
  /** Labels set on the Lease when this lock creates or writes it (others' labels are kept). */
  labels?: Record<string, string>;
  /** How long one request may take before it fails (default 10000): a hung API server must not stall the election. */
  requestTimeoutMs?: number;
}

/** A Lease object as JSON, as far as this lock reads it; every other field is kept as it was. */
interface LeaseObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name?: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string>; [field: string]: unknown };
  spec?: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number | null;
    acquireTime?: string | null;
    renewTime?: string | null;
    leaseTransitions?: number | null;
    [field: string]: unknown;
  };
  [field: string]: unknown;
}

interface Answer {
  status: number;
  body: string;
}

/**
 * A {@link LeaseLock} on a `coordination.k8s.io/v1` Lease, as client-go's `LeaseLock`: GET to
 * read (404 is "no lease"), POST to create, PUT of the whole object carrying the
 * resourceVersion read to update (409 is a conflict either way). The requests are made here,
 * with the kubeconfig's server, TLS and credentials (`applyToHTTPSOptions`), because the API
 * server takes `acquireTime` and `renewTime` only with exactly six fractional digits and
 * client-node's typed API sends three. The object last read or written is kept, so a PUT keeps
 * the Lease's other fields (labels, annotations, owner references) as they were.
 */
export class KubernetesLeaseLock implements LeaseLock {
  private lease: LeaseObject | undefined;
  private readonly labels: Record<string, string> | undefined;
  private readonly requestTimeoutMs: number;

  constructor(
    private readonly kubeConfig: KubeConfig,
    readonly namespace: string,
    readonly name: string,
    options: KubernetesLeaseLockOptions = {},
  ) {
    this.labels = options.labels;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  }

  /** `namespace/name`. */
  describe(): string {
    return `${this.namespace}/${this.name}`;
  }

  /** GET the Lease; undefined on 404. */
  async get(): Promise<LeaseSnapshot | undefined> {
    const answer = await this.request('GET', this.itemPath());
    if (answer.status === 404) {
      this.lease = undefined;
      return undefined;
    }
    const lease = this.expectLease('GET', answer, [200]);
    this.lease = lease;
    return { record: this.toRecord(lease), version: lease.metadata.resourceVersion as string, raw: lease };
  }

  /** POST a new Lease; 409 (it exists) throws LeaseConflictError. */
  async create(record: LeaseRecord): Promise<string> {
    const body: LeaseObject = {
      apiVersion: API_VERSION,
      kind: 'Lease',
      metadata: { name: this.name, namespace: this.namespace, ...(this.labels === undefined ? {} : { labels: { ...this.labels } }) },
      spec: toSpec(record),
    };
    const answer = await this.request('POST', this.collectionPath(), body);
    if (answer.status === 409) throw new LeaseConflictError(this.describe(), `lease ${this.describe()} already exists`);
    this.lease = this.expectLease('POST', answer, [200, 201]);
    return this.lease.metadata.resourceVersion as string;
  }

  /** PUT the Lease with `record` as its spec at resourceVersion `version`; 409 (stale version) throws LeaseConflictError. */
  async update(record: LeaseRecord, version: string): Promise<string> {
    const base: LeaseObject = this.lease ?? { apiVersion: API_VERSION, kind: 'Lease', metadata: { name: this.name, namespace: this.namespace } };
    const labels = this.labels === undefined ? base.metadata.labels : { ...base.metadata.labels, ...this.labels };
    const body: LeaseObject = {
      ...base,
      apiVersion: API_VERSION,
      kind: 'Lease',
      metadata: { ...base.metadata, name: this.name, namespace: this.namespace, resourceVersion: version, ...(labels === undefined ? {} : { labels }) },
      // The whole spec is ours, as client-go writes it.
      spec: toSpec(record),
    };
    const answer = await this.request('PUT', this.itemPath(), body);
    if (answer.status === 409) throw new LeaseConflictError(this.describe(), `lease ${this.describe()} changed since version ${version}`);
    this.lease = this.expectLease('PUT', answer, [200]);
    return this.lease.metadata.resourceVersion as string;
  }

  private collectionPath(): string {
    return `/apis/${API_VERSION}/namespaces/${encodeURIComponent(this.namespace)}/leases`;
  }

  private itemPath(): string {
    return `${this.collectionPath()}/${encodeURIComponent(this.name)}`;
  }

  private toRecord(lease: LeaseObject): LeaseRecord {
    const spec = lease.spec ?? {};
    const time = (field: 'acquireTime' | 'renewTime'): Date => {
      const text = spec[field];
      // A Lease written without the time (by another client) reads as the epoch, client-go's zero time.
      if (text === undefined || text === null) return new Date(0);
      try {
        return parseMicroTime(text);
      } catch (error) {
        throw new LeaseApiError(this.describe(), 200, `lease ${this.describe()}: spec.${field}: ${(error as Error).message}`, { cause: error });
      }
    };
    return {
      holderIdentity: spec.holderIdentity ?? '',
      leaseDurationSeconds: spec.leaseDurationSeconds ?? 0,
      acquireTime: time('acquireTime'),
      renewTime: time('renewTime'),
      leaseTransitions: spec.leaseTransitions ?? 0,
    };
  }

  private expectLease(method: string, answer: Answer, statuses: number[]): LeaseObject {
    if (!statuses.includes(answer.status)) {
      throw new LeaseApiError(this.describe(), answer.status, `${method} lease ${this.describe()}: HTTP ${answer.status}${statusMessage(answer.body)}`);
    }
    let lease: unknown;
    try {
      lease = JSON.parse(answer.body);
    } catch (error) {
      throw new LeaseApiError(this.describe(), answer.status, `${method} lease ${this.describe()}: the answer is not JSON`, { cause: error });
    }
    const metadata = (lease as LeaseObject | null)?.metadata;
    if (typeof lease !== 'object' || lease === null || typeof metadata !== 'object' || metadata === null || typeof metadata.resourceVersion !== 'string') {
      throw new LeaseApiError(this.describe(), answer.status, `${method} lease ${this.describe()}: the answer is not a Lease with a resourceVersion`);
    }
    return lease as LeaseObject;
  }

  private async request(method: string, path: string, body?: LeaseObject): Promise<Answer> {
    const server = this.kubeConfig.getCurrentCluster()?.server;
    if (server === undefined) throw new LeaseRequestError(this.describe(), `${method} lease ${this.describe()}: the kubeconfig has no current cluster`);
    const url = new URL(server.replace(/\/+$/, '') + path);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const options: https.RequestOptions = { method, headers: { Accept: 'application/json' } };
    if (payload !== undefined) options.headers = { ...options.headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) };
    try {
      // Server CA, client certificate, bearer token (exec and file providers included), proxy agent.
      await this.kubeConfig.applyToHTTPSOptions(options);
    } catch (error) {
      throw new LeaseRequestError(this.describe(), `${method} lease ${this.describe()}: cannot apply the kubeconfig: ${(error as Error).message}`, {
        cause: error,
      });
    }
    options.signal = AbortSignal.timeout(this.requestTimeoutMs);
    const transport = url.protocol === 'http:' ? http : https;
    return new Promise<Answer>((resolve, reject) => {
      const failed = (error: Error): void => reject(new LeaseRequestError(this.describe(), `${method} ${url.href}: ${error.message}`, { cause: error }));
      const request = transport.request(url, options, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        response.on('error', failed);
      });
      request.on('error', failed);
      request.end(payload);
    });
  }
}

/** The Lease spec for `record`, MicroTimes with six fractional digits. */
function toSpec(record: LeaseRecord): NonNullable<LeaseObject['spec']> {
  return {
    holderIdentity: record.holderIdentity,
    leaseDurationSeconds: record.leaseDurationSeconds,
    acquireTime: formatMicroTime(record.acquireTime),
    renewTime: formatMicroTime(record.renewTime),
    leaseTransitions: record.leaseTransitions,
  };
}

/** `: message` of a Kubernetes Status in an error answer, or nothing. */
function statusMessage(body: string): string {
  try {
    const status = JSON.parse(body) as { message?: unknown };
    return typeof status.message === 'string' ? `: ${status.message}` : '';
  } catch {
    return '';
  }
}
