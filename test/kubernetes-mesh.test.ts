// The mesh on Kubernetes, end to end: apache-dubbo-js → consumer proxy (subscribed to the
// control plane) → providers playing pods on their own loopback addresses (127.0.0.2,
// 127.0.0.3, … on one port), with the control plane's `--kubernetes` source reading a
// stand-in API server (the fake of test-support; no kube-apiserver can run here) through the
// real @kubernetes/client-node.
import t, { type Test } from 'tap';
import { startControlPlaneApp, type ControlPlaneApp } from '@dubbo-mesh/control-plane';
import { createKubernetesExtension, type KubernetesExtension } from '@dubbo-mesh/kubernetes';
import { startSidecar, type SidecarHandle } from '@dubbo-mesh/sidecar';
import { USER_SERVICE, eventually, makeUser, recordingLogger, startTestProvider, userValue, type TestProvider } from '@dubbo-mesh/test-support';
import { type FakeKubeApiServer, type FakeKubeObject } from '@dubbo-mesh/test-support/fake-kube';
import { userClient, type UserClient } from '../packages/proxy/test/fixtures/consumer.js';
import { custom, endpointSlice, ingress, ingressClass, pod, service, startCluster, type SliceEndpoint } from '../packages/kubernetes/test/fixtures/cluster.js';

/** A provider playing pod `name` at `ip`: it answers with its name, so a call tells who served it. */
interface PodProvider {
  name: string;
  ip: string;
  version: string;
  provider: TestProvider;
}

async function startPods(t: Test, pods: Array<{ name: string; ip: string; version: string }>): Promise<{ port: number; providers: PodProvider[] }> {
  // One port for every pod, as in a cluster: bound on the first address, then tried on the others.
  for (let attempt = 0; attempt < 20; attempt++) {
    const providers: PodProvider[] = [];
    let port = 0;
    try {
      for (const spec of pods) {
        const provider = await startTestProvider({
          host: spec.ip,
          port,
          services: { [USER_SERVICE]: { getUser: ([id]) => userValue({ ...makeUser(id as number), name: spec.name }), existUser: () => true } },
        });
        port = provider.port;
        providers.push({ ...spec, provider });
      }
      t.teardown(() => Promise.all(providers.map((p) => p.provider.close())));
      return { port, providers };
    } catch (error) {
      await Promise.all(providers.map((p) => p.provider.close()));
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    }
  }
  throw new Error('no port free on every pod address');
}

interface Mesh {
  cluster: FakeKubeApiServer;
  app: ControlPlaneApp;
  extension: KubernetesExtension;
  consumer: SidecarHandle;
  client: UserClient;
  providers: PodProvider[];
  port: number;
  /** Who served one call (the pod's name), or the error. */
  who(id?: number): Promise<string>;
  /** Wait until the consumer proxy runs the control plane's newest snapshot and `check` holds for it. */
  applied(check?: () => boolean): Promise<void>;
}

function sliceOf(providers: PodProvider[], port: number, notReady: string[] = []): FakeKubeObject {
  const endpoints: SliceEndpoint[] = providers.map((p) => ({ ip: p.ip, pod: p.name, ready: !notReady.includes(p.name) }));
  return endpointSlice('user-1a2b3', 'user', endpoints, { port });
}

async function startMesh(t: Test): Promise<Mesh> {
  const { port, providers } = await startPods(t, [
    { name: 'user-v1-a', ip: '127.0.0.2', version: 'v1' },
    { name: 'user-v1-b', ip: '127.0.0.3', version: 'v1' },
    { name: 'user-v2-a', ip: '127.0.0.4', version: 'v2' },
  ]);
  const cluster = await startCluster(t);
  cluster.create(service('user', { ports: [{ name: 'dubbo', port }] }));
  for (const p of providers) cluster.create(pod(p.name, { app: 'user', version: p.version }, { ip: p.ip }));
  cluster.create(sliceOf(providers, port));
  cluster.create(custom('DubboService', 'user', { interfaces: [USER_SERVICE] }));
  cluster.create(
    custom('DubboPolicy', 'user', {
      service: 'user',
      subsets: [
        { name: 'v1', labels: { version: 'v1' } },
        { name: 'v2', labels: { version: 'v2' } },
      ],
    }),
  );
  const logger = recordingLogger();
  const extension = await createKubernetesExtension({
    kubeConfig: cluster.kubeConfig(),
    env: { POD_NAMESPACE: 'dubbo-mesh', POD_NAME: 'control-plane-0' },
    source: { debounceMs: 20, maxDelayMs: 100, informers: { maxBackoffMs: 1_000 } },
  });
  const app = await startControlPlaneApp({
    configPaths: [],
    grpc: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    logger,
    extensions: [extension],
  });
  t.teardown(() => app.stop());
  const consumer = await startSidecar({
    role: 'proxy',
    node: { id: 'consumer-0.default', service: 'consumer', namespace: 'default' },
    config: { kind: 'control-plane', address: { host: '127.0.0.1', port: app.grpcPort } },
    outbound: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    logger: recordingLogger(),
  });
  t.teardown(() => consumer.destroy());
  const outbound = consumer.addresses.outbound!;
  const client = userClient(`${outbound.host}:${outbound.port}`);
  t.teardown(() => client.close());
  const who = async (id = 1) => {
    const result = await client.getUser(id);
    return result.err !== null ? `error: ${result.err.message}` : (result.res as { name: string }).name;
  };
  const applied = (check: () => boolean = () => true) =>
    eventually(
      () => consumer.version !== undefined && consumer.version === app.controlPlane.snapshot?.version && check(),
      'the consumer proxy to run the newest snapshot',
    );
  await applied();
  return { cluster, app, extension, consumer, client, providers, port, who, applied };
}

const endpointsOf = (mesh: Mesh) =>
  (mesh.app.controlPlane.snapshot?.config.services.find((s) => s.metadata.name === 'user')?.endpoints ?? []).map((e) => e.address).sort();

t.test('traffic reaches every pod; a DubboRoute custom resource shifts it', async (t) => {
  const mesh = await startMesh(t);
  const served = new Set<string>();
  for (let i = 0; i < 60 && served.size < 3; i++) served.add(await mesh.who(i));
  t.same([...served].sort(), ['user-v1-a', 'user-v1-b', 'user-v2-a'], 'all three pods serve');

  mesh.cluster.create(
    custom('DubboRoute', 'user', { hosts: [USER_SERVICE], routes: [{ name: 'canary', destinations: [{ service: 'user', subset: 'v2', weight: 100 }] }] }),
  );
  await mesh.applied(() => mesh.app.controlPlane.snapshot!.config.routes.length === 1);
  const after = new Set(await Promise.all(Array.from({ length: 20 }, (_, i) => mesh.who(i))));
  t.same([...after], ['user-v2-a'], 'every call on v2');
});

t.test('a pod going not-ready leaves at once, with no failed call', async (t) => {
  const mesh = await startMesh(t);
  let stop = false;
  /** Calls are counted by the phase they started in: 1 before the proxy had the change, 2 after. */
  let phase = 1;
  const errors: string[] = [];
  const servedAfter = new Map<string, number>();
  let callsAfter = 0;
  const traffic = Promise.all(
    Array.from({ length: 4 }, async (_, w) => {
      while (!stop) {
        const started = phase;
        const name = await mesh.who(w);
        if (name.startsWith('error')) errors.push(name);
        if (started === 2) {
          servedAfter.set(name, (servedAfter.get(name) ?? 0) + 1);
          callsAfter += 1;
        }
      }
    }),
  );
  mesh.cluster.replace(sliceOf(mesh.providers, mesh.port, ['user-v1-b']));
  await mesh.applied(() => endpointsOf(mesh).length === 2);
  phase = 2;
  await eventually(() => callsAfter >= 40, '40 calls after the change');
  stop = true;
  await traffic;
  t.same(errors, [], 'no call failed, before, during or after the change');
  t.notOk(servedAfter.has('user-v1-b'), 'the not-ready pod got no call once the proxy had the change');
  t.same(endpointsOf(mesh), [`127.0.0.2:${mesh.port}`, `127.0.0.4:${mesh.port}`]);
});

t.test('every watch closed and the history compacted while objects change: the changes are seen after the re-list, deletions included', async (t) => {
  const mesh = await startMesh(t);
  mesh.cluster.create(
    custom('DubboRoute', 'user', { hosts: [USER_SERVICE], routes: [{ name: 'v1', destinations: [{ service: 'user', subset: 'v1', weight: 100 }] }] }),
  );
  await mesh.applied(() => mesh.app.controlPlane.snapshot!.config.routes.length === 1);
  mesh.cluster.silenceWatches();
  mesh.cluster.remove('dubbo-mesh.io/v1alpha1', 'DubboRoute', 'default', 'user');
  mesh.cluster.remove('v1', 'Pod', 'default', 'user-v1-a');
  mesh.cluster.replace(sliceOf(mesh.providers.slice(1), mesh.port));
  mesh.cluster.compact();
  mesh.cluster.closeWatches();
  await mesh.applied(() => mesh.app.controlPlane.snapshot!.config.routes.length === 0 && endpointsOf(mesh).length === 2);
  t.same(endpointsOf(mesh), [`127.0.0.3:${mesh.port}`, `127.0.0.4:${mesh.port}`], 'the deleted pod left');
  const served = new Set(await Promise.all(Array.from({ length: 30 }, (_, i) => mesh.who(i))));
  t.notOk(served.has('user-v1-a'));
});

t.test('an invalid custom resource is refused with its status while traffic goes on', async (t) => {
  const mesh = await startMesh(t);
  const version = mesh.app.controlPlane.snapshot!.version;
  mesh.cluster.create(
    custom('DubboRoute', 'typo', { hosts: [USER_SERVICE], routes: [{ name: 'x', destinations: [{ service: 'user', subset: 'v9', weight: 100 }] }] }),
  );
  await eventually(() => {
    const conditions = (
      mesh.cluster.get('dubbo-mesh.io/v1alpha1', 'DubboRoute', 'default', 'typo')?.status as { conditions?: Array<Record<string, unknown>> } | undefined
    )?.conditions;
    return conditions?.some((c) => c.type === 'Accepted' && c.status === 'False') === true;
  }, 'the refused resource to get Accepted=False');
  const condition = (mesh.cluster.get('dubbo-mesh.io/v1alpha1', 'DubboRoute', 'default', 'typo')!.status as { conditions: Array<Record<string, unknown>> })
    .conditions[0]!;
  t.equal(condition.reason, 'Invalid');
  t.match(condition.message, /DubboRoute default\/typo: spec\.routes\[0\]\.destinations\[0\]\.subset: service user has no subset "v9"/);
  t.equal(mesh.app.controlPlane.snapshot!.version, version, 'the snapshot in force did not change');
  await eventually(() => {
    const service = mesh.cluster.get('dubbo-mesh.io/v1alpha1', 'DubboService', 'default', 'user');
    const conditions = (service?.status as { conditions?: Array<Record<string, unknown>> } | undefined)?.conditions;
    return conditions?.some((c) => c.type === 'Accepted' && c.status === 'True' && c.observedGeneration === 1) === true;
  }, 'the valid resources to get Accepted=True with observedGeneration');
  const served = await Promise.all(Array.from({ length: 10 }, (_, i) => mesh.who(i)));
  t.notOk(
    served.some((s) => s.startsWith('error')),
    'traffic goes on',
  );
  const sources = (await (await fetch(`http://127.0.0.1:${mesh.app.adminPort}/api/v1/sources`)).json()) as Array<{
    type: string;
    state: string;
    details: { refused: Array<{ object: string }>; objects: Record<string, number> };
  }>;
  const kube = sources.find((s) => s.type === 'kubernetes')!;
  t.equal(kube.state, 'ok');
  t.same(
    kube.details.refused.map((r) => r.object),
    ['DubboRoute default/typo'],
    '/api/v1/sources lists the refused object',
  );
  t.equal(kube.details.objects.Pod, 3);
  t.same(
    (kube.details as unknown as { leadership: unknown }).leadership,
    { identity: 'control-plane-0', leading: true, leader: 'control-plane-0' },
    'and who leads the writes',
  );
});

t.test('the API server away for 10 s: traffic unchanged, and the changes made meanwhile are seen when it returns', async (t) => {
  const mesh = await startMesh(t);
  await mesh.cluster.stop();
  const awayAt = Date.now();
  await eventually(async () => {
    const sources = (await (await fetch(`http://127.0.0.1:${mesh.app.adminPort}/api/v1/sources`)).json()) as Array<{ type: string; state: string }>;
    return sources.find((s) => s.type === 'kubernetes')!.state === 'disconnected';
  }, 'the source to show disconnected');
  const during = new Set(await Promise.all(Array.from({ length: 30 }, (_, i) => mesh.who(i))));
  t.same([...during].sort(), ['user-v1-a', 'user-v1-b', 'user-v2-a'], 'the last state stays in force');
  mesh.cluster.replace(sliceOf(mesh.providers.slice(0, 1), mesh.port));
  mesh.cluster.create(
    custom('DubboRoute', 'user', { hosts: [USER_SERVICE], routes: [{ name: 'v1', destinations: [{ service: 'user', subset: 'v1', weight: 100 }] }] }),
  );
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, 10_000 - (Date.now() - awayAt)))); // the outage the issue names lasts 10 s
  await mesh.cluster.restart();
  await mesh.applied(() => mesh.app.controlPlane.snapshot!.config.routes.length === 1 && endpointsOf(mesh).length === 1);
  const after = new Set(await Promise.all(Array.from({ length: 10 }, (_, i) => mesh.who(i))));
  t.same([...after], ['user-v1-a']);
});

t.test('an Ingress of class dubbo: the gateway routes by target-application, else by service key; the leader writes its address', async (t) => {
  const mesh = await startMesh(t);
  // A second Service, `user-canary`, over the v2 pod only: the Ingress host names it.
  const canary = mesh.providers.find((p) => p.version === 'v2')!;
  mesh.cluster.create(service('user-canary', { ports: [{ name: 'rpc', port: 20880 }] }));
  mesh.cluster.create(endpointSlice('user-canary-x', 'user-canary', [{ ip: canary.ip, pod: canary.name }], { port: mesh.port, portName: 'rpc' }));
  mesh.cluster.create(ingressClass());
  mesh.cluster.create(ingress('user', [{ host: 'user-app', service: 'user-canary', port: 20880 }]));
  mesh.cluster.create({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'dubbo-mesh-gateway', namespace: 'dubbo-mesh' },
    spec: { type: 'LoadBalancer', ports: [{ name: 'dubbo', port: 20880 }] },
  });
  mesh.cluster.updateStatus('v1', 'Service', 'dubbo-mesh', 'dubbo-mesh-gateway', { loadBalancer: { ingress: [{ ip: '203.0.113.7' }] } });
  const gateway = await startSidecar({
    role: 'gateway',
    node: { id: 'gateway-0.dubbo-mesh', namespace: 'dubbo-mesh' },
    config: { kind: 'control-plane', address: { host: '127.0.0.1', port: mesh.app.grpcPort } },
    outbound: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    logger: recordingLogger(),
  });
  t.teardown(() => gateway.destroy());
  await eventually(
    () => gateway.version === mesh.app.controlPlane.snapshot?.version && (mesh.app.controlPlane.snapshot?.config.ingresses.length ?? 0) === 1,
    'the gateway to run the snapshot with the Ingress',
  );
  const address = gateway.addresses.gateway!;
  const client = userClient(`${address.host}:${address.port}`);
  t.teardown(() => client.close());
  const name = (result: { res: unknown; err: Error | null }) => (result.err !== null ? `error: ${result.err.message}` : (result.res as { name: string }).name);
  const byApplication = new Set<string>();
  const byKey = new Set<string>();
  // Interleaved on one connection: routing is per request.
  for (let i = 0; i < 30; i++) {
    byApplication.add(name(await client.getUserWith(i, { 'target-application': 'user-app' })));
    byKey.add(name(await client.getUser(i)));
  }
  t.same([...byApplication], [canary.name], 'target-application user-app reaches the Ingress backend only');
  t.same([...byKey].sort(), ['user-v1-a', 'user-v1-b', 'user-v2-a'], 'calls without it go by their service key');
  const unknown = await client.getUserWith(1, { 'target-application': 'nobody-app' });
  t.match(unknown.err?.message ?? '', /no Ingress of class dubbo serves target-application "nobody-app"/);
  await eventually(() => {
    const status = mesh.cluster.get('networking.k8s.io/v1', 'Ingress', 'default', 'user')?.status as
      { loadBalancer?: { ingress?: Array<{ ip?: string }> } } | undefined;
    return status?.loadBalancer?.ingress?.[0]?.ip === '203.0.113.7';
  }, "the leader to write the gateway's address into the Ingress status");
});
