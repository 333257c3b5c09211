import * as grpc from '@grpc/grpc-js';
import {
  LARGE_RESPONSE_ANSWER_MS,
  type CancelWatch,
  type DiscoveryServiceContext,
  type LargeResponseSlots,
  type ProxyNack,
  type ProxyStatus,
  type ProxyTypeStatus,
  type Snapshot,
} from '@dubbo-mesh/control-plane';
import { AdsResponses, HOLDS_NOTHING, type AdsHeld, type AdsResponseShape } from './ads-responses.js';
import { AdsSubscription, isWildcardType } from './ads-subscription.js';
import { PreEncodedXdsResponse, TYPE_URLS, type XdsDeltaDiscoveryRequest, type XdsDiscoveryRequest } from './envoy-protos.js';
import type { EnvoyNode, readEnvoyNode } from './envoy-node.js';
import type { EnvoyNodeResources, EnvoyTypeResources } from './envoy-resources.js';

/** How an ADS stream is answered: state of the world (`StreamAggregatedResources`) or delta (`DeltaAggregatedResources`). */
export type AdsMode = 'sotw' | 'delta';

/** Responses and their bytes sent, per mode (what a benchmark compares). */
export interface AdsSentCounts {
  readonly sotw: { responses: number; bytes: number };
  readonly delta: { responses: number; bytes: number };
}

/** What every ADS stream of one server shares. */
export interface AdsShared {
  readonly context: DiscoveryServiceContext;
  readonly responses: AdsResponses;
  readonly readNode: typeof readEnvoyNode;
  /** A node's resources from a snapshot (the same object for every node of the same shape). */
  resourcesFor(snapshot: Snapshot, node: EnvoyNode): EnvoyNodeResources;
  readonly sent: AdsSentCounts;
  /**
   * The limit on large responses unanswered at once over every stream of the server: a
   * thousand Envoys connecting together to a large mesh would otherwise hold a thousand copies
   * of its clusters and endpoints in the transport's buffers.
   */
  readonly largeResponses: LargeResponseSlots;
  /** From this size a response is large. */
  readonly largeResponseBytes: number;
}

/** A response sent and not yet answered. */
interface InFlight {
  readonly nonce: string;
  /** What the response carried (`AdsResponse.content`). */
  readonly content: string;
  readonly resources: EnvoyTypeResources;
  readonly subscription: AdsSubscription;
  readonly snapshotVersion: string;
  /** The large-response slot it was sent under (0: not a large response). */
  readonly slot: number;
}

/** One type of one stream. */
interface TypeState {
  readonly typeUrl: string;
  subscription: AdsSubscription;
  /** What the client holds (as of its last ACK). */
  held: AdsHeld;
  /** At most one response per type is unanswered: the next waits for its ACK or NACK (go-control-plane's watches do the same). */
  inFlight: InFlight | undefined;
  /** The latest nonce sent for this type ('' before the first). */
  nonce: string;
  /** SotW: the version the first request said the client has (a reconnecting client). */
  claimedVersion: string;
  /** The snapshot whose resources of this type the client has ACKed (or been found to hold already). */
  ackedTo: string;
  /** The snapshot this type has nothing more to be sent for: {@link ackedTo}, or one that gives only what the client rejected. */
  settledTo: string;
  /**
   * What the client rejected on this stream (the content of the response it NACKed): not sent
   * again; something newer is. A client that connects again is sent what is current: a restarted
   * Envoy holds nothing, and one that reconnects says what it holds.
   */
  rejected: { readonly content: string } | undefined;
  /** Names the client must be sent again although it holds them (endpoints of a cluster just changed: Envoy warms the new cluster until they come). */
  forget: Set<string> | undefined;
  readonly status: ProxyTypeStatus;
}

/** Types in the order xDS recommends pushing them ("eventual consistency"); other types after. */
const PUSH_ORDER: readonly string[] = [
  TYPE_URLS.cluster,
  TYPE_URLS.clusterLoadAssignment,
  TYPE_URLS.listener,
  TYPE_URLS.routeConfiguration,
  TYPE_URLS.dubboRoutes,
];

function pushOrder(typeUrl: string): number {
  const at = PUSH_ORDER.indexOf(typeUrl);
  return at === -1 ? PUSH_ORDER.length : at;
}

/** Empty resources of a type a node has none of (one object per type URL, so responses from it are cached too). */
const EMPTY = new Map<string, EnvoyTypeResources>();
function emptyResources(typeUrl: string): EnvoyTypeResources {
  let empty = EMPTY.get(typeUrl);
  if (empty === undefined) EMPTY.set(typeUrl, (empty = Object.freeze({ typeUrl, version: 'empty', byName: new Map() })));
  return empty;
}

/**
 * One ADS stream (state of the world or delta), with xDS's rules per type: a nonce per
 * response (a stream-wide counter); a request answering an older nonce is stale and ignored
 * (a delta request's subscription changes still apply); an ACK moves what the client holds
 * forward, a NACK keeps its last good resources, is recorded and what it rejected is not sent
 * again on the stream — something newer is; one unanswered response per type; a response only
 * when something changed for that type and stream (or as the type's first), and a name asked
 * for again is sent again; a cluster sent changed has its endpoints sent again (Envoy warms it
 * until they come); types pushed clusters first, then endpoints, listeners, routes.
 *
 * The node's snapshot comes from the control plane's cache (one-shot watches, as our own
 * streams); its resources from the translator, cached per snapshot and node shape; responses
 * from {@link AdsResponses}, encoded once for every stream that needs the same.
 */
export class AdsStream {
  status: ProxyStatus | undefined;
  private node: EnvoyNode | undefined;
  private readonly types = new Map<string, TypeState>();
  private snapshot: Snapshot | undefined;
  private resources: EnvoyNodeResources | undefined;
  private nonce = 0;
  private cancelWatch: CancelWatch | undefined;
  private watching = false;
  /** A type ACKed during the request being handled. */
  private ackedNow = false;
  private closed = false;
  /** Large responses of this stream unanswered: while there is one, the stream holds a large-response slot. */
  private largeInFlight = 0;
  private slotTimer: NodeJS.Timeout | undefined;
  /** The slot held, numbered (0: none): an answer to a response sent under an earlier slot (released by its timer) counts for nothing. */
  private slot = 0;
  private slots = 0;
  /** Whether the stream waits for a large-response slot (then every type is evaluated again). */
  private queued = false;

  constructor(
    readonly id: number,
    private readonly call: grpc.ServerDuplexStream<unknown, unknown>,
    private readonly mode: AdsMode,
    private readonly shared: AdsShared,
  ) {
    call.on('data', (request: unknown) => this.onRequest(request as XdsDiscoveryRequest | XdsDeltaDiscoveryRequest));
    call.on('end', () => {
      this.close();
      call.end();
    });
    call.on('error', () => this.close());
    call.on('close', () => this.close());
    call.on('cancelled', () => this.close());
  }

  private onRequest(request: XdsDiscoveryRequest | XdsDeltaDiscoveryRequest): void {
    if (this.closed) return;
    if (this.status === undefined && !this.open(request)) return;
    if (request.type_url === '') {
      this.fail(grpc.status.INVALID_ARGUMENT, 'type_url: required on every request of an aggregated stream');
      return;
    }
    if (this.mode === 'sotw') this.onStateOfTheWorld(request as XdsDiscoveryRequest);
    else this.onDelta(request as XdsDeltaDiscoveryRequest);
    // After the first request's type is known: the watch fires at once with the node's snapshot.
    if (!this.watching) {
      this.watching = true;
      this.watch('');
    }
    this.updateVersions();
  }

  /** The first request names the node: refused with INVALID_ARGUMENT and the field when it cannot be read. */
  private open(request: XdsDiscoveryRequest | XdsDeltaDiscoveryRequest): boolean {
    const read = this.shared.readNode(request.node);
    if (!read.valid) {
      this.fail(grpc.status.INVALID_ARGUMENT, read.error);
      return false;
    }
    this.node = read.node;
    this.status = {
      stream: this.id,
      node: read.node.wire,
      peer: this.call.getPeer(),
      connectedAt: new Date(),
      sentVersion: '',
      sentNonce: '',
      ackedVersion: '',
      settledVersion: '',
      lastNack: undefined,
      api: this.mode === 'sotw' ? 'envoy-ads' : 'envoy-ads-delta',
      kind: read.node.kind,
      resources: {},
      untranslated: [],
    };
    // The control plane puts the node's snapshot in the cache here.
    this.shared.context.opened(this.status);
    return true;
  }

  private onStateOfTheWorld(request: XdsDiscoveryRequest): void {
    const typeUrl = request.type_url;
    const state = this.types.get(typeUrl);
    if (state === undefined) {
      const created = this.addType(typeUrl, AdsSubscription.stateOfTheWorld(undefined, typeUrl, request.resource_names));
      created.claimedVersion = request.version_info;
      this.evaluate(created);
      return;
    }
    // Once a type was answered, every request of it answers the latest nonce; anything else is stale.
    if (state.nonce !== '' && request.response_nonce !== state.nonce) {
      this.stale();
      return;
    }
    if (state.inFlight !== undefined && request.response_nonce === state.inFlight.nonce) this.answer(state, request.error_detail?.message);
    this.resubscribe(state, AdsSubscription.stateOfTheWorld(state.subscription, typeUrl, request.resource_names));
    this.evaluate(state);
  }

  private onDelta(request: XdsDeltaDiscoveryRequest): void {
    const typeUrl = request.type_url;
    let state = this.types.get(typeUrl);
    if (state === undefined) {
      state = this.addType(typeUrl, AdsSubscription.delta(undefined, typeUrl, request.resource_names_subscribe, request.resource_names_unsubscribe));
      const initial = Object.entries(request.initial_resource_versions ?? {});
      if (initial.length > 0) state.held = { kind: 'versions', versions: new Map(initial) };
      this.evaluate(state);
      return;
    }
    if (request.response_nonce !== '') {
      if (state.inFlight !== undefined && request.response_nonce === state.inFlight.nonce) this.answer(state, request.error_detail?.message);
      // Stale: the ACK or NACK is ignored; subscription changes still apply (delta's are not repeated).
      else if (request.response_nonce !== state.nonce) this.stale();
    }
    this.resubscribe(state, AdsSubscription.delta(state.subscription, typeUrl, request.resource_names_subscribe, request.resource_names_unsubscribe));
    this.evaluate(state);
  }

  private addType(typeUrl: string, subscription: AdsSubscription): TypeState {
    const status: ProxyTypeStatus = { subscribed: subscription.list, sentVersion: '', sentNonce: '', ackedVersion: '', lastNack: undefined };
    const state: TypeState = {
      typeUrl,
      subscription,
      held: HOLDS_NOTHING,
      inFlight: undefined,
      nonce: '',
      claimedVersion: '',
      ackedTo: '',
      settledTo: '',
      rejected: undefined,
      forget: undefined,
      status,
    };
    this.types.set(typeUrl, state);
    this.status!.resources![typeUrl] = status;
    return state;
  }

  private resubscribe(state: TypeState, subscription: AdsSubscription): void {
    if (subscription === state.subscription) return;
    state.subscription = subscription;
    state.status.subscribed = subscription.list;
    // A name dropped is no longer held: asked for again, it is sent again (xDS: newly requested resources are sent even if unchanged).
    this.narrowHeld(state);
  }

  /**
   * What the client holds, narrowed to what it still subscribes to and without what it must be
   * sent again ({@link TypeState.forget}). The same object when nothing is narrowed (the usual
   * ACK), so responses stay shared between streams.
   */
  private narrowHeld(state: TypeState): void {
    const held = state.held;
    const forget = state.forget;
    if (held.kind === 'view') {
      let subscription = held.subscription.intersect(state.subscription);
      if (forget !== undefined) subscription = subscription.without(forget);
      if (subscription !== held.subscription) state.held = { kind: 'view', resources: held.resources, subscription };
    } else if (held.kind === 'versions') {
      const versions = new Map([...held.versions].filter(([name]) => state.subscription.covers(name) && forget?.has(name) !== true));
      if (versions.size !== held.versions.size) state.held = { kind: 'versions', versions };
    }
  }

  private stale(): void {
    this.shared.context.metrics.staleRequests.inc();
    this.shared.context.hooks.onStaleRequest?.(this.status!);
  }

  /** The client answered the response in flight: an ACK, or a NACK with `error`. */
  private answer(state: TypeState, error: string | undefined): void {
    const sent = state.inFlight!;
    state.inFlight = undefined;
    if (sent.slot !== 0) this.answeredLarge(sent.slot);
    const { context } = this.shared;
    const status = this.status!;
    if (error === undefined) {
      state.held = { kind: 'view', resources: sent.resources, subscription: sent.subscription };
      // Names dropped (or to be sent again) since the response went out are not held.
      this.narrowHeld(state);
      state.ackedTo = state.settledTo = sent.snapshotVersion;
      state.status.ackedVersion = sent.resources.version;
      state.rejected = undefined;
      context.metrics.acks.inc();
      this.ackedNow = true;
      return;
    }
    // The client keeps what it held: what it rejected is not sent again on this stream.
    state.rejected = { content: sent.content };
    const nack: ProxyNack = { version: sent.snapshotVersion, message: `${state.typeUrl}: ${error}`, errors: [error], at: new Date(), typeUrl: state.typeUrl };
    state.status.lastNack = nack;
    status.lastNack = nack;
    context.metrics.nacks.inc();
    context.hooks.onNack?.(status, sent.snapshotVersion, [error]);
  }

  /** Send the type's response for the node's snapshot, when one is due. */
  private evaluate(state: TypeState): void {
    const snapshot = this.snapshot;
    const node = this.resources;
    if (this.closed || snapshot === undefined || node === undefined || state.inFlight !== undefined) return;
    const resources = node.types.get(state.typeUrl) ?? emptyResources(state.typeUrl);
    const { subscription, rejected } = state;
    const first = state.nonce === '';
    if (first && state.claimedVersion !== '' && state.claimedVersion === resources.version && subscription.wildcard) {
      // A reconnecting client that holds this very version (a control plane restarted with the same config): nothing to send.
      state.held = { kind: 'view', resources, subscription };
      state.status.ackedVersion = resources.version;
      state.ackedTo = state.settledTo = snapshot.version;
      return;
    }
    const shape: AdsResponseShape = this.mode === 'delta' ? 'delta' : isWildcardType(state.typeUrl) ? 'sotw-whole' : 'sotw-changed';
    const response = this.shared.responses.response(shape, resources, subscription, state.held);
    if (rejected !== undefined && rejected.content === response.content) {
      // Only what the client rejected: it keeps its last good; wait for something newer.
      state.settledTo = snapshot.version;
      return;
    }
    if (!response.changes && !first) {
      state.ackedTo = state.settledTo = snapshot.version;
      return;
    }
    const large = response.bytes.length >= this.shared.largeResponseBytes;
    if (large && !this.takeSlot()) return;
    const slot = large ? this.slot : 0;
    this.nonce += 1;
    const nonce = String(this.nonce);
    state.nonce = nonce;
    state.inFlight = { nonce, content: response.content, resources, subscription, snapshotVersion: snapshot.version, slot };
    if (large) this.largeInFlight += 1;
    // What was to be sent again is in this response (what the client holds of it is narrowed no more).
    state.forget = undefined;
    state.status.sentVersion = resources.version;
    state.status.sentNonce = nonce;
    const status = this.status!;
    status.sentVersion = snapshot.version;
    status.sentNonce = nonce;
    const message = new PreEncodedXdsResponse(response.bytes, nonce);
    this.call.write(message);
    const counts = this.shared.sent[this.mode];
    counts.responses += 1;
    counts.bytes += response.bytes.length + 2 + nonce.length;
    this.shared.context.metrics.pushes.inc();
    if (state.typeUrl === TYPE_URLS.cluster && response.changedNames.length > 0) this.resendEndpointsOf(response.changedNames);
  }

  /**
   * A cluster added or changed is warmed by Envoy until its ClusterLoadAssignment comes, even an
   * unchanged one (xDS "resource warming"): the endpoints of those clusters (their EDS names are
   * the clusters' names) are sent again, after the clusters.
   */
  private resendEndpointsOf(clusters: readonly string[]): void {
    const endpoints = this.types.get(TYPE_URLS.clusterLoadAssignment);
    if (endpoints === undefined) return;
    const forget = (endpoints.forget ??= new Set());
    for (const name of clusters) if (endpoints.subscription.covers(name)) forget.add(name);
    if (forget.size === 0) {
      endpoints.forget = undefined;
      return;
    }
    this.narrowHeld(endpoints);
    this.evaluate(endpoints);
  }

  /**
   * The node-wide versions: `ackedVersion` is the snapshot once every type subscribed to has
   * ACKed what it gives (the control plane's `ack` event and convergence follow it: `onAck` is
   * called on every ACK that leaves the node there, and when it gets there with nothing to send);
   * `settledVersion` once nothing more is to be sent for it (ACKed, or only what was rejected).
   */
  private updateVersions(): void {
    const status = this.status;
    const snapshot = this.snapshot;
    if (status === undefined || snapshot === undefined || this.types.size === 0 || this.closed) return;
    let acked = true;
    let settled = true;
    for (const state of this.types.values()) {
      if (state.ackedTo !== snapshot.version) acked = false;
      if (state.settledTo !== snapshot.version) settled = false;
    }
    if (settled) status.settledVersion = snapshot.version;
    const ackedNow = this.ackedNow;
    this.ackedNow = false;
    // On every ACK that leaves the node on the snapshot, and when it gets there with nothing to send.
    if (acked && (status.ackedVersion !== snapshot.version || ackedNow)) {
      status.ackedVersion = snapshot.version;
      this.shared.context.hooks.onAck?.(status, snapshot.version);
    }
  }

  /**
   * Whether the stream may send a large response: it holds the large-response slot already
   * (its other types' large responses go with the first), or takes a free one. Else it waits
   * in line once, and every type is evaluated again when a slot is free: what is sent then is
   * what the newest snapshot gives.
   */
  private takeSlot(): boolean {
    if (this.largeInFlight > 0) return true;
    const slots = this.shared.largeResponses;
    if (slots.tryTake()) {
      this.slots += 1;
      this.slot = this.slots;
      // A client that never answers must not keep the slot.
      this.slotTimer = setTimeout(() => this.releaseSlot(), LARGE_RESPONSE_ANSWER_MS);
      this.slotTimer.unref();
      return true;
    }
    if (!this.queued) {
      this.queued = true;
      slots.wait(() => {
        this.queued = false;
        if (this.closed) return;
        for (const state of this.types.values()) this.evaluate(state);
        this.updateVersions();
      });
    }
    return false;
  }

  /** A large response was answered: the slot goes back once none is left unanswered. */
  private answeredLarge(slot: number): void {
    if (slot !== this.slot || this.largeInFlight === 0) return;
    this.largeInFlight -= 1;
    if (this.largeInFlight === 0) this.releaseSlot();
  }

  private releaseSlot(): void {
    if (this.slotTimer === undefined) return;
    clearTimeout(this.slotTimer);
    this.slotTimer = undefined;
    this.largeInFlight = 0;
    this.slot = 0;
    this.shared.largeResponses.give();
  }

  /** One open watch on the node's snapshot: for a version other than the one the stream has. */
  private watch(known: string): void {
    if (this.closed) return;
    this.cancelWatch?.();
    this.cancelWatch = undefined;
    let fired = false;
    const cancel = this.shared.context.cache.watch(this.node!.id, known, (snapshot) => {
      fired = true;
      this.cancelWatch = undefined;
      this.onSnapshot(snapshot);
    });
    if (!fired) this.cancelWatch = cancel;
  }

  private onSnapshot(snapshot: Snapshot): void {
    if (this.closed) return;
    this.snapshot = snapshot;
    this.resources = this.shared.resourcesFor(snapshot, this.node!);
    this.status!.untranslated = this.resources.untranslated;
    // xDS's order: clusters, endpoints, listeners, routes (a route never names a cluster the client has not been sent).
    for (const state of [...this.types.values()].sort((a, b) => pushOrder(a.typeUrl) - pushOrder(b.typeUrl))) this.evaluate(state);
    this.updateVersions();
    this.watch(snapshot.version);
  }

  /** End the stream with a status (a bad first request). */
  private fail(code: grpc.status, details: string): void {
    this.close();
    this.call.emit('error', { code, details });
  }

  /** End this stream's state (the transport ended or failed, or a request was bad). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.releaseSlot();
    this.cancelWatch?.();
    this.cancelWatch = undefined;
    if (this.status !== undefined) this.shared.context.closed(this.status);
  }
}
