import { createHash } from 'node:crypto';
import { targetOf } from './kind-definition.js';
import { kindDefinition, kindDefinitions } from './kind-registry.js';
import { formatPath, resourceLabel, type FieldPath, type ValidationIssue } from './validate.js';
import type { DubboIngressConfig, DubboPluginConfig, DubboPolicyConfig, DubboRouteConfig, DubboRuleConfig, DubboServiceConfig, MeshResource } from './types.js';

/** A validated set of resources whose cross-references hold: what a snapshot carries. */
export interface MeshConfig {
  readonly services: readonly DubboServiceConfig[];
  readonly routes: readonly DubboRouteConfig[];
  readonly policies: readonly DubboPolicyConfig[];
  /** Routes by target application (none: every call is routed by its service key). */
  readonly ingresses: readonly DubboIngressConfig[];
  /** Dubbo governance rules (condition, tag, override), applied by proxies after routing. */
  readonly rules: readonly DubboRuleConfig[];
  /** Plugins on the call path (gRPC services or in-process modules), run by proxies and gateways for the calls they select. */
  readonly plugins: readonly DubboPluginConfig[];
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
  /**
   * A DubboService that joins the DubboService of the same namespace and name from another
   * source, if there is one (the registry bridge's imports: an application whose instances are
   * half in the registry, half in the mesh): the snapshot builder adds its endpoints and
   * interfaces to that service's. Without such a twin it stands alone.
   */
  readonly mergeable?: boolean;
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

/**
 * Check the cross-references of a set of resources, as their kinds declare them: names are
 * unique per kind; then, in order, each resource's claims (an exact service key, the one policy
 * of a service, a target application — each held by one resource, after what the claim requires
 * exists); then each resource's references (a destination's service, and its subset once the service exists).
 * Resources that failed validation (with `issues`) take part as far as they could be read; an
 * error on a field that already has an issue of its own is left out (it would only repeat it).
 */
export function checkCrossReferences(items: readonly LocatedResource[]): CrossReferenceReport {
  const errors: string[] = [];
  const offending = new Set<LocatedResource>();
  const fail = (item: LocatedResource, path: FieldPath, message: string) => {
    if (item.issues?.some((issue) => overlaps(issue.path, path))) return;
    offending.add(item);
    errors.push(`${item.locate?.(path) ?? ''}${resourceLabel(item.resource)}: ${formatPath(path)}: ${message}`);
  };
  const provided = new Set<string>();
  for (const item of items) {
    const id = targetOf(item.resource.kind, item.resource.metadata);
    if (provided.has(id)) fail(item, ['metadata', 'name'], 'is defined twice');
    provided.add(id);
  }
  const holders = new Map<string, string | undefined>();
  for (const item of items) {
    for (const claim of kindDefinition(item.resource.kind)?.claims?.(item.resource) ?? []) {
      if (claim.requires !== undefined && !provided.has(claim.requires.target)) {
        fail(item, claim.requires.path, claim.requires.missing);
        continue;
      }
      if (holders.has(claim.token)) {
        const holder = holders.get(claim.token);
        if (claim.owner === undefined || holder !== claim.owner) {
          fail(item, claim.path, claim.conflict(holder ?? ''));
          continue;
        }
      }
      holders.set(claim.token, claim.owner);
      for (const target of claim.provides ?? []) provided.add(target);
    }
  }
  for (const item of items) {
    for (const reference of kindDefinition(item.resource.kind)?.references?.(item.resource) ?? []) {
      if (reference.after !== undefined && !provided.has(reference.after.target)) continue;
      if (!provided.has(reference.target)) fail(item, reference.path, reference.missing);
    }
  }
  return { errors, offending: [...offending] };
}

/** The assembled config of a valid set, grouped by the kinds' config keys in the order of its items. */
export function configOf(items: readonly LocatedResource[]): MeshConfig {
  const groups: Record<string, MeshResource[]> = {};
  for (const definition of kindDefinitions()) groups[definition.configKey] = [];
  for (const { resource } of items) groups[kindDefinition(resource.kind)!.configKey]!.push(resource);
  for (const group of Object.values(groups)) Object.freeze(group);
  return Object.freeze(groups) as unknown as MeshConfig;
}

/**
 * Check the cross-references of a set of resources (see {@link checkCrossReferences}) and
 * assemble them. Returns every error found, with the origins of the resources at fault; a
 * resource that failed validation makes the set invalid with its own errors too.
 */
export function assembleMeshConfig(
  items: readonly LocatedResource[],
): { valid: true; result: MeshConfig } | { valid: false; errors: string[]; origins: string[] } {
  const unvalidated = items.filter((item) => item.issues !== undefined);
  const own = unvalidated.flatMap((item) =>
    item.issues!.map((issue) => `${item.locate?.(issue.path) ?? ''}${resourceLabel(item.resource)}: ${formatPath(issue.path) || '(root)'}: ${issue.message}`),
  );
  const { errors, offending } = checkCrossReferences(items);
  if (own.length > 0 || errors.length > 0) return { valid: false, errors: [...own, ...errors], origins: originsOf([...unvalidated, ...offending]) };
  return { valid: true, result: configOf(items) };
}

/** An opaque version for a config: a digest of its content, equal for equal configs. */
export function configVersion(config: MeshConfig): string {
  return createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 16);
}
