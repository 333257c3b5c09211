// The resolve ConfigMap writer against the fake API server, through the real client-node and a
// real control plane (source → snapshot → sink): created when a pod that mounts it appears,
// updated when the mesh's interfaces change, written only by the leader and only when it
// differs, a foreign ConfigMap left alone, --kube-namespace followed, failures retried with
// backoff. Time is fake: the source's debounce and the writer's backoff fire when the test says.
import { EventEmitter } from 'node:events';
import t, { type Test } from 'tap';
import { ControlPlane } from '@dubbo-mesh/control-plane';
import { FakeClock, eventually } from '@dubbo-mesh/test-support';
import type { FakeKubeApiServer, FakeKubeObject } from '@dubbo-mesh/test-support/fake-kube';
import {
  createKubernetesExtension,
  KubernetesSource,
  RESOLVE_FILE_HEADER,
  ResolveConfigMapWriter,
  type Leadership,
  type ResolveConfigMapStatus,
} from '../dist/index.js';
import { custom, pod, startCluster } from './fixtures/cluster.js';

/** ConfigMaps as the real API server serves them (no status, no generation, unconditional PUT allowed). */
const CONFIG_MAP_TYPE = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true, builtIn: true, tracksGeneration: false };

class SwitchableLeadership extends EventEmitter implements Leadership {
  constructor(public isLeader: boolean) {
    super();
  }
  lead(): void {
    this.isLeader = true;
    this.emit('started-leading');
  }
  lose(): void {
    this.isLeader = false;
    this.emit('stopped-leading');
  }
}

/** The file the writer should hold for these interfaces (sorted here by the test). */
const fileFor = (...interfaces: string[]) =>
  [...RESOLVE_FILE_HEADER, '*=dubbo://127.0.0.1:20881', ...interfaces.map((name) => `${name}=dubbo://127.0.0.1:20881`), ''].join('\n');

/** A pod as the injector's Java recipe leaves it: a volume of the resolve ConfigMap (and, with `other`, an unrelated ConfigMap's). */
function javaPod(name: string, namespace: string, options: { other?: boolean } = {}): FakeKubeObject {
  const object = pod(name, { app: name }, { namespace, sidecar: true });
  (object.spec as Record<string, unknown>).volumes = [
    { name: 'config', configMap: { name: 'app-config' } },
    ...(options.other === true ? [] : [{ name: 'dubbo-mesh-resolve', configMap: { name: 'dubbo-mesh-resolve' } }]),
  ];
  return object;
}

const userService = (interfaces: string[], namespace = 'default') =>
  custom('DubboService', 'user', { interfaces, endpoints: [{ address: '10.0.0.1:20880' }] }, namespace);

interface Running {
  cluster: FakeKubeApiServer;
  clock: FakeClock;
  source: KubernetesSource;
  writer: ResolveConfigMapWriter;
  controlPlane: ControlPlane;
  logs: Array<{ level: string; message: string }>;
  /** The resolve ConfigMap in a namespace, if any. */
  configMap(namespace: string): FakeKubeObject | undefined;
  /** Requests made to ConfigMaps so far (a method, or any). */
  requests(method?: string): number;
  /** Wait until the source has seen `predicate` hold, then let its debounce fire (a snapshot is built). */
  settle(predicate: () => boolean, what: string): Promise<void>;
}

async function run(t: Test, options: { leadership?: Leadership; namespace?: string; seed?: (cluster: FakeKubeApiServer) => void } = {}): Promise<Running> {
  const cluster = await startCluster(t);
  cluster.addType(CONFIG_MAP_TYPE);
  options.seed?.(cluster);
  const clock = new FakeClock();
  const logs: Array<{ level: string; message: string }> = [];
  const log = (level: string, message: string) => logs.push({ level, message });
  const source = new KubernetesSource({ kubeConfig: cluster.kubeConfig(), clock, namespace: options.namespace, informers: { silenceMs: 600_000 }, log });
  const writer = new ResolveConfigMapWriter({
    source,
    kubeConfig: cluster.kubeConfig(),
    leadership: options.leadership ?? new SwitchableLeadership(true),
    clock,
    log,
  });
  const controlPlane = new ControlPlane({ sources: [source], sinks: [writer] });
  await controlPlane.start('127.0.0.1', 0);
  t.teardown(async () => {
    writer.stop();
    await controlPlane.stop();
  });
  return {
    cluster,
    clock,
    source,
    writer,
    controlPlane,
    logs,
    configMap: (namespace) => cluster.get('v1', 'ConfigMap', namespace, 'dubbo-mesh-resolve'),
    requests: (method) => cluster.requests.filter((r) => r.path.includes('/configmaps') && (method === undefined || r.method === method)).length,
    settle: async (predicate, what) => {
      await eventually(predicate, what);
      clock.advance(1_000);
    },
  };
}

const dataOf = (object: FakeKubeObject | undefined) => (object as { data?: Record<string, string> } | undefined)?.data?.['dubbo-resolve.properties'];
const hasPod = (source: KubernetesSource, namespace: string, name: string) =>
  source.objects('Pod').some((p) => p.metadata?.namespace === namespace && p.metadata.name === name);

t.test('a pod that mounts it gets the ConfigMap at once; new interfaces update it; nothing new writes nothing', async (t) => {
  const { cluster, source, writer, configMap, requests, settle, clock } = await run(t, {
    seed: (cluster) => cluster.create(userService(['com.example.UserService', 'com.example.AuditService'])),
  });
  t.equal(requests(), 0, 'no pod mounts it: nothing read or written');

  cluster.create(javaPod('shop-1', 'shop'));
  cluster.create(javaPod('plain-1', 'plain', { other: true }));
  // No snapshot change is needed: the pod alone makes the writer act.
  await eventually(() => writer.writes === 1, 'the ConfigMap in namespace shop');
  const created = configMap('shop')!;
  t.equal(dataOf(created), fileFor('com.example.AuditService', 'com.example.UserService'));
  t.same(created.metadata.labels, { 'app.kubernetes.io/managed-by': 'dubbo-mesh' });
  await eventually(() => hasPod(source, 'plain', 'plain-1'), 'the informer to see the pod without the volume');
  await writer.sync();
  t.equal(configMap('plain'), undefined, 'a pod that does not mount it: no ConfigMap in its namespace');

  // A DubboService with a new interface: one update, with the file for every interface.
  const patched = cluster.patch('dubbo-mesh.io/v1alpha1', 'DubboService', 'default', 'user', {
    spec: { interfaces: ['com.example.UserService', 'com.example.AuditService', 'com.example.OrderService'] },
  });
  await settle(
    () => source.objects('DubboService').some((o) => o.metadata?.resourceVersion === patched.metadata.resourceVersion),
    'the informer to see the patch',
  );
  await eventually(() => writer.writes === 2, 'the update');
  t.equal(dataOf(configMap('shop')), fileFor('com.example.AuditService', 'com.example.OrderService', 'com.example.UserService'));
  t.equal(configMap('shop')!.metadata.uid, created.metadata.uid, 'updated in place, not made again');

  // Nothing new for the file: another snapshot (an endpoint moved), a pod event, a sync: no request at all.
  const before = requests();
  const moved = cluster.patch('dubbo-mesh.io/v1alpha1', 'DubboService', 'default', 'user', { spec: { endpoints: [{ address: '10.0.0.2:20880' }] } });
  await settle(
    () => source.objects('DubboService').some((o) => o.metadata?.resourceVersion === moved.metadata.resourceVersion),
    'the informer to see the move',
  );
  cluster.patch('v1', 'Pod', 'shop', 'shop-1', { metadata: { labels: { app: 'shop-1', touched: 'yes' } } });
  await eventually(() => source.objects('Pod').some((p) => p.metadata?.labels?.touched === 'yes'), 'the informer to see the relabelled pod');
  await writer.sync();
  t.equal(requests(), before, 'an unchanged file and a known namespace: no request');
  t.equal(writer.writes, 2);

  // Deleted behind the writer's back, then a new pod there: read again, made again.
  cluster.remove('v1', 'ConfigMap', 'shop', 'dubbo-mesh-resolve');
  cluster.create(javaPod('shop-2', 'shop'));
  await eventually(() => configMap('shop') !== undefined, 'the ConfigMap made again for the new pod');
  t.equal(dataOf(configMap('shop')), fileFor('com.example.AuditService', 'com.example.OrderService', 'com.example.UserService'));

  // The last pod gone: the ConfigMap stays (a pod being created may still need it).
  cluster.remove('v1', 'Pod', 'shop', 'shop-1');
  cluster.remove('v1', 'Pod', 'shop', 'shop-2');
  await eventually(() => !hasPod(source, 'shop', 'shop-1') && !hasPod(source, 'shop', 'shop-2'), 'the informer to see the pods gone');
  clock.advance(1_000);
  await writer.sync();
  t.ok(configMap('shop') !== undefined, 'left in place');
  t.same((writer.status() as ResolveConfigMapStatus).namespaces, [], 'no namespace needs it now');
  t.equal(requests('DELETE'), 0, 'never deleted');
});

t.test('only the leader writes; a new leader reads what is there before writing', async (t) => {
  const leadership = new SwitchableLeadership(false);
  const { cluster, source, writer, configMap, requests, settle } = await run(t, {
    leadership,
    seed: (cluster) => {
      cluster.create(userService(['com.example.UserService']));
      cluster.create(javaPod('shop-1', 'shop'));
    },
  });
  await eventually(() => hasPod(source, 'shop', 'shop-1'), 'the informer to see the pod');
  await writer.sync();
  t.equal(requests(), 0, 'a replica that does not lead reads and writes nothing');

  leadership.lead();
  await eventually(() => writer.writes === 1, 'the new leader to create it');
  t.equal(dataOf(configMap('shop')), fileFor('com.example.UserService'));

  // Leadership lost, then a change: the former leader writes nothing.
  leadership.lose();
  const patched = cluster.patch('dubbo-mesh.io/v1alpha1', 'DubboService', 'default', 'user', {
    spec: { interfaces: ['com.example.UserService', 'com.example.OrderService'] },
  });
  await settle(
    () => source.objects('DubboService').some((o) => o.metadata?.resourceVersion === patched.metadata.resourceVersion),
    'the informer to see the patch',
  );
  await writer.sync();
  const reads = requests('GET');
  t.equal(dataOf(configMap('shop')), fileFor('com.example.UserService'), 'not updated by a replica that lost the lease');

  // Another leader edited it meanwhile (its resourceVersion moved); leading again, this one reads it first and updates it.
  cluster.patch('v1', 'ConfigMap', 'shop', 'dubbo-mesh-resolve', { metadata: { annotations: { 'edited-by': 'someone' } } });
  leadership.lead();
  await eventually(() => dataOf(configMap('shop')) === fileFor('com.example.OrderService', 'com.example.UserService'), 'the update by the leader again');
  t.equal(requests('GET') - reads, 1, 'read once before writing');
  t.equal(configMap('shop')!.metadata.annotations?.['edited-by'], 'someone', "another's annotation is kept");
  t.equal(writer.failures, 0, 'no conflict: what was read was written over');
});

t.test('a ConfigMap of that name the mesh did not create is left alone, warned about once, and counted', async (t) => {
  const { cluster, source, writer, configMap, logs, settle } = await run(t, {
    seed: (cluster) => {
      cluster.create(userService(['com.example.UserService']));
      cluster.create({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'dubbo-mesh-resolve', namespace: 'legacy' },
        data: { 'dubbo-resolve.properties': 'com.example.UserService=dubbo://10.1.1.1:20880\n' },
      });
      cluster.create(javaPod('legacy-1', 'legacy'));
      cluster.create(javaPod('shop-1', 'shop'));
    },
  });
  await eventually(() => configMap('shop') !== undefined, 'the ConfigMap of namespace shop');
  await eventually(() => writer.foreign === 1, 'the foreign ConfigMap to be counted');
  const foreign = configMap('legacy')!;
  t.equal(dataOf(foreign), 'com.example.UserService=dubbo://10.1.1.1:20880\n', 'its data untouched');

  // More pods and a new file: still untouched, still one warning.
  cluster.create(javaPod('legacy-2', 'legacy'));
  const patched = cluster.patch('dubbo-mesh.io/v1alpha1', 'DubboService', 'default', 'user', { spec: { interfaces: ['com.example.OrderService'] } });
  await settle(
    () => source.objects('DubboService').some((o) => o.metadata?.resourceVersion === patched.metadata.resourceVersion),
    'the informer to see the patch',
  );
  await eventually(() => dataOf(configMap('shop')) === fileFor('com.example.OrderService'), 'the mesh-owned one updated');
  await eventually(() => hasPod(source, 'legacy', 'legacy-2'), 'the informer to see the second pod');
  await writer.sync();
  t.equal(configMap('legacy')!.metadata.resourceVersion, foreign.metadata.resourceVersion, 'never written');
  t.equal(logs.filter((l) => l.level === 'warn' && l.message.includes('legacy/dubbo-mesh-resolve')).length, 1, 'warned once');
  t.same(writer.status().foreign, ['legacy']);
});

t.test('--kube-namespace: only pods of that namespace are followed, only its ConfigMap is written', async (t) => {
  const { cluster, source, writer, configMap, requests } = await run(t, {
    namespace: 'shop',
    seed: (cluster) => {
      cluster.create(userService(['com.example.UserService'], 'shop'));
      cluster.create(javaPod('other-1', 'other'));
      cluster.create(javaPod('shop-1', 'shop'));
    },
  });
  await eventually(() => configMap('shop') !== undefined, 'the ConfigMap of namespace shop');
  t.equal(dataOf(configMap('shop')), fileFor('com.example.UserService'));
  cluster.create(javaPod('other-2', 'other'));
  await writer.sync();
  t.equal(configMap('other'), undefined);
  t.equal(cluster.requests.filter((r) => r.path.startsWith('/api/v1/namespaces/other/')).length, 0, 'no request about namespace other');
  t.same(writer.status().namespaces, ['shop']);
  t.ok(requests() > 0);
  t.ok(source.objects('Pod').every((p) => p.metadata?.namespace === 'shop'));
});

t.test('a failed write is retried with backoff (1 s, 2 s, …) and the other namespaces are written meanwhile', async (t) => {
  const { cluster, writer, configMap, requests, clock } = await run(t, {
    seed: (cluster) => cluster.create(userService(['com.example.UserService'])),
  });
  cluster.failNext({ method: 'POST', path: '/api/v1/namespaces/shop/configmaps' }, 500, 2);
  cluster.create(javaPod('shop-1', 'shop'));
  cluster.create(javaPod('cart-1', 'cart'));
  await eventually(() => writer.failures === 1 && configMap('cart') !== undefined, 'one failure in shop, cart written');
  t.equal(configMap('shop'), undefined);
  t.same(
    writer.status().failing.map((f) => f.namespace),
    ['shop'],
  );
  const posts = requests('POST');
  clock.advance(999);
  await writer.sync();
  t.equal(requests('POST'), posts, 'not before the backoff');
  clock.advance(1);
  await eventually(() => writer.failures === 2, 'the second attempt (failing again)');
  clock.advance(1_999);
  await writer.sync();
  t.equal(configMap('shop'), undefined, 'the backoff doubled');
  clock.advance(1);
  await eventually(() => writer.writes === 2, 'the third attempt to create it');
  t.equal(dataOf(configMap('shop')), fileFor('com.example.UserService'));
  t.same(writer.status().failing, [], 'nothing failing now');
});

t.test('the extension makes it a sink of the control plane and shows it in the source details', async (t) => {
  const cluster = await startCluster(t);
  cluster.addType(CONFIG_MAP_TYPE);
  const extension = await createKubernetesExtension({ kubeConfig: cluster.kubeConfig(), env: {}, identity: 'test' });
  t.teardown(() => extension.stop?.());
  t.ok(extension.sinks?.includes(extension.resolveConfigMapWriter), 'a sink');
  t.same((extension.source.details().writers as { resolveConfigMaps: ResolveConfigMapStatus }).resolveConfigMaps, {
    namespaces: [],
    interfaces: null,
    writes: 0,
    failures: 0,
    foreign: [],
    failing: [],
  });
});
