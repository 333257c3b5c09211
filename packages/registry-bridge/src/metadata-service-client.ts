/**
 * A Dubbo consumer of one method: `MetadataInfo getMetadataInfo(String revision)` of
 * `org.apache.dubbo.metadata.MetadataService`, which a Dubbo 3 provider with `local` metadata
 * storage exports (group = its application, version 1.0.0, not registered): how the import
 * learns which services an application-level instance provides. Dubbo 2 protocol, Hessian2,
 * one short connection per call.
 */
import net from 'node:net';
import {
  FrameDecoder,
  ResponseFlag,
  ResponseStatus,
  decodeErrorMessage,
  decodeResponseBody,
  encodeRequest,
  encodeRequestBody,
  heartbeatResponseFor,
  isHeartbeat,
  responseStatusName,
} from '@dubbo-mesh/protocol';
import { readMetadataInfo, type MetadataInfo } from './application-level-metadata.js';
import { MetadataServiceError } from './errors.js';

/** The MetadataService interface (Dubbo's `MetadataService.class.getName()`). */
export const METADATA_SERVICE_INTERFACE = 'org.apache.dubbo.metadata.MetadataService';
/** `MetadataService.VERSION`. */
export const METADATA_SERVICE_VERSION = '1.0.0';
/** How long a call may take (Dubbo's default `timeout`, 3 s, as the bridge's brief asks too). */
export const METADATA_SERVICE_TIMEOUT_MS = 3000;

/** Where and how to ask one instance for one revision. */
export interface MetadataServiceTarget {
  readonly host: string;
  readonly port: number;
  /** The application: the service's group. */
  readonly application: string;
  readonly revision: string;
  /** The service's version (from `dubbo.metadata-service.url-params`); default 1.0.0. */
  readonly version?: string;
  readonly timeoutMs?: number;
}

/** Asks one instance for the metadata of one revision: the real Dubbo call, or a test's stand-in. */
export type MetadataFetcher = (target: MetadataServiceTarget) => Promise<MetadataInfo>;

let nextRequestId = 1n;

/**
 * The request a Java consumer sends for `getMetadataInfo(revision)`: the body names the path,
 * version and method; the attachments carry `path`, `interface`, `version`, `group` (the
 * provider's `DubboProtocol` finds the exporter by group/path:version:port from them) and
 * `timeout` as a string, as `DubboInvoker` sets it.
 */
export function metadataRequestBody(target: Pick<MetadataServiceTarget, 'application' | 'revision' | 'version' | 'timeoutMs'>): Buffer {
  const version = target.version ?? METADATA_SERVICE_VERSION;
  return encodeRequestBody({
    path: METADATA_SERVICE_INTERFACE,
    version,
    method: 'getMetadataInfo',
    parameterTypes: ['java.lang.String'],
    arguments: [target.revision],
    attachments: {
      path: METADATA_SERVICE_INTERFACE,
      interface: METADATA_SERVICE_INTERFACE,
      version,
      group: target.application,
      timeout: String(target.timeoutMs ?? METADATA_SERVICE_TIMEOUT_MS),
    },
  });
}

/**
 * Call `getMetadataInfo(revision)` on one instance. Rejects with a {@link MetadataServiceError}
 * naming the instance and the cause: no connection, timeout, a Dubbo error status, a business
 * exception, `null` (the instance does not have that revision: it changed since it registered),
 * or an answer that is not a MetadataInfo.
 */
export function fetchMetadataInfo(target: MetadataServiceTarget): Promise<MetadataInfo> {
  const timeoutMs = target.timeoutMs ?? METADATA_SERVICE_TIMEOUT_MS;
  const where = `MetadataService of ${target.application} at ${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
  const requestId = nextRequestId++;
  return new Promise<MetadataInfo>((resolve, reject) => {
    const socket = net.connect({ host: target.host, port: target.port });
    const decoder = new FrameDecoder();
    let settled = false;
    const finish = (error: Error | undefined, info?: MetadataInfo) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error !== undefined) reject(error);
      else resolve(info!);
    };
    const timer = setTimeout(() => finish(new MetadataServiceError(`${where}: no answer within ${timeoutMs} ms`)), timeoutMs);
    socket.setNoDelay(true);
    socket.on('connect', () => socket.write(encodeRequest(requestId, metadataRequestBody({ ...target, timeoutMs }))));
    socket.on('error', (error) => finish(new MetadataServiceError(`${where}: ${error.message}`, { cause: error })));
    socket.on('close', () => finish(new MetadataServiceError(`${where}: the connection closed before an answer`)));
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk);
        for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) {
          if (frame.header.isRequest) {
            // A provider may ask whether we are alive; answer as Java does.
            if (isHeartbeat(frame) && frame.header.twoWay) socket.write(heartbeatResponseFor(frame));
            continue;
          }
          if (frame.header.event || frame.header.requestId !== requestId) continue;
          if (frame.header.status !== ResponseStatus.OK) {
            finish(new MetadataServiceError(`${where}: ${responseStatusName(frame.header.status)}: ${decodeErrorMessage(frame.body)}`));
            return;
          }
          const result = decodeResponseBody(Buffer.from(frame.body));
          if (result.kind === 'exception') {
            finish(new MetadataServiceError(`${where}: the provider threw ${describeException(result.exception)}`));
          } else if (result.kind === 'null' || (result.flag === ResponseFlag.RESPONSE_VALUE && result.value === null)) {
            finish(new MetadataServiceError(`${where}: it has no metadata for revision ${target.revision}`));
          } else {
            const info = readMetadataInfo(result.value);
            if (info === undefined) finish(new MetadataServiceError(`${where}: the answer is not a MetadataInfo`));
            else finish(undefined, info);
          }
          return;
        }
      } catch (error) {
        finish(new MetadataServiceError(`${where}: unreadable answer: ${(error as Error).message}`, { cause: error }));
      }
    });
  });
}

function describeException(exception: unknown): string {
  if (typeof exception === 'object' && exception !== null) {
    const record = exception as Record<string, unknown>;
    const message = record.detailMessage ?? record.message;
    const name = record.$class ?? record.name ?? 'an exception';
    return typeof message === 'string' ? `${String(name)}: ${message}` : String(name);
  }
  return String(exception);
}
