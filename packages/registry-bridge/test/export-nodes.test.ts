// exportedNodes: the ZooKeeper nodes a mesh config registers, compared with what Java Dubbo writes.
import t from 'tap';
import { assembleMeshConfig, parseMeshYaml, type MeshConfig } from '@dubbo-mesh/config';
import { decodeNodeName, encodeNodeName, exportedNodes, formatDubboUrl, parseDubboUrl, REGISTRY_LABEL } from '@dubbo-mesh/registry-bridge';

function meshConfig(yaml: string): MeshConfig {
  const parsed = parseMeshYaml(yaml, 'mesh.yaml');
  if (parsed.errors.length > 0) throw new Error(parsed.errors.join('\n'));
  const assembled = assembleMeshConfig(parsed.resources);
  if (!assembled.valid) throw new Error(assembled.errors.join('\n'));
  return assembled.result;
}

/** The provider URLs (decoded) under one interface's folder. */
function providers(nodes: ReturnType<typeof exportedNodes>, iface: string, root = '/dubbo'): string[] {
  const folder = `${root}/${encodeNodeName(iface)}/providers/`;
  return [...nodes.ephemerals.keys()].filter((path) => path.startsWith(folder)).map((path) => decodeNodeName(path.slice(folder.length)));
}

// Node names Java Dubbo wrote (research notes §1: `ls /dubbo/<iface>/providers`).
// Dubbo 3.0.8, dubbo-website "source-blog" registry chapter: no group, no version.
const JAVA_308 =
  'dubbo%3A%2F%2F192.168.1.9%3A20880%2Flink.elastic.dubbo.entity.DemoService%3Fanyhost%3Dtrue%26application%3Ddubbo-demo-api-provider%26background%3Dfalse%26deprecated%3Dfalse%26dubbo%3D2.0.2%26dynamic%3Dtrue%26generic%3Dfalse%26interface%3Dlink.elastic.dubbo.entity.DemoService%26methods%3DsayHello%2CsayHelloAsync%26pid%3D29386%26release%3D3.0.8%26service-name-mapping%3Dtrue%26side%3Dprovider%26timestamp%3D1655023329514';
// Dubbo 2.7.7, dubbo-website blog "dubbo-go in Plain Language": group and version.
const JAVA_277 =
  'dubbo%3A%2F%2F127.0.0.1%3A12345%2Fcom.funnycode.DemoService%3Fanyhost%3Dtrue%26application%3DdemoProvider%26deprecated%3Dfalse%26dubbo%3D2.0.2%26dynamic%3Dtrue%26generic%3Dfalse%26group%3Dtc%26interface%3Dcom.funnycode.DemoService%26methods%3DsayHello%26pid%3D18167%26release%3D2.7.7%26revision%3D1.0.0%26side%3Dprovider%26threads%3D200%26timestamp%3D1606896020691%26version%3D1.0.0';
// What a Java provider writes that the mesh cannot or must not: per-process values (pid,
// timestamp, threads, background), the framework's (release, revision, service-name-mapping
// is a Dubbo 3 provider's claim about its own mapping) and methods (a mesh config lists none).
const JAVA_ONLY = ['background', 'methods', 'pid', 'release', 'revision', 'service-name-mapping', 'threads', 'timestamp'];

t.test('a provider URL is the one Java writes, field by field, minus per-process values, plus the mesh marker', async (t) => {
  const cases = [
    {
      java: JAVA_308,
      yaml: `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: dubbo-demo-api-provider}
spec:
  interfaces: [link.elastic.dubbo.entity.DemoService]
  endpoints: [{address: 192.168.1.9:20880}]
`,
      application: 'dubbo-demo-api-provider',
    },
    {
      java: JAVA_277,
      // A mesh name is lower case: the application is the mesh service's name (Java's was demoProvider).
      yaml: `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: demoprovider}
spec:
  interfaces: [{interface: com.funnycode.DemoService, group: tc, version: 1.0.0}]
  endpoints: [{address: 127.0.0.1:12345}]
`,
      application: 'demoprovider',
    },
  ];
  for (const { java, yaml, application } of cases) {
    const javaUrl = parseDubboUrl(decodeNodeName(java))!;
    const nodes = exportedNodes(meshConfig(yaml), { kind: 'endpoints' });
    const [ours, ...more] = providers(nodes, javaUrl.path);
    t.same(more, [], 'one provider node');
    const url = parseDubboUrl(ours!)!;
    t.same([url.protocol, url.host, url.port, url.path], [javaUrl.protocol, javaUrl.host, javaUrl.port, javaUrl.path], 'protocol, address, path');
    for (const [name, value] of Object.entries(url.parameters)) {
      if (name === 'meshed-by') t.equal(value, 'dubbo-mesh', 'the marker');
      else if (name === 'application') t.equal(value, application);
      else t.equal(value, javaUrl.parameters[name], `${name} as Java writes it`);
    }
    for (const name of Object.keys(javaUrl.parameters))
      if (!(name in url.parameters)) t.ok(JAVA_ONLY.includes(name), `${name}: left out on purpose (${javaUrl.parameters[name]})`);
    // The whole node name: Java's with those left out and the marker in, in Java's order and encoding.
    const expected = { ...javaUrl.parameters, application, 'meshed-by': 'dubbo-mesh' };
    for (const name of JAVA_ONLY) delete expected[name];
    const path = [...nodes.ephemerals.keys()].find((p) => p.includes('/providers/'))!;
    t.equal(path, `/dubbo/${javaUrl.path}/providers/${encodeNodeName(formatDubboUrl({ ...javaUrl, parameters: expected }))}`, 'the exact node path');
    t.match(
      path.split('/providers/')[1],
      /^dubbo%3A%2F%2F[^?&=]+%3Fanyhost%3Dtrue%26application%3D/,
      'anyhost first, as a Node consumer that drops the first parameter needs',
    );
    t.equal(nodes.ephemerals.get(path), '', 'no data: Dubbo reads none');
  }
});

const MIXED = `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: orders}
spec:
  interfaces:
    - org.example.OrderService
    - {interface: org.example.OrderAdmin, group: '', version: 2.0.0}
    - {interface: org.example.Audit, group: ops, version: ''}
  endpoints:
    - {address: 10.0.0.1:20880}
    - {address: 10.0.0.2:20880, weight: 40, interfaces: [org.example.OrderService]}
    - {address: 10.0.0.9:20880, labels: {${REGISTRY_LABEL}: zookeeper}}
---
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: legacy}
spec:
  interfaces: [org.example.Legacy]
  endpoints:
    - {address: 10.0.1.1:20880, labels: {${REGISTRY_LABEL}: zookeeper}}
---
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: users}
spec:
  interfaces: [{interface: org.example.OrderService, version: 9.0.0}]
  endpoints: [{address: 10.0.2.1:20881}]
`;

t.test('endpoints mode: mesh endpoints only, each for the keys it provides; empty group or version left out; weight when not 100', async (t) => {
  const nodes = exportedNodes(meshConfig(MIXED), { kind: 'endpoints' });
  const head = (address: string, iface: string, app: string) =>
    `dubbo://${address}/${iface}?anyhost=true&application=${app}&deprecated=false&dubbo=2.0.2&dynamic=true&generic=false`;
  t.same(providers(nodes, 'org.example.OrderService').sort(), [
    `${head('10.0.0.1:20880', 'org.example.OrderService', 'orders')}&interface=org.example.OrderService&meshed-by=dubbo-mesh&side=provider`,
    `${head('10.0.0.2:20880', 'org.example.OrderService', 'orders')}&interface=org.example.OrderService&meshed-by=dubbo-mesh&side=provider&weight=40`,
    `${head('10.0.2.1:20881', 'org.example.OrderService', 'users')}&interface=org.example.OrderService&meshed-by=dubbo-mesh&side=provider&version=9.0.0`,
  ]);
  t.same(
    providers(nodes, 'org.example.OrderAdmin'),
    [`${head('10.0.0.1:20880', 'org.example.OrderAdmin', 'orders')}&interface=org.example.OrderAdmin&meshed-by=dubbo-mesh&side=provider&version=2.0.0`],
    'an endpoint limited to OrderService is not exported for OrderAdmin; no group=',
  );
  t.same(
    providers(nodes, 'org.example.Audit'),
    [`${head('10.0.0.1:20880', 'org.example.Audit', 'orders')}&group=ops&interface=org.example.Audit&meshed-by=dubbo-mesh&side=provider`],
    'no version=',
  );
  t.same(providers(nodes, 'org.example.Legacy'), [], 'a service whose endpoints are all imported is not exported');
  t.notOk(
    [...nodes.ephemerals.keys()].some((path) => path.includes('10.0.0.9')),
    'an imported endpoint is not exported',
  );
  t.same(
    [...nodes.mappings].sort(),
    [
      ['/dubbo/mapping/org.example.Audit', ['orders']],
      ['/dubbo/mapping/org.example.OrderAdmin', ['orders']],
      ['/dubbo/mapping/org.example.OrderService', ['orders', 'users']],
    ],
    'the mapping: each interface to the applications exporting it',
  );
  t.same(
    [...nodes.ephemerals.keys()].filter((path) => path.startsWith('/services/')).sort(),
    ['/services/orders/10.0.0.1:20880', '/services/orders/10.0.0.2:20880', '/services/users/10.0.2.1:20881'],
    'one application-level instance per application and address',
  );
  t.same(exportedNodes(meshConfig(MIXED), { kind: 'endpoints' }), nodes, 'deterministic: the same config gives the same nodes and bytes');
});

t.test('address mode: one address (a gateway) for every service, with the keys its mesh endpoints provide', async (t) => {
  const nodes = exportedNodes(meshConfig(MIXED), { kind: 'address', host: '192.168.0.5', port: 20880 }, 'registry/');
  const paths = [...nodes.ephemerals.keys()];
  t.ok(
    paths.every((path) => path.startsWith('/registry/') || path.startsWith('/services/')),
    'under the root given (normalised), instances under /services',
  );
  t.same(
    providers(nodes, 'org.example.OrderService', '/registry')
      .map((url) => parseDubboUrl(url)!)
      .map((url) => `${url.host}:${url.port} ${url.parameters.application} ${url.parameters.weight ?? '-'}`)
      .sort(),
    ['192.168.0.5:20880 orders -', '192.168.0.5:20880 users -'],
  );
  t.equal(providers(nodes, 'org.example.Audit', '/registry').length, 1);
  t.same(paths.filter((path) => path.startsWith('/services/')).sort(), ['/services/orders/192.168.0.5:20880', '/services/users/192.168.0.5:20880']);
  t.same([...nodes.mappings.keys()].sort(), [
    '/registry/mapping/org.example.Audit',
    '/registry/mapping/org.example.OrderAdmin',
    '/registry/mapping/org.example.OrderService',
  ]);
});

// A Dubbo 3.1.4 instance node (research notes §4, from apache/dubbo-website quick-start/brief.md).
const JAVA_INSTANCE = {
  name: 'first-dubbo-provider',
  id: '30.221.146.35:20880',
  address: '30.221.146.35',
  port: 20880,
  sslPort: null,
  payload: {
    '@class': 'org.apache.dubbo.registry.zookeeper.ZookeeperInstance',
    id: '30.221.146.35:20880',
    name: 'first-dubbo-provider',
    metadata: {
      'dubbo.endpoints': '[{"port":20880,"protocol":"dubbo"}]',
      'dubbo.metadata-service.url-params':
        '{"connections":"1","version":"1.0.0","dubbo":"2.0.2","release":"3.1.4","side":"provider","ipv6":"fd00:1:5:5200:3218:774a:4f67:2341","port":"20880","protocol":"dubbo"}',
      'dubbo.metadata.revision': '871fbc9cb2730caea9b0d858852d5ede',
      'dubbo.metadata.storage-type': 'local',
      ipv6: 'fd00:1:5:5200:3218:774a:4f67:2341',
      timestamp: '1674960780647',
    },
  },
  registrationTimeUTC: 1674960781893,
  serviceType: 'DYNAMIC',
  uriSpec: null,
};

t.test('application level: the instance as Curator writes it for Dubbo 3, its metadata, its revision', async (t) => {
  const nodes = exportedNodes(
    meshConfig(`apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: first-dubbo-provider}
spec:
  interfaces: [org.apache.dubbo.samples.api.GreetingsService, {interface: org.example.Other, group: g, version: 1.0.0}]
  endpoints: [{address: 30.221.146.35:20880}]
`),
    { kind: 'endpoints' },
  );
  const instance = JSON.parse(nodes.ephemerals.get('/services/first-dubbo-provider/30.221.146.35:20880')!) as typeof JAVA_INSTANCE;
  t.same(Object.keys(instance), Object.keys(JAVA_INSTANCE), "Curator's fields, in its order");
  t.same(Object.keys(instance.payload), Object.keys(JAVA_INSTANCE.payload));
  for (const field of ['name', 'id', 'address', 'port', 'sslPort', 'serviceType', 'uriSpec'] as const) t.equal(instance[field], JAVA_INSTANCE[field], field);
  t.same(
    [instance.payload['@class'], instance.payload.id, instance.payload.name],
    [JAVA_INSTANCE.payload['@class'], JAVA_INSTANCE.payload.id, JAVA_INSTANCE.payload.name],
  );
  const metadata = instance.payload.metadata as Record<string, string>;
  t.equal(metadata['dubbo.endpoints'], JAVA_INSTANCE.payload.metadata['dubbo.endpoints'], 'dubbo.endpoints as Java writes it');
  t.equal(metadata['dubbo.metadata.storage-type'], 'remote', 'the metadata is in ZooKeeper (the mesh serves no MetadataService)');
  t.equal(metadata['meshed-by'], 'dubbo-mesh', 'the marker the importer skips');
  t.same(Object.keys(metadata), [...Object.keys(metadata)].sort(), 'metadata sorted (getSortedMetadata)');
  t.notOk('timestamp' in metadata, 'no timestamp: no warm-up applied to mesh endpoints, and writer-independent bytes');
  const revision = metadata['dubbo.metadata.revision']!;
  t.match(revision, /^[0-9a-f]{32}$/, 'an md5, as Dubbo');
  const content = nodes.persistents.get(`/dubbo/metadata/first-dubbo-provider/${revision}`);
  t.ok(content, 'the metadata node named by the revision');
  const info = JSON.parse(content!) as { app: string; revision: string; services: Record<string, Record<string, unknown>> };
  t.same(Object.keys(info), ['app', 'revision', 'services']);
  t.equal(info.app, 'first-dubbo-provider');
  t.equal(info.revision, revision);
  t.same(Object.keys(info.services), ['g/org.example.Other:1.0.0:dubbo', 'org.apache.dubbo.samples.api.GreetingsService:dubbo'], 'keyed by match key');
  const greetings = info.services['org.apache.dubbo.samples.api.GreetingsService:dubbo']!;
  t.same(
    { ...greetings, params: undefined },
    {
      name: 'org.apache.dubbo.samples.api.GreetingsService',
      protocol: 'dubbo',
      port: 20880,
      path: 'org.apache.dubbo.samples.api.GreetingsService',
      params: undefined,
    },
  );
  t.equal((greetings.params as Record<string, string>).interface, 'org.apache.dubbo.samples.api.GreetingsService');
  t.equal((greetings.params as Record<string, string>)['meshed-by'], 'dubbo-mesh');
  const other = info.services['g/org.example.Other:1.0.0:dubbo']!;
  t.same([other.group, other.version], ['g', '1.0.0']);

  // The revision follows the content: another key, another revision; the same content, the same one.
  const fewer = exportedNodes(
    meshConfig(`apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: first-dubbo-provider}
spec:
  interfaces: [org.apache.dubbo.samples.api.GreetingsService]
  endpoints: [{address: 30.221.146.35:20880}, {address: 30.221.146.36:20880}]
`),
    { kind: 'endpoints' },
  );
  const revisions = [...fewer.ephemerals]
    .filter(([path]) => path.startsWith('/services/'))
    .map(([, data]) => (JSON.parse(data) as typeof JAVA_INSTANCE).payload.metadata['dubbo.metadata.revision']);
  t.equal(revisions.length, 2);
  t.equal(revisions[0], revisions[1], 'two instances with the same services and port share a revision');
  t.not(revisions[0], revision, 'different services, different revision');
  t.equal(fewer.persistents.size, 1, 'one metadata node for both');
});
