import type net from 'node:net';

/**
 * Write coalescing. While one received chunk is processed, every socket written to is
 * corked; at the end of the chunk each is uncorked once, so the frames of a chunk leave in
 * one writev per socket instead of one syscall per frame.
 */
const corked = new Set<net.Socket>();

/** Write `bytes` to `socket`, coalesced until {@link flushWrites}. */
export function batchedWrite(socket: net.Socket, bytes: Buffer): boolean {
  if (!corked.has(socket)) {
    socket.cork();
    corked.add(socket);
  }
  return socket.write(bytes);
}

/** Uncork every socket written to since the last flush. Call at the end of each data event. */
export function flushWrites(): void {
  if (corked.size === 0) return;
  for (const socket of corked) socket.uncork();
  corked.clear();
}
