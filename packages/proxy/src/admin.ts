import Fastify, { type FastifyInstance } from 'fastify';
import { Registry, collectDefaultMetrics } from 'prom-client';
import type { DubboProxy } from './proxy.js';
import { toWallClock, type Clock } from './clock.js';
import type { GovernanceRuleEntry } from './governance-rules.js';
import { REQUEST_TIME_BUCKETS_MS, statHelp, type ProxyStats } from './stats.js';

/** Prometheus text for the proxy's own stats (counters read at scrape time, no hot-path cost). */
export function statsToPrometheus(stats: ProxyStats, labels: Record<string, string>): string {
  const labelText = Object.entries(labels)
    .map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`)
    .join(',');
  const lines: string[] = [];
  for (const [name, value] of Object.entries(stats.counters)) {
    const metric = `dubbo_mesh_${name}${name.endsWith('_total') ? '' : '_total'}`;
    lines.push(`# HELP ${metric} ${statHelp(name as keyof ProxyStats['counters'])}`, `# TYPE ${metric} counter`, `${metric}{${labelText}} ${value}`);
  }
  for (const [name, value] of Object.entries(stats.gauges)) {
    lines.push(
      `# HELP dubbo_mesh_${name} ${statHelp(name as keyof ProxyStats['gauges'])}`,
      `# TYPE dubbo_mesh_${name} gauge`,
      `dubbo_mesh_${name}{${labelText}} ${value}`,
    );
  }
  const histogram = stats.requestTime;
  lines.push(
    '# HELP dubbo_mesh_request_time_ms Time from a request read to its answer written, in milliseconds',
    '# TYPE dubbo_mesh_request_time_ms histogram',
  );
  let cumulative = 0;
  REQUEST_TIME_BUCKETS_MS.forEach((bound, i) => {
    cumulative += histogram.buckets[i]!;
    lines.push(`dubbo_mesh_request_time_ms_bucket{${labelText},le="${bound}"} ${cumulative}`);
  });
  lines.push(
    `dubbo_mesh_request_time_ms_bucket{${labelText},le="+Inf"} ${histogram.count}`,
    `dubbo_mesh_request_time_ms_sum{${labelText}} ${histogram.sum}`,
    `dubbo_mesh_request_time_ms_count{${labelText}} ${histogram.count}`,
  );
  return lines.join('\n') + '\n';
}

/** Prometheus text of the calls each governance rule saw, by what it did (`dubbo_mesh_rule_calls_total{rule,effect}`). */
export function rulesToPrometheus(entries: readonly GovernanceRuleEntry[], node: string): string {
  if (entries.length === 0) return '';
  const quote = (value: string) => value.replace(/["\\\n]/g, '_');
  const lines = [
    '# HELP dubbo_mesh_rule_calls_total Calls a Dubbo governance rule (condition or tag) saw, by what it did: narrowed, kept-all, blacklisted, forced-empty, ignored (force: false), not-matched, disabled',
    '# TYPE dubbo_mesh_rule_calls_total counter',
  ];
  for (const entry of entries) {
    if (entry.kind === 'override') continue;
    for (const [effect, value] of Object.entries(entry.counters)) {
      lines.push(`dubbo_mesh_rule_calls_total{node="${quote(node)}",rule="${quote(entry.name)}",effect="${effect}"} ${value}`);
    }
  }
  return lines.join('\n') + '\n';
}

/**
 * The admin API of a proxy or gateway (SPEC): `/ready`, `/metrics`, `/stats`,
 * `/config_dump`, `/clusters`. Bound to loopback by default.
 */
export async function startProxyAdmin(proxy: DubboProxy, host: string, port: number, node: string): Promise<{ server: FastifyInstance; port: number }> {
  const server = Fastify({ logger: false });
  const registry = new Registry();
  // The process's own metrics under their standard names (process_cpu_seconds_total, nodejs_heap_size_used_bytes, …).
  collectDefaultMetrics({ register: registry });
  const clock: Clock = proxy.clock;

  server.get('/ready', async (_request, reply) => {
    const ready = proxy.ready;
    return reply.code(ready ? 200 : 503).send({ ready, version: proxy.snapshot?.version ?? null });
  });
  // Each extension's section, under its name (`plugins`).
  const sections = (part: 'stats' | 'configDump'): Record<string, unknown> =>
    Object.fromEntries(proxy.extensions.flatMap((extension) => (extension[part] === undefined ? [] : [[extension.name, extension[part]!()]])));
  server.get('/stats', async () => ({ ...proxy.stats.toJSON(), rules: proxy.governanceRules?.countersByRule() ?? {}, ...sections('stats') }));
  server.get('/config_dump', async (_request, reply) => {
    const snapshot = proxy.snapshot;
    if (snapshot === undefined) return reply.code(503).send({ error: 'no snapshot yet' });
    // The rules in force, as this proxy applies them (the documents are in `config.rules`).
    const rules = (proxy.governanceRules?.entries ?? []).map(({ counters: _counters, ...entry }) => entry);
    return { version: snapshot.version, config: snapshot.config, rules, ...sections('configDump') };
  });
  server.get('/clusters', async () => {
    // An ejected endpoint may still serve: a cluster's maxEjectionPercent keeps it in when too many are ejected.
    const serving = new Set<string>();
    const clusters = proxy.clusters.allClusters().map((c) => {
      const available = new Set(c.availableMembers());
      for (const member of available) serving.add(member.id);
      return {
        name: c.name,
        loadBalancer: c.loadBalancer.policy,
        activeRequests: c.active,
        maxRequests: c.pool.maxRequests,
        members: c.members.map((m) => ({ address: m.id, weight: m.weight, labels: m.labels, serving: available.has(m) })),
      };
    });
    return {
      endpoints: proxy.clusters.allEndpoints().map((e) => ({
        address: e.id,
        // Takes new calls: available, and not ejected — or ejected but kept serving by a cluster's ejection cap.
        available: e.available && (!e.ejected || serving.has(e.id)),
        healthy: e.healthy,
        readonly: e.readonly,
        ejected: e.ejected,
        ejectedButServing: e.ejected && serving.has(e.id),
        ejectedUntil: e.ejected ? toWallClock(clock, e.ejectedUntil).toISOString() : null,
        ejections: e.ejections,
        consecutiveErrors: e.consecutiveErrors,
        connectFailures: e.connectFailures,
        nextConnectAttempt: e.backingOff ? toWallClock(clock, e.connectBackoffUntil).toISOString() : null,
        activeRequests: e.stats.active,
        ewmaResponseMs: Math.round(e.stats.ewmaResponseMs * 1000) / 1000,
        openConnections: e.openConnections,
      })),
      clusters,
    };
  });
  server.get('/metrics', async (_request, reply) => {
    reply.type('text/plain; version=0.0.4');
    const extensions = proxy.extensions.map((extension) => extension.prometheus?.(node) ?? '').join('');
    return statsToPrometheus(proxy.stats, { node }) + rulesToPrometheus(proxy.governanceRules?.entries ?? [], node) + extensions + (await registry.metrics());
  });
  await server.listen({ host, port });
  const address = server.server.address();
  return { server, port: typeof address === 'object' && address !== null ? address.port : port };
}
