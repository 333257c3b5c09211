import { resourceKey, toWireMappings, toWireResources, type WireMapping, type WireResource } from '@dubbo-mesh/discovery';
import type { DubboServiceConfig, LocatedResource } from '@dubbo-mesh/config';

/**
 * Per-resource work a snapshot reuses from the snapshots before it. A source hands the same
 * `raw` object again for a resource whose text did not change (the YAML cache keeps it), so
 * its wire form (JSON and version digest) and its protobuf bytes are made once, not on every
 * snapshot: a change to one of five thousand services serialises one service.
 */
const wireByRaw = new WeakMap<object, WireResource>();
const encodedByWire = new WeakMap<WireResource, Buffer>();
const keyByWire = new WeakMap<WireResource, string>();
const mappingsByService = new WeakMap<DubboServiceConfig, readonly WireMapping[]>();

/** A wire resource's key (`Kind/namespace/name`), made once per wire resource. */
export function wireKeyOf(resource: WireResource): string {
  let key = keyByWire.get(resource);
  if (key === undefined) keyByWire.set(resource, (key = resourceKey(resource)));
  return key;
}

/** The service-key mappings one service defines, made once per validated service. */
export function wireMappingsOf(service: DubboServiceConfig): readonly WireMapping[] {
  let mappings = mappingsByService.get(service);
  if (mappings === undefined)
    mappingsByService.set(service, (mappings = Object.freeze(toWireMappings({ services: [service], routes: [], policies: [] }).map((m) => Object.freeze(m)))));
  return mappings;
}

/** The wire form of a resource, made once per `raw` object. */
export function wireResourceOf(item: LocatedResource): WireResource {
  const raw = item.raw;
  if (typeof raw !== 'object' || raw === null) return toWireResources([item])[0]!;
  let wire = wireByRaw.get(raw);
  // The same raw object under another name cannot happen with a source's cache; checked anyway.
  if (
    wire === undefined ||
    wire.kind !== item.resource.kind ||
    wire.name !== item.resource.metadata.name ||
    wire.namespace !== item.resource.metadata.namespace
  ) {
    wire = Object.freeze(toWireResources([item])[0]!);
    wireByRaw.set(raw, wire);
  }
  return wire;
}

function varint(value: number, out: number[]): void {
  while (value > 0x7f) {
    out.push((value & 0x7f) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
}

/** One length-delimited field: tag, length, bytes. */
function field(number: number, bytes: Buffer): Buffer {
  const head: number[] = [];
  varint((number << 3) | 2, head);
  varint(bytes.length, head);
  return Buffer.concat([Buffer.from(head), bytes]);
}

/**
 * A resource as field 3 (`repeated Resource resources = 3`) of a DiscoveryResponse or a
 * DeltaDiscoveryResponse — the same field in both — encoded once per wire resource.
 * Protobuf concatenates repeated fields, so a response is its other fields followed by
 * these entries: only changed resources are encoded again. Byte for byte what the
 * discovery package's encoder writes for the same resource (a test holds it to that).
 */
export function encodedResourceEntry(resource: WireResource): Buffer {
  let encoded = encodedByWire.get(resource);
  if (encoded === undefined) {
    const body = Buffer.concat([
      field(1, Buffer.from(resource.kind, 'utf8')),
      field(2, Buffer.from(resource.namespace, 'utf8')),
      field(3, Buffer.from(resource.name, 'utf8')),
      field(4, Buffer.from(resource.json, 'utf8')),
      field(5, Buffer.from(resource.version, 'utf8')),
    ]);
    encoded = field(3, body);
    encodedByWire.set(resource, encoded);
  }
  return encoded;
}
