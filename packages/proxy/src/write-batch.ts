import type net from 'node:net';

/** Above this many bytes a batch is written part by part (corked) instead of copied into one buffer. */
const COPY_LIMIT = 256 * 1024;

/**
 * Write coalescing. The frames written to a socket while one received chunk (or one timer
 * callback) is processed are gathered here and leave in one `socket.write` when the burst
 * ends ({@link flushWrites}): one syscall per socket per burst, one Writable entry instead of
 * one per frame, and no view of a received chunk held by a socket's write queue (small
 * batches are copied into one buffer, which also lets the chunk be freed at once).
 */
export class WriteBuffer {
  private parts: Buffer[] = [];
  private bytes = 0;

  constructor(readonly socket: net.Socket) {}

  /** Queue `bytes`; it is written at the next {@link flushWrites}. Dropped if the socket is gone. */
  write(bytes: Buffer): void {
    if (this.socket.destroyed) return;
    if (this.parts.length === 0) dirty.push(this);
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
    if (socket.destroyed) return;
    if (parts.length === 1) socket.write(parts[0]!);
    else if (bytes <= COPY_LIMIT) socket.write(Buffer.concat(parts, bytes));
    else {
      socket.cork();
      for (const part of parts) socket.write(part);
      socket.uncork();
    }
  }
}

const dirty: WriteBuffer[] = [];

/** Flush every buffer written to since the last flush. Call at the end of each event that wrote. */
export function flushWrites(): void {
  // A flush may run callbacks that write again (an error on a socket): loop until all is out.
  for (let i = 0; i < dirty.length; i++) dirty[i]!.flush();
  dirty.length = 0;
}
