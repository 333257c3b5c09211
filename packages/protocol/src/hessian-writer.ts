import {
  BC_DOUBLE,
  BC_FALSE,
  BC_INT,
  BC_INT_BYTE_ZERO,
  BC_INT_SHORT_ZERO,
  BC_INT_ZERO,
  BC_LONG,
  BC_NULL,
  BC_STRING,
  BC_STRING_CHUNK,
  BC_STRING_SHORT,
  BC_TRUE,
  INT_BYTE_MAX,
  INT_BYTE_MIN,
  INT_DIRECT_MAX,
  INT_DIRECT_MIN,
  INT_SHORT_MAX,
  INT_SHORT_MIN,
  STRING_DIRECT_MAX,
  STRING_SHORT_MAX,
} from './hessian-codes.js';
import { EncodeError } from './errors.js';

/** A scalar this package encodes on its own (attachment values). */
export type WritableScalar = string | number | bigint | boolean | null;

/** Java's Hessian2Output writes strings in chunks of this many UTF-16 units. */
const STRING_CHUNK = 0x8000;

function utf8Length(value: string, start: number, end: number): number {
  let bytes = 0;
  for (let i = start; i < end; i++) {
    const unit = value.charCodeAt(i);
    bytes += unit < 0x80 ? 1 : unit < 0x800 ? 2 : 3;
  }
  return bytes;
}

function writeUnits(value: string, start: number, end: number, out: Buffer, offset: number): number {
  for (let i = start; i < end; i++) {
    const unit = value.charCodeAt(i);
    if (unit < 0x80) {
      out[offset++] = unit;
    } else if (unit < 0x800) {
      out[offset++] = 0xc0 | (unit >> 6);
      out[offset++] = 0x80 | (unit & 0x3f);
    } else {
      // Each UTF-16 unit on its own, surrogates included, as Java's Hessian writes and reads.
      out[offset++] = 0xe0 | (unit >> 12);
      out[offset++] = 0x80 | ((unit >> 6) & 0x3f);
      out[offset++] = 0x80 | (unit & 0x3f);
    }
  }
  return offset;
}

/** Encode a Hessian2 string (compact forms for short strings, chunks for long ones). */
export function encodeHessianString(value: string): Buffer {
  const parts: Buffer[] = [];
  let start = 0;
  for (;;) {
    let end = Math.min(value.length, start + STRING_CHUNK);
    // Never split a surrogate pair across chunks.
    if (end < value.length && (value.charCodeAt(end - 1) & 0xfc00) === 0xd800) end -= 1;
    const final = end === value.length;
    const units = end - start;
    const header = !final ? 3 : units <= STRING_DIRECT_MAX ? 1 : units <= STRING_SHORT_MAX ? 2 : 3;
    const out = Buffer.allocUnsafe(header + utf8Length(value, start, end));
    if (!final) {
      out[0] = BC_STRING_CHUNK;
      out.writeUInt16BE(units, 1);
    } else if (units <= STRING_DIRECT_MAX) {
      out[0] = units;
    } else if (units <= STRING_SHORT_MAX) {
      out[0] = BC_STRING_SHORT + (units >> 8);
      out[1] = units & 0xff;
    } else {
      out[0] = BC_STRING;
      out.writeUInt16BE(units, 1);
    }
    writeUnits(value, start, end, out, header);
    parts.push(out);
    if (final) return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    start = end;
  }
}

/** Encode a Hessian2 int (compact forms where they fit). */
export function encodeHessianInt(value: number): Buffer {
  if (value >= INT_DIRECT_MIN && value <= INT_DIRECT_MAX) return Buffer.from([BC_INT_ZERO + value]);
  if (value >= INT_BYTE_MIN && value <= INT_BYTE_MAX) return Buffer.from([BC_INT_BYTE_ZERO + (value >> 8), value & 0xff]);
  if (value >= INT_SHORT_MIN && value <= INT_SHORT_MAX) return Buffer.from([BC_INT_SHORT_ZERO + (value >> 16), (value >> 8) & 0xff, value & 0xff]);
  const out = Buffer.allocUnsafe(5);
  out[0] = BC_INT;
  out.writeInt32BE(value, 1);
  return out;
}

/** Encode a Hessian2 long in its 8-byte form. */
export function encodeHessianLong(value: bigint): Buffer {
  const out = Buffer.allocUnsafe(9);
  out[0] = BC_LONG;
  out.writeBigInt64BE(BigInt.asIntN(64, value), 1);
  return out;
}

/** Encode one scalar: strings, booleans, null, numbers (int, long or double as they fit), bigints (long). */
export function encodeHessianScalar(value: WritableScalar): Buffer {
  if (value === null) return Buffer.from([BC_NULL]);
  switch (typeof value) {
    case 'string':
      return encodeHessianString(value);
    case 'boolean':
      return Buffer.from([value ? BC_TRUE : BC_FALSE]);
    case 'bigint':
      if (value < -(1n << 63n) || value >= 1n << 63n) throw new EncodeError(`bigint ${value} does not fit a Java long`);
      return encodeHessianLong(value);
    case 'number': {
      if (Number.isInteger(value) && value >= -0x80000000 && value <= 0x7fffffff) return encodeHessianInt(value);
      if (Number.isSafeInteger(value)) return encodeHessianLong(BigInt(value));
      const out = Buffer.allocUnsafe(9);
      out[0] = BC_DOUBLE;
      out.writeDoubleBE(value, 1);
      return out;
    }
    default:
      throw new EncodeError(`cannot encode a ${typeof value} as a hessian scalar`);
  }
}
