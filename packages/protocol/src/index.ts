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
export {
  PeekCache, RequestPeek, decodeRequestBody, encodeRequest, encodeRequestBody, peekRequest, peekRequestFrame, rewriteAttachments,
  type DecodeOptions, type DubboRequestBody, type DubboRequestInit, type PeekOptions, type PeekedAttachments,
} from './request.js';
export * from './response.js';
export * from './event.js';
