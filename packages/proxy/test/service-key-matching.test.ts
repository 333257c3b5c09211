// Dubbo's consumer-side service key matching in the routing table (version `*`, group `*`,
// group lists, an empty group or version against an absent one), and the decisions of calls
// that match several services.
import t from 'tap';
import { encodeRequestBody, peekRequest, type RequestPeek } from '@dubbo-mesh/protocol';
import { RoutingTable, drawDestination, keyMatchesPattern, type RouteDecision } from '@dubbo-mesh/proxy';
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
  return decision.destinations.map((d) => `${d.serviceId.replace('default/', '')}${d.subset === undefined ? '' : `/${d.subset}`}=${d.weight}`);
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
