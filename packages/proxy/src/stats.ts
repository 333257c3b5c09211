/**
 * The proxy's stats, declared in one list (as Envoy's dubbo_proxy/stats.h). Counters are
 * plain numbers incremented on the hot path; Prometheus reads them at scrape time.
 */
const COUNTER_HELP = {
  downstream_cx_total: 'Downstream (consumer) connections accepted',
  downstream_cx_protocol_error: 'Downstream connections closed for a frame that cannot be read (bad magic, over the payload limit)',
  downstream_cx_rx_frame_timeout: 'Downstream connections closed because an incomplete frame was not completed within the frame timeout',
  downstream_cx_idle_timeout: 'Downstream connections closed after the idle timeout with no call in flight',
  downstream_cx_buffer_limit: 'Downstream connections refused because incomplete frames of all connections reached the buffer cap',
  downstream_cx_write_backed_up: 'Times a consumer left more replies unread than the write limit, so the proxy stopped reading its requests',
  downstream_cx_max_requests_reached: 'Times a downstream connection reached its cap of calls in flight, so the proxy stopped reading it',
  downstream_flow_control_paused_reading: 'Times the proxy stopped reading a downstream connection (any reason)',
  downstream_flow_control_resumed_reading: 'Times the proxy resumed reading a downstream connection',
  request: 'Requests received (heartbeats and other events excluded)',
  request_decoding_error: 'Requests that could not be decoded (answered 40)',
  request_event: 'Event frames received from consumers (heartbeats, READONLY)',
  heartbeat_answered: 'Heartbeats answered by the proxy itself',
  response: 'Responses relayed from instances',
  response_success: 'Relayed responses with a normal result',
  response_business_exception: 'Relayed responses carrying a business exception (never retried)',
  response_error: 'Relayed responses with a non-OK status',
  local_response_service_not_found: 'Local replies 60: no mesh service provides the service key',
  local_response_unknown_target_application: 'Local replies 60: the target-application attachment names no host of an Ingress of class dubbo',
  local_response_no_healthy_upstream: 'Local replies 70: no instance could take the call',
  local_response_timeout: 'Local replies 31: the route timeout passed',
  local_response_overflow: 'Local replies 100: a connection-pool or circuit-breaker limit',
  local_response_bad_request: 'Local replies 40: the request could not be read',
  local_response_filter: 'Local replies a filter sent, with the status it chose (request or response phase)',
  request_rerouted: 'Calls routed again after request-phase filters changed their attachments, and that took another route rule',
  filter_error: 'Filters or endpoint narrowings that threw, rejected or answered with a status that is no error (the call answered 80)',
  request_abandoned: 'Calls dropped because their consumer disconnected while a filter was pending (nothing sent upstream or back)',
  upstream_rq_retry: 'Retries sent to another instance',
  upstream_rq_retry_budget_exhausted: 'Retries not sent because the retry budget was spent',
  upstream_rq_relayed_failure: 'Answers of an inbound sidecar saying its application did not get or lost the call',
  upstream_cx_total: 'Upstream (instance) connections opened or attempted',
  upstream_cx_connect_fail: 'Upstream connect attempts that failed',
  upstream_cx_destroy_with_active_rq: 'Upstream connections that closed with calls in flight',
  upstream_readonly_event: 'READONLY events received from instances',
  config_unknown_field:
    'Fields in snapshots from the control plane that this proxy does not know (one per resource and field path): ignored with a warning, not NACKed',
} as const;

/** Counter names, in the order `/stats` and `/metrics` list them. */
export type CounterName = keyof typeof COUNTER_HELP;
export const COUNTERS = Object.keys(COUNTER_HELP) as CounterName[];

const GAUGE_HELP = {
  downstream_cx_active: 'Open downstream (consumer) connections',
  request_active: 'Calls in flight',
  upstream_cx_active: 'Open upstream (instance) connections',
  frame_buffer_bytes: 'Bytes reserved for incomplete frames over all downstream connections (capped)',
} as const;
export type GaugeName = keyof typeof GAUGE_HELP;
export const GAUGES = Object.keys(GAUGE_HELP) as GaugeName[];

/** The `# HELP` text of a counter or gauge. */
export function statHelp(name: CounterName | GaugeName): string {
  return (COUNTER_HELP as Record<string, string>)[name] ?? (GAUGE_HELP as Record<string, string>)[name]!;
}

/** Bucket bounds of `request_time_ms`. */
export const REQUEST_TIME_BUCKETS_MS = [0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

/** The live numbers of one proxy. */
export class ProxyStats {
  readonly counters: Record<CounterName, number> = Object.fromEntries(COUNTERS.map((name) => [name, 0])) as Record<CounterName, number>;
  readonly gauges: Record<GaugeName, number> = Object.fromEntries(GAUGES.map((name) => [name, 0])) as Record<GaugeName, number>;
  /** Cumulative histogram of request times: counts per bucket (last = +Inf), sum and count. */
  readonly requestTime = { buckets: new Array<number>(REQUEST_TIME_BUCKETS_MS.length + 1).fill(0), sum: 0, count: 0 };

  recordRequestTime(ms: number): void {
    const buckets = REQUEST_TIME_BUCKETS_MS;
    let i = 0;
    while (i < buckets.length && ms > buckets[i]!) i++;
    this.requestTime.buckets[i]! += 1;
    this.requestTime.sum += ms;
    this.requestTime.count += 1;
  }

  /** A plain snapshot for `/stats`. */
  toJSON(): Record<string, unknown> {
    return {
      counters: { ...this.counters },
      gauges: { ...this.gauges },
      request_time_ms: { ...this.requestTime, buckets: [...this.requestTime.buckets], bounds: REQUEST_TIME_BUCKETS_MS },
    };
  }
}
