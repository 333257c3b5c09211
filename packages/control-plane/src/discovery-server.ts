import * as grpc from '@grpc/grpc-js';
import {
  PreEncodedResponse, preEncodingServiceDefinition, type DiscoveryRequest, type ServerSnapshotStream, type WireNode,
} from '@dubbo-mesh/discovery';
import { ListenError } from './errors.js';
import type { ControlPlaneMetrics } from './metrics.js';
import type { ResourceVersions, Snapshot } from './snapshot.js';
import type { CancelWatch, SnapshotCache } from './snapshot-cache.js';

/** A response this big (a whole snapshot, typically) counts against {@link MAX_LARGE_IN_FLIGHT}. */
const LARGE_RESPONSE_BYTES = 256 * 1024;
/**
 * How many large responses may be unanswered at once, over all streams. Each costs about two
 * copies of its bytes until the transport has sent it; a thousand proxies connecting at once
 * would otherwise hold a thousand whole snapshots in memory.
 */
const MAX_LARGE_IN_FLIGHT = 16;
/** How long a stream may hold a large-response slot without answering. */
const LARGE_RESPONSE_ANSWER_MS = 30_000;

/** A connected proxy as the admin API shows it. */
export interface ProxyStatus {
  readonly stream: number;
  readonly node: WireNode;
  readonly peer: string;
  readonly connectedAt: Date;
  /** The version last sent, and its nonce. */
  sentVersion: string;
  sentNonce: string;
  /** The version the proxy last ACKed ('' before its first). */
  ackedVersion: string;
  lastNack: { version: string; message: string; errors: readonly string[]; at: Date } | undefined;
}

/** Stream lifecycle hooks (go-control-plane's callbacks). */
export interface DiscoveryHooks {
  /** A stream named its node (first request): the owner puts the node's snapshot in the cache. */
  onStreamOpen?(status: ProxyStatus): void;
  onAck?(status: ProxyStatus, version: string): void;
  onNack?(status: ProxyStatus, version: string, errors: readonly string[]): void;
  onStreamClosed?(status: ProxyStatus): void;
  /** A request answered an older nonce (or repeated the first request): ignored. */
  onStaleRequest?(status: ProxyStatus): void;
}

/**
 * The state-of-the-world discovery server, shaped after go-control-plane's sotw server: each
 * stream owns its nonces (one more per response), a request answering an older nonce is
 * stale and ignored, an ACK or NACK (or the first request) opens a one-shot watch on the
 * cache for any version other than the one the proxy holds, so a NACKed version is not sent
 * again and the proxy keeps its last good snapshot until a newer one exists.
 */
export class DiscoveryServer {
  readonly proxies = new Map<number, ProxyStatus>();
  /** Large responses sent and not yet answered, and the streams waiting to send one. */
  private largeInFlight = 0;
  private readonly largeWaiting: Array<() => void> = [];
  // Keepalive pings find proxies whose host died or was cut off, so they do not linger as connected.
  private readonly server = new grpc.Server({ 'grpc.keepalive_time_ms': 20_000, 'grpc.keepalive_timeout_ms': 10_000 });
  /** The version each node last rejected: not pushed to that node again, on any stream. */
  private readonly rejected = new Map<string, string>();
  private nextStream = 1;

  constructor(
    private readonly cache: SnapshotCache,
    private readonly metrics: ControlPlaneMetrics,
    private readonly hooks: DiscoveryHooks = {},
  ) {
    this.server.addService(preEncodingServiceDefinition(), {
      StreamSnapshots: (stream: ServerSnapshotStream) => this.handle(stream, 'sotw'),
      DeltaSnapshots: (stream: ServerSnapshotStream) => this.handle(stream, 'delta'),
    });
  }

  /**
   * Listen on `host:port` (0: any free port); resolves to the bound port, or rejects with a
   * {@link ListenError} whose `code` is the errno code. grpc-js reports a failed bind only in
   * its message ("… errors: [listen EADDRINUSE: …]"), so the code is read from there.
   */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (error, bound) => {
        if (error === null) resolve(bound);
        else reject(new ListenError(host, port, /\b(E[A-Z_]+[A-Z])\b/.exec(error.message)?.[1], { cause: error }));
      });
    });
  }

  /** Stop: end every stream (proxies keep their snapshots and reconnect elsewhere or later). */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.tryShutdown(() => resolve());
      // Streams never end by themselves: cut them.
      setImmediate(() => this.server.forceShutdown());
    });
  }

  /**
   * One stream. State of the world sends the whole snapshot; delta sends what changed since
   * the snapshot the proxy holds (`held`: the last one it ACKed, or the resource versions it
   * reported on connect). Everything else — nonces, ACK/NACK, watches — is the same.
   */
  private handle(stream: ServerSnapshotStream, kind: 'sotw' | 'delta'): void {
    const id = this.nextStream++;
    let status: ProxyStatus | undefined;
    let nonce = 0;
    let cancelWatch: CancelWatch | undefined;
    let closed = false;
    let held: Snapshot | ResourceVersions = new Map();
    let sent: Snapshot | undefined;

    /** Whether this stream holds one of the large-response slots (until its answer comes, or a timeout). */
    let holdsSlot = false;
    let slotTimer: NodeJS.Timeout | undefined;
    /** Whether this stream waits for a slot (at most once; it then sends the node's newest snapshot). */
    let queued = false;
    const releaseSlot = () => {
      if (!holdsSlot) return;
      holdsSlot = false;
      clearTimeout(slotTimer);
      this.largeInFlight -= 1;
      // A waiter whose stream has closed sends nothing and takes no slot: go on to the next.
      while (this.largeInFlight < MAX_LARGE_IN_FLIGHT && this.largeWaiting.length > 0) this.largeWaiting.shift()!();
    };
    const respond = (snapshot: Snapshot) => {
      if (closed || status === undefined) return;
      // Never push a version this node rejected (also on an earlier stream): wait for a newer one.
      if (snapshot.version === this.rejected.get(status.node.id)) {
        watch(snapshot.version);
        return;
      }
      // Encoded once for every stream in the same place; only the nonce is per stream.
      const shared = kind === 'sotw' ? snapshot.encodedResponse : snapshot.deltaFrom(held);
      if (shared.length >= LARGE_RESPONSE_BYTES && !holdsSlot) {
        // Bound the memory of many full snapshots in flight at once (proxies starting together).
        if (this.largeInFlight >= MAX_LARGE_IN_FLIGHT) {
          if (!queued) {
            queued = true;
            this.largeWaiting.push(() => {
              queued = false;
              const newest = status === undefined ? undefined : this.cache.get(status.node.id);
              if (newest !== undefined) respond(newest);
            });
          }
          return;
        }
        this.largeInFlight += 1;
        holdsSlot = true;
        // A peer that never answers must not keep the slot.
        slotTimer = setTimeout(releaseSlot, LARGE_RESPONSE_ANSWER_MS);
        slotTimer.unref();
      }
      nonce += 1;
      sent = snapshot;
      status.sentVersion = snapshot.version;
      status.sentNonce = String(nonce);
      stream.write(new PreEncodedResponse(shared, status.sentNonce) as never);
      this.metrics.pushes.inc();
    };
    /** One open watch per stream, for any version but `knownVersion`. */
    const watch = (knownVersion: string) => {
      cancelWatch?.();
      cancelWatch = undefined;
      let fired = false;
      const cancel = this.cache.watch(status!.node.id, knownVersion, (snapshot) => {
        fired = true;
        cancelWatch = undefined;
        respond(snapshot);
      });
      if (!fired) cancelWatch = cancel;
    };
    const close = () => {
      if (closed) return;
      closed = true;
      releaseSlot();
      cancelWatch?.();
      if (status !== undefined) {
        this.proxies.delete(id);
        this.metrics.connectedProxies.set(this.proxies.size);
        this.hooks.onStreamClosed?.(status);
      }
    };

    stream.on('data', (request: DiscoveryRequest) => {
      if (closed) return;
      if (status === undefined) {
        const node = request.node;
        if (node === null || node.id === '') {
          close();
          stream.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: 'the first request must carry node.id' });
          return;
        }
        status = { stream: id, node, peer: stream.getPeer(), connectedAt: new Date(), sentVersion: '', sentNonce: '', ackedVersion: request.version_info, lastNack: undefined };
        if ('initial_resource_versions' in request) held = new Map(Object.entries(request.initial_resource_versions ?? {}));
        this.proxies.set(id, status);
        this.metrics.connectedProxies.set(this.proxies.size);
        this.hooks.onStreamOpen?.(status);
        watch(request.version_info);
        return;
      }
      if (request.response_nonce === '' || request.response_nonce !== status.sentNonce) {
        // An answer to an older response, or a repeated first request: stale.
        this.metrics.staleRequests.inc();
        this.hooks.onStaleRequest?.(status);
        return;
      }
      releaseSlot();
      if (request.error_detail !== null && request.error_detail !== undefined) {
        status.lastNack = { version: status.sentVersion, message: request.error_detail.message, errors: request.error_detail.errors, at: new Date() };
        this.rejected.set(status.node.id, status.sentVersion);
        this.metrics.nacks.inc();
        this.hooks.onNack?.(status, status.sentVersion, request.error_detail.errors);
        // Do not send the rejected version again: wait for a newer one.
        watch(status.sentVersion);
        return;
      }
      status.ackedVersion = request.version_info;
      if (sent !== undefined) held = sent;
      this.metrics.acks.inc();
      this.hooks.onAck?.(status, request.version_info);
      watch(request.version_info);
    });
    stream.on('end', () => {
      close();
      stream.end();
    });
    stream.on('error', close);
    stream.on('close', close);
  }
}
