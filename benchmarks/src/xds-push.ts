// Envoy's xDS push from the control plane: N simulated Envoy sidecars on real ADS streams (one
// channel, so one TCP connection, each), a mesh of S service keys and E endpoints, and the
// time from a one-endpoint change in the config folder to every sidecar having ACKed the
// endpoints (EDS) that carry it; the bytes each sidecar received for that push, state of the
// world vs delta; the control plane's RSS and CPU.
//
//   npm run bench:xds -- [--envoys 1000] [--services 2000] [--interfaces 5] [--endpoints 25] [--changes 3]
//                        [--mode delta|sotw|both] [--profile-control-plane DIR] [--json]
//
// Services × interfaces = service keys (10,000 by default); services × endpoints = endpoints.
// One DubboService per file in one folder; a change rewrites one file (one endpoint of
// service 0 moves to another port). The control plane runs as `dubbo-mesh control-plane
// --config DIR` in its own process. A simulated sidecar asks what Envoy asks (LDS and CDS
// wildcard, the `dubbo_outbound` Dubbo routes, EDS for every cluster) and ACKs at once
// (simulated-envoys.ts). `--mode both` runs delta, then state of the world, each on a fresh
// control plane, and prints both. `--profile-control-plane DIR` writes the control plane's CPU
// profile there (`node --cpu-prof`; it is stopped with SIGTERM so the profile is written).
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type * as grpc from '@grpc/grpc-js';
import { eventLoopMaxMs, percentile, probeHealth, startControlPlaneProcess } from './control-plane-probes.js';
import { cpuSeconds, peakRssMiB, rssMiB } from './processes.js';
import { TYPE, connectSimulatedEnvoys, type AdsMode } from './simulated-envoys.js';

const { values } = parseArgs({
  options: {
    envoys: { type: 'string', default: '1000' },
    services: { type: 'string', default: '2000' },
    interfaces: { type: 'string', default: '5' },
    endpoints: { type: 'string', default: '25' },
    changes: { type: 'string', default: '3' },
    mode: { type: 'string', default: 'both' },
    'profile-control-plane': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const envoys = Number(values.envoys);
const services = Number(values.services);
const interfaces = Number(values.interfaces);
const endpoints = Number(values.endpoints);
const changes = Number(values.changes);
if (!['delta', 'sotw', 'both'].includes(values.mode)) throw new Error(`--mode must be delta, sotw or both, got ${values.mode}`);
const modes: AdsMode[] = values.mode === 'both' ? ['delta', 'sotw'] : [values.mode as AdsMode];

/** One DubboService per file; `changed` moves one endpoint of service 0. */
function serviceYaml(s: number, changed: number): string {
  const ifaces = Array.from({ length: interfaces }, (_, i) => `com.example.app${s}.Service${i}`).join(', ');
  const eps = Array.from({ length: endpoints }, (_, e) => {
    const port = s === 0 && e === 0 ? 20880 + changed : 20880;
    return `    - {address: 10.${(s >> 8) & 255}.${s & 255}.${e + 1}:${port}, labels: {version: v${e % 2}}}`;
  }).join('\n');
  return `apiVersion: dubbo-mesh.io/v1alpha1\nkind: DubboService\nmetadata: {name: app-${s}}\nspec:\n  interfaces: [${ifaces}]\n  endpoints:\n${eps}\n`;
}

interface Row {
  change: number;
  publishMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  pushP99Ms: number;
  bytesPerPush: number;
  controlPlaneRssMiB: number;
  controlPlaneCpuSeconds: number;
  healthzMaxMs: number;
  loopMaxMs: number;
  streamsEnded: number;
}

interface ModeResult {
  mode: AdsMode;
  startSeconds: number;
  connectSeconds: number;
  initialBytes: number;
  rssAfterConnectMiB: number;
  peakRssMiB: number;
  rows: Row[];
}

async function runMode(mode: AdsMode): Promise<ModeResult> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-xds-'));
  for (let s = 0; s < services; s++) await writeFile(path.join(dir, `app-${s}.yaml`), serviceYaml(s, 0));
  let child: ChildProcess | undefined;
  const clients: grpc.Client[] = [];
  try {
    const profile = values['profile-control-plane'];
    const controlPlane = startControlPlaneProcess(dir, profile === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profile]);
    child = controlPlane.child;
    const { logLine } = controlPlane;
    const startedAt = Date.now();
    const ready = await logLine((l) => l.msg === 'control plane ready');
    const startSeconds = (Date.now() - startedAt) / 1000;
    const connectStarted = Date.now();
    const set = await connectSimulatedEnvoys(ready.grpc as string, envoys, mode, clients);
    const connectSeconds = (Date.now() - connectStarted) / 1000;
    const sims = set.sims;
    const initialBytes = sims[0]!.totalBytes;
    const rssAfterConnectMiB = rssMiB(child.pid!);
    const rows: Row[] = [];
    for (let change = 1; change <= changes; change++) {
      const logsBefore = controlPlane.lines;
      const published = logLine((l) => l.msg === 'published a snapshot', logsBefore);
      const text = serviceYaml(0, change);
      const arrivals: number[] = [];
      const bytesBefore = sims.map((sim) => sim.totalBytes);
      const t0 = performance.now();
      const t0Wall = Date.now();
      const allArrived = new Promise<void>((resolve) => {
        for (const sim of sims) {
          const held = sim.versions.get(TYPE.endpoints);
          sim.onResponse = (typeUrl, version) => {
            if (typeUrl !== TYPE.endpoints || version === held) return;
            arrivals.push(performance.now() - t0);
            sim.onResponse = undefined;
            if (arrivals.length === sims.length) resolve();
          };
        }
      });
      await eventLoopMaxMs(ready.admin as string);
      const health = probeHealth(ready.admin as string);
      const cpuBefore = cpuSeconds(child.pid!);
      const endedBefore = set.streamsEnded();
      await writeFile(path.join(dir, 'app-0.yaml'), text);
      const publishLine = await published;
      const publishMs = (publishLine.time as number) - t0Wall;
      await allArrived;
      const { maxMs: healthzMaxMs } = await health.stop();
      const loopMaxMs = await eventLoopMaxMs(ready.admin as string);
      rows.push({
        change,
        publishMs,
        p50Ms: percentile(arrivals, 0.5),
        p99Ms: percentile(arrivals, 0.99),
        maxMs: Math.max(...arrivals),
        pushP99Ms: percentile(arrivals, 0.99) - publishMs,
        bytesPerPush: sims[0]!.totalBytes - bytesBefore[0]!,
        controlPlaneRssMiB: rssMiB(child.pid!),
        controlPlaneCpuSeconds: cpuSeconds(child.pid!) - cpuBefore,
        healthzMaxMs,
        loopMaxMs,
        streamsEnded: set.streamsEnded() - endedBefore,
      });
    }
    return { mode, startSeconds, connectSeconds, initialBytes, rssAfterConnectMiB, peakRssMiB: peakRssMiB(child.pid!), rows };
  } finally {
    for (const client of clients) client.close();
    if (values['profile-control-plane'] !== undefined && child !== undefined && child.exitCode === null) {
      const exited = new Promise((resolve) => child!.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    } else child?.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const results: ModeResult[] = [];
  for (const mode of modes) results.push(await runMode(mode));
  const summary = { envoys, serviceKeys: services * interfaces, endpoints: services * endpoints, results };
  if (values.json) {
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    return;
  }
  console.log(
    `Node ${process.version}; ${envoys} simulated Envoy sidecars on ADS; ${services * interfaces} service keys, ${services * endpoints} endpoints (${services} DubboServices, one per file)`,
  );
  for (const r of results) {
    console.log(
      `\n${r.mode}: control plane up in ${r.startSeconds.toFixed(1)} s; ${envoys} sidecars holding everything in ${r.connectSeconds.toFixed(1)} s; first resources ${r.initialBytes} bytes per sidecar; CP RSS ${r.rssAfterConnectMiB.toFixed(0)} MiB connected, peak ${r.peakRssMiB.toFixed(0)} MiB`,
    );
    console.log(
      'change  file→published ms  →all ACK p50 ms  →all ACK p99 ms  max ms  publish→p99 ms  bytes/push/sidecar  CP RSS MiB  CP CPU s  /healthz max ms  CP loop max ms  streams ended',
    );
    for (const row of r.rows) {
      console.log(
        `${String(row.change).padStart(6)} ${row.publishMs.toFixed(0).padStart(17)} ${row.p50Ms.toFixed(0).padStart(16)} ${row.p99Ms.toFixed(0).padStart(16)} ${row.maxMs.toFixed(0).padStart(7)} ${row.pushP99Ms.toFixed(0).padStart(15)} ${String(row.bytesPerPush).padStart(19)} ${row.controlPlaneRssMiB.toFixed(0).padStart(11)} ${row.controlPlaneCpuSeconds.toFixed(2).padStart(9)} ${row.healthzMaxMs.toFixed(0).padStart(16)} ${row.loopMaxMs.toFixed(0).padStart(15)} ${String(row.streamsEnded).padStart(14)}`,
      );
    }
  }
}

await main();
