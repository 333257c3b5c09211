import { DEFAULT_DUBBO_VERSION, DEFAULT_SERVICE_VERSION, GENERIC_METHODS, HEADER_LENGTH, SerializationId } from './constants.js';
import { countParameters, countParametersInBytes, parseParameterDescriptor, toParameterDescriptor } from './descriptor.js';
import { EncodeError, MalformedBodyError } from './errors.js';
import { DecodedFrame, encodeFrame, type Frame } from './frame.js';
import { DEFAULT_HESSIAN_LIMITS, HessianScanner, type HessianLimits, type ScalarValue } from './hessian-scanner.js';
import { SafeHessianDecoder, withTypedErrors } from './hessian-decoder.js';
import { encodeHessianScalar, encodeHessianString, type WritableScalar } from './hessian-writer.js';
import hessian from 'hessian.js';

/** Attachments as the peek reads them: scalars as values, anything else as {@link OpaqueValue}. */
export type PeekedAttachments = Readonly<Record<string, ScalarValue>>;

/** An attachment memo's entry for a key the attachments do not have. */
const ABSENT = Symbol('absent');

/** Reads strings and scalars at known offsets, for the lazy parts of a peek. */
const lazyScanner = new HessianScanner();

/**
 * What the proxy needs from a request body, read without building the arguments: the
 * invocation's names, the attachments, and where the argument and attachment bytes are.
 *
 * The whole body has been walked structurally when a peek exists, so every offset is valid;
 * the path, version and method are read eagerly, everything else (attachments, the dubbo
 * version, the descriptor) only when asked for.
 */
export class RequestPeek {
  private attachmentsCache: PeekedAttachments | undefined;
  private bodyView: Buffer | undefined;

  constructor(
    /** The bytes the body lies in: the body itself, or a whole frame. */
    private readonly source: Buffer,
    /** Where the body starts in `source`; every offset of the peek is relative to it. */
    private readonly base: number,
    /** The invocation head this body started with. */
    private readonly invocation: Head,
    /** For `$invoke`/`$invokeAsync`, the method really invoked (first argument); else `method`. */
    readonly invokedMethod: string,
    /** Offsets where each argument starts, plus one past the last argument. */
    readonly argumentOffsets: readonly number[],
    /** How many leading arguments can be decoded on their own (no earlier class or reference). */
    readonly independentArguments: number,
    /** Offset of the attachments map (== body.length when the body has none). */
    readonly attachmentsOffset: number,
    /** The attachment map's layout (shared by requests with identical attachment bytes, see {@link PeekCache}). */
    private readonly map: AttachmentMap,
  ) {}

  /**
   * The invocation head this body started with, as an opaque object: the same object for
   * every request of a connection whose head bytes were identical (a {@link PeekCache} hit),
   * so a router may remember what it decided for it.
   */
  get head(): object {
    return this.invocation;
  }

  /** Service path, normally the interface name. */
  get path(): string {
    return this.invocation.path;
  }

  /** Service version (`''` when the caller sent none). */
  get version(): string {
    return this.invocation.version;
  }

  /** Method name as sent (`$invoke` for a generic call). */
  get method(): string {
    return this.invocation.method;
  }

  /** Offset of the first attachment entry, after the map header. */
  get attachmentEntriesOffset(): number {
    return this.attachmentsOffset + this.map.entriesOffset;
  }

  /** Offset just past the attachments map. */
  get attachmentsEnd(): number {
    return this.attachmentsOffset + this.map.end;
  }

  /** The body this peek describes (a view, made when first asked for). */
  get body(): Buffer {
    return (this.bodyView ??= this.base === 0 ? this.source : this.source.subarray(this.base));
  }

  /** Dubbo protocol version of the caller, e.g. `2.0.2` (`''` when null). */
  get dubboVersion(): string {
    return readLazyString(this.source, this.base, this.base + this.invocation.pathOffset, this.base);
  }

  /** JVM parameter descriptor, e.g. `Ljava/lang/String;J` (`''` when null). */
  get parameterDescriptor(): string {
    return readLazyString(this.source, this.base + this.invocation.descriptorOffset, this.base + this.argumentOffsets[0]!, this.base);
  }

  /** Number of arguments, from the descriptor. */
  get parameterCount(): number {
    return this.argumentOffsets.length - 1;
  }

  /** Offset of the first argument. */
  get argumentsOffset(): number {
    return this.argumentOffsets[0]!;
  }

  /** Whether this is a generic (`$invoke`) call. */
  get generic(): boolean {
    return this.invocation.generic;
  }

  /**
   * One attachment by key, read from its bytes without building the others; undefined when
   * absent. With a key sent twice the last wins, as in Java's HashMap.
   */
  attachment(name: string): ScalarValue | undefined {
    const memo = this.map.memo;
    if (memo !== undefined) {
      const known = memo.get(name); // one lookup: an absent attachment is remembered as ABSENT
      if (known !== undefined) return known === ABSENT ? undefined : known;
    }
    const value = this.readAttachment(name);
    // Only primitives are shared: an object value (a Date, bytes, an opaque range) belongs to this body.
    if (memo !== undefined && (value === null || typeof value !== 'object')) memo.set(name, value === undefined ? ABSENT : value);
    return value;
  }

  private readAttachment(name: string): ScalarValue | undefined {
    const ranges = this.map.ranges;
    const source = this.source;
    const at = this.base + this.attachmentsOffset;
    for (let i = ranges.length - 3; i >= 0; i -= 3) {
      if (keyEquals(source, at + ranges[i]!, at + ranges[i + 1]!, name, this.base)) return lazyScanner.reset(source, 0, source.length, this.base).readScalarAt(at + ranges[i + 1]!, at + ranges[i + 2]!);
    }
    return undefined;
  }

  /** Per attachment entry: key start, value start, value end (absolute offsets, flat; a new array). */
  get attachmentOffsets(): number[] {
    return this.map.ranges.map((offset) => offset + this.attachmentsOffset);
  }

  /** All attachments, in a null-prototype object (built on first use). */
  get attachments(): PeekedAttachments {
    if (this.attachmentsCache === undefined) {
      const attachments: Record<string, ScalarValue> = Object.create(null) as Record<string, ScalarValue>;
      const ranges = this.attachmentOffsets;
      const { source, base } = this;
      for (let i = 0; i < ranges.length; i += 3) {
        const key = lazyScanner.reset(source, base + ranges[i]!, base + ranges[i + 1]!, base).readString();
        attachments[key] = lazyScanner.reset(source, 0, source.length, base).readScalarAt(base + ranges[i + 1]!, base + ranges[i + 2]!);
      }
      this.attachmentsCache = attachments;
    }
    return this.attachmentsCache;
  }

  /** The `group` attachment, or `''`. */
  get group(): string {
    const group = this.attachment('group');
    return typeof group === 'string' ? group : '';
  }

  /** The interface: the `interface` attachment, else the path. */
  get interfaceName(): string {
    const name = this.attachment('interface');
    return typeof name === 'string' && name !== '' ? name : this.path;
  }

  /**
   * Decode one argument with hessian.js, only when a rule needs it. An argument that may refer
   * to classes or values of earlier arguments is decoded with those arguments before it.
   */
  decodeArgument(index: number, options: DecodeOptions = {}): unknown {
    if (!Number.isInteger(index) || index < 0 || index >= this.parameterCount) {
      throw new RangeError(`argument index ${index} is out of range: the method takes ${this.parameterCount}`);
    }
    return withTypedErrors(`argument ${index}`, () => {
      const base = this.base;
      if (index < this.independentArguments) {
        const decoder = new SafeHessianDecoder(this.source.subarray(base + this.argumentOffsets[index]!, base + this.argumentOffsets[index + 1]!));
        return decoder.read(options.withType);
      }
      const decoder = new SafeHessianDecoder(this.source.subarray(base + this.argumentOffsets[0]!, base + this.attachmentsOffset));
      let value: unknown;
      for (let i = 0; i <= index; i++) value = decoder.read(options.withType);
      return value;
    });
  }
}

function readLazyString(source: Buffer, start: number, end: number, origin: number): string {
  return source[start] === 0x4e ? '' : lazyScanner.reset(source, start, end, origin).readString();
}

/** Whether the string key at [keyStart, keyEnd) is `name`; compact ASCII keys are compared byte by byte. */
function keyEquals(body: Buffer, keyStart: number, keyEnd: number, name: string, origin: number): boolean {
  const code = body[keyStart]!;
  if (code <= 0x1f && keyEnd - keyStart - 1 === code) {
    if (code !== name.length) return false;
    for (let i = 0; i < code; i++) if (body[keyStart + 1 + i] !== name.charCodeAt(i)) return false;
    return true;
  }
  return lazyScanner.reset(body, keyStart, keyEnd, origin).readString() === name;
}

/** Options of the full decoders. */
export interface DecodeOptions {
  /** Keep Java class names (`{$class, $}`) on objects, as hessian.js's `withType`. */
  withType?: boolean;
}

/** Read the head of the body at the scanner's origin in `source`; its offsets are relative to the body. */
function readHead(scanner: HessianScanner, source: Buffer): Head {
  const base = scanner.origin;
  skipNullableString(scanner, 'dubbo version');
  const pathOffset = scanner.position - base;
  const path = readNullableString(scanner, 'service path');
  const version = readNullableString(scanner, 'service version');
  const method = readNullableString(scanner, 'method name');
  if (method === '') throw new MalformedBodyError('request has no method name');
  const descriptorOffset = scanner.position - base;
  const count = readParameterCount(scanner, source);
  const generic = GENERIC_METHODS.has(method);
  return { bytes: source.subarray(base, scanner.position), memory: undefined, path, version, method, generic, count, pathOffset, descriptorOffset };
}

/** Options of {@link peekRequest}. */
export interface PeekOptions {
  limits?: HessianLimits;
}

const sharedScanner = new HessianScanner();

function checkStringOrNull(scanner: HessianScanner, field: string): void {
  const code = scanner.peekByte();
  if (code !== 0x4e && !scanner.nextIsString()) {
    throw new MalformedBodyError(`request ${field} at offset ${scanner.position - scanner.origin} is not a string (hessian code 0x${code.toString(16)})`);
  }
}

function readNullableString(scanner: HessianScanner, field: string): string {
  checkStringOrNull(scanner, field);
  if (scanner.peekByte() === 0x4e) {
    scanner.position += 1;
    return '';
  }
  return scanner.readString();
}

function skipNullableString(scanner: HessianScanner, field: string): void {
  checkStringOrNull(scanner, field);
  if (scanner.peekByte() === 0x4e) scanner.position += 1;
  else scanner.skipString();
}

/** Count the parameters of the descriptor at the scanner's position, from its bytes when it is plain ASCII. */
function readParameterCount(scanner: HessianScanner, body: Buffer): number {
  checkStringOrNull(scanner, 'parameter descriptor');
  const start = scanner.position;
  const code = body[start]!;
  if (code === 0x4e) {
    scanner.position += 1;
    return 0;
  }
  if (scanner.skipStringIsPlainAscii()) {
    const dataStart = start + (code <= 0x1f ? 1 : code <= 0x33 ? 2 : 3);
    return countParametersInBytes(body, dataStart, scanner.position);
  }
  return countParameters(lazyScanner.reset(body, start, scanner.position, scanner.origin).readString());
}

/** The invocation head of a body: everything before the first argument. */
interface Head {
  /** The head's bytes. */
  readonly bytes: Buffer;
  /** A DataView of the bytes, once remembered (see {@link PeekCache}). */
  readonly memory: DataView | undefined;
  readonly path: string;
  readonly version: string;
  readonly method: string;
  /** Whether the method is `$invoke`/`$invokeAsync` (its first argument names the method invoked). */
  readonly generic: boolean;
  readonly count: number;
  readonly pathOffset: number;
  readonly descriptorOffset: number;
}

/** Heads and attachment maps longer than this are not remembered. */
const MAX_HEAD_BYTES = 512;

/**
 * Whether `length` bytes at `aAt` in `a` equal those at `bAt` in `b`, eight at a time.
 * DataView reads compile to plain loads: several times faster than Buffer#compare for the
 * 50 to 300 bytes of a head or an attachment map, whose native call costs more than the
 * comparison itself. Eight bytes are compared as one float64: equal floats have equal bits
 * except +0 and -0 (checked apart), and a NaN never equals anything (a miss, never a false
 * match).
 */
function sameBytes(a: DataView, aAt: number, b: DataView, bAt: number, length: number): boolean {
  let i = 0;
  for (; i + 8 <= length; i += 8) {
    const x = a.getFloat64(aAt + i, true);
    if (x !== b.getFloat64(bAt + i, true)) return false;
    // +0 and -0 are equal floats with different bits (and, were denormals ever flushed to
    // zero, so would be any two of them): for a zero compare both words.
    if (x === 0 && (a.getInt32(aAt + i, true) !== b.getInt32(bAt + i, true) || a.getInt32(aAt + i + 4, true) !== b.getInt32(bAt + i + 4, true))) return false;
  }
  for (; i < length; i++) if (a.getUint8(aAt + i) !== b.getUint8(bAt + i)) return false;
  return true;
}

/** A DataView of a buffer's bytes. */
function dataViewOf(bytes: Buffer): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
}

/**
 * The invocation heads (dubbo version, path, version, method, descriptor) and attachment maps
 * a connection sent last. A consumer repeats the same few heads and attachments call after
 * call; when a body starts with the bytes of a remembered head, the peek reuses its strings
 * instead of reading them again (and equal strings are the same string objects, so lookups
 * keyed on them hash once); when it ends with a remembered attachment map, the map is not
 * walked again and the attachments already looked up are not read again. Bytes, not
 * guesses: an entry is reused only when every byte of it matches. One per connection.
 *
 * Bodies are compared where they lie: `memory` is a DataView of the body's ArrayBuffer and
 * `at` where the body starts in it.
 */
export class PeekCache {
  private readonly heads: Head[] = [];
  private next = 0;

  constructor(private readonly size = 4) {}

  /** A remembered head that the body at `at` in `memory` (`length` bytes) starts with. */
  find(memory: DataView, at: number, length: number): Head | undefined {
    const heads = this.heads;
    for (let h = 0; h < heads.length; h++) {
      const head = heads[h]!;
      const headLength = head.bytes.length;
      if (length >= headLength && sameBytes(memory, at, head.memory!, 0, headLength)) return head;
    }
    return undefined;
  }

  private readonly maps: Array<{ readonly bytes: Buffer; readonly memory: DataView; readonly state: string; readonly map: AttachmentMap }> = [];
  private nextMap = 0;

  /**
   * A remembered attachment map equal to the rest of the body from `start` (relative to the
   * body, which is at `at` in `memory` and `length` long), walked from the same scanner state
   * (class definitions, types and values before it), so every offset and every primitive
   * value in it is the same.
   */
  findAttachments(memory: DataView, at: number, length: number, start: number, scanner: HessianScanner): AttachmentMap | undefined {
    const mapLength = length - start;
    let state: string | undefined;
    for (const entry of this.maps) {
      if (entry.bytes.length !== mapLength || !sameBytes(memory, at + start, entry.memory, 0, mapLength)) continue;
      state ??= scannerState(scanner);
      if (entry.state === state) return entry.map;
    }
    return undefined;
  }

  /** Remember an attachment map (the bytes from `start` to the end of `source`, where the body ends, are copied). */
  rememberAttachments(source: Buffer, start: number, state: string, map: AttachmentMap): void {
    if (source.length - start > MAX_HEAD_BYTES || map.end !== source.length - start) return;
    // Literals of one shape (no spreads): the lookups above stay monomorphic.
    const bytes = Buffer.from(source.subarray(start));
    this.maps[this.nextMap] = { bytes, memory: dataViewOf(bytes), state, map };
    this.nextMap = (this.nextMap + 1) % this.size;
  }

  /**
   * Remember a head read from a body (its bytes are copied: the body is a view of a read
   * chunk). Returns the head to use: the remembered copy, or `head` when it is too long.
   */
  remember(head: Head): Head {
    if (head.bytes.length > MAX_HEAD_BYTES) return head;
    const bytes = Buffer.from(head.bytes);
    const { path, version, method, generic, count, pathOffset, descriptorOffset } = head;
    const kept: Head = { bytes, memory: dataViewOf(bytes), path, version, method, generic, count, pathOffset, descriptorOffset };
    this.heads[this.next] = kept;
    this.next = (this.next + 1) % this.size;
    return kept;
  }
}

/**
 * Read a Hessian2 request body's service key, method and attachments, and the offsets of its
 * arguments and attachments, without building the arguments (they are skipped structurally).
 * Throws typed errors for anything that is not a well-formed request body. With a `cache`,
 * a head the connection sent before is not read again.
 */
export function peekRequest(body: Buffer, options: PeekOptions = {}, cache?: PeekCache): RequestPeek {
  return peekBody(body, 0, options, cache, cache === undefined ? undefined : dataViewOf(body), 0);
}

/**
 * {@link peekRequest} of a request frame's body, read where it lies in the frame (no body
 * view). A frame from a {@link FrameDecoder} is compared against the cache where it lies in
 * its received chunk. Offsets in the peek and in errors are relative to the body, as with
 * {@link peekRequest}.
 */
export function peekRequestFrame(frame: Frame, options: PeekOptions = {}, cache?: PeekCache): RequestPeek {
  const bytes = frame.bytes;
  if (cache === undefined) return peekBody(bytes, HEADER_LENGTH, options, undefined, undefined, 0);
  if (frame instanceof DecodedFrame) return peekBody(bytes, HEADER_LENGTH, options, cache, frame.memory, frame.memoryOffset + HEADER_LENGTH);
  return peekBody(bytes, HEADER_LENGTH, options, cache, dataViewOf(bytes), HEADER_LENGTH);
}

/**
 * The peek of the body that starts at `base` in `source` and ends with it; with a cache,
 * `memory` is a DataView in which the body starts at `at`.
 */
function peekBody(source: Buffer, base: number, options: PeekOptions, cache: PeekCache | undefined, memory: DataView | undefined, at: number): RequestPeek {
  const scanner = options.limits === undefined || options.limits === DEFAULT_HESSIAN_LIMITS ? sharedScanner : new HessianScanner(options.limits);
  const length = source.length - base;
  if (length <= 0) throw new MalformedBodyError('request body is empty');
  scanner.reset(source, base, source.length, base);
  let head = cache?.find(memory!, at, length);
  if (head === undefined) {
    head = readHead(scanner, source);
    if (cache !== undefined) head = cache.remember(head);
  } else {
    // The head holds strings only: the scanner's reference state is still empty after it.
    scanner.position = base + head.bytes.length;
  }
  const { method, generic, count } = head;
  const argumentOffsets = new Array<number>(count + 1);
  let independentArguments = 0;
  let invokedMethod = method;
  for (let i = 0; i < count; i++) {
    argumentOffsets[i] = scanner.position - base;
    if (scanner.contextFree) independentArguments = i + 1;
    if (i === 0 && generic && scanner.nextIsString()) invokedMethod = scanner.readString();
    else scanner.skipValue();
  }
  const attachmentsOffset = scanner.position - base;
  argumentOffsets[count] = attachmentsOffset;
  const map = cache?.findAttachments(memory!, at, length, attachmentsOffset, scanner) ?? readAttachmentMap(scanner, source, scanner.position, cache);
  return new RequestPeek(source, base, head, invokedMethod, argumentOffsets, independentArguments, attachmentsOffset, map);
}

/** The attachment map of a body, offsets relative to its start. */
interface AttachmentMap {
  readonly entriesOffset: number;
  readonly end: number;
  readonly ranges: readonly number[];
  readonly memo: Map<string, ScalarValue | typeof ABSENT> | undefined;
}

/** Walk the attachment map at `start` in `source` (the scanner is there, with the arguments' state). */
function readAttachmentMap(scanner: HessianScanner, source: Buffer, start: number, cache: PeekCache | undefined): AttachmentMap {
  const state = cache === undefined ? undefined : scannerState(scanner);
  const ranges: number[] = [];
  let entriesOffset = 0;
  let end = 0;
  if (!scanner.atEnd) {
    const code = scanner.peekByte();
    if (code === 0x4e) {
      scanner.position += 1;
      entriesOffset = end = scanner.position - start;
    } else if (code === 0x48 || code === 0x4d) {
      // The map header by the scanner's own rules (a typed map defines a type).
      scanner.position += 1;
      if (code === 0x4d) {
        if (scanner.nextIsString()) {
          scanner.skipString();
          scanner.typeCount += 1;
        } else scanner.readInt();
      }
      scanner.referenceCount += 1;
      entriesOffset = scanner.position - start;
      while (scanner.peekByte() !== 0x5a) {
        const keyStart = scanner.position;
        if (!scanner.nextIsString()) throw new MalformedBodyError(`attachment key at offset ${keyStart - scanner.origin} is not a string`);
        scanner.skipString();
        const valueStart = scanner.position;
        scanner.skipValue();
        ranges.push(keyStart - start, valueStart - start, scanner.position - start);
      }
      scanner.position += 1;
      end = scanner.position - start;
    } else {
      throw new MalformedBodyError(`attachments at offset ${start - scanner.origin} are not a map (hessian code 0x${code.toString(16)})`);
    }
  }
  const map: AttachmentMap = { entriesOffset, end, ranges, memo: cache === undefined ? undefined : new Map() };
  cache?.rememberAttachments(source, start, state!, map);
  return map;
}

/** What walking attachments depends on besides their bytes: the class definitions, types and values before them. */
function scannerState(scanner: HessianScanner): string {
  if (scanner.contextFree) return '';
  return `${scanner.classFieldCounts.join(',')}|${scanner.typeCount}|${scanner.referenceCount}`;
}

/**
 * A new body with attachments set (a value) or removed (`undefined`). The invocation and
 * argument bytes, and every attachment not named, are copied unchanged; new keys go last.
 */
export function rewriteAttachments(peek: RequestPeek, changes: Readonly<Record<string, WritableScalar | undefined>>): Buffer {
  const body = peek.body;
  const parts: Buffer[] = [body.subarray(0, peek.attachmentEntriesOffset)];
  if (peek.attachmentEntriesOffset === peek.attachmentsOffset) parts.push(MAP_START);
  const pending = new Map(Object.entries(changes));
  const ranges = peek.attachmentOffsets;
  for (let i = 0; i < ranges.length; i += 3) {
    const keyStart = ranges[i]!;
    const valueStart = ranges[i + 1]!;
    const valueEnd = ranges[i + 2]!;
    const key = keyOf(peek, keyStart, valueStart);
    if (!pending.has(key)) {
      parts.push(body.subarray(keyStart, valueEnd));
      continue;
    }
    const value = pending.get(key);
    pending.delete(key);
    if (value !== undefined) parts.push(body.subarray(keyStart, valueStart), encodeHessianScalar(value));
  }
  for (const [key, value] of pending) {
    if (value !== undefined) parts.push(encodeHessianString(key), encodeHessianScalar(value));
  }
  parts.push(MAP_END, body.subarray(peek.attachmentsEnd));
  return Buffer.concat(parts);
}

const MAP_START = Buffer.from([0x48]);
const MAP_END = Buffer.from([0x5a]);

function keyOf(peek: RequestPeek, keyStart: number, valueStart: number): string {
  return lazyScanner.reset(peek.body, keyStart, valueStart).readString();
}

/** A request body, fully decoded. */
export interface DubboRequestBody {
  dubboVersion: string;
  path: string;
  version: string;
  method: string;
  parameterDescriptor: string;
  /** Java type names from the descriptor. */
  parameterTypes: string[];
  arguments: unknown[];
  attachments: Record<string, unknown>;
}

/**
 * Decode a whole Hessian2 request body with hessian.js. The body is first checked by the
 * structural peek, so malformed or oversized input fails with a typed error before any
 * value is built.
 */
export function decodeRequestBody(body: Buffer, options: DecodeOptions & PeekOptions = {}): DubboRequestBody {
  const peek = peekRequest(body, options);
  return withTypedErrors('request body', () => {
    const decoder = new SafeHessianDecoder(body.subarray(0, peek.attachmentsEnd));
    const strings: string[] = [];
    for (let i = 0; i < 5; i++) {
      const value = decoder.read();
      strings.push(value === null ? '' : String(value));
    }
    const args: unknown[] = [];
    for (let i = 0; i < peek.parameterCount; i++) args.push(decoder.read(options.withType));
    let attachments: Record<string, unknown> = {};
    if (decoder.byteBuffer.position() < peek.attachmentsEnd) {
      const decoded = decoder.read(false);
      if (decoded !== null) attachments = decoded as Record<string, unknown>;
    }
    return {
      dubboVersion: strings[0]!, path: strings[1]!, version: strings[2]!, method: strings[3]!, parameterDescriptor: strings[4]!,
      parameterTypes: parseParameterDescriptor(strings[4]!),
      arguments: args,
      attachments,
    };
  });
}

/** A request to encode. Arguments are hessian.js values (`java.long(1)`, `{$class, $}`, plain JS). */
export interface DubboRequestInit {
  dubboVersion?: string;
  path: string;
  version?: string;
  method: string;
  /** Java type names of the parameters (`['java.lang.String', 'long']`), or give `parameterDescriptor`. */
  parameterTypes?: readonly string[];
  parameterDescriptor?: string;
  arguments?: readonly unknown[];
  attachments?: Readonly<Record<string, unknown>>;
}

/** Encode a request body with hessian.js, as Java's DubboCodec writes it. */
export function encodeRequestBody(init: DubboRequestInit): Buffer {
  const args = init.arguments ?? [];
  const descriptor = init.parameterDescriptor ?? toParameterDescriptor(init.parameterTypes ?? []);
  if (countParameters(descriptor) !== args.length) {
    throw new EncodeError(`descriptor ${JSON.stringify(descriptor)} names ${countParameters(descriptor)} parameters but ${args.length} arguments were given`);
  }
  const encoder = new hessian.EncoderV2();
  encoder.write(init.dubboVersion ?? DEFAULT_DUBBO_VERSION);
  encoder.write(init.path);
  encoder.write(init.version ?? DEFAULT_SERVICE_VERSION);
  encoder.write(init.method);
  encoder.write(descriptor);
  for (const arg of args) encoder.write(arg);
  encoder.write({ $class: 'java.util.HashMap', $: { ...(init.attachments ?? {}) } });
  return Buffer.from(encoder.get());
}

/** A whole request frame: a two-way Hessian2 request by default. */
export function encodeRequest(requestId: bigint, body: Buffer, options: { twoWay?: boolean; serializationId?: number } = {}): Buffer {
  return encodeFrame({
    isRequest: true,
    twoWay: options.twoWay ?? true,
    serializationId: options.serializationId ?? SerializationId.HESSIAN2,
    requestId,
    body,
  });
}



