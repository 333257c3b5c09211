import type { Snapshot } from '@dubbo-mesh/control-plane';
import type { EnvoyNode } from './envoy-node.js';

/** One Envoy resource, encoded once and shared by every stream that is sent it. */
export interface EnvoyResource {
  readonly name: string;
  /** Opaque, compared only for equality: a digest of {@link any}. */
  readonly version: string;
  /** The resource as the `Any` a response carries (`encodeAny`). */
  readonly any: Buffer;
}

/** The resources of one type a node may subscribe to. */
export interface EnvoyTypeResources {
  /** One of `TYPE_URLS`. */
  readonly typeUrl: string;
  /** Opaque: a digest of the names and versions, so equal resources have an equal version. */
  readonly version: string;
  readonly byName: ReadonlyMap<string, EnvoyResource>;
}

/** What one node is served from one snapshot. */
export interface EnvoyNodeResources {
  /** The snapshot they were translated from. */
  readonly snapshotVersion: string;
  /** Every type the node may subscribe to (an entry with no resources for a type it has none of). */
  readonly types: ReadonlyMap<string, EnvoyTypeResources>;
  /**
   * What could not be translated for this node, one line each naming the resource and field
   * (`DubboRoute default/r1: spec.routes[0].retries: dubbo_proxy has no retries; Envoy sends
   * each call once`): reported, never silently dropped.
   */
  readonly untranslated: readonly string[];
}

/** Translates a snapshot into what one node is served (see `EnvoyTranslator`). */
export type ResourcesFor = (snapshot: Snapshot, node: EnvoyNode) => EnvoyNodeResources;
