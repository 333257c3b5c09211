import { createHash } from 'node:crypto';
import type { StringMatch } from '@dubbo-mesh/config';
import { encodeAny } from './envoy-protos.js';
import type { EnvoyResource, EnvoyTypeResources } from './envoy-resources.js';

/**
 * What the translation shares: names as the contract gives them, protobuf shapes written the
 * way proto-loader reads them (field names as in the .proto, enums by name, wrappers as
 * `{ value }`), and the encoding of one resource with its version.
 */

/** Something translated, with what of its source could not be: one line each, naming the resource and field. */
export interface Translation<T> {
  readonly value: T;
  readonly untranslated: readonly string[];
}

/** A plain protobuf object as proto-loader writes it. */
export type ProtoObject = Record<string, unknown>;

/** A mesh service `namespace/name` as Envoy names it (cluster, EDS service, proxyless listener and routes): `name.namespace`. */
export function envoyServiceName(namespace: string, name: string): string {
  return `${name}.${namespace}`;
}

/** The cluster (and load assignment) of one subset of a service, for proxyless clients: `name.namespace|subset`. */
export function envoySubsetName(serviceName: string, subset: string): string {
  return `${serviceName}|${subset}`;
}

/** A config source that says "over the ADS stream this node already has", as xDS v3 wants it. */
export const ADS_CONFIG_SOURCE: ProtoObject = Object.freeze({ ads: {}, resource_api_version: 'V3' });

/** Milliseconds as a `google.protobuf.Duration`. */
export function duration(ms: number): ProtoObject {
  const whole = Math.floor(ms);
  return { seconds: String(Math.floor(whole / 1000)), nanos: (whole % 1000) * 1_000_000 };
}

/** A `google.protobuf.UInt32Value`. */
export function uint32(value: number): ProtoObject {
  return { value: Math.max(0, Math.min(0xffffffff, Math.round(value))) };
}

/**
 * A `google.protobuf.Struct` of strings (labels as endpoint or route metadata). protobufjs
 * reads the well-known Struct and Value from its own definitions, whose field names are in
 * camel case whatever `keepCase` says: `stringValue`, not `string_value` (which it would drop).
 */
export function stringStruct(labels: Readonly<Record<string, string>>): ProtoObject {
  const fields: Record<string, ProtoObject> = {};
  for (const key of Object.keys(labels).sort()) fields[key] = { stringValue: labels[key] };
  return { fields };
}

/** `config.core.v3.Metadata` with the labels under `envoy.lb`: what endpoint subsets are matched on. */
export function lbMetadata(labels: Readonly<Record<string, string>>): ProtoObject {
  return { filter_metadata: { 'envoy.lb': stringStruct(labels) } };
}

/** A StringMatcher that holds for any value (RE2, full match). */
export const ANY_STRING: ProtoObject = Object.freeze({ safe_regex: { regex: '.*' } });

/**
 * Regular-expression syntax RE2 (Envoy's and gRPC's `safe_regex`) refuses while JavaScript
 * takes it: lookaround, backreferences and possessive or atomic forms. A pattern with one is
 * reported, never sent: one pattern Envoy cannot compile makes it refuse the whole resource.
 */
const NOT_RE2 = /\(\?[=!]|\(\?<[=!]|\\[1-9]|\\k<|\(\?>|[*+?}][+]/;

/**
 * A JavaScript pattern, which our proxy tests as a search (`RegExp.test`), as a full-match RE2
 * pattern with the same meaning: `.*` around it unless it is anchored there (`^…`, `…$`),
 * `any` standing for what may come before and after (`.*`, or `[^/]*` inside a gRPC path).
 * Undefined when RE2 cannot take it, or an anchor is inside (`a|^b`): then it is reported.
 */
export function fullMatchRegex(pattern: string, any = '.*'): string | undefined {
  if (NOT_RE2.test(pattern)) return undefined;
  let body = pattern;
  const start = body.startsWith('^');
  if (start) body = body.slice(1);
  const end = body.endsWith('$') && !body.endsWith('\\$');
  if (end) body = body.slice(0, -1);
  // An anchor left inside (not escaped, not a class's negation) would not mean what it does in a search.
  if (/(^|[^\\[])[\^$]/.test(body)) return undefined;
  return `${start ? '' : any}(?:${body})${end ? '' : any}`;
}

/** A literal as an RE2 pattern. */
export function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Our `{exact|prefix|regex}` as Envoy's `type.matcher.v3.StringMatcher`; undefined when the
 * regex cannot be sent (see {@link fullMatchRegex}).
 */
export function stringMatcher(match: StringMatch): ProtoObject | undefined {
  if ('exact' in match) return { exact: match.exact };
  if ('prefix' in match) return { prefix: match.prefix };
  const regex = fullMatchRegex(match.regex);
  return regex === undefined ? undefined : { safe_regex: { regex } };
}

/** A field path as messages write it: `spec.routes[0].match[1]`. */
export function fieldPath(...parts: Array<string | number>): string {
  let out = '';
  for (const part of parts) out += typeof part === 'number' ? `[${part}]` : out === '' ? part : `.${part}`;
  return out;
}

/** `Kind namespace/name` as messages name a resource. */
export function resourceLabel(kind: string, metadata: { readonly namespace: string; readonly name: string }): string {
  return `${kind} ${metadata.namespace}/${metadata.name}`;
}

/** A short digest: versions are compared only for equality. */
export function digest(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex').slice(0, 16);
}

/** Encode one resource as the `Any` a response carries, its version a digest of those bytes. */
export function encodeResource(typeUrl: string, name: string, resource: ProtoObject): EnvoyResource {
  const any = encodeAny(typeUrl, resource);
  return Object.freeze({ name, version: digest(any), any });
}

/**
 * The resources of one type with their version: a digest of the `name version` lines, in the
 * order given (the config's, the same for the same config; sorting ten thousand names per
 * snapshot would cost more than the rare resend of a reordered but equal set). With the
 * previous value for the same type, the same resources (the same objects) give that same
 * object back without a digest, and an equal version gives it back too.
 */
export function typeResources(typeUrl: string, resources: readonly EnvoyResource[], previous?: EnvoyTypeResources): EnvoyTypeResources {
  if (previous !== undefined && previous.typeUrl === typeUrl && previous.byName.size === resources.length) {
    let same = true;
    for (const resource of resources) {
      if (previous.byName.get(resource.name) !== resource) {
        same = false;
        break;
      }
    }
    if (same) return previous;
  }
  const byName = new Map<string, EnvoyResource>();
  const lines: string[] = [];
  for (const resource of resources) {
    byName.set(resource.name, resource);
    lines.push(`${resource.name} ${resource.version}`);
  }
  // One digest over the joined lines: one call into the hash, not one per resource.
  const version = digest(lines.join('\n'));
  if (previous !== undefined && previous.typeUrl === typeUrl && previous.version === version) return previous;
  return Object.freeze({ typeUrl, version, byName });
}

/** An encoded resource and the lines of what it could not carry. */
export interface CachedResource {
  readonly resource: EnvoyResource;
  readonly untranslated: readonly string[];
  /** The key of its content in the cache, kept alive with it (see {@link cachedResource}). */
  readonly contentKey: string;
}

/**
 * Encoded resources kept across snapshots, by a key of their inputs. Each entry remembers the
 * last generation (snapshot) that used it; {@link rotate} starts a new generation and, once
 * the cache holds more than twice what the last generation used, drops every entry that
 * generation did not use. A lookup costs one Map lookup; nothing is copied per snapshot.
 */
export class GenerationalCache<V> {
  private readonly entries = new Map<string, { value: V; used: number }>();
  private generation = 0;
  private used = 0;

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.used !== this.generation) {
      entry.used = this.generation;
      this.used += 1;
    }
    return entry.value;
  }

  set(key: string, value: V): void {
    const entry = this.entries.get(key);
    if (entry !== undefined && entry.used === this.generation) entry.value = value;
    else {
      this.entries.set(key, { value, used: this.generation });
      this.used += 1;
    }
  }

  /** Start a new generation (a new snapshot), first dropping what the last one did not use if the cache has grown past twice that. */
  rotate(): void {
    if (this.entries.size > 2 * this.used + 64) {
      for (const [key, entry] of this.entries) if (entry.used !== this.generation) this.entries.delete(key);
    }
    this.generation += 1;
    this.used = 0;
  }

  /** Entries held (for tests). */
  get size(): number {
    return this.entries.size;
  }
}

/**
 * A resource by two keys: `key`, cheap to make from the inputs' versions, tried first; on a
 * miss the object is built and its JSON is the second key, so equal content built from
 * changed inputs is not encoded again (`previous`, what the same resource was before, is
 * compared first). Only what is new is encoded.
 */
export function cachedResource(
  cache: GenerationalCache<CachedResource>,
  key: string,
  typeUrl: string,
  name: string,
  build: () => Translation<ProtoObject>,
  previous?: CachedResource,
): CachedResource {
  const hit = cache.get(key);
  if (hit !== undefined) {
    // Its content key lives as long as it is used, so equal content built later finds it.
    cache.get(hit.contentKey);
    return hit;
  }
  const built = build();
  const contentKey = `${typeUrl} ${JSON.stringify(built.value)} ${built.untranslated.join('\n')}`;
  let entry = previous?.contentKey === contentKey ? previous : cache.get(contentKey);
  if (entry === undefined) {
    entry = Object.freeze({ resource: encodeResource(typeUrl, name, built.value), untranslated: built.untranslated, contentKey });
    cache.set(contentKey, entry);
  }
  cache.set(key, entry);
  return entry;
}
