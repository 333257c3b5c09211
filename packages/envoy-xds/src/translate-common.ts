import { createHash } from 'node:crypto';
import { RE2 } from 're2-wasm';
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
 * takes it: lookaround, backreferences and possessive or atomic forms. Checked before RE2
 * itself, for a reason that says what is wrong.
 */
const NOT_RE2 = /\(\?[=!]|\(\?<[=!]|\\[1-9]|\\k<|\(\?>|[*+?}][+]/;

/**
 * Escapes that JavaScript (our proxy compiles a pattern without the `u` flag) and RE2 read
 * differently, though both take them: `\p{L}` and `\P{L}` are the letters `p{L}` to
 * JavaScript and a Unicode class to RE2; `\u0041` is `A` to JavaScript and to re2-wasm
 * (gRPC's), an error to Envoy's RE2. An odd number of backslashes makes the escape.
 */
const READ_DIFFERENTLY = /(?:^|[^\\])(?:\\\\)*\\[upP]/;

/** What RE2 said of each pattern it compiled (re2-wasm never frees a compiled pattern: each is compiled once). */
const re2Verdicts = new Map<string, string | null>();
const RE2_VERDICTS_KEPT = 10_000;

/**
 * Why RE2 refuses a full-match pattern, compiled as `@grpc/grpc-js-xds` compiles a
 * `safe_regex` (`new RE2(`^${regex}$`, 'u')`, re2-wasm: the library gRPC clients run); undefined
 * when it compiles. Envoy links RE2 itself: what re2-wasm takes, Envoy's RE2 takes too, but for
 * a program larger than Envoy's `re2.max_program_size.error_level` (a runtime value: 100 by
 * default, 32768 in envoy/envoy-sidecar.yaml), which re2-wasm cannot measure.
 */
export function re2Refusal(regex: string): string | undefined {
  let verdict = re2Verdicts.get(regex);
  if (verdict === undefined) {
    try {
      new RE2(`^${regex}$`, 'u');
      verdict = null;
    } catch (error) {
      verdict = (error as Error).message;
    }
    if (re2Verdicts.size >= RE2_VERDICTS_KEPT) re2Verdicts.clear();
    re2Verdicts.set(regex, verdict);
  }
  return verdict ?? undefined;
}

/** A pattern scanned outside escapes and character classes: its top-level `|` positions, and whether an anchor is there. */
function scan(pattern: string): { alternatives: string[]; anchored: boolean } {
  const alternatives: string[] = [];
  let depth = 0;
  let inClass = false;
  let anchored = false;
  let start = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') i += 1;
    else if (inClass) inClass = c !== ']';
    else if (c === '[') inClass = true;
    else if (c === '(') depth += 1;
    else if (c === ')') depth -= 1;
    else if (c === '^' || c === '$') anchored = true;
    else if (c === '|' && depth === 0) {
      alternatives.push(pattern.slice(start, i));
      start = i + 1;
    }
  }
  alternatives.push(pattern.slice(start));
  return { alternatives, anchored };
}

/** A pattern without an anchor at its start or end (unescaped), with which it had. */
function stripEdges(pattern: string): { body: string; start: boolean; end: boolean } {
  let body = pattern;
  const start = body.startsWith('^');
  if (start) body = body.slice(1);
  // `$` ends it unless escaped: an even number of backslashes before it.
  const backslashes = /(\\*)\$$/.exec(body)?.[1]!.length ?? 0;
  const end = body.endsWith('$') && backslashes % 2 === 0;
  if (end) body = body.slice(0, -1);
  return { body, start, end };
}

/** A regex as a full-match RE2 pattern, or why it cannot be sent. */
export type RegexTranslation = { readonly regex: string } | { readonly reason: string };

/**
 * A JavaScript pattern, which our proxy tests as a search (`RegExp.test`), as a full-match RE2
 * pattern with the same meaning, `any` standing for what may come before and after the match:
 * - `.*` (a whole value, Envoy's and gRPC's headers, Envoy's method): `.*(?:P).*`, which RE2
 *   full-matches exactly where JavaScript finds P (an anchor inside still means the value's
 *   start or end); with no top-level `|`, an anchor at P's start or end stands for the `.*`
 *   it removes (`^get` → `(?:get).*`).
 * - `[^/]*` (the method part of a gRPC path `/<interface>/<method>`, where `^` and `$` would
 *   mean the path's ends): each top-level alternative on its own, its edge anchors removed
 *   as above; an anchor left elsewhere cannot be placed in the path, and is reported.
 * Reported, never sent: what RE2 refuses (checked with re2-wasm), lookaround and
 * backreferences, and escapes the two engines read differently.
 */
export function translateRegex(pattern: string, any = '.*'): RegexTranslation {
  if (NOT_RE2.test(pattern)) return { reason: 'RE2 has no lookaround, backreferences, atomic groups or possessive repetition' };
  if (READ_DIFFERENTLY.test(pattern)) return { reason: 'JavaScript and RE2 read \\u, \\p and \\P differently (write the character, or a class)' };
  const { alternatives, anchored } = scan(pattern);
  let regex: string;
  if (any === '.*' && (!anchored || alternatives.length > 1)) {
    regex = `${any}(?:${pattern})${any}`;
  } else {
    const parts: string[] = [];
    for (const alternative of alternatives) {
      const { body, start, end } = stripEdges(alternative);
      if (any !== '.*' && scan(body).anchored) return { reason: 'an anchor (^ or $) inside the pattern cannot be placed in a gRPC path' };
      parts.push(`${start ? '' : any}(?:${body})${end ? '' : any}`);
    }
    regex = parts.length === 1 ? parts[0]! : `(?:${parts.join('|')})`;
  }
  const refusal = re2Refusal(regex);
  return refusal === undefined ? { regex } : { reason: `RE2 cannot compile it: ${refusal}` };
}

/** {@link translateRegex}'s pattern, or undefined when it cannot be sent. */
export function fullMatchRegex(pattern: string, any = '.*'): string | undefined {
  const translated = translateRegex(pattern, any);
  return 'regex' in translated ? translated.regex : undefined;
}

/** A literal as an RE2 pattern. */
export function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A StringMatcher, or why it cannot be sent. */
export type MatcherTranslation = { readonly matcher: ProtoObject } | { readonly reason: string };

/**
 * Our `{exact|prefix|regex}` as Envoy's `type.matcher.v3.StringMatcher`. An empty prefix is
 * "any value" to our proxy and refused by Envoy (its `prefix` has a minimum length of 1: the
 * whole resource would be NACKed): it becomes {@link ANY_STRING}.
 */
export function stringMatcher(match: StringMatch): MatcherTranslation {
  if ('exact' in match) return { matcher: { exact: match.exact } };
  if ('prefix' in match) return { matcher: match.prefix === '' ? ANY_STRING : { prefix: match.prefix } };
  const translated = translateRegex(match.regex);
  return 'regex' in translated ? { matcher: { safe_regex: { regex: translated.regex } } } : translated;
}

/**
 * An attachment match as a `config.route.v3.HeaderMatcher` (Envoy's dubbo_proxy and gRPC read
 * a call's attachments or metadata as headers). An empty prefix holds for any value of a
 * present attachment in our proxy: `present_match` (which gRPC clients take too).
 */
export function headerMatcher(name: string, match: StringMatch): { readonly header: ProtoObject } | { readonly reason: string } {
  if ('prefix' in match && match.prefix === '') return { header: { name, present_match: true } };
  const translated = stringMatcher(match);
  return 'matcher' in translated ? { header: { name, string_match: translated.matcher } } : translated;
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

/** A digest long enough to stand for content (a cache key: a collision would serve other content): SHA-256, base64. */
export function contentDigest(data: string): string {
  return createHash('sha256').update(data).digest('base64');
}

/** Encode one resource as the `Any` a response carries, its version a digest of those bytes. */
export function encodeResource(typeUrl: string, name: string, resource: ProtoObject): EnvoyResource {
  const any = encodeAny(typeUrl, resource);
  return Object.freeze({ name, version: digest(any), any });
}

/** Each resource's `name version` line as two 32-bit numbers (a digest's first 8 bytes), made once per resource object. */
const lineDigests = new WeakMap<EnvoyResource, readonly [number, number]>();
function lineDigest(resource: EnvoyResource): readonly [number, number] {
  let line = lineDigests.get(resource);
  if (line === undefined) {
    const bytes = createHash('sha256').update(`${resource.name} ${resource.version}`).digest();
    lineDigests.set(resource, (line = [bytes.readUInt32BE(0), bytes.readUInt32BE(4)]));
  }
  return line;
}

/**
 * The resources of one type with their version: the per-resource digests of `name version`
 * summed (two 32-bit lanes, modulo 2^32 each) with the count, so the same resources in any
 * order have the same version (a re-listed set is not resent) and a new resource costs one
 * digest, not one over all. With the previous value for the same type, the same resources
 * (the same objects) give that same object back, and an equal version gives it back too.
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
  let high = 0;
  let low = 0;
  for (const resource of resources) {
    byName.set(resource.name, resource);
    const [h, l] = lineDigest(resource);
    high = (high + h) >>> 0;
    low = (low + l) >>> 0;
  }
  const version = `${byName.size.toString(16)}-${high.toString(16).padStart(8, '0')}${low.toString(16).padStart(8, '0')}`;
  if (previous !== undefined && previous.typeUrl === typeUrl && previous.version === version) return previous;
  return Object.freeze({ typeUrl, version, byName });
}

/** An encoded resource and the lines of what it could not carry. */
export interface CachedResource {
  readonly resource: EnvoyResource;
  readonly untranslated: readonly string[];
  /** The key of its content in the cache (a digest of its JSON), kept alive with it (see {@link cachedResource}). */
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
  /** Resources {@link cachedResource} built through this cache (cache misses), and those it encoded (new content): what a snapshot cost. */
  built = 0;
  encoded = 0;

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
 * miss the object is built and a digest of its JSON is the second key (the JSON itself would
 * be kept as long as the resource: several times its encoded size), so equal content built from
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
  cache.built += 1;
  const contentKey = `${typeUrl} ${contentDigest(`${JSON.stringify(built.value)}\n${built.untranslated.join('\n')}`)}`;
  let entry = previous?.contentKey === contentKey ? previous : cache.get(contentKey);
  if (entry === undefined) {
    cache.encoded += 1;
    entry = Object.freeze({ resource: encodeResource(typeUrl, name, built.value), untranslated: built.untranslated, contentKey });
    cache.set(contentKey, entry);
  }
  cache.set(key, entry);
  return entry;
}
