import type * as grpc from '@grpc/grpc-js';
import { LARGE_RESPONSE_BYTES, LargeResponseSlots, type DiscoveryService, type DiscoveryServiceContext, type Snapshot } from '@dubbo-mesh/control-plane';
import { AdsResponses } from './ads-responses.js';
import { AdsStream, type AdsMode, type AdsSentCounts } from './ads-stream.js';
import { adsServiceDefinition } from './envoy-protos.js';
import { nodeShapeKey, readEnvoyNode, type EnvoyNode } from './envoy-node.js';
import type { EnvoyNodeResources, ResourcesFor } from './envoy-resources.js';
import { EnvoyTranslator } from './envoy-translator.js';

/** What an {@link EnvoyAds} is made from. */
export interface EnvoyAdsOptions {
  /** A node's Envoy resources from a snapshot (default: a new {@link EnvoyTranslator}'s). */
  readonly resourcesFor?: ResourcesFor;
  /** How the first request's node is read (default {@link readEnvoyNode}). */
  readonly readNode?: typeof readEnvoyNode;
  /** The limit on large responses unanswered at once (default: 16 over every stream). */
  readonly largeResponses?: LargeResponseSlots;
  /** From this size a response is large (default `LARGE_RESPONSE_BYTES`, 256 KiB). */
  readonly largeResponseBytes?: number;
}

/**
 * Envoy's Aggregated Discovery Service (`envoy.service.discovery.v3.AggregatedDiscoveryService`)
 * as a discovery service of the control plane: served on its gRPC port, next to the dubbo-mesh
 * discovery API, its streams are connected proxies like ours (same cache, hooks, metrics and
 * admin API). `StreamAggregatedResources` answers in state of the world,
 * `DeltaAggregatedResources` in delta; each stream is an {@link AdsStream}.
 *
 * A node's resources are translated once per snapshot and node shape (every node of the same
 * shape gets the same object), and responses are encoded once for every stream that needs the
 * same ({@link AdsResponses}).
 */
export class EnvoyAds implements DiscoveryService {
  readonly name = 'envoy-ads';
  readonly service: grpc.ServiceDefinition = adsServiceDefinition();
  /** Responses and bytes sent since this was made, per mode. */
  readonly sent: AdsSentCounts = { sotw: { responses: 0, bytes: 0 }, delta: { responses: 0, bytes: 0 } };
  /** Large responses unanswered at once, over every stream (16, as the dubbo-mesh discovery API's). */
  readonly largeResponses: LargeResponseSlots;
  private readonly largeResponseBytes: number;
  private readonly responses = new AdsResponses();
  private readonly translated = new WeakMap<Snapshot, Map<string, EnvoyNodeResources>>();
  private readonly translate: ResourcesFor;
  private readonly readNode: typeof readEnvoyNode;

  constructor(options: EnvoyAdsOptions = {}) {
    const translator = options.resourcesFor === undefined ? new EnvoyTranslator() : undefined;
    this.translate = options.resourcesFor ?? ((snapshot, node) => translator!.resourcesFor(snapshot, node));
    this.readNode = options.readNode ?? readEnvoyNode;
    this.largeResponses = options.largeResponses ?? new LargeResponseSlots();
    this.largeResponseBytes = options.largeResponseBytes ?? LARGE_RESPONSE_BYTES;
  }

  /** What a node is served from a snapshot: translated once per snapshot and node shape. */
  resourcesFor(snapshot: Snapshot, node: EnvoyNode): EnvoyNodeResources {
    let byShape = this.translated.get(snapshot);
    if (byShape === undefined) this.translated.set(snapshot, (byShape = new Map()));
    const key = nodeShapeKey(node);
    let resources = byShape.get(key);
    if (resources === undefined) byShape.set(key, (resources = this.translate(snapshot, node)));
    return resources;
  }

  handlers(context: DiscoveryServiceContext): grpc.UntypedServiceImplementation {
    const shared = {
      context,
      responses: this.responses,
      readNode: this.readNode,
      resourcesFor: (snapshot: Snapshot, node: EnvoyNode) => this.resourcesFor(snapshot, node),
      sent: this.sent,
      largeResponses: this.largeResponses,
      largeResponseBytes: this.largeResponseBytes,
    };
    const stream = (mode: AdsMode) => (call: grpc.ServerDuplexStream<unknown, unknown>) => new AdsStream(context.nextStreamId(), call, mode, shared);
    return { StreamAggregatedResources: stream('sotw'), DeltaAggregatedResources: stream('delta') };
  }
}
