// One run, four ways to reach the same provider: direct; through HAProxy `mode tcp` (the L4
// floor); through one dubbo-mesh proxy; through two (outbound → inbound). Each hop runs in
// its own process; the load generator is this process.
//
//   npm run bench:proxy -- [--connections 16] [--in-flight 64] [--duration 10s] [--warmup 2s] [--json]
//                          [--proxy-node-options "--max-semi-space-size=8"] [--proxy-filter none|sync|async]
//
// The proxies run with the Node options a deployment gives them (docs/operations.md: a young
// generation capped at 8 MiB semi-spaces); pass --proxy-node-options "" for Node's defaults.
// --proxy-filter adds rows: one hop through filtered-proxy.js (the same DubboProxy started
// in-process) with no filter and with the named trivial filter, to price a filter.
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { USER_SERVICE } from '@dubbo-mesh/test-support';
import { runLoad, type LoadResult } from './load-generator.js';
import { freePort } from '@dubbo-mesh/test-support';
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
  },
});
const seconds = (text: string) => Number(text.replace(/s$/, '')) * 1000;
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
}

async function measure(scenario: string, port: number, proxies: ChildProcess[]): Promise<Row> {
  const cpu: number[] = [];
  const result = await runLoad({
    host: '127.0.0.1',
    port,
    ...options,
    onMeasure: () => cpu.push(proxies.reduce((sum, p) => sum + cpuSeconds(p.pid!), 0)),
  });
  const row: Row = { scenario, ...result };
  if (proxies.length > 0) {
    row.proxyCpuSecondsPer1000 = ((cpu[1]! - cpu[0]!) / result.calls) * 1000;
    row.proxyRssMiB = proxies.reduce((sum, p) => sum + rssMiB(p.pid!), 0);
  }
  return row;
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
): Promise<{ child: ChildProcess; listeners: Record<string, { port: number }> }> {
  const file = path.join(dir, `${name}.yaml`);
  await writeFile(file, meshYaml(endpointPort));
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
  const ready = JSON.parse(await proxy.line((text) => text.includes('"proxy ready"'))) as { listeners: Record<string, { port: number }> };
  return { child: proxy.child, listeners: ready.listeners };
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
    rows.push(await measure('dubbo-mesh, one hop', oneHop.listeners.outbound!.port, [oneHop.child]));
    oneHop.child.kill('SIGTERM');

    const filterMode = values['proxy-filter'];
    if (filterMode !== undefined) {
      for (const mode of ['none', filterMode]) {
        const filtered = await startFilteredProxy(mode, providerPort);
        rows.push(await measure(`one hop, filter: ${mode}`, filtered.port, [filtered.child]));
        filtered.child.kill('SIGTERM');
      }
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
    }
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
