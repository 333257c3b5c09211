import type { PluginPhase } from '@dubbo-mesh/config';

/** How one plugin call ended. */
export const PLUGIN_OUTCOMES = ['ok', 'rejected', 'error', 'timeout', 'short-circuited'] as const;
/** One of {@link PLUGIN_OUTCOMES}. */
export type PluginOutcome = (typeof PLUGIN_OUTCOMES)[number];

/** Upper bounds (ms) of the latency histogram's buckets (Prometheus `le`, in seconds there). */
export const PLUGIN_LATENCY_BUCKETS_MS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500];

/** Counts and latencies of one plugin in one phase. */
export class PhaseStats {
  /** By outcome. */
  readonly outcomes: Record<PluginOutcome, number> = { ok: 0, rejected: 0, error: 0, timeout: 0, 'short-circuited': 0 };
  /** Latency histogram of the calls made (short-circuited ones take none): one count per bucket, then +Inf. */
  readonly buckets = new Array<number>(PLUGIN_LATENCY_BUCKETS_MS.length + 1).fill(0);
  sumMs = 0;
  count = 0;
  /** The longest call (what a quantile past the last bucket reads). */
  maxMs = 0;

  /** One call that ended with `outcome`; `latencyMs` undefined when the plugin was not called. */
  record(outcome: PluginOutcome, latencyMs: number | undefined): void {
    this.outcomes[outcome] += 1;
    if (latencyMs === undefined) return;
    const bounds = PLUGIN_LATENCY_BUCKETS_MS;
    let i = 0;
    while (i < bounds.length && latencyMs > bounds[i]!) i++;
    this.buckets[i]! += 1;
    this.sumMs += latencyMs;
    this.count += 1;
    if (latencyMs > this.maxMs) this.maxMs = latencyMs;
  }

  /** The latency under which `q` (0..1) of the calls were, as the upper bound of its bucket (past the last bucket: the longest call); null with no call. */
  quantileMs(q: number): number | null {
    if (this.count === 0) return null;
    const rank = Math.ceil(q * this.count);
    let seen = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      seen += this.buckets[i]!;
      if (seen >= rank) return i < PLUGIN_LATENCY_BUCKETS_MS.length ? PLUGIN_LATENCY_BUCKETS_MS[i]! : Math.round(this.maxMs * 1000) / 1000;
    }
    return Math.round(this.maxMs * 1000) / 1000;
  }
}

/** One plugin's counters, per phase; kept while the plugin exists, whatever its config changes. */
export class PluginStats {
  readonly phases: Record<PluginPhase, PhaseStats> = { request: new PhaseStats(), response: new PhaseStats() };

  /** Counts as `/stats` shows them: totals over both phases, and each phase with its latency quantiles (bucket bounds). */
  toJSON(): Record<string, unknown> {
    const total = (outcome: PluginOutcome) => this.phases.request.outcomes[outcome] + this.phases.response.outcomes[outcome];
    const phase = (stats: PhaseStats) => ({
      ...stats.outcomes,
      latency_p50_ms: stats.quantileMs(0.5),
      latency_p99_ms: stats.quantileMs(0.99),
      latency_mean_ms: stats.count === 0 ? null : Math.round((stats.sumMs / stats.count) * 1000) / 1000,
    });
    return {
      calls: PLUGIN_OUTCOMES.reduce((sum, outcome) => sum + total(outcome), 0),
      rejections: total('rejected'),
      errors: total('error'),
      timeouts: total('timeout'),
      short_circuited: total('short-circuited'),
      request: phase(this.phases.request),
      response: phase(this.phases.response),
    };
  }
}

/** A Prometheus label value, escaped. */
function label(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** One plugin as `/metrics` shows it. */
export interface PluginMetrics {
  /** `namespace/name`. */
  readonly id: string;
  readonly stats: PluginStats;
  /** Whether its circuit breaker is open or half-open. */
  readonly breakerOpen: boolean;
}

/** Prometheus text of the plugins' counters, latencies and breakers. */
export function pluginsToPrometheus(plugins: readonly PluginMetrics[], node: string): string {
  if (plugins.length === 0) return '';
  const stats = new Map(plugins.map((plugin) => [plugin.id, plugin.stats]));
  const lines = [
    '# HELP dubbo_mesh_plugin_calls_total Calls of a DubboPlugin by phase and outcome: ok, rejected (it answered the call), error, timeout, short-circuited (its breaker was open)',
    '# TYPE dubbo_mesh_plugin_calls_total counter',
  ];
  for (const [plugin, entry] of stats)
    for (const phase of ['request', 'response'] as const)
      for (const outcome of PLUGIN_OUTCOMES)
        lines.push(
          `dubbo_mesh_plugin_calls_total{node="${label(node)}",plugin="${label(plugin)}",phase="${phase}",outcome="${outcome}"} ${entry.phases[phase].outcomes[outcome]}`,
        );
  lines.push('# HELP dubbo_mesh_plugin_duration_seconds How long a DubboPlugin took to answer (calls made; short-circuited ones are not)');
  lines.push('# TYPE dubbo_mesh_plugin_duration_seconds histogram');
  for (const [plugin, entry] of stats)
    for (const phase of ['request', 'response'] as const) {
      const phaseStats = entry.phases[phase];
      const labels = `node="${label(node)}",plugin="${label(plugin)}",phase="${phase}"`;
      let cumulative = 0;
      PLUGIN_LATENCY_BUCKETS_MS.forEach((bound, i) => {
        cumulative += phaseStats.buckets[i]!;
        lines.push(`dubbo_mesh_plugin_duration_seconds_bucket{${labels},le="${bound / 1000}"} ${cumulative}`);
      });
      lines.push(`dubbo_mesh_plugin_duration_seconds_bucket{${labels},le="+Inf"} ${phaseStats.count}`);
      lines.push(`dubbo_mesh_plugin_duration_seconds_sum{${labels}} ${phaseStats.sumMs / 1000}`);
      lines.push(`dubbo_mesh_plugin_duration_seconds_count{${labels}} ${phaseStats.count}`);
    }
  lines.push('# HELP dubbo_mesh_plugin_breaker_open Whether a DubboPlugin is short-circuited: its circuit breaker is open (or lets one probe through)');
  lines.push('# TYPE dubbo_mesh_plugin_breaker_open gauge');
  for (const plugin of plugins) lines.push(`dubbo_mesh_plugin_breaker_open{node="${label(node)}",plugin="${label(plugin.id)}"} ${plugin.breakerOpen ? 1 : 0}`);
  return `${lines.join('\n')}\n`;
}
