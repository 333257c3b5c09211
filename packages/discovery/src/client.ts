import { EventEmitter } from 'node:events';
import type { MeshConfig } from '@dubbo-mesh/config';
import {
  createDiscoveryClient,
  resourceKey,
  type DeltaDiscoveryResponse,
  type DeltaStream,
  type DiscoveryResponse,
  type SnapshotDiscoveryClient,
  type SnapshotStream,
  type WireNode,
  type WireResource,
} from './api.js';
import { fromWireResources } from './wire.js';

/** gRPC status INVALID_ARGUMENT: the code a NACK carries for a snapshot that fails validation. */
const INVALID_ARGUMENT = 3;

export interface DiscoveryClientOptions {
  /** The control plane's gRPC address, `host:port`. */
  address: string;
  node: { id: string; service?: string; namespace?: string; labels?: Record<string, string>; role: 'proxy' | 'gateway' };
  /** Apply a validated snapshot. A throw rejects it (NACK with the message). */
  apply(config: MeshConfig, version: string): void;
  /** First reconnect delay ceiling; doubles per failed attempt up to `maxBackoffMs`. Default 250 ms. */
  initialBackoffMs?: number;
  /** Default 10 s. */
  maxBackoffMs?: number;
  /** Jitter source, for tests. */
  random?: () => number;
  /**
   * `delta` (default): only changed and removed resources travel after the first snapshot;
   * `sotw`: every response is the whole snapshot. Either way the proxy validates and
   * applies a whole snapshot.
   */
  mode?: 'delta' | 'sotw';
}

/** What a {@link DiscoveryClient} reports. */
export interface DiscoveryClientEvents {
  /** The stream delivered its first response. */
  connected: [];
  /** A snapshot accepted and applied. */
  ack: [version: string];
  /**
   * On a new stream (a reconnect), the control plane confirmed that the snapshot in force is
   * still its current one: nothing changed, nothing was applied again (delta mode only).
   */
  unchanged: [version: string];
  /**
   * A snapshot was accepted and applied although this proxy did not know some of it (fields or
   * kinds a newer control plane sent, ignored): one line per field, naming resource and path.
   * Emitted before its `ack`.
   */
  warning: [version: string, warnings: string[]];
  /** A snapshot rejected; the last accepted one stays in force. */
  nack: [version: string, errors: string[]];
  /** The stream ended or failed; a reconnect is scheduled after `delayMs`. */
  disconnected: [reason: string, delayMs: number];
}

/**
 * The proxy's side of the discovery stream: subscribe, validate each snapshot with the same
 * rules as a file, apply it atomically and ACK, or NACK with every error and keep the last
 * good one. While the control plane is away the proxy keeps serving what it has; the client
 * reconnects with jittered exponential backoff (full jitter) and resyncs by sending what it
 * holds: the resources (delta, answered at once — `unchanged` when nothing changed) or the
 * version (state of the world, answered only when there is a newer one).
 */
export class DiscoveryClient extends EventEmitter<DiscoveryClientEvents> {
  /** The version of the snapshot in force ('' before the first). */
  acceptedVersion = '';
  /** How many unknown fields (and kinds) the snapshots applied so far had, each counted per snapshot. */
  unknownFieldWarnings = 0;
  private client: SnapshotDiscoveryClient | undefined;
  private stream: SnapshotStream | DeltaStream | undefined;
  /** The resources of the accepted snapshot, by key (what a delta applies to). */
  private held = new Map<string, WireResource>();
  private attempt = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Whether the current stream has delivered a response. */
  private answered = false;
  private readonly node: WireNode;

  constructor(private readonly options: DiscoveryClientOptions) {
    super();
    const { id, service = '', namespace = 'default', labels = {}, role } = options.node;
    this.node = { id, service, namespace, labels, role: role === 'gateway' ? 'GATEWAY' : 'PROXY' };
  }

  /** Whether a stream is open. */
  get connected(): boolean {
    return this.stream !== undefined;
  }

  start(): void {
    this.client = createDiscoveryClient(this.options.address, {
      // Notice a control plane that vanished without closing the connection.
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.keepalive_permit_without_calls': 1,
      // Our own backoff decides when to retry.
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1_000,
      // A whole snapshot of a large mesh is bigger than grpc-js's 4 MiB default.
      'grpc.max_receive_message_length': -1,
    });
    this.open();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    this.stream?.cancel();
    this.stream = undefined;
    this.client?.close();
  }

  private open(): void {
    if (this.closed) return;
    const delta = (this.options.mode ?? 'delta') === 'delta';
    const stream: SnapshotStream | DeltaStream = delta ? this.client!.DeltaSnapshots() : this.client!.StreamSnapshots();
    this.stream = stream;
    this.answered = false;
    let ended = false;
    const onEnd = (reason: string) => {
      if (ended) return;
      ended = true;
      if (this.stream === stream) this.stream = undefined;
      if (!this.closed) this.scheduleReconnect(reason);
    };
    stream.on('data', (response: DiscoveryResponse | DeltaDiscoveryResponse) => this.onResponse(stream, response));
    stream.on('error', (error: Error) => onEnd(error.message));
    stream.on('end', () => onEnd('the control plane ended the stream'));
    stream.on('close', () => onEnd('the stream closed'));
    // Resync: the resources (delta) or the version (state of the world) we hold, so only what
    // changed is sent. A delta stream asks with no version: the control plane then answers at
    // once with its version and what differs from the resources we report — nothing, when the
    // snapshot is unchanged — so a reconnect is confirmed either way (asked with our version it
    // would stay silent). State of the world keeps the version: its answer is the whole snapshot.
    const initial = { node: this.node, version_info: delta ? '' : this.acceptedVersion, response_nonce: '', error_detail: null };
    if (delta) {
      const versions = Object.fromEntries([...this.held].map(([key, resource]) => [key, resource.version]));
      (stream as DeltaStream).write({ ...initial, initial_resource_versions: versions });
    } else (stream as SnapshotStream).write(initial);
  }

  /** The resources a response leaves the proxy with: the whole snapshot, or what it holds with the delta applied. */
  private nextResources(response: DiscoveryResponse | DeltaDiscoveryResponse): Map<string, WireResource> {
    if (!('removed_resources' in response)) return new Map(response.resources.map((r) => [resourceKey(r), r]));
    const next = new Map(this.held);
    for (const key of response.removed_resources) next.delete(key);
    for (const resource of response.resources) next.set(resourceKey(resource), resource);
    return next;
  }

  private onResponse(stream: SnapshotStream | DeltaStream, response: DiscoveryResponse | DeltaDiscoveryResponse): void {
    // A response proves the stream works: the backoff starts over.
    if (!this.answered) this.emit('connected');
    this.attempt = 0;
    this.answered = true;
    if (
      'removed_resources' in response &&
      response.version_info === this.acceptedVersion &&
      response.resources.length === 0 &&
      response.removed_resources.length === 0
    ) {
      // The answer to a resync that found nothing changed: ACK it, apply nothing again.
      stream.write({ node: this.node, version_info: response.version_info, response_nonce: response.nonce, error_detail: null } as never);
      this.emit('unchanged', response.version_info);
      return;
    }
    const next = this.nextResources(response);
    const checked = fromWireResources([...next.values()]);
    let errors: string[] | undefined;
    if (!checked.valid) errors = checked.errors;
    else {
      try {
        this.options.apply(checked.result, response.version_info);
      } catch (error) {
        errors = [`applying the snapshot failed: ${(error as Error).message}`];
      }
    }
    if (errors === undefined) {
      this.acceptedVersion = response.version_info;
      this.held = next;
      stream.write({ node: this.node, version_info: response.version_info, response_nonce: response.nonce, error_detail: null } as never);
      if (checked.valid && checked.warnings.length > 0) {
        this.unknownFieldWarnings += checked.warnings.length;
        this.emit('warning', response.version_info, checked.warnings);
      }
      this.emit('ack', response.version_info);
    } else {
      stream.write({
        node: this.node,
        version_info: this.acceptedVersion,
        response_nonce: response.nonce,
        error_detail: {
          code: INVALID_ARGUMENT,
          message: `rejected snapshot ${response.version_info}: ${errors.length} error${errors.length === 1 ? '' : 's'}`,
          errors,
        },
      } as never);
      this.emit('nack', response.version_info, errors);
    }
  }

  private scheduleReconnect(reason: string): void {
    const initial = this.options.initialBackoffMs ?? 250;
    const max = this.options.maxBackoffMs ?? 10_000;
    const ceiling = Math.min(max, initial * 2 ** this.attempt);
    this.attempt += 1;
    const delayMs = Math.round((this.options.random ?? Math.random)() * ceiling);
    this.emit('disconnected', reason, delayMs);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this.open(), delayMs);
    this.reconnectTimer.unref();
  }
}
