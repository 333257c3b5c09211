// The cluster manager's lookups: destinations resolve against the snapshot in force, also
// when the same destination object is asked for again after a swap.
import t from 'tap';
import { ClusterManager, NARROWED_PICKERS_LIMIT, ProxyStats, RoutingTable, type ClusterMember } from '@dubbo-mesh/proxy';
import { buildConfig } from './fixtures/mesh.js';

function config(addresses: Record<string, string>) {
  return buildConfig([
    {
      apiVersion: 'dubbo-mesh.io/v1alpha1',
      kind: 'DubboService',
      metadata: { name: 'svc' },
      spec: { interfaces: ['org.example.Api'], endpoints: Object.entries(addresses).map(([address, version]) => ({ address, labels: { version } })) },
    },
    {
      apiVersion: 'dubbo-mesh.io/v1alpha1',
      kind: 'DubboPolicy',
      metadata: { name: 'svc' },
      spec: {
        service: 'svc',
        subsets: [
          { name: 'v1', labels: { version: 'v1' } },
          { name: 'v2', labels: { version: 'v2' } },
        ],
      },
    },
  ]);
}

t.test('a destination resolves to the cluster of the snapshot in force, before and after a swap', async (t) => {
  const manager = new ClusterManager({ maxPayload: 1 << 20, heartbeatIntervalMs: 60_000, stats: new ProxyStats(), removedEndpointGraceMs: 0 });
  t.teardown(() => manager.close());
  const members = (destination: { serviceId: string; subset: string | undefined }) =>
    manager
      .clusterOf(destination)
      ?.members.map((m) => m.id)
      .sort();
  manager.apply(new RoutingTable(config({ '127.0.0.1:1001': 'v1', '127.0.0.1:1002': 'v2' }), 'a'));
  const v1 = { serviceId: 'default/svc', subset: 'v1' };
  const v2 = { serviceId: 'default/svc', subset: 'v2' };
  const all = { serviceId: 'default/svc', subset: undefined };
  t.same(members(v1), ['127.0.0.1:1001']);
  t.same(members(v2), ['127.0.0.1:1002']);
  t.same(members(all), ['127.0.0.1:1001', '127.0.0.1:1002']);
  t.equal(manager.clusterOf(v1), manager.clusterOf(v1), 'the same cluster object while the snapshot stays');
  t.equal(manager.clusterOf({ serviceId: 'default/svc', subset: 'v3' }), undefined, 'an unknown subset');
  manager.apply(new RoutingTable(config({ '127.0.0.1:1003': 'v1', '127.0.0.1:1002': 'v2' }), 'b'));
  t.same(members(v1), ['127.0.0.1:1003'], "the same destination object after a swap: the new snapshot's members");
  t.same(members(all), ['127.0.0.1:1002', '127.0.0.1:1003']);
  for (let i = 0; i < 20; i++) manager.clusterOf({ serviceId: 'default/svc', subset: i % 2 === 0 ? 'v1' : 'v2' }); // more destinations than are remembered
  t.same(members(v2), ['127.0.0.1:1002']);
});

t.test('pickAmong: one picker per narrowed set and epoch, rebuilt when availability changes', async (t) => {
  const manager = new ClusterManager({ maxPayload: 1 << 20, heartbeatIntervalMs: 60_000, stats: new ProxyStats(), removedEndpointGraceMs: 0 });
  t.teardown(() => manager.close());
  manager.apply(new RoutingTable(config({ '127.0.0.1:1001': 'v1', '127.0.0.1:1002': 'v1', '127.0.0.1:1003': 'v2' }), 'a'));
  const cluster = manager.clusterOf({ serviceId: 'default/svc', subset: undefined })!;
  const v1 = () => cluster.members.filter((member) => member.labels.version === 'v1');
  const pick = (members: readonly ClusterMember[]) => {
    const picked = cluster.pickAmong(members, {}, manager.epoch);
    return typeof picked === 'string' ? picked : picked.id;
  };
  const builds = cluster.pickerBuilds;
  const picked = new Set<string>();
  for (let i = 0; i < 50; i++) picked.add(pick(v1())); // a new array every call, the same set
  t.same([...picked].sort(), ['127.0.0.1:1001', '127.0.0.1:1002'], 'only the kept members are picked');
  t.equal(cluster.pickerBuilds, builds + 1, 'one picker for 50 picks of one set given as new arrays');
  pick([...v1()].reverse());
  t.equal(cluster.pickerBuilds, builds + 1, 'the same set in another order is the same set');
  pick(cluster.members);
  t.equal(cluster.pickerBuilds, builds + 2, 'the whole cluster uses its own picker');
  // 1001 goes READONLY: availability changes, the set's picker is rebuilt once, without it.
  const first = cluster.members.find((member) => member.id === '127.0.0.1:1001')!;
  first.upstream.readonly = true;
  manager.epoch += 1;
  const after = new Set<string>();
  for (let i = 0; i < 20; i++) after.add(pick(v1()));
  t.same([...after], ['127.0.0.1:1002']);
  t.equal(cluster.pickerBuilds, builds + 3);
  cluster.members.find((member) => member.id === '127.0.0.1:1002')!.upstream.readonly = true;
  manager.epoch += 1;
  t.match(
    pick(v1()),
    /all 2 endpoints are unavailable \(127\.0\.0\.1:1001 sent READONLY; 127\.0\.0\.1:1002 sent READONLY\)/,
    'none of the set available: why, naming the set only',
  );
  const other = new ClusterManager({ maxPayload: 1 << 20, heartbeatIntervalMs: 60_000, stats: new ProxyStats(), removedEndpointGraceMs: 0 });
  t.teardown(() => other.close());
  other.apply(new RoutingTable(config({ '127.0.0.1:2001': 'v1' }), 'b'));
  const foreign = other.clusterOf({ serviceId: 'default/svc', subset: undefined })!.members;
  t.equal(pick(foreign), 'it has no endpoints', 'members of another cluster are ignored');
});

t.test('pickAmong keeps at most NARROWED_PICKERS_LIMIT sets', async (t) => {
  const manager = new ClusterManager({ maxPayload: 1 << 20, heartbeatIntervalMs: 60_000, stats: new ProxyStats(), removedEndpointGraceMs: 0 });
  t.teardown(() => manager.close());
  const addresses = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`127.0.0.1:${3000 + i}`, 'v1']));
  manager.apply(new RoutingTable(config(addresses), 'a'));
  const cluster = manager.clusterOf({ serviceId: 'default/svc', subset: undefined })!;
  const subsets = Array.from({ length: NARROWED_PICKERS_LIMIT + 10 }, (_, mask) => cluster.members.filter((_member, i) => ((mask + 1) & (1 << i)) !== 0));
  for (const subset of subsets) cluster.pickAmong(subset, {}, manager.epoch);
  const builds = cluster.pickerBuilds;
  cluster.pickAmong(subsets[subsets.length - 1]!, {}, manager.epoch);
  t.equal(cluster.pickerBuilds, builds, 'a recent set is still cached');
  cluster.pickAmong(subsets[0]!, {}, manager.epoch);
  t.equal(cluster.pickerBuilds, builds + 1, 'the oldest went when the cache started over');
});

t.test('pickAmong recognises a set by its members, not by the array: a narrowing may refill one scratch array', async (t) => {
  for (const size of [3, 40]) {
    const manager = new ClusterManager({ maxPayload: 1 << 20, heartbeatIntervalMs: 60_000, stats: new ProxyStats(), removedEndpointGraceMs: 0 });
    t.teardown(() => manager.close());
    manager.apply(
      new RoutingTable(config(Object.fromEntries(Array.from({ length: size }, (_, i) => [`127.0.0.1:${4000 + i}`, i % 2 === 0 ? 'v1' : 'v2']))), 'a'),
    );
    const cluster = manager.clusterOf({ serviceId: 'default/svc', subset: undefined })!;
    const byId = (port: number) => cluster.members.find((member) => member.id === `127.0.0.1:${port}`)!;
    const scratch: ClusterMember[] = [];
    const narrow = (...ports: number[]) => {
      scratch.length = 0;
      for (const port of ports) scratch.push(byId(port));
      return scratch;
    };
    const pick = (members: readonly ClusterMember[]) => {
      const picked = cluster.pickAmong(members, {}, manager.epoch);
      return typeof picked === 'string' ? picked : picked.id;
    };
    t.same(
      [pick(narrow(4000)), pick(narrow(4002)), pick(narrow(4002)), pick(narrow(4000))],
      ['127.0.0.1:4000', '127.0.0.1:4002', '127.0.0.1:4002', '127.0.0.1:4000'],
      `${size} members: each pick from the set the scratch array holds now`,
    );
    // Random picks over two endpoints: 200 of them all landing on one happens with
    // probability 2^-199 (never), where 10 did once in ~500 runs.
    const picked = new Set<string>();
    for (let i = 0; i < 200; i++) picked.add(pick(narrow(4000, 4001)));
    t.same([...picked].sort(), ['127.0.0.1:4000', '127.0.0.1:4001'], `${size} members: a grown scratch array`);
    t.equal(pick(narrow(4001)), '127.0.0.1:4001', `${size} members: shrunk again`);
    t.equal(pick(narrow(4002, 4002)), '127.0.0.1:4002', `${size} members: a member given twice counts once`);
    const builds = cluster.pickerBuilds;
    for (let i = 0; i < 20; i++) pick(cluster.members.filter((member) => member.labels.version === 'v1'));
    for (let i = 0; i < 20; i++) pick(narrow(4000));
    t.equal(cluster.pickerBuilds, builds + 1, `${size} members: sets seen before build nothing; a new one (v1) builds once for 20 new arrays`);
  }
});

function ingressConfig(rules: Array<{ host: string; addresses: string[] }>) {
  return buildConfig([
    {
      apiVersion: 'dubbo-mesh.io/v1alpha1',
      kind: 'DubboService',
      metadata: { name: 'svc' },
      spec: { interfaces: ['org.example.Api'], endpoints: [{ address: '127.0.0.1:1001' }] },
    },
    {
      apiVersion: 'dubbo-mesh.io/v1alpha1',
      kind: 'DubboPolicy',
      metadata: { name: 'svc' },
      spec: { service: 'svc', loadBalancer: { policy: 'least-active' }, connectionPool: { maxRequests: 7 } },
    },
    {
      apiVersion: 'dubbo-mesh.io/v1alpha1',
      kind: 'DubboIngress',
      metadata: { name: 'edge' },
      spec: {
        rules: rules.map(({ host, addresses }) => ({
          host,
          service: host === 'svc-app' ? 'svc' : 'plain',
          endpoints: addresses.map((address) => ({ address })),
        })),
      },
    },
  ]);
}

t.test("a DubboIngress rule's cluster: its own endpoints, its service's policy; kept endpoints stay, a gone rule's go", async (t) => {
  const manager = new ClusterManager({ maxPayload: 1 << 20, heartbeatIntervalMs: 60_000, stats: new ProxyStats(), removedEndpointGraceMs: 0 });
  t.teardown(() => manager.close());
  const svcApp = { serviceId: 'default/svc (ingress svc-app)', subset: undefined };
  const plainApp = { serviceId: 'default/plain (ingress plain-app)', subset: undefined };
  const ids = (destination: typeof svcApp) =>
    manager
      .clusterOf(destination)
      ?.members.map((m) => m.id)
      .sort();
  manager.apply(
    new RoutingTable(
      ingressConfig([
        { host: 'svc-app', addresses: ['127.0.0.1:2001', '127.0.0.1:2002'] },
        { host: 'plain-app', addresses: ['127.0.0.1:3001'] },
      ]),
      'a',
    ),
  );
  t.same(
    manager
      .allEndpoints()
      .map((e) => e.id)
      .sort(),
    ['127.0.0.1:1001', '127.0.0.1:2001', '127.0.0.1:2002', '127.0.0.1:3001'],
    "the rules' endpoints are the manager's from the snapshot on",
  );
  t.same(ids(svcApp), ['127.0.0.1:2001', '127.0.0.1:2002'], "the rule's endpoints, not its service's");
  const cluster = manager.clusterOf(svcApp)!;
  t.equal(cluster.name, 'default/svc (ingress svc-app)');
  t.equal(cluster.loadBalancer.policy, 'least-active', "the DubboPolicy of the service the rule's Service names");
  t.equal(cluster.pool.maxRequests, 7);
  t.equal(manager.clusterOf(plainApp)!.loadBalancer.policy, 'random', 'no such policy: the defaults');
  const kept = manager.allEndpoints().find((e) => e.id === '127.0.0.1:2002')!;
  manager.apply(new RoutingTable(ingressConfig([{ host: 'svc-app', addresses: ['127.0.0.1:2002', '127.0.0.1:2003'] }]), 'b'));
  t.same(ids(svcApp), ['127.0.0.1:2002', '127.0.0.1:2003'], 'endpoints that changed: the cluster of the new snapshot has them');
  t.equal(
    manager.allEndpoints().find((e) => e.id === '127.0.0.1:2002'),
    kept,
    'an endpoint the rule still lists is the same endpoint, with its connections and state',
  );
  t.equal(manager.clusterOf(plainApp), undefined, 'a rule that disappeared has no cluster');
  t.same(
    manager
      .allEndpoints()
      .map((e) => e.id)
      .sort(),
    ['127.0.0.1:1001', '127.0.0.1:2002', '127.0.0.1:2003'],
    'endpoints no rule lists any more leave (closed after the grace period)',
  );
});

t.test("an endpoint a mesh service and an Ingress rule share keeps the service's pool and health check, whichever cluster is built last", async (t) => {
  const manager = new ClusterManager({ maxPayload: 1 << 20, heartbeatIntervalMs: 60_000, stats: new ProxyStats(), removedEndpointGraceMs: 0 });
  t.teardown(() => manager.close());
  const config = buildConfig([
    {
      apiVersion: 'dubbo-mesh.io/v1alpha1',
      kind: 'DubboService',
      metadata: { name: 'users' },
      spec: { interfaces: ['org.example.Api'], endpoints: [{ address: '127.0.0.1:1' }] },
    },
    {
      apiVersion: 'dubbo-mesh.io/v1alpha1',
      kind: 'DubboPolicy',
      metadata: { name: 'users' },
      spec: { service: 'users', connectionPool: { maxConnections: 1, maxPendingRequests: 3 }, healthCheck: { interval: '1s' } },
    },
    // The rule names another Service (no policy) but reaches the same pod.
    {
      apiVersion: 'dubbo-mesh.io/v1alpha1',
      kind: 'DubboIngress',
      metadata: { name: 'edge' },
      spec: { rules: [{ host: 'users-app', service: 'users-svc', endpoints: [{ address: '127.0.0.1:1' }] }] },
    },
  ]);
  manager.apply(new RoutingTable(config, 'a'));
  const endpoint = () => manager.allEndpoints().find((e) => e.id === '127.0.0.1:1')!;
  const check = (when: string) => {
    t.equal(endpoint().settings.maxConnections, 1, `${when}: the service's pool`);
    t.equal(endpoint().settings.maxPendingRequests, 3, `${when}: the service's pending limit`);
    t.equal(endpoint().healthCheckConfig?.intervalMs, 1000, `${when}: the service's health check`);
  };
  check('after apply');
  manager.clusterOf({ serviceId: 'default/users-svc (ingress users-app)', subset: undefined });
  check('after the Ingress cluster is built');
  manager.cluster('default/users', undefined);
  manager.clusterOf({ serviceId: 'default/users-svc (ingress users-app)', subset: undefined });
  check('after both, the Ingress cluster last');
});
