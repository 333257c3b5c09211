import type net from 'node:net';
import { FrameDecoder, PeekCache, encodeReadonlyEvent, heartbeatResponseFor, isDubboProtocolError, isHeartbeat, type Frame } from '@dubbo-mesh/protocol';
import type { ProxyStats } from './stats.js';
import type { DrainWaiter, UpstreamConnection } from './upstream-connection.js';
import { WriteBuffer } from './write-batch.js';

/** What a listener does with each request frame of a connection. */
export type RequestHandler = (connection: DownstreamConnection, frame: Frame) => void;

/**
 * The connection manager of one downstream connection (Envoy's split): it buffers and
 * decodes frames, answers heartbeats itself, hands each request to the listener's handler,
 * writes responses back, and pauses reading while an upstream it feeds is saturated. A bad
 * frame closes this connection only.
 */
export class DownstreamConnection implements DrainWaiter {
  /** Calls of this connection in flight. */
  active = 0;
  /** The invocation heads this consumer sent last (see {@link PeekCache}). */
  readonly peekCache = new PeekCache();
  private readonly decoder: FrameDecoder;
  private readonly output: WriteBuffer;
  /** The saturated upstream connections this one waits for (reading is paused while any). */
  private readonly blockers: UpstreamConnection[] = [];
  private draining = false;
  private onIdle: (() => void) | undefined;

  constructor(
    readonly socket: net.Socket,
    private readonly handler: RequestHandler,
    private readonly stats: ProxyStats,
    maxPayload: number,
    private readonly log?: (message: string, error?: unknown) => void,
  ) {
    this.decoder = new FrameDecoder({ maxPayload });
    this.output = new WriteBuffer(socket);
    socket.setNoDelay(true);
    stats.counters.downstream_cx_total += 1;
    stats.gauges.downstream_cx_active += 1;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      stats.gauges.downstream_cx_active -= 1;
      // A saturated upstream must not keep this connection (its buffers and cache) alive.
      for (const blocker of this.blockers) blocker.forgetWaiter(this);
      this.blockers.length = 0;
      // Calls still in flight can no longer be answered: the drain is over for this connection.
      if (this.draining) this.finishDrain();
    });
  }

  /** Write to the consumer (at the end of the current burst), unless it has gone. */
  write(bytes: Buffer): void {
    this.output.write(bytes);
  }

  /** Stop reading until `connection` drains: backpressure from a saturated upstream. */
  waitFor(connection: UpstreamConnection): void {
    const blockers = this.blockers;
    if (blockers.includes(connection)) return;
    blockers.push(connection);
    if (blockers.length === 1) {
      this.socket.pause();
      this.stats.counters.downstream_flow_control_paused_reading += 1;
    }
    connection.whenDrained(this);
  }

  onUpstreamDrained(connection: UpstreamConnection): void {
    const blockers = this.blockers;
    const index = blockers.indexOf(connection);
    if (index < 0) return;
    blockers.splice(index, 1);
    if (blockers.length === 0 && !this.socket.destroyed) {
      this.socket.resume();
      this.stats.counters.downstream_flow_control_resumed_reading += 1;
    }
  }

  /** Called by each finished call. */
  onRequestDone(): void {
    if (this.draining && this.active === 0) this.finishDrain();
  }

  /**
   * Stop taking new calls on this connection; once its calls are answered, end it. Resolves
   * when the calls in flight are done (Dubbo consumers keep connections open, so waiting for
   * them to close would always run into the drain timeout).
   */
  drain(): Promise<void> {
    this.draining = true;
    // As a Java provider does when it shuts down: READONLY asks the consumer to send no new calls here.
    this.write(encodeReadonlyEvent(0n));
    this.output.flush();
    return new Promise((resolve) => {
      this.onIdle = resolve;
      if (this.active === 0 || this.socket.destroyed) this.finishDrain();
    });
  }

  private finishDrain(): void {
    // The last responses may still be gathered: they leave before the end.
    this.output.flush();
    if (!this.socket.destroyed) this.socket.end();
    const resolve = this.onIdle;
    this.onIdle = undefined;
    resolve?.();
  }

  private onData(chunk: Buffer): void {
    if (this.socket.writableEnded) {
      // A drain already ended our side: nothing sent now could be answered. Closing the
      // connection makes the consumer fail over at once instead of waiting for its timeout.
      this.socket.destroy();
      return;
    }
    this.decoder.push(chunk);
    try {
      for (let frame = this.decoder.next(); frame !== undefined; frame = this.decoder.next()) this.onFrame(frame);
    } catch (error) {
      if (!isDubboProtocolError(error)) throw error;
      // Bad magic or an oversize frame: the stream cannot be resynchronised; close this connection only.
      this.stats.counters.downstream_cx_protocol_error += 1;
      this.log?.(`closing downstream connection ${this.socket.remoteAddress}:${this.socket.remotePort}: ${error.message}`, error);
      this.socket.destroy();
    }
  }

  private onFrame(frame: Frame): void {
    if (!frame.header.isRequest) return; // a consumer sends no responses; ignore strays
    if (frame.header.event) {
      this.stats.counters.request_event += 1;
      if (isHeartbeat(frame) && frame.header.twoWay) {
        this.stats.counters.heartbeat_answered += 1;
        this.write(heartbeatResponseFor(frame));
      }
      return;
    }
    this.stats.counters.request += 1;
    this.handler(this, frame);
  }
}
