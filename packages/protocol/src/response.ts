import { HESSIAN_NULL, ResponseFlag, ResponseStatus, SerializationId, type ResponseFlagValue } from './constants.js';
import { MalformedBodyError } from './errors.js';
import { encodeFrame } from './frame.js';
import { SafeHessianDecoder, withTypedErrors } from './hessian-decoder.js';
import { HessianScanner } from './hessian-scanner.js';
import { encodeHessianString } from './hessian-writer.js';
import type { DecodeOptions } from './request-peek.js';
import hessian from 'hessian.js';

/** The result a provider returns in an OK response. */
export type DubboResult =
  | { kind: 'value'; value: unknown; attachments?: Record<string, unknown> }
  | { kind: 'null'; attachments?: Record<string, unknown> }
  | { kind: 'exception'; exception: unknown; attachments?: Record<string, unknown> };

/** A decoded OK response body: the result and the flag it came with. */
export type DecodedResult = DubboResult & { flag: ResponseFlagValue };

function flagOf(result: DubboResult): ResponseFlagValue {
  const withAttachments = result.attachments !== undefined;
  switch (result.kind) {
    case 'value':
      return withAttachments ? ResponseFlag.RESPONSE_VALUE_WITH_ATTACHMENTS : ResponseFlag.RESPONSE_VALUE;
    case 'null':
      return withAttachments ? ResponseFlag.RESPONSE_NULL_VALUE_WITH_ATTACHMENTS : ResponseFlag.RESPONSE_NULL_VALUE;
    case 'exception':
      return withAttachments ? ResponseFlag.RESPONSE_WITH_EXCEPTION_WITH_ATTACHMENTS : ResponseFlag.RESPONSE_WITH_EXCEPTION;
  }
}

/**
 * A Java exception as hessian.js encodes it (`{$class, $}`), for a provider to return.
 * Java and hessian.js consumers both decode it as that exception class with its message.
 */
export function javaException(className: string, message: string): { $class: string; $: Record<string, unknown> } {
  return { $class: className, $: { detailMessage: message, cause: null, stackTrace: [], suppressedExceptions: [] } };
}

/** Encode an OK response body: flag, then value or exception, then attachments if any. */
export function encodeResponseBody(result: DubboResult): Buffer {
  const encoder = new hessian.EncoderV2();
  encoder.write(flagOf(result));
  if (result.kind === 'value') encoder.write(result.value);
  else if (result.kind === 'exception') encoder.write(result.exception);
  if (result.attachments !== undefined) encoder.write({ $class: 'java.util.HashMap', $: { ...result.attachments } });
  return Buffer.from(encoder.get());
}

/**
 * The flag of an OK response body (its first value), read without decoding the rest: enough
 * to tell a business exception (flags 0 and 3) from a value.
 */
export function peekResponseFlag(body: Buffer): ResponseFlagValue {
  if (body.length === 0) throw new MalformedBodyError('response body is empty');
  const flag = withTypedErrors('response flag', () => new HessianScanner().reset(body).readInt());
  if (flag < 0 || flag > 5) throw new MalformedBodyError(`unknown response flag ${flag}, expected 0 to 5`);
  return flag as ResponseFlagValue;
}

/** Whether a response flag carries a business exception (never retried). */
export function isExceptionFlag(flag: ResponseFlagValue): boolean {
  return flag === ResponseFlag.RESPONSE_WITH_EXCEPTION || flag === ResponseFlag.RESPONSE_WITH_EXCEPTION_WITH_ATTACHMENTS;
}

/** Decode a whole OK response body with hessian.js. The body is checked structurally first. */
export function decodeResponseBody(body: Buffer, options: DecodeOptions = {}): DecodedResult {
  const flag = peekResponseFlag(body);
  // Structural check first: typed errors and bounded work before hessian.js builds anything.
  const scanner = new HessianScanner().reset(body);
  scanner.readInt();
  if (flag !== ResponseFlag.RESPONSE_NULL_VALUE && flag !== ResponseFlag.RESPONSE_NULL_VALUE_WITH_ATTACHMENTS) scanner.skipValue();
  if (flag >= ResponseFlag.RESPONSE_WITH_EXCEPTION_WITH_ATTACHMENTS) scanner.skipValue();
  return withTypedErrors('response body', () => {
    const decoder = new SafeHessianDecoder(body);
    decoder.readInt();
    const withAttachments = flag >= ResponseFlag.RESPONSE_WITH_EXCEPTION_WITH_ATTACHMENTS;
    let result: DubboResult;
    if (flag === ResponseFlag.RESPONSE_VALUE || flag === ResponseFlag.RESPONSE_VALUE_WITH_ATTACHMENTS) {
      result = { kind: 'value', value: decoder.read(options.withType) };
    } else if (flag === ResponseFlag.RESPONSE_NULL_VALUE || flag === ResponseFlag.RESPONSE_NULL_VALUE_WITH_ATTACHMENTS) {
      result = { kind: 'null' };
    } else {
      result = { kind: 'exception', exception: decoder.read(options.withType) };
    }
    if (withAttachments) result.attachments = (decoder.read(false) ?? {}) as Record<string, unknown>;
    return { ...result, flag };
  });
}

/** The body of an error response (status other than OK): one Hessian2 string. */
export function encodeErrorMessage(message: string): Buffer {
  return encodeHessianString(message);
}

/**
 * The message of an error response. Java writes one Hessian2 string; a body that is not one
 * (some non-Java peers send raw text) is read as UTF-8 rather than rejected.
 */
export function decodeErrorMessage(body: Buffer): string {
  if (body.length === 0) return '';
  if (body.length === 1 && body[0] === HESSIAN_NULL) return '';
  const scanner = new HessianScanner().reset(body);
  try {
    if (scanner.nextIsString()) {
      const message = scanner.readString();
      if (scanner.atEnd) return message;
    }
  } catch {
    // not a hessian string: fall through to raw text
  }
  return body.toString('utf8');
}

/** Fields of a response frame. */
export interface EncodeResponseInit {
  requestId: bigint;
  status?: number;
  body: Buffer;
  event?: boolean;
  serializationId?: number;
}

/** A whole response frame (status OK and Hessian2 by default). */
export function encodeResponse(init: EncodeResponseInit): Buffer {
  return encodeFrame({
    isRequest: false,
    requestId: init.requestId,
    status: init.status ?? ResponseStatus.OK,
    event: init.event ?? false,
    serializationId: init.serializationId ?? SerializationId.HESSIAN2,
    body: init.body,
  });
}

/**
 * A whole error response: `status` with the message as its body. This is what a proxy's
 * local reply is (60 service not found, 70 no healthy instance, 31 timeout, ...).
 */
export function encodeErrorResponse(requestId: bigint, status: number, message: string): Buffer {
  return encodeResponse({ requestId, status, body: encodeErrorMessage(message) });
}
