import type { DubboRuleConfig } from '@dubbo-mesh/config';
import type { SnapshotBuilder } from './snapshot-builder.js';
import type { ConfigSource } from './source.js';

/** One Dubbo governance rule as `GET /api/v1/rules` lists it. */
export interface RuleStatus {
  /** `DubboRule namespace/name`, or the object's name at its source when it could not be read. */
  readonly resource: string;
  /** `condition`, `tag`, `override`; null when the document could not be read. */
  readonly kind: string | null;
  readonly scope: string | null;
  /** The canonical key: `interface:version:group` or an application. */
  readonly key: string | null;
  readonly configVersion: string | null;
  readonly enabled: boolean | null;
  /** The source's name (`file`, `kubernetes`, `zookeeper-rules`, …). */
  readonly source: string;
  /** Where it is: a file, a custom resource, a ZooKeeper path. */
  readonly origin: string | null;
  /**
   * `in-force` (in the snapshot and enabled), `disabled` (in the snapshot with `enabled: false`),
   * `refused` (not in force: its errors say why; an earlier valid version may be in force,
   * then listed as well).
   */
  readonly state: 'in-force' | 'disabled' | 'refused';
  readonly errors: readonly string[];
  /** For a refused object: whether its last valid version is in force meanwhile (also listed, `in-force`); null otherwise. */
  readonly lastValidInForce: boolean | null;
}

/**
 * Every rule the control plane knows: those of the snapshot in force (with their source and
 * origin), those a source has that the merge refused (a second rule for one key), and the
 * objects sources could not read as rules (invalid documents), each with its errors.
 */
export function ruleStatuses(builder: SnapshotBuilder, sources: readonly ConfigSource[]): RuleStatus[] {
  const out: RuleStatus[] = [];
  for (const { source, item, inForce, errors } of builder.resourcesOfKind('DubboRule')) {
    const resource = item.resource as DubboRuleConfig;
    const rule = resource.rule;
    out.push({
      resource: `DubboRule ${resource.metadata.namespace}/${resource.metadata.name}`,
      kind: rule.kind,
      scope: rule.scope,
      key: rule.key,
      configVersion: rule.configVersion,
      enabled: rule.enabled,
      source,
      origin: item.origin ?? null,
      state: !inForce ? 'refused' : rule.enabled ? 'in-force' : 'disabled',
      errors,
      lastValidInForce: null,
    });
  }
  // A refused object whose resource is in force (its last valid version) says so, whatever its source knows.
  const inForce = new Set(out.filter((status) => status.state !== 'refused').map((status) => status.resource));
  for (const source of sources) {
    for (const rejected of source.rejectedResources?.() ?? []) {
      if (rejected.kind !== 'DubboRule') continue;
      out.push({
        resource: `${rejected.kind} ${rejected.name}`,
        kind: null,
        scope: null,
        key: null,
        configVersion: null,
        enabled: null,
        source: source.name,
        origin: rejected.origin,
        state: 'refused',
        errors: rejected.errors,
        lastValidInForce: rejected.lastValidInForce || inForce.has(`${rejected.kind} ${rejected.name}`),
      });
    }
  }
  return out;
}
