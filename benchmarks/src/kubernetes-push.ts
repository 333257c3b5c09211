// The Kubernetes source at scale (issue #11): the real `dubbo-mesh control-plane --kubernetes`
// reading a cluster of S Services with a DubboService each, P pods in EndpointSlices, and a
// Deployment of R pods, while N simulated proxies hold real gRPC discovery streams.
//
//   npm run bench:kubernetes -- [--services 2000] [--pods 10000] [--proxies 1000] [--flips 20] [--rolling 100]
//                               [--step-ms 20] [--mode delta|sotw] [--timeout 300] [--cpu-prof DIR] [--json]
//
// The API server is test-support's fake (real HTTP, list and watch as client-node uses them),
// in a process of its own, seeded there from the flags. Every change during the run is made
// over HTTP as the cluster's controllers make it (PUT of a whole EndpointSlice on its
// resourceVersion, POST and DELETE of Pods, merge-PATCH of a Pod's status). Measured:
// - initial sync: from spawning the control plane to its `control plane ready` line (its
//   first snapshot, built from everything listed), with that snapshot's counts; then the
//   proxies connect and everyone ACKs it;
// - readiness flips: one endpoint's `ready` in its slice, false and true in turn (each on
//   another Service, so each flip is a new snapshot version), from the API server's answer
//   to each proxy's ACK of the new version;
// - a rolling restart of the Deployment, each pod in turn: endpoint terminating, pod deleted
//   and its endpoint removed, a new pod (new name, new IP) created and its endpoint added not
//   ready, then ready — paced as a controller writes (`--step-ms` between steps), never
//   waiting for proxies; then snapshots published, pushes and bytes per proxy, and the time
//   until every proxy holds the final version;
// - the control plane's RSS and CPU time (from /proc), the fake API server's RSS.
// The final state is checked — every Service's endpoints in the snapshot in force are exactly
// its ready pods, the Deployment's are exactly the new pods — and the run exits 1 when it is
// wrong (or a flip did not make a new version, or a proxy never got it).
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type * as grpc from '@grpc/grpc-js';
import { EndpointSliceWriter } from './endpoint-slice-writer.js';
import { KubeApiClient, kubePaths } from './kube-api-client.js';
import {
  NAMESPACE,
  ROLLING_SERVICE,
  SIDECAR_PORT,
  clusterPlan,
  plannedPod,
  podIp,
  podObject,
  podStatus,
  sliceEndpoint,
  suffix,
  type PlannedPod,
} from './kube-bench-cluster.js';
import { recordArrivals } from './proxy-arrivals.js';
import { killChildren, spawnLineChild, stopChild, type LineChild } from './line-child.js';
import { adminJson, metric } from './admin-client.js';
import { cpuSeconds, peakRssMiB, rssMiB } from './processes.js';
import { connectSimulatedProxies, type DiscoveryMode, type SimulatedProxies } from './simulated-proxies.js';

const { values } = parseArgs({
  options: {
    services: { type: 'string', default: '2000' },
    pods: { type: 'string', default: '10000' },
    proxies: { type: 'string', default: '1000' },
    flips: { type: 'string', default: '20' },
    rolling: { type: 'string', default: '100' },
    'step-ms': { type: 'string', default: '20' },
    mode: { type: 'string', default: 'delta' },
    timeout: { type: 'string', default: '300' },
    'cpu-prof': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const services = Number(values.services);
const pods = Number(values.pods);
const proxies = Number(values.proxies);
const flips = Number(values.flips);
const rolling = Number(values.rolling);
const stepMs = Number(values['step-ms']);
const timeoutMs = Number(values.timeout) * 1000;
const mode: DiscoveryMode = values.mode === 'sotw' ? 'StreamSnapshots' : 'DeltaSnapshots';
for (const [flag, value] of Object.entries({ services, pods, proxies, flips, rolling, 'step-ms': stepMs, timeout: timeoutMs })) {
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${flag} must be a whole number, got ${String(values[flag as keyof typeof values])}`);
}
if (services < 1 || proxies < 1 || rolling < 1) throw new Error('--services, --proxies and --rolling must be at least 1');
if (flips > services || pods < services) throw new Error('--flips may not exceed --services, and every service needs a pod (--pods ≥ --services)');
if (values.mode !== 'delta' && values.mode !== 'sotw') throw new Error(`--mode must be delta or sotw, got ${values.mode}`);

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.resolve(here, '../../packages/cli/bin/dubbo-mesh.js');
/** The control plane's namespace (its Lease) and name, as the downward API gives them. */
const CONTROL_PLANE_ENV = { POD_NAMESPACE: 'dubbo-mesh', POD_NAME: 'bench-control-plane' };
/** An endpoint of a DubboService in a snapshot, as the admin API shows it. */
type SnapshotEndpoint = { address: string; labels?: Record<string, string> };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

function sortedNumbers(values: Iterable<number>): number[] {
  return [...values].sort((a, b) => a - b);
}

/** This process's own CPU time (the simulated proxies' share of the machine), in seconds. */
function benchCpuSeconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

/** Each DubboService of the snapshot in force for `node`, by name, with its endpoint addresses and labels. */
async function snapshotEndpoints(admin: string, node: string): Promise<{ version: string; services: Map<string, SnapshotEndpoint[]> }> {
  const snapshot = await adminJson<{ version: string; resources: Array<Record<string, unknown>> }>(admin, `/api/v1/snapshots/${node}`);
  const out = new Map<string, SnapshotEndpoint[]>();
  for (const resource of snapshot.resources) {
    if (resource.kind !== 'DubboService') continue;
    const metadata = resource.metadata as { name?: string } | undefined;
    const spec = resource.spec as { endpoints?: SnapshotEndpoint[] } | undefined;
    out.set(metadata?.name ?? String(resource.name), spec?.endpoints ?? []);
  }
  return { version: snapshot.version, services: out };
}

/** Differences between a service's endpoints in the snapshot and its ready pods (empty: equal). */
function endpointDifferences(service: string, actual: readonly SnapshotEndpoint[] | undefined, ready: ReadonlyMap<string, PlannedPod>): string[] {
  if (actual === undefined) return [`${service}: not in the snapshot`];
  const wanted = new Map([...ready.values()].map((pod) => [`${pod.ip}:${SIDECAR_PORT}`, pod]));
  const problems: string[] = [];
  const sorted = (labels: Readonly<Record<string, string>> | undefined) => JSON.stringify(Object.entries(labels ?? {}).sort());
  for (const endpoint of actual) {
    const pod = wanted.get(endpoint.address);
    if (pod === undefined) problems.push(`${service}: endpoint ${endpoint.address} is no ready pod's`);
    else if (sorted(endpoint.labels) !== sorted(pod.labels))
      problems.push(`${service}: endpoint ${endpoint.address} has labels ${JSON.stringify(endpoint.labels)}, its pod ${JSON.stringify(pod.labels)}`);
    wanted.delete(endpoint.address);
  }
  for (const address of wanted.keys()) problems.push(`${service}: ready pod ${address} is missing`);
  return problems;
}

async function main(): Promise<number> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-kube-bench-'));
  const kubeconfig = path.join(dir, 'kubeconfig');
  const cleanUp = () => {
    killChildren();
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', cleanUp);
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.once(signal, () => {
      cleanUp();
      process.exit(130);
    });
  const loadAtStart = loadavg()[0]!;
  const failures: string[] = [];
  const clients: grpc.Client[] = [];
  let proxySet: SimulatedProxies | undefined;
  let controlPlane: LineChild | undefined;
  const plan = clusterPlan({ services, pods, rolling, flips });
  /** Ready pods of every service, by name: what the snapshot in force must say at the end. */
  const readyPods = new Map(plan.map((service) => [service.name, new Map(service.pods.filter((p) => p.ready).map((p) => [p.name, p]))]));
  const expectedEndpoints = () => [...readyPods.values()].reduce((sum, ready) => sum + ready.size, 0);
  try {
    // The cluster.
    const clusterStarted = performance.now();
    const cluster = spawnLineChild([
      path.join(here, 'fake-cluster-process.js'),
      ...['--services', String(services), '--pods', String(pods), '--rolling', String(rolling), '--flips', String(flips), '--kubeconfig', kubeconfig],
    ]);
    const seeded = (await cluster.waitFor((r) => typeof r.url === 'string', 'the fake API server seeded', timeoutMs)) as {
      url: string;
      seedMs: number;
      objects: Record<string, number>;
      podJsonBytes: number;
    };
    const clusterSeconds = (performance.now() - clusterStarted) / 1000;
    const api = new KubeApiClient(seeded.url);

    // Initial sync: spawn → `control plane ready`.
    const nodeFlags = values['cpu-prof'] === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', path.resolve(values['cpu-prof'])];
    const spawnedAt = performance.now();
    controlPlane = spawnLineChild(
      [...nodeFlags, cli, 'control-plane', '--kubernetes', '--grpc', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--log-level', 'info'],
      { ...process.env, KUBECONFIG: kubeconfig, ...CONTROL_PLANE_ENV },
    );
    const cp = controlPlane;
    const pid = cp.process.pid!;
    const ready = await cp.waitFor((r) => r.msg === 'control plane ready', 'the control plane ready', timeoutMs);
    const syncSeconds = (performance.now() - spawnedAt) / 1000;
    const admin = ready.admin as string;
    const first = cp.records.find((r) => r.msg === 'published a snapshot' && r.version === ready.version) ?? {};
    const sync = {
      seconds: syncSeconds,
      version: ready.version as string,
      services: first.services as number,
      endpoints: first.endpoints as number,
      cpuSeconds: cpuSeconds(pid),
      rssMiB: rssMiB(pid),
      peakRssMiB: peakRssMiB(pid),
    };
    if (sync.services !== plan.length) failures.push(`initial snapshot: ${sync.services} services, expected ${plan.length}`);
    if (sync.endpoints !== expectedEndpoints()) failures.push(`initial snapshot: ${sync.endpoints} endpoints, expected ${expectedEndpoints()}`);

    // The proxies connect and ACK the first snapshot.
    const connectStarted = performance.now();
    const benchCpuBeforeConnect = benchCpuSeconds();
    proxySet = await connectSimulatedProxies(ready.grpc as string, proxies, mode, clients);
    const sims = proxySet.sims;
    const current = (await adminJson<{ version: string }>(admin, '/readyz')).version;
    const connecting = recordArrivals(sims);
    const connectArrivals = await connecting.until(current, 'the proxies to ACK the first snapshot', timeoutMs);
    connecting.stop();
    const connect = {
      seconds: (Math.max(...connectArrivals) - connectStarted) / 1000,
      firstResponseBytes: sims[0]!.totalBytes,
      rssMiB: rssMiB(pid),
      peakRssMiB: peakRssMiB(pid),
      cpuSeconds: cpuSeconds(pid) - sync.cpuSeconds,
      benchCpuSeconds: benchCpuSeconds() - benchCpuBeforeConnect,
    };

    // The leader writes every DubboService its Accepted status: the steady state starts after.
    const customResources = plan.length;
    let written = 0;
    let lastStatusLine: Record<string, unknown> = ready;
    for (let from = 0; written < customResources;) {
      lastStatusLine = await cp.waitFor((r) => r.msg === 'wrote custom resource statuses', 'the leader to write every status', timeoutMs, from);
      from = cp.records.indexOf(lastStatusLine) + 1;
      written += lastStatusLine.written as number;
    }
    // By the control plane's log times: the statuses were written while the proxies connected.
    const statuses = { written, sinceReadySeconds: ((lastStatusLine.time as number) - (ready.time as number)) / 1000 };
    const since = (at: number) => Math.round(at - spawnedAt);
    const phases: Record<string, number> = { ready: since(spawnedAt + syncSeconds * 1000), connected: since(connectStarted + connect.seconds * 1000) };
    await sleep(1000);

    // Readiness flips.
    const seenVersions = new Set([sync.version, current]);
    const flipRows: Array<{ flip: number; service: string; ready: boolean; publishMs: number; p50Ms: number; p99Ms: number; maxMs: number }> = [];
    const ackLatencies: number[] = [];
    const flipCpuBefore = cpuSeconds(pid);
    phases.flipsStarted = since(performance.now());
    for (let k = 0; k < flips; k++) {
      const service = plan[k]!;
      const pod = service.pods[0]!;
      const makeReady = k % 2 === 1; // odd services start with this pod not ready
      const writer = await EndpointSliceWriter.load(api, service.name);
      const from = cp.records.length;
      const arrivals = recordArrivals(sims);
      const t0Wall = Date.now();
      await writer.setConditions(pod.name, { ready: makeReady, serving: makeReady, terminating: false });
      const t0 = performance.now();
      const answeredWall = Date.now();
      if (makeReady) readyPods.get(service.name)!.set(pod.name, pod);
      else readyPods.get(service.name)!.delete(pod.name);
      const published = await cp.waitFor((r) => r.msg === 'published a snapshot', `flip ${k + 1} published`, timeoutMs, from);
      const version = published.version as string;
      if (seenVersions.has(version)) failures.push(`flip ${k + 1}: version ${version} is not new`);
      seenVersions.add(version);
      if (published.endpoints !== expectedEndpoints())
        failures.push(`flip ${k + 1}: ${String(published.endpoints)} endpoints, expected ${expectedEndpoints()}`);
      const times = (await arrivals.until(version, `flip ${k + 1}`, timeoutMs)).map((t) => t - t0);
      arrivals.stop();
      ackLatencies.push(...times);
      const sorted = sortedNumbers(times);
      flipRows.push({
        flip: k + 1,
        service: service.name,
        ready: makeReady,
        // The log's time is the control plane's wall clock; the request's round trip is split in half.
        publishMs: (published.time as number) - (t0Wall + answeredWall) / 2,
        p50Ms: percentile(sorted, 0.5),
        p99Ms: percentile(sorted, 0.99),
        maxMs: sorted[sorted.length - 1]!,
      });
      await sleep(100);
    }
    phases.flipsEnded = since(performance.now());
    const ackSorted = sortedNumbers(ackLatencies);
    const allSorted = sortedNumbers(flipRows.map((r) => r.maxMs));
    const flipSummary = {
      ackP50Ms: flips === 0 ? NaN : percentile(ackSorted, 0.5),
      ackP99Ms: flips === 0 ? NaN : percentile(ackSorted, 0.99),
      allAckedP50Ms: flips === 0 ? NaN : percentile(allSorted, 0.5),
      allAckedP99Ms: flips === 0 ? NaN : percentile(allSorted, 0.99),
      allAckedMaxMs: flips === 0 ? NaN : allSorted[allSorted.length - 1]!,
      cpuSeconds: cpuSeconds(pid) - flipCpuBefore,
      rssMiB: rssMiB(pid),
      peakRssMiB: peakRssMiB(pid),
    };

    // The rolling restart, as the Deployment, ReplicaSet, kubelet and EndpointSlice controllers write it.
    const deployment = plan[plan.length - 1]!;
    const newHash = suffix(`${ROLLING_SERVICE}/restarted`, 10);
    const slices = await EndpointSliceWriter.load(api, ROLLING_SERVICE);
    const rollingReady = readyPods.get(ROLLING_SERVICE)!;
    const before = sims.map((sim) => ({ responses: sim.responses, bytes: sim.totalBytes }));
    const snapshotsBefore = await metric(admin, 'dubbo_mesh_cp_snapshots_total');
    const publishedLinesBefore = cp.records.filter((r) => r.msg === 'published a snapshot').length;
    const rollingCpuBefore = cpuSeconds(pid);
    const writesBefore = api.writes;
    const rollingArrivals = recordArrivals(sims);
    const rollingStarted = performance.now();
    phases.rollingStarted = since(rollingStarted);
    for (const [i, old] of deployment.pods.entries()) {
      const fresh = plannedPod(ROLLING_SERVICE, newHash, podIp(200, i), i, true);
      // The pod is deleted: its endpoint is terminating (no longer ready).
      await slices.setConditions(old.name, { ready: false, serving: true, terminating: true });
      rollingReady.delete(old.name);
      await sleep(stepMs);
      // It is gone: the endpoint leaves the slice.
      await api.delete(kubePaths.pod(NAMESPACE, old.name));
      await slices.remove(old.name);
      await sleep(stepMs);
      // Its replacement is created, scheduled and started, not ready yet.
      await api.create(kubePaths.pods(NAMESPACE), podObject({ ...deployment, hash: newHash }, fresh, false));
      await api.mergePatch(kubePaths.podStatus(NAMESPACE, fresh.name), { status: podStatus({ ...fresh, ready: false }) });
      await slices.add(sliceEndpoint({ pod: fresh, ready: false, terminating: false }));
      await sleep(stepMs);
      // Its readiness probe passes.
      await api.mergePatch(kubePaths.podStatus(NAMESPACE, fresh.name), { status: podStatus(fresh) });
      await slices.setConditions(fresh.name, { ready: true, serving: true, terminating: false });
      rollingReady.set(fresh.name, fresh);
      if (i < deployment.pods.length - 1) await sleep(stepMs);
    }
    const lastAnswer = performance.now();
    // The final version: the snapshot in force once the Deployment's endpoints are exactly the new pods.
    let finalVersion: string | undefined;
    for (const deadline = performance.now() + timeoutMs; finalVersion === undefined;) {
      const { version, services: inForce } = await snapshotEndpoints(admin, sims[0]!.id);
      if (endpointDifferences(ROLLING_SERVICE, inForce.get(ROLLING_SERVICE), rollingReady).length === 0) finalVersion = version;
      else if (performance.now() > deadline) {
        failures.push(...endpointDifferences(ROLLING_SERVICE, inForce.get(ROLLING_SERVICE), rollingReady).slice(0, 10));
        throw new Error(`the rolling restart's final state never reached the snapshot in force within ${timeoutMs} ms`);
      } else await sleep(100);
    }
    const finalArrivals = await rollingArrivals.until(finalVersion, 'the rolling restart', timeoutMs);
    rollingArrivals.stop();
    const pushes = sims.map((sim, i) => sim.responses - before[i]!.responses);
    const bytes = sims.map((sim, i) => sim.totalBytes - before[i]!.bytes);
    const allFinal = Math.max(...finalArrivals);
    phases.rollingWritten = since(lastAnswer);
    phases.rollingConverged = since(allFinal);
    const rollingSummary = {
      pods: deployment.pods.length,
      apiWrites: api.writes - writesBefore,
      writeSeconds: (lastAnswer - rollingStarted) / 1000,
      snapshotsPublished: (await metric(admin, 'dubbo_mesh_cp_snapshots_total')) - snapshotsBefore,
      publishedLogLines: cp.records.filter((r) => r.msg === 'published a snapshot').length - publishedLinesBefore,
      pushesPerProxyMean: pushes.reduce((a, b) => a + b, 0) / pushes.length,
      pushesPerProxyMax: Math.max(...pushes),
      pushesPerProxyMin: Math.min(...pushes),
      bytesPerProxyMean: bytes.reduce((a, b) => a + b, 0) / bytes.length,
      bytesPerProxyMax: Math.max(...bytes),
      allFinalSeconds: (allFinal - rollingStarted) / 1000,
      afterLastWriteMs: allFinal - lastAnswer,
      cpuSeconds: cpuSeconds(pid) - rollingCpuBefore,
    };

    // The whole final state: every service's endpoints are exactly its ready pods.
    const final = await snapshotEndpoints(admin, sims[0]!.id);
    if (final.version !== finalVersion) failures.push(`a snapshot ${final.version} was published after the final version ${finalVersion} with nothing changed`);
    for (const service of plan) failures.push(...endpointDifferences(service.name, final.services.get(service.name), readyPods.get(service.name)!));
    if (final.services.size !== plan.length) failures.push(`the snapshot has ${final.services.size} DubboServices, expected ${plan.length}`);
    const inForce = await adminJson<Array<{ node: string; version: string }>>(admin, '/api/v1/snapshots');
    const behind = sims.filter((sim) => sim.version !== final.version).length;
    if (behind > 0) failures.push(`${behind} proxies do not hold the final version`);
    const end = {
      controlPlaneRssMiB: rssMiB(pid),
      controlPlanePeakRssMiB: peakRssMiB(pid),
      controlPlaneCpuSeconds: cpuSeconds(pid),
      heapUsedMiB: (await metric(admin, 'nodejs_heap_size_used_bytes')) / 2 ** 20,
      apiServerRssMiB: rssMiB(cluster.process.pid!),
      apiServerPeakRssMiB: peakRssMiB(cluster.process.pid!),
      benchCpuSeconds: benchCpuSeconds(),
      streamsEnded: proxySet.streamsEnded(),
      nodesInCache: inForce.length,
    };
    if (end.streamsEnded > 0) failures.push(`${end.streamsEnded} discovery streams ended during the run`);

    const summary = {
      node: process.version,
      loadAverage: { start: loadAtStart, end: loadavg()[0]! },
      mode: values.mode,
      services,
      pods,
      proxies,
      flips,
      rolling,
      stepMs,
      cluster: { seconds: clusterSeconds, seedMs: seeded.seedMs, objects: seeded.objects, podJsonBytes: seeded.podJsonBytes },
      sync,
      connect,
      statuses,
      flipRows,
      flipSummary,
      restart: rollingSummary,
      end,
      /** Milliseconds from spawning the control plane (to read a `--cpu-prof` profile by phase). */
      phases,
      targets: { ackP99Within1s: flipSummary.ackP99Ms <= 1000, rssWithin1GiB: end.controlPlanePeakRssMiB <= 1024 },
      failures,
    };
    if (values['cpu-prof'] !== undefined) await stopChild(cp, 30_000);
    if (values.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    else printTable(summary);
    return failures.length === 0 ? 0 : 1;
  } catch (error) {
    failures.push(error instanceof Error ? error.message : String(error));
    for (const failure of failures) console.error(`FAIL: ${failure}`);
    return 1;
  } finally {
    proxySet?.close();
    for (const client of clients) client.close();
    if (controlPlane !== undefined) await stopChild(controlPlane, values['cpu-prof'] === undefined ? 0 : 30_000);
    cleanUp();
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function printTable(s: any): void {
  const f = (value: number, digits = 0) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
  const mib = (bytes: number) => (bytes < 2 ** 20 ? `${f(bytes / 1024, 1)} KiB` : `${f(bytes / 2 ** 20, 2)} MiB`);
  console.log(
    `Node ${s.node}; ${s.mode} streams; ${s.services} Services with a DubboService + 1 Deployment of ${s.rolling} pods; ${s.pods + s.rolling} pods in EndpointSlices; ${s.proxies} simulated proxies`,
  );
  console.log(
    `cluster      fake API server seeded in ${f(s.cluster.seedMs / 1000, 1)} s (${Object.entries(s.cluster.objects as Record<string, number>)
      .map(([k, v]) => `${v} ${k}`)
      .join(', ')}; a pod is ${s.cluster.podJsonBytes} bytes of JSON)`,
  );
  console.log(
    `sync         spawn → control plane ready ${f(s.sync.seconds, 1)} s: ${s.sync.services} services, ${s.sync.endpoints} endpoints; CP CPU ${f(s.sync.cpuSeconds, 1)} s, RSS ${f(s.sync.rssMiB)} MiB (peak ${f(s.sync.peakRssMiB)})`,
  );
  console.log(
    `connect      ${s.proxies} proxies connected and ACKed in ${f(s.connect.seconds, 1)} s (first response ${mib(s.connect.firstResponseBytes)}); CP CPU ${f(s.connect.cpuSeconds, 1)} s, RSS ${f(s.connect.rssMiB)} MiB (peak ${f(s.connect.peakRssMiB)}); the proxies' own CPU ${f(s.connect.benchCpuSeconds, 1)} s`,
  );
  console.log(`statuses     the leader wrote ${s.statuses.written} Accepted conditions, done ${f(s.statuses.sinceReadySeconds, 1)} s after ready`);
  console.log('flip  service        ready  →published ms  ACK p50 ms  ACK p99 ms  all ACKed ms');
  for (const r of s.flipRows) {
    console.log(
      `${String(r.flip).padStart(4)}  ${r.service.padEnd(13)}  ${String(r.ready).padEnd(5)}  ${f(r.publishMs).padStart(13)}  ${f(r.p50Ms).padStart(10)}  ${f(r.p99Ms).padStart(10)}  ${f(r.maxMs).padStart(12)}`,
    );
  }
  const fl = s.flipSummary;
  console.log(
    `flips        ACK latency over ${s.proxies}×${s.flips}: p50 ${f(fl.ackP50Ms)} ms, p99 ${f(fl.ackP99Ms)} ms (target ≤ 1000: ${s.targets.ackP99Within1s ? 'met' : 'MISSED'}); all ACKed per flip: p50 ${f(fl.allAckedP50Ms)} ms, p99 ${f(fl.allAckedP99Ms)} ms, max ${f(fl.allAckedMaxMs)} ms; CP CPU ${f(fl.cpuSeconds, 2)} s, RSS ${f(fl.rssMiB)} MiB`,
  );
  const r = s.restart;
  console.log(
    `rolling      ${r.pods} pods replaced with ${r.apiWrites} API writes in ${f(r.writeSeconds, 1)} s (${s.stepMs} ms between steps); ${r.snapshotsPublished} snapshots published; per proxy ${f(r.pushesPerProxyMean, 1)} pushes (min ${r.pushesPerProxyMin}, max ${r.pushesPerProxyMax}), ${mib(r.bytesPerProxyMean)} (max ${mib(r.bytesPerProxyMax)}), ${mib(r.bytesPerProxyMean / Math.max(1, r.pushesPerProxyMean))} a push`,
  );
  console.log(
    `             every proxy at the final version ${f(r.allFinalSeconds, 1)} s after the first write, ${f(r.afterLastWriteMs)} ms after the last; CP CPU ${f(r.cpuSeconds, 1)} s`,
  );
  const e = s.end;
  console.log(
    `end          CP RSS ${f(e.controlPlaneRssMiB)} MiB, peak ${f(e.controlPlanePeakRssMiB)} MiB (target ≤ 1024: ${s.targets.rssWithin1GiB ? 'met' : 'MISSED'}), heap used ${f(e.heapUsedMiB)} MiB, CPU ${f(e.controlPlaneCpuSeconds, 1)} s in all; fake API server RSS ${f(e.apiServerRssMiB)} MiB (peak ${f(e.apiServerPeakRssMiB)}); streams ended ${e.streamsEnded}; load average ${f(s.loadAverage.start, 1)} → ${f(s.loadAverage.end, 1)}`,
  );
  console.log(s.failures.length === 0 ? 'final state   correct' : `final state   WRONG:\n  ${s.failures.join('\n  ')}`);
}

process.exitCode = await main();
