import { HESSIAN_NULL, READONLY_EVENT, ResponseStatus, SerializationId, serializationName } from './constants.js';
import { BC_STRING_DIRECT } from './hessian-codes.js';
import { UnsupportedSerializationError } from './errors.js';
import { encodeFrame, type Frame } from './frame.js';
import { HessianScanner } from './hessian-scanner.js';
import { withTypedErrors } from './hessian-decoder.js';

const NULL_BODY = Buffer.from([HESSIAN_NULL]);
// The string `R` in Hessian2: a compact string of one character.
const READONLY_BODY = Buffer.from([BC_STRING_DIRECT + 1, READONLY_EVENT.charCodeAt(0)]);

/** A heartbeat request as Java Dubbo sends it: event, two-way, Hessian2, body `N`. */
export function encodeHeartbeatRequest(requestId: bigint): Buffer {
  return encodeFrame({ isRequest: true, twoWay: true, event: true, requestId, body: NULL_BODY });
}

/**
 * The answer to a heartbeat: an OK event response with the request's id. With Hessian2 the
 * body is `N`; for another serialization, pass the request's own body (its encoding of null).
 */
export function encodeHeartbeatResponse(requestId: bigint, serializationId: number = SerializationId.HESSIAN2, body: Buffer = NULL_BODY): Buffer {
  return encodeFrame({ isRequest: false, event: true, status: ResponseStatus.OK, requestId, serializationId, body });
}

/** The answer to the heartbeat request `frame`, in the frame's own serialization. */
export function heartbeatResponseFor(frame: Frame): Buffer {
  const { serializationId } = frame.header;
  return encodeHeartbeatResponse(frame.header.requestId, serializationId, serializationId === SerializationId.HESSIAN2 ? NULL_BODY : frame.body);
}

/** A READONLY event as a Java provider sends on shutdown: one-way event request, body the string `R`. */
export function encodeReadonlyEvent(requestId: bigint): Buffer {
  return encodeFrame({ isRequest: true, twoWay: false, event: true, requestId, body: READONLY_BODY });
}

/**
 * Whether `frame` is a heartbeat (an event whose data is null). Events in serializations
 * other than Hessian2 are not decoded, and count as heartbeats.
 */
export function isHeartbeat(frame: Frame): boolean {
  if (!frame.header.event) return false;
  const body = frame.body;
  if (body.length === 0 || frame.header.serializationId !== SerializationId.HESSIAN2) return true;
  return body.length === 1 && body[0] === HESSIAN_NULL;
}

/** Whether `frame` is a Hessian2 READONLY event (a provider asking not to be sent new calls). */
export function isReadonlyEvent(frame: Frame): boolean {
  if (!frame.header.event || !frame.header.isRequest || frame.header.serializationId !== SerializationId.HESSIAN2) return false;
  if (frame.body.equals(READONLY_BODY)) return true;
  try {
    return decodeEventData(frame) === READONLY_EVENT;
  } catch {
    return false;
  }
}

/** The data of a Hessian2 event: null for a heartbeat, the string for READONLY. */
export function decodeEventData(frame: Frame): string | null {
  if (frame.header.serializationId !== SerializationId.HESSIAN2) {
    throw new UnsupportedSerializationError(frame.header.serializationId, serializationName(frame.header.serializationId));
  }
  if (frame.body.length === 0) return null;
  return withTypedErrors('event data', () => {
    const scanner = new HessianScanner().reset(frame.body);
    if (scanner.peekByte() === HESSIAN_NULL) return null;
    const value = scanner.readScalar();
    return typeof value === 'string' ? value : String(value);
  });
}
