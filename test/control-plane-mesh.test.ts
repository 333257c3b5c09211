// The control plane driving a real mesh: apache-dubbo-js → outbound proxy (subscribed over
// gRPC with the discovery client) → inbound proxies → test providers.
import { EventEmitter } from 'node:events';
import path from 'node:path';
import t, { type Test } from 'tap';
import { ControlPlane, DubboMeshDiscoveryView, startControlPlaneAdmin, type ConfigSource, type SourceState } from '@dubbo-mesh/control-plane';
import { loadMeshResources, validateResource } from '@dubbo-mesh/config';
import { DiscoveryClient } from '@dubbo-mesh/discovery';
import { startMesh, type Mesh } from '../packages/proxy/test/fixtures/mesh.js';
import { userClient, type UserClient } from '../packages/proxy/test/fixtures/consumer.js';
import { meshYaml, next, tempDir, until, writeConfig } from './fixtures/control-plane.js';

interface Setup {
  mesh: Mesh;
  client: UserClient;
  file: string;
  controlPlane: ControlPlane;
  grpcPort: number;
  discovery: DiscoveryClient;
  yaml(weights: { v1: number; v2: number }): string;
}

async function setup(t: Test, mode: 'delta' | 'sotw' = 'delta', weights = { v1: 100, v2: 0 }): Promise<Setup> {
  const mesh = await startMesh();
  const client = userClient(mesh.outboundAddress);
  const dir = await tempDir(t);
  const file = path.join(dir, 'mesh.yaml');
  const yaml = (w: { v1: number; v2: number }) =>
    meshYaml(
      mesh.instances.map((i) => ({ address: i.inboundAddress, version: i.version })),
      w,
    );
  await writeConfig(file, yaml(weights));
  const controlPlane = new ControlPlane({ configPaths: [file] });
  const grpcPort = await controlPlane.start('127.0.0.1', 0);
  const discovery = new DiscoveryClient({
    address: `127.0.0.1:${grpcPort}`,
    node: { id: 'consumer-1', role: 'proxy' },
    apply: (config, version) => mesh.outbound.applySnapshot(config, version),
    initialBackoffMs: 50,
    maxBackoffMs: 500,
    mode,
  });
  const first = new Promise((resolve) => discovery.once('ack', resolve));
  discovery.start();
  await first;
  const setupResult = { mesh, client, file, controlPlane, grpcPort, discovery, yaml };
  t.teardown(async () => {
    setupResult.discovery.close();
    client.close();
    await setupResult.controlPlane.stop();
    await mesh.close();
  });
  return setupResult;
}

/** Which subset served a call: the test providers put their instance name in the user's name. */
async function subsetOf(client: UserClient, id: number): Promise<string> {
  const result = await client.getUser(id);
  if (result.err !== null) return `error: ${result.err.message}`;
  return (result.res as { name: string }).name.slice(0, 2);
}

/** A new snapshot published by the control plane and ACKed by the proxy: resolves to its version. */
async function pushed(s: Setup, change: () => Promise<void>): Promise<string> {
  const published = next<[{ version: string }]>(s.controlPlane, 'published');
  await change();
  const [snapshot] = await published;
  await until(s.discovery, 'ack', () => s.discovery.acceptedVersion === snapshot.version);
  return snapshot.version;
}

t.test('a file change shifts traffic; an invalid change is refused while the old config serves (delta stream)', async (t) => {
  const s = await setup(t);
  t.equal(s.mesh.outbound.snapshot!.version, s.controlPlane.snapshot!.version, "the proxy runs the control plane's snapshot");
  const before = await Promise.all(Array.from({ length: 40 }, (_, i) => subsetOf(s.client, i)));
  t.same(new Set(before), new Set(['v1']), 'all traffic on v1');

  const changedAt = Date.now();
  const version = await pushed(s, () => writeConfig(s.file, s.yaml({ v1: 0, v2: 100 })));
  t.comment(`file written → proxy ACKed in ${Date.now() - changedAt} ms`);
  t.equal(s.mesh.outbound.snapshot!.version, version, 'the proxy applied it');
  const after = await Promise.all(Array.from({ length: 40 }, (_, i) => subsetOf(s.client, i)));
  t.same(new Set(after), new Set(['v2']), 'all traffic on v2');

  const admin = await startControlPlaneAdmin(s.controlPlane, '127.0.0.1', 0);
  t.teardown(() => admin.server.close());
  const goodVersion = s.controlPlane.snapshot!.version;
  const refused = next(s.controlPlane, 'refused');
  await writeConfig(s.file, s.yaml({ v1: 0, v2: 100 }).replace('subset: v2, weight: 100', 'subset: v3, weight: 100'));
  await refused;
  const ready = (await (await fetch(`http://127.0.0.1:${admin.port}/readyz`)).json()) as { version: string; lastRefusal: { errors: string[]; source: string } };
  t.equal(ready.version, goodVersion, 'the previous snapshot stays in force');
  t.match(
    ready.lastRefusal.errors.join('\n'),
    /mesh\.yaml:\d+:\d+: DubboRoute default\/user-split: spec\.routes\[0\]\.destinations\[1\]\.subset: service user-provider has no subset "v3"/,
  );
  t.equal(ready.lastRefusal.source, s.file, 'the refusal names the file');
  t.equal(s.mesh.outbound.snapshot!.version, goodVersion, 'the proxy keeps it too');
  const still = await Promise.all(Array.from({ length: 20 }, (_, i) => subsetOf(s.client, i)));
  t.same(new Set(still), new Set(['v2']), 'and traffic goes on as before');
});

t.test('the control plane killed and restarted under traffic: no failed call, and the proxy resyncs (state-of-the-world stream)', async (t) => {
  const s = await setup(t, 'sotw');
  const errors: string[] = [];
  let done = 0;
  let stop = false;
  /** Resolves once `count` more calls have completed. */
  const calls = new EventEmitter();
  const completed = (count: number) => {
    const target = done + count;
    return until(calls, 'call', () => done >= target);
  };
  const workers = Array.from({ length: 10 }, async (_, w) => {
    while (!stop) {
      const result = await s.client.getUser(w);
      if (result.err !== null) errors.push(result.err.message);
      done += 1;
      calls.emit('call');
    }
  });
  await completed(200);
  const disconnected = next(s.discovery, 'disconnected');
  await s.controlPlane.stop(); // gone: the proxy keeps serving its last snapshot
  await disconnected;
  t.pass('the client noticed');
  const doneWhileAway = done;
  await completed(100);
  t.ok(done >= doneWhileAway + 100, `calls go on while the control plane is away (${done - doneWhileAway} calls)`);

  await writeConfig(s.file, s.yaml({ v1: 0, v2: 100 }));
  s.controlPlane = new ControlPlane({ configPaths: [s.file] });
  await s.controlPlane.start('127.0.0.1', s.grpcPort);
  await until(s.discovery, 'ack', () => s.discovery.acceptedVersion === s.controlPlane.snapshot!.version);
  t.pass('the proxy reconnected and took the new snapshot');
  t.equal(await subsetOf(s.client, 3), 'v2', 'and routes by it');
  stop = true;
  await Promise.all(workers);
  t.same(errors, [], `no failed call among ${done}`);
});

/**
 * A source whose resources pass the control plane's checks but whose wire form (what the
 * proxy validates) is broken: a control plane bug or a newer schema, as the proxy sees it.
 */
class TamperedSource implements ConfigSource {
  readonly name = 'tampered';
  private emit: ((state: SourceState) => void) | undefined;
  constructor(private readonly file: string) {}
  async start(emit: (state: SourceState) => void): Promise<void> {
    this.emit = emit;
    await this.push(false);
  }
  async push(tamper: boolean): Promise<void> {
    const { resources } = await loadMeshResources([this.file]);
    this.emit!({
      kind: 'resources',
      resources: resources.map((item) =>
        tamper && item.resource.kind === 'DubboPolicy'
          ? {
              ...item,
              raw: {
                ...(item.raw as object),
                spec: { ...(item.raw as { spec: object }).spec, connectionPool: { maxConnections: 0 }, loadBalancer: { policy: 'fastest' } },
              },
              resource: { ...item.resource, loadBalancer: { policy: 'least-request' } } as typeof item.resource,
            }
          : item,
      ),
    });
  }
  async stop(): Promise<void> {}
}

t.test('a snapshot the proxy cannot validate is NACKed with every error, and the last good one stays', async (t) => {
  const mesh = await startMesh();
  const dir = await tempDir(t);
  const file = path.join(dir, 'mesh.yaml');
  await writeConfig(
    file,
    meshYaml(
      mesh.instances.map((i) => ({ address: i.inboundAddress, version: i.version })),
      { v1: 100, v2: 0 },
    ),
  );
  const source = new TamperedSource(file);
  const controlPlane = new ControlPlane({ sources: [source] });
  const port = await controlPlane.start('127.0.0.1', 0);
  const discovery = new DiscoveryClient({
    address: `127.0.0.1:${port}`,
    node: { id: 'consumer-1', role: 'proxy' },
    apply: (config, version) => mesh.outbound.applySnapshot(config, version),
  });
  t.teardown(async () => {
    discovery.close();
    await controlPlane.stop();
    await mesh.close();
  });
  const acked = new Promise<string>((resolve) => discovery.once('ack', resolve));
  discovery.start();
  const good = await acked;
  const nacked = new Promise<[string, string[]]>((resolve) => discovery.once('nack', (version, errors) => resolve([version, errors])));
  await source.push(true);
  const [version, errors] = await nacked;
  t.not(version, good);
  t.equal(errors.length, 2, 'every error is reported');
  t.match(errors.join('\n'), /resources\[\d\] DubboPolicy default\/user-provider: .*spec\.connectionPool\.maxConnections: must be >= 1/);
  t.match(errors.join('\n'), /spec\.loadBalancer\.policy/);
  t.equal(mesh.outbound.snapshot!.version, good, 'the proxy keeps the last good snapshot');
  t.equal(discovery.acceptedVersion, good);
  await until(controlPlane, 'nack', () => controlPlane.proxies()[0]?.lastNack?.version === version);
  t.pass('the control plane recorded the NACK');
});

t.test("a snapshot bigger than grpc-js's 4 MiB default message size reaches the proxy", async (t) => {
  const endpoints = Array.from({ length: 90_000 }, (_, i) => ({
    address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:20880`,
    labels: { version: 'v1' },
  }));
  const raw = { apiVersion: 'dubbo-mesh.io/v1alpha1', kind: 'DubboService', metadata: { name: 'big' }, spec: { interfaces: ['org.example.Big'], endpoints } };
  const validated = validateResource(raw);
  if (!validated.valid) throw new Error(validated.errors.join('\n'));
  const source: ConfigSource = {
    name: 'big',
    start: async (emit) => emit({ kind: 'resources', resources: [{ resource: validated.result, raw }] }),
    stop: async () => {},
  };
  const controlPlane = new ControlPlane({ sources: [source] });
  const port = await controlPlane.start('127.0.0.1', 0);
  const encoded = new DubboMeshDiscoveryView().stateOfTheWorld(controlPlane.snapshot!);
  t.ok(encoded.length > 4 * 1024 * 1024, `${encoded.length} bytes`);
  let applied = 0;
  const discovery = new DiscoveryClient({
    address: `127.0.0.1:${port}`,
    node: { id: 'big-1', role: 'proxy' },
    apply: (config) => (applied = config.services[0]!.endpoints.length),
  });
  t.teardown(async () => {
    discovery.close();
    await controlPlane.stop();
  });
  const acked = new Promise<string>((resolve) => discovery.once('ack', resolve));
  discovery.start();
  t.equal(await acked, controlPlane.snapshot!.version);
  t.equal(applied, 90_000);
});
