import { HessianDecodeError, HessianLimitError, TruncatedError } from './errors.js';
import {
  BC_BINARY,
  BC_BINARY_CHUNK,
  BC_BINARY_DIRECT,
  BC_BINARY_DIRECT_HIGH,
  BC_BINARY_SHORT,
  BC_BINARY_SHORT_HIGH,
  BC_DATE,
  BC_DATE_MINUTE,
  BC_DOUBLE,
  BC_DOUBLE_BYTE,
  BC_DOUBLE_MILL,
  BC_DOUBLE_ONE,
  BC_DOUBLE_SHORT,
  BC_DOUBLE_ZERO,
  BC_END,
  BC_FALSE,
  BC_INT,
  BC_INT_BYTE_HIGH,
  BC_INT_BYTE_LOW,
  BC_INT_BYTE_ZERO,
  BC_INT_DIRECT_HIGH,
  BC_INT_DIRECT_LOW,
  BC_INT_SHORT_HIGH,
  BC_INT_SHORT_LOW,
  BC_INT_SHORT_ZERO,
  BC_INT_ZERO,
  BC_LIST_DIRECT,
  BC_LIST_DIRECT_HIGH,
  BC_LIST_DIRECT_UNTYPED,
  BC_LIST_DIRECT_UNTYPED_HIGH,
  BC_LIST_FIXED,
  BC_LIST_FIXED_UNTYPED,
  BC_LIST_VARIABLE,
  BC_LIST_VARIABLE_UNTYPED,
  BC_LONG,
  BC_LONG_BYTE_LOW,
  BC_LONG_BYTE_ZERO,
  BC_LONG_DIRECT_HIGH,
  BC_LONG_DIRECT_LOW,
  BC_LONG_INT,
  BC_LONG_SHORT_HIGH,
  BC_LONG_SHORT_LOW,
  BC_LONG_SHORT_ZERO,
  BC_LONG_ZERO,
  BC_MAP,
  BC_MAP_UNTYPED,
  BC_NULL,
  BC_OBJECT,
  BC_OBJECT_DEF,
  BC_OBJECT_DIRECT,
  BC_OBJECT_DIRECT_HIGH,
  BC_REF,
  BC_STRING,
  BC_STRING_CHUNK,
  BC_STRING_SHORT,
  BC_STRING_SHORT_HIGH,
  BC_TRUE,
  STRING_DIRECT_MAX,
} from './hessian-codes.js';

/** Safety bounds applied while reading untrusted Hessian2. */
export interface HessianLimits {
  /** Deepest nesting of lists, maps and objects. Default 64. */
  readonly maxDepth: number;
  /** Most elements in one list or entries in one map. Default 4,194,304. */
  readonly maxCollectionLength: number;
}

/** The default bounds: deep enough for real object graphs, shallow enough for the stack. */
export const DEFAULT_HESSIAN_LIMITS: HessianLimits = Object.freeze({ maxDepth: 64, maxCollectionLength: 4 * 1024 * 1024 });

/**
 * An attachment value that is not a scalar (a list, map or object). The peek does not build
 * it; it records where its bytes are so a rewrite can copy them unchanged.
 */
export class OpaqueValue {
  constructor(
    /** Offset of the value's first byte in the body. */
    readonly start: number,
    /** Offset just past the value. */
    readonly end: number,
  ) {}
}

/** A value the scanner reads without a full decoder. */
export type ScalarValue = string | number | boolean | null | Date | Buffer | OpaqueValue;

/**
 * Node's Buffer has a native `latin1Slice(start, end)` under its documented
 * `toString('latin1', start, end)`; calling it directly skips argument normalisation on the
 * hot path. Fall back to `toString` where it is missing.
 */
const nativeLatin1Slice = (Buffer.prototype as unknown as { latin1Slice?: (this: Buffer, start: number, end: number) => string }).latin1Slice;
function latin1Slice(buffer: Buffer, start: number, end: number): string {
  return nativeLatin1Slice !== undefined ? nativeLatin1Slice.call(buffer, start, end) : buffer.toString('latin1', start, end);
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);

/**
 * Walks Hessian2 bytes structurally: it skips values without building them, reads strings and
 * scalars, and keeps the state later values depend on (class definitions with their field
 * counts, the type list, the count of values a back-reference may name).
 *
 * Every bound is checked against the bytes that are there, so no declared length can make it
 * loop or allocate past the input; errors are typed (`TruncatedError`, `HessianDecodeError`,
 * `HessianLimitError`).
 */
export class HessianScanner {
  buffer: Buffer = Buffer.alloc(0);
  /** Read position. */
  position = 0;
  /** End of the readable range. */
  end = 0;
  /** Field count of each class definition seen, by definition index. */
  readonly classFieldCounts: number[] = [];
  /** How many types (list/map type strings) have been defined. */
  typeCount = 0;
  /** How many lists, maps and objects have been seen: the range a back-reference may name. */
  referenceCount = 0;
  private depth = 0;
  /** Whether the last string range read was pure ASCII. */
  private lastAscii = true;

  constructor(readonly limits: HessianLimits = DEFAULT_HESSIAN_LIMITS) {}

  /**
   * Where offsets are counted from in errors and {@link OpaqueValue}s: the start of the body
   * when the scanner reads a body inside a larger buffer (a whole frame).
   */
  origin = 0;

  /** Start reading `buffer` from `start` to `end` with fresh state; offsets are reported relative to `origin`. */
  reset(buffer: Buffer, start = 0, end = buffer.length, origin = 0): this {
    this.buffer = buffer;
    this.position = start;
    this.end = end;
    this.origin = origin;
    if (this.classFieldCounts.length !== 0) this.classFieldCounts.length = 0;
    this.typeCount = 0;
    this.referenceCount = 0;
    this.depth = 0;
    return this;
  }

  /** Whether anything is left to read. */
  get atEnd(): boolean {
    return this.position >= this.end;
  }

  /** Whether the state a later value may depend on is still empty (no classes, types or referable values). */
  get contextFree(): boolean {
    return this.classFieldCounts.length === 0 && this.typeCount === 0 && this.referenceCount === 0;
  }

  /** The next byte, without consuming it. */
  peekByte(): number {
    if (this.position >= this.end) throw new TruncatedError('hessian value', this.position - this.origin);
    return this.buffer[this.position]!;
  }

  private byte(): number {
    if (this.position >= this.end) throw new TruncatedError('hessian value', this.position - this.origin);
    return this.buffer[this.position++]!;
  }

  private need(count: number, what: string): void {
    if (this.end - this.position < count) throw new TruncatedError(what, this.position - this.origin);
  }

  private uint16(): number {
    this.need(2, 'hessian length');
    const value = (this.buffer[this.position]! << 8) | this.buffer[this.position + 1]!;
    this.position += 2;
    return value;
  }

  private int32(): number {
    this.need(4, 'hessian int');
    const value = this.buffer.readInt32BE(this.position);
    this.position += 4;
    return value;
  }

  private unexpected(code: number, expected: string): never {
    throw new HessianDecodeError(
      `unexpected hessian code 0x${code.toString(16).padStart(2, '0')} at offset ${this.position - 1 - this.origin}, expected ${expected}`,
    );
  }

  /** Skip `chars` UTF-16 units of UTF-8 data; remembers whether they were all ASCII. */
  private skipChars(chars: number): void {
    const buffer = this.buffer;
    const end = this.end;
    let position = this.position;
    // Fast path: the chars are all ASCII, one byte each (nearly every name and key on the wire).
    const asciiEnd = position + chars;
    if (asciiEnd <= end) {
      let index = position;
      while (index < asciiEnd && buffer[index]! < 0x80) index += 1;
      if (index === asciiEnd) {
        this.position = asciiEnd;
        this.lastAscii = true;
        return;
      }
    }
    let ascii = true;
    let remaining = chars;
    while (remaining > 0) {
      if (position >= end) throw new TruncatedError('hessian string', position - this.origin);
      const lead = buffer[position]!;
      if (lead < 0x80) {
        position += 1;
      } else {
        ascii = false;
        let length: number;
        if ((lead & 0xe0) === 0xc0) length = 2;
        else if ((lead & 0xf0) === 0xe0) length = 3;
        else if ((lead & 0xf8) === 0xf0) {
          // A 4-byte sequence is one code point: two UTF-16 units.
          length = 4;
          remaining -= 1;
        } else throw new HessianDecodeError(`bad UTF-8 lead byte 0x${lead.toString(16)} at offset ${position - this.origin}`);
        if (position + length > end) throw new TruncatedError('hessian string', position - this.origin);
        for (let i = 1; i < length; i++) {
          if ((buffer[position + i]! & 0xc0) !== 0x80) {
            throw new HessianDecodeError(`bad UTF-8 continuation byte 0x${buffer[position + i]!.toString(16)} at offset ${position + i - this.origin}`);
          }
        }
        position += length;
      }
      remaining -= 1;
    }
    if (remaining < 0) throw new HessianDecodeError(`string length splits a 4-byte UTF-8 sequence at offset ${position - this.origin}`);
    this.position = position;
    this.lastAscii = ascii;
  }

  /**
   * Read the length of the next string chunk. Returns the char count, negative (-count - 1)
   * for a non-final chunk. Throws if the next value is not a string.
   */
  private stringChunkLength(code: number): number {
    if (code <= STRING_DIRECT_MAX) return code;
    if (code >= BC_STRING_SHORT && code <= BC_STRING_SHORT_HIGH) return ((code - BC_STRING_SHORT) << 8) | this.byte();
    if (code === BC_STRING) return this.uint16();
    if (code === BC_STRING_CHUNK) return -this.uint16() - 1;
    return this.unexpected(code, 'a string');
  }

  /** Whether the next value is a string. */
  nextIsString(): boolean {
    const code = this.peekByte();
    return code <= STRING_DIRECT_MAX || (code >= BC_STRING_SHORT && code <= BC_STRING_SHORT_HIGH) || code === BC_STRING_CHUNK || code === BC_STRING;
  }

  /** Read a string value (all its chunks). */
  readString(): string {
    let result = '';
    for (;;) {
      let length = this.stringChunkLength(this.byte());
      const final = length >= 0;
      if (!final) length = -length - 1;
      const start = this.position;
      this.skipChars(length);
      result += this.lastAscii ? latin1Slice(this.buffer, start, this.position) : decodeModifiedUtf8(this.buffer, start, this.position);
      if (final) return result;
    }
  }

  /** Skip a string value (all its chunks). */
  skipString(): void {
    for (;;) {
      let length = this.stringChunkLength(this.byte());
      const final = length >= 0;
      if (!final) length = -length - 1;
      this.skipChars(length);
      if (final) return;
    }
  }

  /**
   * Skip a string and tell whether it was one chunk of pure ASCII; if so its characters are
   * the bytes [position - byteLength, position), readable without building the string.
   */
  skipStringIsPlainAscii(): boolean {
    const code = this.peekByte();
    const single = code <= STRING_DIRECT_MAX || (code >= BC_STRING_SHORT && code <= BC_STRING_SHORT_HIGH) || code === BC_STRING;
    this.skipString();
    return single && this.lastAscii;
  }

  /**
   * Read a scalar from a value known to span [start, end), without context: a list, map or
   * object there comes back as an {@link OpaqueValue} rather than being walked (its class
   * definitions may live in earlier values).
   */
  readScalarAt(start: number, end: number): ScalarValue {
    const code = this.buffer[start]!;
    const container =
      (code >= BC_LIST_VARIABLE && code <= BC_LIST_FIXED_UNTYPED) ||
      code === BC_MAP_UNTYPED ||
      code === BC_MAP ||
      code === BC_OBJECT_DEF ||
      code === BC_OBJECT ||
      code === BC_REF ||
      (code >= BC_OBJECT_DIRECT && code <= BC_LIST_DIRECT_UNTYPED_HIGH);
    if (container) return new OpaqueValue(start - this.origin, end - this.origin);
    this.position = start;
    this.end = end;
    return this.readScalar();
  }

  /** Read an int value (any of its encodings). */
  readInt(): number {
    const code = this.byte();
    if (code >= BC_INT_DIRECT_LOW && code <= BC_INT_DIRECT_HIGH) return code - BC_INT_ZERO;
    if (code >= BC_INT_BYTE_LOW && code <= BC_INT_BYTE_HIGH) return ((code - BC_INT_BYTE_ZERO) << 8) + this.byte();
    if (code >= BC_INT_SHORT_LOW && code <= BC_INT_SHORT_HIGH) {
      this.need(2, 'hessian int');
      const value = ((code - BC_INT_SHORT_ZERO) << 16) + (this.buffer[this.position]! << 8) + this.buffer[this.position + 1]!;
      this.position += 2;
      return value;
    }
    if (code === BC_INT) return this.int32();
    return this.unexpected(code, 'an int');
  }

  /** A count read from the input, checked against the bytes left (each element takes at least one). */
  private readLength(what: string): number {
    const length = this.readInt();
    this.checkLength(length, what);
    return length;
  }

  private checkLength(length: number, what: string): void {
    if (length < 0) throw new HessianDecodeError(`negative ${what} length ${length} at offset ${this.position - this.origin}`);
    if (length > this.limits.maxCollectionLength) {
      throw new HessianLimitError(`${what} of ${length} elements exceeds the limit of ${this.limits.maxCollectionLength}`);
    }
    if (length > this.end - this.position) throw new TruncatedError(what, this.position - this.origin);
  }

  /** A list or map type: a type string (defining a new type) or a reference to an earlier one. */
  private skipType(): void {
    if (this.nextIsString()) {
      this.skipString();
      this.typeCount += 1;
      return;
    }
    const reference = this.readInt();
    if (reference < 0 || reference >= this.typeCount) {
      throw new HessianDecodeError(`type reference ${reference} at offset ${this.position - this.origin} names no defined type (${this.typeCount} defined)`);
    }
  }

  private enter(): void {
    this.depth += 1;
    if (this.depth > this.limits.maxDepth) throw new HessianLimitError(`nesting deeper than ${this.limits.maxDepth} at offset ${this.position - this.origin}`);
  }

  private skipUntilTerminator(perEntry: number, what: string): void {
    let count = 0;
    while (this.peekByte() !== BC_END) {
      if (++count > this.limits.maxCollectionLength) {
        throw new HessianLimitError(`${what} of more than ${this.limits.maxCollectionLength} elements`);
      }
      for (let i = 0; i < perEntry; i++) this.skipValue();
    }
    this.position += 1;
  }

  private skipItems(count: number): void {
    for (let i = 0; i < count; i++) this.skipValue();
  }

  private skipObjectInstance(definition: number): void {
    const fields = this.classFieldCounts[definition];
    if (fields === undefined) {
      throw new HessianDecodeError(
        `object at offset ${this.position - this.origin} names class definition ${definition}, but ${this.classFieldCounts.length} are defined`,
      );
    }
    this.referenceCount += 1;
    this.enter();
    this.skipItems(fields);
    this.depth -= 1;
  }

  private skipBinaryChunks(code: number): void {
    for (;;) {
      if (code >= BC_BINARY_DIRECT && code <= BC_BINARY_DIRECT_HIGH) return this.skipBytes(code - BC_BINARY_DIRECT);
      if (code >= BC_BINARY_SHORT && code <= BC_BINARY_SHORT_HIGH) return this.skipBytes(((code - BC_BINARY_SHORT) << 8) | this.byte());
      if (code === BC_BINARY) return this.skipBytes(this.uint16());
      if (code !== BC_BINARY_CHUNK) this.unexpected(code, 'a binary chunk');
      this.skipBytes(this.uint16());
      code = this.byte();
    }
  }

  private skipBytes(count: number): void {
    this.need(count, 'hessian value');
    this.position += count;
  }

  /** Skip one whole value of any kind, without building it. */
  skipValue(): void {
    const code = this.byte();
    if (code >= BC_INT_DIRECT_LOW) {
      // Compact ints and longs.
      if (code <= BC_INT_DIRECT_HIGH || (code >= BC_LONG_DIRECT_LOW && code <= BC_LONG_DIRECT_HIGH)) return;
      if (code <= BC_INT_BYTE_HIGH || code >= BC_LONG_BYTE_LOW) return this.skipBytes(1);
      return this.skipBytes(2); // BC_INT_SHORT_LOW to BC_INT_SHORT_HIGH
    }
    if (code <= STRING_DIRECT_MAX) return this.skipChars(code);
    if (code <= BC_BINARY_DIRECT_HIGH) return this.skipBytes(code - BC_BINARY_DIRECT);
    if (code <= BC_STRING_SHORT_HIGH) return this.skipChars(((code - BC_STRING_SHORT) << 8) | this.byte());
    if (code <= BC_BINARY_SHORT_HIGH) return this.skipBytes(((code - BC_BINARY_SHORT) << 8) | this.byte());
    if (code <= BC_LONG_SHORT_HIGH) return this.skipBytes(2); // three-byte compact long
    if (code >= BC_OBJECT_DIRECT && code <= BC_OBJECT_DIRECT_HIGH) return this.skipObjectInstance(code - BC_OBJECT_DIRECT);
    if (code >= BC_LIST_DIRECT && code <= BC_LIST_DIRECT_HIGH) {
      this.referenceCount += 1;
      this.enter();
      this.skipType();
      this.checkLength(code - BC_LIST_DIRECT, 'list');
      this.skipItems(code - BC_LIST_DIRECT);
      this.depth -= 1;
      return;
    }
    if (code >= BC_LIST_DIRECT_UNTYPED) {
      this.referenceCount += 1;
      this.enter();
      this.checkLength(code - BC_LIST_DIRECT_UNTYPED, 'list');
      this.skipItems(code - BC_LIST_DIRECT_UNTYPED);
      this.depth -= 1;
      return;
    }
    switch (code) {
      case BC_BINARY_CHUNK:
      case BC_BINARY:
        return this.skipBinaryChunks(code);
      case BC_OBJECT_DEF: {
        // Class definition: name, field count, field names; then the value that uses it.
        this.skipString();
        const fields = this.readLength('class definition');
        for (let i = 0; i < fields; i++) this.skipString();
        this.classFieldCounts.push(fields);
        return this.skipValue();
      }
      case BC_DOUBLE:
      case BC_DATE:
      case BC_LONG:
        return this.skipBytes(8);
      case BC_FALSE:
      case BC_NULL:
      case BC_TRUE:
      case BC_DOUBLE_ZERO:
      case BC_DOUBLE_ONE:
        return;
      case BC_MAP_UNTYPED:
        this.referenceCount += 1;
        this.enter();
        this.skipUntilTerminator(2, 'map');
        this.depth -= 1;
        return;
      case BC_INT:
      case BC_DATE_MINUTE:
      case BC_LONG_INT:
      case BC_DOUBLE_MILL:
        return this.skipBytes(4);
      case BC_MAP:
        this.referenceCount += 1;
        this.enter();
        this.skipType();
        this.skipUntilTerminator(2, 'map');
        this.depth -= 1;
        return;
      case BC_OBJECT:
        return this.skipObjectInstance(this.readInt());
      case BC_REF: {
        const reference = this.readInt();
        if (reference < 0 || reference >= this.referenceCount) {
          throw new HessianDecodeError(
            `back-reference ${reference} at offset ${this.position - this.origin} names no earlier value (${this.referenceCount} referable)`,
          );
        }
        return;
      }
      case BC_STRING_CHUNK:
      case BC_STRING:
        this.position -= 1;
        return this.skipString();
      case BC_LIST_VARIABLE:
        this.referenceCount += 1;
        this.enter();
        this.skipType();
        this.skipUntilTerminator(1, 'list');
        this.depth -= 1;
        return;
      case BC_LIST_FIXED: {
        this.referenceCount += 1;
        this.enter();
        this.skipType();
        this.skipItems(this.readLength('list'));
        this.depth -= 1;
        return;
      }
      case BC_LIST_VARIABLE_UNTYPED:
        this.referenceCount += 1;
        this.enter();
        this.skipUntilTerminator(1, 'list');
        this.depth -= 1;
        return;
      case BC_LIST_FIXED_UNTYPED: {
        this.referenceCount += 1;
        this.enter();
        this.skipItems(this.readLength('list'));
        this.depth -= 1;
        return;
      }
      case BC_DOUBLE_BYTE:
        return this.skipBytes(1);
      case BC_DOUBLE_SHORT:
        return this.skipBytes(2);
      default:
        // 0x40, 0x45, 0x47, 0x50 are reserved; BC_END ends a list or map and is no value.
        return this.unexpected(code, 'a value');
    }
  }

  /**
   * Read a scalar (string, int, long, double, boolean, null, date, binary) as hessian.js
   * would decode it; lists, maps and objects are skipped and returned as an {@link OpaqueValue}.
   */
  readScalar(): ScalarValue {
    const start = this.position;
    const code = this.peekByte();
    if (code <= STRING_DIRECT_MAX || (code >= BC_STRING_SHORT && code <= BC_STRING_SHORT_HIGH) || code === BC_STRING_CHUNK || code === BC_STRING)
      return this.readString();
    if ((code >= BC_INT_DIRECT_LOW && code <= BC_INT_SHORT_HIGH) || code === BC_INT) return this.readInt();
    if (code >= BC_LONG_DIRECT_LOW || (code >= BC_LONG_SHORT_LOW && code <= BC_LONG_SHORT_HIGH) || code === BC_LONG_INT || code === BC_LONG)
      return this.readLong();
    this.position += 1;
    switch (code) {
      case BC_NULL:
        return null;
      case BC_TRUE:
        return true;
      case BC_FALSE:
        return false;
      case BC_DOUBLE:
        this.need(8, 'hessian double');
        this.position += 8;
        return this.buffer.readDoubleBE(this.position - 8);
      case BC_DOUBLE_ZERO:
        return 0;
      case BC_DOUBLE_ONE:
        return 1;
      case BC_DOUBLE_BYTE:
        this.need(1, 'hessian double');
        this.position += 1;
        return this.buffer.readInt8(this.position - 1);
      case BC_DOUBLE_SHORT:
        this.need(2, 'hessian double');
        this.position += 2;
        return this.buffer.readInt16BE(this.position - 2);
      case BC_DOUBLE_MILL:
        return this.int32() * 0.001;
      case BC_DATE:
        this.need(8, 'hessian date');
        this.position += 8;
        return new Date(Number(this.buffer.readBigInt64BE(this.position - 8)));
      case BC_DATE_MINUTE:
        return new Date(this.int32() * 60000);
      default:
        this.position = start;
        if (
          (code >= BC_BINARY_DIRECT && code <= BC_BINARY_DIRECT_HIGH) ||
          (code >= BC_BINARY_SHORT && code <= BC_BINARY_SHORT_HIGH) ||
          code === BC_BINARY_CHUNK ||
          code === BC_BINARY
        ) {
          this.skipValue();
          return readBinaryValue(this.buffer, start, this.position);
        }
        this.skipValue();
        return new OpaqueValue(start - this.origin, this.position - this.origin);
    }
  }

  /** Read a long; safe integers as numbers, others as decimal strings (as hessian.js does). */
  readLong(): number | string {
    const code = this.byte();
    if (code >= BC_LONG_DIRECT_LOW && code <= BC_LONG_DIRECT_HIGH) return code - BC_LONG_ZERO;
    if (code >= BC_LONG_BYTE_LOW) return ((code - BC_LONG_BYTE_ZERO) << 8) + this.byte();
    if (code >= BC_LONG_SHORT_LOW && code <= BC_LONG_SHORT_HIGH) {
      this.need(2, 'hessian long');
      const value = ((code - BC_LONG_SHORT_ZERO) << 16) + (this.buffer[this.position]! << 8) + this.buffer[this.position + 1]!;
      this.position += 2;
      return value;
    }
    if (code === BC_LONG_INT) return this.int32();
    if (code === BC_LONG) {
      this.need(8, 'hessian long');
      const high = this.buffer.readInt32BE(this.position);
      const low = this.buffer.readUInt32BE(this.position + 4);
      this.position += 8;
      if (high >= -0x200000 && high < 0x200000) return high * 0x100000000 + low;
      const big = (BigInt(high) << 32n) | BigInt(low);
      return big > MAX_SAFE || big < MIN_SAFE ? big.toString() : Number(big);
    }
    return this.unexpected(code, 'a long');
  }
}

/** The bytes of a binary value spanning [start, end), with its chunk headers removed. */
function readBinaryValue(buffer: Buffer, start: number, end: number): Buffer {
  const parts: Buffer[] = [];
  let position = start;
  while (position < end) {
    const code = buffer[position++]!;
    let length: number;
    if (code >= BC_BINARY_DIRECT && code <= BC_BINARY_DIRECT_HIGH) length = code - BC_BINARY_DIRECT;
    else if (code >= BC_BINARY_SHORT && code <= BC_BINARY_SHORT_HIGH) length = ((code - BC_BINARY_SHORT) << 8) | buffer[position++]!;
    else {
      length = (buffer[position]! << 8) | buffer[position + 1]!;
      position += 2;
    }
    parts.push(buffer.subarray(position, position + length));
    position += length;
  }
  return Buffer.concat(parts);
}

/**
 * Decode the UTF-8 that Java's Hessian writes: every UTF-16 unit encoded on its own, so
 * characters outside the BMP arrive as two 3-byte surrogates (which a strict UTF-8 decoder
 * rejects). Standard 4-byte sequences are accepted too.
 */
export function decodeModifiedUtf8(buffer: Buffer, start: number, end: number): string {
  const units: number[] = [];
  let position = start;
  while (position < end) {
    const lead = buffer[position]!;
    if (lead < 0x80) {
      units.push(lead);
      position += 1;
    } else if ((lead & 0xe0) === 0xc0) {
      units.push(((lead & 0x1f) << 6) | (buffer[position + 1]! & 0x3f));
      position += 2;
    } else if ((lead & 0xf0) === 0xe0) {
      units.push(((lead & 0x0f) << 12) | ((buffer[position + 1]! & 0x3f) << 6) | (buffer[position + 2]! & 0x3f));
      position += 3;
    } else {
      const point = ((lead & 0x07) << 18) | ((buffer[position + 1]! & 0x3f) << 12) | ((buffer[position + 2]! & 0x3f) << 6) | (buffer[position + 3]! & 0x3f);
      const offset = point - 0x10000;
      units.push(0xd800 + (offset >> 10), 0xdc00 + (offset & 0x3ff));
      position += 4;
    }
  }
  let result = '';
  for (let i = 0; i < units.length; i += 4096) result += String.fromCharCode(...units.slice(i, i + 4096));
  return result;
}
