// The Envoy sidecar's Dubbo routes and clusters, decoded with Envoy's protos: a table of
// DubboRoute/DubboPolicy cases, and calls routed the way dubbo_proxy's route matcher
// (route_matcher.cc) routes them, which must land where our proxy's routing table sends them.
import t, { type Test as Tap } from 'tap';
import { RE2 } from 're2-wasm';
import { parseMeshYaml } from '@dubbo-mesh/config';
import { Snapshot } from '@dubbo-mesh/control-plane';
import {
  EnvoyTranslator,
  TYPE_URLS,
  checkEnvoyConsistency,
  decodeAny,
  fullMatchRegex,
  readEnvoyNode,
  translateRegex,
  type EnvoyNode,
  type EnvoyNodeResources,
} from '@dubbo-mesh/envoy-xds';
import { xdsNode } from './fixtures/xds-node.js';

function snapshotOf(yaml: string): Snapshot {
  const parsed = parseMeshYaml(yaml, 'mesh.yaml');
  if (parsed.errors.length > 0) throw new Error(parsed.errors.join('\n'));
  const created = Snapshot.create(parsed.resources);
  if (!created.valid) throw new Error(created.errors.join('\n'));
  return created.snapshot;
}

function sidecarNode(): EnvoyNode {
  const read = readEnvoyNode(xdsNode('envoy-1', 'web', { DUBBO_MESH_ROLE: 'proxy' }));
  if (!read.valid) throw new Error(read.error);
  return read.node;
}

type Decoded = Record<string, unknown> & { '@type': string };
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

function decoded(resources: EnvoyNodeResources, typeUrl: string, name: string): Any {
  const resource = resources.types.get(typeUrl)?.byName.get(name);
  if (resource === undefined) throw new Error(`${typeUrl} ${name} is not served`);
  const value = decodeAny(resource.any) as Decoded;
  if (value['@type'] !== typeUrl) throw new Error(`${name} decodes as ${value['@type']}`);
  return value;
}

/** A Dubbo call as dubbo_proxy sees it: the service key, the method, string attachments, string arguments. */
interface Call {
  iface: string;
  group?: string;
  version?: string;
  method: string;
  attachments?: Record<string, string>;
  args?: string[];
}

/** RE2 (re2-wasm, what gRPC clients run; Envoy links RE2 itself) full-matching a pattern, as Envoy's safe_regex does. */
function re2FullMatch(regex: string, value: string): boolean {
  return new RE2(`^(?:${regex})$`, 'u').test(value);
}

/** A StringMatcher as Envoy applies it (a full match for a regex, with RE2). */
function stringMatches(matcher: Any, value: string): boolean {
  switch (matcher.match_pattern) {
    case 'exact':
      return value === matcher.exact;
    case 'prefix':
      return value.startsWith(matcher.prefix);
    case 'suffix':
      return value.endsWith(matcher.suffix);
    case 'safe_regex':
      return re2FullMatch(matcher.safe_regex.regex, value);
    default:
      throw new Error(`no matcher: ${JSON.stringify(matcher)}`);
  }
}

/** dubbo_proxy's interface matcher: `*` any non-empty name, `*x` a suffix, `x*` a prefix (the rest non-empty), else exact. */
function interfaceMatches(pattern: string, iface: string): boolean {
  if (pattern === '*') return iface !== '';
  if (pattern.startsWith('*')) return iface.length > pattern.length - 1 && iface.endsWith(pattern.slice(1));
  if (pattern.endsWith('*')) return iface.length > pattern.length - 1 && iface.startsWith(pattern.slice(0, -1));
  return pattern === iface;
}

/** Where dubbo_proxy sends a call: the first route configuration whose interface, group and version hold and one of whose routes matches. */
function envoyRoute(multiple: Any, call: Call): string | undefined {
  for (const config of multiple.route_config) {
    if (!interfaceMatches(config.interface, call.iface)) continue;
    if (config.group !== '' && call.group !== config.group) continue;
    if (config.version !== '' && call.version !== config.version) continue;
    for (const route of config.routes) {
      const headers = call.attachments ?? {};
      const holds = (h: Any) =>
        h.name in headers && (h.header_match_specifier === 'present_match' ? h.present_match : stringMatches(h.string_match, headers[h.name]!));
      if (!route.match.headers.every(holds)) continue;
      if (!stringMatches(route.match.method.name, call.method)) continue;
      const params = Object.entries(route.match.method.params_match ?? {}) as Array<[string, Any]>;
      if (params.length > 0 && (call.args ?? []).length === 0) continue;
      if (!params.every(([index, spec]) => Number(index) < (call.args ?? []).length && call.args![Number(index)] === spec.exact_match)) continue;
      return describeAction(route.route);
    }
  }
  return undefined;
}

/** A route action in short: `cluster{labels}` or `a{..}:10,b:90`. */
function describeAction(action: Any): string {
  const labels = (metadata: Any) => {
    const fields = metadata?.filter_metadata?.['envoy.lb']?.fields;
    if (fields === undefined) return '';
    return `{${Object.entries(fields as Record<string, Any>)
      .map(([k, v]) => `${k}=${v.stringValue}`)
      .join(',')}}`;
  };
  if (action.cluster_specifier === 'cluster') return `${action.cluster}${labels(action.metadata_match)}`;
  return action.weighted_clusters.clusters.map((c: Any) => `${c.name}${labels(c.metadata_match)}:${c.weight.value}`).join(',');
}

const MESH = `
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: users}
spec:
  interfaces: [org.example.UserService, {interface: org.example.OrderService, group: g1, version: 1.0.0}]
  endpoints: [{address: 10.0.0.1:20880, labels: {version: v1}}, {address: 10.0.0.2:20880, labels: {version: v2}}]
---
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: orders}
spec:
  interfaces: [{interface: org.example.OrderService, group: g1}]
  endpoints: [{address: 10.0.1.1:20880}]
---
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: legacy}
spec:
  interfaces: [org.example.OrderService]
  endpoints: [{address: 10.0.2.1:20880}]
---
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboPolicy
metadata: {name: users}
spec:
  service: users
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}, {name: all, labels: {}}]
---
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboRoute
metadata: {name: wild}
spec:
  hosts: ["org.example.*"]
  routes:
    - name: ping
      match: [{method: {exact: ping}}]
      destinations: [{service: orders}]
---
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboRoute
metadata: {name: user-canary}
spec:
  hosts: [org.example.UserService, "org.*.Service"]
  routes:
    - name: gold
      match:
        - {method: {prefix: get}, attachments: {x-tier: {exact: gold}}}
        - {method: {regex: "^find(All)?$"}}
      destinations: [{service: users, subset: v2}]
    - name: answer
      match: [{arguments: [{index: 0, exact: "42"}]}, {arguments: [{index: 1, prefix: "4"}]}]
      destinations: [{service: users, subset: v1}]
      retries: {attempts: 1}
      timeout: 2s
    - name: split
      match: [{attachments: {x-split: {regex: "y.s"}}}]
      destinations: [{service: users, subset: v2, weight: 10}, {service: users, subset: v1, weight: 90}, {service: orders, weight: 0}]
    - name: whole
      match: [{method: {exact: whole}}]
      destinations: [{service: users, subset: all}]
`;

t.test('calls routed as dubbo_proxy routes them land where our proxy sends them', async (t) => {
  const resources = new EnvoyTranslator().resourcesFor(snapshotOf(MESH), sidecarNode());
  t.same(checkEnvoyConsistency(resources), []);
  const routes = decoded(resources, TYPE_URLS.dubboRoutes, 'dubbo_outbound');
  t.equal(routes.name, 'dubbo_outbound');
  const cases: Array<[string, Call, string | undefined]> = [
    [
      'an exact host rule with an attachment',
      { iface: 'org.example.UserService', method: 'getUser', attachments: { 'x-tier': 'gold' } },
      'users.default{version=v2}',
    ],
    [
      'the second match entry of a rule (a regex, searched as our proxy does)',
      { iface: 'org.example.UserService', method: 'findAll' },
      'users.default{version=v2}',
    ],
    ['a regex that does not hold', { iface: 'org.example.UserService', method: 'findOne' }, 'users.default'],
    ['an argument match', { iface: 'org.example.UserService', method: 'get', args: ['42'] }, 'users.default{version=v1}'],
    ['an argument that differs', { iface: 'org.example.UserService', method: 'get', args: ['43'] }, 'users.default'],
    [
      'weights, a weight of 0 left out',
      { iface: 'org.example.UserService', method: 'x', attachments: { 'x-split': 'yes' } },
      'users.default{version=v2}:10,users.default{version=v1}:90',
    ],
    ['a subset of no labels is the whole service', { iface: 'org.example.UserService', method: 'whole' }, 'users.default'],
    ["the exact host's rules come before the wildcard's, then the wildcard's", { iface: 'org.example.UserService', method: 'ping' }, 'orders.default'],
    ['no rule: the mapping', { iface: 'org.example.UserService', method: 'list' }, 'users.default'],
    ['group and version: the most specific mapping', { iface: 'org.example.OrderService', group: 'g1', version: '1.0.0', method: 'm' }, 'users.default'],
    ['the group only', { iface: 'org.example.OrderService', group: 'g1', version: '2.0.0', method: 'm' }, 'orders.default'],
    ['neither: the interface mapping', { iface: 'org.example.OrderService', method: 'm' }, 'legacy.default'],
    ['a wildcard rule on another interface', { iface: 'org.example.OrderService', group: 'g1', method: 'ping' }, 'orders.default'],
    ['an interface no one provides', { iface: 'com.other.Thing', method: 'm' }, undefined],
  ];
  for (const [what, call, expected] of cases) t.equal(envoyRoute(routes, call), expected, what);
  // Every route has a method matcher: Envoy needs one.
  for (const config of routes.route_config) for (const route of config.routes) t.ok(route.match.method.name.match_pattern, `${config.name}: a method matcher`);
  t.same(
    routes.route_config.map((c: Any) => [c.interface, c.group, c.version]),
    [
      ['org.example.UserService', '', ''],
      ['org.example.*', '', ''],
      ['org.example.OrderService', 'g1', '1.0.0'],
      ['org.example.OrderService', 'g1', ''],
      ['org.example.UserService', '', ''],
      ['org.example.OrderService', '', ''],
    ],
    'exact hosts, wildcard hosts, then mappings most specific first',
  );
  t.match(resources.untranslated, [
    'DubboRoute default/user-canary: spec.routes[1].retries: dubbo_proxy has no retries; Envoy sends each call once',
    'DubboRoute default/user-canary: spec.routes[1].timeout: dubbo_proxy has no route timeout; Envoy waits for the provider',
    'DubboRoute default/user-canary: spec.routes[1].match[].arguments: dubbo_proxy compares String arguments only: a match on a number or boolean argument never holds in Envoy',
    "DubboRoute default/user-canary: spec.routes[1].match[1].arguments[0]: dubbo_proxy matches an argument exactly or by an integer range, not by prefix; this match entry is not sent (Envoy's calls it would take go to the next rule)",
    "DubboRoute default/user-canary: spec.hosts[1]: 'org.*.Service': dubbo_proxy matches an interface by name, '*', or one '*' at its start or end; this host's rules are not sent",
  ]);
});

t.test('what dubbo_proxy cannot match is reported, its match entry not sent', async (t) => {
  const resources = new EnvoyTranslator().resourcesFor(
    snapshotOf(`
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: a}
spec: {interfaces: [{interface: x.A, group: "", version: ""}], endpoints: [{address: 10.0.0.1:1}]}
---
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboRoute
metadata: {name: r}
spec:
  hosts: [x.A]
  routes:
    - match: [{method: {regex: "(?=a)b"}}, {attachments: {k: {regex: "[^]b"}}}, {arguments: [{index: 0, exact: ""}]}, {arguments: [{index: 0, regex: "1"}]}]
      destinations: [{service: a}]
`),
    sidecarNode(),
  );
  const routes = decoded(resources, TYPE_URLS.dubboRoutes, 'dubbo_outbound');
  t.equal(routes.route_config.length, 1, 'the rule had nothing left: only the mapping');
  t.same(
    resources.untranslated.filter((line) => line.startsWith('DubboRoute')).map((line) => line.split(': ')[1]),
    [
      'spec.routes[0].match[].arguments',
      'spec.routes[0].match[0].method.regex',
      'spec.routes[0].match[1].attachments.k.regex',
      'spec.routes[0].match[2].arguments[0].exact',
      'spec.routes[0].match[3].arguments[0]',
      // Every sidecar's: dubbo_proxy has no retries, and our proxy retries by default.
      'spec.routes[].retries',
    ],
  );
  t.ok(resources.untranslated.includes("DubboService default/a: spec.interfaces[0].group: '' (no group): dubbo_proxy reads an empty group as any group"));
  t.ok(
    resources.untranslated.includes("DubboService default/a: spec.interfaces[0].version: '' (no version): dubbo_proxy reads an empty version as any version"),
  );
});

t.test('regexes: searched by our proxy, fully matched by RE2', async (t) => {
  const cases: Array<[string, string, boolean]> = [
    ['get', 'forget', true],
    ['get', 'getUser', true],
    ['^get', 'forget', false],
    ['get$', 'getUser', false],
    ['^get$', 'get', true],
    ['[^x]y', 'ay', true],
    // Anchors inside an alternation keep their meaning: the value's start or end.
    ['^get|Info$', 'getUser', true],
    ['^get|Info$', 'fooInfo', true],
    ['^get|Info$', 'xget', false],
    ['^get|Info$', 'Infox', false],
    ['a|^b', 'xa', true],
    ['a|^b', 'xb', false],
    ['(^a|b)c', 'xbc', true],
    ['(^a|b)c', 'xac', false],
    ['x\\$', 'x$y', true],
    ['x\\\\$', 'ax\\', true],
    ['x\\\\$', 'x\\a', false],
    ['\\\\u', 'a\\u', true],
  ];
  for (const [pattern, value, expected] of cases) {
    const regex = fullMatchRegex(pattern);
    t.type(regex, 'string', `/${pattern}/ is sent`);
    t.equal(new RegExp(pattern).test(value), expected, `our proxy: /${pattern}/ on ${value}`);
    t.equal(re2FullMatch(regex!, value), expected, `Envoy (RE2): ${regex} on ${value}`);
  }
  // gRPC: the method part of a path; an anchor means the path's ends there, so they are taken off per alternative.
  const grpcCases: Array<[string, string, boolean]> = [
    ['^Say|Bye$', 'SayHello', true],
    ['^Say|Bye$', 'GoodBye', true],
    ['^Say|Bye$', 'NoSay', false],
    ['^Say|Bye$', 'ByeBye!', false],
    ['^(Say|Bye)$', 'Say', true],
    ['^(Say|Bye)$', 'SayBye', false],
    ['a|^b', 'xa', true],
    ['a|^b', 'xb', false],
  ];
  for (const [pattern, method, expected] of grpcCases) {
    const regex = `/x\\.A/${fullMatchRegex(pattern, '[^/]*')!}`;
    t.equal(new RegExp(pattern).test(method), expected, `our proxy: /${pattern}/ on ${method}`);
    t.equal(re2FullMatch(regex, `/x.A/${method}`), expected, `gRPC (RE2): ${regex} on ${method}`);
  }
  t.match(translateRegex('a(^b)', '[^/]*'), { reason: /an anchor .* cannot be placed in a gRPC path/ }, 'an anchor inside a group, in a path');
  t.equal(fullMatchRegex('(?<!a)b'), undefined, 'lookbehind: RE2 has none');
  t.equal(fullMatchRegex('(a)\\1'), undefined, 'backreference');
});

t.test('regexes RE2 refuses, or reads otherwise than JavaScript, are reported and not sent', async (t) => {
  const refused: Array<[string, RegExp]> = [
    ['[^]x', /RE2 cannot compile it: .*missing \]/],
    ['\\ex', /RE2 cannot compile it: .*invalid escape sequence/],
    ['a{1001}', /RE2 cannot compile it: .*invalid repetition size/],
    ['\\p{L}', /read \\u, \\p and \\P differently/],
    ['\\u0041', /read \\u, \\p and \\P differently/],
    ['(?=a)b', /no lookaround/],
  ];
  for (const [pattern, reason] of refused) {
    // JavaScript takes each (our proxy would run it).
    t.doesNotThrow(() => new RegExp(pattern), `JavaScript takes /${pattern}/`);
    t.match(translateRegex(pattern), { reason }, `/${pattern}/: reported`);
  }
  const resources = new EnvoyTranslator().resourcesFor(
    snapshotOf(`
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: a}
spec: {interfaces: [x.A], endpoints: [{address: 10.0.0.1:1}]}
---
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboRoute
metadata: {name: r}
spec:
  hosts: [x.A]
  routes:
    - match: [{method: {regex: "\\\\ex"}}, {method: {regex: "^get|Info$"}}]
      destinations: [{service: a}]
`),
    sidecarNode(),
  );
  const routes = decoded(resources, TYPE_URLS.dubboRoutes, 'dubbo_outbound');
  t.same(
    routes.route_config[0].routes.map((r: Any) => r.match.method.name.safe_regex.regex),
    ['.*(?:^get|Info$).*'],
    'the refused entry is not sent; the other keeps its anchors',
  );
  t.match(
    resources.untranslated.find((line) => line.startsWith('DubboRoute default/r')),
    /^DubboRoute default\/r: spec\.routes\[0\]\.match\[0\]\.method\.regex: RE2 cannot compile it: .*; this match entry is not sent/,
  );
});

t.test('an empty prefix: any method, or an attachment that is present', async (t) => {
  const resources = new EnvoyTranslator().resourcesFor(
    snapshotOf(`
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: a}
spec: {interfaces: [x.A], endpoints: [{address: 10.0.0.1:1}]}
---
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: b}
spec: {interfaces: [x.B], endpoints: [{address: 10.0.0.2:1}]}
---
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboRoute
metadata: {name: r}
spec:
  hosts: [x.A]
  routes:
    - match: [{method: {prefix: ""}, attachments: {X-Tag: {prefix: ""}}}]
      destinations: [{service: b}]
`),
    sidecarNode(),
  );
  t.same(checkEnvoyConsistency(resources), []);
  const routes = decoded(resources, TYPE_URLS.dubboRoutes, 'dubbo_outbound');
  const match = routes.route_config[0].routes[0].match;
  t.same(match.method.name.safe_regex.regex, '.*', 'any method (Envoy refuses an empty prefix)');
  t.match(match.headers, [{ name: 'x-tag', present_match: true }]);
  t.notOk(JSON.stringify(routes).includes('"prefix":""'), 'no empty prefix anywhere');
  t.equal(envoyRoute(routes, { iface: 'x.A', method: 'm', attachments: { 'x-tag': '' } }), 'b.default', 'present, empty');
  t.equal(envoyRoute(routes, { iface: 'x.A', method: 'm', attachments: { 'x-tag': 'v' } }), 'b.default');
  t.equal(envoyRoute(routes, { iface: 'x.A', method: 'm' }), 'a.default', 'absent: the mapping');
});

/** The sidecar cluster of a service with one policy spec. */
function clusterFor(t: Tap, policySpec: string | undefined): { cluster: Any; untranslated: readonly string[] } {
  const policy =
    policySpec === undefined
      ? ''
      : `---
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboPolicy
metadata: {name: p, namespace: shop}
spec: {service: s, ${policySpec}}`;
  const resources = new EnvoyTranslator().resourcesFor(
    snapshotOf(`apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: s, namespace: shop}
spec: {interfaces: [x.S], endpoints: [{address: 10.0.0.1:20880}]}
${policy}`),
    sidecarNode(),
  );
  t.same(checkEnvoyConsistency(resources), [], `consistent: ${policySpec}`);
  return { cluster: decoded(resources, TYPE_URLS.cluster, 's.shop'), untranslated: resources.untranslated };
}

t.test('DubboPolicy cases as Envoy clusters', async (t) => {
  const none = clusterFor(t, undefined).cluster;
  t.equal(none.type, 'EDS');
  t.same(none.eds_cluster_config.eds_config.ads, {});
  t.equal(none.eds_cluster_config.eds_config.resource_api_version, 'V3');
  t.equal(none.eds_cluster_config.service_name, 's.shop');
  t.equal(none.lb_policy, 'ROUND_ROBIN', "no policy: our proxy's weighted random as Envoy's weighted round robin (its RANDOM ignores weights)");
  t.equal(none.circuit_breakers.per_host_thresholds.length, 0, 'no per-host connection limit: dubbo_proxy takes a connection per call in flight');
  t.same(none.connect_timeout, { seconds: '1', nanos: 0 });
  t.equal(none.outlier_detection.consecutive_5xx.value, 5, "no policy: our proxy's default outlier detection");
  t.equal(none.outlier_detection.enforcing_success_rate.value, 0, 'success-rate ejection off');
  t.equal(none.lb_subset_config, null);
  t.same(none.health_checks, []);

  const lb: Array<[string, string, string | undefined]> = [
    ['random', 'ROUND_ROBIN', undefined],
    ['round-robin', 'ROUND_ROBIN', undefined],
    ['least-active', 'LEAST_REQUEST', undefined],
    ['least-request', 'LEAST_REQUEST', undefined],
    [
      'shortest-response',
      'LEAST_REQUEST',
      'DubboPolicy shop/p: spec.loadBalancer.policy: shortest-response: Envoy has no response-time balancer; least request is used',
    ],
    [
      'consistent-hash',
      'ROUND_ROBIN',
      "DubboPolicy shop/p: spec.loadBalancer.policy: consistent-hash: dubbo_proxy routes have no hash policy, so Envoy's ring hash would have no key; round robin is used",
    ],
  ];
  for (const [policy, expected, line] of lb) {
    const { cluster, untranslated } = clusterFor(t, `loadBalancer: {policy: ${policy}}`);
    t.equal(cluster.lb_policy, expected, policy);
    t.same(
      untranslated.filter((l) => l.includes('loadBalancer')),
      line === undefined ? [] : [line],
      `${policy}: reported where Envoy has none`,
    );
  }

  const pooled = clusterFor(
    t,
    'connectionPool: {maxConnections: 4, maxPendingRequests: 10, maxRequests: 100, connectTimeout: 250ms}, outlierDetection: {consecutiveErrors: 3, interval: 2s, baseEjectionTime: 1500ms, maxEjectionPercent: 20}',
  );
  t.same(pooled.cluster.connect_timeout, { seconds: '0', nanos: 250_000_000 });
  t.match(pooled.cluster.circuit_breakers.thresholds[0], {
    priority: 'DEFAULT',
    max_pending_requests: { value: 10 },
    max_requests: { value: 100 },
    max_connections: { value: 0xffffffff },
  });
  t.same(pooled.cluster.circuit_breakers.per_host_thresholds, [], 'maxConnections is not a per-host limit in Envoy');
  t.ok(
    pooled.untranslated.includes(
      'DubboPolicy shop/p: spec.connectionPool.maxConnections: dubbo_proxy opens one upstream connection per call in flight: maxConnections not applied',
    ),
  );
  t.match(pooled.cluster.outlier_detection, {
    consecutive_5xx: { value: 3 },
    interval: { seconds: '2', nanos: 0 },
    base_ejection_time: { seconds: '1', nanos: 500_000_000 },
    max_ejection_percent: { value: 20 },
  });
  t.ok(pooled.untranslated.some((l) => l.startsWith('DubboPolicy shop/p: spec.connectionPool.maxPendingRequests: per endpoint in dubbo-mesh')));

  const subsets = clusterFor(
    t,
    'subsets: [{name: a, labels: {version: v1}}, {name: b, labels: {version: v2}}, {name: c, labels: {zone: z, version: v1}}, {name: d, labels: {}}]',
  ).cluster;
  t.equal(subsets.lb_subset_config.fallback_policy, 'ANY_ENDPOINT', 'a route that names no subset takes any endpoint');
  t.same(
    subsets.lb_subset_config.subset_selectors.map((s: Any) => [s.keys, s.fallback_policy]),
    [
      [['version'], 'NO_FALLBACK'],
      [['version', 'zone'], 'NO_FALLBACK'],
    ],
    'one selector per set of label keys; a subset with no endpoint gets no call',
  );

  const checked = clusterFor(t, 'healthCheck: {interval: 3s, timeout: 500ms, unhealthyThreshold: 2, healthyThreshold: 4}').cluster;
  t.match(checked.health_checks[0], {
    interval: { seconds: '3', nanos: 0 },
    timeout: { seconds: '0', nanos: 500_000_000 },
    unhealthy_threshold: { value: 2 },
    healthy_threshold: { value: 4 },
    tcp_health_check: { send: { text: 'dabbe2000000000000000000000000014e' }, receive: [{ text: 'dabb' }] },
  });
  // The heartbeat Envoy sends is a Dubbo heartbeat request: magic, request|two-way|event|Hessian2, id 0, body N.
  const heartbeat = Buffer.from(checked.health_checks[0].tcp_health_check.send.text, 'hex');
  t.equal(heartbeat.readUInt16BE(0), 0xdabb);
  t.equal(heartbeat[2], 0x80 | 0x40 | 0x20 | 2);
  t.equal(heartbeat.readUInt32BE(12), 1);
  t.equal(heartbeat.subarray(16).toString(), 'N');
});
