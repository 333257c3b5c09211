// Dubbo's consumer-side service key matching in the routing table (version `*`, group `*`,
// group lists, an empty group or version against an absent one), the decisions of calls that
// match several services, and the per-endpoint keys of a DubboService (endpoint `interfaces`):
// the clusters a key's calls reach hold only the endpoints that provide it.
import t, { type Test } from 'tap';
import { encodeRequestBody, peekRequest, type RequestPeek } from '@dubbo-mesh/protocol';
import { ClusterManager, ProxyStats, RoutingTable, drawDestination, keyMatchesPattern, type RouteDecision } from '@dubbo-mesh/proxy';
import { buildConfig } from './fixtures/mesh.js';

const FOO = 'org.example.Foo';
const BAR = 'org.example.Bar';

function service(name: string, interfaces: unknown[], endpoints: unknown[] = [{ address: '10.0.0.1:20880' }]): object {
  return { apiVersion: 'dubbo-mesh.io/v1alpha1', kind: 'DubboService', metadata: { name }, spec: { interfaces, endpoints } };
}

/** `count` endpoints 10.0.<n>.1…, with the given fields. */
function endpoints(n: number, count: number, fields: object = {}): object[] {
  return Array.from({ length: count }, (_, i) => ({ address: `10.0.${n}.${i + 1}:20880`, ...fields }));
}

function call(options: { iface?: string; group?: string; version?: string } = {}): RequestPeek {
  const attachments: Record<string, unknown> = {};
  if (options.group !== undefined) attachments.group = options.group;
  const body = encodeRequestBody({
    path: options.iface ?? FOO,
    version: options.version ?? '1.0.0',
    method: 'get',
    parameterTypes: ['long'],
    arguments: [1],
    attachments,
  });
  return peekRequest(body, {});
}

/** The decision's destinations as `service[/subset][ [keys]]=weight`. */
function described(decision: RouteDecision | undefined): string[] {
  if (decision === undefined) return [];
  return decision.destinations.map(
    (d) =>
      `${d.serviceId.replace('default/', '')}${d.subset === undefined ? '' : `/${d.subset}`}${d.keyFilter === undefined ? '' : ` [${d.keyFilter.name}]`}=${d.weight}`,
  );
}

t.test('the matching table: a call key against a pattern, as Dubbo consumers match providers', async (t) => {
  const cases: Array<[pattern: { group?: string; version?: string }, group: string, version: string, expected: boolean]> = [
    // Versions: `*` matches any, else exact; no version ('') never matches a versioned pattern.
    [{ version: '1.0.0' }, '', '1.0.0', true],
    [{ version: '1.0.0' }, '', '2.0.0', false],
    [{ version: '1.0.0' }, '', '*', true],
    [{ version: '1.0.0' }, '', '', false],
    [{ version: '' }, '', '', true],
    [{ version: '' }, '', '*', true],
    [{ version: '' }, '', '1.0.0', false],
    [{}, '', '', true],
    [{}, '', '1.0.0', true],
    [{}, '', '*', true],
    // Groups: `*` matches any (also none), a list any of its entries, else exact.
    [{ group: 'g1' }, 'g1', '1.0.0', true],
    [{ group: 'g1' }, 'g2', '1.0.0', false],
    [{ group: 'g1' }, '', '1.0.0', false],
    [{ group: 'g1' }, '*', '1.0.0', true],
    [{ group: 'g1' }, 'g0,g1', '1.0.0', true],
    [{ group: 'g1' }, 'g0, g1', '1.0.0', true],
    [{ group: 'g1' }, 'g0,g2', '1.0.0', false],
    [{ group: 'g1' }, 'g1x', '1.0.0', false],
    [{ group: 'g0,g1' }, 'g0,g1', '1.0.0', true],
    [{ group: '' }, '', '1.0.0', true],
    [{ group: '' }, '*', '1.0.0', true],
    [{ group: '' }, 'g1', '1.0.0', false],
    [{ group: '' }, 'g1,', '1.0.0', false],
    [{ group: '' }, ',', '1.0.0', false],
    [{}, 'g1', '1.0.0', true],
    [{}, 'a,b', '1.0.0', true],
    // Both must hold.
    [{ group: 'g1', version: '1.0.0' }, '*', '*', true],
    [{ group: 'g1', version: '1.0.0' }, 'g1', '', false],
    [{ group: 'g1', version: '1.0.0' }, 'g2,g3', '*', false],
  ];
  for (const [pattern, group, version, expected] of cases) {
    t.equal(
      keyMatchesPattern({ interface: FOO, ...pattern }, FOO, group, version),
      expected,
      `${JSON.stringify(pattern)} ← group '${group}' version '${version}'`,
    );
  }
  t.equal(keyMatchesPattern({ interface: FOO }, BAR, '*', '*'), false, 'the interface is always exact');
});

t.test('through the routing table: wire 0.0.0 is no version; empty and absent patterns; wildcards and lists find services', async (t) => {
  const table = new RoutingTable(
    buildConfig([
      service('unversioned', [{ interface: FOO, group: '', version: '' }]),
      service('one', [{ interface: FOO, group: '', version: '1.0.0' }]),
      service('grouped', [{ interface: FOO, group: 'g1', version: '1.0.0' }]),
      service('any', [BAR]),
    ]),
    'v1',
  );
  const to = (options: Parameters<typeof call>[0]) => described(table.route(call(options)));
  t.same(to({ version: '0.0.0' }), ['unversioned=1'], 'wire 0.0.0: only the pattern with version ""');
  t.same(to({ version: '' }), ['unversioned=1'], 'no version at all: the same');
  t.same(to({ version: '1.0.0' }), ['one=1'], 'exact');
  t.same(to({ version: '2.0.0' }), [], 'no pattern has 2.0.0: not found');
  t.same(to({ group: 'g1', version: '1.0.0' }), ['grouped=1']);
  t.same(to({ group: 'g2,g1', version: '1.0.0' }), ['grouped=1'], 'a group list');
  t.same(to({ group: 'g2,g3', version: '1.0.0' }), [], 'a list naming no group provided');
  t.same(to({ group: 'g1', version: '*' }), ['grouped=1'], 'version * in one group');
  t.same(to({ iface: BAR, group: 'whatever', version: '0.0.0' }), ['any=1'], 'absent group and version: anything, as before');
  t.same(to({ iface: BAR, group: '*', version: '*' }), ['any=1']);
});

t.test('a call matching several services: one destination each, by id, weighted by their endpoints; the most specific pattern still wins', async (t) => {
  const table = new RoutingTable(
    buildConfig([
      service('c-grouped', [{ interface: FOO, group: 'g1', version: '1.0.0' }], endpoints(3, 2)),
      service('a-one', [{ interface: FOO, group: '', version: '1.0.0' }], endpoints(1, 3)),
      service('b-two', [{ interface: FOO, group: '', version: '2.0.0' }], endpoints(2, 1)),
      service('d-open', [FOO], endpoints(4, 5)),
    ]),
    'v1',
  );
  const to = (options: Parameters<typeof call>[0]) => described(table.route(call(options)));
  t.same(to({ version: '1.0.0' }), ['a-one=1'], 'an exact key: one service, as before');
  t.same(to({ version: '*' }), ['a-one=3', 'b-two=1'], 'version *: both versions of no group, not the open pattern (less specific)');
  t.same(to({ group: '*', version: '1.0.0' }), ['a-one=3', 'c-grouped=2'], 'group *: every group of 1.0.0, none included');
  t.same(to({ group: '*', version: '*' }), ['a-one=3', 'b-two=1', 'c-grouped=2']);
  t.same(to({ group: 'g1,g9', version: '*' }), ['c-grouped=1'], 'a list that one service matches: a plain decision');
  t.same(to({ group: 'g9', version: '9' }), ['d-open=1'], 'only the open pattern matches');
  const decision = table.route(call({ group: '*', version: '*' }))!;
  t.equal(decision.rule, 'default');
  t.equal(decision.totalWeight, 6);
  t.same(decision.cumulativeWeights, [3, 4, 6]);
  const counts: Record<string, number> = {};
  for (let i = 0; i < 600; i++) {
    const id = drawDestination(decision, i / 600).serviceId;
    counts[id] = (counts[id] ?? 0) + 1;
  }
  t.same(counts, { 'default/a-one': 300, 'default/b-two': 100, 'default/c-grouped': 200 }, 'the draw follows the endpoint counts');
  t.equal(table.route(call({ group: '*', version: '*' })), decision, 'cached per key like any decision');
});

const APP_INTERFACES = [
  { interface: FOO, group: '', version: '1.0.0' },
  { interface: FOO, group: '', version: '2.0.0' },
  { interface: FOO, group: '', version: '3.0.0' },
  { interface: BAR, group: '', version: '1.0.0' },
];

/** One application in a rolling upgrade: old instances serve Foo 1.0.0 and Bar, new ones Foo 2.0.0 and Bar, one serves all. */
function appConfig(extra: object[] = []) {
  return buildConfig([
    service('app', APP_INTERFACES, [
      { address: '10.1.0.1:20880', labels: { color: 'blue' }, interfaces: [APP_INTERFACES[0], APP_INTERFACES[3]] },
      { address: '10.1.0.2:20880', labels: { color: 'green' }, interfaces: [APP_INTERFACES[0], APP_INTERFACES[3]] },
      { address: '10.1.0.3:20880', labels: { color: 'blue' }, interfaces: [APP_INTERFACES[1], APP_INTERFACES[3]] },
      { address: '10.1.0.4:20880', labels: { color: 'green' }, interfaces: [APP_INTERFACES[1], APP_INTERFACES[3]] },
    ]),
    service('plain', [{ interface: FOO, group: 'other' }], endpoints(5, 2)),
    {
      apiVersion: 'dubbo-mesh.io/v1alpha1',
      kind: 'DubboPolicy',
      metadata: { name: 'app' },
      spec: { service: 'app', subsets: [{ name: 'blue', labels: { color: 'blue' } }] },
    },
    ...extra,
  ]);
}

function manager(t: Test, table: RoutingTable): ClusterManager {
  const clusters = new ClusterManager({ maxPayload: 1 << 20, heartbeatIntervalMs: 60_000, stats: new ProxyStats(), removedEndpointGraceMs: 0 });
  t.teardown(() => clusters.close());
  clusters.apply(table);
  return clusters;
}

t.test('per-endpoint keys: the default decision of a key reaches only the endpoints that provide it', async (t) => {
  const table = new RoutingTable(appConfig(), 'v1');
  const clusters = manager(t, table);
  const reached = (options: Parameters<typeof call>[0]) => {
    const decision = table.route(call(options))!;
    const cluster = clusters.clusterOf(decision.destinations[0]!)!;
    return { name: cluster.name, members: cluster.members.map((m) => m.id) };
  };
  t.same(reached({ version: '1.0.0' }), { name: 'default/app [org.example.Foo:1.0.0]', members: ['10.1.0.1:20880', '10.1.0.2:20880'] });
  t.same(reached({ version: '2.0.0' }), { name: 'default/app [org.example.Foo:2.0.0]', members: ['10.1.0.3:20880', '10.1.0.4:20880'] });
  t.same(reached({ version: '3.0.0' }), { name: 'default/app [org.example.Foo:3.0.0]', members: [] }, 'a key no endpoint provides: an empty cluster naming it');
  const bar = table.route(call({ iface: BAR, version: '1.0.0' }))!;
  t.equal(bar.destinations[0]!.keyFilter, undefined, 'every endpoint provides Bar: the plain destination');
  t.equal(clusters.clusterOf(bar.destinations[0]!)!.name, 'default/app');
  const wildcard = table.route(call({ version: '*' }))!;
  t.same(described(wildcard), ['app=1'], 'version *: every Foo key, one of which every endpoint provides: the plain destination');
  t.equal(clusters.clusterOf(wildcard.destinations[0]!)!.members.length, 4);
  const sameKeys = table.route(call({ group: '*', version: '1.0.0' }))!;
  t.not(sameKeys, table.route(call({ version: '1.0.0' })), 'another call key, another decision');
  t.equal(
    clusters.clusterOf(sameKeys.destinations[0]!),
    clusters.clusterOf(table.route(call({ version: '1.0.0' }))!.destinations[0]!),
    'call keys that match the same patterns share one cluster',
  );
  t.same(reached({ version: '1.0.0' }).members, ['10.1.0.1:20880', '10.1.0.2:20880'], 'and again (cached)');
  t.same(
    clusters
      .allClusters()
      .map((c) => c.name)
      .sort(),
    ['default/app', 'default/app [org.example.Foo:1.0.0]', 'default/app [org.example.Foo:2.0.0]', 'default/app [org.example.Foo:3.0.0]'],
    'readable names, one cluster per set of keys',
  );
});

t.test('a service without per-endpoint keys: the same destinations and clusters as before', async (t) => {
  const table = new RoutingTable(
    appConfig([
      {
        apiVersion: 'dubbo-mesh.io/v1alpha1',
        kind: 'DubboRoute',
        metadata: { name: 'r' },
        spec: { hosts: [BAR], routes: [{ name: 'to-plain', destinations: [{ service: 'plain', weight: 1 }] }] },
      },
    ]),
    'v1',
  );
  const clusters = manager(t, table);
  const a = table.route(call({ iface: BAR, version: '1.0.0' }))!;
  const b = table.route(call({ iface: BAR, version: '9.9.9' }))!;
  t.not(a, b);
  t.equal(a.destinations, b.destinations, "a route's destinations are its own array, shared by every key");
  t.equal(a.destinations[0]!.keyFilter, undefined);
  t.equal(clusters.clusterOf(a.destinations[0]!)!.name, 'default/plain');
  const plain = table.route(call({ group: 'other', version: '7' }))!;
  t.same(described(plain), ['plain=1']);
  t.equal(clusters.clusterOf(plain.destinations[0]!), clusters.clusterOf(a.destinations[0]!), 'the one cluster of the service');
});

t.test('a DubboRoute destination to a service with per-endpoint keys is filtered by the call key, subsets included', async (t) => {
  const table = new RoutingTable(
    appConfig([
      {
        apiVersion: 'dubbo-mesh.io/v1alpha1',
        kind: 'DubboRoute',
        metadata: { name: 'r' },
        spec: {
          hosts: ['org.example.*'],
          routes: [
            {
              name: 'split',
              destinations: [
                { service: 'app', subset: 'blue', weight: 30 },
                { service: 'app', weight: 60 },
                { service: 'plain', weight: 10 },
              ],
            },
          ],
        },
      },
    ]),
    'v1',
  );
  const clusters = manager(t, table);
  const members = (decision: RouteDecision) =>
    decision.destinations.map((d) => {
      const cluster = clusters.clusterOf(d)!;
      return `${cluster.name}: ${cluster.members.map((m) => m.id).join(' ')}`;
    });
  const v2 = table.route(call({ version: '2.0.0' }))!;
  t.equal(v2.rule, 'split');
  t.same(v2.cumulativeWeights, [30, 90, 100], 'weights unchanged');
  t.same(members(v2), [
    'default/app/blue [org.example.Foo:2.0.0]: 10.1.0.3:20880',
    'default/app [org.example.Foo:2.0.0]: 10.1.0.3:20880 10.1.0.4:20880',
    'default/plain: 10.0.5.1:20880 10.0.5.2:20880',
  ]);
  const v1 = table.route(call({ version: '1.0.0' }))!;
  t.same(members(v1).slice(0, 2), [
    'default/app/blue [org.example.Foo:1.0.0]: 10.1.0.1:20880',
    'default/app [org.example.Foo:1.0.0]: 10.1.0.1:20880 10.1.0.2:20880',
  ]);
  t.equal(v1.destinations[2], v2.destinations[2], 'the destination to the service without keys stays the route’s own object');
  t.same(
    members(table.route(call({ iface: BAR, version: '1.0.0' }))!).slice(0, 2),
    ['default/app/blue: 10.1.0.1:20880 10.1.0.3:20880', 'default/app: 10.1.0.1:20880 10.1.0.2:20880 10.1.0.3:20880 10.1.0.4:20880'],
    'a key every endpoint provides: the plain clusters',
  );
  const other = table.route(call({ iface: 'org.example.Other', version: '1.0.0' }))!;
  t.same(
    members(other).slice(0, 2),
    ['default/app/blue [none of its keys]: ', 'default/app [none of its keys]: '],
    'a key the service does not declare: only endpoints that provide every key (none here)',
  );
  const names = clusters.allClusters().map((c) => c.name);
  t.equal(new Set(names).size, names.length, 'no two clusters share a name');
  t.ok(names.includes('default/app/blue') && names.includes('default/app/blue [org.example.Foo:2.0.0]'), 'subset clusters and keyed subset clusters apart');
});

t.test('a wildcard call over services with per-endpoint keys: each weighted by the endpoints that provide the key', async (t) => {
  const table = new RoutingTable(
    buildConfig([
      service('app', APP_INTERFACES, [
        { address: '10.1.0.1:20880', interfaces: [APP_INTERFACES[0]] },
        { address: '10.1.0.2:20880', interfaces: [APP_INTERFACES[1]] },
        { address: '10.1.0.3:20880', interfaces: [APP_INTERFACES[3]] },
      ]),
      service('other', [{ interface: FOO, group: '', version: '4.0.0' }], endpoints(6, 3)),
    ]),
    'v1',
  );
  const clusters = manager(t, table);
  const decision = table.route(call({ version: '*' }))!;
  t.same(
    described(decision),
    ['app [org.example.Foo:1.0.0, org.example.Foo:2.0.0, org.example.Foo:3.0.0]=2', 'other=3'],
    'the Bar-only endpoint counts for no Foo call',
  );
  t.same(
    clusters.clusterOf(decision.destinations[0]!)!.members.map((m) => m.id),
    ['10.1.0.1:20880', '10.1.0.2:20880'],
  );
  t.same(described(table.route(call({ version: '4.0.0' }))), ['other=1']);
});
