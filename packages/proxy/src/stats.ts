/**
 * The proxy's stats, declared in one list (as Envoy's dubbo_proxy/stats.h). Counters are
 * plain numbers incremented on the hot path; Prometheus reads them at scrape time.
 */
export const COUNTERS = [
  'downstream_cx_total',
  'downstream_cx_protocol_error',
  'downstream_flow_control_paused_reading',
  'downstream_flow_control_resumed_reading',
  'request',
  'request_decoding_error',
  'request_event',
  'heartbeat_answered',
  'response',
  'response_success',
  'response_business_exception',
  'response_error',
  'local_response_service_not_found',
  'local_response_no_healthy_upstream',
  'local_response_timeout',
  'local_response_overflow',
  'local_response_bad_request',
  'upstream_rq_retry',
  'upstream_rq_retry_budget_exhausted',
  'upstream_rq_relayed_failure',
  'upstream_cx_total',
  'upstream_cx_connect_fail',
  'upstream_cx_destroy_with_active_rq',
  'upstream_readonly_event',
] as const;
export type CounterName = (typeof COUNTERS)[number];

export const GAUGES = ['downstream_cx_active', 'request_active', 'upstream_cx_active'] as const;
export type GaugeName = (typeof GAUGES)[number];

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
    return { counters: { ...this.counters }, gauges: { ...this.gauges }, request_time_ms: { ...this.requestTime, buckets: [...this.requestTime.buckets], bounds: REQUEST_TIME_BUCKETS_MS } };
  }
}
