import * as grpc from '@grpc/grpc-js';
import type { ServerSnapshotStream, WireNode } from '@dubbo-mesh/discovery';
import type { DiscoveryView, HeldResources, StreamRequest, Subscription } from './discovery-view.js';
import { LARGE_RESPONSE_ANSWER_MS, LARGE_RESPONSE_BYTES, type LargeResponseSlots } from './large-response-slots.js';
import type { ControlPlaneMetrics } from './metrics.js';
import type { Snapshot } from './snapshot.js';
import type { CancelWatch, SnapshotCache } from './snapshot-cache.js';

/** The wire API a proxy's stream speaks: the dubbo-mesh discovery API, or Envoy's ADS (state of the world or delta). */
export type ProxyApi = 'dubbo-mesh' | 'envoy-ads' | 'envoy-ads-delta';

/** A rejected version (NACK): what the proxy said, and when. */
export interface ProxyNack {
  /** The snapshot version the rejected response was built from. */
  version: string;
  message: string;
  errors: readonly string[];
  at: Date;
  /** xDS: the type URL of the rejected response. */
  typeUrl?: string;
}

/** xDS: one resource type of a stream (per type URL). */
export interface ProxyTypeStatus {
  /** The names subscribed to; `*` when the subscription is a wildcard. */
  subscribed: readonly string[];
  /** The type's version last sent, and its nonce. */
  sentVersion: string;
  sentNonce: string;
  /** The type's version last ACKed ('' before its first). */
  ackedVersion: string;
  lastNack: ProxyNack | undefined;
}

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
  lastNack: ProxyNack | undefined;
  /**
   * xDS: the latest snapshot version nothing more is to be sent for — every type ACKed what it
   * gives, or gives only what the proxy rejected (see {@link lastNack}); absent: {@link ackedVersion}.
   * Convergence counts a proxy done with a version at this.
   */
  settledVersion?: string;
  /** The wire API of the stream (absent: `dubbo-mesh`). */
  api?: ProxyApi;
  /** What kind of client it is, when the API tells (xDS: `envoy-sidecar`, `proxyless`). */
  kind?: string;
  /** xDS: each resource type the stream subscribed to, by type URL. */
  resources?: Record<string, ProxyTypeStatus>;
  /** xDS: what could not be translated for this node, one line each naming the resource and field. */
  untranslated?: readonly string[];
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

/** What every stream of one discovery server shares: the server owns it. */
export interface StreamContext {
  readonly cache: SnapshotCache;
  readonly view: DiscoveryView;
  readonly metrics: ControlPlaneMetrics;
  readonly hooks: DiscoveryHooks;
  readonly largeResponses: LargeResponseSlots;
  /** The version each node last rejected: not pushed to that node again, on any stream. */
  readonly rejected: Map<string, string>;
  /** A stream named its node (it is now a connected proxy). */
  opened(stream: DiscoveryStream): void;
  /** A stream that had named its node closed. */
  closed(stream: DiscoveryStream): void;
}

/**
 * One discovery stream, as go-control-plane's stream wrapper: it owns its nonces (one more per
 * response); a request answering an older nonce is stale and ignored; the first request, an
 * ACK or a NACK opens one one-shot watch on the cache for any version other than the one the
 * proxy holds, so a NACKed version is not sent again (to that node, on any stream) and the
 * proxy keeps its last good snapshot until a newer one exists. A large response waits for
 * one of the server's large-response slots and holds it until the proxy answers.
 *
 * What is sent comes from the view: the whole snapshot (state of the world), or what changed
 * since `held` — the last snapshot the proxy ACKed, or the resource versions it reported on
 * connect (delta). Everything else is the same for both, and for every view.
 */
export class DiscoveryStream {
  /** Set once the first request named the node. */
  status: ProxyStatus | undefined;
  private nonce = 0;
  private cancelWatch: CancelWatch | undefined;
  private closed = false;
  private held: HeldResources = new Map();
  private sent: Snapshot | undefined;
  /** The version the proxy holds, as the stream last learned it (its first request, an ACK, or the version it NACKed). */
  private known = '';
  /** Whether this stream holds a large-response slot (until its answer comes, or a timeout). */
  private holdsSlot = false;
  private slotTimer: NodeJS.Timeout | undefined;
  /** Whether this stream waits for a slot (at most once; it then sends the node's newest snapshot). */
  private queued = false;

  constructor(
    readonly id: number,
    private readonly stream: ServerSnapshotStream,
    private readonly subscription: Subscription,
    private readonly context: StreamContext,
  ) {
    stream.on('data', (request: unknown) => this.onRequest(this.context.view.readRequest(request)));
    stream.on('end', () => {
      this.close();
      stream.end();
    });
    stream.on('error', () => this.close());
    stream.on('close', () => this.close());
  }

  private onRequest(request: StreamRequest): void {
    if (this.closed) return;
    const status = this.status;
    if (status === undefined) {
      this.open(request);
      return;
    }
    if (request.responseNonce === '' || request.responseNonce !== status.sentNonce) {
      // An answer to an older response, or a repeated first request: stale.
      this.context.metrics.staleRequests.inc();
      this.context.hooks.onStaleRequest?.(status);
      return;
    }
    if (request.errorDetail !== null) {
      // Recorded before the slot is released: a stream of the same node waiting for the slot
      // must not be sent the version just rejected.
      this.context.rejected.set(status.node.id, status.sentVersion);
      this.releaseSlot();
      status.lastNack = { version: status.sentVersion, message: request.errorDetail.message, errors: request.errorDetail.errors, at: new Date() };
      this.context.metrics.nacks.inc();
      this.context.hooks.onNack?.(status, status.sentVersion, request.errorDetail.errors);
      // Do not send the rejected version again: wait for a newer one.
      this.watch(this.snapshotVersionOf(status.sentVersion), status.sentVersion);
      return;
    }
    this.releaseSlot();
    status.ackedVersion = request.versionInfo;
    if (this.sent !== undefined) this.held = this.sent;
    this.context.metrics.acks.inc();
    this.context.hooks.onAck?.(status, request.versionInfo);
    this.watch(this.snapshotVersionOf(request.versionInfo), request.versionInfo);
  }

  /**
   * The snapshot version a response version stands for: the snapshot last sent when it was
   * sent with that version, else the version itself (what the cache compares with; the same
   * for a view that answers with the snapshot's version).
   */
  private snapshotVersionOf(responseVersion: string): string {
    const sent = this.sent;
    return sent !== undefined && this.context.view.versionOf(sent, this.subscription) === responseVersion ? sent.version : responseVersion;
  }

  /** The first request: it must name the node. */
  private open(request: StreamRequest): void {
    const node = request.node;
    if (node === null || node.id === '') {
      this.close();
      this.stream.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: 'the first request must carry node.id' });
      return;
    }
    this.status = {
      stream: this.id,
      node,
      peer: this.stream.getPeer(),
      connectedAt: new Date(),
      sentVersion: '',
      sentNonce: '',
      ackedVersion: request.versionInfo,
      lastNack: undefined,
      api: 'dubbo-mesh',
    };
    if (this.subscription.mode === 'delta' && request.initialResourceVersions !== undefined) this.held = request.initialResourceVersions;
    this.context.opened(this);
    this.context.hooks.onStreamOpen?.(this.status);
    this.watch(request.versionInfo, request.versionInfo);
  }

  /**
   * One open watch per stream: for a snapshot whose version is not `snapshotVersion`, and
   * whose response version (the view's) is not `responseVersion` — the same for views that
   * answer with the snapshot's version; a view that answers with one type's version is not
   * woken to send what the proxy has.
   */
  private watch(snapshotVersion: string, responseVersion: string): void {
    this.known = responseVersion;
    this.cancelWatch?.();
    this.cancelWatch = undefined;
    let fired = false;
    const cancel = this.context.cache.watch(this.status!.node.id, snapshotVersion, (snapshot) => {
      fired = true;
      this.cancelWatch = undefined;
      this.respond(snapshot);
    });
    if (!fired) this.cancelWatch = cancel;
  }

  private respond(snapshot: Snapshot): void {
    const status = this.status;
    if (this.closed || status === undefined) return;
    const { view, metrics, largeResponses } = this.context;
    const version = view.versionOf(snapshot, this.subscription);
    // Never push a version this node rejected (also on an earlier stream), nor the version the
    // proxy has: wait for a newer one.
    if (version === this.context.rejected.get(status.node.id) || version === this.known) {
      this.watch(snapshot.version, this.known);
      return;
    }
    // Encoded once for every stream in the same place; only the nonce is per stream.
    const response = view.response(snapshot, this.subscription, this.held);
    if (response.length >= LARGE_RESPONSE_BYTES && !this.holdsSlot) {
      // Bound the memory of many full snapshots in flight at once (proxies starting together).
      if (!largeResponses.tryTake()) {
        if (!this.queued) {
          this.queued = true;
          largeResponses.wait(() => {
            this.queued = false;
            const newest = this.status === undefined ? undefined : this.context.cache.get(this.status.node.id);
            if (newest !== undefined) this.respond(newest);
          });
        }
        return;
      }
      this.holdsSlot = true;
      // A peer that never answers must not keep the slot.
      this.slotTimer = setTimeout(() => this.releaseSlot(), LARGE_RESPONSE_ANSWER_MS);
      this.slotTimer.unref();
    }
    this.nonce += 1;
    this.sent = snapshot;
    status.sentVersion = version;
    status.sentNonce = String(this.nonce);
    this.stream.write(view.message(response, status.sentNonce) as never);
    metrics.pushes.inc();
  }

  private releaseSlot(): void {
    if (!this.holdsSlot) return;
    this.holdsSlot = false;
    clearTimeout(this.slotTimer);
    this.context.largeResponses.give();
  }

  /** End this stream's state (the transport ended or failed, or the first request was bad). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.releaseSlot();
    this.cancelWatch?.();
    if (this.status !== undefined) this.context.closed(this);
  }
}
