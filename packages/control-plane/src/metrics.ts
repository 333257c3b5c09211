import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The control plane's Prometheus metrics, one registry per control plane (one list,
 * CONVENTIONS 12). Its own metrics are `dubbo_mesh_cp_*`; the Node process metrics keep
 * their standard names (`process_cpu_seconds_total`, `nodejs_heap_size_used_bytes`, …) so
 * the dashboards and alerts written for every Node service work unchanged.
 */
export class ControlPlaneMetrics {
  readonly registry = new Registry();
  readonly connectedProxies = new Gauge({
    name: 'dubbo_mesh_cp_connected_proxies',
    help: 'Proxies and gateways with an open discovery stream',
    registers: [this.registry],
  });
  readonly pushes = new Counter({ name: 'dubbo_mesh_cp_pushes_total', help: 'Snapshots sent on discovery streams', registers: [this.registry] });
  readonly acks = new Counter({ name: 'dubbo_mesh_cp_acks_total', help: 'Snapshots accepted by proxies', registers: [this.registry] });
  readonly nacks = new Counter({ name: 'dubbo_mesh_cp_nacks_total', help: 'Snapshots rejected by proxies', registers: [this.registry] });
  readonly staleRequests = new Counter({
    name: 'dubbo_mesh_cp_stale_requests_total',
    help: 'Requests answering a nonce that is not the latest on their stream (ignored)',
    registers: [this.registry],
  });
  readonly configRefusals = new Counter({
    name: 'dubbo_mesh_cp_config_refusals_total',
    help: 'Source changes refused by validation (the previous snapshot stayed)',
    registers: [this.registry],
  });
  readonly snapshotsBuilt = new Counter({ name: 'dubbo_mesh_cp_snapshots_total', help: 'Snapshot versions published', registers: [this.registry] });
  readonly sinkFailures = new Counter({
    name: 'dubbo_mesh_cp_sink_failures_total',
    help: 'Snapshot sinks that threw or rejected when told of a published snapshot (logged; publishing went on)',
    labelNames: ['sink'] as const,
    registers: [this.registry],
  });
  readonly pushLatency = new Histogram({
    name: 'dubbo_mesh_cp_push_latency_seconds',
    help: 'From a snapshot published to every connected proxy having ACKed it',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}
