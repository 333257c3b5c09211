// Dubbo's consumer-side service key matching in the routing table (version `*`, group `*`,
// group lists, an empty group or version against an absent one), the decisions of calls that
// match several services, and the per-endpoint keys of a DubboService (endpoint `interfaces`):
// the clusters a key's calls reach hold only the endpoints that provide it.
import t, { type Test } from 'tap';
import { encodeRequestBody, peekRequest, type RequestPeek } from '@dubbo-mesh/protocol';
import {
  ClusterManager,
  ProxyStats,
  RoutingTable,
  drawDestination,
  drawOtherDestination,
  keyMatchesPattern,
  type RouteDecision,
  type RouteDestination,
} from '@dubbo-mesh/proxy';
import { seededRandom } from '@dubbo-mesh/test-support';
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

/** The decision's destinations as `service[/subset][ [keys]][ as group:version]=weight` (`-` for no group or version). */
function described(decision: RouteDecision | undefined): string[] {
  if (decision === undefined) return [];
  return decision.destinations.map((d) => {
    const keys = d.keyFilter === undefined ? '' : ` [${d.keyFilter.name}]`;
    const sent = d.rewrite === undefined ? '' : ` as ${d.rewrite.group || '-'}:${d.rewrite.version || '-'}`;
    return `${d.serviceId.replace('default/', '')}${d.subset === undefined ? '' : `/${d.subset}`}${keys}${sent}=${d.weight}`;
  });
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
  t.same(to({ group: 'g2,g1', version: '1.0.0' }), ['grouped as g1:1.0.0=100'], 'a group list: sent as the provider’s own group');
  t.same(to({ group: 'g2,g3', version: '1.0.0' }), [], 'a list naming no group provided');
  t.same(to({ group: 'g1', version: '*' }), ['grouped as g1:1.0.0=100'], 'version * in one group: sent as the provider’s version');
  t.same(to({ iface: BAR, group: 'whatever', version: '0.0.0' }), ['any=1'], 'absent group and version: anything, as before');
  t.same(to({ iface: BAR, group: '*', version: '*' }), ['any=1']);
});

t.test(
  'a call matching several services: one destination each, by id, weighted by their endpoints’ weights; the most specific pattern still wins',
  async (t) => {
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
    t.same(
      to({ version: '*' }),
      ['a-one as -:1.0.0=300', 'b-two as -:2.0.0=100'],
      'version *: both versions of no group, not the open pattern (less specific)',
    );
    t.same(to({ group: '*', version: '1.0.0' }), ['a-one as -:1.0.0=300', 'c-grouped as g1:1.0.0=200'], 'group *: every group of 1.0.0, none included');
    t.same(to({ group: '*', version: '*' }), ['a-one as -:1.0.0=300', 'b-two as -:2.0.0=100', 'c-grouped as g1:1.0.0=200']);
    t.same(to({ group: 'g1,g9', version: '*' }), ['c-grouped as g1:1.0.0=200'], 'a list that one service matches: one destination, sent as its key');
    t.same(to({ group: 'g9', version: '9' }), ['d-open=1'], 'only the open pattern matches');
    const decision = table.route(call({ group: '*', version: '*' }))!;
    t.equal(decision.rule, 'default');
    t.equal(decision.totalWeight, 600);
    t.same(decision.cumulativeWeights, [300, 400, 600]);
    t.equal(decision.failover, true, 'a wildcard decision with several destinations fails over');
    const counts: Record<string, number> = {};
    for (let i = 0; i < 600; i++) {
      const id = drawDestination(decision, i / 600).serviceId;
      counts[id] = (counts[id] ?? 0) + 1;
    }
    t.same(counts, { 'default/a-one': 300, 'default/b-two': 100, 'default/c-grouped': 200 }, 'the draw follows the endpoint weights');
    t.equal(table.route(call({ group: '*', version: '*' })), decision, 'cached per key like any decision');
  },
);

t.test('a wildcard call is split by endpoint weights (warm-up and weight 0 included), not endpoint counts', async (t) => {
  const table = new RoutingTable(
    buildConfig([
      // Ten instances warming up (weight 1) against one at full weight, as the importer writes them.
      service('a-warming', [{ interface: FOO, group: '', version: '1.0.0' }], endpoints(1, 10, { weight: 1 })),
      service('b-full', [{ interface: FOO, group: '', version: '2.0.0' }], endpoints(2, 1, { weight: 100 })),
      service('c-off', [{ interface: FOO, group: '', version: '3.0.0' }], endpoints(3, 4, { weight: 0 })),
    ]),
    'v1',
  );
  const decision = table.route(call({ version: '*' }))!;
  t.same(described(decision), ['a-warming as -:1.0.0=10', 'b-full as -:2.0.0=100', 'c-off as -:3.0.0=0']);
  const counts: Record<string, number> = {};
  for (let i = 0; i < 1100; i++) {
    const id = drawDestination(decision, i / 1100).serviceId;
    counts[id] = (counts[id] ?? 0) + 1;
  }
  t.same(counts, { 'default/a-warming': 100, 'default/b-full': 1000 }, 'about 91% to the instance at full weight; weight 0 never drawn');
  const allOff = new RoutingTable(
    buildConfig([
      service('c-off', [{ interface: FOO, group: '', version: '3.0.0' }], endpoints(3, 1, { weight: 0 })),
      service('d-off', [{ interface: FOO, group: '', version: '4.0.0' }], endpoints(4, 1, { weight: 0 })),
    ]),
    'v1',
  ).route(call({ version: '*' }))!;
  t.equal(allOff.totalWeight, 0);
  t.equal(drawDestination(allOff, 0.9).serviceId, 'default/c-off', 'weights all 0: the first, as for any decision');
  t.equal(drawOtherDestination(allOff, [allOff.destinations[0]!], 0.9)?.serviceId, 'default/d-off', 'then the next');
});

t.test('drawOtherDestination: by weight among those not skipped; undefined when none is left', async (t) => {
  const table = new RoutingTable(
    buildConfig([
      service('a', [{ interface: FOO, group: '', version: '1.0.0' }], endpoints(1, 1, { weight: 100 })),
      service('b', [{ interface: FOO, group: '', version: '2.0.0' }], endpoints(2, 1, { weight: 300 })),
      service('c', [{ interface: FOO, group: '', version: '3.0.0' }], endpoints(3, 1, { weight: 0 })),
    ]),
    'v1',
  );
  const decision = table.route(call({ version: '*' }))!;
  const [a, b, c] = decision.destinations as [RouteDestination, RouteDestination, RouteDestination];
  t.equal(drawOtherDestination(decision, [a], 0), b);
  t.equal(drawOtherDestination(decision, [a], 0.999), b, 'weight 0 is not drawn while another has weight');
  t.equal(drawOtherDestination(decision, [b], 0.2), a);
  t.equal(drawOtherDestination(decision, [b], 0.999), a);
  t.equal(drawOtherDestination(decision, [a, b], 0.5), c, 'only weight 0 left: it');
  t.equal(drawOtherDestination(decision, [a, b, c], 0.5), undefined);
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
  t.same(
    described(wildcard),
    ['app [org.example.Foo:1.0.0] as -:1.0.0=200', 'app [org.example.Foo:2.0.0] as -:2.0.0=200', 'app [org.example.Foo:3.0.0] as -:3.0.0=0'],
    'version *: one destination per Foo key, each to the endpoints that provide it, sent as that key',
  );
  t.same(
    wildcard.destinations.map((d) => clusters.clusterOf(d)!.members.map((m) => m.id)),
    [['10.1.0.1:20880', '10.1.0.2:20880'], ['10.1.0.3:20880', '10.1.0.4:20880'], []],
  );
  t.equal(
    clusters.clusterOf(wildcard.destinations[1]!),
    clusters.clusterOf(table.route(call({ version: '2.0.0' }))!.destinations[0]!),
    'the key’s own cluster',
  );
  const sameKeys = table.route(call({ group: '*', version: '1.0.0' }))!;
  t.same(described(sameKeys), ['app [org.example.Foo:1.0.0] as -:1.0.0=200'], 'group * of one key: sent with no group');
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
    [
      'app [org.example.Foo:1.0.0] as -:1.0.0=100',
      'app [org.example.Foo:2.0.0] as -:2.0.0=100',
      'app [org.example.Foo:3.0.0] as -:3.0.0=0',
      'other as -:4.0.0=300',
    ],
    'the Bar-only endpoint counts for no Foo call',
  );
  t.same(
    decision.destinations.map((d) => clusters.clusterOf(d)!.members.map((m) => m.id)),
    [['10.1.0.1:20880'], ['10.1.0.2:20880'], [], ['10.0.6.1:20880', '10.0.6.2:20880', '10.0.6.3:20880']],
  );
  t.same(described(table.route(call({ version: '4.0.0' }))), ['other=1']);
});

t.test('exact calls keep their plain decisions and objects: no rewrite, no failover, shared destinations', async (t) => {
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
  const plain = table.route(call({ group: 'other', version: '7' }))!;
  t.same(plain.destinations, [{ serviceId: 'default/plain', subset: undefined, weight: 1 }], 'the plain destination, with nothing added');
  t.notOk('failover' in plain, 'an exact call does not fail over');
  t.equal(table.route(call({ group: 'other', version: '7' })), plain, 'the same decision object');
  const a = table.route(call({ iface: BAR, version: '1.0.0' }))!;
  const b = table.route(call({ iface: BAR, version: '2.0.0' }))!;
  t.equal(a.destinations, b.destinations, 'a route’s own destinations array, shared by every exact key');
  t.notOk('failover' in a);
  const keyed = table.route(call({ version: '2.0.0' }))!;
  t.equal(keyed.destinations[0]!.rewrite, undefined, 'an exact key of a keyed service: filtered, never rewritten');
  t.equal(keyed.destinations[0]!.keyFilter!.name, 'org.example.Foo:2.0.0');
  t.equal(table.route(call({ version: '2.0.0' }))!.destinations[0], keyed.destinations[0], 'the same destination object');
});

t.test('a DubboRoute for a wildcard call: each destination split over its matched keys, the rule’s weights kept', async (t) => {
  const table = new RoutingTable(
    appConfig([
      {
        apiVersion: 'dubbo-mesh.io/v1alpha1',
        kind: 'DubboRoute',
        metadata: { name: 'r' },
        spec: {
          hosts: [FOO],
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
  const decision = table.route(call({ group: '*', version: '*' }))!;
  t.equal(decision.rule, 'split');
  t.same(described(decision), [
    'app/blue [org.example.Foo:1.0.0] as -:1.0.0=15',
    'app/blue [org.example.Foo:2.0.0] as -:2.0.0=15',
    'app/blue [org.example.Foo:3.0.0] as -:3.0.0=0',
    'app [org.example.Foo:1.0.0] as -:1.0.0=30',
    'app [org.example.Foo:2.0.0] as -:2.0.0=30',
    'app [org.example.Foo:3.0.0] as -:3.0.0=0',
    // `plain` serves Foo in group `other` at any version: the group is concrete, the version stays the call's.
    'plain as other:*=10',
  ]);
  t.equal(decision.totalWeight, 100);
  t.equal(decision.failover, true);
  t.same(
    decision.destinations.slice(0, 2).map((d) => clusters.clusterOf(d)!.members.map((m) => m.id)),
    [['10.1.0.1:20880'], ['10.1.0.3:20880']],
    'the blue subset’s endpoints of each key',
  );
  t.same(
    described(table.route(call({ group: 'nope,none', version: '*' }))),
    ['app/blue [none of its keys]=30', 'app [none of its keys]=60', 'plain=10'],
    'a list naming no group of the destinations: the rule’s destinations, filtered as for an exact key, nothing to rewrite',
  );
});

t.test('a hostile consumer sending 10,000 different group lists makes no more clusters than the services have keys', async (t) => {
  const GROUPS = 16;
  const groups = Array.from({ length: GROUPS }, (_, i) => `g${i}`);
  const fooKeys = groups.map((group) => ({ interface: FOO, group, version: '1.0.0' }));
  const barKeys = groups.map((group) => ({ interface: BAR, group, version: '1.0.0' }));
  const table = new RoutingTable(
    buildConfig([
      // One instance per group (per-endpoint keys), and a service whose one instance serves every group.
      service(
        'per-group',
        fooKeys,
        fooKeys.map((key, i) => ({ address: `10.2.0.${i + 1}:20880`, interfaces: [key] })),
      ),
      service('all-groups', barKeys, endpoints(7, 1)),
    ]),
    'v1',
  );
  const clusters = manager(t, table);
  const random = seededRandom(13);
  const lists = new Set<string>();
  let largest = 0;
  let notInList = 0;
  for (let i = 0; i < 10_000; i++) {
    const list = groups.filter(() => random() < 0.5);
    if (list.length === 0) list.push('g0');
    // Unknown groups and reordering too: each list is new.
    const sent = [...list, `unknown-${i}`].sort(() => random() - 0.5).join(',');
    lists.add(sent);
    for (const iface of [FOO, BAR]) {
      const decision = table.route(call({ iface, group: sent, version: '1.0.0' }))!;
      largest = Math.max(largest, decision.destinations.length);
      for (const destination of decision.destinations) {
        if (destination.rewrite === undefined || !list.includes(destination.rewrite.group)) notInList += 1;
        clusters.clusterOf(destination);
      }
    }
  }
  t.equal(lists.size, 10_000, 'every list differs');
  t.equal(notInList, 0, 'every destination is sent as one group of its list');
  t.ok(largest <= GROUPS, `at most one destination per group (${largest})`);
  const names = clusters.allClusters().map((c) => c.name);
  t.equal(names.length, GROUPS + 2, 'one cluster per group of the keyed service, its plain one, and the other service’s one');
  t.ok(names.includes('default/per-group [g3/org.example.Foo:1.0.0]'), 'named by the one key it serves');
  t.ok(names.includes('default/all-groups') && names.includes('default/per-group'));
});

t.test('key clusters share their service’s circuit breaker, and are found again by their destinations', async (t) => {
  const table = new RoutingTable(appConfig(), 'v1');
  const clusters = manager(t, table);
  const v1 = clusters.clusterOf(table.route(call({ version: '1.0.0' }))!.destinations[0]!)!;
  const v2 = clusters.clusterOf(table.route(call({ version: '2.0.0' }))!.destinations[0]!)!;
  const plain = clusters.cluster('default/app', undefined)!;
  t.not(v1, v2);
  t.equal(clusters.breakerOf(v1), plain, 'a key cluster counts its calls on the service’s plain cluster');
  t.equal(clusters.breakerOf(v2), plain);
  t.equal(clusters.breakerOf(plain), plain, 'a plain cluster is its own');
  // More destinations than the recent list holds: each still finds its cluster by identity.
  const destinations: RouteDestination[] = [];
  for (const group of ['', '*'])
    for (const version of ['1.0.0', '2.0.0', '3.0.0', '*']) destinations.push(...table.route(call({ group, version }))!.destinations);
  t.ok(destinations.length > 8, `${destinations.length} destinations`);
  const first = destinations.map((d) => clusters.clusterOf(d));
  t.equal(new Set(first).size, 3, 'the three keys’ clusters');
  t.same(
    destinations.map((d) => clusters.clusterOf(d)),
    first,
    'the same cluster every time',
  );
});
