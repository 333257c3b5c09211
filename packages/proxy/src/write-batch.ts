import type net from 'node:net';

/** Size of the slabs frames are gathered in. */
export const SLAB_SIZE = 64 * 1024;
/** A frame at least this long is handed to the socket as it is, not copied into a slab. */
const DIRECT_WRITE = SLAB_SIZE / 2;
/** Free slabs kept for reuse; more are left to the garbage collector. */
const MAX_FREE_SLABS = 64;

/** Slabs whose bytes the kernel has taken: free for the next batch of any socket. */
const freeSlabs: Buffer[] = [];

function takeSlab(): Buffer {
  return freeSlabs.pop() ?? Buffer.allocUnsafeSlow(SLAB_SIZE);
}

/**
 * Write coalescing. Frames written to a socket are copied, as they are written, into a slab
 * of that socket's batch, and the batch is handed to the socket in one `socket.write` after
 * the event loop's poll phase (a `setImmediate` scheduled by the first write), so every
 * chunk read in one loop iteration, from any connection, shares one syscall per socket:
 * under load one write carries the responses to dozens of calls.
 *
 * Copying at write time means the caller's bytes (views of received chunks) are free at
 * once, and no list of parts is kept. A slab whose bytes the kernel took at once (the
 * socket buffered nothing) goes back to a shared free list, so a busy proxy allocates no
 * memory per batch. A batch for a socket that is already backed up is queued as an exact
 * copy and its slab reused at once: a slab held by a socket would keep all 64 KiB alive for
 * however few bytes it carries, so at most one slab per socket (a write the kernel took in
 * part) waits in a socket. A frame that does
 * not fit sends the batch so far first (order is kept); a frame of half a slab or more is
 * written as it is. {@link WriteBuffer.flush} hands the batch over at once, where it must
 * leave before a close.
 */
export class WriteBuffer {
  private slab: Buffer | undefined;
  private used = 0;

  /** `onFlushed` runs after each flush that handed bytes to the socket (to re-check backpressure). */
  constructor(
    readonly socket: net.Socket,
    private readonly onFlushed?: () => void,
  ) {}

  /** Queue a copy of `bytes`; it is written when the loop's poll phase ends. Dropped if the socket is gone or ended. */
  write(bytes: Uint8Array): void {
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) return;
    const length = bytes.length;
    // What is gathered leaves first: order is kept.
    if (length >= DIRECT_WRITE || this.used + length > SLAB_SIZE) this.flush();
    if (length >= DIRECT_WRITE) {
      socket.write(bytes);
      this.onFlushed?.();
      return;
    }
    if (this.slab === undefined) {
      this.slab = takeSlab();
      if (dirty.length === 0 && !scheduled) {
        scheduled = true;
        setImmediate(flushScheduled);
      }
      dirty.push(this);
    }
    this.slab.set(bytes, this.used);
    this.used += length;
  }

  /** Bytes queued and not yet handed to the socket. */
  get queuedBytes(): number {
    return this.used;
  }

  /** Hand the queued bytes to the socket. */
  flush(): void {
    const slab = this.slab;
    if (slab === undefined) return;
    const used = this.used;
    this.slab = undefined;
    this.used = 0;
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) {
      release(slab);
      return;
    }
    if (socket.writableLength > 0) {
      // Backed up: this write will wait in the socket. Queue exactly its bytes, not the slab.
      socket.write(Buffer.from(slab.subarray(0, used)));
      release(slab);
    } else {
      socket.write(slab.subarray(0, used));
      // Nothing buffered in the socket: the write completed at once and the kernel has the bytes.
      if (socket.writableLength === 0) release(slab);
    }
    this.onFlushed?.();
  }
}

function release(slab: Buffer): void {
  if (freeSlabs.length < MAX_FREE_SLABS) freeSlabs.push(slab);
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
