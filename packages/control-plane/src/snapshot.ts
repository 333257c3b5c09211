import { createHash } from 'node:crypto';
import { assembleMeshConfig, type CrossReferenceIndex, type LocatedResource, type MeshConfig } from '@dubbo-mesh/config';
import type { WireMapping, WireResource } from '@dubbo-mesh/discovery';
import { wireKeyOf, wireMappingsOf, wireResourceOf } from './resource-encoding.js';

/** Resource versions by key (`Kind/namespace/name`): what a delta stream's proxy holds. */
export type ResourceVersions = ReadonlyMap<string, string>;

/** Resource counts of a snapshot, for the admin API. */
export interface SnapshotCounts {
  services: number;
  endpoints: number;
  routes: number;
  policies: number;
  mappings: number;
}

/**
 * The resources of one type in a snapshot (go-control-plane's per-type resources): in the
 * order their sources gave them, with a version of their own, so a view or a sink can tell
 * at once that a type did not change between two snapshots and skip it.
 */
export interface TypedResources {
  /** The type name (`DubboService`, `DubboRoute`, `DubboPolicy`, …: the resource kind). */
  readonly type: string;
  /** Opaque, compared only for equality: a digest of this type's resources' keys and versions. */
  readonly version: string;
  readonly resources: readonly WireResource[];
  /** Resource key → resource. */
  readonly byKey: ReadonlyMap<string, WireResource>;
}

/**
 * A digest of named versions (`name version` lines), shortened: versions are compared only
 * for equality. Each resource's version is already a digest of its content, so equal
 * content gives an equal version without serialising the whole config again.
 */
function digest<T>(items: Iterable<T>, name: (item: T) => string, version: (item: T) => string): string {
  const hash = createHash('sha256');
  for (const item of items) {
    hash.update(name(item));
    hash.update(` ${version(item)}\n`);
  }
  return hash.digest('hex').slice(0, 16);
}

/**
 * An immutable snapshot: the resources one node receives, grouped by type, each type with a
 * version, and an overall version (all opaque, compared only for equality). Built only from
 * resources whose cross-references hold (the consistency check runs before anything is
 * published). It knows nothing of any wire API: views encode it (see
 * `discovery-view.ts`); what it keeps is what makes them cheap — each resource's wire form
 * (JSON and version digest), made once per resource and reused by later snapshots
 * (`resource-encoding.ts`).
 */
export class Snapshot {
  /** Opaque: compared only for equality. A digest of the type versions, so equal content gives an equal version. */
  readonly version: string;
  /** Resources by type name, types in the order they first appear. */
  readonly types: ReadonlyMap<string, TypedResources>;
  /** Every resource, type after type (the order of {@link types}: by type name). */
  readonly resources: readonly WireResource[];
  /** The service-key mappings (interface, group, version → service) the services define. */
  readonly mappings: readonly WireMapping[];
  readonly counts: SnapshotCounts;
  /** Resource key (`Kind/namespace/name`) → resource, over every type. */
  readonly byKey: ReadonlyMap<string, WireResource>;
  /** Resource key → version, over every type. */
  readonly versions: ResourceVersions;

  private constructor(
    version: string | undefined,
    readonly config: MeshConfig,
    items: readonly LocatedResource[],
  ) {
    // Everything per resource is made once and reused by later snapshots (resource-encoding.ts):
    // a change to one of thousands of resources costs one resource, plus a pass over the list.
    const grouped = new Map<string, WireResource[]>();
    const byKey = new Map<string, WireResource>();
    const versions = new Map<string, string>();
    for (const item of items) {
      const resource = wireResourceOf(item);
      let list = grouped.get(resource.kind);
      if (list === undefined) grouped.set(resource.kind, (list = []));
      list.push(resource);
      const key = wireKeyOf(resource);
      byKey.set(key, resource);
      versions.set(key, resource.version);
    }
    const types = new Map<string, TypedResources>();
    // Types in name order: the same resources give the same versions whichever kind a source listed first.
    for (const [type, resources] of [...grouped].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const typeByKey = new Map<string, WireResource>();
      for (const resource of resources) typeByKey.set(wireKeyOf(resource), resource);
      const typeVersion = digest(resources, wireKeyOf, (r) => r.version);
      types.set(type, Object.freeze({ type, version: typeVersion, resources: Object.freeze(resources), byKey: typeByKey }));
    }
    this.types = types;
    this.resources = Object.freeze([...types.values()].flatMap((typed) => typed.resources));
    this.version =
      version ??
      digest(
        types.values(),
        (typed) => typed.type,
        (typed) => typed.version,
      );
    this.byKey = byKey;
    this.versions = versions;
    this.mappings = Object.freeze(config.services.flatMap(wireMappingsOf));
    this.counts = Object.freeze({
      services: config.services.length,
      endpoints: config.services.reduce((sum, s) => sum + s.endpoints.length, 0),
      routes: config.routes.length,
      policies: config.policies.length,
      mappings: this.mappings.length,
    });
    Object.freeze(this);
  }

  /** The resources of one type (none if the snapshot has no resource of that type). */
  resourcesOf(type: string): readonly WireResource[] {
    return this.types.get(type)?.resources ?? [];
  }

  /** The version of one type's resources; undefined when the snapshot has none of that type. */
  typeVersion(type: string): string | undefined {
    return this.types.get(type)?.version;
  }

  /**
   * Check the resources' cross-references and build the snapshot, or return every error.
   * The version is a digest of the content unless one is given. With the index of the
   * previous snapshot's resources, only what changed is checked (the builder keeps one).
   */
  static create(
    items: readonly LocatedResource[],
    version?: string,
    index?: CrossReferenceIndex,
  ): { valid: true; snapshot: Snapshot } | { valid: false; errors: string[]; origins: string[] } {
    const assembled = index === undefined ? assembleMeshConfig(items) : index.assemble(items);
    if (!assembled.valid) return assembled;
    return { valid: true, snapshot: new Snapshot(version, assembled.result, items) };
  }
}
