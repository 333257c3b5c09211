import { GENERIC_METHODS, HEADER_LENGTH } from './constants.js';
import { countParameters, countParametersInBytes } from './descriptor.js';
import { MalformedBodyError } from './errors.js';
import { DecodedFrame, type Frame } from './frame.js';
import { BC_END, BC_MAP, BC_MAP_UNTYPED, BC_NULL, BC_STRING_SHORT_HIGH, STRING_DIRECT_MAX } from './hessian-codes.js';
import { DEFAULT_HESSIAN_LIMITS, HessianScanner, type HessianLimits, type ScalarValue } from './hessian-scanner.js';
import { SafeHessianDecoder, withTypedErrors } from './hessian-decoder.js';
import { ABSENT, dataViewOf, scannerState, type AttachmentMap, type Head, type PeekCache } from './peek-cache.js';

/** Attachments as the peek reads them: scalars as values, anything else as {@link OpaqueValue}. */
export type PeekedAttachments = Readonly<Record<string, ScalarValue>>;

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
      if (keyEquals(source, at + ranges[i]!, at + ranges[i + 1]!, name, this.base))
        return lazyScanner.reset(source, 0, source.length, this.base).readScalarAt(at + ranges[i + 1]!, at + ranges[i + 2]!);
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
  return source[start] === BC_NULL ? '' : lazyScanner.reset(source, start, end, origin).readString();
}

/** Whether the string key at [keyStart, keyEnd) is `name`; compact ASCII keys are compared byte by byte. */
function keyEquals(body: Buffer, keyStart: number, keyEnd: number, name: string, origin: number): boolean {
  const code = body[keyStart]!;
  if (code <= STRING_DIRECT_MAX && keyEnd - keyStart - 1 === code) {
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
  if (code !== BC_NULL && !scanner.nextIsString()) {
    throw new MalformedBodyError(`request ${field} at offset ${scanner.position - scanner.origin} is not a string (hessian code 0x${code.toString(16)})`);
  }
}

function readNullableString(scanner: HessianScanner, field: string): string {
  checkStringOrNull(scanner, field);
  if (scanner.peekByte() === BC_NULL) {
    scanner.position += 1;
    return '';
  }
  return scanner.readString();
}

function skipNullableString(scanner: HessianScanner, field: string): void {
  checkStringOrNull(scanner, field);
  if (scanner.peekByte() === BC_NULL) scanner.position += 1;
  else scanner.skipString();
}

/** Count the parameters of the descriptor at the scanner's position, from its bytes when it is plain ASCII. */
function readParameterCount(scanner: HessianScanner, body: Buffer): number {
  checkStringOrNull(scanner, 'parameter descriptor');
  const start = scanner.position;
  const code = body[start]!;
  if (code === BC_NULL) {
    scanner.position += 1;
    return 0;
  }
  if (scanner.skipStringIsPlainAscii()) {
    const dataStart = start + (code <= STRING_DIRECT_MAX ? 1 : code <= BC_STRING_SHORT_HIGH ? 2 : 3);
    return countParametersInBytes(body, dataStart, scanner.position);
  }
  return countParameters(lazyScanner.reset(body, start, scanner.position, scanner.origin).readString());
}

/** The invocation head of a body: everything before the first argument. */
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
/** Walk the attachment map at `start` in `source` (the scanner is there, with the arguments' state). */
function readAttachmentMap(scanner: HessianScanner, source: Buffer, start: number, cache: PeekCache | undefined): AttachmentMap {
  const state = cache === undefined ? undefined : scannerState(scanner);
  const ranges: number[] = [];
  let entriesOffset = 0;
  let end = 0;
  if (!scanner.atEnd) {
    const code = scanner.peekByte();
    if (code === BC_NULL) {
      scanner.position += 1;
      entriesOffset = end = scanner.position - start;
    } else if (code === BC_MAP_UNTYPED || code === BC_MAP) {
      // The map header by the scanner's own rules (a typed map defines a type).
      scanner.position += 1;
      if (code === BC_MAP) {
        if (scanner.nextIsString()) {
          scanner.skipString();
          scanner.typeCount += 1;
        } else scanner.readInt();
      }
      scanner.referenceCount += 1;
      entriesOffset = scanner.position - start;
      while (scanner.peekByte() !== BC_END) {
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
