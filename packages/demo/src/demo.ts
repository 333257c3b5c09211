import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ControlPlane, startControlPlaneAdmin, type Refusal } from '@dubbo-mesh/control-plane';
import { DiscoveryClient } from '@dubbo-mesh/discovery';
import { USER_SERVICE, makeUser, startDubboProvider, userValue, type DubboProvider } from '@dubbo-mesh/dubbo-provider';
import { DubboProxy } from '@dubbo-mesh/proxy';
import { DemoAdminListenError, DemoConfigInvalidError, DemoNoSnapshotError } from './errors.js';
import { TrafficLoop, percentile, type TrafficCounts } from './traffic-loop.js';

/** The file a user edits to shift the demo's traffic: in this package, found from here (not from the working directory). */
export const DEMO_TRAFFIC_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../examples/demo/traffic.yaml');

const INSTANCES = [
  { name: 'v1-a', version: 'v1' },
  { name: 'v1-b', version: 'v1' },
  { name: 'v2-a', version: 'v2' },
];

/** What the demo is run with. */
export interface DemoOptions {
  /** The control plane's admin API (port 0: any free port). */
  readonly admin: { readonly host: string; readonly port: number };
  /** Stop by itself after this long; without it the demo runs until `signal` aborts. */
  readonly durationMs?: number;
  /** Where the demo's lines go, one call per line. */
  readonly print: (line: string) => void;
  /** Aborting it ends the demo (Ctrl-C), also during start-up. */
  readonly signal?: AbortSignal;
  /** The traffic policy; {@link DEMO_TRAFFIC_FILE} by default. */
  readonly trafficFile?: string;
  /** How long the consumer's proxy may take to get its first snapshot; 10 s by default. */
  readonly firstSnapshotTimeoutMs?: number;
}

/** SPEC's summary of a demo run: its last line, as JSON. */
export interface DemoSummary {
  readonly requests: number;
  readonly errors: number;
  readonly bySubset: { readonly v1: number; readonly v2: number };
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** How a demo run ended: it ran its traffic (to its duration or until aborted), or it was aborted before it was up. */
export type DemoOutcome = { readonly kind: 'finished'; readonly summary: DemoSummary } | { readonly kind: 'interrupted' };

/** The DubboService of the demo's instances, as a registry would report it (their ports are only known at run time). */
function servicesYaml(addresses: ReadonlyArray<{ address: string; version: string }>, trafficFile: string): string {
  return `# Written by dubbo-mesh demo: the instances it started (edit ${trafficFile} instead).
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: user-provider}
spec:
  interfaces: [${USER_SERVICE}]
  endpoints:
${addresses.map((a) => `    - {address: ${a.address}, labels: {version: ${a.version}}}`).join('\n')}
`;
}

function line(counts: TrafficCounts): string {
  const subsets = Object.keys(counts.bySubset).sort();
  const share = subsets
    .map((s) => `${s} ${String(counts.bySubset[s]).padStart(5)} (${((counts.bySubset[s]! / Math.max(1, counts.requests)) * 100).toFixed(0).padStart(3)}%)`)
    .join('  ');
  return `${share || 'no answers yet'}  errors ${counts.errors}  p50 ${percentile(counts.latenciesMs, 0.5).toFixed(2)} ms  p99 ${percentile(counts.latenciesMs, 0.99).toFixed(2)} ms`;
}

/** A refused change as the demo prints it: what the control plane keeps, then every error. */
function refusedLine(refusal: Refusal, inForce: string | undefined): string {
  const from = refusal.source === undefined ? '' : ` from ${refusal.source}`;
  const keeps = inForce === undefined ? 'no snapshot has been published yet' : `snapshot ${inForce} stays in force`;
  return `!! refused a config change${from}; ${keeps}:\n   ${refusal.errors.join('\n   ')}`;
}

/**
 * The local mesh demo (`dubbo-mesh demo`, what `npm start` runs): a control plane on the
 * traffic file and the instances it starts, three UserService providers (v1 × 2, v2 × 1)
 * each behind an inbound proxy, a consumer proxy subscribed to the control plane over gRPC,
 * and a traffic loop through it, printing per-subset counts every second and, as the control
 * plane and the consumer's discovery client report them, every snapshot published, refused,
 * applied or rejected. With `durationMs` it stops by itself; its last line is SPEC's JSON
 * summary. Start-up failures reject with {@link DemoConfigInvalidError},
 * {@link DemoAdminListenError} or {@link DemoNoSnapshotError}, after closing what was opened.
 */
export async function runDemo(options: DemoOptions): Promise<DemoOutcome> {
  const { admin, durationMs, print: say } = options;
  const trafficFile = options.trafficFile ?? DEMO_TRAFFIC_FILE;
  const firstSnapshotTimeoutMs = options.firstSnapshotTimeoutMs ?? 10_000;
  const started = performance.now();
  const cleanup: Array<() => Promise<void> | void> = [];
  const interrupted = new Promise<void>((resolve) => {
    if (options.signal?.aborted === true) resolve();
    else options.signal?.addEventListener('abort', () => resolve(), { once: true });
  });
  const dir = await mkdtemp(path.join(tmpdir(), 'dubbo-mesh-demo-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  try {
    // The providers, each behind its inbound proxy.
    const addresses: Array<{ address: string; version: string }> = [];
    for (const instance of INSTANCES) {
      const provider: DubboProvider = await startDubboProvider({
        services: { [USER_SERVICE]: { getUser: ([id]) => userValue({ ...makeUser(Number(id)), name: `${instance.name} (demo)` }) } },
      });
      cleanup.push(() => provider.close());
      const inbound = new DubboProxy({
        node: `demo-${instance.name}`,
        role: 'proxy',
        inbound: { host: '127.0.0.1', port: 0 },
        inboundTarget: { host: '127.0.0.1', port: provider.port },
      });
      await inbound.start();
      cleanup.push(() => inbound.stop(200).then(() => undefined));
      addresses.push({ address: `127.0.0.1:${inbound.addresses().inbound!.port}`, version: instance.version });
    }
    const servicesFile = path.join(dir, 'services.yaml');
    await writeFile(servicesFile, servicesYaml(addresses, trafficFile));

    // The control plane, on the instances and the traffic file; what it publishes and refuses is told as it happens.
    const controlPlane = new ControlPlane({ configPaths: [servicesFile, trafficFile] });
    controlPlane.on('published', (snapshot) => say(`== control plane published snapshot ${snapshot.version}`));
    controlPlane.on('refused', (refusal) => say(refusedLine(refusal, controlPlane.snapshot?.version)));
    cleanup.push(() => controlPlane.stop());
    const grpcPort = await controlPlane.start('127.0.0.1', 0);
    const invalid = controlPlane.builder.invalidSources;
    if (controlPlane.snapshot === undefined || invalid.size > 0) {
      // Running on half the config would show a split the file does not ask for.
      throw new DemoConfigInvalidError(trafficFile, invalid.size > 0 ? [...invalid.values()].flat() : (controlPlane.builder.lastRefusal?.errors ?? []));
    }
    let adminServer: Awaited<ReturnType<typeof startControlPlaneAdmin>>;
    try {
      adminServer = await startControlPlaneAdmin(controlPlane, admin.host, admin.port);
    } catch (error) {
      // `npm start` with 15000 taken; the cleanup below stops the rest.
      throw new DemoAdminListenError(admin.host, admin.port, error);
    }
    cleanup.push(() => adminServer.server.close());

    // The consumer's sidecar, subscribed over gRPC.
    const consumer = new DubboProxy({ node: 'demo-consumer', role: 'proxy', outbound: { host: '127.0.0.1', port: 0 } });
    const discovery = new DiscoveryClient({
      address: `127.0.0.1:${grpcPort}`,
      node: { id: 'demo-consumer', role: 'proxy' },
      apply: (config, version) => consumer.applySnapshot(config, version),
    });
    const first = new Promise<void>((resolve) => discovery.once('ack', () => resolve()));
    discovery.on('ack', (version) => say(`== consumer proxy applied snapshot ${version}`));
    discovery.on('nack', (version, errors) => say(`!! consumer proxy rejected snapshot ${version}: ${errors.join('; ')}`));
    discovery.start();
    cleanup.push(() => discovery.close());
    await consumer.start();
    cleanup.push(() => consumer.stop(200).then(() => undefined));
    let firstTimer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      first.then(() => 'applied' as const),
      interrupted.then(() => 'interrupted' as const),
      new Promise<'timeout'>((resolve) => (firstTimer = setTimeout(() => resolve('timeout'), firstSnapshotTimeoutMs))),
    ]);
    clearTimeout(firstTimer);
    if (outcome === 'interrupted') return { kind: 'interrupted' };
    if (outcome === 'timeout') throw new DemoNoSnapshotError(firstSnapshotTimeoutMs);

    const traffic = new TrafficLoop(consumer.addresses().outbound!);
    await traffic.start();
    cleanup.push(() => traffic.stop());
    const adminUrl = `http://${admin.host}:${adminServer.port}`;
    say(`dubbo-mesh demo is up in ${((performance.now() - started) / 1000).toFixed(1)} s:`);
    say(`  control plane  gRPC 127.0.0.1:${grpcPort}, admin ${adminUrl} (try ${adminUrl}/api/v1/routes, /api/v1/proxies, /metrics)`);
    say(`  providers      ${INSTANCES.map((i, n) => `${i.name} behind ${addresses[n]!.address}`).join(', ')}`);
    say(`  consumer       sidecar at 127.0.0.1:${consumer.addresses().outbound!.port}, calling ${USER_SERVICE}.getUser`);
    say(`  shift traffic  edit the weights in ${trafficFile} and save`);
    say(durationMs === undefined ? '  stop           Ctrl-C' : `  stops after    ${durationMs / 1000} s`);

    const ticker = setInterval(() => say(`[${new Date().toISOString().slice(11, 19)}] ${line(traffic.takeWindow())}`), 1000);
    cleanup.push(() => clearInterval(ticker));
    let durationTimer: NodeJS.Timeout | undefined;
    await Promise.race([
      interrupted,
      new Promise<void>((resolve) => {
        if (durationMs !== undefined) durationTimer = setTimeout(resolve, durationMs);
      }),
    ]);
    clearTimeout(durationTimer);
    clearInterval(ticker);
    traffic.stop();
    const total = traffic.total;
    say(`total: ${line(total)}${total.lastError === undefined ? '' : ` (last error: ${total.lastError})`}`);
    const summary: DemoSummary = {
      requests: total.requests,
      errors: total.errors,
      bySubset: { v1: total.bySubset.v1 ?? 0, v2: total.bySubset.v2 ?? 0 },
      p50Ms: Number(percentile(total.latenciesMs, 0.5).toFixed(3)),
      p99Ms: Number(percentile(total.latenciesMs, 0.99).toFixed(3)),
    };
    say(JSON.stringify(summary));
    return { kind: 'finished', summary };
  } finally {
    for (const step of cleanup.reverse()) await step();
  }
}
