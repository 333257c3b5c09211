import { createHash } from 'node:crypto';
import { formatPath, resourceLabel, type FieldPath, type ValidationIssue } from './validate.js';
import type { DubboPolicyConfig, DubboRouteConfig, DubboServiceConfig, MeshResource } from './types.js';

/** A validated set of resources whose cross-references hold: what a snapshot carries. */
export interface MeshConfig {
  readonly services: readonly DubboServiceConfig[];
  readonly routes: readonly DubboRouteConfig[];
  readonly policies: readonly DubboPolicyConfig[];
}

/** A resource with a way to say where one of its fields came from (`file:line: `). */
export interface LocatedResource {
  readonly resource: MeshResource;
  readonly locate?: (path: FieldPath) => string;
  /**
   * The resource as its source gave it (a YAML document as JS), before defaults: what the
   * discovery API sends. Never mutated once handed over: the control plane keeps what it
   * makes from it (wire JSON, version, bytes) by this object, so a source that changes a
   * resource hands a new object.
   */
  readonly raw?: unknown;
  /**
   * Where the resource came from (a file path, for files): a refusal caused by this resource
   * is attributed to it, so the log, `/readyz` and `lastRefusal` name the same place.
   */
  readonly origin?: string;
  /**
   * Present when the resource failed validation: `resource` is then only its best-effort
   * reading, carried so that its cross-references (and those of its neighbours) can be
   * reported together with its field errors. Such a resource is never assembled into config.
   */
  readonly issues?: readonly ValidationIssue[];
}

/** Every cross-reference error of a set of resources, and the resources they are about. */
export interface CrossReferenceReport {
  readonly errors: string[];
  /** The resources with an error, in the order found (each once). */
  readonly offending: LocatedResource[];
}

/** Whether one field path is the other or lies under it. */
function overlaps(a: FieldPath, b: FieldPath): boolean {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The distinct origins of some resources, in order (what a refusal is attributed to). */
export function originsOf(items: readonly LocatedResource[]): string[] {
  return [...new Set(items.flatMap((item) => (item.origin === undefined ? [] : [item.origin])))];
}

function key(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/**
 * Check the cross-references of a set of resources: every destination and policy names a
 * known service, every destination subset is defined by that service's policy, names are
 * unique per kind, and no two services claim the same exact service key. Resources that
 * failed validation (with `issues`) take part as far as they could be read; an error on a
 * field that already has an issue of its own is left out (it would only repeat it).
 */
export function checkCrossReferences(items: readonly LocatedResource[]): CrossReferenceReport {
  const errors: string[] = [];
  const offending = new Set<LocatedResource>();
  const fail = (item: LocatedResource, path: FieldPath, message: string) => {
    if (item.issues?.some((issue) => overlaps(issue.path, path))) return;
    offending.add(item);
    errors.push(`${item.locate?.(path) ?? ''}${resourceLabel(item.resource)}: ${formatPath(path)}: ${message}`);
  };
  const seen = new Map<string, LocatedResource>();
  const services = new Map<string, DubboServiceConfig>();
  const policies = new Map<string, DubboPolicyConfig>();
  for (const item of items) {
    const { kind, metadata } = item.resource;
    const id = `${kind} ${key(metadata.namespace, metadata.name)}`;
    if (seen.has(id)) {
      fail(item, ['metadata', 'name'], 'is defined twice');
      continue;
    }
    seen.set(id, item);
    if (item.resource.kind === 'DubboService') services.set(key(metadata.namespace, metadata.name), item.resource);
  }
  const claimed = new Map<string, string>();
  for (const item of items) {
    const resource = item.resource;
    if (resource.kind === 'DubboService') {
      resource.interfaces.forEach((pattern, i) => {
        const exact = `${resource.metadata.namespace}|${pattern.interface}|${pattern.group ?? '*'}|${pattern.version ?? '*'}`;
        const owner = claimed.get(exact);
        if (owner !== undefined && owner !== resource.metadata.name) {
          fail(item, ['spec', 'interfaces', i], `service key is already provided by DubboService ${owner}`);
        }
        claimed.set(exact, resource.metadata.name);
      });
    } else if (resource.kind === 'DubboPolicy') {
      const serviceKey = key(resource.metadata.namespace, resource.service);
      if (!services.has(serviceKey)) fail(item, ['spec', 'service'], `no DubboService ${JSON.stringify(resource.service)} in namespace ${resource.metadata.namespace}`);
      else if (policies.has(serviceKey)) fail(item, ['spec', 'service'], `service ${resource.service} already has a DubboPolicy`);
      else policies.set(serviceKey, resource);
    }
  }
  for (const item of items) {
    const resource = item.resource;
    if (resource.kind !== 'DubboRoute') continue;
    resource.routes.forEach((rule, i) => {
      rule.destinations.forEach((destination, j) => {
        const serviceKey = key(resource.metadata.namespace, destination.service);
        if (!services.has(serviceKey)) {
          fail(item, ['spec', 'routes', i, 'destinations', j, 'service'], `no DubboService ${JSON.stringify(destination.service)} in namespace ${resource.metadata.namespace}`);
        } else if (destination.subset !== undefined && !policies.get(serviceKey)?.subsets.some((s) => s.name === destination.subset)) {
          fail(item, ['spec', 'routes', i, 'destinations', j, 'subset'], `service ${destination.service} has no subset ${JSON.stringify(destination.subset)} (subsets are defined by its DubboPolicy)`);
        }
      });
    });
  }
  return { errors, offending: [...offending] };
}

/**
 * Check the cross-references of a set of resources (see {@link checkCrossReferences}) and
 * assemble them. Returns every error found, with the origins of the resources at fault; a
 * resource that failed validation makes the set invalid with its own errors too.
 */
export function assembleMeshConfig(items: readonly LocatedResource[]): { valid: true; result: MeshConfig } | { valid: false; errors: string[]; origins: string[] } {
  const unvalidated = items.filter((item) => item.issues !== undefined);
  const own = unvalidated.flatMap((item) => item.issues!.map((issue) => `${item.locate?.(issue.path) ?? ''}${resourceLabel(item.resource)}: ${formatPath(issue.path) || '(root)'}: ${issue.message}`));
  const { errors, offending } = checkCrossReferences(items);
  if (own.length > 0 || errors.length > 0) return { valid: false, errors: [...own, ...errors], origins: originsOf([...unvalidated, ...offending]) };
  const byKind = <K extends MeshResource['kind']>(kind: K) =>
    items.map((i) => i.resource).filter((r): r is Extract<MeshResource, { kind: K }> => r.kind === kind);
  return {
    valid: true,
    result: Object.freeze({ services: Object.freeze(byKind('DubboService')), routes: Object.freeze(byKind('DubboRoute')), policies: Object.freeze(byKind('DubboPolicy')) }),
  };
}

/** An opaque version for a config: a digest of its content, equal for equal configs. */
export function configVersion(config: MeshConfig): string {
  return createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 16);
}
