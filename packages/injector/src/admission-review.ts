// The admission.k8s.io/v1 AdmissionReview as the webhook reads and answers it, and the parts of
// a Pod the injector reads. Parsing checks the shape of every field the injector later reads,
// so the injection code can trust its types, and a malformed body is one
// BadAdmissionReviewError naming the field (→ HTTP 400), never a TypeError inside the handler.

import { BadAdmissionReviewError } from './errors.js';

/** The API version and kind of the review, in the request and in the response. */
export const ADMISSION_REVIEW_API_VERSION = 'admission.k8s.io/v1';
export const ADMISSION_REVIEW_KIND = 'AdmissionReview';

/** An environment variable of a container (`value` or `valueFrom`). */
export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: Record<string, unknown>;
  [field: string]: unknown;
}

/** A port of a container. */
export interface ContainerPort {
  name?: string;
  containerPort?: number;
  protocol?: string;
  [field: string]: unknown;
}

/** A volume mount of a container. */
export interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  [field: string]: unknown;
}

/** A container (or init container) of a Pod, as far as the injector reads it; other fields are kept as they are. */
export interface PodContainer {
  name: string;
  image?: string;
  ports?: ContainerPort[];
  env?: EnvVar[];
  envFrom?: unknown[];
  volumeMounts?: VolumeMount[];
  restartPolicy?: string;
  [field: string]: unknown;
}

/** A volume of a Pod. */
export interface PodVolume {
  name: string;
  [field: string]: unknown;
}

/** A Pod as far as the injector reads it; fields it does not read are kept as they are. */
export interface PodObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    generateName?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [field: string]: unknown;
  };
  spec: {
    containers: PodContainer[];
    initContainers?: PodContainer[];
    volumes?: PodVolume[];
    hostNetwork?: boolean;
    restartPolicy?: string;
    /** The pod's OS (`linux`, `windows`), which decides what a container may set. */
    os?: { name?: string; [field: string]: unknown };
    nodeSelector?: Record<string, string>;
    [field: string]: unknown;
  };
  [field: string]: unknown;
}

/** The operations an admission request can be for. */
export type AdmissionOperation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

/** What the webhook needs from a well-formed review of a Pod. */
export interface ParsedAdmissionReview {
  /** The review's `apiVersion` and `kind`, which the response copies. */
  readonly apiVersion: string;
  readonly kind: string;
  /** `request.uid`, which the response copies. */
  readonly uid: string;
  /** `request.operation`: an {@link AdmissionOperation} from an API server; `''` when absent (only a CREATE is checked further). */
  readonly operation: string;
  /** `request.subResource` (`ephemeralcontainers`, `exec`, `eviction`…); `''` for the Pod itself. */
  readonly subResource: string;
  /** `request.namespace`, else the pod's `metadata.namespace`, else `default`. */
  readonly namespace: string;
  /** The pod's name, else `generateName` + `…` (a Deployment's pod has no name yet at admission), for messages. */
  readonly podName: string;
  /** `request.object` for a CREATE of the Pod itself; undefined for any other review. */
  readonly pod: PodObject | undefined;
  /** `request.dryRun`. */
  readonly dryRun: boolean;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function fail(field: string, problem: string): never {
  throw new BadAdmissionReviewError(field, problem);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return typeof value === 'object' ? 'an object' : `${typeof value} ${String(value)}`;
}

/**
 * `body` as an `admission.k8s.io/v1` AdmissionReview. For a CREATE of a Pod itself (the core
 * group's `Pod` kind, no subresource), every field the injector reads is checked for its type.
 * Any other review (an UPDATE, a `kubectl debug` on `pods/ephemeralcontainers`, a CONNECT on
 * `pods/exec`, a CREATE on `pods/eviction`…) is checked only for the review's `apiVersion`,
 * `kind` and `request.uid`, which the response needs: the injector allows it unchanged, so a
 * webhook configured wider than it should be never refuses what the injector does not inject.
 * @throws BadAdmissionReviewError naming the first field that is missing or wrong.
 */
export function parseAdmissionReview(body: unknown): ParsedAdmissionReview {
  if (!isRecord(body)) fail('', `the body is ${describe(body)}, not a JSON object`);
  if (body.apiVersion !== ADMISSION_REVIEW_API_VERSION) fail('apiVersion', `is ${describe(body.apiVersion)}, not ${ADMISSION_REVIEW_API_VERSION}`);
  if (body.kind !== ADMISSION_REVIEW_KIND) fail('kind', `is ${describe(body.kind)}, not ${ADMISSION_REVIEW_KIND}`);
  const request = body.request;
  if (!isRecord(request)) fail('request', request === undefined ? 'missing' : `is ${describe(request)}, not an object`);
  if (typeof request.uid !== 'string' || request.uid === '')
    fail('request.uid', request.uid === undefined ? 'missing' : `is ${describe(request.uid)}, not a UID`);
  const dryRun = request.dryRun === true;
  const operation = typeof request.operation === 'string' ? request.operation : '';
  const subResource = typeof request.subResource === 'string' ? request.subResource : request.subResource === undefined ? '' : describe(request.subResource);
  const requestName = typeof request.name === 'string' && request.name !== '' ? request.name : '(unnamed)';
  const header = { apiVersion: body.apiVersion, kind: body.kind, uid: request.uid, operation, subResource, dryRun };
  // Only a CREATE of the Pod itself is injected: nothing else of another review is read.
  if (operation !== 'CREATE' || subResource !== '') {
    const namespace = typeof request.namespace === 'string' && request.namespace !== '' ? request.namespace : 'default';
    return { ...header, namespace, podName: requestName, pod: undefined };
  }
  const kind = request.kind;
  if (!isRecord(kind)) fail('request.kind', kind === undefined ? 'missing' : `is ${describe(kind)}, not an object`);
  if ((kind.group ?? '') !== '' || kind.kind !== 'Pod') {
    fail('request.kind', `is ${[kind.group, kind.version, kind.kind].filter((part) => typeof part === 'string' && part !== '').join('/')}, not a Pod`);
  }
  if (request.namespace !== undefined && typeof request.namespace !== 'string') fail('request.namespace', `is ${describe(request.namespace)}, not a string`);
  const pod = parsePod(request.object, 'request.object');
  const namespace = (request.namespace as string | undefined) || pod.metadata?.namespace || 'default';
  const podName = pod.metadata?.name || (pod.metadata?.generateName ? `${pod.metadata.generateName}…` : undefined) || requestName;
  return { ...header, namespace, podName, pod };
}

/** `value` as a Pod, its read fields checked; `path` names it in messages. */
export function parsePod(value: unknown, path: string): PodObject {
  if (!isRecord(value)) fail(path, value === undefined ? 'missing' : `is ${describe(value)}, not an object`);
  if (value.kind !== undefined && value.kind !== 'Pod') fail(`${path}.kind`, `is ${describe(value.kind)}, not Pod`);
  if (value.apiVersion !== undefined && value.apiVersion !== 'v1') fail(`${path}.apiVersion`, `is ${describe(value.apiVersion)}, not v1`);
  const metadata = value.metadata;
  if (metadata !== undefined) {
    if (!isRecord(metadata)) fail(`${path}.metadata`, `is ${describe(metadata)}, not an object`);
    for (const field of ['name', 'generateName', 'namespace'] as const) {
      if (metadata[field] !== undefined && typeof metadata[field] !== 'string')
        fail(`${path}.metadata.${field}`, `is ${describe(metadata[field])}, not a string`);
    }
    for (const field of ['labels', 'annotations'] as const) checkStringMap(metadata[field], `${path}.metadata.${field}`);
  }
  const spec = value.spec;
  if (!isRecord(spec)) fail(`${path}.spec`, spec === undefined ? 'missing' : `is ${describe(spec)}, not an object`);
  if (!Array.isArray(spec.containers))
    fail(`${path}.spec.containers`, spec.containers === undefined ? 'missing' : `is ${describe(spec.containers)}, not an array`);
  spec.containers.forEach((container, index) => checkContainer(container, `${path}.spec.containers[${index}]`));
  if (spec.initContainers !== undefined) {
    if (!Array.isArray(spec.initContainers)) fail(`${path}.spec.initContainers`, `is ${describe(spec.initContainers)}, not an array`);
    spec.initContainers.forEach((container, index) => checkContainer(container, `${path}.spec.initContainers[${index}]`));
  }
  if (spec.volumes !== undefined) {
    if (!Array.isArray(spec.volumes)) fail(`${path}.spec.volumes`, `is ${describe(spec.volumes)}, not an array`);
    spec.volumes.forEach((volume, index) => {
      if (!isRecord(volume) || typeof volume.name !== 'string') fail(`${path}.spec.volumes[${index}]`, 'is not an object with a string name');
    });
  }
  if (spec.hostNetwork !== undefined && typeof spec.hostNetwork !== 'boolean')
    fail(`${path}.spec.hostNetwork`, `is ${describe(spec.hostNetwork)}, not a boolean`);
  if (spec.restartPolicy !== undefined && typeof spec.restartPolicy !== 'string')
    fail(`${path}.spec.restartPolicy`, `is ${describe(spec.restartPolicy)}, not a string`);
  if (spec.os !== undefined) {
    if (!isRecord(spec.os)) fail(`${path}.spec.os`, `is ${describe(spec.os)}, not an object`);
    if (spec.os.name !== undefined && typeof spec.os.name !== 'string') fail(`${path}.spec.os.name`, `is ${describe(spec.os.name)}, not a string`);
  }
  checkStringMap(spec.nodeSelector, `${path}.spec.nodeSelector`);
  return value as PodObject;
}

function checkStringMap(value: unknown, path: string): void {
  if (value === undefined) return;
  if (!isRecord(value)) fail(path, `is ${describe(value)}, not an object`);
  for (const [key, entry] of Object.entries(value))
    if (typeof entry !== 'string') fail(`${path}[${JSON.stringify(key)}]`, `is ${describe(entry)}, not a string`);
}

function checkContainer(value: unknown, path: string): void {
  if (!isRecord(value)) fail(path, `is ${describe(value)}, not an object`);
  if (typeof value.name !== 'string') fail(`${path}.name`, value.name === undefined ? 'missing' : `is ${describe(value.name)}, not a string`);
  if (value.restartPolicy !== undefined && typeof value.restartPolicy !== 'string')
    fail(`${path}.restartPolicy`, `is ${describe(value.restartPolicy)}, not a string`);
  checkArray(value.ports, `${path}.ports`, (port, at) => {
    if (!isRecord(port)) fail(at, `is ${describe(port)}, not an object`);
    if (port.name !== undefined && typeof port.name !== 'string') fail(`${at}.name`, `is ${describe(port.name)}, not a string`);
    if (port.containerPort !== undefined && typeof port.containerPort !== 'number')
      fail(`${at}.containerPort`, `is ${describe(port.containerPort)}, not a number`);
    if (port.protocol !== undefined && typeof port.protocol !== 'string') fail(`${at}.protocol`, `is ${describe(port.protocol)}, not a string`);
  });
  checkArray(value.env, `${path}.env`, (env, at) => {
    if (!isRecord(env)) fail(at, `is ${describe(env)}, not an object`);
    if (typeof env.name !== 'string') fail(`${at}.name`, env.name === undefined ? 'missing' : `is ${describe(env.name)}, not a string`);
    if (env.value !== undefined && typeof env.value !== 'string') fail(`${at}.value`, `is ${describe(env.value)}, not a string`);
    if (env.valueFrom !== undefined && !isRecord(env.valueFrom)) fail(`${at}.valueFrom`, `is ${describe(env.valueFrom)}, not an object`);
  });
  checkArray(value.envFrom, `${path}.envFrom`, () => undefined);
  checkArray(value.volumeMounts, `${path}.volumeMounts`, (mount, at) => {
    if (!isRecord(mount) || typeof mount.name !== 'string' || typeof mount.mountPath !== 'string')
      fail(at, 'is not an object with a string name and mountPath');
  });
}

function checkArray(value: unknown, path: string, check: (element: unknown, path: string) => void): void {
  if (value === undefined) return;
  if (!Array.isArray(value)) fail(path, `is ${describe(value)}, not an array`);
  value.forEach((element, index) => check(element, `${path}[${index}]`));
}

/** The `status` of a refusal, as the API server shows it to the client (`admission webhook … denied the request: MESSAGE`). */
export interface AdmissionStatus {
  readonly code: number;
  readonly reason?: string;
  readonly message: string;
}

/** An `admission.k8s.io/v1` AdmissionReview response: what the webhook sends back with HTTP 200. */
export interface AdmissionReviewResponse {
  readonly apiVersion: string;
  readonly kind: string;
  readonly response: {
    readonly uid: string;
    readonly allowed: boolean;
    readonly status?: AdmissionStatus;
    readonly patchType?: 'JSONPatch';
    /** The JSON Patch, base64 (the API server decodes a byte slice from base64). */
    readonly patch?: string;
    readonly warnings?: string[];
  };
}

/** The response to `review`: `allowed`, and a patch (JSON text, sent base64), a refusal status and warnings when given. */
export function admissionResponse(
  review: Pick<ParsedAdmissionReview, 'apiVersion' | 'kind' | 'uid'>,
  answer: { allowed: boolean; patch?: unknown[]; status?: AdmissionStatus; warnings?: readonly string[] },
): AdmissionReviewResponse {
  return {
    apiVersion: review.apiVersion,
    kind: review.kind,
    response: {
      uid: review.uid,
      allowed: answer.allowed,
      ...(answer.status === undefined ? {} : { status: answer.status }),
      ...(answer.patch === undefined || answer.patch.length === 0
        ? {}
        : { patchType: 'JSONPatch' as const, patch: Buffer.from(JSON.stringify(answer.patch)).toString('base64') }),
      ...(answer.warnings === undefined || answer.warnings.length === 0 ? {} : { warnings: [...answer.warnings] }),
    },
  };
}
