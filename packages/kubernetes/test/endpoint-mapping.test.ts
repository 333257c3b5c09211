import t from 'tap';
import {
  mapAnnotatedService,
  mapCustomResource,
  parseInterfacesAnnotation,
  serviceEndpoints,
  servedByGateway,
  sidecarInboundPort,
  type ClusterObjects,
  type KubeObject,
} from '../dist/index.js';

/** Cluster objects held in maps: what the informers' stores give mapping. */
function objects(input: { services?: KubeObject[]; slices?: KubeObject[]; pods?: KubeObject[] }): ClusterObjects {
  const key = (o: KubeObject) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
  const services = new Map((input.services ?? []).map((o) => [key(o), o]));
  const pods = new Map((input.pods ?? []).map((o) => [key(o), o]));
  return {
    service: (namespace, name) => services.get(`${namespace}/${name}`),
    slicesOf: (namespace, name) =>
      (input.slices ?? []).filter((s) => s.metadata?.namespace === namespace && s.metadata?.labels?.['kubernetes.io/service-name'] === name),
    pod: (namespace, name) => pods.get(`${namespace}/${name}`),
  };
}

const service = (name: string, ports: Array<{ name?: string; port: number }>, annotations?: Record<string, string>): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: 'default', annotations },
  spec: { ports },
});

interface EndpointInput {
  ip: string;
  pod?: string;
  ready?: boolean;
  terminating?: boolean;
}
const slice = (name: string, serviceName: string, ports: Array<{ name?: string; port: number }>, endpoints: EndpointInput[]): KubeObject =>
  ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: 'default', labels: { 'kubernetes.io/service-name': serviceName } },
    addressType: 'IPv4',
    ports,
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: { ...(e.ready === undefined ? {} : { ready: e.ready }), ...(e.terminating === undefined ? {} : { terminating: e.terminating }) },
      ...(e.pod === undefined ? {} : { targetRef: { kind: 'Pod', name: e.pod, namespace: 'default' } }),
    })),
  }) as KubeObject;

const pod = (name: string, labels: Record<string, string>, extra: { annotations?: Record<string, string>; spec?: unknown } = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: 'default', labels, annotations: extra.annotations },
  spec: extra.spec ?? { containers: [{ name: 'app' }] },
});

t.test('ready endpoints only, on the port named dubbo, labelled by their pods, sorted and each once', async (t) => {
  const cluster = objects({
    services: [service('user', [{ name: 'dubbo', port: 20880 }])],
    slices: [
      slice(
        'user-a',
        'user',
        [
          { name: 'metrics', port: 9090 },
          { name: 'dubbo', port: 20880 },
        ],
        [
          { ip: '10.0.0.3', pod: 'user-3' },
          { ip: '10.0.0.1', pod: 'user-1', ready: true },
          { ip: '10.0.0.2', pod: 'user-2', ready: false },
          { ip: '10.0.0.4', pod: 'user-4', ready: true, terminating: true },
        ],
      ),
      // The same endpoint in a second slice (a move between slices): listed once.
      slice('user-b', 'user', [{ name: 'dubbo', port: 20880 }], [{ ip: '10.0.0.1', pod: 'user-1' }]),
    ],
    pods: [pod('user-1', { app: 'user', version: 'v1' }), pod('user-3', { app: 'user', version: 'v2' }, { annotations: { 'dubbo-mesh.io/weight': '50' } })],
  });
  const mapped = serviceEndpoints(cluster, 'default', 'user', { name: 'dubbo' });
  t.same(mapped.endpoints, [
    { address: '10.0.0.1:20880', labels: { app: 'user', version: 'v1' } },
    { address: '10.0.0.3:20880', labels: { app: 'user', version: 'v2' }, weight: 50 },
  ]);
  t.same(mapped.notes, []);
  t.ok(mapped.pods.includes('default/user-1') && mapped.pods.includes('default/user-3'), 'the pods read are reported (their events map the service again)');
});

t.test('no port named dubbo: spec.port, else the slice is left out with a note', async (t) => {
  const cluster = objects({
    services: [service('user', [{ name: 'rpc', port: 20880 }])],
    slices: [slice('s', 'user', [{ name: 'rpc', port: 20880 }], [{ ip: '10.0.0.1' }])],
  });
  t.same(serviceEndpoints(cluster, 'default', 'user', { name: 'dubbo', fallbackPort: 20990 }).endpoints, [{ address: '10.0.0.1:20990', labels: {} }]);
  const without = serviceEndpoints(cluster, 'default', 'user', { name: 'dubbo' });
  t.same(without.endpoints, []);
  t.match(without.notes[0], /^EndpointSlice default\/s: has no port named "dubbo"; its endpoints are left out$/);
});

t.test('a pod annotated with an invalid weight keeps the default weight, with a note naming the pod', async (t) => {
  const cluster = objects({
    services: [service('user', [{ name: 'dubbo', port: 20880 }])],
    slices: [slice('s', 'user', [{ name: 'dubbo', port: 20880 }], [{ ip: '10.0.0.1', pod: 'p' }])],
    pods: [pod('p', {}, { annotations: { 'dubbo-mesh.io/weight': 'heavy' } })],
  });
  const mapped = serviceEndpoints(cluster, 'default', 'user', { name: 'dubbo' });
  t.same(mapped.endpoints, [{ address: '10.0.0.1:20880', labels: {} }]);
  t.match(mapped.notes[0], /Pod default\/p: annotation dubbo-mesh.io\/weight: "heavy" is not an integer/);
});

t.test('a pod with the dubbo-mesh-proxy sidecar is reached on its inbound port', async (t) => {
  t.equal(sidecarInboundPort(pod('a', {})), undefined, 'no sidecar');
  t.equal(sidecarInboundPort(pod('a', {}, { spec: { containers: [{ name: 'app' }, { name: 'dubbo-mesh-proxy' }] } })), 20891, 'the default inbound port');
  t.equal(
    sidecarInboundPort(
      pod(
        'a',
        {},
        {
          spec: {
            containers: [{ name: 'app' }],
            initContainers: [{ name: 'dubbo-mesh-proxy', restartPolicy: 'Always', ports: [{ name: 'dubbo-mesh-in', containerPort: 21000 }] }],
          },
        },
      ),
    ),
    21000,
    'a native sidecar, by its port name',
  );
  t.equal(
    sidecarInboundPort(pod('a', {}, { spec: { containers: [{ name: 'dubbo-mesh-proxy', args: ['proxy', '--inbound', '0.0.0.0:21001'] }] } })),
    21001,
    'by its --inbound flag',
  );
  t.equal(
    sidecarInboundPort(pod('a', {}, { spec: { containers: [{ name: 'dubbo-mesh-proxy', env: [{ name: 'DUBBO_MESH_INBOUND', value: '0.0.0.0:21002' }] }] } })),
    21002,
    'by its env twin',
  );
  const cluster = objects({
    services: [service('user', [{ name: 'dubbo', port: 20880 }])],
    slices: [slice('s', 'user', [{ name: 'dubbo', port: 20880 }], [{ ip: '10.0.0.1', pod: 'meshed' }])],
    pods: [pod('meshed', { app: 'user' }, { spec: { containers: [{ name: 'app' }, { name: 'dubbo-mesh-proxy' }] } })],
  });
  t.same(serviceEndpoints(cluster, 'default', 'user', { name: 'dubbo' }).endpoints, [{ address: '10.0.0.1:20891', labels: { app: 'user' } }]);
});

t.test('a DubboService CR without endpoints takes its Service endpoints; with endpoints it keeps its own; errors name the fields', async (t) => {
  const cluster = objects({
    services: [service('user', [{ name: 'dubbo', port: 20880 }])],
    slices: [slice('s', 'user', [{ name: 'dubbo', port: 20880 }], [{ ip: '10.0.0.1', pod: 'p' }])],
    pods: [pod('p', { app: 'user' })],
  });
  const cr = (spec: unknown): KubeObject => ({
    apiVersion: 'dubbo-mesh.io/v1alpha1',
    kind: 'DubboService',
    metadata: {
      name: 'user',
      namespace: 'default',
      uid: 'u',
      resourceVersion: '7',
      generation: 3,
      managedFields: [{ manager: 'kubectl' }],
      finalizers: ['x'],
    } as KubeObject['metadata'],
    spec,
    status: { conditions: [] },
  });
  const mapped = mapCustomResource(cr({ interfaces: ['com.example.UserService'] }), cluster);
  t.ok(mapped.ok);
  if (mapped.ok) {
    t.same((mapped.raw.spec as { endpoints: unknown }).endpoints, [{ address: '10.0.0.1:20880', labels: { app: 'user' } }]);
    t.same(mapped.raw.metadata, { name: 'user', namespace: 'default' }, 'Kubernetes metadata stays off the wire');
    t.equal(mapped.located.origin, 'kubernetes DubboService default/user');
  }
  const own = mapCustomResource(cr({ interfaces: ['com.example.UserService'], endpoints: [{ address: '192.168.0.9:20880' }] }), cluster);
  t.ok(own.ok && (own.raw.spec as { endpoints: Array<{ address: string }> }).endpoints[0]!.address === '192.168.0.9:20880');
  const bad = mapCustomResource(cr({ interfaces: [], port: 0, colour: 'red' }), cluster);
  t.notOk(bad.ok);
  if (!bad.ok) {
    t.match(bad.errors.join('\n'), /DubboService default\/user: spec.port: /);
    t.match(bad.errors.join('\n'), /DubboService default\/user: spec.interfaces: must name at least one interface/);
    t.match(bad.errors.join('\n'), /DubboService default\/user: spec.colour: unknown field/);
  }
});

t.test('a Service annotated dubbo-mesh.io/interfaces is a mesh service; a bad annotation is refused naming it', async (t) => {
  t.same(parseInterfacesAnnotation('com.A, com.B:1.0.0 ,com.C:2.0.0:blue,'), {
    interfaces: [{ interface: 'com.A' }, { interface: 'com.B', version: '1.0.0' }, { interface: 'com.C', version: '2.0.0', group: 'blue' }],
    errors: [],
  });
  t.same(parseInterfacesAnnotation('com.A:1:g:extra').errors, ['entry 0 "com.A:1:g:extra" is not IFACE[:VERSION[:GROUP]]']);
  const annotated = service('orders', [{ port: 20880 }], { 'dubbo-mesh.io/interfaces': 'com.example.OrderService:1.0.0' });
  const cluster = objects({ services: [annotated], slices: [slice('o', 'orders', [{ port: 20880 }], [{ ip: '10.0.1.1' }])] });
  const mapped = mapAnnotatedService(annotated, cluster);
  t.ok(mapped?.ok);
  if (mapped?.ok) {
    t.equal(mapped.located.resource.kind, 'DubboService');
    t.same(mapped.raw.spec, {
      interfaces: [{ interface: 'com.example.OrderService', version: '1.0.0' }],
      endpoints: [{ address: '10.0.1.1:20880', labels: {} }],
    });
  }
  t.equal(mapAnnotatedService(service('plain', [{ port: 80 }]), cluster), undefined, 'no annotation: not a mesh service');
  const bad = mapAnnotatedService(service('bad', [{ port: 80 }], { 'dubbo-mesh.io/interfaces': ':1.0.0' }), cluster);
  t.notOk(bad?.ok);
  if (bad !== undefined && !bad.ok) t.match(bad.errors[0], /^Service default\/bad: metadata.annotations\[dubbo-mesh.io\/interfaces\]: entry 0/);
});

t.test('which Ingresses the gateway serves', async (t) => {
  const classes = (...list: KubeObject[]) => ({ get: (name: string) => list.find((c) => c.metadata?.name === name), all: () => list });
  const ours = { metadata: { name: 'dubbo' }, spec: { controller: 'dubbo-mesh.io/gateway' } };
  const nginx = {
    metadata: { name: 'nginx', annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } },
    spec: { controller: 'k8s.io/ingress-nginx' },
  };
  const ingress = (spec: Record<string, unknown>, annotations?: Record<string, string>): KubeObject => ({
    metadata: { name: 'i', namespace: 'default', annotations },
    spec,
  });
  t.ok(servedByGateway(ingress({ ingressClassName: 'dubbo' }), classes(ours)), 'the class names our controller');
  t.ok(servedByGateway(ingress({ ingressClassName: 'dubbo' }), classes()), 'class dubbo with no IngressClass object');
  t.notOk(servedByGateway(ingress({ ingressClassName: 'nginx' }), classes(ours, nginx)), 'another controller');
  t.ok(servedByGateway(ingress({}, { 'kubernetes.io/ingress.class': 'dubbo' }), classes()), 'the legacy annotation');
  t.notOk(servedByGateway(ingress({}), classes(ours, nginx)), 'no class, and the default class is not ours');
  const defaultOurs = {
    metadata: { name: 'mesh', annotations: { 'ingressclass.kubernetes.io/is-default-class': 'true' } },
    spec: { controller: 'dubbo-mesh.io/gateway' },
  };
  t.ok(servedByGateway(ingress({}), classes(defaultOurs)), 'no class, and the default class is ours');
});

t.test('a dual-stack Service: one address family only (IPv4), so a pod is one endpoint', async (t) => {
  const v4 = slice('user-v4', 'user', [{ name: 'dubbo', port: 20880 }], [{ ip: '10.0.0.1', pod: 'p' }]);
  const v6 = { ...slice('user-v6', 'user', [{ name: 'dubbo', port: 20880 }], [{ ip: 'fd00::1', pod: 'p' }]), addressType: 'IPv6' } as KubeObject;
  const cluster = objects({ services: [service('user', [{ name: 'dubbo', port: 20880 }])], slices: [v4, v6], pods: [pod('p', { app: 'user' })] });
  t.same(
    serviceEndpoints(cluster, 'default', 'user', { name: 'dubbo' }).endpoints.map((e) => e.address),
    ['10.0.0.1:20880'],
  );
  const only6 = objects({ services: [service('user', [{ name: 'dubbo', port: 20880 }])], slices: [v6], pods: [pod('p', { app: 'user' })] });
  t.same(
    serviceEndpoints(only6, 'default', 'user', { name: 'dubbo' }).endpoints.map((e) => e.address),
    ['[fd00::1]:20880'],
    'an IPv6-only Service: its IPv6 addresses, in brackets',
  );
});
