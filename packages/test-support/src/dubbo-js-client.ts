/**
 * Helpers for apache-dubbo-js, the third-party consumer our tests call through.
 */

interface DubboJsSocketWorker {
  _retry: number;
  _heartBeatTimer?: NodeJS.Timeout;
  _retryTimeoutId?: NodeJS.Timeout;
  _socket?: { destroy(): void };
}

/**
 * Close a `DirectlyDubbo` client. apache-dubbo-js has no close(): its socket worker
 * reconnects forever and keeps a 180 s heartbeat timer, which would keep a test process
 * alive. This turns retries off, clears its timers and destroys its socket.
 */
export function closeDirectlyDubbo(client: unknown): void {
  const worker = (client as { _socketWorker?: DubboJsSocketWorker })._socketWorker;
  if (worker === undefined) return;
  worker._retry = 0;
  clearInterval(worker._heartBeatTimer);
  clearTimeout(worker._retryTimeoutId);
  worker._socket?.destroy();
}
