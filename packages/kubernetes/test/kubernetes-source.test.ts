// The Kubernetes source against the fake API server, through the real @kubernetes/client-node:
// mapping, debounce, per-object refusal, and the client's traps (an informer that stops on an
// error, a watch that goes silent, re-lists that must report deletions, replays that must not
// rebuild). Time is fake: backoffs, the watchdog and the debounce fire when the test says so.
import t, { type Test } from 'tap';
import type { LocatedResource } from '@dubbo-mesh/config';
import type { SourceState } from '@dubbo-mesh/control-plane';
import { FakeClock, eventually } from '@dubbo-mesh/test-support';
import { type FakeKubeApiServer } from '@dubbo-mesh/test-support/fake-kube';
import { ALWAYS_LEADER, KubernetesSource, StatusWriter } from '../dist/index.js';
import { custom, endpointSlice, pod, service, startCluster } from './fixtures/cluster.js';

interface Running {
  cluster: FakeKubeApiServer;
  source: KubernetesSource;
  clock: FakeClock;
  states: SourceState[];
  /** The resources of the last state. */
  last(): readonly LocatedResource[];
  /** Wait until the source's store has seen `predicate` hold, then let the debounce fire. */
  settle(predicate: () => boolean, what: string): Promise<void>;
}

async function run(t: Test, seed: (cluster: FakeKubeApiServer) => void, namespace?: string): Promise<Running> {
  const cluster = await startCluster(t);
  seed(cluster);
  const clock = new FakeClock();
  const source = new KubernetesSource({ kubeConfig: cluster.kubeConfig(), clock, namespace, informers: { silenceMs: 60_000 } });
  const states: SourceState[] = [];
  await source.start((state) => states.push(state));
  t.teardown(() => source.stop());
  return {
    cluster,
    source,
    clock,
    states,
    last: () => {
      const state = states.at(-1);
      return state?.kind === 'resources' ? state.resources : [];
    },
    settle: async (predicate, what) => {
      await eventually(predicate, what);
      clock.advance(1_000);
    },
  };
}

const named = (resources: readonly LocatedResource[], kind: string, name: string) =>
  resources.find((r) => r.resource.kind === kind && r.resource.metadata.name === name);
const addresses = (resources: readonly LocatedResource[], name: string) =>
  ((named(resources, 'DubboService', name)?.resource as { endpoints?: Array<{ address: string }> } | undefined)?.endpoints ?? []).map((e) => e.address);
const hasVersion = (source: KubernetesSource, kind: string, name: string, version: string | undefined) =>
  source.objects(kind).some((o) => o.metadata?.name === name && o.metadata.resourceVersion === version);

function seedUser(cluster: FakeKubeApiServer): void {
  cluster.create(service('user'));
  cluster.create(pod('user-1', { app: 'user', version: 'v1' }));
  cluster.create(pod('user-2', { app: 'user', version: 'v2' }, { annotations: { 'dubbo-mesh.io/weight': '30' } }));
  cluster.create(
    endpointSlice('user-abc', 'user', [
      { ip: '10.0.0.1', pod: 'user-1' },
      { ip: '10.0.0.2', pod: 'user-2' },
    ]),
  );
  cluster.create(custom('DubboService', 'user', { interfaces: ['com.example.UserService'] }));
  cluster.create(
    custom('DubboPolicy', 'user', {
      service: 'user',
      subsets: [
        { name: 'v1', labels: { version: 'v1' } },
        { name: 'v2', labels: { version: 'v2' } },
      ],
    }),
  );
  cluster.create(
    custom('DubboRoute', 'user', {
      hosts: ['com.example.UserService'],
      routes: [{ name: 'all', destinations: [{ service: 'user', subset: 'v1', weight: 100 }] }],
    }),
  );
}

t.test('the first state maps every object once: a DubboService takes its Service endpoints, labelled and weighted by their pods', async (t) => {
  const r = await run(t, seedUser);
  t.equal(r.states.length, 1, 'one state for the whole first list');
  const user = named(r.last(), 'DubboService', 'user')!;
  t.same((user.resource as { endpoints: unknown }).endpoints, [
    { address: '10.0.0.1:20880', host: '10.0.0.1', port: 20880, labels: { app: 'user', version: 'v1' }, weight: 100 },
    { address: '10.0.0.2:20880', host: '10.0.0.2', port: 20880, labels: { app: 'user', version: 'v2' }, weight: 30 },
  ]);
  t.ok(named(r.last(), 'DubboRoute', 'user') && named(r.last(), 'DubboPolicy', 'user'), 'routes and policies too');
  t.equal(user.origin, 'kubernetes DubboService default/user');
  t.same(user.raw, {
    apiVersion: 'dubbo-mesh.io/v1alpha1',
    kind: 'DubboService',
    metadata: { name: 'user', namespace: 'default' },
    spec: {
      interfaces: ['com.example.UserService'],
      endpoints: [
        { address: '10.0.0.1:20880', labels: { app: 'user', version: 'v1' } },
        { address: '10.0.0.2:20880', labels: { app: 'user', version: 'v2' }, weight: 30 },
      ],
    },
  });
});

t.test('a pod going not-ready leaves at once; terminating endpoints too; a burst of 500 pod changes is one rebuild', async (t) => {
  const r = await run(t, seedUser);
  const slice = r.cluster.patch('discovery.k8s.io/v1', 'EndpointSlice', 'default', 'user-abc', {
    endpoints: [
      { addresses: ['10.0.0.1'], conditions: { ready: true }, targetRef: { kind: 'Pod', name: 'user-1', namespace: 'default' } },
      { addresses: ['10.0.0.2'], conditions: { ready: false }, targetRef: { kind: 'Pod', name: 'user-2', namespace: 'default' } },
    ],
  });
  await r.settle(() => hasVersion(r.source, 'EndpointSlice', 'user-abc', slice.metadata.resourceVersion), 'the slice change');
  t.same(addresses(r.last(), 'user'), ['10.0.0.1:20880'], 'the not-ready endpoint left');

  const states = r.states.length;
  let lastVersion: string | undefined;
  for (let i = 0; i < 500; i++)
    lastVersion = r.cluster.patch('v1', 'Pod', 'default', 'user-1', { metadata: { labels: { app: 'user', version: 'v1', round: String(i) } } }).metadata
      .resourceVersion;
  await eventually(() => hasVersion(r.source, 'Pod', 'user-1', lastVersion), 'the 500th pod change');
  r.clock.advance(1_000);
  t.equal(r.states.length, states + 1, 'one new state for the burst');
  t.same((named(r.last(), 'DubboService', 'user')!.resource as { endpoints: Array<{ labels: Record<string, string> }> }).endpoints[0]!.labels.round, '499');
});

t.test('an invalid custom resource is refused with every error; the rest goes on', async (t) => {
  const r = await run(t, (cluster) => {
    seedUser(cluster);
    cluster.create(custom('DubboRoute', 'broken', { hosts: [], routes: [{ name: 'x', destinations: [{ service: 'user', weight: -1 }] }], colour: 'red' }));
  });
  t.ok(named(r.last(), 'DubboService', 'user'), 'the valid resources are in');
  t.notOk(named(r.last(), 'DubboRoute', 'broken'), 'the invalid one is not');
  const refused = r.source.refusedObjects();
  t.equal(refused.length, 1);
  t.equal(refused[0]!.object, 'DubboRoute default/broken');
  const errors = refused[0]!.errors.join('\n');
  t.match(errors, /DubboRoute default\/broken: spec\.colour: unknown field/);
  t.match(errors, /DubboRoute default\/broken: spec\.routes\[0\]\.destinations\[0\]\.weight: /);
  const outcome = r.source.outcomes().find((o) => o.name === 'broken')!;
  t.equal(outcome.accepted, false);
  t.equal(outcome.generation, 1);
});

t.test('replays change nothing: a closed watch reconnects and an unchanged re-list emits no state', async (t) => {
  const r = await run(t, seedUser);
  const states = r.states.length;
  r.cluster.closeWatches();
  const informers = (r.source.details() as { informers: unknown[] }).informers.length;
  await eventually(() => r.cluster.watchCount() >= informers, 'every watch open again');
  r.clock.advance(1_000);
  t.equal(r.states.length, states, 'no new state');
});

t.test('every watch closed and the history compacted while objects change: the re-list sees them, deletions included', async (t) => {
  const r = await run(t, seedUser);
  await r.cluster.stop();
  r.cluster.remove('v1', 'Pod', 'default', 'user-2');
  r.cluster.patch('discovery.k8s.io/v1', 'EndpointSlice', 'default', 'user-abc', {
    endpoints: [{ addresses: ['10.0.0.1'], conditions: { ready: true }, targetRef: { kind: 'Pod', name: 'user-1', namespace: 'default' } }],
  });
  r.cluster.remove('dubbo-mesh.io/v1alpha1', 'DubboRoute', 'default', 'user');
  r.cluster.compact();
  await r.cluster.restart();
  // The informers failed while the server was away; their backoff (fake time) starts them again.
  for (let i = 0; i < 40 && named(r.last(), 'DubboRoute', 'user') !== undefined; i++) {
    r.clock.advance(2_000);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await eventually(() => {
    r.clock.advance(1_000);
    return named(r.last(), 'DubboRoute', 'user') === undefined && addresses(r.last(), 'user').length === 1;
  }, 'the deletions made while the watches were gone');
  t.same(addresses(r.last(), 'user'), ['10.0.0.1:20880']);
  t.equal(r.source.objects('Pod').length, 1, 'the deleted pod is gone from the store');
  t.ok(r.source.connection().connected, 'connected again');
});

t.test('an informer stopped by an error is started again after a backoff; until then the source says disconnected', async (t) => {
  const r = await run(t, seedUser);
  r.cluster.failNext({ path: /\/pods/, watch: true }, 500, 1);
  r.cluster.closeWatches();
  await eventually(() => !r.source.connection().connected, 'the pod informer to fail');
  t.match(r.source.connection().error ?? '', /^Pod: /);
  const created = r.cluster.create(pod('user-3', { app: 'user' }));
  r.clock.advance(1_000); // the first backoff
  await eventually(() => hasVersion(r.source, 'Pod', 'user-3', created.metadata.resourceVersion), 'the restarted informer to see the new pod');
  t.ok(r.source.connection().connected);
  const details = r.source.details() as { informers: Array<{ kind: string; restarts: number }> };
  t.equal(details.informers.find((i) => i.kind === 'Pod')!.restarts, 1);
});

t.test('a watch gone silent for good is caught by the watchdog, which lists again', async (t) => {
  const r = await run(t, seedUser);
  r.cluster.silenceWatches();
  r.cluster.remove('dubbo-mesh.io/v1alpha1', 'DubboRoute', 'default', 'user');
  r.clock.advance(30_000);
  t.ok(named(r.last(), 'DubboRoute', 'user'), 'the silent watch brought nothing');
  r.clock.advance(45_000); // past silenceMs with nothing received
  await eventually(() => !r.source.objects('DubboRoute').some((o) => o.metadata?.name === 'user'), 'the watchdog re-list');
  r.clock.advance(1_000);
  t.notOk(named(r.last(), 'DubboRoute', 'user'), 'the deletion is seen');
  const details = r.source.details() as { informers: Array<{ kind: string; watchdogRelists: number }> };
  t.ok(details.informers.find((i) => i.kind === 'DubboRoute')!.watchdogRelists >= 1);
});

t.test('a Service annotated dubbo-mesh.io/interfaces is a mesh service with no custom resource', async (t) => {
  const r = await run(t, (cluster) => {
    cluster.create(service('orders', { annotations: { 'dubbo-mesh.io/interfaces': 'com.example.OrderService:1.0.0' } }));
    cluster.create(endpointSlice('orders-x', 'orders', [{ ip: '10.0.1.1' }]));
  });
  const orders = named(r.last(), 'DubboService', 'orders');
  t.same((orders?.resource as { interfaces: unknown }).interfaces, [{ interface: 'com.example.OrderService', version: '1.0.0' }]);
  t.same(addresses(r.last(), 'orders'), ['10.0.1.1:20880']);
});

t.test('--kube-namespace follows one namespace only', async (t) => {
  const r = await run(
    t,
    (cluster) => {
      seedUser(cluster);
      cluster.create(custom('DubboService', 'other', { interfaces: ['com.example.Other'], endpoints: [{ address: '10.9.9.9:20880' }] }, 'elsewhere'));
    },
    'default',
  );
  t.notOk(named(r.last(), 'DubboService', 'other'));
  t.ok(named(r.last(), 'DubboService', 'user'));
});

t.test('after an informer restarted from an error, its watch is watched again: a silent one is still caught', async (t) => {
  const r = await run(t, seedUser);
  r.cluster.failNext({ path: /dubboroutes/, watch: true }, 500, 1);
  r.cluster.closeWatches();
  await eventually(() => !r.source.connection().connected, 'the route informer to fail');
  r.clock.advance(1_000); // the backoff: it resumes its watch
  await eventually(() => r.source.connection().connected, 'the route informer to be connected again');
  r.cluster.silenceWatches();
  r.cluster.remove('dubbo-mesh.io/v1alpha1', 'DubboRoute', 'default', 'user');
  r.clock.advance(75_000);
  await eventually(() => !r.source.objects('DubboRoute').some((o) => o.metadata?.name === 'user'), 'the watchdog to list the routes again');
});

t.test('stopped while the first lists run, the source opens no watch', async (t) => {
  const cluster = await startCluster(t);
  seedUser(cluster);
  const source = new KubernetesSource({ kubeConfig: cluster.kubeConfig(), clock: new FakeClock() });
  const started = source.start(() => {});
  await source.stop();
  void started;
  const informers = (source.details() as { informers: unknown[] }).informers.length;
  await eventually(
    () => cluster.requests.filter((request) => request.query.watch === undefined && request.method === 'GET').length >= informers,
    'every list to be answered',
  );
  // A few round trips after the lists: a watch the client opened on their answers has arrived by then.
  for (let i = 0; i < 3; i++) await (await fetch(`${cluster.url}/api/v1/namespaces/default/pods`)).arrayBuffer();
  t.equal(cluster.watchCount(), 0, 'no watch open');
  t.equal(cluster.requests.filter((request) => request.query.watch === 'true').length, 0, 'no watch was ever opened');
});

t.test('a status says nothing about a generation that has not been mapped yet', async (t) => {
  const r = await run(t, seedUser);
  t.equal(r.source.outcomes().find((o) => o.name === 'user' && o.kind === 'DubboRoute')?.generation, 1);
  const changed = r.cluster.patch('dubbo-mesh.io/v1alpha1', 'DubboRoute', 'default', 'user', {
    spec: { routes: [{ name: 'all', destinations: [{ service: 'user', subset: 'v9', weight: 100 }] }] },
  });
  await eventually(() => hasVersion(r.source, 'DubboRoute', 'user', changed.metadata.resourceVersion), 'the change to reach the informer');
  t.equal(
    r.source.outcomes().find((o) => o.name === 'user' && o.kind === 'DubboRoute'),
    undefined,
    'generation 2 is not judged yet: no outcome',
  );
  r.clock.advance(1_000);
  t.equal(r.source.outcomes().find((o) => o.name === 'user' && o.kind === 'DubboRoute')?.generation, 2, 'judged once mapped');
});

t.test('a DubboRule an edit makes invalid keeps its last valid version in force, refused with its errors; deleted, it goes', async (t) => {
  const rule = { configVersion: 'v3.0', scope: 'service', key: 'com.example.UserService', force: true, conditions: ['=> host = 10.0.0.1'] };
  const r = await run(t, (cluster) => {
    seedUser(cluster);
    cluster.create(custom('DubboRule', 'only-one', rule));
    cluster.create(custom('DubboRoute', 'broken-route', { hosts: ['com.example.Other'], routes: [{ name: 'x', destinations: [{ service: 'user' }] }] }));
  });
  const first = named(r.last(), 'DubboRule', 'only-one');
  t.ok(first, 'the valid rule is in force');
  const broken = r.cluster.patch('dubbo-mesh.io/v1alpha1', 'DubboRule', 'default', 'only-one', { spec: { conditions: ['method = => host = 10.0.0.1'] } });
  await r.settle(() => hasVersion(r.source, 'DubboRule', 'only-one', broken.metadata.resourceVersion), 'the broken edit to reach the informer');
  t.equal(named(r.last(), 'DubboRule', 'only-one'), first, 'its last valid version stays, the same object');
  const rejected = r.source.rejectedResources();
  t.match(rejected, [
    {
      kind: 'DubboRule',
      name: 'default/only-one',
      origin: 'kubernetes DubboRule default/only-one',
      lastValidInForce: true,
      errors: [/spec\.conditions\[0\]: .*no value after "="/],
    },
  ]);
  t.equal(r.source.outcomes().find((o) => o.name === 'only-one')?.accepted, false, 'its status says Invalid');
  // Another kind made invalid leaves the mesh (unchanged behaviour).
  const brokenRoute = r.cluster.patch('dubbo-mesh.io/v1alpha1', 'DubboRoute', 'default', 'broken-route', { spec: { routes: [] } });
  await r.settle(() => hasVersion(r.source, 'DubboRoute', 'broken-route', brokenRoute.metadata.resourceVersion), 'the route edit to reach the informer');
  t.notOk(named(r.last(), 'DubboRoute', 'broken-route'), 'an invalid route is not kept');
  t.ok(named(r.last(), 'DubboRule', 'only-one'), 'the rule still is');
  r.cluster.remove('dubbo-mesh.io/v1alpha1', 'DubboRule', 'default', 'only-one');
  await r.settle(() => !r.source.objects('DubboRule').some((o) => o.metadata?.name === 'only-one'), 'the deletion to reach the informer');
  t.notOk(named(r.last(), 'DubboRule', 'only-one'), 'deleted: gone, last valid version and all');
  t.same(
    r.source.rejectedResources().map((rejected) => rejected.name),
    ['default/broken-route'],
    'only the broken route is still rejected',
  );
});

t.test(
  'a DubboPlugin an edit makes invalid keeps its last valid version on the call path, refused (status Accepted False) with every error; deleted, it goes',
  async (t) => {
    const auth = { services: ['com.example.*'], order: 10, tag: 'tenant=a', grpc: { address: '10.0.0.9:9500', timeout: '50ms' } };
    const r = await run(t, (cluster) => {
      seedUser(cluster);
      cluster.create(custom('DubboPlugin', 'auth', auth));
    });
    const plugin = () => named(r.last(), 'DubboPlugin', 'auth')?.resource as { order: number; grpc?: { address: string } } | undefined;
    t.match(plugin(), { order: 10, grpc: { address: '10.0.0.9:9500' } }, 'the valid plugin is in force');

    // A valid edit, then a broken one: the version kept is the latest valid one.
    const edited = r.cluster.patch('dubbo-mesh.io/v1alpha1', 'DubboPlugin', 'default', 'auth', { spec: { order: 20 } });
    await r.settle(() => hasVersion(r.source, 'DubboPlugin', 'auth', edited.metadata.resourceVersion), 'the edit to reach the informer');
    const valid = named(r.last(), 'DubboPlugin', 'auth');
    t.match(valid?.resource, { order: 20 });
    // Two faults: a phase that does not exist, and a module next to grpc.
    const broken = r.cluster.patch('dubbo-mesh.io/v1alpha1', 'DubboPlugin', 'default', 'auth', { spec: { phases: ['before'], module: '/opt/auth.mjs' } });
    await r.settle(() => hasVersion(r.source, 'DubboPlugin', 'auth', broken.metadata.resourceVersion), 'the broken edit to reach the informer');
    t.equal(named(r.last(), 'DubboPlugin', 'auth'), valid, 'its last valid version stays, the same object');
    const [rejected, ...others] = r.source.rejectedResources();
    t.same(others, [], 'only the plugin is rejected');
    t.match(rejected, { kind: 'DubboPlugin', name: 'default/auth', origin: 'kubernetes DubboPlugin default/auth', lastValidInForce: true });
    t.equal(rejected!.errors.length, 2, 'every error');
    t.match(rejected!.errors.join('\n'), /DubboPlugin default\/auth: spec\.phases\[0\]: must be one of request, response/);
    t.match(rejected!.errors.join('\n'), /DubboPlugin default\/auth: spec: must have exactly one of grpc, module/);

    // Its status, as the leader writes it.
    const writer = new StatusWriter({ source: r.source, kubeConfig: r.cluster.kubeConfig(), leadership: ALWAYS_LEADER, clock: r.clock });
    t.teardown(() => writer.stop());
    await writer.sync();
    const conditions = (r.cluster.get('dubbo-mesh.io/v1alpha1', 'DubboPlugin', 'default', 'auth')?.status as { conditions?: Array<Record<string, unknown>> })
      ?.conditions;
    t.match(
      conditions,
      [{ type: 'Accepted', status: 'False', reason: 'Invalid', message: rejected!.errors.join('; ') }],
      'Accepted False, every error in the message',
    );

    r.cluster.remove('dubbo-mesh.io/v1alpha1', 'DubboPlugin', 'default', 'auth');
    await r.settle(() => !r.source.objects('DubboPlugin').some((o) => o.metadata?.name === 'auth'), 'the deletion to reach the informer');
    t.notOk(named(r.last(), 'DubboPlugin', 'auth'), 'deleted: gone, last valid version and all');
    t.same(r.source.rejectedResources(), [], 'nothing rejected any more');
  },
);
