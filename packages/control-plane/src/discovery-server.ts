import * as grpc from '@grpc/grpc-js';
import type { ServerSnapshotStream } from '@dubbo-mesh/discovery';
import type { DiscoveryService, DiscoveryServiceContext } from './discovery-service.js';
import { DiscoveryStream, type DiscoveryHooks, type ProxyStatus, type StreamContext } from './discovery-stream.js';
import type { DiscoveryView } from './discovery-view.js';
import { DubboMeshDiscoveryView } from './dubbo-mesh-discovery-view.js';
import { ListenError } from './errors.js';
import { LargeResponseSlots } from './large-response-slots.js';
import type { ControlPlaneMetrics } from './metrics.js';
import type { SnapshotCache } from './snapshot-cache.js';

/**
 * The discovery server, shaped after go-control-plane's: it registers a view's gRPC service,
 * accepts streams — each a {@link DiscoveryStream}, which owns its nonces, watch and ACK/NACK
 * handling — and owns what streams share: the connected proxies, the versions each node
 * rejected, and the limit on large responses in flight. Other discovery APIs (Envoy's ADS) can
 * be served on the same port ({@link DiscoveryService}): their streams share the cache, the
 * metrics, the hooks and the connected proxies.
 */
export class DiscoveryServer {
  readonly proxies = new Map<number, ProxyStatus>();
  // Keepalive pings find proxies whose host died or was cut off, so they do not linger as connected.
  private readonly server = new grpc.Server({ 'grpc.keepalive_time_ms': 20_000, 'grpc.keepalive_timeout_ms': 10_000 });
  private readonly context: StreamContext;
  private nextStream = 1;

  constructor(
    cache: SnapshotCache,
    private readonly metrics: ControlPlaneMetrics,
    hooks: DiscoveryHooks = {},
    /** The wire API streams are answered in (default: the dubbo-mesh discovery API). */
    readonly view: DiscoveryView = new DubboMeshDiscoveryView(),
    /** Other discovery APIs served on the same port. */
    services: readonly DiscoveryService[] = [],
  ) {
    this.context = {
      cache,
      view,
      metrics,
      hooks,
      largeResponses: new LargeResponseSlots(),
      rejected: new Map(),
      opened: (stream) => {
        this.proxies.set(stream.id, stream.status!);
        this.metrics.connectedProxies.set(this.proxies.size);
      },
      closed: (stream) => {
        this.proxies.delete(stream.id);
        this.metrics.connectedProxies.set(this.proxies.size);
        hooks.onStreamClosed?.(stream.status!);
      },
    };
    const handlers: grpc.UntypedServiceImplementation = {};
    for (const [method, subscription] of Object.entries(view.methods)) {
      handlers[method] = (stream: ServerSnapshotStream) => new DiscoveryStream(this.nextStream++, stream, subscription, this.context);
    }
    this.server.addService(view.service, handlers);
    const shared: DiscoveryServiceContext = {
      cache,
      metrics,
      hooks,
      nextStreamId: () => this.nextStream++,
      opened: (status) => {
        this.proxies.set(status.stream, status);
        this.metrics.connectedProxies.set(this.proxies.size);
        hooks.onStreamOpen?.(status);
      },
      closed: (status) => {
        if (!this.proxies.delete(status.stream)) return;
        this.metrics.connectedProxies.set(this.proxies.size);
        hooks.onStreamClosed?.(status);
      },
    };
    for (const service of services) this.server.addService(service.service, service.handlers(shared));
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
}
