import type * as grpc from '@grpc/grpc-js';
import type { DiscoveryHooks, ProxyStatus } from './discovery-stream.js';
import type { ControlPlaneMetrics } from './metrics.js';
import type { SnapshotCache } from './snapshot-cache.js';

/**
 * What the discovery server shares with another gRPC service it serves on its port: the
 * snapshot cache (a stream watches its node's snapshot there), the metrics, the hooks, and
 * the connected proxies (a stream that named its node is one, shown by `proxies()` and
 * `GET /api/v1/proxies` with the server's own streams).
 */
export interface DiscoveryServiceContext {
  readonly cache: SnapshotCache;
  readonly metrics: ControlPlaneMetrics;
  /** The control plane's hooks: a service calls `onAck`, `onNack` and `onStaleRequest` itself. */
  readonly hooks: DiscoveryHooks;
  /** A stream id, unique among every stream of the server (its own and every service's). */
  nextStreamId(): number;
  /**
   * A stream named its node: it is a connected proxy from now on, and `onStreamOpen` is called
   * (the control plane puts the node's snapshot in the cache there, so a watch opened after
   * this fires at once).
   */
  opened(status: ProxyStatus): void;
  /** A stream that had named its node ended: it is no longer a connected proxy; `onStreamClosed` is called. */
  closed(status: ProxyStatus): void;
}

/**
 * Another discovery API served on the discovery server's port (Envoy's Aggregated Discovery
 * Service): its gRPC service, and the handlers of its methods, made once with what the
 * server's streams share. Registered before the server listens (`ControlPlaneOptions.services`).
 */
export interface DiscoveryService {
  /** A name for logs and errors. */
  readonly name: string;
  readonly service: grpc.ServiceDefinition;
  handlers(context: DiscoveryServiceContext): grpc.UntypedServiceImplementation;
}
