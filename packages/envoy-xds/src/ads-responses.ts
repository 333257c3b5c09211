import { createHash } from 'node:crypto';
import type { AdsSubscription } from './ads-subscription.js';
import { adsServiceDefinition, varint } from './envoy-protos.js';
import type { EnvoyResource, EnvoyTypeResources } from './envoy-resources.js';

/**
 * What a client holds of one type, as a stream knows it: nothing; the resources a
 * subscription covered in a type's resources it ACKed (the usual case, shared by every stream
 * that ACKed the same); or the versions a delta client reported on connecting.
 */
export type AdsHeld =
  | { readonly kind: 'nothing' }
  | { readonly kind: 'view'; readonly resources: EnvoyTypeResources; readonly subscription: AdsSubscription }
  | { readonly kind: 'versions'; readonly versions: ReadonlyMap<string, string> };

/** A client that holds nothing. */
export const HOLDS_NOTHING: AdsHeld = Object.freeze({ kind: 'nothing' });

/** How a response is shaped. */
export type AdsResponseShape =
  /** State of the world, every covered resource (Listener, Cluster: one left out is deleted). */
  | 'sotw-whole'
  /** State of the world, only the covered resources that changed (the other types: one left out is unchanged). */
  | 'sotw-changed'
  /** Delta: the covered resources that changed, and the names removed. */
  | 'delta';

/** One response, without its nonce: the same object for every stream that needs the same. */
export interface AdsResponse {
  /** Every field but the nonce (`PreEncodedXdsResponse`'s shared bytes). */
  readonly bytes: Buffer;
  /** Whether the client would learn anything from it (a stream's first response of a type is sent even without). */
  readonly changes: boolean;
  /** Resources it carries. */
  readonly resources: number;
  /** Names of the resources it adds or changes for the client (a cluster changed needs its endpoints sent again). */
  readonly changedNames: readonly string[];
  /** Names it removes (delta). */
  readonly removed: number;
  /** A digest of what it carries (each resource's name and version, the names removed): equal for the same content. */
  readonly content: string;
}

/** The version the client holds of `name` (undefined: none). */
function heldVersion(held: AdsHeld, name: string): string | undefined {
  switch (held.kind) {
    case 'nothing':
      return undefined;
    case 'view':
      return held.subscription.covers(name) ? held.resources.byName.get(name)?.version : undefined;
    case 'versions':
      return held.versions.get(name);
  }
}

/** Names the client holds a version of. */
function heldNames(held: AdsHeld): Iterable<string> {
  switch (held.kind) {
    case 'nothing':
      return [];
    case 'view': {
      const { resources, subscription } = held;
      return subscription.wildcard ? resources.byName.keys() : [...subscription.names].filter((name) => resources.byName.has(name));
    }
    case 'versions':
      return held.versions.keys();
  }
}

/** Whether the client was already told `name` does not exist (it asked for it by name and it was absent). */
function knownAbsent(held: AdsHeld, name: string): boolean {
  return held.kind === 'view' && held.subscription.names.has(name) && !held.resources.byName.has(name);
}

/**
 * What takes a client from `held` to the resources `subscription` covers in `resources`: the
 * covered resources it does not hold at their version, and the names to remove — those it
 * holds that are gone, and names it asks for that do not exist and it was not told of.
 */
export function diffResources(resources: EnvoyTypeResources, subscription: AdsSubscription, held: AdsHeld): { changed: EnvoyResource[]; removed: string[] } {
  const changed: EnvoyResource[] = [];
  const removed: string[] = [];
  if (held.kind === 'view' && held.resources.version === resources.version && held.subscription.key === subscription.key) {
    return { changed, removed };
  }
  if (subscription.wildcard) {
    for (const resource of resources.byName.values()) if (heldVersion(held, resource.name) !== resource.version) changed.push(resource);
  } else {
    for (const name of subscription.names) {
      const resource = resources.byName.get(name);
      if (resource !== undefined && heldVersion(held, name) !== resource.version) changed.push(resource);
    }
  }
  for (const name of heldNames(held)) if (subscription.covers(name) && !resources.byName.has(name)) removed.push(name);
  for (const name of subscription.names) {
    if (!resources.byName.has(name) && heldVersion(held, name) === undefined && !knownAbsent(held, name)) removed.push(name);
  }
  return { changed, removed };
}

/**
 * Builds and caches ADS responses. A response is encoded once for every stream that needs the
 * same — same type resources, same subscription, holding the same — so a push of one change
 * to a thousand streams costs one diff and one encoding; only the nonce is per stream. Each
 * resource's entry (its `Any`, or its delta `Resource`) is encoded once and reused by every
 * response that carries it. Everything is held weakly by the type resources it came from.
 */
export class AdsResponses {
  private readonly byResources = new WeakMap<EnvoyTypeResources, Map<string, AdsResponse | WeakMap<EnvoyTypeResources, AdsResponse>>>();
  private readonly sotwEntries = new WeakMap<EnvoyResource, Buffer>();
  private readonly deltaEntries = new WeakMap<EnvoyResource, Buffer>();
  private readonly sotwSerialize = adsServiceDefinition().StreamAggregatedResources!.responseSerialize;
  private readonly deltaSerialize = adsServiceDefinition().DeltaAggregatedResources!.responseSerialize;

  /** The response taking a client from `held` to what `subscription` covers in `resources`. */
  response(shape: AdsResponseShape, resources: EnvoyTypeResources, subscription: AdsSubscription, held: AdsHeld): AdsResponse {
    // A client that reported versions on connecting is the only one of its kind: not cached.
    if (held.kind === 'versions') return this.build(shape, resources, subscription, held);
    let bySubscription = this.byResources.get(resources);
    if (bySubscription === undefined) this.byResources.set(resources, (bySubscription = new Map()));
    const key = `${shape}|${subscription.key}|${held.kind === 'view' ? held.subscription.key : ''}`;
    if (held.kind === 'nothing') {
      let response = bySubscription.get(key) as AdsResponse | undefined;
      if (response === undefined) bySubscription.set(key, (response = this.build(shape, resources, subscription, held)));
      return response;
    }
    let byHeld = bySubscription.get(key) as WeakMap<EnvoyTypeResources, AdsResponse> | undefined;
    if (byHeld === undefined) bySubscription.set(key, (byHeld = new WeakMap()));
    let response = byHeld.get(held.resources);
    if (response === undefined) byHeld.set(held.resources, (response = this.build(shape, resources, subscription, held)));
    return response;
  }

  private build(shape: AdsResponseShape, resources: EnvoyTypeResources, subscription: AdsSubscription, held: AdsHeld): AdsResponse {
    const { changed, removed } = diffResources(resources, subscription, held);
    if (shape === 'delta') {
      const head = this.deltaSerialize({ system_version_info: resources.version, type_url: resources.typeUrl, removed_resources: removed });
      return {
        bytes: Buffer.concat([head, ...changed.map((r) => this.deltaEntry(r))]),
        changes: changed.length > 0 || removed.length > 0,
        resources: changed.length,
        changedNames: changed.map((r) => r.name),
        removed: removed.length,
        content: contentDigest(changed, removed),
      };
    }
    const head = this.sotwSerialize({ version_info: resources.version, type_url: resources.typeUrl });
    if (shape === 'sotw-changed') {
      return {
        bytes: Buffer.concat([head, ...changed.map((r) => this.sotwEntry(r))]),
        changes: changed.length > 0,
        resources: changed.length,
        changedNames: changed.map((r) => r.name),
        removed: 0,
        content: contentDigest(changed, []),
      };
    }
    // The whole state: also when only a name asked for turned out absent (the client learns it from its absence).
    const covered = subscription.wildcard ? [...resources.byName.values()] : [...subscription.names].flatMap((name) => resources.byName.get(name) ?? []);
    return {
      bytes: Buffer.concat([head, ...covered.map((r) => this.sotwEntry(r))]),
      changes: changed.length > 0 || removed.length > 0,
      resources: covered.length,
      changedNames: changed.map((r) => r.name),
      removed: 0,
      content: contentDigest(covered, []),
    };
  }

  /** `resources` entry (field 2) of a state-of-the-world response: the resource's `Any`. */
  private sotwEntry(resource: EnvoyResource): Buffer {
    let entry = this.sotwEntries.get(resource);
    if (entry === undefined) {
      entry = Buffer.concat([Buffer.from([0x12]), varint(resource.any.length), resource.any]);
      this.sotwEntries.set(resource, entry);
    }
    return entry;
  }

  /** `resources` entry (field 2) of a delta response: a `Resource` with its name (3), version (1) and `Any` (2). */
  private deltaEntry(resource: EnvoyResource): Buffer {
    let entry = this.deltaEntries.get(resource);
    if (entry === undefined) {
      const message = Buffer.concat([stringField(3, resource.name), stringField(1, resource.version), bytesField(2, resource.any)]);
      entry = bytesField(2, message);
      this.deltaEntries.set(resource, entry);
    }
    return entry;
  }
}

/** A digest of resources' names and versions and of names removed (order-independent). */
function contentDigest(resources: readonly EnvoyResource[], removed: readonly string[]): string {
  const lines = [...resources.map((r) => `+${r.name} ${r.version}`), ...removed.map((name) => `-${name}`)].sort();
  return createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, 32);
}

/** A length-delimited field: its tag, length and bytes. */
function bytesField(field: number, bytes: Buffer): Buffer {
  return Buffer.concat([varint((field << 3) | 2), varint(bytes.length), bytes]);
}

function stringField(field: number, text: string): Buffer {
  return bytesField(field, Buffer.from(text, 'utf8'));
}
