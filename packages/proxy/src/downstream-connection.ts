import type net from 'node:net';
import { FrameDecoder, PeekCache, encodeReadonlyEvent, heartbeatResponseFor, isDubboProtocolError, isHeartbeat, type Frame } from '@dubbo-mesh/protocol';
import { formatAddress } from './call-context.js';
import type { Clock } from './clock.js';
import type { ProxyStats } from './stats.js';
import type { DrainWaiter, UpstreamConnection } from './upstream-connection.js';
import { WriteBuffer } from './write-batch.js';

/** A call waiting on something other than an upstream (a filter): told when its consumer goes. */
export interface ParkedCall {
  onDownstreamClosed(): void;
}

/** What a listener does with each request frame of a connection. */
export type RequestHandler = (connection: DownstreamConnection, frame: Frame) => void;

/** Limits that keep one consumer from taking the proxy's memory or every call slot. */
export interface DownstreamLimits {
  /**
   * Calls in flight on one connection before the proxy stops reading it until some are
   * answered: one flooding connection cannot take the whole pending budget from the others.
   */
  readonly maxRequestsPerConnection: number;
  /**
   * Reply bytes not yet taken by one consumer before the proxy stops reading its requests: a
   * consumer that writes and never reads cannot make the proxy buffer replies without bound.
   */
  readonly writeBufferLimitBytes: number;
  /** An incomplete frame (header or body) must be completed within this; a trickled one is cut off. */
  readonly frameTimeoutMs: number;
  /** A connection with no call in flight and nothing read for this long is closed; 0 = never. */
  readonly idleTimeoutMs: number;
}

/** Defaults: generous for well-behaved consumers, bounded for hostile ones. */
export const DEFAULT_DOWNSTREAM_LIMITS: DownstreamLimits = Object.freeze({
  maxRequestsPerConnection: 1024,
  writeBufferLimitBytes: 1024 * 1024,
  frameTimeoutMs: 30_000,
  // Dubbo consumers heartbeat every 60 s (Java) to 180 s (dubbo-js): an hour is far above either.
  idleTimeoutMs: 60 * 60_000,
});

/** The bytes of the proxy's incomplete frames, over all downstream connections: the global cap. */
export class FrameBudget {
  used = 0;
  /** `stats.gauges.frame_buffer_bytes` follows {@link used}. */
  constructor(
    readonly limitBytes: number,
    private readonly stats?: ProxyStats,
  ) {}

  /** Take `bytes` more; false (nothing taken) when that would pass the limit. */
  tryReserve(bytes: number): boolean {
    if (this.used + bytes > this.limitBytes) return false;
    this.used += bytes;
    if (this.stats !== undefined) this.stats.gauges.frame_buffer_bytes = this.used;
    return true;
  }

  release(bytes: number): void {
    this.used -= bytes;
    if (this.stats !== undefined) this.stats.gauges.frame_buffer_bytes = this.used;
  }
}

/** The default cap on bytes of incomplete frames over all downstream connections. */
export const DEFAULT_MAX_BUFFERED_FRAME_BYTES = 64 * 1024 * 1024;

/** What every downstream connection of one proxy shares. */
export interface DownstreamContext {
  readonly stats: ProxyStats;
  readonly clock: Clock;
  readonly maxPayload: number;
  readonly limits: DownstreamLimits;
  readonly frameBudget: FrameBudget;
  readonly log?: (message: string) => void;
}

// Why reading is paused (bits): any one keeps the socket paused.
const PAUSED_BY_UPSTREAM = 1;
const PAUSED_BY_WRITES = 2;
const PAUSED_BY_REQUEST_CAP = 4;

/**
 * The connection manager of one downstream connection (Envoy's split): it buffers and
 * decodes frames, answers heartbeats itself, hands each request to the listener's handler,
 * writes responses back, and stops reading while an upstream it feeds is saturated, while
 * its own replies back up, or while it has its share of calls in flight. A bad frame, a
 * frame that takes too long, or one the proxy has no room for closes this connection only.
 */
export class DownstreamConnection implements DrainWaiter {
  /** Calls of this connection in flight. */
  active = 0;
  /** The invocation heads this consumer sent last (see {@link PeekCache}). */
  readonly peekCache = new PeekCache();
  private readonly decoder: FrameDecoder;
  private readonly output: WriteBuffer;
  /** The saturated upstream connections this one waits for. */
  private readonly blockers: UpstreamConnection[] = [];
  private pausedBy = 0;
  private draining = false;
  private onIdle: (() => void) | undefined;
  /** When a byte was last read (the clock's ms). */
  private lastReadAt: number;
  /** When the incomplete frame now buffered began; 0 when none. */
  private incompleteSince = 0;
  /** Bytes of the frame budget this connection holds for its incomplete frame. */
  private reserved = 0;
  private resumeScheduled = false;
  /** When an idle timeout ended this connection (0: it did not). */
  private idleEndedAt = 0;
  /** Calls waiting for a filter; made on the first one. */
  private parked: Set<ParkedCall> | undefined;
  private address: string | undefined;

  constructor(
    readonly socket: net.Socket,
    private readonly handler: RequestHandler,
    private readonly context: DownstreamContext,
  ) {
    const stats = context.stats;
    this.decoder = new FrameDecoder({ maxPayload: context.maxPayload });
    this.output = new WriteBuffer(socket, this.checkWriteBackup);
    this.lastReadAt = context.clock.now();
    socket.setNoDelay(true);
    stats.counters.downstream_cx_total += 1;
    stats.gauges.downstream_cx_active += 1;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      stats.gauges.downstream_cx_active -= 1;
      this.releaseReservation();
      // A saturated upstream must not keep this connection (its buffers and cache) alive.
      for (const blocker of this.blockers) blocker.forgetWaiter(this);
      this.blockers.length = 0;
      // Calls waiting for a filter end now: nothing can be answered, nothing is sent upstream for them.
      const parked = this.parked;
      if (parked !== undefined && parked.size > 0) {
        this.parked = undefined;
        for (const call of parked) call.onDownstreamClosed();
      }
      // Calls still in flight can no longer be answered: the drain is over for this connection.
      if (this.draining) this.finishDrain();
    });
  }

  /** The consumer's `host:port` (read from the socket when first asked for, then kept). */
  get remoteAddress(): string {
    return (this.address ??= formatAddress(this.socket.remoteAddress, this.socket.remotePort));
  }

  /**
   * Hold `call` until {@link unpark}: if the consumer disconnects first, the call is told.
   * False when the consumer is already gone (the caller ends the call itself).
   */
  park(call: ParkedCall): boolean {
    if (this.socket.destroyed) return false;
    (this.parked ??= new Set()).add(call);
    return true;
  }

  /** Stop holding `call`. */
  unpark(call: ParkedCall): void {
    this.parked?.delete(call);
  }

  /** Write to the consumer (at the end of the current burst), unless it has gone. */
  write(bytes: Buffer): void {
    this.output.write(bytes);
  }

  /** Whether reading is paused (for any reason). */
  get paused(): boolean {
    return this.pausedBy !== 0;
  }

  /** Stop reading until `connection` drains: backpressure from a saturated upstream. */
  waitFor(connection: UpstreamConnection): void {
    const blockers = this.blockers;
    if (blockers.includes(connection)) return;
    blockers.push(connection);
    if (blockers.length === 1) this.pause(PAUSED_BY_UPSTREAM);
    connection.whenDrained(this);
  }

  onUpstreamDrained(connection: UpstreamConnection): void {
    const blockers = this.blockers;
    const index = blockers.indexOf(connection);
    if (index < 0) return;
    blockers.splice(index, 1);
    if (blockers.length === 0) this.resume(PAUSED_BY_UPSTREAM);
  }

  /** Called by each finished call. */
  onRequestDone(): void {
    if (this.draining && this.active === 0) this.finishDrain();
    // Below three quarters of the cap again: take the calls waiting in the decoder, then read on.
    else if ((this.pausedBy & PAUSED_BY_REQUEST_CAP) !== 0 && this.active <= (this.context.limits.maxRequestsPerConnection * 3) >> 2) {
      this.resume(PAUSED_BY_REQUEST_CAP);
    }
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

  /**
   * Enforce the time limits (called by the proxy's sweep, about once a second): an
   * incomplete frame older than `frameTimeoutMs` closes the connection; so does having
   * nothing in flight and nothing read for `idleTimeoutMs`.
   */
  sweep(now: number): void {
    if (this.socket.destroyed) return;
    const { frameTimeoutMs, idleTimeoutMs } = this.context.limits;
    const counters = this.context.stats.counters;
    const socket = this.socket;
    if (socket.writableEnded) {
      // Ended by an idle timeout and the consumer never closed its side: it goes now.
      if (this.idleEndedAt !== 0 && now - this.idleEndedAt >= frameTimeoutMs) socket.destroy();
      return;
    }
    // Paused by the proxy (an upstream is full, or the connection has its share of calls)
    // the consumer cannot complete its frame: not its fault. Paused because it does not read
    // its replies is its fault, and the clock runs.
    if (this.incompleteSince !== 0 && (this.pausedBy & (PAUSED_BY_UPSTREAM | PAUSED_BY_REQUEST_CAP)) === 0 && now - this.incompleteSince >= frameTimeoutMs) {
      counters.downstream_cx_rx_frame_timeout += 1;
      this.close(
        `an incomplete frame (${this.decoder.bufferedBytes} of ${this.decoder.pendingFrameBytes} bytes) was not completed within ${frameTimeoutMs} ms`,
      );
    } else if (idleTimeoutMs > 0 && this.active === 0 && !this.draining && now - this.lastReadAt >= idleTimeoutMs) {
      counters.downstream_cx_idle_timeout += 1;
      this.output.flush();
      // Replies the consumer has not taken would keep a graceful end waiting for ever.
      if (socket.writableLength > 0) this.close(`idle for ${idleTimeoutMs} ms with ${socket.writableLength} bytes of replies it does not read`);
      else {
        this.idleEndedAt = now;
        socket.end();
      }
    }
  }

  private finishDrain(): void {
    // The last responses may still be gathered: they leave before the end.
    this.output.flush();
    if (!this.socket.destroyed) this.socket.end();
    const resolve = this.onIdle;
    this.onIdle = undefined;
    resolve?.();
  }

  private close(reason: string): void {
    this.context.log?.(`closing downstream connection ${this.socket.remoteAddress}:${this.socket.remotePort}: ${reason}`);
    this.releaseReservation();
    this.socket.destroy();
  }

  private pause(reason: number): void {
    if (this.pausedBy === 0 && !this.socket.destroyed) {
      this.socket.pause();
      this.context.stats.counters.downstream_flow_control_paused_reading += 1;
    }
    this.pausedBy |= reason;
  }

  private resume(reason: number): void {
    if ((this.pausedBy & reason) === 0) return;
    this.pausedBy &= ~reason;
    if (this.pausedBy !== 0 || this.socket.destroyed) return;
    this.socket.resume();
    this.context.stats.counters.downstream_flow_control_resumed_reading += 1;
    // After a pause the proxy caused, the consumer gets the whole frame timeout again; after
    // one it caused by not reading its replies, its clock kept running.
    if (this.incompleteSince !== 0 && reason !== PAUSED_BY_WRITES) this.incompleteSince = this.context.clock.now();
    // Calls read before the pause may wait in the decoder: take them, outside the caller's stack.
    if (this.decoder.bufferedBytes > 0 && !this.resumeScheduled) {
      this.resumeScheduled = true;
      queueMicrotask(this.takeBuffered);
    }
  }

  private readonly takeBuffered = (): void => {
    this.resumeScheduled = false;
    if (this.pausedBy === 0 && !this.socket.destroyed) this.processFrames();
  };

  /** After each flush: stop reading while the consumer leaves more than the limit of replies unread. */
  private readonly checkWriteBackup = (): void => {
    const socket = this.socket;
    // writableNeedDrain: only then does the socket emit the 'drain' that resumes reading.
    if ((this.pausedBy & PAUSED_BY_WRITES) !== 0 || socket.writableLength < this.context.limits.writeBufferLimitBytes || !socket.writableNeedDrain) return;
    this.context.stats.counters.downstream_cx_write_backed_up += 1;
    this.pause(PAUSED_BY_WRITES);
    socket.once('drain', this.onWriteDrained);
  };

  private readonly onWriteDrained = (): void => {
    this.resume(PAUSED_BY_WRITES);
  };

  private onData(chunk: Buffer): void {
    if (this.socket.writableEnded) {
      // A drain already ended our side: nothing sent now could be answered. Closing the
      // connection makes the consumer fail over at once instead of waiting for its timeout.
      this.socket.destroy();
      return;
    }
    this.lastReadAt = this.context.clock.now();
    this.decoder.push(chunk);
    this.processFrames();
  }

  /** Handle the buffered frames, up to the per-connection cap; then account for an incomplete one. */
  private processFrames(): void {
    const decoder = this.decoder;
    const cap = this.context.limits.maxRequestsPerConnection;
    let decoded = false;
    try {
      for (;;) {
        if (this.active >= cap && decoder.bufferedBytes !== 0) {
          // The rest waits in the decoder (at most what was read): no more reading until calls finish.
          this.context.stats.counters.downstream_cx_max_requests_reached += 1;
          this.pause(PAUSED_BY_REQUEST_CAP);
          return;
        }
        const frame = decoder.next();
        if (frame === undefined) break;
        decoded = true;
        this.onFrame(frame);
      }
    } catch (error) {
      if (!isDubboProtocolError(error)) throw error;
      // Bad magic or an oversize frame: the stream cannot be resynchronised; close this connection only.
      this.context.stats.counters.downstream_cx_protocol_error += 1;
      this.close(error.message);
      return;
    }
    if (decoder.bufferedBytes !== 0 || this.reserved !== 0) this.trackIncomplete(decoded);
  }

  /**
   * An incomplete frame is buffered (or was): it must fit in the proxy's frame budget, as
   * the whole size its header declares, and its clock starts when it began.
   */
  private trackIncomplete(decodedAny: boolean): void {
    const want = this.decoder.pendingFrameBytes;
    if (want === 0) {
      this.releaseReservation();
      this.incompleteSince = 0;
      return;
    }
    if (decodedAny || this.incompleteSince === 0) this.incompleteSince = this.context.clock.now();
    const budget = this.context.frameBudget;
    if (want > this.reserved) {
      if (!budget.tryReserve(want - this.reserved)) {
        this.context.stats.counters.downstream_cx_buffer_limit += 1;
        this.close(`no room for a ${want}-byte frame: incomplete frames of every connection already hold ${budget.used} of ${budget.limitBytes} bytes`);
        return;
      }
    } else budget.release(this.reserved - want);
    this.reserved = want;
  }

  private releaseReservation(): void {
    if (this.reserved === 0) return;
    this.context.frameBudget.release(this.reserved);
    this.reserved = 0;
  }

  private onFrame(frame: Frame): void {
    if (!frame.header.isRequest) return; // a consumer sends no responses; ignore strays
    if (frame.header.event) {
      this.context.stats.counters.request_event += 1;
      if (isHeartbeat(frame) && frame.header.twoWay) {
        this.context.stats.counters.heartbeat_answered += 1;
        this.write(heartbeatResponseFor(frame));
      }
      return;
    }
    this.context.stats.counters.request += 1;
    this.handler(this, frame);
  }
}
