import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ControlPlane, startControlPlaneAdmin } from '@dubbo-mesh/control-plane';
import { DiscoveryClient } from '@dubbo-mesh/discovery';
import { DubboProxy } from '@dubbo-mesh/proxy';
import { USER_SERVICE, makeUser, startTestProvider, userValue, type TestProvider } from '@dubbo-mesh/test-support';
import { TrafficLoop, percentile, type TrafficCounts } from './demo-traffic.js';
import { addressFlag, durationFlag, parseFlags, type FlagSpec } from './flags.js';
import { listenFailure } from './start-up-failure.js';

const FLAGS: FlagSpec[] = [
  { name: 'duration', type: 'string' },
  { name: 'admin', type: 'string', default: '127.0.0.1:15000' },
];

/** The file a user edits to shift the demo's traffic. */
export const DEMO_TRAFFIC_FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../examples/demo/traffic.yaml');

const INSTANCES = [{ name: 'v1-a', version: 'v1' }, { name: 'v1-b', version: 'v1' }, { name: 'v2-a', version: 'v2' }];

/** The DubboService of the demo's instances, as a registry would report it (their ports are only known at run time). */
function servicesYaml(addresses: ReadonlyArray<{ address: string; version: string }>): string {
  return `# Written by dubbo-mesh demo: the instances it started (edit ${DEMO_TRAFFIC_FILE} instead).
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
  const share = subsets.map((s) => `${s} ${String(counts.bySubset[s]).padStart(5)} (${((counts.bySubset[s]! / Math.max(1, counts.requests)) * 100).toFixed(0).padStart(3)}%)`).join('  ');
  return `${share || 'no answers yet'}  errors ${counts.errors}  p50 ${percentile(counts.latenciesMs, 0.5).toFixed(2)} ms  p99 ${percentile(counts.latenciesMs, 0.99).toFixed(2)} ms`;
}

/**
 * `dubbo-mesh demo` (what `npm start` runs): a control plane on examples/demo/traffic.yaml
 * and the instances it starts, three UserService providers (v1 × 2, v2 × 1) each behind an
 * inbound proxy, a consumer proxy subscribed to the control plane over gRPC, and a traffic
 * loop through it, printing per-subset counts every second. With `--duration` it stops by
 * itself and prints SPEC's JSON summary as its last line.
 */
export async function runDemoCommand(argv: readonly string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const values = parseFlags('demo', argv, FLAGS);
  const durationMs = values.duration === undefined ? undefined : durationFlag('demo', 'duration', values.duration as string);
  const admin = addressFlag('demo', 'admin', values.admin as string);
  const say = (text: string) => out.write(`${text}\n`);
  const started = performance.now();
  const cleanup: Array<() => Promise<void> | void> = [];
  // Ctrl-C at any point ends the demo through the cleanup below, also during start-up.
  let interrupt: () => void = () => {};
  const interrupted = new Promise<void>((resolve) => (interrupt = resolve));
  let stopping = false;
  const onSignal = () => {
    stopping = true;
    interrupt();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  cleanup.push(() => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  });
  const dir = await mkdtemp(path.join(tmpdir(), 'dubbo-mesh-demo-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  try {
    // The providers, each behind its inbound proxy.
    const addresses: Array<{ address: string; version: string }> = [];
    for (const instance of INSTANCES) {
      const provider: TestProvider = await startTestProvider({
        services: { [USER_SERVICE]: { getUser: ([id]) => userValue({ ...makeUser(Number(id)), name: `${instance.name} (demo)` }) } },
      });
      cleanup.push(() => provider.close());
      const inbound = new DubboProxy({ node: `demo-${instance.name}`, role: 'proxy', inbound: { host: '127.0.0.1', port: 0 }, inboundTarget: { host: '127.0.0.1', port: provider.port } });
      await inbound.start();
      cleanup.push(() => inbound.stop(200).then(() => undefined));
      addresses.push({ address: `127.0.0.1:${inbound.addresses().inbound!.port}`, version: instance.version });
    }
    const servicesFile = path.join(dir, 'services.yaml');
    await writeFile(servicesFile, servicesYaml(addresses));

    // The control plane, on the instances and the traffic file.
    const controlPlane = new ControlPlane({
      configPaths: [servicesFile, DEMO_TRAFFIC_FILE],
      log: (level, message, fields) => {
        if (message.startsWith('refused')) say(`!! ${message}:\n   ${((fields?.errors as string[] | undefined) ?? []).join('\n   ')}`);
        else if (message === 'published a snapshot') say(`== control plane published snapshot ${String(fields?.version)}`);
      },
    });
    cleanup.push(() => controlPlane.stop());
    const grpcPort = await controlPlane.start('127.0.0.1', 0);
    if (controlPlane.snapshot === undefined) {
      say(`dubbo-mesh demo: ${DEMO_TRAFFIC_FILE} is not valid:\n  ${(controlPlane.builder.lastRefusal?.errors ?? []).join('\n  ')}`);
      return 1;
    }
    let adminServer;
    try {
      adminServer = await startControlPlaneAdmin(controlPlane, admin.host, admin.port);
    } catch (error) {
      // `npm start` with 15000 taken: one line naming the flag; the cleanup below stops the rest.
      throw listenFailure('demo', 'admin', admin, error);
    }
    cleanup.push(() => adminServer.server.close());

    // The consumer's sidecar, subscribed over gRPC.
    const consumer = new DubboProxy({ node: 'demo-consumer', role: 'proxy', outbound: { host: '127.0.0.1', port: 0 } });
    const discovery = new DiscoveryClient({ address: `127.0.0.1:${grpcPort}`, node: { id: 'demo-consumer', role: 'proxy' }, apply: (config, version) => consumer.applySnapshot(config, version) });
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
      new Promise<'timeout'>((resolve) => (firstTimer = setTimeout(() => resolve('timeout'), 10_000))),
    ]);
    clearTimeout(firstTimer);
    if (outcome === 'interrupted') return 130;
    if (outcome === 'timeout') {
      say('dubbo-mesh demo: the consumer proxy got no snapshot from the control plane within 10 s');
      return 1;
    }

    const traffic = new TrafficLoop(consumer.addresses().outbound!);
    await traffic.start();
    cleanup.push(() => traffic.stop());
    const adminUrl = `http://${admin.host}:${adminServer.port}`;
    say(`dubbo-mesh demo is up in ${((performance.now() - started) / 1000).toFixed(1)} s:`);
    say(`  control plane  gRPC 127.0.0.1:${grpcPort}, admin ${adminUrl} (try ${adminUrl}/api/v1/routes, /api/v1/proxies, /metrics)`);
    say(`  providers      ${INSTANCES.map((i, n) => `${i.name} behind ${addresses[n]!.address}`).join(', ')}`);
    say(`  consumer       sidecar at 127.0.0.1:${consumer.addresses().outbound!.port}, calling ${USER_SERVICE}.getUser`);
    say(`  shift traffic  edit the weights in ${DEMO_TRAFFIC_FILE} and save`);
    say(durationMs === undefined ? '  stop           Ctrl-C' : `  stops after    ${durationMs / 1000} s`);

    const ticker = setInterval(() => say(`[${new Date().toISOString().slice(11, 19)}] ${line(traffic.takeWindow())}`), 1000);
    cleanup.push(() => clearInterval(ticker));
    if (!stopping) {
      let durationTimer: NodeJS.Timeout | undefined;
      await Promise.race([interrupted, new Promise<void>((resolve) => {
        if (durationMs !== undefined) durationTimer = setTimeout(resolve, durationMs);
      })]);
      clearTimeout(durationTimer);
    }
    clearInterval(ticker);
    traffic.stop();
    const total = traffic.total;
    say(`total: ${line(total)}${total.lastError === undefined ? '' : ` (last error: ${total.lastError})`}`);
    say(JSON.stringify({
      requests: total.requests,
      errors: total.errors,
      bySubset: { v1: total.bySubset.v1 ?? 0, v2: total.bySubset.v2 ?? 0 },
      p50Ms: Number(percentile(total.latenciesMs, 0.5).toFixed(3)),
      p99Ms: Number(percentile(total.latenciesMs, 0.99).toFixed(3)),
    }));
    return 0;
  } finally {
    for (const step of cleanup.reverse()) await step();
  }
}
