import net from 'node:net';
import {
  FrameDecoder,
  encodeHeartbeatRequest,
  requestIdHigh,
  requestIdLow,
  writeRequestIdWords,
  heartbeatResponseFor,
  isDubboProtocolError,
  isHeartbeat,
  isReadonlyEvent,
  type Frame,
} from '@dubbo-mesh/protocol';
import { ConnectFailureError, UpstreamUnavailableError, type ProxyError } from './errors.js';
import { WriteBuffer } from './write-batch.js';
import { systemClock, type Clock } from './clock.js';

/** Where an upstream connection delivers a call's outcome. */
export interface UpstreamCall {
  /** The id the call was sent with on its connection (set by {@link UpstreamConnection.send}), for cancel. */
  upstreamId: number;
  onResponse(frame: Frame): void;
  onError(error: ProxyError): void;
}

/** Who waits for a saturated connection to drain: a downstream connection it paused. */
export interface DrainWaiter {
  onUpstreamDrained(connection: UpstreamConnection): void;
}

/** What a connection tells its endpoint. */
export interface UpstreamConnectionEvents {
  onOpen(connection: UpstreamConnection): void;
  /** `inFlight`: calls that were waiting on the connection and now fail with `error`. */
  onClose(connection: UpstreamConnection, error: ProxyError, inFlight: number): void;
  onReadonly(connection: UpstreamConnection, frame: Frame): void;
}

export interface UpstreamConnectionOptions {
  host: string;
  port: number;
  connectTimeoutMs: number;
  maxPayload: number;
  /** Send a heartbeat after this long with no traffic; close after three times this with nothing read. */
  heartbeatIntervalMs: number;
  /** Default: real time. */
  clock?: Clock;
}

/**
 * Bytes an upstream connection may hold unsent (in its socket and gathered for the next
 * flush) before the downstream connections feeding it stop reading: Envoy's default
 * per-connection buffer limit. Large enough that a burst of a thousand calls never trips it,
 * small enough that a stalled instance cannot make the proxy buffer without bound.
 */
export const UPSTREAM_BUFFER_LIMIT = 1024 * 1024;

/** The last request id before the sequence starts again at 1: ids fit the header's low word. */
const MAX_REQUEST_ID = 0xffffffff;

/** Slots of the pending table; a power of two. */
const SLOTS = 512;

/**
 * Calls waiting for a response, by upstream id. Ids are handed out in sequence, so a ring of
 * slots indexed by the id's low bits finds a call without hashing; an id whose slot is still
 * taken (more than {@link SLOTS} calls in flight on one connection) waits in a Map instead.
 */
export class PendingCalls {
  private readonly ids = new Uint32Array(SLOTS); // 0: free (ids start at 1)
  private readonly calls: Array<UpstreamCall | undefined> = new Array<UpstreamCall | undefined>(SLOTS).fill(undefined);
  private readonly overflow = new Map<number, UpstreamCall>();
  size = 0;

  add(id: number, call: UpstreamCall): void {
    const slot = id & (SLOTS - 1);
    if (this.ids[slot] === 0) {
      this.ids[slot] = id;
      this.calls[slot] = call;
    } else this.overflow.set(id, call);
    this.size += 1;
  }

  /** Remove and return the call of `id`, if it is waiting. */
  take(id: number): UpstreamCall | undefined {
    const slot = id & (SLOTS - 1);
    let call: UpstreamCall | undefined;
    if (id !== 0 && this.ids[slot] === id) {
      call = this.calls[slot];
      this.ids[slot] = 0;
      this.calls[slot] = undefined;
    } else {
      call = this.overflow.get(id);
      if (call !== undefined) this.overflow.delete(id);
    }
    if (call !== undefined) this.size -= 1;
    return call;
  }

  /** Remove and return every waiting call. */
  takeAll(): UpstreamCall[] {
    const all: UpstreamCall[] = [];
    for (let slot = 0; slot < SLOTS; slot++) {
      if (this.ids[slot] === 0) continue;
      all.push(this.calls[slot]!);
      this.ids[slot] = 0;
      this.calls[slot] = undefined;
    }
    all.push(...this.overflow.values());
    this.overflow.clear();
    this.size = 0;
    return all;
  }
}

/** A sentinel for the proxy's own heartbeats in the pending table. */
const HEARTBEAT_CALL: UpstreamCall = { upstreamId: 0, onResponse() {}, onError() {} };

/**
 * One TCP connection to an instance, with calls multiplexed over it: each request gets the
 * connection's next id (written into the frame in place), and responses are matched back by
 * id. Requests sent while connecting wait in a queue.
 */
export class UpstreamConnection {
  readonly id: string;
  private readonly socket: net.Socket;
  private readonly decoder: FrameDecoder;
  private readonly output: WriteBuffer;
  private readonly pending = new PendingCalls();
  private readonly queue: Array<{ bytes: Buffer; id: number; call: UpstreamCall; expectsResponse: boolean }> = [];
  private nextId = 1;
  private state: 'connecting' | 'open' | 'closed' = 'connecting';
  /** Whether the connection ever opened. */
  opened = false;
  private connectTimer: unknown;
  private heartbeatTimer: unknown;
  private readonly clock: Clock;
  private lastReadAt: number;
  private lastWriteAt: number;

  constructor(
    private readonly options: UpstreamConnectionOptions,
    private readonly events: UpstreamConnectionEvents,
  ) {
    this.id = `${options.host}:${options.port}`;
    this.clock = options.clock ?? systemClock;
    this.lastReadAt = this.lastWriteAt = this.clock.now();
    this.decoder = new FrameDecoder({ maxPayload: options.maxPayload });
    this.socket = net.connect({ host: options.host, port: options.port, noDelay: true });
    this.output = new WriteBuffer(this.socket, () => this.checkDrained());
    this.connectTimer = this.clock.setTimer(
      () => this.fail(new ConnectFailureError(this.id, `connect timeout after ${options.connectTimeoutMs} ms`)),
      options.connectTimeoutMs,
    );
    this.socket.once('connect', () => this.onConnect());
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (error: NodeJS.ErrnoException) => {
      this.fail(
        this.state === 'connecting'
          ? new ConnectFailureError(this.id, error.code ?? error.message)
          : new UpstreamUnavailableError(this.id, error.code ?? error.message),
      );
    });
    this.socket.on('close', () => this.fail(new UpstreamUnavailableError(this.id, 'connection closed')));
    this.socket.on('drain', () => this.checkDrained());
  }

  private readonly drainWaiters: DrainWaiter[] = [];

  /** Tell `waiter` once the connection is no longer {@link saturated} (or closes): backpressure. */
  whenDrained(waiter: DrainWaiter): void {
    if (this.state === 'closed' || !this.saturated) waiter.onUpstreamDrained(this);
    else if (!this.drainWaiters.includes(waiter)) this.drainWaiters.push(waiter);
  }

  /** Stop waiting (the waiter's own connection closed): nothing is kept for it. */
  forgetWaiter(waiter: DrainWaiter): void {
    const index = this.drainWaiters.indexOf(waiter);
    if (index >= 0) this.drainWaiters.splice(index, 1);
  }

  /** After a flush or a drain: wake the waiters if the unsent bytes fell below the limit. */
  private checkDrained(): void {
    if (this.drainWaiters.length === 0 || this.saturated) return;
    for (const waiter of this.drainWaiters.splice(0)) waiter.onUpstreamDrained(this);
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  /** Calls waiting for a response or for the connection. */
  get load(): number {
    return this.pending.size + this.queue.length;
  }

  /** Calls waiting for the connection to open. */
  get queued(): number {
    return this.queue.length;
  }

  /** Whether the bytes not yet sent, in the socket and gathered for it, reach {@link UPSTREAM_BUFFER_LIMIT}. */
  get saturated(): boolean {
    return this.socket.writableLength + this.output.queuedBytes >= UPSTREAM_BUFFER_LIMIT;
  }

  /**
   * The next request id of this connection, for calls, health checks and heartbeats alike:
   * 1 to 2^32-1 in turn (0 is never used, so the pending table's free slot stays 0, and the
   * high word of every id is 0).
   */
  private allocateId(): number {
    const id = this.nextId;
    this.nextId = id >= MAX_REQUEST_ID ? 1 : id + 1;
    return id;
  }

  /**
   * Send a whole request frame; its request id is overwritten in place with this
   * connection's id, which is also stored in `call.upstreamId`, for {@link cancel}.
   */
  send(bytes: Buffer, call: UpstreamCall, expectsResponse = true): void {
    const id = this.allocateId();
    call.upstreamId = id;
    writeRequestIdWords(bytes, 0, id);
    if (this.state === 'open') {
      if (expectsResponse) this.pending.add(id, call);
      this.write(bytes);
    } else if (this.state === 'connecting') {
      this.queue.push({ bytes, id, call, expectsResponse });
    } else {
      call.onError(new UpstreamUnavailableError(this.id, 'connection closed'));
    }
  }

  /**
   * Send a heartbeat and resolve true if it is answered within `timeoutMs` (an active health
   * check). Resolves false on timeout or if the connection fails.
   */
  ping(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      let id = 0;
      const clock = this.clock;
      const timer = clock.setTimer(() => {
        this.cancel(id);
        resolve(false);
      }, timeoutMs);
      const call: UpstreamCall = {
        upstreamId: 0,
        onResponse: () => {
          clock.clearTimer(timer);
          resolve(true);
        },
        onError: () => {
          clock.clearTimer(timer);
          resolve(false);
        },
      };
      id = this.allocateId();
      const bytes = encodeHeartbeatRequest(BigInt(id));
      if (this.state === 'open') {
        this.pending.add(id, call);
        this.write(bytes);
      } else if (this.state === 'connecting') {
        this.queue.push({ bytes, id, call, expectsResponse: true });
      } else {
        clock.clearTimer(timer);
        resolve(false);
      }
    });
  }

  /** Forget a call (its timeout passed): a late response is dropped. */
  cancel(id: number): void {
    if (this.pending.take(id) !== undefined) return;
    const index = this.queue.findIndex((entry) => entry.id === id);
    if (index >= 0) this.queue.splice(index, 1);
  }

  /** Close now; calls in flight fail as `unavailable`. What was already sent (one-way calls too) leaves first. */
  destroy(reason = 'closed by the proxy'): void {
    this.output.flush();
    this.fail(new UpstreamUnavailableError(this.id, reason));
  }

  private write(bytes: Buffer): void {
    this.lastWriteAt = this.clock.now();
    this.output.write(bytes);
  }

  private onConnect(): void {
    if (this.state !== 'connecting') return;
    this.clock.clearTimer(this.connectTimer);
    this.state = 'open';
    this.opened = true;
    this.lastReadAt = this.clock.now();
    this.heartbeatTimer = this.clock.setTimer(this.onHeartbeatTick, this.options.heartbeatIntervalMs);
    for (const { bytes, id, call, expectsResponse } of this.queue.splice(0)) {
      if (expectsResponse) this.pending.add(id, call);
      this.write(bytes);
    }
    this.events.onOpen(this);
  }

  /** Every heartbeat interval while open: a heartbeat after an idle interval; closed after three silent ones. */
  private readonly onHeartbeatTick = (): void => {
    if (this.state !== 'open') return;
    const now = this.clock.now();
    const interval = this.options.heartbeatIntervalMs;
    if (now - this.lastReadAt >= 3 * interval) {
      this.fail(new UpstreamUnavailableError(this.id, `nothing read for ${Math.round(now - this.lastReadAt)} ms (heartbeat timeout)`));
      return;
    }
    if (now - this.lastReadAt >= interval && now - this.lastWriteAt >= interval) {
      const id = this.allocateId();
      this.pending.add(id, HEARTBEAT_CALL);
      this.write(encodeHeartbeatRequest(BigInt(id)));
    }
    this.heartbeatTimer = this.clock.setTimer(this.onHeartbeatTick, interval);
  };

  private onData(chunk: Buffer): void {
    this.lastReadAt = this.clock.now();
    this.decoder.push(chunk);
    try {
      for (let frame = this.decoder.next(); frame !== undefined; frame = this.decoder.next()) this.onFrame(frame);
    } catch (error) {
      if (!isDubboProtocolError(error)) throw error;
      this.fail(new UpstreamUnavailableError(this.id, `bad frame from instance: ${error.message}`));
    }
  }

  private onFrame(frame: Frame): void {
    const bytes = frame.bytes;
    if (frame.header.isRequest) {
      if (isHeartbeat(frame)) {
        if (frame.header.twoWay) this.write(heartbeatResponseFor(frame));
      } else if (isReadonlyEvent(frame)) {
        this.events.onReadonly(this, frame);
      }
      return;
    }
    // Our ids are below 2^32: the high word is 0.
    if (requestIdHigh(bytes) !== 0) return;
    const id = requestIdLow(bytes);
    const call = this.pending.take(id);
    if (call === undefined) return; // a late response to a cancelled call
    call.onResponse(frame);
  }

  private fail(error: ProxyError): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.clock.clearTimer(this.connectTimer);
    this.clock.clearTimer(this.heartbeatTimer);
    this.socket.destroy();
    const calls = [...this.pending.takeAll(), ...this.queue.map((entry) => entry.call)];
    this.queue.length = 0;
    this.events.onClose(this, error, calls.length);
    for (const waiter of this.drainWaiters.splice(0)) waiter.onUpstreamDrained(this);
    for (const call of calls) call.onError(error);
  }
}
