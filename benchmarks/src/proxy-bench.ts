// One run, four ways to reach the same provider: direct; through HAProxy `mode tcp` (the L4
// floor); through one dubbo-mesh proxy; through two (outbound → inbound). Each hop runs in
// its own process; the load generator is this process.
//
//   npm run bench:proxy -- [--connections 16] [--in-flight 64] [--duration 10s] [--warmup 2s] [--json]
//                          [--proxy-node-options "--max-semi-space-size=8"] [--proxy-filter none|sync|async]
//                          [--plugin module,grpc-request,grpc-both|all] [--plugin-timeout 5s]
//
// The proxies run with the Node options a deployment gives them (docs/operations.md: a young
// generation capped at 8 MiB semi-spaces); pass --proxy-node-options "" for Node's defaults.
// --proxy-filter adds rows: one hop through filtered-proxy.js (the same DubboProxy started
// in-process) with no filter and with the named trivial filter, to price a filter.
// --plugin adds one row per DubboPlugin variant: the same one-hop `dubbo-mesh proxy --static`
// as the plain row (its plugin runtime composed by the sidecar), its config also holding one
// trivial plugin (bench-plugin.ts) — in-process, or over gRPC from plugin-server.js in its own
// process on the request phase or on both — with the latency added over the plain row and the
// plugin server's CPU. With a gRPC variant, one row more measures the floor under them: the
// proxy's grpc-js client calling the plugin server from this process, no proxy, the same calls
// in flight (grpc-round-trip.ts). --plugin-timeout (seconds, `10s`) sets the plugins' timeout
// (default the kind's, 200 ms): at this load (1,024 calls in flight) a gRPC plugin's calls
// queue longer than that.
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { USER_SERVICE } from '@dubbo-mesh/test-support';
import { runLoad, type LoadResult } from './load-generator.js';
import { freePort } from '@dubbo-mesh/test-support';
import { adminJson } from './admin-client.js';
import { isGrpcVariant, parsePluginVariants, pluginYaml } from './plugin-variants.js';
import { children, cpuSeconds, rssMiB, start, waitForPort } from './processes.js';

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '16' },
    'in-flight': { type: 'string', default: '64' },
    duration: { type: 'string', default: '10s' },
    warmup: { type: 'string', default: '2s' },
    json: { type: 'boolean', default: false },
    'proxy-node-options': { type: 'string', default: '--max-semi-space-size=8' },
    'proxy-filter': { type: 'string' },
    plugin: { type: 'string' },
    'plugin-timeout': { type: 'string' },
  },
});
const pluginVariants = values.plugin === undefined ? [] : parsePluginVariants(values.plugin);
const seconds = (text: string) => Number(text.replace(/s$/, '')) * 1000;
const pluginTimeout = values['plugin-timeout'];
if (pluginTimeout !== undefined && !/^\d+(\.\d+)?s$/.test(pluginTimeout)) throw new Error(`--plugin-timeout: seconds such as 10s, got ${pluginTimeout}`);
// Plugin code (grpc-js, the plugin runtime) is loaded only for --plugin: the load generator runs
// in this process, and a heavier process would make every row's numbers lower.
const pluginTimeoutMs =
  pluginVariants.length === 0 ? 0 : pluginTimeout === undefined ? (await import('@dubbo-mesh/config')).DEFAULT_PLUGIN_TIMEOUT_MS : seconds(pluginTimeout);
const options = {
  connections: Number(values.connections),
  inFlight: Number(values['in-flight']),
  durationMs: seconds(values.duration!),
  warmupMs: seconds(values.warmup!),
};

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.resolve(here, '../../packages/cli/bin/dubbo-mesh.js');
interface Row extends LoadResult {
  scenario: string;
  proxyCpuSecondsPer1000?: number;
  proxyRssMiB?: number;
  /** gRPC plugin rows and the grpc-js floor: the plugin server's CPU (its own process). */
  pluginServerCpuSecondsPer1000?: number;
  /** Plugin rows: latency over the plain one-hop row of the same run. */
  p50AddedMs?: number;
  p99AddedMs?: number;
  /** Plugin rows: the plugin's counters in the proxy's /stats at the end (warm-up included). */
  plugin?: PluginCounters;
  /** The grpc-js floor row: the client's CPU (the benchmark process). */
  grpcClientCpuSecondsPer1000?: number;
}

/** What a plugin row reads from the proxy's /stats to show the plugin ran and did not fail. */
interface PluginCounters {
  calls: number;
  errors: number;
  timeouts: number;
  short_circuited: number;
  /** The proxy's view of one request-phase plugin call (histogram bucket bounds). */
  request_latency_p50_ms: number | null;
  request_latency_p99_ms: number | null;
}

async function measure(scenario: string, port: number, proxies: ChildProcess[], pluginServer?: ChildProcess): Promise<Row> {
  const cpu: number[] = [];
  const serverCpu: number[] = [];
  const result = await runLoad({
    host: '127.0.0.1',
    port,
    ...options,
    onMeasure: () => {
      cpu.push(proxies.reduce((sum, p) => sum + cpuSeconds(p.pid!), 0));
      if (pluginServer !== undefined) serverCpu.push(cpuSeconds(pluginServer.pid!));
    },
  });
  const row: Row = { scenario, ...result };
  if (proxies.length > 0) {
    row.proxyCpuSecondsPer1000 = ((cpu[1]! - cpu[0]!) / result.calls) * 1000;
    row.proxyRssMiB = proxies.reduce((sum, p) => sum + rssMiB(p.pid!), 0);
  }
  if (pluginServer !== undefined) row.pluginServerCpuSecondsPer1000 = ((serverCpu[1]! - serverCpu[0]!) / result.calls) * 1000;
  return row;
}

/** The one plugin of a plugin row's proxy, from its admin /stats. */
async function pluginCounters(admin: string): Promise<PluginCounters> {
  type Entry = Omit<PluginCounters, `request_${string}`> & { request: { latency_p50_ms: number | null; latency_p99_ms: number | null } };
  const stats = await adminJson<{ plugins?: Record<string, Entry> }>(admin, '/stats');
  const entries = Object.values(stats.plugins ?? {});
  if (entries.length !== 1) throw new Error(`the plugin proxy's /stats shows ${entries.length} plugins, not 1`);
  const { calls, errors, timeouts, short_circuited, request } = entries[0]!;
  return { calls, errors, timeouts, short_circuited, request_latency_p50_ms: request.latency_p50_ms, request_latency_p99_ms: request.latency_p99_ms };
}

function meshYaml(endpointPort: number): string {
  return `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: user-provider}
spec:
  interfaces: [${USER_SERVICE}]
  endpoints: [{address: 127.0.0.1:${endpointPort}}]
---
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboPolicy
metadata: {name: user-provider}
spec:
  service: user-provider
  connectionPool: {maxConnections: 4, maxRequests: 100000, maxPendingRequests: 100000}
`;
}

async function startProxy(
  dir: string,
  name: string,
  endpointPort: number,
  extra: string[] = [],
  extraYaml = '',
): Promise<{ child: ChildProcess; listeners: Record<string, { port: number }>; admin: string }> {
  const file = path.join(dir, `${name}.yaml`);
  await writeFile(file, meshYaml(endpointPort) + extraYaml);
  const nodeOptions = values['proxy-node-options']!.split(' ').filter((option) => option !== '');
  const proxy = start(process.execPath, [
    ...nodeOptions,
    cli,
    'proxy',
    '--node',
    name,
    '--static',
    file,
    '--outbound',
    '127.0.0.1:0',
    '--admin',
    '127.0.0.1:0',
    ...extra,
  ]);
  const ready = JSON.parse(await proxy.line((text) => text.includes('"proxy ready"'))) as { listeners: Record<string, { port: number }>; admin: string };
  return { child: proxy.child, listeners: ready.listeners, admin: ready.admin };
}

async function startFilteredProxy(mode: string, endpointPort: number): Promise<{ child: ChildProcess; port: number }> {
  const nodeOptions = values['proxy-node-options']!.split(' ').filter((option) => option !== '');
  const proxy = start(process.execPath, [...nodeOptions, path.join(here, 'filtered-proxy.js'), mode, String(endpointPort)]);
  const ready = JSON.parse(await proxy.line((text) => text.includes('"proxy ready"'))) as { listeners: Record<string, { port: number }> };
  return { child: proxy.child, port: ready.listeners.outbound!.port };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-bench-'));
  try {
    const provider = start(process.execPath, [path.join(here, 'canned-provider.js')]);
    const providerPort = (JSON.parse(await provider.line((text) => text.startsWith('{'))) as { port: number }).port;
    const rows: Row[] = [];

    rows.push(await measure('direct', providerPort, []));

    const haproxyPort = await freePort();
    const haproxyConfig = path.join(dir, 'haproxy.cfg');
    await writeFile(
      haproxyConfig,
      `global\n  maxconn 4096\ndefaults\n  mode tcp\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\nfrontend fe\n  bind 127.0.0.1:${haproxyPort}\n  default_backend be\nbackend be\n  server s1 127.0.0.1:${providerPort}\n`,
    );
    const haproxy = start('haproxy', ['-f', haproxyConfig, '-db']);
    await waitForPort(haproxyPort);
    rows.push(await measure('haproxy (mode tcp), one hop', haproxyPort, [haproxy.child]));
    haproxy.child.kill('SIGTERM');

    const oneHop = await startProxy(dir, 'one-hop', providerPort);
    const plain = await measure('dubbo-mesh, one hop', oneHop.listeners.outbound!.port, [oneHop.child]);
    rows.push(plain);
    oneHop.child.kill('SIGTERM');

    const filterMode = values['proxy-filter'];
    if (filterMode !== undefined) {
      for (const mode of ['none', filterMode]) {
        const filtered = await startFilteredProxy(mode, providerPort);
        rows.push(await measure(`one hop, filter: ${mode}`, filtered.port, [filtered.child]));
        filtered.child.kill('SIGTERM');
      }
    }

    if (pluginVariants.some(isGrpcVariant)) {
      const server = start(process.execPath, [path.join(here, 'plugin-server.js')]);
      const port = (JSON.parse(await server.line((text) => text.startsWith('{'))) as { port: number }).port;
      const serverCpu: number[] = [];
      const { runGrpcRoundTrips } = await import('./grpc-round-trip.js');
      const { clientCpuSeconds, ...result } = await runGrpcRoundTrips({
        port,
        concurrency: options.connections * options.inFlight,
        durationMs: options.durationMs,
        warmupMs: options.warmupMs,
        timeoutMs: pluginTimeoutMs,
        onMeasure: () => serverCpu.push(cpuSeconds(server.child.pid!)),
      });
      rows.push({
        scenario: 'grpc-js alone (floor)',
        ...result,
        grpcClientCpuSecondsPer1000: (clientCpuSeconds / result.calls) * 1000,
        pluginServerCpuSecondsPer1000: ((serverCpu[1]! - serverCpu[0]!) / result.calls) * 1000,
      });
      server.child.kill('SIGTERM');
    }
    for (const variant of pluginVariants) {
      const server = isGrpcVariant(variant) ? start(process.execPath, [path.join(here, 'plugin-server.js')]) : undefined;
      const target =
        server === undefined ? path.join(here, 'bench-plugin.js') : (JSON.parse(await server.line((text) => text.startsWith('{'))) as { port: number }).port;
      const proxy = await startProxy(dir, `plugin-${variant}`, providerPort, [], pluginYaml(variant, target, pluginTimeout));
      const row = await measure(`1 hop + plugin ${variant}`, proxy.listeners.outbound!.port, [proxy.child], server?.child);
      row.p50AddedMs = row.p50Ms - plain.p50Ms;
      row.p99AddedMs = row.p99Ms - plain.p99Ms;
      row.plugin = await pluginCounters(proxy.admin);
      rows.push(row);
      proxy.child.kill('SIGTERM');
      server?.child.kill('SIGTERM');
    }

    const inbound = await startProxy(dir, 'inbound', providerPort, ['--inbound', '127.0.0.1:0', '--inbound-target', `127.0.0.1:${providerPort}`]);
    const outbound = await startProxy(dir, 'outbound', inbound.listeners.inbound!.port);
    rows.push(await measure('dubbo-mesh, two hops', outbound.listeners.outbound!.port, [outbound.child, inbound.child]));

    const baseline = rows[1]!;
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ options, rows }, null, 2)}\n`);
    } else {
      const f = (n: number | undefined, digits = 2) => (n === undefined ? '-' : n.toFixed(digits));
      console.log(
        `Node ${process.version}; ${options.connections} connections × ${options.inFlight} calls in flight; ${options.durationMs / 1000} s after ${options.warmupMs / 1000} s warm-up; getUser(long) against a canned provider; proxy Node options: ${values['proxy-node-options'] || '(none)'}\n`,
      );
      console.log(
        'scenario                        QPS      p50 ms   p99 ms  p99.9 ms  errors  proxy CPU s/1000  proxy RSS MiB  QPS vs HAProxy  p99 vs HAProxy',
      );
      for (const row of rows) {
        console.log(
          `${row.scenario.padEnd(28)} ${f(row.qps, 0).padStart(7)} ${f(row.p50Ms).padStart(8)} ${f(row.p99Ms).padStart(8)} ${f(row.p999Ms).padStart(9)} ${String(row.errors).padStart(7)} ${f(row.proxyCpuSecondsPer1000, 4).padStart(17)} ${f(row.proxyRssMiB, 0).padStart(14)} ${(row.qps / baseline.qps).toFixed(2).padStart(15)} ${(row.p99Ms / baseline.p99Ms).toFixed(2).padStart(15)}`,
        );
      }
      const pluginRows = rows.filter((row) => row.plugin !== undefined);
      const floor = rows.find((row) => row.grpcClientCpuSecondsPer1000 !== undefined);
      if (pluginRows.length > 0) {
        const ms = (seconds: number | undefined) => (seconds === undefined ? undefined : seconds * 1000);
        console.log(
          `\nplugins, against the plain one-hop row (p50 ${f(plain.p50Ms)} ms, p99 ${f(plain.p99Ms)} ms, proxy CPU ${f(ms(plain.proxyCpuSecondsPer1000))} ms/1000 calls)`,
        );
        console.log(
          'scenario                      p50 added ms  p99 added ms  proxy CPU ms/1000  added  plugin server CPU ms/1000  plugin calls  failed  plugin p50/p99 ms (proxy view)',
        );
        for (const row of pluginRows) {
          const counters = row.plugin!;
          const proxyCpu = ms(row.proxyCpuSecondsPer1000);
          const added = proxyCpu === undefined || plain.proxyCpuSecondsPer1000 === undefined ? undefined : proxyCpu - ms(plain.proxyCpuSecondsPer1000)!;
          console.log(
            `${row.scenario.padEnd(29)} ${f(row.p50AddedMs).padStart(12)} ${f(row.p99AddedMs).padStart(13)} ${f(proxyCpu).padStart(18)} ${f(added).padStart(6)} ${f(ms(row.pluginServerCpuSecondsPer1000)).padStart(26)} ${String(counters.calls).padStart(13)} ${String(counters.errors + counters.timeouts + counters.short_circuited).padStart(7)}  ${counters.request_latency_p50_ms ?? '-'}/${counters.request_latency_p99_ms ?? '-'}`,
          );
        }
        if (floor !== undefined) {
          console.log(
            `grpc-js alone (floor): p50 ${f(floor.p50Ms)} ms, p99 ${f(floor.p99Ms)} ms, ${f(floor.qps, 0)} calls/s; client CPU ${f(ms(floor.grpcClientCpuSecondsPer1000))} ms/1000, plugin server CPU ${f(ms(floor.pluginServerCpuSecondsPer1000))} ms/1000`,
          );
        }
      }
    }
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
