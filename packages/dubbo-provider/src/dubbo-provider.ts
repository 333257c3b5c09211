import net from 'node:net';
import {
  FrameDecoder,
  ResponseStatus,
  decodeFrame,
  decodeRequestBody,
  encodeErrorResponse,
  encodeResponse,
  encodeResponseBody,
  encodeReadonlyEvent,
  heartbeatResponseFor,
  isDubboProtocolError,
  isHeartbeat,
  type DubboRequestBody,
  type DubboResult,
  type Frame,
} from '@dubbo-mesh/protocol';

/** Throw this from a handler to return a business exception (response flag 0/3). */
export class ProviderException extends Error {
  constructor(
    readonly javaClass: string,
    message: string,
  ) {
    super(message);
  }
}

/** A method implementation: its decoded arguments in, its return value out. */
export type MethodHandler = (args: unknown[], request: DubboRequestBody) => unknown;

/** Options of {@link startDubboProvider}. */
export interface DubboProviderOptions {
  /** Interface name → method name → handler. */
  services: Record<string, Record<string, MethodHandler>>;
  host?: string;
  port?: number;
  /** Attachments to return with every result (flags 3/4/5); none by default. */
  responseAttachments?: Record<string, unknown>;
  /** Called with every request frame received (a copy of its bytes). */
  onRequest?: (frame: Frame) => void;
}

/** A running provider. */
export interface DubboProvider {
  readonly host: string;
  readonly port: number;
  /** `host:port`. */
  readonly address: string;
  /** Requests received so far. */
  readonly requestCount: number;
  /** Send a READONLY event on every connection, as a Java provider does when it shuts down. */
  sendReadonly(): void;
  /** Refuse new connections (the port closes); the open ones keep working. */
  stopAccepting(): Promise<void>;
  close(): Promise<void>;
}

function resultOf(value: unknown, attachments: Record<string, unknown> | undefined): DubboResult {
  if (value instanceof ProviderException) throw value;
  return value === null || value === undefined ? { kind: 'null', attachments } : { kind: 'value', value, attachments };
}

/**
 * A Dubbo provider built on the protocol package: it decodes requests fully, dispatches to
 * handlers, and answers with real Dubbo responses (values, nulls, business exceptions,
 * status 60 for an unknown service or method, 70 for a handler that fails, heartbeats). The
 * demo's providers run on it; tests script it through test-support.
 */
export async function startDubboProvider(options: DubboProviderOptions): Promise<DubboProvider> {
  const sockets = new Set<net.Socket>();
  let requestCount = 0;

  async function answer(socket: net.Socket, frame: Frame): Promise<void> {
    const { requestId } = frame.header;
    let request: DubboRequestBody;
    try {
      request = decodeRequestBody(frame.body);
    } catch (error) {
      if (frame.header.twoWay) socket.write(encodeErrorResponse(requestId, ResponseStatus.BAD_REQUEST, `cannot decode request: ${(error as Error).message}`));
      return;
    }
    const handler = options.services[request.path]?.[request.method];
    if (handler === undefined) {
      const message =
        options.services[request.path] === undefined
          ? `service ${request.path} not found on this provider`
          : `method ${request.method} of ${request.path} not found on this provider`;
      if (frame.header.twoWay) socket.write(encodeErrorResponse(requestId, ResponseStatus.SERVICE_NOT_FOUND, message));
      return;
    }
    let body: Buffer;
    try {
      body = encodeResponseBody(resultOf(await handler(request.arguments, request), options.responseAttachments));
    } catch (error) {
      if (error instanceof ProviderException) {
        body = encodeResponseBody({
          kind: 'exception',
          exception: { $class: error.javaClass, $: { detailMessage: error.message, cause: null, stackTrace: [], suppressedExceptions: [] } },
          attachments: options.responseAttachments,
        });
      } else {
        if (frame.header.twoWay) socket.write(encodeErrorResponse(requestId, ResponseStatus.SERVICE_ERROR, `handler failed: ${(error as Error).message}`));
        return;
      }
    }
    if (frame.header.twoWay && !socket.destroyed) socket.write(encodeResponse({ requestId, body }));
  }

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.setNoDelay(true);
    const decoder = new FrameDecoder();
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk);
      try {
        for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) {
          if (!frame.header.isRequest) continue;
          if (isHeartbeat(frame)) {
            if (frame.header.twoWay) socket.write(heartbeatResponseFor(frame));
            continue;
          }
          if (frame.header.event) continue;
          requestCount += 1;
          if (options.onRequest !== undefined) {
            // A copy: the frame is a view of a read chunk.
            const copy = decodeFrame(Buffer.from(frame.bytes));
            if (copy.kind === 'frame') options.onRequest(copy.frame);
          }
          void answer(socket, frame);
        }
      } catch (error) {
        if (!isDubboProtocolError(error)) throw error;
        socket.destroy();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const bound = server.address() as net.AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    host: bound.address,
    port: bound.port,
    address: `${bound.address}:${bound.port}`,
    get requestCount() {
      return requestCount;
    },
    sendReadonly: () => {
      for (const socket of sockets) socket.write(encodeReadonlyEvent(0n));
    },
    stopAccepting: () => {
      if (closing === undefined) closing = new Promise<void>((resolve) => server.close(() => resolve()));
      // Resolves once the port no longer accepts; the server's close completes when its last connection goes.
      return new Promise<void>((resolve) => setImmediate(resolve));
    },
    close: () => {
      closing ??= new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      return closing;
    },
  };
}
