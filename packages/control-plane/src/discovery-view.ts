import type * as grpc from '@grpc/grpc-js';
import type { WireNode } from '@dubbo-mesh/discovery';
import type { ResourceVersions, Snapshot } from './snapshot.js';

/** How a stream is answered: the whole state each time (`sotw`), or what changed since what the proxy holds (`delta`). */
export type StreamMode = 'sotw' | 'delta';

/**
 * What a stream asks for, fixed by the method it was opened on: its mode, and the resource
 * types it gets. Today's discovery API sends every type on one stream; an xDS view (one
 * method per resource type, as Envoy's non-aggregated services are) names one type each.
 */
export interface Subscription {
  readonly mode: StreamMode;
  /** The type names the stream gets (snapshot type names); undefined: every type. */
  readonly types?: readonly string[];
}

/**
 * What a delta stream's proxy holds, as a view reads it to answer: the snapshot it last
 * ACKed (the answer from it is computed once for every stream that held it), or the resource
 * versions it reported when it connected (none: a proxy that holds nothing).
 */
export type HeldResources = Snapshot | ResourceVersions;

/** A request as the stream object reads it, whatever the wire API. */
export interface StreamRequest {
  /** The node, on the first request of a stream (null when absent). */
  readonly node: WireNode | null;
  /** The version the proxy holds (it ACKs the last one sent with it). */
  readonly versionInfo: string;
  /** The nonce of the response this request answers ('' on a first request). */
  readonly responseNonce: string;
  /** Set when the request rejects (NACKs) the response it answers. */
  readonly errorDetail: { readonly message: string; readonly errors: readonly string[] } | null;
  /** Delta streams: the resource versions the proxy holds when it connects (reconnect). */
  readonly initialResourceVersions?: ResourceVersions;
}

/**
 * A view encodes snapshots for one wire API (go-control-plane's server does the encoding,
 * never its cache): the discovery server registers the view's gRPC service, and each stream
 * reads requests and encodes responses through it. A view decides what bytes go out; the
 * stream object decides when (nonces, ACK/NACK, watches and limits are the same for every
 * API). Responses are encoded without the nonce, so one encoding serves every stream that
 * needs the same answer; a view caches them by snapshot.
 */
export interface DiscoveryView {
  /** A name for logs and the admin API. */
  readonly name: string;
  /** The gRPC service the server registers for this view. */
  readonly service: grpc.ServiceDefinition;
  /** Each streaming method of {@link service}, and what a stream opened on it asks for. */
  readonly methods: Readonly<Record<string, Subscription>>;
  /** Read one request of a stream. */
  readRequest(request: unknown): StreamRequest;
  /**
   * The version a response carries for `snapshot` on a stream with `subscription`: what the
   * proxy ACKs or NACKs. Equal versions are never sent twice in a row to a stream.
   */
  versionOf(snapshot: Snapshot, subscription: Subscription): string;
  /**
   * The response that takes a stream from `held` to `snapshot`, without its nonce: shared
   * bytes, the same object for every stream that asks the same (never mutated).
   */
  response(snapshot: Snapshot, subscription: Subscription, held: HeldResources): Buffer;
  /** The message written to a stream: the shared response and this stream's nonce. */
  message(response: Buffer, nonce: string): unknown;
}
