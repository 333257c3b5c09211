import type { DubboPluginConfig, PluginFailurePolicy, PluginPhase } from '@dubbo-mesh/config';
import type { SnapshotBuilder } from './snapshot-builder.js';
import type { ConfigSource } from './source.js';

/** One DubboPlugin as `GET /api/v1/plugins` lists it. */
export interface PluginStatus {
  /** `DubboPlugin namespace/name`. */
  readonly resource: string;
  /** The source's name (`file:/etc/mesh`, `kubernetes`, …). */
  readonly source: string;
  /** Where it is: a file, a custom resource. */
  readonly origin: string | null;
  /** The interfaces it selects (`*` wildcards); null: every call. Also null when the object could not be read. */
  readonly services: readonly string[] | null;
  /** `request`, `response`; null when the object could not be read. */
  readonly phases: readonly PluginPhase[] | null;
  /** Lower runs first (ties by `namespace/name`); null when the object could not be read. */
  readonly order: number | null;
  /** Passed to the plugin as is. */
  readonly tag: string | null;
  /** What is called: a gRPC service (`address`) or an in-process module (`path`); null when the object could not be read. */
  readonly kind: 'grpc' | 'module' | null;
  /** A gRPC plugin's `host:port`, as written; null otherwise. */
  readonly address: string | null;
  /** A module plugin's path on the proxy's file system; null otherwise. */
  readonly path: string | null;
  /** The deadline of each call to the plugin. */
  readonly timeoutMs: number | null;
  readonly failurePolicy: PluginFailurePolicy | null;
  readonly circuitBreaker: { readonly consecutiveFailures: number; readonly openForMs: number } | null;
  /**
   * `in-force` (in the snapshot: proxies run it), `refused` (not in force: its errors say why;
   * an earlier valid version may be in force, then listed as well).
   */
  readonly state: 'in-force' | 'refused';
  readonly errors: readonly string[];
  /** For a refused object: whether its last valid version is in force meanwhile (also listed, `in-force`); null otherwise. */
  readonly lastValidInForce: boolean | null;
}

function describe(
  plugin: DubboPluginConfig,
): Pick<PluginStatus, 'services' | 'phases' | 'order' | 'tag' | 'kind' | 'address' | 'path' | 'timeoutMs' | 'failurePolicy' | 'circuitBreaker'> {
  return {
    services: plugin.services === undefined ? null : [...plugin.services],
    phases: [...plugin.phases],
    order: plugin.order,
    tag: plugin.tag,
    kind: plugin.grpc !== undefined ? 'grpc' : 'module',
    address: plugin.grpc?.address ?? null,
    path: plugin.grpc === undefined ? (plugin.module ?? null) : null,
    timeoutMs: plugin.grpc?.timeoutMs ?? plugin.timeoutMs,
    failurePolicy: plugin.failurePolicy,
    circuitBreaker: { consecutiveFailures: plugin.circuitBreaker.consecutiveFailures, openForMs: plugin.circuitBreaker.openForMs },
  };
}

/** `namespace/name` of an entry's resource (what ties on `order` are broken by). */
function nameOf(status: PluginStatus): string {
  return status.resource.slice(status.resource.indexOf(' ') + 1);
}

/**
 * Every plugin the control plane knows: those of the snapshot in force (with their source and
 * origin), those a source has that the merge refused (a name defined twice across sources), and
 * the objects sources could not read as plugins (invalid documents or custom resources), each
 * with its errors. Sorted as proxies run them: by `order`, then `namespace/name` (compared as
 * strings, code unit by code unit); a refused entry sorts by its own order, else by the order of
 * its version in force, else last, and after the version in force of the same name.
 */
export function pluginStatuses(builder: SnapshotBuilder, sources: readonly ConfigSource[]): PluginStatus[] {
  const out: PluginStatus[] = [];
  for (const { source, item, inForce, errors } of builder.resourcesOfKind('DubboPlugin')) {
    const plugin = item.resource as DubboPluginConfig;
    out.push({
      resource: `DubboPlugin ${plugin.metadata.namespace}/${plugin.metadata.name}`,
      source,
      origin: item.origin ?? null,
      ...describe(plugin),
      state: inForce ? 'in-force' : 'refused',
      errors,
      lastValidInForce: null,
    });
  }
  // A refused object whose resource is in force (its last valid version) says so, whatever its source knows.
  const inForceOrder = new Map(out.filter((status) => status.state === 'in-force').map((status) => [status.resource, status.order]));
  for (const source of sources) {
    for (const rejected of source.rejectedResources?.() ?? []) {
      if (rejected.kind !== 'DubboPlugin') continue;
      const resource = `${rejected.kind} ${rejected.name}`;
      out.push({
        resource,
        source: source.name,
        origin: rejected.origin,
        services: null,
        phases: null,
        order: null,
        tag: null,
        kind: null,
        address: null,
        path: null,
        timeoutMs: null,
        failurePolicy: null,
        circuitBreaker: null,
        state: 'refused',
        errors: rejected.errors,
        lastValidInForce: rejected.lastValidInForce || inForceOrder.has(resource),
      });
    }
  }
  const sortOrder = (status: PluginStatus) => status.order ?? inForceOrder.get(status.resource) ?? Number.POSITIVE_INFINITY;
  // Array.prototype.sort is stable: entries equal on every key keep the sources' order.
  return out.sort((a, b) => {
    const byOrder = sortOrder(a) - sortOrder(b);
    if (byOrder !== 0 && !Number.isNaN(byOrder)) return byOrder;
    const [nameA, nameB] = [nameOf(a), nameOf(b)];
    if (nameA !== nameB) return nameA < nameB ? -1 : 1;
    return (a.state === 'in-force' ? 0 : 1) - (b.state === 'in-force' ? 0 : 1);
  });
}
