import type net from 'node:net';

/** Above this many bytes a batch is written part by part (corked) instead of copied into one buffer. */
const COPY_LIMIT = 256 * 1024;

/**
 * Write coalescing. Frames written to a socket are gathered here and handed to the socket in
 * one `socket.write` after the event loop's poll phase (a `setImmediate` scheduled by the
 * first write), so every chunk read in one loop iteration, from any connection, shares one
 * syscall per socket: under load one write carries the responses to dozens of calls. A
 * batch of several frames is copied into one buffer (cheaper than a Writable entry per
 * frame), which also frees the received chunks they were views of. {@link WriteBuffer.flush}
 * hands one buffer's bytes over at once, where they must leave before a close.
 */
export class WriteBuffer {
  private parts: Buffer[] = [];
  private bytes = 0;

  /** `onFlushed` runs after each flush that handed bytes to the socket (to re-check backpressure). */
  constructor(readonly socket: net.Socket, private readonly onFlushed?: () => void) {}

  /** Queue `bytes`; it is written when the loop's poll phase ends. Dropped if the socket is gone or ended. */
  write(bytes: Buffer): void {
    if (this.socket.destroyed || this.socket.writableEnded) return;
    if (this.parts.length === 0) {
      if (dirty.length === 0 && !scheduled) {
        scheduled = true;
        setImmediate(flushScheduled);
      }
      dirty.push(this);
    }
    this.parts.push(bytes);
    this.bytes += bytes.length;
  }

  /** Bytes queued and not yet handed to the socket. */
  get queuedBytes(): number {
    return this.bytes;
  }

  /** Hand the queued bytes to the socket. */
  flush(): void {
    const parts = this.parts;
    if (parts.length === 0) return;
    const socket = this.socket;
    const bytes = this.bytes;
    this.parts = [];
    this.bytes = 0;
    if (socket.destroyed || socket.writableEnded) return;
    if (parts.length === 1) socket.write(parts[0]!);
    else if (bytes <= COPY_LIMIT) socket.write(Buffer.concat(parts, bytes));
    else {
      socket.cork();
      for (const part of parts) socket.write(part);
      socket.uncork();
    }
    this.onFlushed?.();
  }
}

const dirty: WriteBuffer[] = [];
let scheduled = false;

/** Flush every buffer written to since the last flush (a `setImmediate` callback). */
function flushScheduled(): void {
  scheduled = false;
  // A flush may run callbacks that write again (an error on a socket): loop until all is out.
  for (let i = 0; i < dirty.length; i++) dirty[i]!.flush();
  dirty.length = 0;
}
