import { HEADER_LENGTH } from './constants.js';
import { BC_END, BC_MAP_UNTYPED, BC_NULL } from './hessian-codes.js';
import { HessianScanner } from './hessian-scanner.js';
import { encodeHessianScalar, encodeHessianString, type WritableScalar } from './hessian-writer.js';
import type { RequestPeek } from './request-peek.js';

/** Reads attachment keys for a rewrite. */
const keyScanner = new HessianScanner();

/** Attachment changes: a value sets the key, `undefined` removes it. */
export type AttachmentChanges = Readonly<Record<string, WritableScalar | undefined>> | ReadonlyMap<string, WritableScalar | undefined>;

/**
 * A new body with attachments set (a value) or removed (`undefined`). The invocation and
 * argument bytes, and every attachment not named, are copied unchanged; new keys go last.
 * A body whose attachments are null or absent gets a map.
 */
export function rewriteAttachments(peek: RequestPeek, changes: AttachmentChanges): Buffer {
  const body = peek.body;
  return Buffer.concat(rewrittenParts(peek, body, changes, [body.subarray(0, peek.attachmentsOffset)]));
}

/**
 * A new request frame: the frame's header (its id, flags and serialization kept) with the
 * body length of the body {@link rewriteAttachments} makes. `frame` is the whole frame `peek`
 * was read from (see `peekRequestFrame`).
 */
export function rewriteRequestFrame(frame: Buffer, peek: RequestPeek, changes: AttachmentChanges): Buffer {
  const body = peek.body;
  const parts = rewrittenParts(peek, body, changes, [frame.subarray(0, HEADER_LENGTH), body.subarray(0, peek.attachmentsOffset)]);
  const out = Buffer.concat(parts);
  // Header bytes 12-15: the body length, big-endian.
  out.writeUInt32BE(out.length - HEADER_LENGTH, 12);
  return out;
}

/** `parts` (everything before the attachments) followed by the rewritten attachment map and what follows it. */
function rewrittenParts(peek: RequestPeek, body: Buffer, changes: AttachmentChanges, parts: Buffer[]): Buffer[] {
  // An existing map keeps its header (typed or not); null or no attachments become an untyped map.
  if (peek.attachmentsOffset < body.length && body[peek.attachmentsOffset] !== BC_NULL) parts.push(body.subarray(peek.attachmentsOffset, peek.attachmentEntriesOffset));
  else parts.push(MAP_START);
  const pending = new Map<string, WritableScalar | undefined>(changes instanceof Map ? changes : Object.entries(changes));
  const ranges = peek.attachmentOffsets;
  for (let i = 0; i < ranges.length; i += 3) {
    const keyStart = ranges[i]!;
    const valueStart = ranges[i + 1]!;
    const valueEnd = ranges[i + 2]!;
    const key = keyScanner.reset(body, keyStart, valueStart).readString();
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
  return parts;
}

const MAP_START = Buffer.from([BC_MAP_UNTYPED]);
const MAP_END = Buffer.from([BC_END]);
