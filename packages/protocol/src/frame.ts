import { DEFAULT_MAX_PAYLOAD, Flag, HEADER_LENGTH, MAGIC_HIGH, MAGIC_LOW, SerializationId } from './constants.js';
import { BadMagicError, PayloadTooLargeError } from './errors.js';
import { readHeader, writeHeader, type FrameHeader } from './header.js';

/** One whole frame. `bytes` is header and body, contiguous; `body` is a view into it. */
export interface Frame {
  readonly header: FrameHeader;
  /** The whole frame, header included: what a proxy forwards. */
  readonly bytes: Buffer;
  /** The body bytes (a view of `bytes`, not a copy). */
  readonly body: Buffer;
}

/**
 * A Buffer made straight from an ArrayBuffer the decoder already holds. Node's `subarray`
 * reads the source's `buffer` on every call, a call into C++ from optimized code; a decoder
 * reads it once per received chunk and builds each frame's view from it, at half the cost.
 * Its prototype chain goes through `Buffer.prototype` (as Node's own Buffer class does), so
 * it is a Buffer in every way: `Buffer.isBuffer`, every method, any API that takes one.
 */
class BufferView extends Uint8Array {}
Object.setPrototypeOf(BufferView.prototype, Buffer.prototype);
// As Node does for its own: `constructor` is Buffer, so inspection, species and checks see a Buffer.
Object.defineProperty(BufferView.prototype, 'constructor', { value: Buffer, writable: true, configurable: true, enumerable: false });

function viewOf(arrayBuffer: ArrayBufferLike, byteOffset: number, length: number): Buffer {
  return new BufferView(arrayBuffer as ArrayBuffer, byteOffset, length) as unknown as Buffer;
}

/**
 * A frame from a {@link FrameDecoder}: one object that is also its own header (`header`
 * returns itself). The body view and the 64-bit request id are built only when asked for,
 * so a frame the proxy only forwards costs one object and one view. `memory` and
 * `memoryOffset` say where its bytes lie (a DataView of the whole received chunk), for
 * readers that compare many bytes at once ({@link peekRequestFrame}).
 */
export class DecodedFrame implements Frame, FrameHeader {
  private bodyView: Buffer | undefined = undefined;

  constructor(
    readonly bytes: Buffer,
    private readonly arrayBuffer: ArrayBufferLike,
    /** A DataView of all of `bytes`' ArrayBuffer (shared by the frames of a chunk). */
    readonly memory: DataView,
    /** Where `bytes` starts in `memory`. */
    readonly memoryOffset: number,
    /** The flag byte: request, two-way, event and serialization bits. */
    private readonly flag: number,
    readonly status: number,
    /** The request id as read when the frame was decoded (an in-place rewrite of `bytes` later does not change it). */
    private readonly idHigh: number,
    private readonly idLow: number,
    readonly bodyLength: number,
  ) {}

  get isRequest(): boolean {
    return (this.flag & Flag.REQUEST) !== 0;
  }

  get twoWay(): boolean {
    return (this.flag & (Flag.REQUEST | Flag.TWO_WAY)) === (Flag.REQUEST | Flag.TWO_WAY);
  }

  get event(): boolean {
    return (this.flag & Flag.EVENT) !== 0;
  }

  get serializationId(): number {
    return this.flag & Flag.SERIALIZATION_MASK;
  }

  get header(): FrameHeader {
    return this;
  }

  get requestId(): bigint {
    return BigInt.asIntN(64, (BigInt(this.idHigh) << 32n) | BigInt(this.idLow));
  }

  get body(): Buffer {
    return (this.bodyView ??= viewOf(this.arrayBuffer, this.memoryOffset + HEADER_LENGTH, this.bodyLength));
  }
}

/** Result of {@link decodeFrame}: a frame and where the next one starts, or how many bytes are missing. */
export type DecodeFrameResult =
  { readonly kind: 'frame'; readonly frame: Frame; readonly nextOffset: number } | { readonly kind: 'need-more'; readonly missing: number };

/**
 * Check the bytes that are there of a header: the magic as soon as it is there, the body
 * length as soon as the header is whole. Throws before the body is buffered, so a peer
 * cannot make us hold more than the payload limit.
 */
function checkHeaderPrefix(buffer: Buffer, offset: number, available: number, maxPayload: number): FrameHeader | undefined {
  if (available >= 1 && buffer[offset] !== MAGIC_HIGH) throw new BadMagicError((buffer[offset]! << 8) | (available >= 2 ? buffer[offset + 1]! : 0));
  if (available >= 2 && buffer[offset + 1] !== MAGIC_LOW) throw new BadMagicError((buffer[offset]! << 8) | buffer[offset + 1]!);
  if (available < HEADER_LENGTH) return undefined;
  const header = readHeader(buffer, offset);
  if (header.bodyLength < 0 || header.bodyLength > maxPayload) throw new PayloadTooLargeError(header.bodyLength, maxPayload);
  return header;
}

/**
 * Decode one frame from `buffer` starting at `offset`, without copying: the frame is a view
 * of `buffer`. Throws BadMagicError or PayloadTooLargeError.
 */
export function decodeFrame(buffer: Buffer, offset = 0, maxPayload = DEFAULT_MAX_PAYLOAD): DecodeFrameResult {
  const available = buffer.length - offset;
  const header = checkHeaderPrefix(buffer, offset, available, maxPayload);
  if (header === undefined) return { kind: 'need-more', missing: HEADER_LENGTH - available };
  const total = HEADER_LENGTH + header.bodyLength;
  if (available < total) return { kind: 'need-more', missing: total - available };
  const bytes = buffer.subarray(offset, offset + total);
  return { kind: 'frame', frame: { header, bytes, body: bytes.subarray(HEADER_LENGTH) }, nextOffset: offset + total };
}

/** Options of a {@link FrameDecoder}. */
export interface FrameDecoderOptions {
  /** Longest body accepted, in bytes. Default 8 MiB, as Dubbo's `payload`. */
  maxPayload?: number;
}

/**
 * A streaming frame decoder for one connection: `push()` chunks of any size, then call
 * `next()` until it returns undefined ("need more bytes").
 *
 * A frame inside one chunk is returned as a view of that chunk (no copy); a frame that spans
 * chunks is copied once into a buffer of its exact size. A bad magic number or an oversize
 * frame throws, and the decoder stays failed: the stream cannot be resynchronised, so the
 * owner closes that connection.
 */
export class FrameDecoder {
  readonly maxPayload: number;
  private chunks: Buffer[] = [];
  /** Read position inside chunks[0]. */
  private offset = 0;
  /** Where chunks[0] lies (read once per chunk: see {@link BufferView}). */
  private firstBuffer: ArrayBufferLike | undefined;
  private firstMemory: DataView | undefined;
  private firstByteOffset = 0;
  private buffered = 0;
  private failure: Error | undefined;

  constructor(options: FrameDecoderOptions = {}) {
    const maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    if (!Number.isInteger(maxPayload) || maxPayload < 0 || maxPayload > 0x7fffffff) {
      throw new RangeError(`maxPayload must be an integer from 0 to 2147483647, got ${maxPayload}`);
    }
    this.maxPayload = maxPayload;
  }

  /** Bytes received and not yet returned as frames. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /**
   * The size the frame at the front of the buffer will have once complete: its header's
   * length plus its declared body length, or the header length while fewer than 16 bytes are
   * here; 0 when nothing is buffered. For a caller that accounts for memory a peer makes it
   * hold (after {@link next} returned undefined, this is the incomplete frame's size).
   */
  get pendingFrameBytes(): number {
    if (this.buffered === 0 || this.failure !== undefined) return 0;
    if (this.buffered < HEADER_LENGTH) return HEADER_LENGTH;
    let length = 0;
    for (let i = 12; i < HEADER_LENGTH; i++) length = length * 256 + this.byteAt(i);
    return HEADER_LENGTH + length;
  }

  /** The buffered byte at `index` (< bufferedBytes), wherever its chunk is. */
  private byteAt(index: number): number {
    let at = this.offset + index;
    for (const chunk of this.chunks) {
      if (at < chunk.length) return chunk[at]!;
      at -= chunk.length;
    }
    return 0;
  }

  /** Add received bytes. */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.chunks.length === 0) this.setFirst(chunk);
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  private setFirst(chunk: Buffer | undefined): void {
    if (chunk === undefined) {
      this.firstBuffer = this.firstMemory = undefined;
      this.firstByteOffset = 0;
      return;
    }
    const arrayBuffer = chunk.buffer;
    this.firstBuffer = arrayBuffer;
    this.firstMemory = new DataView(arrayBuffer);
    this.firstByteOffset = chunk.byteOffset;
  }

  /** The next whole frame, or undefined when more bytes are needed. */
  next(): Frame | undefined {
    if (this.failure !== undefined) throw this.failure;
    if (this.buffered === 0) return undefined;
    try {
      return this.nextFrame();
    } catch (error) {
      this.failure = error as Error;
      this.chunks = [];
      this.setFirst(undefined);
      this.buffered = 0;
      this.offset = 0;
      throw error;
    }
  }

  private nextFrame(): Frame | undefined {
    // The header is read where it lies; only a header split across chunks is copied first.
    let source = this.chunks[0]!;
    let at = this.offset;
    if (source.length - at < HEADER_LENGTH) {
      source = this.copyBytes(Math.min(HEADER_LENGTH, this.buffered));
      at = 0;
      if (source.length < HEADER_LENGTH) {
        checkHeaderPrefix(source, 0, source.length, this.maxPayload);
        return undefined;
      }
    }
    if (source[at] !== MAGIC_HIGH || source[at + 1] !== MAGIC_LOW) throw new BadMagicError((source[at]! << 8) | source[at + 1]!);
    // Read by hand: Buffer's readers check their arguments on every call.
    const bodyLength = (source[at + 12]! << 24) | (source[at + 13]! << 16) | (source[at + 14]! << 8) | source[at + 15]!;
    if (bodyLength < 0 || bodyLength > this.maxPayload) throw new PayloadTooLargeError(bodyLength, this.maxPayload);
    const total = HEADER_LENGTH + bodyLength;
    if (this.buffered < total) return undefined;
    const flag = source[at + 2]!;
    const status = source[at + 3]!;
    const idHigh = ((source[at + 4]! << 24) | (source[at + 5]! << 16) | (source[at + 6]! << 8) | source[at + 7]!) >>> 0;
    const idLow = ((source[at + 8]! << 24) | (source[at + 9]! << 16) | (source[at + 10]! << 8) | source[at + 11]!) >>> 0;
    // A view, not a copy, unless the bytes span chunks.
    let frame: DecodedFrame;
    if (this.chunks[0]!.length - this.offset >= total) {
      const arrayBuffer = this.firstBuffer!;
      const byteOffset = this.firstByteOffset + this.offset;
      frame = new DecodedFrame(viewOf(arrayBuffer, byteOffset, total), arrayBuffer, this.firstMemory!, byteOffset, flag, status, idHigh, idLow, bodyLength);
    } else {
      const bytes = this.copyBytes(total);
      const arrayBuffer = bytes.buffer;
      frame = new DecodedFrame(bytes, arrayBuffer, new DataView(arrayBuffer), bytes.byteOffset, flag, status, idHigh, idLow, bodyLength);
    }
    this.consume(total);
    return frame;
  }

  /** A copy of the first `length` buffered bytes, which span chunks. */
  private copyBytes(length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    let written = 0;
    let offset = this.offset;
    for (const chunk of this.chunks) {
      const take = Math.min(chunk.length - offset, length - written);
      chunk.copy(out, written, offset, offset + take);
      written += take;
      offset = 0;
      if (written === length) break;
    }
    return out;
  }

  private consume(length: number): void {
    this.buffered -= length;
    let remaining = length;
    while (remaining > 0) {
      const first = this.chunks[0]!;
      const inFirst = first.length - this.offset;
      if (inFirst > remaining) {
        this.offset += remaining;
        return;
      }
      remaining -= inFirst;
      this.chunks.shift();
      this.setFirst(this.chunks[0]);
      this.offset = 0;
    }
  }
}

/** Fields of a frame to encode. */
export interface EncodeFrameInit {
  isRequest: boolean;
  requestId: bigint;
  body: Buffer;
  twoWay?: boolean;
  event?: boolean;
  status?: number;
  serializationId?: number;
}

/** Header and body in one new buffer. */
export function encodeFrame(init: EncodeFrameInit): Buffer {
  const out = Buffer.allocUnsafe(HEADER_LENGTH + init.body.length);
  writeHeader(
    {
      isRequest: init.isRequest,
      twoWay: init.twoWay ?? false,
      event: init.event ?? false,
      serializationId: init.serializationId ?? SerializationId.HESSIAN2,
      status: init.status ?? 0,
      requestId: init.requestId,
      bodyLength: init.body.length,
    },
    out,
    0,
  );
  init.body.copy(out, HEADER_LENGTH);
  return out;
}
