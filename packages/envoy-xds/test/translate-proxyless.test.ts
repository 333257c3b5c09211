// What a proxyless gRPC client is served for each mesh service, decoded with Envoy's protos and
// checked by @grpc/grpc-js-xds's own resource validation (the checks behind its NACKs).
import t from 'tap';
import { register } from '@grpc/grpc-js-xds';
import { ClusterResourceType } from '@grpc/grpc-js-xds/build/src/xds-resource-type/cluster-resource-type.js';
import { EndpointResourceType } from '@grpc/grpc-js-xds/build/src/xds-resource-type/endpoint-resource-type.js';
import { ListenerResourceType } from '@grpc/grpc-js-xds/build/src/xds-resource-type/listener-resource-type.js';
import { RouteConfigurationResourceType } from '@grpc/grpc-js-xds/build/src/xds-resource-type/route-config-resource-type.js';
import { getPredicateForMatcher } from '@grpc/grpc-js-xds/build/src/route.js';
import { Metadata } from '@grpc/grpc-js';
import { parseMeshYaml } from '@dubbo-mesh/config';
import { Snapshot } from '@dubbo-mesh/control-plane';
import { EnvoyTranslator, TYPE_URLS, checkEnvoyConsistency, decodeAny, readEnvoyNode, type EnvoyNodeResources } from '@dubbo-mesh/envoy-xds';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

function snapshotOf(yaml: string): Snapshot {
  const parsed = parseMeshYaml(yaml, 'mesh.yaml');
  if (parsed.errors.length > 0) throw new Error(parsed.errors.join('\n'));
  const created = Snapshot.create(parsed.resources);
  if (!created.valid) throw new Error(created.errors.join('\n'));
  return created.snapshot;
}

const read = readEnvoyNode({ id: 'grpc-client-1', cluster: 'web', metadata: null });
if (!read.valid) throw new Error(read.error);
const proxyless = read.node;

function decoded(resources: EnvoyNodeResources, typeUrl: string, name: string): Any {
  const resource = resources.types.get(typeUrl)?.byName.get(name);
  if (resource === undefined) throw new Error(`${typeUrl} ${name} is not served`);
  return decodeAny(resource.any);
}

/** An `Any`'s two fields (type_url = 1, value = 2), as a gRPC client hands them to its resource types. */
function anyFields(bytes: Buffer): { type_url: string; value: Buffer } {
  let offset = 0;
  const out = { type_url: '', value: Buffer.alloc(0) };
  while (offset < bytes.length) {
    const tag = bytes[offset++]!;
    let length = 0;
    let shift = 0;
    for (;;) {
      const byte = bytes[offset++]!;
      length += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if ((byte & 0x80) === 0) break;
    }
    const field = bytes.subarray(offset, offset + length);
    offset += length;
    if (tag === 0x0a) out.type_url = field.toString('utf8');
    if (tag === 0x12) out.value = field;
  }
  return out;
}

const MESH = `
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: greeter, namespace: shop}
spec:
  interfaces: [helloworld.Greeter, {interface: helloworld.Farewell, group: g}]
  endpoints:
    - {address: 10.0.0.1:50051, labels: {version: v1}}
    - {address: "[fd00::2]:50051", labels: {version: v2}, weight: 30}
    - {address: greeter-3.local:50051, labels: {version: v2}}
    - {address: 10.0.0.4:50051, labels: {version: v2}, weight: 0}
---
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: echo, namespace: shop}
spec:
  interfaces: [echo.Echo]
  endpoints: [{address: 10.0.1.1:50051}]
---
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboPolicy
metadata: {name: greeter, namespace: shop}
spec:
  service: greeter
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
  loadBalancer: {policy: consistent-hash, hash: {attachment: User-Id}}
  connectionPool: {maxRequests: 64}
---
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboPolicy
metadata: {name: echo, namespace: shop}
spec: {service: echo, loadBalancer: {policy: least-active}}
---
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboRoute
metadata: {name: greeter-canary, namespace: shop}
spec:
  hosts: [helloworld.Greeter]
  routes:
    - name: beta
      match: [{method: {exact: SayHello}, attachments: {x-beta: {exact: "1"}}}, {method: {regex: "^Say.*Again$"}}]
      destinations: [{service: greeter, subset: v2, weight: 20}, {service: greeter, subset: v1, weight: 80}]
      timeout: 1500ms
      retries: {attempts: 7, retryOn: [unavailable, timeout]}
    - name: by-argument
      match: [{arguments: [{index: 0, exact: "x"}]}]
      destinations: [{service: echo}]
---
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboRoute
metadata: {name: everything, namespace: shop}
spec:
  hosts: ["*"]
  routes:
    - name: pings
      match: [{method: {prefix: Ping}}]
      destinations: [{service: echo}]
      retries: {attempts: 0}
`;

t.test('every resource passes the validation of a gRPC xDS client', async (t) => {
  register();
  const resources = new EnvoyTranslator().resourcesFor(snapshotOf(MESH), proxyless);
  t.same(checkEnvoyConsistency(resources), []);
  const context = { server: {}, bootstrap: { certificateProviders: {} } } as Any;
  const types: Array<[string, Any, string[]]> = [
    [TYPE_URLS.listener, ListenerResourceType.get(), ['greeter.shop', 'echo.shop']],
    [TYPE_URLS.routeConfiguration, RouteConfigurationResourceType.get(), ['greeter.shop', 'echo.shop']],
    [TYPE_URLS.cluster, ClusterResourceType.get(), ['greeter.shop', 'greeter.shop|v1', 'greeter.shop|v2', 'echo.shop']],
    [TYPE_URLS.clusterLoadAssignment, EndpointResourceType.get(), ['greeter.shop', 'greeter.shop|v1', 'greeter.shop|v2', 'echo.shop']],
  ];
  for (const [typeUrl, type, names] of types) {
    const typed = resources.types.get(typeUrl)!;
    t.same([...typed.byName.keys()].sort(), [...names].sort(), `${typeUrl}: one per service (and subset)`);
    for (const [name, resource] of typed.byName) {
      const result = type.decode(context, anyFields(resource.any));
      t.equal(result.error, undefined, `${typeUrl} ${name}: accepted`);
      t.equal(result.name, name);
    }
  }
});

t.test('the listener, routes, clusters and endpoints of one mesh service', async (t) => {
  const resources = new EnvoyTranslator().resourcesFor(snapshotOf(MESH), proxyless);
  const listener = decoded(resources, TYPE_URLS.listener, 'greeter.shop');
  const manager = listener.api_listener.api_listener;
  t.equal(manager['@type'], 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager');
  t.equal(manager.rds.route_config_name, 'greeter.shop');
  t.same(manager.rds.config_source.ads, {});
  t.same(
    manager.http_filters.map((f: Any) => [f.name, f.typed_config['@type']]),
    [['envoy.filters.http.router', 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router']],
  );

  const routes = decoded(resources, TYPE_URLS.routeConfiguration, 'greeter.shop');
  t.same(routes.virtual_hosts[0].domains, ['greeter.shop'], 'what xds:///greeter.shop asks for');
  const list = routes.virtual_hosts[0].routes;
  const path = (route: Any) => route.match[route.match.path_specifier]?.regex ?? route.match[route.match.path_specifier];
  t.same(
    list.map((route: Any) => [route.match.path_specifier, path(route)]),
    [
      ['path', '/helloworld.Greeter/SayHello'],
      ['safe_regex', '/helloworld\\.Greeter/(?:Say.*Again)'],
      ['prefix', '/helloworld.Greeter/Ping'],
      ['prefix', '/helloworld.Farewell/Ping'],
      ['prefix', '/'],
    ],
    "the rules of each interface in our proxy's order, the argument match left out, the default last",
  );
  t.match(list[0].match.headers, [{ name: 'x-beta', string_match: { exact: '1' } }]);
  const beta = list[0].route;
  t.same(
    beta.weighted_clusters.clusters.map((c: Any) => [c.name, c.weight.value]),
    [
      ['greeter.shop|v2', 20],
      ['greeter.shop|v1', 80],
    ],
    'a subset is a cluster of its own',
  );
  t.same(beta.max_stream_duration.max_stream_duration, { seconds: '1', nanos: 500_000_000 }, 'the timeout');
  t.match(beta.retry_policy, { retry_on: 'unavailable', num_retries: { value: 4 } }, 'retries, at most what gRPC makes');
  t.same(
    beta.hash_policy.map((h: Any) => h.header.header_name),
    ['user-id'],
    'a ring hash on the attachment as a header',
  );
  t.equal(list[2].route.cluster, 'echo.shop');
  t.equal(list[2].route.retry_policy, null, 'no retries when the rule says 0');
  t.equal(list[4].route.cluster, 'greeter.shop');
  t.match(list[4].route.retry_policy, { retry_on: 'unavailable', num_retries: { value: 2 } }, "our proxy's default retries");

  const cluster = decoded(resources, TYPE_URLS.cluster, 'greeter.shop');
  t.equal(cluster.type, 'EDS');
  t.equal(cluster.eds_cluster_config.service_name, 'greeter.shop');
  t.equal(cluster.lb_policy, 'RING_HASH');
  t.equal(cluster.circuit_breakers.thresholds[0].max_requests.value, 64);
  t.equal(decoded(resources, TYPE_URLS.cluster, 'greeter.shop|v2').eds_cluster_config.service_name, 'greeter.shop|v2');
  t.equal(decoded(resources, TYPE_URLS.cluster, 'echo.shop').lb_policy, 'ROUND_ROBIN');

  const endpoints = (name: string) =>
    decoded(resources, TYPE_URLS.clusterLoadAssignment, name).endpoints.flatMap((locality: Any) =>
      locality.lb_endpoints.map((e: Any) => [e.endpoint.address.socket_address.address, e.load_balancing_weight.value, e.health_status]),
    );
  t.same(endpoints('greeter.shop'), [
    ['10.0.0.1', 100, 'HEALTHY'],
    ['fd00::2', 30, 'HEALTHY'],
  ]);
  t.same(endpoints('greeter.shop|v1'), [['10.0.0.1', 100, 'HEALTHY']]);
  t.same(endpoints('greeter.shop|v2'), [['fd00::2', 30, 'HEALTHY']]);
  const assignment = decoded(resources, TYPE_URLS.clusterLoadAssignment, 'greeter.shop');
  t.equal(assignment.endpoints.length, 1, 'one locality');
  t.equal(assignment.endpoints[0].load_balancing_weight.value, 1, 'with a weight (gRPC drops a locality without one)');

  t.same(
    resources.untranslated.filter((line) => line.startsWith('DubboRoute')),
    [
      'DubboRoute shop/greeter-canary: spec.routes[0].retries.retryOn: timeout: a gRPC deadline covers every attempt; a call that timed out is not retried',
      'DubboRoute shop/greeter-canary: spec.routes[0].retries.attempts: 7: gRPC makes 4 retries at most',
      'DubboRoute shop/greeter-canary: spec.routes[1].match[0].arguments: a gRPC route cannot match arguments (they are in the message); this match entry is not sent to gRPC clients (their calls go to the next rule)',
    ],
  );
  t.ok(
    resources.untranslated.includes(
      "DubboService shop/greeter: spec.endpoints[2].address: greeter-3.local:50051: Envoy's EDS takes IP addresses only; the endpoint is not sent",
    ),
  );
  t.ok(resources.untranslated.some((line) => line.startsWith('DubboService shop/greeter: spec.endpoints[3].weight: 0')));
  t.ok(
    resources.untranslated.includes(
      "DubboService shop/greeter: spec.endpoints[].weight: gRPC clients' round robin ignores endpoint weights; each endpoint takes an equal share of calls",
    ),
    'weights 100 and 30: reported',
  );
  t.notOk(
    resources.untranslated.some((line) => line.startsWith('DubboService shop/echo: spec.endpoints[].weight')),
    'one weight: nothing to report',
  );
  t.ok(
    resources.untranslated.includes(
      'DubboPolicy shop/echo: spec.loadBalancer.policy: least-active: gRPC clients balance by round robin or ring hash only; round robin is used',
    ),
  );
});

t.test("regexes, anchors and empty prefixes as a gRPC client's own matcher applies them", async (t) => {
  const resources = new EnvoyTranslator().resourcesFor(
    snapshotOf(`
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: greeter}
spec: {interfaces: [helloworld.Greeter], endpoints: [{address: 10.0.0.1:50051}]}
---
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: other}
spec: {interfaces: [helloworld.Other], endpoints: [{address: 10.0.0.2:50051}]}
---
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboRoute
metadata: {name: r}
spec:
  hosts: [helloworld.Greeter]
  routes:
    - {name: refused, match: [{method: {regex: "[^]x"}}], destinations: [{service: other}]}
    - {name: alt, match: [{method: {regex: "^Say|Bye$"}}], destinations: [{service: other}]}
    - {name: tagged, match: [{method: {prefix: ""}, attachments: {x-tag: {prefix: ""}}}], destinations: [{service: other}]}
`),
    proxyless,
  );
  const resource = resources.types.get(TYPE_URLS.routeConfiguration)!.byName.get('greeter.default')!;
  const result = RouteConfigurationResourceType.get().decode({ server: {}, bootstrap: {} } as Any, anyFields(resource.any));
  t.equal(result.error, undefined, 'accepted by the client');
  const routes = result.value.virtual_hosts[0].routes as Any[];
  t.same(
    routes.map((route) => route.name),
    ['default/r/alt', 'default/r/tagged', 'default'],
    'the refused regex is not sent (a gRPC client would crash compiling it)',
  );
  t.match(
    resources.untranslated.find((line) => line.includes('spec.routes[0].match[0]')),
    /^DubboRoute default\/r: spec\.routes\[0\]\.match\[0\]\.method\.regex: RE2 cannot compile it: .*; this match entry is not sent to gRPC clients/,
  );
  // Where the client sends a call: the first route whose matcher (grpc-js-xds's own) holds.
  const routeOf = (method: string, headers: Record<string, string> = {}) => {
    const metadata = new Metadata();
    for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
    return routes.find((route) => getPredicateForMatcher(route.match).apply(`/helloworld.Greeter/${method}`, metadata))?.name;
  };
  t.equal(routeOf('SayHello'), 'default/r/alt', '^Say: a method that starts so');
  t.equal(routeOf('GoodBye'), 'default/r/alt', 'Bye$: a method that ends so');
  t.equal(routeOf('NoSayNo'), 'default', 'neither');
  t.equal(routeOf('Other', { 'x-tag': '' }), 'default/r/tagged', 'an empty prefix: the attachment is present');
  t.equal(routeOf('Other'), 'default', 'absent');
});
