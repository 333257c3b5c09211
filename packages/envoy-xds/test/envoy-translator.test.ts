// The translator as the ADS server uses it: listeners by node shape, results cached per
// snapshot and shape, encoded resources reused across snapshots (one endpoint change encodes
// one ClusterLoadAssignment), what is not translated listed per node, and the consistency check.
import t from 'tap';
import { validateResource, type LocatedResource } from '@dubbo-mesh/config';
import { Snapshot } from '@dubbo-mesh/control-plane';
import {
  EnvoyTranslator,
  FILTER_TYPE_URLS,
  TYPE_URLS,
  checkEnvoyConsistency,
  decodeAny,
  encodeResource,
  GenerationalCache,
  readEnvoyNode,
  type EnvoyNode,
  type EnvoyNodeResources,
  type EnvoyTypeResources,
} from '@dubbo-mesh/envoy-xds';
import { xdsNode } from './fixtures/xds-node.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

const located = new Map<string, LocatedResource>();
/** A validated resource, the same object for the same content (as a source's YAML cache hands it). */
function resource(raw: Record<string, unknown>): LocatedResource {
  const key = JSON.stringify(raw);
  let item = located.get(key);
  if (item === undefined) {
    const result = validateResource(raw);
    if (!result.valid) throw new Error(result.errors.join('\n'));
    located.set(key, (item = { resource: result.result, raw }));
  }
  return item;
}
const meta = (kind: string, name: string, spec: Record<string, unknown>) => resource({ apiVersion: 'dubbo-mesh.io/v1alpha1', kind, metadata: { name }, spec });
const service = (i: number, hosts = [`10.1.${i >> 8}.${i & 255}`]) =>
  meta('DubboService', `svc-${i}`, {
    interfaces: [`org.example.Service${i}`],
    endpoints: hosts.map((host) => ({ address: `${host}:20880`, labels: { version: i % 2 === 0 ? 'v1' : 'v2' } })),
  });
const policy = (i: number) => meta('DubboPolicy', `svc-${i}`, { service: `svc-${i}`, subsets: [{ name: 'v1', labels: { version: 'v1' } }] });
const route = (i: number, subset: string | null = 'v1') =>
  meta('DubboRoute', `route-${i}`, {
    hosts: [`org.example.Service${i}`],
    routes: [{ destinations: [{ service: `svc-${i}`, ...(subset === null ? {} : { subset }) }] }],
  });

function snapshot(items: LocatedResource[]): Snapshot {
  const created = Snapshot.create(items);
  if (!created.valid) throw new Error(created.errors.join('\n'));
  return created.snapshot;
}

function node(id: string, fields: Record<string, string> = {}): EnvoyNode {
  const read = readEnvoyNode(xdsNode(id, 'web', fields));
  if (!read.valid) throw new Error(read.error);
  return read.node;
}
const sidecar = (id: string, fields: Record<string, string> = {}) => node(id, { DUBBO_MESH_ROLE: 'proxy', ...fields });

const decodedOf = (resources: EnvoyNodeResources, typeUrl: string, name: string): Any => decodeAny(resources.types.get(typeUrl)!.byName.get(name)!.any);

t.test("a sidecar's listeners: outbound with dubbo_proxy over drds, inbound to its application", async (t) => {
  const s = snapshot([service(1)]);
  const translator = new EnvoyTranslator();
  const plain = translator.resourcesFor(s, sidecar('a'));
  t.same([...plain.types.keys()], [TYPE_URLS.listener, TYPE_URLS.dubboRoutes, TYPE_URLS.cluster, TYPE_URLS.clusterLoadAssignment]);
  t.same([...plain.types.get(TYPE_URLS.listener)!.byName.keys()], ['dubbo_outbound']);
  const outbound = decodedOf(plain, TYPE_URLS.listener, 'dubbo_outbound');
  t.match(outbound.address.socket_address, { address: '127.0.0.1', port_value: 20881 });
  const filter = outbound.filter_chains[0].filters[0];
  t.equal(filter.name, 'envoy.filters.network.dubbo_proxy');
  t.match(filter.typed_config, {
    '@type': FILTER_TYPE_URLS.dubboProxy,
    stat_prefix: 'dubbo_outbound',
    protocol_type: 'Dubbo',
    serialization_type: 'Hessian2',
    route_specifier: 'drds',
    drds: { route_config_name: 'dubbo_outbound', config_source: { ads: {}, resource_api_version: 'V3' } },
    dubbo_filters: [{ name: 'envoy.filters.dubbo.router' }],
  });
  t.same(checkEnvoyConsistency(plain), []);

  const withInbound = translator.resourcesFor(
    s,
    sidecar('b', { DUBBO_MESH_OUTBOUND: '127.0.0.1:30001', DUBBO_MESH_INBOUND: '0.0.0.0:20891', DUBBO_MESH_INBOUND_TARGET: '127.0.0.1:20880' }),
  );
  t.same([...withInbound.types.get(TYPE_URLS.listener)!.byName.keys()].sort(), ['dubbo_inbound', 'dubbo_outbound']);
  t.equal(decodedOf(withInbound, TYPE_URLS.listener, 'dubbo_outbound').address.socket_address.port_value, 30001);
  const inbound = decodedOf(withInbound, TYPE_URLS.listener, 'dubbo_inbound');
  t.match(inbound.address.socket_address, { address: '0.0.0.0', port_value: 20891 });
  const routes = inbound.filter_chains[0].filters[0].typed_config;
  t.equal(routes.route_specifier, 'multiple_route_config', 'inline routes: nothing to fetch');
  t.match(routes.multiple_route_config.route_config, [{ interface: '*', routes: [{ route: { cluster: 'dubbo_inbound' } }] }]);
  const cluster = decodedOf(withInbound, TYPE_URLS.cluster, 'dubbo_inbound');
  t.equal(cluster.type, 'STATIC');
  t.match(cluster.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address, { address: '127.0.0.1', port_value: 20880 });
  t.same(checkEnvoyConsistency(withInbound), []);
  t.equal(
    withInbound.types.get(TYPE_URLS.clusterLoadAssignment),
    plain.types.get(TYPE_URLS.clusterLoadAssignment),
    'what does not depend on the shape is shared',
  );
  t.not(withInbound.types.get(TYPE_URLS.cluster)!.version, plain.types.get(TYPE_URLS.cluster)!.version);

  const named = translator.resourcesFor(s, sidecar('c', { DUBBO_MESH_OUTBOUND: 'localhost:20881' }));
  t.equal(named.types.get(TYPE_URLS.listener)!.byName.size, 0, 'a host name is no address to listen on');
  t.ok(
    named.untranslated.includes(
      "node.metadata.DUBBO_MESH_OUTBOUND: 'localhost' is not an IP address, which an Envoy listener needs; dubbo_outbound is not sent",
    ),
  );
});

t.test('the same snapshot and node shape give the same object; each kind its own types', async (t) => {
  const s = snapshot([service(1), service(2), policy(1), route(1)]);
  const translator = new EnvoyTranslator();
  const a = translator.resourcesFor(s, sidecar('a'));
  t.equal(translator.resourcesFor(s, sidecar('other-id')), a, 'another node of the same shape');
  t.equal(translator.resourcesFor(s, sidecar('a')), a);
  const p = translator.resourcesFor(s, node('grpc'));
  t.equal(translator.resourcesFor(s, node('grpc-2')), p);
  t.same([...p.types.keys()], [TYPE_URLS.listener, TYPE_URLS.routeConfiguration, TYPE_URLS.cluster, TYPE_URLS.clusterLoadAssignment]);
  t.equal(a.snapshotVersion, s.version);
  t.equal(p.snapshotVersion, s.version);
  t.same(checkEnvoyConsistency(p), []);
  // Another translator builds equal resources: versions are digests of content.
  const again = new EnvoyTranslator().resourcesFor(s, sidecar('a'));
  for (const [typeUrl, typed] of a.types) t.equal(again.types.get(typeUrl)!.version, typed.version, `${typeUrl}: equal content, equal version`);
});

/** Resources whose object differs between two results of one type. */
function changed(before: EnvoyTypeResources, after: EnvoyTypeResources): string[] {
  const out: string[] = [];
  for (const [name, resource] of after.byName) if (before.byName.get(name) !== resource) out.push(name);
  for (const name of before.byName.keys()) if (!after.byName.has(name)) out.push(`-${name}`);
  return out;
}

t.test('one endpoint change encodes one load assignment again, nothing else', async (t) => {
  const count = 300;
  const base: LocatedResource[] = [];
  for (let i = 0; i < count; i++) base.push(service(i));
  for (let i = 0; i < count; i += 10) base.push(policy(i), route(i));
  const first = snapshot(base);
  const moved = base.map((item) => (item === base[7] ? service(7, ['10.9.9.9', '10.9.9.10']) : item));
  const second = snapshot(moved);
  const translator = new EnvoyTranslator();
  const shapes: Array<[string, EnvoyNode]> = [
    ['sidecar', sidecar('a')],
    ['sidecar with inbound', sidecar('b', { DUBBO_MESH_INBOUND: '0.0.0.0:20891', DUBBO_MESH_INBOUND_TARGET: '127.0.0.1:20880' })],
    ['proxyless', node('grpc')],
  ];
  const before = shapes.map(([, n]) => translator.resourcesFor(first, n));
  const after = shapes.map(([, n]) => translator.resourcesFor(second, n));
  shapes.forEach(([what], i) => {
    const b = before[i]!;
    const a = after[i]!;
    t.not(a, b, `${what}: a new snapshot, a new result`);
    t.same(checkEnvoyConsistency(a), [], `${what}: consistent`);
    for (const [typeUrl, typed] of a.types) {
      const expected = typeUrl === TYPE_URLS.clusterLoadAssignment ? ['svc-7.default'] : [];
      t.same(changed(b.types.get(typeUrl)!, typed), expected, `${what}: ${typeUrl}: ${expected.length} re-encoded`);
    }
    t.not(a.types.get(TYPE_URLS.clusterLoadAssignment)!.version, b.types.get(TYPE_URLS.clusterLoadAssignment)!.version);
    t.equal(a.types.get(TYPE_URLS.listener)!.version, b.types.get(TYPE_URLS.listener)!.version, `${what}: the listeners' version holds`);
  });
  t.equal(after[0]!.types.get(TYPE_URLS.dubboRoutes), before[0]!.types.get(TYPE_URLS.dubboRoutes), 'unchanged routes: the same type object');
  t.equal(after[0]!.types.get(TYPE_URLS.cluster), before[0]!.types.get(TYPE_URLS.cluster), 'unchanged clusters: the same type object');
  const endpoints = decodedOf(after[0]!, TYPE_URLS.clusterLoadAssignment, 'svc-7.default').endpoints[0].lb_endpoints;
  t.same(
    endpoints.map((e: Any) => e.endpoint.address.socket_address.address),
    ['10.9.9.9', '10.9.9.10'],
  );

  // Equal content from changed inputs is not encoded again: a weight of the only destination changes nothing Envoy sees.
  const reweighted = snapshot(
    moved.map((item) =>
      item === route(30)
        ? meta('DubboRoute', 'route-30', { hosts: ['org.example.Service30'], routes: [{ destinations: [{ service: 'svc-30', subset: 'v1', weight: 7 }] }] })
        : item,
    ),
  );
  const reweightedRoutes = translator.resourcesFor(reweighted, shapes[0]![1]).types.get(TYPE_URLS.dubboRoutes)!;
  t.equal(
    reweightedRoutes.byName.get('dubbo_outbound'),
    after[0]!.types.get(TYPE_URLS.dubboRoutes)!.byName.get('dubbo_outbound'),
    'the same encoded routes as before',
  );
  t.equal(reweightedRoutes.version, after[0]!.types.get(TYPE_URLS.dubboRoutes)!.version);

  // A route change: the sidecar's routes and the proxyless route configuration it touches, nothing else.
  const rerouted = snapshot(moved.map((item) => (item === route(20) ? route(20, null) : item)));
  const sidecarAfter = translator.resourcesFor(rerouted, shapes[0]![1]);
  t.same(changed(after[0]!.types.get(TYPE_URLS.dubboRoutes)!, sidecarAfter.types.get(TYPE_URLS.dubboRoutes)!), ['dubbo_outbound']);
  t.same(changed(after[0]!.types.get(TYPE_URLS.cluster)!, sidecarAfter.types.get(TYPE_URLS.cluster)!), []);
  t.same(changed(after[0]!.types.get(TYPE_URLS.clusterLoadAssignment)!, sidecarAfter.types.get(TYPE_URLS.clusterLoadAssignment)!), []);
  const proxylessAfter = translator.resourcesFor(rerouted, shapes[2]![1]);
  t.same(changed(after[2]!.types.get(TYPE_URLS.routeConfiguration)!, proxylessAfter.types.get(TYPE_URLS.routeConfiguration)!), ['svc-20.default']);
  t.same(changed(after[2]!.types.get(TYPE_URLS.cluster)!, proxylessAfter.types.get(TYPE_URLS.cluster)!), []);
});

t.test('what no Envoy applies is listed per node, never dropped silently', async (t) => {
  const s = snapshot([
    service(1, ['10.0.0.1', 'provider.example']),
    meta('DubboRule', 'read-write', {
      configVersion: 'v3.0',
      scope: 'service',
      key: 'org.example.Service1',
      force: true,
      conditions: ['method = find* => host = 10.0.0.1'],
    }),
    meta('DubboPlugin', 'auth', { grpc: { address: '127.0.0.1:9500' } }),
    meta('DubboIngress', 'edge', { rules: [{ host: 'svc-app', service: 'svc-1', endpoints: [{ address: '10.0.0.1:20880' }] }] }),
  ]);
  const translator = new EnvoyTranslator();
  const forSidecar = translator.resourcesFor(s, sidecar('a')).untranslated;
  t.same(forSidecar, [
    "DubboService default/svc-1: spec.endpoints[1].address: provider.example:20880: Envoy's EDS takes IP addresses only; the endpoint is not sent",
    'DubboRule default/read-write: Dubbo governance rules are applied by dubbo-mesh proxies only; Envoy ignores it',
    'DubboPlugin default/auth: plugins run in dubbo-mesh proxies only; Envoy ignores it',
    'DubboIngress default/edge: routes by target application are applied by dubbo-mesh proxies and gateways only; Envoy ignores it',
    'DubboRoute (every route without retries): spec.routes[].retries: dubbo-mesh proxies retry a call 2 times on connect-failure or unavailable by default; dubbo_proxy has no retries and sends each call once',
  ]);
  const forClient = translator.resourcesFor(s, node('grpc')).untranslated;
  t.ok(forClient.includes('DubboRule default/read-write: Dubbo governance rules are applied by dubbo-mesh proxies only; a gRPC client ignores it'));
  t.ok(Object.isFrozen(forClient));
});

t.test('the consistency check catches a broken set', async (t) => {
  const s = snapshot([service(1), policy(1), route(1)]);
  const good = new EnvoyTranslator().resourcesFor(s, sidecar('a'));
  t.same(checkEnvoyConsistency(good), []);
  const without = (typeUrl: string, name: string, add: Array<{ name: string; version: string; any: Buffer }> = []): EnvoyNodeResources => {
    const types = new Map(good.types);
    const typed = good.types.get(typeUrl)!;
    const byName = new Map(typed.byName);
    byName.delete(name);
    for (const resource of add) byName.set(resource.name, resource);
    types.set(typeUrl, { ...typed, byName });
    return { ...good, types };
  };
  t.same(checkEnvoyConsistency(without(TYPE_URLS.cluster, 'svc-1.default')), [
    `${TYPE_URLS.dubboRoutes} dubbo_outbound.route_config[0].routes[0]: names cluster 'svc-1.default', which is not served`,
    `${TYPE_URLS.dubboRoutes} dubbo_outbound.route_config[1].routes[0]: names cluster 'svc-1.default', which is not served`,
  ]);
  t.same(checkEnvoyConsistency(without(TYPE_URLS.clusterLoadAssignment, 'svc-1.default')), [
    `${TYPE_URLS.cluster} svc-1.default: its EDS service 'svc-1.default' is not served`,
  ]);
  t.same(checkEnvoyConsistency(without(TYPE_URLS.dubboRoutes, 'dubbo_outbound')), [
    `${TYPE_URLS.listener} dubbo_outbound: its drds names 'dubbo_outbound', which is not served`,
  ]);
  // The cluster without its subset selectors: the route's subset would match nothing.
  const plain = encodeResource(TYPE_URLS.cluster, 'svc-1.default', {
    name: 'svc-1.default',
    type: 'EDS',
    eds_cluster_config: { service_name: 'svc-1.default' },
  });
  t.same(checkEnvoyConsistency(without(TYPE_URLS.cluster, 'svc-1.default', [plain])), [
    `${TYPE_URLS.dubboRoutes} dubbo_outbound.route_config[0].routes[0]: matches subset keys [version] that cluster 'svc-1.default' has no selector for`,
  ]);
  const misnamed = { ...plain, name: 'other' };
  t.match(checkEnvoyConsistency(without(TYPE_URLS.cluster, 'nothing', [misnamed])), [`${TYPE_URLS.cluster} other: is named svc-1.default`]);
  const tampered = { ...plain, version: 'not-a-digest' };
  t.match(checkEnvoyConsistency(without(TYPE_URLS.cluster, 'svc-1.default', [tampered])), [/its version is not the digest of its bytes/]);
  const proxyless = new EnvoyTranslator().resourcesFor(s, node('grpc'));
  const types = new Map(proxyless.types);
  types.set(TYPE_URLS.routeConfiguration, { ...proxyless.types.get(TYPE_URLS.routeConfiguration)!, byName: new Map() });
  t.same(checkEnvoyConsistency({ ...proxyless, types }), [`${TYPE_URLS.listener} svc-1.default: its rds names 'svc-1.default', which is not served`]);
});

t.test("a policy change re-encodes that service's clusters, not its endpoints", async (t) => {
  const items = [service(1), service(2), policy(1)];
  const translator = new EnvoyTranslator();
  const shapes = [sidecar('a'), node('grpc')];
  const before = shapes.map((n) => translator.resourcesFor(snapshot(items), n));
  const tuned = meta('DubboPolicy', 'svc-1', {
    service: 'svc-1',
    subsets: [{ name: 'v1', labels: { version: 'v1' } }],
    loadBalancer: { policy: 'round-robin' },
    connectionPool: { maxPendingRequests: 7 },
  });
  const after = shapes.map((n) => translator.resourcesFor(snapshot([service(1), service(2), tuned]), n));
  t.same(changed(before[0]!.types.get(TYPE_URLS.cluster)!, after[0]!.types.get(TYPE_URLS.cluster)!), ['svc-1.default']);
  t.same(changed(before[0]!.types.get(TYPE_URLS.clusterLoadAssignment)!, after[0]!.types.get(TYPE_URLS.clusterLoadAssignment)!), []);
  t.equal(decodedOf(after[0]!, TYPE_URLS.cluster, 'svc-1.default').circuit_breakers.thresholds[0].max_pending_requests.value, 7);
  // Proxyless: the subset cluster is shaped by the policy too; the load assignments hold.
  t.same(changed(before[1]!.types.get(TYPE_URLS.cluster)!, after[1]!.types.get(TYPE_URLS.cluster)!), []);
  t.same(changed(before[1]!.types.get(TYPE_URLS.clusterLoadAssignment)!, after[1]!.types.get(TYPE_URLS.clusterLoadAssignment)!), []);
  t.same(changed(before[1]!.types.get(TYPE_URLS.routeConfiguration)!, after[1]!.types.get(TYPE_URLS.routeConfiguration)!), []);
  t.ok(before[1]!.untranslated.some((line) => line.includes('spec.loadBalancer.policy: random')));
  t.notOk(
    after[1]!.untranslated.some((line) => line.includes('spec.loadBalancer.policy')),
    'round robin is what gRPC does',
  );
});

t.test('the cache keeps what the last snapshot used and drops the rest once it has grown', async (t) => {
  const cache = new GenerationalCache<number>();
  for (let i = 0; i < 200; i++) cache.set(`k${i}`, i);
  cache.rotate();
  t.equal(cache.size, 200, 'all used by the last generation: kept');
  t.equal(cache.get('k1'), 1);
  t.equal(cache.get('k2'), 2);
  cache.rotate();
  t.equal(cache.size, 2, 'grown past twice what was used: the unused are dropped');
  t.equal(cache.get('k1'), 1);
  t.equal(cache.get('k3'), undefined);
});

t.test("successive endpoint changes: each encodes that service's load assignment, its other resources kept", async (t) => {
  const base: LocatedResource[] = [];
  for (let i = 0; i < 200; i++) base.push(service(i));
  for (let i = 0; i < 200; i += 10) base.push(policy(i), route(i));
  const translator = new EnvoyTranslator();
  const shapes: Array<[string, EnvoyNode]> = [
    ['sidecar', sidecar('a')],
    ['proxyless', node('grpc')],
  ];
  let items = base;
  let before = shapes.map(([, n]) => translator.resourcesFor(snapshot(items), n));
  // Two changes of other services, then the first again: each time only that service's assignments are new.
  const steps: Array<[number, string[]]> = [
    [10, ['10.9.0.1']],
    [11, ['10.9.0.2']],
    [10, ['10.9.0.3']],
  ];
  for (const [i, hosts] of steps) {
    items = items.map((item) => (item.resource.kind === 'DubboService' && item.resource.metadata.name === `svc-${i}` ? service(i, hosts) : item));
    const work = translator.work;
    const after = shapes.map(([, n]) => translator.resourcesFor(snapshot(items), n));
    shapes.forEach(([what], k) => {
      for (const [typeUrl, typed] of after[k]!.types) {
        const expected =
          typeUrl !== TYPE_URLS.clusterLoadAssignment
            ? []
            : what === 'proxyless' && i % 10 === 0
              ? [`svc-${i}.default`, `svc-${i}.default|v1`]
              : [`svc-${i}.default`];
        t.same(changed(before[k]!.types.get(typeUrl)!, typed), expected, `svc-${i} ${what}: ${typeUrl}`);
      }
    });
    const assignments = i % 10 === 0 ? 3 : 2;
    t.equal(translator.work.encoded - work.encoded, assignments, `svc-${i}: ${assignments} assignments encoded, nothing else`);
    before = after;
  }
});

t.test('type versions do not depend on the order resources are listed in', async (t) => {
  const items: LocatedResource[] = [];
  for (let i = 0; i < 20; i++) items.push(service(i));
  for (let i = 0; i < 20; i += 5) items.push(policy(i));
  const reordered = [...items].reverse();
  for (const shape of [sidecar('a'), node('grpc')]) {
    const a = new EnvoyTranslator().resourcesFor(snapshot(items), shape);
    const b = new EnvoyTranslator().resourcesFor(snapshot(reordered), shape);
    for (const typeUrl of [TYPE_URLS.listener, TYPE_URLS.routeConfiguration, TYPE_URLS.cluster, TYPE_URLS.clusterLoadAssignment]) {
      if (!a.types.has(typeUrl) || a.types.get(typeUrl)!.byName.size < 2) continue;
      t.not(
        [...a.types.get(typeUrl)!.byName.keys()].join(),
        [...b.types.get(typeUrl)!.byName.keys()].join(),
        `${shape.kind} ${typeUrl}: listed in another order`,
      );
      t.equal(b.types.get(typeUrl)!.version, a.types.get(typeUrl)!.version, `${shape.kind} ${typeUrl}: the same version`);
    }
    const one = new EnvoyTranslator().resourcesFor(snapshot(items.filter((item) => item !== service(19))), shape);
    t.not(one.types.get(TYPE_URLS.cluster)!.version, a.types.get(TYPE_URLS.cluster)!.version, `${shape.kind}: one resource less, another version`);
  }
});

t.test('a policy change rebuilds only the route configurations that read what changed', async (t) => {
  const base: LocatedResource[] = [];
  for (let i = 0; i < 200; i++) base.push(service(i));
  for (let i = 0; i < 200; i += 10) base.push(policy(i), route(i));
  const translator = new EnvoyTranslator();
  const grpc = node('grpc');
  const envoy = sidecar('a');
  const first = snapshot(base);
  const p0 = translator.resourcesFor(first, grpc);
  const s0 = translator.resourcesFor(first, envoy);
  // Outlier detection: the clusters of svc-20 change; no route configuration reads it.
  const tuned = meta('DubboPolicy', 'svc-20', {
    service: 'svc-20',
    subsets: [{ name: 'v1', labels: { version: 'v1' } }],
    outlierDetection: { consecutiveErrors: 9 },
  });
  const outlier = snapshot(base.map((item) => (item === policy(20) ? tuned : item)));
  let work = translator.work;
  const p1 = translator.resourcesFor(outlier, grpc);
  t.same(changed(p0.types.get(TYPE_URLS.routeConfiguration)!, p1.types.get(TYPE_URLS.routeConfiguration)!), []);
  t.same(changed(p0.types.get(TYPE_URLS.cluster)!, p1.types.get(TYPE_URLS.cluster)!), ['svc-20.default', 'svc-20.default|v1']);
  t.equal(translator.work.built - work.built, 2, 'proxyless: two clusters built, no route configuration');
  work = translator.work;
  const s1 = translator.resourcesFor(outlier, envoy);
  t.equal(s1.types.get(TYPE_URLS.dubboRoutes), s0.types.get(TYPE_URLS.dubboRoutes), 'sidecar: the routes read subsets only: the same');
  t.equal(translator.work.built - work.built, 1, 'sidecar: one cluster built');
  // Its subset selects every endpoint: svc-20's route now names the service's cluster; only svc-20's configuration is rebuilt.
  const plain = meta('DubboPolicy', 'svc-20', { service: 'svc-20', subsets: [{ name: 'v1', labels: {} }] });
  work = translator.work;
  const p2 = translator.resourcesFor(snapshot(base.map((item) => (item === policy(20) ? plain : item))), grpc);
  t.same(changed(p1.types.get(TYPE_URLS.routeConfiguration)!, p2.types.get(TYPE_URLS.routeConfiguration)!), ['svc-20.default']);
  t.equal(decodedOf(p2, TYPE_URLS.routeConfiguration, 'svc-20.default').virtual_hosts[0].routes[0].route.cluster, 'svc-20.default');
  t.ok(translator.work.built - work.built <= 3, "proxyless: svc-20's cluster, assignment and route configuration built, not 200 route configurations");
});
