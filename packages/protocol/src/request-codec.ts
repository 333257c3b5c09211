import { DEFAULT_DUBBO_VERSION, DEFAULT_SERVICE_VERSION, SerializationId } from './constants.js';
import { countParameters, parseParameterDescriptor, toParameterDescriptor } from './descriptor.js';
import { EncodeError } from './errors.js';
import { encodeFrame } from './frame.js';
import { SafeHessianDecoder, withTypedErrors } from './hessian-decoder.js';
import { peekRequest, type DecodeOptions, type PeekOptions } from './request-peek.js';
import hessian from 'hessian.js';

/** A request body, fully decoded. */
export interface DubboRequestBody {
  dubboVersion: string;
  path: string;
  version: string;
  method: string;
  parameterDescriptor: string;
  /** Java type names from the descriptor. */
  parameterTypes: string[];
  arguments: unknown[];
  attachments: Record<string, unknown>;
}

/**
 * Decode a whole Hessian2 request body with hessian.js. The body is first checked by the
 * structural peek, so malformed or oversized input fails with a typed error before any
 * value is built.
 */
export function decodeRequestBody(body: Buffer, options: DecodeOptions & PeekOptions = {}): DubboRequestBody {
  const peek = peekRequest(body, options);
  return withTypedErrors('request body', () => {
    const decoder = new SafeHessianDecoder(body.subarray(0, peek.attachmentsEnd));
    const strings: string[] = [];
    for (let i = 0; i < 5; i++) {
      const value = decoder.read();
      strings.push(value === null ? '' : String(value));
    }
    const args: unknown[] = [];
    for (let i = 0; i < peek.parameterCount; i++) args.push(decoder.read(options.withType));
    let attachments: Record<string, unknown> = {};
    if (decoder.byteBuffer.position() < peek.attachmentsEnd) {
      const decoded = decoder.read(false);
      if (decoded !== null) attachments = decoded as Record<string, unknown>;
    }
    return {
      dubboVersion: strings[0]!,
      path: strings[1]!,
      version: strings[2]!,
      method: strings[3]!,
      parameterDescriptor: strings[4]!,
      parameterTypes: parseParameterDescriptor(strings[4]!),
      arguments: args,
      attachments,
    };
  });
}

/** A request to encode. Arguments are hessian.js values (`java.long(1)`, `{$class, $}`, plain JS). */
export interface DubboRequestInit {
  dubboVersion?: string;
  path: string;
  version?: string;
  method: string;
  /** Java type names of the parameters (`['java.lang.String', 'long']`), or give `parameterDescriptor`. */
  parameterTypes?: readonly string[];
  parameterDescriptor?: string;
  arguments?: readonly unknown[];
  attachments?: Readonly<Record<string, unknown>>;
}

/** Encode a request body with hessian.js, as Java's DubboCodec writes it. */
export function encodeRequestBody(init: DubboRequestInit): Buffer {
  const args = init.arguments ?? [];
  const descriptor = init.parameterDescriptor ?? toParameterDescriptor(init.parameterTypes ?? []);
  if (countParameters(descriptor) !== args.length) {
    throw new EncodeError(`descriptor ${JSON.stringify(descriptor)} names ${countParameters(descriptor)} parameters but ${args.length} arguments were given`);
  }
  const encoder = new hessian.EncoderV2();
  encoder.write(init.dubboVersion ?? DEFAULT_DUBBO_VERSION);
  encoder.write(init.path);
  encoder.write(init.version ?? DEFAULT_SERVICE_VERSION);
  encoder.write(init.method);
  encoder.write(descriptor);
  for (const arg of args) encoder.write(arg);
  encoder.write({ $class: 'java.util.HashMap', $: { ...(init.attachments ?? {}) } });
  return Buffer.from(encoder.get());
}

/** A whole request frame: a two-way Hessian2 request by default. */
export function encodeRequest(requestId: bigint, body: Buffer, options: { twoWay?: boolean; serializationId?: number } = {}): Buffer {
  return encodeFrame({
    isRequest: true,
    twoWay: options.twoWay ?? true,
    serializationId: options.serializationId ?? SerializationId.HESSIAN2,
    requestId,
    body,
  });
}
