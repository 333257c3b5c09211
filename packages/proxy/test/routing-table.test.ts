// The routing table alone: rule precedence, host pattern specificity, service specificity,
// the memo of the last head and group, the key cache, and the precomputed destination draw.
import t from 'tap';
import { PeekCache, encodeRequestBody, peekRequest, type RequestPeek } from '@dubbo-mesh/protocol';
import { RoutingTable, cumulativeWeights, drawDestination, type RouteDecision } from '@dubbo-mesh/proxy';
import { buildConfig } from './fixtures/mesh.js';

const IFACE = 'org.example.UserService';

function service(name: string, interfaces: unknown[]): object {
  return {
    apiVersion: 'dubbo-mesh.io/v1alpha1',
    kind: 'DubboService',
    metadata: { name },
    spec: { interfaces, endpoints: [{ address: `10.0.0.${name.length}:20880` }] },
  };
}

function route(name: string, hosts: string[], routes: unknown[]): object {
  return { apiVersion: 'dubbo-mesh.io/v1alpha1', kind: 'DubboRoute', metadata: { name }, spec: { hosts, routes } };
}

/** A call's peek; with a cache, calls with equal head bytes share the head object. */
function call(
  options: { iface?: string; method?: string; group?: string; version?: string; attachments?: Record<string, unknown> } = {},
  cache?: PeekCache,
): RequestPeek {
  const attachments: Record<string, unknown> = { ...options.attachments };
  if (options.group !== undefined) attachments.group = options.group;
  const body = encodeRequestBody({
    path: options.iface ?? IFACE,
    version: options.version ?? '1.0.0',
    method: options.method ?? 'getUser',
    parameterTypes: ['long'],
    arguments: [1],
    attachments,
  });
  return peekRequest(body, {}, cache);
}

function destinations(decision: RouteDecision | undefined): string[] {
  return decision === undefined ? [] : decision.destinations.map((d) => `${d.serviceId}${d.subset === undefined ? '' : `/${d.subset}`}`);
}

t.test('rules apply in order: the first whose match holds; with none, the providing service; with no provider, nothing', async (t) => {
  const table = new RoutingTable(
    buildConfig([
      service('users', [IFACE]),
      service('admins', ['org.example.AdminService']),
      route(
        'r',
        [IFACE],
        [
          { name: 'gold', match: [{ attachments: { tier: { exact: 'gold' } } }], destinations: [{ service: 'users', weight: 1 }] },
          { name: 'list', match: [{ method: { prefix: 'list' } }], destinations: [{ service: 'admins' }] },
          { name: 'gold-again', match: [{ attachments: { tier: { exact: 'gold' } } }], destinations: [{ service: 'admins' }] },
        ],
      ),
    ]),
    'v1',
  );
  t.equal(table.route(call({ attachments: { tier: 'gold' } }))!.rule, 'gold', 'the first matching rule, not a later one that also matches');
  t.equal(table.route(call({ method: 'listUser' }))!.rule, 'list');
  const fallback = table.route(call())!;
  t.equal(fallback.rule, 'default', 'no rule matches: the default decision');
  t.same(destinations(fallback), ['default/users']);
  t.equal(table.route(call({ iface: 'org.example.Nobody' })), undefined, 'nothing provides the key');
  t.equal(fallback.serviceKey, `${IFACE}:1.0.0`);
});

t.test('exact hosts come before wildcards, whatever the config order; wildcards keep config order', async (t) => {
  const table = new RoutingTable(
    buildConfig([
      service('users', [IFACE]),
      service('wild-a', ['org.other.A']),
      service('wild-b', ['org.other.B']),
      service('exact', ['org.other.C']),
      route('a-wild-first', ['org.example.*'], [{ name: 'wild-1', destinations: [{ service: 'wild-a' }] }]),
      route('b-wild-second', ['org.*'], [{ name: 'wild-2', destinations: [{ service: 'wild-b' }] }]),
      route('c-exact-last', [IFACE], [{ name: 'exact', match: [{ method: { exact: 'getUser' } }], destinations: [{ service: 'exact' }] }]),
    ]),
    'v1',
  );
  t.equal(table.route(call())!.rule, 'exact', 'the exact host wins though listed last');
  t.equal(table.route(call({ method: 'other' }))!.rule, 'wild-1', 'then the wildcards, in config order');
  t.equal(table.route(call({ iface: 'org.zzz.Thing' }))!.rule, 'wild-2', 'a rule routes a key nothing provides: its destination says where');
  t.equal(table.route(call({ iface: 'org.other.A' }))!.rule, 'wild-2', 'only the wider wildcard matches org.other.A');
});

t.test('a wildcard is a whole-name pattern: dots are literal and it is anchored', async (t) => {
  const table = new RoutingTable(
    buildConfig([
      service('users', [IFACE, 'orgXexample.UserService', 'x.org.example.UserService']),
      route('r', ['org.example.*'], [{ name: 'wild', destinations: [{ service: 'users' }] }]),
    ]),
    'v1',
  );
  t.equal(table.route(call())!.rule, 'wild');
  t.equal(table.route(call({ iface: 'orgXexample.UserService' }))!.rule, 'default', 'the dot is not any character');
  t.equal(table.route(call({ iface: 'x.org.example.UserService' }))!.rule, 'default', 'anchored at the start');
});

t.test('the most specific interface pattern provides a key: group and version, then one, then the interface alone', async (t) => {
  const table = new RoutingTable(
    buildConfig([
      service('any', [IFACE]),
      service('group-only', [{ interface: IFACE, group: 'g1' }]),
      service('version-only', [{ interface: IFACE, version: '2.0.0' }]),
      service('both', [{ interface: IFACE, group: 'g1', version: '2.0.0' }]),
    ]),
    'v1',
  );
  t.same(destinations(table.route(call({ group: 'g1', version: '2.0.0' }))), ['default/both']);
  t.same(destinations(table.route(call({ group: 'g1' }))), ['default/group-only']);
  t.same(destinations(table.route(call({ version: '2.0.0' }))), ['default/version-only']);
  t.same(destinations(table.route(call({ group: 'g2', version: '3.0.0' }))), ['default/any']);
  t.equal(table.route(call({ version: '0.0.0' }))!.serviceKey, IFACE, 'version 0.0.0 counts as none');
});

t.test('the memo of the last head and group: the same head and group reuse the entry; another group does not', async (t) => {
  const table = new RoutingTable(buildConfig([service('plain', [IFACE]), service('grouped', [{ interface: IFACE, group: 'g1' }])]), 'v1');
  const cache = new PeekCache();
  const first = call({}, cache);
  const second = call({ attachments: { other: 'x' } }, cache);
  t.equal(first.head, second.head, 'equal head bytes share the head (a PeekCache hit)');
  const a = table.route(first);
  t.equal(table.route(second), a, 'the same decision object');
  const grouped = call({ group: 'g1' }, cache);
  t.equal(grouped.head, first.head, 'the group is an attachment: same head');
  t.same(destinations(table.route(grouped)), ['default/grouped'], 'a different group is not taken from the memo');
  t.same(destinations(table.route(first)), ['default/plain'], 'and back');
});

t.test('decisions are cached per key within a table; a new snapshot is a new table with new decisions', async (t) => {
  const resources = [service('users', [IFACE]), route('r', [IFACE], [{ name: 'only', destinations: [{ service: 'users' }] }])];
  const table = new RoutingTable(buildConfig(resources), 'v1');
  const decision = table.route(call())!;
  t.equal(table.route(call()), decision, 'peeks without a shared head still find the cached entry');
  const next = new RoutingTable(
    buildConfig([service('users', [IFACE]), route('r', [IFACE], [{ name: 'changed', destinations: [{ service: 'users' }] }])]),
    'v2',
  );
  const changed = next.route(call())!;
  t.not(changed, decision);
  t.equal(changed.rule, 'changed', 'the new table routes by the new rules');
  t.equal(table.route(call())!.rule, 'only', 'the old table is untouched (calls in flight keep their decision)');
});

t.test('past 10,000 cached keys the cache starts over and routing stays right', async (t) => {
  const table = new RoutingTable(buildConfig([service('users', [IFACE])]), 'v1');
  const first = table.route(call({ version: 'v0' }))!;
  for (let i = 1; i <= 10_001; i++) table.route(call({ version: `v${i}` }));
  const again = table.route(call({ version: 'v0' }))!;
  t.not(again, first, 'the entry was built again after the reset');
  t.same(again, first, 'to the same decision');
  t.equal(table.route(call({ version: 'v10001' }))!.serviceKey, `${IFACE}:v10001`);
});

t.test('the destination draw: running sums precomputed on the decision, one search per call', async (t) => {
  const table = new RoutingTable(
    buildConfig([
      service('users', [IFACE]),
      {
        apiVersion: 'dubbo-mesh.io/v1alpha1',
        kind: 'DubboPolicy',
        metadata: { name: 'users' },
        spec: {
          service: 'users',
          subsets: [
            { name: 'a', labels: {} },
            { name: 'b', labels: {} },
            { name: 'c', labels: {} },
          ],
        },
      },
      route(
        'r',
        [IFACE],
        [
          {
            name: 'split',
            destinations: [
              { service: 'users', subset: 'a', weight: 10 },
              { service: 'users', subset: 'b', weight: 0 },
              { service: 'users', subset: 'c', weight: 90 },
            ],
          },
        ],
      ),
    ]),
    'v1',
  );
  const decision = table.route(call())!;
  t.same(decision.cumulativeWeights, [10, 10, 100]);
  const subset = (random: number) => drawDestination(decision, random).subset;
  t.equal(subset(0), 'a');
  t.equal(subset(0.0999), 'a');
  t.equal(subset(0.1), 'c', 'a zero weight is never drawn');
  t.equal(subset(0.9999), 'c');
  const counts = { a: 0, b: 0, c: 0 } as Record<string, number>;
  for (let i = 0; i < 1000; i++) counts[subset(i / 1000)!]! += 1;
  t.same(counts, { a: 100, b: 0, c: 900 }, 'evenly spread randoms split 10/0/90 exactly');
  const handMade = { ...decision, cumulativeWeights: undefined };
  t.equal(drawDestination(handMade, 0.5).subset, 'c', 'a decision without sums is drawn the same');
  const zero = { ...decision, totalWeight: 0, cumulativeWeights: cumulativeWeights(decision.destinations.map((d) => ({ ...d, weight: 0 }))) };
  t.equal(drawDestination(zero, 0.7).subset, 'a', 'weights summing to 0: the first');
});

function ingress(name: string, rules: unknown[], namespace = 'default'): object {
  return { apiVersion: 'dubbo-mesh.io/v1alpha1', kind: 'DubboIngress', metadata: { name, namespace }, spec: { rules } };
}

t.test('with no DubboIngress rule, calls are not routed by target application at all', async (t) => {
  const table = new RoutingTable(buildConfig([service('users', [IFACE])]), 'v1');
  t.equal(table.routesByTargetApplication, false, 'the proxy then reads no target-application');
  t.equal(table.ingressBackends.size, 0);
  t.equal(table.route(call({ attachments: { 'target-application': 'user-app' } }))!.rule, 'default', 'routed by service key');
});

t.test('a target application names its DubboIngress backend, whatever the service key; per host and key one shared decision', async (t) => {
  const table = new RoutingTable(
    buildConfig([
      service('users', [IFACE]),
      service('orders', ['org.example.OrderService']),
      {
        apiVersion: 'dubbo-mesh.io/v1alpha1',
        kind: 'DubboPolicy',
        metadata: { name: 'orders' },
        spec: { service: 'orders', loadBalancer: { policy: 'round-robin' } },
      },
      ingress('edge', [
        { host: 'order-app', service: 'orders', endpoints: [{ address: '10.0.9.1:20880' }] },
        { host: 'shop-app', service: 'shop', port: 20880, endpoints: [{ address: '10.0.9.2:20880' }] },
      ]),
    ]),
    'v1',
  );
  t.equal(table.routesByTargetApplication, true);
  const byApp = (attachments: Record<string, unknown>, iface?: string) => table.routeByTargetApplication(call({ attachments, iface }));
  const first = byApp({ 'target-application': 'order-app' });
  if (first === undefined || typeof first === 'string') return t.fail(`no decision: ${first}`);
  t.equal(first.rule, 'ingress order-app');
  t.equal(first.serviceKey, `${IFACE}:1.0.0`, "the call's own service key, for logs and filters");
  t.same(destinations(first), ['default/orders (ingress order-app)'], "the rule's backend, though UserService is provided by users");
  t.equal(byApp({ 'target-application': 'order-app' }), first, 'the same decision for the next call of that key and host');
  const other = byApp({ 'target-application': 'order-app' }, 'org.example.Other');
  if (other === undefined || typeof other === 'string') return t.fail('no decision');
  t.not(other, first, 'another key: its own decision');
  t.equal(other.serviceKey, 'org.example.Other:1.0.0', 'even one no mesh service provides');
  t.equal(other.destinations, first.destinations, 'the destination is one object per host (clusters are remembered by it)');
  const shop = byApp({ 'target-application': 'shop-app' });
  t.same(typeof shop === 'object' && destinations(shop), ['default/shop (ingress shop-app)']);
  t.equal(byApp({ 'target-application': 'nobody-app' }), 'nobody-app', 'an unknown name is given back, to be refused');
  t.equal(byApp({ 'target-application': 'Order-App' }), 'Order-App', 'names are compared exactly');
  t.equal(byApp({}), undefined, 'none: routed by service key');
  t.equal(byApp({ 'target-application': '' }), undefined, 'empty: routed by service key');
  t.equal(byApp({ 'target-application': 7 }), undefined, 'not a string: routed by service key');
  t.same(
    [...table.ingressBackends.values()].map((backend) => ({
      id: backend.id,
      host: backend.host,
      service: backend.service,
      endpoints: backend.endpoints.map((e) => e.address),
      policy: backend.policy?.loadBalancer.policy,
    })),
    [
      { id: 'default/orders (ingress order-app)', host: 'order-app', service: 'default/orders', endpoints: ['10.0.9.1:20880'], policy: 'round-robin' },
      { id: 'default/shop (ingress shop-app)', host: 'shop-app', service: 'default/shop', endpoints: ['10.0.9.2:20880'], policy: undefined },
    ],
    "a rule's backend has the DubboPolicy of the mesh service its Service names, if any",
  );
  const elsewhere = new RoutingTable(
    buildConfig([
      service('orders', ['org.example.OrderService']),
      { apiVersion: 'dubbo-mesh.io/v1alpha1', kind: 'DubboPolicy', metadata: { name: 'orders' }, spec: { service: 'orders' } },
      ingress('edge', [{ host: 'order-app', service: 'orders' }], 'shop'),
    ]),
    'v2',
  );
  t.equal(elsewhere.ingressBackends.get('shop/orders (ingress order-app)')?.policy, undefined, 'only a policy of the same namespace');
});

t.test('the key memo is shared: target-application and service-key routing of one head stay right', async (t) => {
  const table = new RoutingTable(
    buildConfig([service('users', [IFACE]), ingress('edge', [{ host: 'user-app', service: 'users', endpoints: [{ address: '10.0.9.1:1' }] }])]),
    'v1',
  );
  const cache = new PeekCache();
  const a = table.routeByTargetApplication(call({ attachments: { 'target-application': 'user-app' } }, cache));
  t.equal(typeof a === 'object' && a.rule, 'ingress user-app');
  t.equal(table.route(call({}, cache))!.rule, 'default', 'the next call of the same head, with no target-application, by its key');
  const b = table.routeByTargetApplication(call({ attachments: { 'target-application': 'user-app' } }, cache));
  t.equal(b, a);
  const grouped = table.routeByTargetApplication(call({ group: 'g', attachments: { 'target-application': 'user-app' } }, cache));
  t.equal(typeof grouped === 'object' && grouped.serviceKey, `g/${IFACE}:1.0.0`, 'another group: its own key');
});

t.test('decisions by target application count toward the key cache bound: ever new keys × every host cannot grow it without end', async (t) => {
  const hosts = Array.from({ length: 50 }, (_, i) => ({ host: `app-${i}`, service: `s${i}`, endpoints: [{ address: `10.1.0.${i + 1}:20880` }] }));
  const table = new RoutingTable(buildConfig([service('users', [IFACE]), ingress('edge', hosts)]), 'v1');
  // What the table holds: its cached entries and their decisions by target application.
  type Entry = { byTargetApplication?: Map<string, unknown> };
  const cached = () => {
    let count = 0;
    for (const byGroup of (table as unknown as { keyCache: Map<string, Map<string, Map<string, Entry>>> }).keyCache.values())
      for (const byVersion of byGroup.values()) for (const entry of byVersion.values()) count += 1 + (entry.byTargetApplication?.size ?? 0);
    return count;
  };
  let most = 0;
  // 400 keys, each called for every host: 20,400 decisions and entries if nothing bounded them.
  for (let k = 0; k < 400; k++) {
    for (const { host } of hosts) {
      const decision = table.routeByTargetApplication(call({ iface: `org.example.Api${k}`, attachments: { 'target-application': host } }));
      if (typeof decision !== 'object' || decision.rule !== `ingress ${host}` || decision.serviceKey !== `org.example.Api${k}:1.0.0`)
        t.fail(`key ${k}, ${host}: a wrong decision`);
      most = Math.max(most, cached());
    }
  }
  t.ok(most <= 10_000 + hosts.length, `at most about 10,000 entries and decisions held at once (most: ${most})`);
});
