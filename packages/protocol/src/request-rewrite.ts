import { HEADER_LENGTH } from './constants.js';
import { AttachmentRewriteError, PayloadTooLargeError } from './errors.js';
import {
  BC_END,
  BC_LIST_DIRECT,
  BC_LIST_DIRECT_UNTYPED_HIGH,
  BC_LIST_FIXED_UNTYPED,
  BC_LIST_VARIABLE,
  BC_MAP,
  BC_MAP_UNTYPED,
  BC_NULL,
  BC_OBJECT,
  BC_OBJECT_DEF,
  BC_OBJECT_DIRECT,
  BC_OBJECT_DIRECT_HIGH,
  BC_REF,
} from './hessian-codes.js';
import { HessianScanner } from './hessian-scanner.js';
import { encodeHessianScalar, encodeHessianString, type WritableScalar } from './hessian-writer.js';
import type { RequestPeek } from './request-peek.js';

/** Reads attachment keys for a rewrite. */
const keyScanner = new HessianScanner();
/** Walks a body for the Hessian state attachment values define (only when a change may shift it). */
const stateScanner = new HessianScanner();

/** Attachment changes: a value sets the key, `undefined` removes it. */
export type AttachmentChanges = Readonly<Record<string, WritableScalar | undefined>> | ReadonlyMap<string, WritableScalar | undefined>;

/**
 * A new body with attachments set (a value) or removed (`undefined`). The invocation and
 * argument bytes, and every attachment not named, are copied unchanged; new keys go last.
 * A body whose attachments are null or absent gets a map.
 *
 * Hessian numbers class definitions, types and referable values (maps, lists, objects) in
 * the order they appear, and later values name them by that number. A removed or replaced
 * value that defined any of them, followed by a copied value that could name one (a map,
 * list, object or back-reference: strings and numbers name nothing), would shift those
 * numbers and silently change the later value: such a change throws
 * `AttachmentRewriteError` naming the attachment (new values are scalars and define nothing).
 */
export function rewriteAttachments(peek: RequestPeek, changes: AttachmentChanges): Buffer {
  const body = peek.body;
  return Buffer.concat(rewrittenParts(peek, body, changes, [body.subarray(0, peek.attachmentsOffset)]));
}

/**
 * A new request frame: the frame's header (its id, flags and serialization kept) with the
 * body length of the body {@link rewriteAttachments} makes. `frame` is the whole frame `peek`
 * was read from (see `peekRequestFrame`). With `maxPayload`, a body longer than that throws
 * `PayloadTooLargeError` (before the frame is built): the rewrite must not make a frame a
 * Dubbo peer refuses.
 */
export function rewriteRequestFrame(frame: Buffer, peek: RequestPeek, changes: AttachmentChanges, maxPayload?: number): Buffer {
  const body = peek.body;
  const parts = rewrittenParts(peek, body, changes, [frame.subarray(0, HEADER_LENGTH), body.subarray(0, peek.attachmentsOffset)]);
  if (maxPayload !== undefined) {
    let length = -HEADER_LENGTH;
    for (const part of parts) length += part.length;
    if (length > maxPayload) throw new PayloadTooLargeError(length, maxPayload);
  }
  const out = Buffer.concat(parts);
  // Header bytes 12-15: the body length, big-endian.
  out.writeUInt32BE(out.length - HEADER_LENGTH, 12);
  return out;
}

/** `parts` (everything before the attachments) followed by the rewritten attachment map and what follows it. */
function rewrittenParts(peek: RequestPeek, body: Buffer, changes: AttachmentChanges, parts: Buffer[]): Buffer[] {
  // An existing map keeps its header (typed or not); null or no attachments become an untyped map.
  if (peek.attachmentsOffset < body.length && body[peek.attachmentsOffset] !== BC_NULL)
    parts.push(body.subarray(peek.attachmentsOffset, peek.attachmentEntriesOffset));
  else parts.push(MAP_START);
  const pending = new Map<string, WritableScalar | undefined>(changes instanceof Map ? changes : Object.entries(changes));
  const ranges = peek.attachmentOffsets;
  /** Changed entries whose old value may define state (not a scalar), by index in `ranges`; how many of them are known to define none. */
  let changedCompounds: number[] | undefined;
  let checked = 0;
  for (let i = 0; i < ranges.length; i += 3) {
    const keyStart = ranges[i]!;
    const valueStart = ranges[i + 1]!;
    const valueEnd = ranges[i + 2]!;
    const key = keyScanner.reset(body, keyStart, valueStart).readString();
    if (!pending.has(key)) {
      if (changedCompounds !== undefined && checked < changedCompounds.length && mayNameState(body[valueStart]!))
        checked = checkShift(peek, body, changedCompounds, key);
      parts.push(body.subarray(keyStart, valueEnd));
      continue;
    }
    if (mayNameState(body[valueStart]!)) (changedCompounds ??= []).push(i);
    const value = pending.get(key);
    pending.delete(key);
    if (value !== undefined) parts.push(body.subarray(keyStart, valueStart), encodeHessianScalar(value));
  }
  if (changedCompounds !== undefined && checked < changedCompounds.length && peek.attachmentsEnd < body.length)
    checkShift(peek, body, changedCompounds, undefined);
  for (const [key, value] of pending) {
    if (value !== undefined) parts.push(encodeHessianString(key), encodeHessianScalar(value));
  }
  parts.push(MAP_END, body.subarray(peek.attachmentsEnd));
  return parts;
}

const MAP_START = Buffer.from([BC_MAP_UNTYPED]);
const MAP_END = Buffer.from([BC_END]);

/**
 * Whether a value starting with `code` may define or name Hessian state: a map, list,
 * object, class definition or back-reference. Every other value (string, number, boolean,
 * null, date, binary) neither defines nor names any.
 */
function mayNameState(code: number): boolean {
  return (
    code === BC_MAP ||
    code === BC_MAP_UNTYPED ||
    code === BC_REF ||
    code === BC_OBJECT ||
    code === BC_OBJECT_DEF ||
    (code >= BC_OBJECT_DIRECT && code <= BC_OBJECT_DIRECT_HIGH) ||
    (code >= BC_LIST_VARIABLE && code <= BC_LIST_FIXED_UNTYPED) ||
    (code >= BC_LIST_DIRECT && code <= BC_LIST_DIRECT_UNTYPED_HIGH)
  );
}

/**
 * A copied value that may name state (attachment `laterKey`, or the bytes after the map when
 * undefined) follows the changed entries `changed` (indexes in the peek's ranges, in order):
 * throw if one of them defined state (its counts of classes, types or referable values grew
 * across its value). The body is walked from its start so every value reads with the state
 * before it. Rare: only a changed map, list or object followed by a copied one. Returns how
 * many changed entries are now known to define nothing.
 */
function checkShift(peek: RequestPeek, body: Buffer, changed: readonly number[], laterKey: string | undefined): number {
  const scanner = stateScanner.reset(body, 0, body.length);
  while (scanner.position < peek.attachmentsOffset) scanner.skipValue();
  // The map header as the peek reads it: a typed map defines a type; the map is referable.
  scanner.position = peek.attachmentsOffset + 1;
  if (body[peek.attachmentsOffset] === BC_MAP) {
    if (scanner.nextIsString()) {
      scanner.skipString();
      scanner.typeCount += 1;
    } else scanner.readInt();
  }
  scanner.referenceCount += 1;
  const ranges = peek.attachmentOffsets;
  const last = changed[changed.length - 1]!;
  let next = 0;
  for (let i = 0; i <= last; i += 3) {
    scanner.position = ranges[i + 1]!;
    const classes = scanner.classFieldCounts.length;
    const types = scanner.typeCount;
    const references = scanner.referenceCount;
    scanner.skipValue();
    if (changed[next] !== i) continue;
    next += 1;
    if (scanner.classFieldCounts.length !== classes || scanner.typeCount !== types || scanner.referenceCount !== references) {
      throw new AttachmentRewriteError(keyScanner.reset(body, ranges[i]!, ranges[i + 1]!).readString(), laterKey);
    }
  }
  return changed.length;
}
