import { DEFAULT_INGRESS_CLASS_ANNOTATION, INGRESS_CLASS, INGRESS_CONTROLLER, LEGACY_INGRESS_CLASS_ANNOTATION } from './annotations.js';
import { serviceEndpoints, type ClusterObjects, type RawEndpoint } from './endpoint-mapping.js';
import { array, objectLabel, record, text, type KubeObject } from './kube-objects.js';
import { originOf, validated, type Mapped } from './resource-mapping.js';
import { API_VERSION } from '@dubbo-mesh/config';

/** The IngressClasses, as far as deciding an Ingress's class needs them. */
export interface IngressClasses {
  /** An IngressClass by name. */
  get(name: string): KubeObject | undefined;
  /** Every IngressClass. */
  all(): readonly KubeObject[];
}

/**
 * Whether the mesh's gateway serves an Ingress (SPEC): `spec.ingressClassName` names an
 * IngressClass whose `spec.controller` is `dubbo-mesh.io/gateway` (or, with no such IngressClass
 * object, is `dubbo` itself); else the legacy annotation `kubernetes.io/ingress.class: dubbo`;
 * an Ingress that names no class is served when the cluster's default IngressClass is ours.
 */
export function servedByGateway(ingress: KubeObject, classes: IngressClasses): boolean {
  const className = text(record(ingress.spec)?.ingressClassName);
  if (className !== undefined) {
    const ingressClass = classes.get(className);
    if (ingressClass === undefined) return className === INGRESS_CLASS;
    return record(ingressClass.spec)?.controller === INGRESS_CONTROLLER;
  }
  const legacy = ingress.metadata?.annotations?.[LEGACY_INGRESS_CLASS_ANNOTATION];
  if (legacy !== undefined) return legacy === INGRESS_CLASS;
  return classes.all().some((c) => record(c.spec)?.controller === INGRESS_CONTROLLER && c.metadata?.annotations?.[DEFAULT_INGRESS_CLASS_ANNOTATION] === 'true');
}

/** What an Ingress's mapping read: its backend Services (an event on one, or its slices, changes the result). */
export interface IngressBackends {
  readonly services: string[];
}

/**
 * An Ingress of class dubbo as a DubboIngress: each rule's `host` is a target application, its
 * backends' ready endpoints (every path of the rule counts: their endpoints are joined) the
 * service behind it. Rules without a host cannot be named by a `target-application` and are
 * noted; `spec.defaultBackend` is noted too (a call naming no host goes by its service key).
 */
export function mapIngress(ingress: KubeObject, objects: ClusterObjects): Mapped & IngressBackends {
  const namespace = ingress.metadata?.namespace ?? '';
  const name = ingress.metadata?.name ?? '';
  const label = objectLabel('Ingress', namespace, name);
  const spec = record(ingress.spec) ?? {};
  const notes: string[] = [];
  const pods: string[] = [];
  const services: string[] = [];
  const rules: Array<Record<string, unknown>> = [];
  if (spec.defaultBackend !== undefined)
    notes.push(`${label}: spec.defaultBackend is not used: a call names its target application, or goes by its service key`);
  for (const [index, rule] of array(spec.rules).map(record).entries()) {
    const host = text(rule?.host);
    if (host === undefined || host === '') {
      notes.push(`${label}: spec.rules[${index}] has no host: no target-application can name it`);
      continue;
    }
    if (host.includes('*')) {
      notes.push(
        `${label}: spec.rules[${index}].host ${JSON.stringify(host)} is a wildcard: a target-application names one application, so the rule is left out`,
      );
      continue;
    }
    const byAddress = new Map<string, RawEndpoint>();
    let first: { service: string; port?: number } | undefined;
    for (const [pathIndex, path] of array(record(rule?.http)?.paths).map(record).entries()) {
      const backend = record(record(path?.backend)?.service);
      const serviceName = text(backend?.name);
      const port = record(backend?.port);
      if (serviceName === undefined || port === undefined) {
        notes.push(`${label}: spec.rules[${index}].http.paths[${pathIndex}] has no service backend`);
        continue;
      }
      services.push(`${namespace}/${serviceName}`);
      const choice = typeof port.number === 'number' ? { servicePort: port.number } : { name: text(port.name) ?? '' };
      const mapped = serviceEndpoints(objects, namespace, serviceName, choice);
      notes.push(...mapped.notes.map((note) => `${label}: ${note}`));
      pods.push(...mapped.pods);
      for (const endpoint of mapped.endpoints) byAddress.set(endpoint.address, endpoint);
      first ??= { service: serviceName, ...(typeof port.number === 'number' ? { port: port.number } : {}) };
    }
    if (first === undefined) continue;
    const endpoints = [...byAddress.values()].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
    rules.push({ host, ...first, endpoints });
  }
  if (rules.length === 0)
    return { ok: false, errors: [`${label}: has no rule with a host and a service backend: the gateway has nothing to serve`], notes, pods, services };
  const raw = { apiVersion: API_VERSION, kind: 'DubboIngress', metadata: { name, namespace }, spec: { rules } };
  return { ...validated(raw, originOf('Ingress', namespace, name), { notes, pods }), services };
}
