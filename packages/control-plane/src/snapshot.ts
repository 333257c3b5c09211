import { assembleMeshConfig, configVersion, type LocatedResource, type MeshConfig } from '@dubbo-mesh/config';
import { encodeSharedResponse, toWireMappings, toWireResources, type WireMapping, type WireResource } from '@dubbo-mesh/discovery';

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
  readonly resources: readonly WireResource[];
  readonly mappings: readonly WireMapping[];
  readonly counts: SnapshotCounts;
  /** The response bytes every stream shares, encoded on first use. */
  private encoded: Buffer | undefined;

  private constructor(readonly version: string, readonly config: MeshConfig, items: readonly LocatedResource[]) {
    this.resources = Object.freeze(toWireResources(items));
    this.mappings = Object.freeze(toWireMappings(config));
    this.counts = Object.freeze({
      services: config.services.length,
      endpoints: config.services.reduce((sum, s) => sum + s.endpoints.length, 0),
      routes: config.routes.length,
      policies: config.policies.length,
      mappings: this.mappings.length,
    });
  }

  /** The snapshot as a discovery response without its nonce, encoded once. */
  get encodedResponse(): Buffer {
    return (this.encoded ??= encodeSharedResponse({ version_info: this.version, resources: [...this.resources], mappings: [...this.mappings] }));
  }

  /**
   * Check the resources' cross-references and build the snapshot, or return every error.
   * The version is a digest of the content unless one is given.
   */
  static create(items: readonly LocatedResource[], version?: string): { valid: true; snapshot: Snapshot } | { valid: false; errors: string[] } {
    const assembled = assembleMeshConfig(items);
    if (!assembled.valid) return assembled;
    return { valid: true, snapshot: new Snapshot(version ?? configVersion(assembled.result), assembled.result, items) };
  }
}
