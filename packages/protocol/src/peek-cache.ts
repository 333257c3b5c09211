import type { HessianScanner, ScalarValue } from './hessian-scanner.js';

/** An attachment memo's entry for a key the attachments do not have. */
export const ABSENT = Symbol('absent');

/** The invocation head of a body: everything before the first argument. */
export interface Head {
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

/** The attachment map of a body, offsets relative to its start. */
export interface AttachmentMap {
  readonly entriesOffset: number;
  readonly end: number;
  readonly ranges: readonly number[];
  readonly memo: Map<string, ScalarValue | typeof ABSENT> | undefined;
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
export function dataViewOf(bytes: Buffer): DataView {
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

/** What walking attachments depends on besides their bytes: the class definitions, types and values before them. */
export function scannerState(scanner: HessianScanner): string {
  if (scanner.contextFree) return '';
  return `${scanner.classFieldCounts.join(',')}|${scanner.typeCount}|${scanner.referenceCount}`;
}
