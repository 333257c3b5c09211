/**
 * Typed protocol errors. Callers classify them by `code`, never by message text.
 */

/** Every error code this package throws. */
export const ErrorCode = {
  BAD_MAGIC: 'DM_ERR_BAD_MAGIC',
  PAYLOAD_TOO_LARGE: 'DM_ERR_PAYLOAD_TOO_LARGE',
  TRUNCATED: 'DM_ERR_TRUNCATED',
  HESSIAN_DECODE: 'DM_ERR_HESSIAN_DECODE',
  HESSIAN_LIMIT: 'DM_ERR_HESSIAN_LIMIT',
  MALFORMED_BODY: 'DM_ERR_MALFORMED_BODY',
  BAD_DESCRIPTOR: 'DM_ERR_BAD_DESCRIPTOR',
  UNSUPPORTED_SERIALIZATION: 'DM_ERR_UNSUPPORTED_SERIALIZATION',
  ENCODE: 'DM_ERR_ENCODE',
  ATTACHMENT_REWRITE: 'DM_ERR_ATTACHMENT_REWRITE',
} as const;
/** One of the error codes of this package. */
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Base class of every error the protocol package throws. */
export class DubboProtocolError extends Error {
  /** Stable machine-readable code. */
  readonly code: ErrorCodeValue;

  constructor(code: ErrorCodeValue, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A frame that does not start with 0xdabb: the stream cannot be resynchronised. */
export class BadMagicError extends DubboProtocolError {
  constructor(readonly found: number) {
    super(ErrorCode.BAD_MAGIC, `bad magic number 0x${found.toString(16).padStart(4, '0')}, expected 0xdabb`);
  }
}

/** A frame whose declared body is longer than the payload limit (or negative). */
export class PayloadTooLargeError extends DubboProtocolError {
  constructor(
    readonly bodyLength: number,
    readonly maxPayload: number,
  ) {
    super(
      ErrorCode.PAYLOAD_TOO_LARGE,
      bodyLength < 0 ? `invalid body length ${bodyLength}` : `body length ${bodyLength} exceeds the payload limit of ${maxPayload} bytes`,
    );
  }
}

/** Bytes ended in the middle of a value. */
export class TruncatedError extends DubboProtocolError {
  constructor(what: string, offset: number) {
    super(ErrorCode.TRUNCATED, `truncated ${what} at offset ${offset}`);
  }
}

/** Bytes that are not valid Hessian2. */
export class HessianDecodeError extends DubboProtocolError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.HESSIAN_DECODE, message, options);
  }
}

/** Valid Hessian2 that goes past a safety bound (nesting depth, collection size). */
export class HessianLimitError extends DubboProtocolError {
  constructor(message: string) {
    super(ErrorCode.HESSIAN_LIMIT, message);
  }
}

/** A body that is Hessian2 but not shaped like a Dubbo request or response. */
export class MalformedBodyError extends DubboProtocolError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.MALFORMED_BODY, message, options);
  }
}

/** A JVM parameter descriptor such as `Ljava/lang/String;J` that does not parse. */
export class BadDescriptorError extends DubboProtocolError {
  constructor(
    readonly descriptor: string,
    detail: string,
  ) {
    super(ErrorCode.BAD_DESCRIPTOR, `bad parameter descriptor ${JSON.stringify(descriptor)}: ${detail}`);
  }
}

/** A body in a serialization other than Hessian2: carried as opaque bytes, never decoded. */
export class UnsupportedSerializationError extends DubboProtocolError {
  constructor(
    readonly serializationId: number,
    serializationName: string,
  ) {
    super(ErrorCode.UNSUPPORTED_SERIALIZATION, `serialization ${serializationName} (id ${serializationId}) is not decoded; only Hessian2 (id 2) is`);
  }
}

/** A value that cannot be encoded. */
export class EncodeError extends DubboProtocolError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.ENCODE, message, options);
  }
}

/**
 * An attachment change the rewrite cannot make without changing what the request means: the
 * old value defines Hessian state (a class definition, a type, or a value a back-reference
 * may name) whose index a later attachment, copied as it is, may use. Removing or replacing
 * the value would shift those indexes; the rewrite refuses rather than re-encoding the map.
 */
export class AttachmentRewriteError extends DubboProtocolError {
  constructor(
    /** The attachment whose change was refused. */
    readonly key: string,
    /** The first attachment after it that may name what its value defines. */
    readonly laterKey: string | undefined,
  ) {
    super(
      ErrorCode.ATTACHMENT_REWRITE,
      `attachment ${JSON.stringify(key)} cannot be changed: its value defines a Hessian class, type or shared value that ${laterKey === undefined ? 'the bytes after the attachments' : `attachment ${JSON.stringify(laterKey)} after it`} may name, and the proxy copies the other attachments as they are`,
    );
  }
}

/** Whether `error` is one of this package's typed errors. */
export function isDubboProtocolError(error: unknown): error is DubboProtocolError {
  return error instanceof DubboProtocolError;
}
