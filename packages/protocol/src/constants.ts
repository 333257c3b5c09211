/**
 * Wire constants of the Dubbo 2 protocol, named as Apache Dubbo names them
 * (`ExchangeCodec`, `Response`, `DubboCodec`, serialize `Constants`).
 */
import { BC_NULL } from './hessian-codes.js';

/** The two magic bytes every frame starts with. */
export const MAGIC = 0xdabb;
/** First magic byte. */
export const MAGIC_HIGH = 0xda;
/** Second magic byte. */
export const MAGIC_LOW = 0xbb;
/** Length of the fixed frame header. */
export const HEADER_LENGTH = 16;
/** Default payload limit (Dubbo's `payload` default): 8 MiB. */
export const DEFAULT_MAX_PAYLOAD = 8 * 1024 * 1024;
/** The dubbo protocol version a Java 2.7/3.x consumer sends. */
export const DEFAULT_DUBBO_VERSION = '2.0.2';
/** A Dubbo service version when none is configured. */
export const DEFAULT_SERVICE_VERSION = '0.0.0';

/** Bits of header byte 2. */
export const Flag = {
  REQUEST: 0x80,
  TWO_WAY: 0x40,
  EVENT: 0x20,
  /** The low five bits carry the serialization id. */
  SERIALIZATION_MASK: 0x1f,
} as const;

/** Response status (header byte 3), as `org.apache.dubbo.remoting.exchange.Response`. */
export const ResponseStatus = {
  OK: 20,
  SERIALIZATION_ERROR: 25,
  CLIENT_TIMEOUT: 30,
  SERVER_TIMEOUT: 31,
  CHANNEL_INACTIVE: 35,
  BAD_REQUEST: 40,
  BAD_RESPONSE: 50,
  SERVICE_NOT_FOUND: 60,
  SERVICE_ERROR: 70,
  SERVER_ERROR: 80,
  CLIENT_ERROR: 90,
  SERVER_THREADPOOL_EXHAUSTED_ERROR: 100,
} as const;
/** One of the known response status codes. */
export type ResponseStatusCode = (typeof ResponseStatus)[keyof typeof ResponseStatus];

/** Serialization ids (low five bits of header byte 2), as Dubbo's serialize `Constants`. */
export const SerializationId = {
  HESSIAN2: 2,
  JAVA: 3,
  COMPACTED_JAVA: 4,
  FASTJSON: 6,
  NATIVE_JAVA: 7,
  KRYO: 8,
  FST: 9,
  NATIVE_HESSIAN: 10,
  AVRO: 11,
  PROTOSTUFF: 12,
  GSON: 16,
  PROTOBUF_JSON: 21,
  PROTOBUF: 22,
  FASTJSON2: 23,
} as const;

/** The first value of a Hessian2 response body, as `DubboCodec`. */
export const ResponseFlag = {
  RESPONSE_WITH_EXCEPTION: 0,
  RESPONSE_VALUE: 1,
  RESPONSE_NULL_VALUE: 2,
  RESPONSE_WITH_EXCEPTION_WITH_ATTACHMENTS: 3,
  RESPONSE_VALUE_WITH_ATTACHMENTS: 4,
  RESPONSE_NULL_VALUE_WITH_ATTACHMENTS: 5,
} as const;
/** One of the six response body flags. */
export type ResponseFlagValue = (typeof ResponseFlag)[keyof typeof ResponseFlag];

/** The data of a READONLY event: a provider going away asks consumers to stop sending. */
export const READONLY_EVENT = 'R';
/** Hessian2 `null`: the whole body of a heartbeat request and of its response. */
export const HESSIAN_NULL = BC_NULL;

/** Method names of Dubbo's generic invocation. */
export const GENERIC_METHODS: ReadonlySet<string> = new Set(['$invoke', '$invokeAsync']);

function invert(table: Record<string, number>): Map<number, string> {
  const names = new Map<number, string>();
  for (const [name, code] of Object.entries(table)) names.set(code, name);
  return names;
}
const statusNames = invert(ResponseStatus);
const serializationNames = invert(SerializationId);

/** The name of a response status, e.g. `SERVICE_NOT_FOUND`, or `UNKNOWN(n)`. */
export function responseStatusName(status: number): string {
  return statusNames.get(status) ?? `UNKNOWN(${status})`;
}

/** The name of a serialization id, e.g. `HESSIAN2`, or `UNKNOWN(n)`. */
export function serializationName(id: number): string {
  return serializationNames.get(id) ?? `UNKNOWN(${id})`;
}

/** Whether a status code is one Dubbo defines. */
export function isKnownResponseStatus(status: number): status is ResponseStatusCode {
  return statusNames.has(status);
}
