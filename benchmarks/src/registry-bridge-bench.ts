// The registry bridge at scale (issue #13): the real `dubbo-mesh control-plane --zookeeper`
// against a real ZooKeeper server, both ways.
//
//   npm run bench:registry -- [--providers 10000] [--interfaces 2000] [--interfaces-per-app 4] [--proxies 1000]
//                             [--changes 20] [--services 2000] [--session-timeout S] [--in-flight 256]
//                             [--timeout 300] [--json]
//
// Import: `--interfaces / --interfaces-per-app` Dubbo applications, each with its interfaces
// served by `--providers / --interfaces` instances, registered before the control plane starts
// as Java Dubbo 2.7 registers them (ephemeral nodes named by the encoded URL, `--in-flight`
// writes at once). Measured:
// - import: from spawning the control plane to its first snapshot holding every imported
//   service and endpoint (one DubboService per application, one endpoint per instance), the
//   ZooKeeper reads it took, the control plane's RSS and CPU then; then `--proxies` simulated
//   proxies open real gRPC discovery streams and all ACK it;
// - changes: one provider node added (a new instance of an application, one interface) or
//   removed (it again), in turn, each from ZooKeeper's answer to the write until every proxy
//   ACKed the new version, and the ZooKeeper reads each change cost the bridge.
// Export: a mesh config of `--services` DubboServices (one versioned interface, one endpoint
// each) with `--zookeeper-export endpoints`, on a ZooKeeper of its own. Measured: from spawning
// the control plane until every provider node exists (followed with watches); then ZooKeeper
// restarted empty, and the time until every node is back. The control plane takes its session
// as lost only after the session timeout (a server restarted empty refuses the old session's
// client without saying "expired"); the cli asks 30 s and has no flag for it, so
// `--session-timeout S` bounds it on the server's side (its `maxSessionTimeout`, which the
// server negotiates every client down to); without it the control plane's own 30 s holds.
// Every final state is checked (each imported service's endpoints and interfaces, each
// export's node and its URL) and the run exits 1 when one is wrong or a wait timed out.
import { rmSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type * as grpc from '@grpc/grpc-js';
import {
  MESH_MARKER_PARAMETER,
  MESH_MARKER_VALUE,
  REGISTRY_LABEL,
  REGISTRY_LABEL_VALUE,
  ZooKeeperSession,
  decodeNodeName,
  parseDubboUrl,
} from '@dubbo-mesh/registry-bridge';
import { startZooKeeper, type ZooKeeperServer } from '@dubbo-mesh/test-support';
import { killChildren, spawnLineChild, stopChild, type LineChild, type LogRecord } from './line-child.js';
import { adminJson, metric } from './admin-client.js';
import { cpuSeconds, peakRssMiB, rssMiB } from './processes.js';
import { percentile, recordArrivals } from './proxy-arrivals.js';
import {
  PROVIDER_PORT,
  SERVICE_VERSION,
  applicationName,
  exportConfigYaml,
  exportedService,
  instanceHost,
  interfaceName,
  plannedProviders,
  providerNodePath,
  providerUrl,
  providersFolder,
  registerProvider,
  registerProviders,
  type PlannedProvider,
  type RegistryPlan,
} from './registry-bench-plan.js';
import { connectSimulatedProxies, type SimulatedProxies } from './simulated-proxies.js';
import { watchFolders } from './zookeeper-folder-watch.js';

const { values } = parseArgs({
  options: {
    providers: { type: 'string', default: '10000' },
    interfaces: { type: 'string', default: '2000' },
    'interfaces-per-app': { type: 'string', default: '4' },
    proxies: { type: 'string', default: '1000' },
    changes: { type: 'string', default: '20' },
    services: { type: 'string', default: '2000' },
    'session-timeout': { type: 'string' },
    'in-flight': { type: 'string', default: '256' },
    timeout: { type: 'string', default: '300' },
    json: { type: 'boolean', default: false },
  },
});
const providers = Number(values.providers);
const interfaces = Number(values.interfaces);
const interfacesPerApp = Number(values['interfaces-per-app']);
const proxies = Number(values.proxies);
const changes = Number(values.changes);
const services = Number(values.services);
const inFlight = Number(values['in-flight']);
const timeoutMs = Number(values.timeout) * 1000;
const sessionTimeoutMs = values['session-timeout'] === undefined ? undefined : Number(values['session-timeout']) * 1000;
for (const [flag, value] of Object.entries({
  providers,
  interfaces,
  'interfaces-per-app': interfacesPerApp,
  proxies,
  changes,
  services,
  'in-flight': inFlight,
  timeout: timeoutMs,
  'session-timeout': sessionTimeoutMs ?? 0,
})) {
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${flag} must be a whole number, got ${String(values[flag as keyof typeof values])}`);
}
/** Added instances take host number 200: the planned ones must stay below. */
const ADDED_INSTANCE = 199;
if (providers > 0) {
  if (interfacesPerApp < 1 || interfaces % interfacesPerApp !== 0)
    throw new Error('--interfaces must be a multiple of --interfaces-per-app (each application has that many)');
  if (providers % interfaces !== 0 || providers / interfaces < 1 || providers / interfaces >= ADDED_INSTANCE)
    throw new Error(`--providers must be --interfaces × N instances, N from 1 to ${ADDED_INSTANCE - 1}`);
  if (proxies < 1 || inFlight < 1) throw new Error('--proxies and --in-flight must be at least 1');
}
if (sessionTimeoutMs !== undefined && sessionTimeoutMs < 1000) throw new Error('--session-timeout is in seconds, at least 1');
const plan: RegistryPlan = {
  applications: interfaces / interfacesPerApp,
  interfacesPerApplication: interfacesPerApp,
  instancesPerApplication: providers / Math.max(1, interfaces),
};

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.resolve(here, '../../packages/cli/bin/dubbo-mesh.js');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const sorted = (numbers: Iterable<number>) => [...numbers].sort((a, b) => a - b);
/** `performance.now()` as a wall-clock time (the control plane's log times are wall clock). */
const wallOffset = Date.now() - performance.now();
const wallOf = (at: number) => at + wallOffset;

/** The `zookeeper` source's details in `GET /api/v1/sources`. */
interface BridgeDetails {
  providers?: number;
  interfaces?: number;
  services?: number;
  endpoints?: number;
  skipped?: Record<string, number>;
  relists?: number;
  emits?: number;
  export?: { wanted?: number; written?: number; conflicts?: number; errors?: number; leading?: boolean; lastError?: string };
  zookeeper: { reads: number; writes: number; sessions?: number; expiries?: number; sessionTimeoutMs?: number; state?: string };
}

async function bridgeDetails(admin: string): Promise<BridgeDetails> {
  const sources = await adminJson<Array<{ name: string; state: string; details?: BridgeDetails }>>(admin, '/api/v1/sources');
  const source = sources.find((s) => s.name === 'zookeeper');
  if (source?.details === undefined) throw new Error(`GET /api/v1/sources has no zookeeper source with details: ${JSON.stringify(sources.map((s) => s.name))}`);
  return source.details;
}

/** Seconds from `sinceWall` to the export's `leading` log line from record `from` on (NaN when not logged). */
function leadingAt(child: LineChild, from: number, sinceWall: number): number {
  const line = child.records.slice(from).find((r) => r.msg === 'ZooKeeper export: leading, writing every export');
  return line === undefined ? NaN : ((line.time as number) - sinceWall) / 1000;
}

/** Polls the export status until everything wanted is written; resolves with when it was seen so. */
async function exportSettled(admin: string, what: string): Promise<number> {
  for (const deadline = performance.now() + timeoutMs; ;) {
    const status = (await bridgeDetails(admin)).export;
    if (status?.wanted !== undefined && status.wanted > 0 && status.written === status.wanted) return performance.now();
    if (performance.now() > deadline) throw new Error(`${what}: the export status never settled within ${timeoutMs} ms: ${JSON.stringify(status)}`);
    await sleep(100);
  }
}

/** The control plane's resource use now, from /proc. */
function usage(pid: number): { cpuSeconds: number; rssMiB: number; peakRssMiB: number } {
  return { cpuSeconds: cpuSeconds(pid), rssMiB: rssMiB(pid), peakRssMiB: peakRssMiB(pid) };
}

/** Spawn `dubbo-mesh control-plane ARGS` on free ports; resolves with its `control plane ready` line and when it came. */
async function spawnControlPlane(
  args: string[],
): Promise<{ child: LineChild; spawnedAt: number; ready: LogRecord; readyAt: number; admin: string; grpc: string }> {
  const spawnedAt = performance.now();
  const child = spawnLineChild([cli, 'control-plane', ...args, '--grpc', '127.0.0.1:0', '--admin', '127.0.0.1:0', '--log-level', 'info']);
  const ready = await child.waitFor((r) => r.msg === 'control plane ready', 'the control plane ready', timeoutMs);
  return { child, spawnedAt, ready, readyAt: performance.now(), admin: ready.admin as string, grpc: ready.grpc as string };
}

/** What the benchmark's registry holds: for each application, each instance address and the interfaces it provides. */
type RegistryModel = Map<number, Map<string, Set<number>>>;

/** An imported DubboService as the admin API shows it. */
interface ImportedServiceJson {
  metadata: { name: string; namespace?: string };
  spec: {
    interfaces: Array<string | { interface: string; group?: string; version?: string }>;
    endpoints?: Array<{
      address: string;
      labels?: Record<string, string>;
      weight?: number;
      interfaces?: Array<string | { interface: string; group?: string; version?: string }>;
    }>;
  };
}

const keyOf = (key: string | { interface: string; group?: string; version?: string }) =>
  typeof key === 'string' ? `${key}|*|*` : `${key.interface}|${key.group ?? '*'}|${key.version ?? '*'}`;

/** Service keys as one comparable string. */
const keyList = (keys: string[]) => [...keys].sort().join(',');

/** Differences between the imported services in force and the registry (empty: equal). */
function importDifferences(model: RegistryModel, imported: readonly ImportedServiceJson[]): string[] {
  const problems: string[] = [];
  const byName = new Map(imported.map((service) => [service.metadata.name, service]));
  if (imported.length !== model.size) problems.push(`${imported.length} DubboServices in force, expected ${model.size}`);
  for (const [a, instances] of model) {
    const name = applicationName(a);
    const service = byName.get(name);
    if (service === undefined) {
      problems.push(`${name}: not in the snapshot`);
      continue;
    }
    const wantedKeys = (ifaces: Iterable<number>) => keyList([...ifaces].map((j) => `${interfaceName(a, j)}||${SERVICE_VERSION}`));
    const allKeys = new Set([...instances.values()].flatMap((set) => [...set]));
    const serviceKeys = keyList(service.spec.interfaces.map(keyOf));
    if (serviceKeys !== wantedKeys(allKeys)) problems.push(`${name}: interfaces ${serviceKeys}, expected ${wantedKeys(allKeys)}`);
    const endpoints = new Map((service.spec.endpoints ?? []).map((endpoint) => [endpoint.address, endpoint]));
    for (const [address, ifaces] of instances) {
      const endpoint = endpoints.get(address);
      if (endpoint === undefined) {
        problems.push(`${name}: endpoint ${address} is missing`);
        continue;
      }
      endpoints.delete(address);
      const provides = endpoint.interfaces === undefined ? serviceKeys : keyList(endpoint.interfaces.map(keyOf));
      if (provides !== wantedKeys(ifaces)) problems.push(`${name}: endpoint ${address} provides ${provides}, expected ${wantedKeys(ifaces)}`);
      if (endpoint.labels?.[REGISTRY_LABEL] !== REGISTRY_LABEL_VALUE)
        problems.push(`${name}: endpoint ${address} has no ${REGISTRY_LABEL}: ${REGISTRY_LABEL_VALUE} label`);
      if (endpoint.labels?.timestamp !== undefined || endpoint.labels?.pid !== undefined) problems.push(`${name}: endpoint ${address} keeps volatile labels`);
      if (endpoint.weight !== undefined && endpoint.weight !== 100)
        problems.push(`${name}: endpoint ${address} has weight ${endpoint.weight} (warmed up long ago: 100)`);
    }
    for (const address of endpoints.keys()) problems.push(`${name}: endpoint ${address} is no registered instance's`);
  }
  return problems;
}

/** The import phase: register, import, connect the proxies, change providers one at a time. */
async function importPhase(failures: string[], clients: grpc.Client[]): Promise<Record<string, unknown>> {
  let server: ZooKeeperServer | undefined;
  let registrar: ZooKeeperSession | undefined;
  let controlPlane: LineChild | undefined;
  let proxySet: SimulatedProxies | undefined;
  try {
    server = await startZooKeeper();
    registrar = new ZooKeeperSession({ connect: server.connect });
    await registrar.start();
    const planned = plannedProviders(plan);
    const model: RegistryModel = new Map();
    for (const provider of planned) {
      const instances = model.get(provider.application) ?? model.set(provider.application, new Map()).get(provider.application)!;
      const address = `${provider.host}:${PROVIDER_PORT}`;
      (instances.get(address) ?? instances.set(address, new Set()).get(address)!).add(provider.iface);
    }
    const expectedEndpoints = () => [...model.values()].reduce((sum, instances) => sum + instances.size, 0);
    const registerStarted = performance.now();
    await registerProviders(registrar, planned, inFlight);
    const registration = { nodes: planned.length, seconds: (performance.now() - registerStarted) / 1000, inFlight };

    // Import: spawn → a snapshot holding every service and endpoint.
    const cp = await spawnControlPlane(['--zookeeper', server.connect]);
    controlPlane = cp.child;
    const pid = cp.child.process.pid!;
    const full = await cp.child.waitFor(
      (r) => r.msg === 'published a snapshot' && r.services === model.size && r.endpoints === expectedEndpoints(),
      'a snapshot with every imported provider',
      timeoutMs,
    );
    const importedAt = performance.now();
    const afterImport = usage(pid);
    const importDetails = await bridgeDetails(cp.admin);
    const imported = {
      seconds: (importedAt - cp.spawnedAt) / 1000,
      readySeconds: (cp.readyAt - cp.spawnedAt) / 1000,
      snapshotsBefore: cp.child.records.filter((r) => r.msg === 'published a snapshot').indexOf(full),
      services: full.services as number,
      endpoints: full.endpoints as number,
      providers: importDetails.providers,
      interfaces: importDetails.interfaces,
      zookeeperReads: importDetails.zookeeper.reads,
      heapUsedMiB: (await metric(cp.admin, 'nodejs_heap_size_used_bytes')) / 2 ** 20,
      ...afterImport,
    };
    failures.push(...importDifferences(model, await adminJson<ImportedServiceJson[]>(cp.admin, '/api/v1/services')).slice(0, 10));

    // The proxies connect and ACK the import.
    const benchCpuBefore = process.cpuUsage();
    const connectStarted = performance.now();
    proxySet = await connectSimulatedProxies(cp.grpc, proxies, 'DeltaSnapshots', clients);
    const sims = proxySet.sims;
    const current = (await adminJson<{ version: string }>(cp.admin, '/readyz')).version;
    const connecting = recordArrivals(sims);
    const connectArrivals = await connecting.until(current, 'the proxies to ACK the import', timeoutMs);
    connecting.stop();
    const benchCpu = process.cpuUsage(benchCpuBefore);
    const afterConnect = usage(pid);
    const connect = {
      seconds: (Math.max(...connectArrivals) - connectStarted) / 1000,
      firstResponseBytes: sims[0]!.totalBytes,
      rssMiB: afterConnect.rssMiB,
      peakRssMiB: afterConnect.peakRssMiB,
      cpuSeconds: afterConnect.cpuSeconds - afterImport.cpuSeconds,
      benchCpuSeconds: (benchCpu.user + benchCpu.system) / 1e6,
    };
    await sleep(1000);

    // One provider change at a time: a new instance of an application (one interface), then its removal.
    let previousVersion = current;
    const readsBefore = (await bridgeDetails(cp.admin)).zookeeper.reads;
    const changeCpuBefore = cpuSeconds(pid);
    const rows: Array<{ change: number; application: string; added: boolean; publishMs: number; p50Ms: number; p99Ms: number; maxMs: number }> = [];
    const latencies: number[] = [];
    let added: PlannedProvider | undefined;
    for (let k = 0; k < changes; k++) {
      const a = Math.floor(k / 2) % plan.applications;
      const adding = added === undefined;
      const application = applicationName(adding ? a : added!.application);
      const from = cp.child.records.length;
      const arrivals = recordArrivals(sims);
      const before = Date.now();
      if (adding) {
        const host = instanceHost(a, ADDED_INSTANCE);
        added = { application: a, iface: 0, host, path: providerNodePath(interfaceName(a, 0), providerUrl(a, 0, host, 4242)) };
        await registerProvider(registrar, added);
        model.get(a)!.set(`${host}:${PROVIDER_PORT}`, new Set([0]));
      } else {
        if (!(await registrar.remove(added!.path))) failures.push(`change ${k + 1}: the added provider node was gone already`);
        model.get(added!.application)!.delete(`${added!.host}:${PROVIDER_PORT}`);
        added = undefined;
      }
      const t0 = performance.now();
      // The write's round trip split in half, as the moment ZooKeeper applied it (wall clock, as the log's times).
      const writtenWall = (before + Date.now()) / 2;
      const published = await cp.child.waitFor((r) => r.msg === 'published a snapshot', `change ${k + 1} published`, timeoutMs, from);
      const version = published.version as string;
      // Versions name content: a removal undoing an add brings the version before it back, so only the one in force is compared.
      if (version === previousVersion) failures.push(`change ${k + 1}: published version ${version} is the one already in force`);
      previousVersion = version;
      if (published.endpoints !== expectedEndpoints())
        failures.push(`change ${k + 1}: ${String(published.endpoints)} endpoints, expected ${expectedEndpoints()}`);
      const times = sorted((await arrivals.until(version, `change ${k + 1}`, timeoutMs)).map((t) => t - t0));
      arrivals.stop();
      latencies.push(...times);
      rows.push({
        change: k + 1,
        application,
        added: adding,
        publishMs: (published.time as number) - writtenWall,
        p50Ms: percentile(times, 0.5),
        p99Ms: percentile(times, 0.99),
        maxMs: times[times.length - 1]!,
      });
      await sleep(100);
    }
    const readsAfter = (await bridgeDetails(cp.admin)).zookeeper.reads;
    const ackSorted = sorted(latencies);
    const allAcked = sorted(rows.map((row) => row.maxMs));
    const changeSummary = {
      ackP50Ms: percentile(ackSorted, 0.5),
      ackP99Ms: percentile(ackSorted, 0.99),
      allAckedP50Ms: percentile(allAcked, 0.5),
      allAckedP99Ms: percentile(allAcked, 0.99),
      allAckedMaxMs: allAcked.length === 0 ? NaN : allAcked[allAcked.length - 1]!,
      publishP50Ms: percentile(sorted(rows.map((row) => row.publishMs)), 0.5),
      zookeeperReads: readsAfter - readsBefore,
      readsPerChange: changes === 0 ? NaN : (readsAfter - readsBefore) / changes,
      cpuSeconds: cpuSeconds(pid) - changeCpuBefore,
    };

    // The final state.
    await sleep(500);
    const finalServices = await adminJson<ImportedServiceJson[]>(cp.admin, '/api/v1/services');
    failures.push(...importDifferences(model, finalServices).slice(0, 10));
    const finalVersion = (await adminJson<{ version: string }>(cp.admin, '/readyz')).version;
    const behind = sims.filter((sim) => sim.version !== finalVersion).length;
    if (behind > 0) failures.push(`${behind} proxies do not hold the final version ${finalVersion}`);
    if (proxySet.streamsEnded() > 0) failures.push(`${proxySet.streamsEnded()} discovery streams ended during the run`);
    const end = {
      ...usage(pid),
      heapUsedMiB: (await metric(cp.admin, 'nodejs_heap_size_used_bytes')) / 2 ** 20,
      streamsEnded: proxySet.streamsEnded(),
    };
    return { registration, import: imported, connect, changeRows: rows, changeLatency: changeSummary, end };
  } finally {
    proxySet?.close();
    if (controlPlane !== undefined) await stopChild(controlPlane, 5000);
    await registrar?.close();
    await server?.close();
  }
}

/** Whether an export folder's children hold the one provider node of service `s`, as the export writes it. */
function exportedNodeProblem(s: number, children: readonly string[]): string | undefined {
  const { name, address } = exportedService(s);
  if (children.length !== 1) return `${name}: ${children.length} provider nodes, expected 1`;
  let url;
  try {
    url = parseDubboUrl(decodeNodeName(children[0]!));
  } catch {
    url = undefined;
  }
  if (url === undefined) return `${name}: provider node ${children[0]} is no Dubbo URL`;
  const problems = [
    `${url.host}:${url.port}` === address ? '' : `address ${url.host}:${url.port}`,
    url.parameters.version === SERVICE_VERSION ? '' : `version ${url.parameters.version}`,
    url.parameters[MESH_MARKER_PARAMETER] === MESH_MARKER_VALUE ? '' : `no ${MESH_MARKER_PARAMETER}`,
    url.parameters.side === 'provider' ? '' : `side ${url.parameters.side}`,
  ].filter((problem) => problem !== '');
  return problems.length === 0 ? undefined : `${name}: its provider node has ${problems.join(', ')}`;
}

/** Every export folder checked once, in full. */
async function exportDifferences(session: ZooKeeperSession): Promise<string[]> {
  const problems: string[] = [];
  for (let s = 0; s < services; s++) {
    const listed = await session.getChildren(providersFolder(exportedService(s).iface));
    const problem = exportedNodeProblem(s, listed?.children ?? []);
    if (problem !== undefined) problems.push(problem);
  }
  return problems;
}

/** The export phase: spawn → every provider node written; ZooKeeper restarted empty → every node written again. */
async function exportPhase(failures: string[], dir: string): Promise<Record<string, unknown>> {
  let server: ZooKeeperServer | undefined;
  const sessions: ZooKeeperSession[] = [];
  let controlPlane: LineChild | undefined;
  const folders = Array.from({ length: services }, (_, s) => providersFolder(exportedService(s).iface));
  const index = new Map(folders.map((folder, s) => [folder, s]));
  const complete = (folder: string, children: readonly string[]) => exportedNodeProblem(index.get(folder)!, children) === undefined;
  const follow = async () => {
    const session = new ZooKeeperSession({ connect: server!.connect });
    sessions.push(session);
    await session.start();
    const watch = watchFolders(session, folders, complete);
    await watch.armed;
    return { session, watch };
  };
  try {
    server = await startZooKeeper(sessionTimeoutMs === undefined ? {} : { maxSessionTimeoutMs: sessionTimeoutMs });
    const config = path.join(dir, 'mesh.yaml');
    await writeFile(config, exportConfigYaml(services));
    const first = await follow();

    const cp = await spawnControlPlane(['--config', config, '--zookeeper', server.connect, '--zookeeper-export', 'endpoints']);
    controlPlane = cp.child;
    const pid = cp.child.process.pid!;
    const allWritten = await first.watch.whenAll('the exports written', timeoutMs);
    const settledAt = await exportSettled(cp.admin, 'the export');
    const afterExport = usage(pid);
    let details = await bridgeDetails(cp.admin);
    const exported = {
      seconds: (allWritten - cp.spawnedAt) / 1000,
      readySeconds: (cp.readyAt - cp.spawnedAt) / 1000,
      afterReadySeconds: (allWritten - cp.readyAt) / 1000,
      /** Until the export status said every node wanted (application-level instances, metadata, mappings too) was written (polled every 100 ms). */
      settledSeconds: (settledAt - cp.spawnedAt) / 1000,
      leadingSeconds: leadingAt(cp.child, 0, wallOf(cp.spawnedAt)),
      sessionTimeoutMs: details.zookeeper.sessionTimeoutMs,
      zookeeperReads: details.zookeeper.reads,
      zookeeperWrites: details.zookeeper.writes,
      status: details.export,
      ...afterExport,
    };
    first.watch.stop();
    failures.push(...(await exportDifferences(first.session)).slice(0, 10));
    await first.session.close();

    // ZooKeeper restarted empty: every session and node gone.
    const from = cp.child.records.length;
    const before = details.zookeeper;
    const stoppedAt = performance.now();
    await server.wipe();
    await server.start();
    const upAt = performance.now();
    const again = await follow();
    const allAgain = await again.watch.whenAll('the exports re-created', timeoutMs + (sessionTimeoutMs ?? 30_000));
    const settledAgain = await exportSettled(cp.admin, 'the re-created export');
    const started = cp.child.records.slice(from).find((r) => r.msg === 'ZooKeeper session started');
    details = await bridgeDetails(cp.admin);
    const recreate = {
      serverDownSeconds: (upAt - stoppedAt) / 1000,
      fromWipeSeconds: (allAgain - stoppedAt) / 1000,
      fromRestartSeconds: (allAgain - upAt) / 1000,
      settledFromWipeSeconds: (settledAgain - stoppedAt) / 1000,
      newSessionAfterWipeSeconds: started === undefined ? NaN : ((started.time as number) - wallOf(stoppedAt)) / 1000,
      fromNewSessionSeconds: started === undefined ? NaN : (wallOf(allAgain) - (started.time as number)) / 1000,
      sessionTimeoutMs: details.zookeeper.sessionTimeoutMs,
      expiries: (details.zookeeper.expiries ?? 0) - (before.expiries ?? 0),
      zookeeperReads: details.zookeeper.reads - before.reads,
      zookeeperWrites: details.zookeeper.writes - before.writes,
      leadingAfterSessionSeconds: started === undefined ? NaN : leadingAt(cp.child, from, started.time as number),
      status: details.export,
      ...usage(pid),
    };
    if (started === undefined) failures.push('after ZooKeeper restarted empty, the control plane logged no new session');
    again.watch.stop();
    failures.push(...(await exportDifferences(again.session)).slice(0, 10));
    return { export: exported, recreate };
  } finally {
    if (controlPlane !== undefined) await stopChild(controlPlane, 5000);
    for (const session of sessions) await session.close();
    await server?.close();
  }
}

async function main(): Promise<number> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-registry-bench-'));
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
  const failures: string[] = [];
  const clients: grpc.Client[] = [];
  const loadAtStart = loadavg();
  try {
    const importResult = providers > 0 ? await importPhase(failures, clients) : undefined;
    const exportResult = services > 0 ? await exportPhase(failures, dir) : undefined;
    const summary = {
      node: process.version,
      date: new Date().toISOString(),
      loadAverage: { start: loadAtStart, end: loadavg() },
      providers,
      interfaces,
      plan,
      proxies,
      changes,
      services,
      sessionTimeoutFlagMs: sessionTimeoutMs ?? null,
      ...importResult,
      ...exportResult,
      targets:
        importResult === undefined
          ? {}
          : {
              ackP99Within1s: (importResult.changeLatency as { ackP99Ms: number }).ackP99Ms <= 1000,
              allAckedP99Within1s: (importResult.changeLatency as { allAckedP99Ms: number }).allAckedP99Ms <= 1000,
            },
      failures,
    };
    if (values.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    else printTable(summary);
    return failures.length === 0 ? 0 : 1;
  } catch (error) {
    failures.push(error instanceof Error ? error.message : String(error));
    for (const failure of failures) console.error(`FAIL: ${failure}`);
    return 1;
  } finally {
    for (const client of clients) client.close();
    cleanUp();
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function printTable(s: any): void {
  const f = (value: number, digits = 0) => (typeof value === 'number' && Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
  const mib = (bytes: number) => (bytes < 2 ** 20 ? `${f(bytes / 1024, 1)} KiB` : `${f(bytes / 2 ** 20, 2)} MiB`);
  const load = (l: number[]) => l.map((x) => f(x, 2)).join(' ');
  console.log(`Node ${s.node}; ${s.date}; load average ${load(s.loadAverage.start)} → ${load(s.loadAverage.end)}`);
  if (s.import !== undefined) {
    const p = s.plan;
    console.log(
      `registry     ${s.providers} provider nodes over ${s.interfaces} interfaces (${p.applications} applications × ${p.interfacesPerApplication} interfaces × ${p.instancesPerApplication} instances), registered in ${f(s.registration.seconds, 1)} s with ${s.registration.inFlight} writes in flight`,
    );
    const i = s.import;
    console.log(
      `import       spawn → snapshot with every provider ${f(i.seconds, 2)} s (control plane ready at ${f(i.readySeconds, 2)} s): ${i.services} services, ${i.endpoints} endpoints, ${i.providers} providers of ${i.interfaces} interfaces; ${i.zookeeperReads} ZooKeeper reads`,
    );
    console.log(
      `             CP after import: RSS ${f(i.rssMiB)} MiB (peak ${f(i.peakRssMiB)}), heap used ${f(i.heapUsedMiB)} MiB, CPU ${f(i.cpuSeconds, 1)} s since spawn`,
    );
    const c = s.connect;
    console.log(
      `connect      ${s.proxies} proxies connected and ACKed in ${f(c.seconds, 1)} s (first response ${mib(c.firstResponseBytes)}); CP CPU ${f(c.cpuSeconds, 1)} s, RSS ${f(c.rssMiB)} MiB (peak ${f(c.peakRssMiB)}); the proxies' own CPU ${f(c.benchCpuSeconds, 1)} s`,
    );
    console.log('change  application   added  →published ms  ACK p50 ms  ACK p99 ms  all ACKed ms');
    for (const r of s.changeRows)
      console.log(
        `${String(r.change).padStart(6)}  ${r.application.padEnd(12)}  ${String(r.added).padEnd(5)}  ${f(r.publishMs).padStart(13)}  ${f(r.p50Ms).padStart(10)}  ${f(r.p99Ms).padStart(10)}  ${f(r.maxMs).padStart(12)}`,
      );
    const ch = s.changeLatency;
    console.log(
      `changes      ACK latency over ${s.proxies}×${s.changes}: p50 ${f(ch.ackP50Ms)} ms, p99 ${f(ch.ackP99Ms)} ms (target ≤ 1000: ${s.targets.ackP99Within1s ? 'met' : 'MISSED'}); all ACKed per change: p50 ${f(ch.allAckedP50Ms)} ms, p99 ${f(ch.allAckedP99Ms)} ms, max ${f(ch.allAckedMaxMs)} ms; publish p50 ${f(ch.publishP50Ms)} ms after the write`,
    );
    console.log(`             ZooKeeper reads per change ${f(ch.readsPerChange, 1)} (${ch.zookeeperReads} in all); CP CPU ${f(ch.cpuSeconds, 2)} s`);
    const e = s.end;
    console.log(
      `end          CP RSS ${f(e.rssMiB)} MiB (peak ${f(e.peakRssMiB)}), heap used ${f(e.heapUsedMiB)} MiB, CPU ${f(e.cpuSeconds, 1)} s in all; streams ended ${e.streamsEnded}`,
    );
  }
  if (s.export !== undefined) {
    const x = s.export;
    console.log(
      `export       ${s.services} DubboServices → spawn to every provider node in ZooKeeper ${f(x.seconds, 2)} s (ready at ${f(x.readySeconds, 2)} s, ${f(x.afterReadySeconds, 2)} s after); every node wanted (${x.status?.wanted}: with app-level instances, metadata, mappings) at ${f(x.settledSeconds, 2)} s; leading at ${f(x.leadingSeconds, 2)} s; ZooKeeper reads ${x.zookeeperReads}, writes ${x.zookeeperWrites}`,
    );
    console.log(`             CP RSS ${f(x.rssMiB)} MiB (peak ${f(x.peakRssMiB)}), CPU ${f(x.cpuSeconds, 1)} s; session timeout ${f(x.sessionTimeoutMs)} ms`);
    const r = s.recreate;
    console.log(
      `session loss ZooKeeper restarted empty (down ${f(r.serverDownSeconds, 1)} s): every node back ${f(r.fromWipeSeconds, 2)} s after the wipe, ${f(r.fromRestartSeconds, 2)} s after the server was up; new session ${f(r.newSessionAfterWipeSeconds, 2)} s after the wipe, provider nodes written ${f(r.fromNewSessionSeconds, 2)} s after it; every node wanted ${f(r.settledFromWipeSeconds, 2)} s after the wipe`,
    );
    console.log(
      `             leading ${f(r.leadingAfterSessionSeconds, 2)} s after the new session; ZooKeeper reads ${r.zookeeperReads}, writes ${r.zookeeperWrites}, expiries ${r.expiries}; CP RSS ${f(r.rssMiB)} MiB (peak ${f(r.peakRssMiB)})`,
    );
  }
  console.log(s.failures.length === 0 ? 'final state  correct' : `final state  WRONG:\n  ${s.failures.join('\n  ')}`);
}

process.exitCode = await main();
