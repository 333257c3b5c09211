import { createHash } from 'node:crypto';
import { assembleMeshConfig, kindDefinition, kindNames, validateResource, type LocatedResource, type MeshConfig } from '@dubbo-mesh/config';
import type { WireMapping, WireResource } from './api.js';

/** A resource as its source gave it: what a client validates again with the file rules. */
function sourceForm(item: LocatedResource): unknown {
  if (item.raw === undefined) {
    throw new Error(
      `${item.resource.kind} ${item.resource.metadata.namespace}/${item.resource.metadata.name} has no source form to send (a source must keep LocatedResource.raw)`,
    );
  }
  return item.raw;
}

/** A resource's version: a digest of its JSON. */
export function resourceVersion(json: string): string {
  return createHash('sha256').update(json).digest('hex').slice(0, 16);
}

/** The wire resources of a set of located resources. */
export function toWireResources(items: readonly LocatedResource[]): WireResource[] {
  return items.map((item) => {
    const json = JSON.stringify(sourceForm(item));
    return { kind: item.resource.kind, namespace: item.resource.metadata.namespace, name: item.resource.metadata.name, json, version: resourceVersion(json) };
  });
}

/**
 * The service-key → service mapping the DubboServices of a config define. Only the services are
 * read: a caller with one service passes just that (other kinds, as DubboIngress, map no key).
 */
export function toWireMappings(config: Pick<MeshConfig, 'services'> & Partial<MeshConfig>): WireMapping[] {
  return config.services.flatMap((service) =>
    service.interfaces.map((pattern) => ({
      interface: pattern.interface,
      group: pattern.group ?? '',
      version: pattern.version ?? '',
      service: `${service.metadata.namespace}/${service.metadata.name}`,
    })),
  );
}

/**
 * Validate wire resources with the rules of a config file, then their cross-references. Every
 * error names the resource (`resources[i] Kind ns/name`) and field. Unlike a file, what this
 * version does not know is accepted with a warning (version skew: a newer control plane must
 * not make older proxies NACK during a rollout): a field it does not know is ignored, and so is
 * a resource of a kind it does not know. Each warning names the resource and the field path.
 */
export function fromWireResources(
  resources: readonly WireResource[],
): { valid: true; result: MeshConfig; warnings: string[] } | { valid: false; errors: string[] } {
  const errors: string[] = [];
  const warnings: string[] = [];
  const located: LocatedResource[] = [];
  resources.forEach((wire, i) => {
    const where = `resources[${i}] ${wire.kind} ${wire.namespace}/${wire.name}`;
    if (kindDefinition(wire.kind) === undefined) {
      warnings.push(`${where}: kind: unknown kind, resource ignored (this proxy knows: ${kindNames().join(', ')})`);
      return;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(wire.json);
    } catch (error) {
      errors.push(`${where}: json: not JSON (${(error as Error).message})`);
      return;
    }
    const result = validateResource(raw, { unknownFields: 'warn' });
    for (const warning of result.warnings ?? []) warnings.push(`${where}: ${warning}`);
    if (!result.valid) {
      for (const message of result.errors) errors.push(`${where}: ${message}`);
      return;
    }
    located.push({ resource: result.result, raw, locate: () => `resources[${i}]: ` });
  });
  if (errors.length > 0) return { valid: false, errors };
  const assembled = assembleMeshConfig(located);
  return assembled.valid ? { valid: true, result: assembled.result, warnings } : { valid: false, errors: assembled.errors };
}
