import { Flag, HEADER_LENGTH, MAGIC, MAGIC_HIGH, MAGIC_LOW } from './constants.js';
import { BadMagicError, EncodeError } from './errors.js';

/** The 16-byte frame header, decoded. */
export interface FrameHeader {
  /** Request (true) or response (false): flag bit 0x80. */
  readonly isRequest: boolean;
  /** The caller waits for a response: flag bit 0x40 (requests only). */
  readonly twoWay: boolean;
  /** Heartbeat or READONLY event: flag bit 0x20. */
  readonly event: boolean;
  /** Serialization id: the low five bits of the flag byte. */
  readonly serializationId: number;
  /** Response status (byte 3); 0 on requests. */
  readonly status: number;
  /** The signed 64-bit request id. */
  readonly requestId: bigint;
  /** Length of the body that follows the header. */
  readonly bodyLength: number;
}

/** Fields of a header to encode; omitted ones default to 0 / false. */
export interface FrameHeaderInit {
  isRequest: boolean;
  twoWay?: boolean;
  event?: boolean;
  serializationId: number;
  status?: number;
  requestId: bigint;
  bodyLength: number;
}

/** Read the flag byte into its parts. */
export function flagByte(init: Pick<FrameHeaderInit, 'isRequest' | 'twoWay' | 'event' | 'serializationId'>): number {
  if (!Number.isInteger(init.serializationId) || init.serializationId < 0 || init.serializationId > Flag.SERIALIZATION_MASK) {
    throw new EncodeError(`serialization id ${init.serializationId} does not fit in 5 bits`);
  }
  return (init.isRequest ? Flag.REQUEST : 0) | (init.isRequest && init.twoWay ? Flag.TWO_WAY : 0) | (init.event ? Flag.EVENT : 0) | init.serializationId;
}

/**
 * Write a header into `target` at `offset` (16 bytes). Returns `target`.
 * Throws EncodeError for values that do not fit their fields.
 */
export function writeHeader(init: FrameHeaderInit, target: Buffer = Buffer.allocUnsafe(HEADER_LENGTH), offset = 0): Buffer {
  const status = init.status ?? 0;
  if (!Number.isInteger(status) || status < 0 || status > 0xff) throw new EncodeError(`status ${status} does not fit in one byte`);
  if (!Number.isInteger(init.bodyLength) || init.bodyLength < 0 || init.bodyLength > 0x7fffffff) {
    throw new EncodeError(`body length ${init.bodyLength} does not fit in a signed 32-bit field`);
  }
  target[offset] = MAGIC_HIGH;
  target[offset + 1] = MAGIC_LOW;
  target[offset + 2] = flagByte(init);
  target[offset + 3] = status;
  target.writeBigInt64BE(BigInt.asIntN(64, init.requestId), offset + 4);
  target.writeInt32BE(init.bodyLength, offset + 12);
  return target;
}

/**
 * Decode the header at `offset`. The caller guarantees 16 readable bytes.
 * Throws BadMagicError when the frame does not start with 0xdabb.
 */
export function readHeader(buffer: Buffer, offset = 0): FrameHeader {
  const magic = (buffer[offset]! << 8) | buffer[offset + 1]!;
  if (magic !== MAGIC) throw new BadMagicError(magic);
  const flag = buffer[offset + 2]!;
  const isRequest = (flag & Flag.REQUEST) !== 0;
  return {
    isRequest,
    twoWay: isRequest && (flag & Flag.TWO_WAY) !== 0,
    event: (flag & Flag.EVENT) !== 0,
    serializationId: flag & Flag.SERIALIZATION_MASK,
    status: buffer[offset + 3]!,
    requestId: buffer.readBigInt64BE(offset + 4),
    bodyLength: buffer.readInt32BE(offset + 12),
  };
}

/** Overwrite the request id of the frame at `offset` in place (the proxy's id rewrite). */
export function writeRequestId(buffer: Buffer, requestId: bigint, offset = 0): void {
  buffer.writeBigInt64BE(BigInt.asIntN(64, requestId), offset + 4);
}

/** Read the request id of the frame at `offset`. */
export function readRequestId(buffer: Buffer, offset = 0): bigint {
  return buffer.readBigInt64BE(offset + 4);
}

/**
 * The request id of the frame starting at 0 as two unsigned 32-bit words, read without a
 * BigInt and without Buffer's argument checks (a proxy reads and writes ids on every call).
 */
export function requestIdHigh(bytes: Uint8Array): number {
  return ((bytes[4]! << 24) | (bytes[5]! << 16) | (bytes[6]! << 8) | bytes[7]!) >>> 0;
}

/** The low word of the request id (see {@link requestIdHigh}). */
export function requestIdLow(bytes: Uint8Array): number {
  return ((bytes[8]! << 24) | (bytes[9]! << 16) | (bytes[10]! << 8) | bytes[11]!) >>> 0;
}

/** Overwrite the request id of the frame starting at 0 with two 32-bit words, in place. */
export function writeRequestIdWords(bytes: Uint8Array, high: number, low: number): void {
  bytes[4] = high >>> 24;
  bytes[5] = high >>> 16;
  bytes[6] = high >>> 8;
  bytes[7] = high;
  bytes[8] = low >>> 24;
  bytes[9] = low >>> 16;
  bytes[10] = low >>> 8;
  bytes[11] = low;
}
