import type * as grpc from '@grpc/grpc-js';
import {
  PreEncodedResponse,
  encodeSharedDeltaResponse,
  encodeSharedResponse,
  preEncodingServiceDefinition,
  type DeltaDiscoveryRequest,
  type DiscoveryRequest,
} from '@dubbo-mesh/discovery';
import type { DiscoveryView, HeldResources, StreamRequest, Subscription } from './discovery-view.js';
import { encodedResourceEntry, wireKeyOf } from './resource-encoding.js';
import { Snapshot, type ResourceVersions } from './snapshot.js';

/**
 * The dubbo-mesh discovery API (`dubbo_mesh.discovery.v1.SnapshotDiscoveryService`,
 * docs/discovery-api.md) as a view: `StreamSnapshots` sends the whole snapshot,
 * `DeltaSnapshots` what changed since what the proxy holds; both carry every resource type.
 *
 * Everything is encoded once and shared by every stream, so a push to a thousand proxies
 * costs one encoding: the state-of-the-world response once per snapshot; a delta from a held
 * snapshot once per pair of snapshots; a delta to a proxy that holds nothing once per
 * snapshot; each resource's entry once per resource (`resource-encoding.ts`, reused by later
 * snapshots). A type whose version did not change between two snapshots is skipped without
 * looking at its resources. The caches hold snapshots weakly: they go when the snapshots do.
 */
export class DubboMeshDiscoveryView implements DiscoveryView {
  readonly name = 'dubbo-mesh-discovery';
  readonly service: grpc.ServiceDefinition = preEncodingServiceDefinition();
  readonly methods: Readonly<Record<string, Subscription>> = Object.freeze({
    StreamSnapshots: Object.freeze({ mode: 'sotw' }),
    DeltaSnapshots: Object.freeze({ mode: 'delta' }),
  });

  /** State-of-the-world responses, by snapshot. */
  private readonly whole = new WeakMap<Snapshot, Buffer>();
  /** Delta responses by snapshot, then by the snapshot the proxy held. */
  private readonly deltas = new WeakMap<Snapshot, WeakMap<Snapshot, Buffer>>();
  /** Delta responses to a proxy that holds nothing, by snapshot. */
  private readonly fromNothing = new WeakMap<Snapshot, Buffer>();

  readRequest(request: unknown): StreamRequest {
    const wire = request as DiscoveryRequest | DeltaDiscoveryRequest;
    // Only delta requests have the field (proto-loader fills in defaults per message type).
    const initial = 'initial_resource_versions' in wire ? (wire.initial_resource_versions ?? {}) : undefined;
    let versions: ResourceVersions | undefined;
    return {
      node: wire.node,
      versionInfo: wire.version_info,
      responseNonce: wire.response_nonce,
      errorDetail: wire.error_detail ?? null,
      // Made only when read (a stream's first request): not on every ACK.
      get initialResourceVersions() {
        if (initial !== undefined) versions ??= new Map(Object.entries(initial));
        return versions;
      },
    };
  }

  versionOf(snapshot: Snapshot): string {
    return snapshot.version;
  }

  response(snapshot: Snapshot, subscription: Subscription, held: HeldResources): Buffer {
    return subscription.mode === 'sotw' ? this.stateOfTheWorld(snapshot) : this.delta(snapshot, held);
  }

  message(response: Buffer, nonce: string): unknown {
    return new PreEncodedResponse(response, nonce);
  }

  /** The snapshot as a discovery response without its nonce, encoded once (unchanged resources' bytes are reused). */
  stateOfTheWorld(snapshot: Snapshot): Buffer {
    let encoded = this.whole.get(snapshot);
    if (encoded === undefined) {
      encoded = Buffer.concat([
        encodeSharedResponse({ version_info: snapshot.version, resources: [], mappings: [...snapshot.mappings] }),
        ...snapshot.resources.map(encodedResourceEntry),
      ]);
      this.whole.set(snapshot, encoded);
    }
    return encoded;
  }

  /**
   * A delta response (without its nonce) taking a proxy from what it holds — an older
   * snapshot, or resource versions it reported on reconnect — to `snapshot`: the resources
   * added or changed, and the keys removed. From a snapshot it is computed and encoded once,
   * however many streams held that snapshot.
   */
  delta(snapshot: Snapshot, held: HeldResources): Buffer {
    if (held instanceof Snapshot) {
      let fromHeld = this.deltas.get(snapshot);
      if (fromHeld === undefined) this.deltas.set(snapshot, (fromHeld = new WeakMap()));
      let encoded = fromHeld.get(held);
      if (encoded === undefined) fromHeld.set(held, (encoded = this.deltaFromSnapshot(snapshot, held)));
      return encoded;
    }
    // A proxy that holds nothing gets everything: the same bytes for every such stream.
    if (held.size === 0) {
      let encoded = this.fromNothing.get(snapshot);
      if (encoded === undefined) this.fromNothing.set(snapshot, (encoded = this.deltaFromVersions(snapshot, held)));
      return encoded;
    }
    return this.deltaFromVersions(snapshot, held);
  }

  /** From an older snapshot: types with the same version on both sides are skipped whole. */
  private deltaFromSnapshot(snapshot: Snapshot, held: Snapshot): Buffer {
    const changed: Buffer[] = [];
    const removed: string[] = [];
    for (const [type, typed] of snapshot.types) {
      const before = held.types.get(type);
      if (before?.version === typed.version) continue;
      for (const resource of typed.resources) {
        if (before?.byKey.get(wireKeyOf(resource))?.version !== resource.version) changed.push(encodedResourceEntry(resource));
      }
    }
    for (const [type, before] of held.types) {
      const now = snapshot.types.get(type);
      if (now?.version === before.version) continue;
      for (const key of before.byKey.keys()) if (now?.byKey.has(key) !== true) removed.push(key);
    }
    return this.encodeDelta(snapshot, changed, removed);
  }

  /** From the resource versions a proxy reported (or none). */
  private deltaFromVersions(snapshot: Snapshot, held: ResourceVersions): Buffer {
    const changed = snapshot.resources.filter((r) => held.get(wireKeyOf(r)) !== r.version).map(encodedResourceEntry);
    const removed = [...held.keys()].filter((key) => !snapshot.byKey.has(key));
    return this.encodeDelta(snapshot, changed, removed);
  }

  /** The other fields, then each resource's entry as encoded once for every snapshot that has it. */
  private encodeDelta(snapshot: Snapshot, changed: readonly Buffer[], removed: string[]): Buffer {
    return Buffer.concat([encodeSharedDeltaResponse({ version_info: snapshot.version, resources: [], removed_resources: removed }), ...changed]);
  }
}
