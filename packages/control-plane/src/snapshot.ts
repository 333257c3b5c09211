import { createHash } from 'node:crypto';
import { assembleMeshConfig, type CrossReferenceIndex, type LocatedResource, type MeshConfig } from '@dubbo-mesh/config';
import { encodeSharedDeltaResponse, encodeSharedResponse, type WireMapping, type WireResource } from '@dubbo-mesh/discovery';
import { encodedResourceEntry, wireKeyOf, wireMappingsOf, wireResourceOf } from './resource-encoding.js';

/**
 * The version of a snapshot: a digest of its resources' keys and versions, in order. Each
 * resource's version is already a digest of its content, so equal content gives an equal
 * version without serialising the whole config again.
 */
function snapshotVersion(resources: readonly WireResource[]): string {
  const hash = createHash('sha256');
  for (const resource of resources) {
    hash.update(wireKeyOf(resource));
    hash.update(` ${resource.version}\n`);
  }
  return hash.digest('hex').slice(0, 16);
}

/** Resource versions by key: what a delta stream's proxy holds. */
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
 * An immutable snapshot (its encoded form is cached on first use): the resources one node receives, in wire form, with an opaque
 * version (compared only for equality). Built only from resources whose cross-references
 * hold (the consistency check runs before anything is published).
 */
export class Snapshot {
  /** Opaque: compared only for equality. */
  readonly version: string;
  readonly resources: readonly WireResource[];
  readonly mappings: readonly WireMapping[];
  readonly counts: SnapshotCounts;
  /** Resource key (`Kind/namespace/name`) → resource. */
  readonly byKey: ReadonlyMap<string, WireResource>;
  /** Resource key → version. */
  readonly versions: ResourceVersions;
  /** The response bytes every stream shares, encoded on first use. */
  private encoded: Buffer | undefined;
  /** Delta responses from older snapshots, encoded once and shared by every stream that held that snapshot. */
  private readonly deltas = new WeakMap<Snapshot, Buffer>();
  private fromNothing: Buffer | undefined;

  private constructor(version: string | undefined, readonly config: MeshConfig, items: readonly LocatedResource[]) {
    // Everything per resource is made once and reused by later snapshots (resource-encoding.ts):
    // a change to one of thousands of resources costs one resource, plus a pass over the list.
    this.resources = Object.freeze(items.map(wireResourceOf));
    this.version = version ?? snapshotVersion(this.resources);
    this.mappings = Object.freeze(config.services.flatMap(wireMappingsOf));
    const byKey = new Map<string, WireResource>();
    const versions = new Map<string, string>();
    for (const resource of this.resources) {
      const key = wireKeyOf(resource);
      byKey.set(key, resource);
      versions.set(key, resource.version);
    }
    this.byKey = byKey;
    this.versions = versions;
    this.counts = Object.freeze({
      services: config.services.length,
      endpoints: config.services.reduce((sum, s) => sum + s.endpoints.length, 0),
      routes: config.routes.length,
      policies: config.policies.length,
      mappings: this.mappings.length,
    });
  }

  /**
   * A delta response (without its nonce) taking a proxy from what it holds — an older
   * snapshot, or resource versions it reported on reconnect — to this snapshot: the
   * resources added or changed, and the keys removed. From a snapshot it is computed and
   * encoded once, however many streams held that snapshot.
   */
  deltaFrom(held: Snapshot | ResourceVersions): Buffer {
    if (held instanceof Snapshot) {
      let encoded = this.deltas.get(held);
      if (encoded === undefined) this.deltas.set(held, (encoded = this.encodeDelta(held.versions)));
      return encoded;
    }
    // A proxy that holds nothing gets everything: the same bytes for every such stream.
    if (held.size === 0) return (this.fromNothing ??= this.encodeDelta(held));
    return this.encodeDelta(held);
  }

  private encodeDelta(held: ResourceVersions): Buffer {
    const changed = this.resources.filter((r) => held.get(wireKeyOf(r)) !== r.version);
    const removed = [...held.keys()].filter((key) => !this.byKey.has(key));
    // The other fields, then each resource's entry as encoded once for every snapshot that has it.
    return Buffer.concat([encodeSharedDeltaResponse({ version_info: this.version, resources: [], removed_resources: removed }), ...changed.map(encodedResourceEntry)]);
  }

  /** The snapshot as a discovery response without its nonce, encoded once (unchanged resources' bytes are reused). */
  get encodedResponse(): Buffer {
    return (this.encoded ??= Buffer.concat([
      encodeSharedResponse({ version_info: this.version, resources: [], mappings: [...this.mappings] }),
      ...this.resources.map(encodedResourceEntry),
    ]));
  }

  /**
   * Check the resources' cross-references and build the snapshot, or return every error.
   * The version is a digest of the content unless one is given. With the index of the
   * previous snapshot's resources, only what changed is checked (the builder keeps one).
   */
  static create(items: readonly LocatedResource[], version?: string, index?: CrossReferenceIndex): { valid: true; snapshot: Snapshot } | { valid: false; errors: string[]; origins: string[] } {
    const assembled = index === undefined ? assembleMeshConfig(items) : index.assemble(items);
    if (!assembled.valid) return assembled;
    return { valid: true, snapshot: new Snapshot(version, assembled.result, items) };
  }
}
