// Push convergence of the control plane: N simulated proxies on real gRPC streams (one
// channel, so one TCP connection, each), a mesh of S service keys and E endpoints, and the
// time from a one-endpoint change in the config file to every proxy holding the new version.
//
//   npm run bench:push -- [--proxies 1000] [--services 2000] [--interfaces 5] [--endpoints 25] [--changes 3]
//                         [--layout folder|file] [--mode delta|sotw] [--json]
//
// Services × interfaces = service keys; services × endpoints = endpoints. `--layout folder`
// (the default) writes one DubboService per file in one folder and a change rewrites one
// file; `--layout file` writes every DubboService into one file and a change rewrites that
// whole file in place. The control plane runs as `dubbo-mesh control-plane --config PATH`
// in its own process (its RSS and CPU time per change are reported). While each change is
// pushed, /healthz is asked again and again, one request at a time, from a process of its
// own: the slowest answer is how long the control plane kept it waiting; the control
// plane's own longest event-loop delay over the change is read from its /metrics. Streams
// that end are counted (a blocked event loop misses keepalive pings and the transport drops
// the stream).
// A simulated proxy decodes only the version and nonce of each response (the bytes arrive in
// full) and ACKs at once: the numbers are the control plane's and the transport's. `--mode`
// picks the stream: delta (changed resources only; the default, what proxies use) or sotw.
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type * as grpc from '@grpc/grpc-js';
import { eventLoopMaxMs, percentile, probeHealth, startControlPlaneProcess } from './control-plane-probes.js';
import { cpuSeconds, rssMiB } from './processes.js';
import { connectSimulatedProxies, type DiscoveryMode } from './simulated-proxies.js';

const { values } = parseArgs({
  options: {
    proxies: { type: 'string', default: '1000' },
    services: { type: 'string', default: '2000' },
    interfaces: { type: 'string', default: '5' },
    endpoints: { type: 'string', default: '25' },
    changes: { type: 'string', default: '3' },
    mode: { type: 'string', default: 'delta' },
    layout: { type: 'string', default: 'folder' },
    json: { type: 'boolean', default: false },
  },
});
const proxies = Number(values.proxies);
const services = Number(values.services);
const interfaces = Number(values.interfaces);
const endpoints = Number(values.endpoints);
const changes = Number(values.changes);
const mode: DiscoveryMode = values.mode === 'sotw' ? 'StreamSnapshots' : 'DeltaSnapshots';
const oneFile = values.layout === 'file';
if (values.layout !== 'file' && values.layout !== 'folder') throw new Error(`--layout must be folder or file, got ${values.layout}`);

/** One DubboService per file, as a folder of generated config would be; `changed` moves one endpoint of service 0. */
function serviceYaml(s: number, changed: number): string {
  const ifaces = Array.from({ length: interfaces }, (_, i) => `com.example.app${s}.Service${i}`).join(', ');
  const eps = Array.from({ length: endpoints }, (_, e) => {
    const port = s === 0 && e === 0 ? 20880 + changed : 20880;
    return `    - {address: 10.${(s >> 8) & 255}.${s & 255}.${e + 1}:${port}, labels: {version: v${e % 2}}}`;
  }).join('\n');
  return `apiVersion: dubbo-mesh.io/v1alpha1\nkind: DubboService\nmetadata: {name: app-${s}}\nspec:\n  interfaces: [${ifaces}]\n  endpoints:\n${eps}\n`;
}

/** The whole config in one file: every DubboService as one YAML document. */
function oneFileYaml(changed: number): string {
  return Array.from({ length: services }, (_, s) => serviceYaml(s, s === 0 ? changed : 0)).join('---\n');
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-push-'));
  const configPath = oneFile ? path.join(dir, 'mesh.yaml') : dir;
  if (oneFile) await writeFile(configPath, oneFileYaml(0));
  else for (let s = 0; s < services; s++) await writeFile(path.join(dir, `app-${s}.yaml`), serviceYaml(s, 0));
  let child: ChildProcess | undefined;
  const clients: grpc.Client[] = [];
  try {
    const controlPlane = startControlPlaneProcess(configPath);
    child = controlPlane.child;
    const { logLine } = controlPlane;
    const startedAt = Date.now();
    const ready = await logLine((l) => l.msg === 'control plane ready');
    const startSeconds = (Date.now() - startedAt) / 1000;

    const proxySet = await connectSimulatedProxies(ready.grpc as string, proxies, mode, clients);
    const sims = proxySet.sims;
    const initialBytes = sims[0]!.bytes;
    // The floor: the slowest /healthz answer over a second with nothing changing (on a loaded
    // machine this is far from 0, and no change can be measured below it).
    const idleProbe = probeHealth(ready.admin as string);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const idleHealthzMaxMs = (await idleProbe.stop()).maxMs;
    const rows: Array<Record<string, number>> = [];
    for (let change = 1; change <= changes; change++) {
      const logsBefore = controlPlane.lines;
      const arrivals: number[] = [];
      const published = logLine((l) => l.msg === 'published a snapshot', logsBefore);
      // The new text is made before the clock starts: the benchmark process's own work must
      // not show up as the control plane's latency.
      const text = oneFile ? oneFileYaml(change) : serviceYaml(0, change);
      const t0 = performance.now();
      const t0Wall = Date.now();
      let version = '';
      const allArrived = new Promise<void>((resolve) => {
        for (const sim of sims) {
          sim.onVersion = (v) => {
            if (v !== version && version !== '') return;
            arrivals.push(performance.now() - t0);
            sim.onVersion = undefined;
            if (arrivals.length === sims.length) resolve();
          };
        }
      });
      await eventLoopMaxMs(ready.admin as string); // resets the control plane's maximum
      const health = probeHealth(ready.admin as string);
      const cpuBefore = cpuSeconds(child.pid!);
      const endedBefore = proxySet.streamsEnded();
      await writeFile(oneFile ? configPath : path.join(dir, 'app-0.yaml'), text);
      const publishLine = await published;
      version = publishLine.version as string;
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
        pushP50Ms: percentile(arrivals, 0.5) - publishMs,
        pushP99Ms: percentile(arrivals, 0.99) - publishMs,
        bytesPerPush: sims[0]!.bytes,
        controlPlaneRssMiB: rssMiB(child.pid!),
        controlPlaneCpuSeconds: cpuSeconds(child.pid!) - cpuBefore,
        healthzMaxMs,
        loopMaxMs,
        streamsEnded: proxySet.streamsEnded() - endedBefore,
      });
    }
    const summary = {
      mode: values.mode,
      layout: values.layout,
      initialBytes,
      idleHealthzMaxMs,
      proxies,
      serviceKeys: services * interfaces,
      endpoints: services * endpoints,
      startSeconds,
      rows,
    };
    if (values.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    else {
      console.log(
        `Node ${process.version}; ${values.mode} streams; ${proxies} simulated proxies, ${services * interfaces} service keys, ${services * endpoints} endpoints (${services} DubboServices ${oneFile ? 'in one file' : 'one per file'}); control plane up with its first snapshot in ${startSeconds.toFixed(1)} s; first response ${initialBytes} bytes; /healthz max over 1 s idle ${idleHealthzMaxMs.toFixed(0)} ms`,
      );
      console.log(
        'change  file→published ms  →all p50 ms  →all p99 ms  →all max ms  publish→p50 ms  publish→p99 ms  bytes/push  CP RSS MiB  CP CPU s  /healthz max ms  CP loop max ms  streams ended',
      );
      for (const r of rows) {
        console.log(
          `${String(r.change).padStart(6)} ${r.publishMs!.toFixed(0).padStart(17)} ${r.p50Ms!.toFixed(0).padStart(12)} ${r.p99Ms!.toFixed(0).padStart(12)} ${r.maxMs!.toFixed(0).padStart(12)} ${r.pushP50Ms!.toFixed(0).padStart(15)} ${r.pushP99Ms!.toFixed(0).padStart(15)} ${String(r.bytesPerPush).padStart(11)} ${r.controlPlaneRssMiB!.toFixed(0).padStart(11)} ${r.controlPlaneCpuSeconds!.toFixed(2).padStart(9)} ${r.healthzMaxMs!.toFixed(0).padStart(16)} ${r.loopMaxMs!.toFixed(0).padStart(15)} ${String(r.streamsEnded).padStart(14)}`,
        );
      }
    }
  } finally {
    for (const client of clients) client.close();
    child?.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
