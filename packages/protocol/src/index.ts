/**
 * @dubbo-mesh/protocol: the Dubbo 2 protocol (16-byte header, Hessian2 bodies) as a pure
 * codec with no I/O. Framing is apart from body serialization; the proxy's hot path is
 * {@link peekRequest}, which reads a request's names and attachments without building its
 * arguments.
 */
export * from './constants.js';
export * from './errors.js';
export * from './header.js';
export * from './frame.js';
export * from './descriptor.js';
export { DEFAULT_HESSIAN_LIMITS, HessianScanner, OpaqueValue, decodeModifiedUtf8, type HessianLimits, type ScalarValue } from './hessian-scanner.js';
export { encodeHessianInt, encodeHessianLong, encodeHessianScalar, encodeHessianString, type WritableScalar } from './hessian-writer.js';
export { SafeHessianDecoder } from './hessian-decoder.js';
export * from './hessian-codes.js';
export { PeekCache } from './peek-cache.js';
export { RequestPeek, peekRequest, peekRequestFrame, type DecodeOptions, type PeekOptions, type PeekedAttachments } from './request-peek.js';
export { rewriteAttachments, rewriteRequestFrame, type AttachmentChanges } from './request-rewrite.js';
export { decodeRequestBody, encodeRequest, encodeRequestBody, type DubboRequestBody, type DubboRequestInit } from './request-codec.js';
export * from './response.js';
export * from './event.js';
