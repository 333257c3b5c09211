import { API_VERSION, validateResource, type LocatedResource } from '@dubbo-mesh/config';
import { DUBBO_PORT_NAME, INTERFACES_ANNOTATION } from './annotations.js';
import { serviceEndpoints, type ClusterObjects, type MappedEndpoints } from './endpoint-mapping.js';
import { objectLabel, record, type KubeObject } from './kube-objects.js';

/** A mesh resource made from Kubernetes objects, or why it could not be. */
export type Mapped =
  | {
      readonly ok: true;
      readonly raw: Record<string, unknown>;
      readonly located: LocatedResource;
      readonly notes: readonly string[];
      readonly pods: readonly string[];
    }
  | { readonly ok: false; readonly errors: readonly string[]; readonly notes: readonly string[]; readonly pods: readonly string[] };

/** Where a mesh resource made from Kubernetes came from: what refusals and the log name. */
export function originOf(kind: string, namespace: string, name: string): string {
  return `kubernetes ${objectLabel(kind, namespace, name)}`;
}

/**
 * A resource as the wire carries it: kind, name, namespace and spec. The rest of the object
 * (resourceVersion, managedFields, status …) changes with every status write and would make a
 * new resource version, and a push, out of nothing.
 */
function wireRaw(kind: string, namespace: string, name: string, spec: unknown): Record<string, unknown> {
  return { apiVersion: API_VERSION, kind, metadata: { name, namespace }, spec };
}

/** Validate a raw resource as a file's is validated; located with its Kubernetes origin. */
export function validated(raw: Record<string, unknown>, origin: string, mapped: Pick<MappedEndpoints, 'notes' | 'pods'> = { notes: [], pods: [] }): Mapped {
  const result = validateResource(raw);
  if (!result.valid) return { ok: false, errors: result.errors, notes: mapped.notes, pods: mapped.pods };
  return { ok: true, raw, located: { resource: result.result, raw, origin }, notes: mapped.notes, pods: mapped.pods };
}

/**
 * A mesh custom resource, validated like a file's document (every error with its field path).
 * Kubernetes' own metadata is accepted and left off the wire. A DubboService without
 * `spec.endpoints` takes the ready endpoints of the Service of the same namespace and name, on
 * the port named `dubbo`, else its `spec.port`.
 */
export function mapCustomResource(object: KubeObject, objects: ClusterObjects): Mapped {
  const kind = object.kind ?? '';
  const namespace = object.metadata?.namespace ?? '';
  const name = object.metadata?.name ?? '';
  const origin = originOf(kind, namespace, name);
  const spec = record(object.spec);
  if (kind !== 'DubboService' || spec === undefined || spec.endpoints !== undefined) return validated(wireRaw(kind, namespace, name, object.spec), origin);
  const port = typeof spec.port === 'number' ? spec.port : undefined;
  const mapped = serviceEndpoints(objects, namespace, name, { name: DUBBO_PORT_NAME, fallbackPort: port });
  return validated(wireRaw(kind, namespace, name, { ...spec, endpoints: mapped.endpoints }), origin, mapped);
}

/**
 * `IFACE[:VERSION[:GROUP]],…` of a Service's `dubbo-mesh.io/interfaces`, as DubboService
 * interfaces; an entry with an empty interface is an error.
 */
export function parseInterfacesAnnotation(value: string): { interfaces: Array<Record<string, string>>; errors: string[] } {
  const interfaces: Array<Record<string, string>> = [];
  const errors: string[] = [];
  for (const [index, entry] of value.split(',').entries()) {
    const trimmed = entry.trim();
    if (trimmed === '' && value.split(',').length > 1) continue; // a trailing comma
    const [iface = '', version, group, ...rest] = trimmed.split(':');
    if (iface === '' || rest.length > 0) {
      errors.push(`entry ${index} ${JSON.stringify(trimmed)} is not IFACE[:VERSION[:GROUP]]`);
      continue;
    }
    const key: Record<string, string> = { interface: iface };
    if (version !== undefined && version !== '') key.version = version;
    if (group !== undefined && group !== '') key.group = group;
    interfaces.push(key);
  }
  return { interfaces, errors };
}

/**
 * A Service annotated `dubbo-mesh.io/interfaces`: a mesh service with no custom resource, named
 * as the Service, with its ready endpoints on the port named `dubbo` (else its only port).
 */
export function mapAnnotatedService(service: KubeObject, objects: ClusterObjects): Mapped | undefined {
  const annotation = service.metadata?.annotations?.[INTERFACES_ANNOTATION];
  if (annotation === undefined) return undefined;
  const namespace = service.metadata?.namespace ?? '';
  const name = service.metadata?.name ?? '';
  const label = objectLabel('Service', namespace, name);
  const parsed = parseInterfacesAnnotation(annotation);
  if (parsed.errors.length > 0)
    return { ok: false, errors: parsed.errors.map((error) => `${label}: metadata.annotations[${INTERFACES_ANNOTATION}]: ${error}`), notes: [], pods: [] };
  const mapped = serviceEndpoints(objects, namespace, name, { name: DUBBO_PORT_NAME, onlyPortFallback: true });
  const result = validated(
    wireRaw('DubboService', namespace, name, { interfaces: parsed.interfaces, endpoints: mapped.endpoints }),
    originOf('Service', namespace, name),
    mapped,
  );
  if (result.ok) return result;
  // Name the Service and its annotation, not a DubboService the user never wrote.
  return { ...result, errors: result.errors.map((error) => `${label} (annotation ${INTERFACES_ANNOTATION}): ${error.slice(error.indexOf(': ') + 2)}`) };
}
