import t from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { Ajv } from 'ajv';
import { structuralSchemaProblems, type OpenApiSchema } from '@dubbo-mesh/schema';
import {
  DEFAULT_CONNECTION_POOL,
  DEFAULT_HEALTH_CHECK,
  DEFAULT_OUTLIER_DETECTION,
  DEFAULT_RETRY_ON,
  KINDS,
  customResourceDefinition,
  customResourceDefinitions,
  kindDefinition,
  kindNames,
  kindOpenApiSchema,
  validateResource,
} from '@dubbo-mesh/config';

const examples = ['../../demo/examples/mesh.yaml', '../../demo/examples/demo/traffic.yaml'].map((file) =>
  readFileSync(fileURLToPath(new URL(file, import.meta.url)), 'utf8'),
);

/** Documents that use every field of every kind (SPEC's example, and more). */
const FULL = `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: user-provider, namespace: shop}
spec:
  port: 20880
  interfaces:
    - org.apache.dubbo.benchmark.service.UserService
    - {interface: org.example.OrderService, group: g1, version: 1.0.0}
  endpoints:
    - {address: 127.0.0.1:20891, labels: {version: v1}, weight: 100}
    - {address: "[::1]:20892"}
    - {address: 127.0.0.1:20893, interfaces: [{interface: org.example.OrderService, group: g1, version: 1.0.0}]}
---
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboRoute
metadata: {name: user-canary}
spec:
  hosts: [org.apache.dubbo.benchmark.service.UserService, "org.example.*"]
  routes:
    - name: gold
      match:
        - method: {prefix: get}
          attachments: {x-tier: {exact: gold}, x-user: {regex: "^a.*"}}
          arguments: [{index: 0, exact: "42"}, {index: 1, prefix: "a"}]
      destinations:
        - {service: user-provider, subset: v2, weight: 10}
        - {service: user-provider, subset: v1, weight: 90}
      timeout: 2s
      retries: {attempts: 2, retryOn: [connect-failure, unavailable, timeout]}
    - destinations: [{service: user-provider}]
      retries: {attempts: 0}
---
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboPolicy
metadata: {name: user-provider}
spec:
  service: user-provider
  subsets: [{name: v1, labels: {version: v1}}, {name: v2}]
  loadBalancer: {policy: consistent-hash, hash: {attachment: x-user}}
  connectionPool: {maxConnections: 4, maxPendingRequests: 1024, maxRequests: 10000, connectTimeout: 1s}
  outlierDetection: {consecutiveErrors: 5, interval: 5s, baseEjectionTime: 30s, maxEjectionPercent: 50}
  healthCheck: {interval: 5s, timeout: 1s, unhealthyThreshold: 3, healthyThreshold: 1}
---
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboIngress
metadata: {name: user-ingress, namespace: shop}
spec:
  rules:
    - host: user-app
      service: user-provider
      port: 20880
      endpoints:
        - {address: 10.0.0.5:20880, labels: {app: user}, weight: 100}
        - {address: "[::1]:20881"}
    - {host: order-app, service: order, endpoints: []}
`;

const documents = (text: string): Array<Record<string, unknown>> =>
  parseAllDocuments(text)
    .map((doc) => doc.toJS() as Record<string, unknown>)
    .filter((doc) => doc !== null);
const corpus = [...examples, FULL].flatMap(documents);

/**
 * The schema as the API server applies it: with strict field validation (kubectl's default)
 * a field no `properties` names is an error. Plain JSON Schema says nothing about that, so the
 * test adds `additionalProperties: false` where Kubernetes would refuse an unknown field.
 */
function asApiServer(schema: OpenApiSchema): object {
  const copy: Record<string, unknown> = { ...schema };
  if (schema.properties !== undefined) {
    copy.properties = Object.fromEntries(Object.entries(schema.properties).map(([name, child]) => [name, asApiServer(child)]));
    if (schema['x-kubernetes-preserve-unknown-fields'] !== true) copy.additionalProperties = false;
  }
  if (typeof schema.additionalProperties === 'object') copy.additionalProperties = asApiServer(schema.additionalProperties);
  if (schema.items !== undefined) copy.items = asApiServer(schema.items);
  return copy;
}

const ajv = new Ajv({ strict: false, allErrors: true });
const crdValidators = new Map(kindNames().map((kind) => [kind, ajv.compile(asApiServer(kindOpenApiSchema(kindDefinition(kind)!)))]));

/**
 * What file validation refuses and the CRD's schema cannot: each is said here and in
 * docs/configuration.md. The CRD then accepts; the control plane's validation of every custom
 * resource refuses, with the same message as for a file.
 */
const BEYOND_OPENAPI: Array<{ why: string; holds: (path: ReadonlyArray<string | number>, message: string) => boolean }> = [
  { why: 'apiVersion and kind are fixed by the URL a custom resource is sent to', holds: (path) => path[0] === 'apiVersion' || path[0] === 'kind' },
  { why: 'Kubernetes checks metadata itself (a CRD may only say type: object)', holds: (path) => path[0] === 'metadata' },
  {
    why: 'an interface is a string or an object: a structural schema cannot type that',
    holds: (path) => (path[1] === 'interfaces' && path.length > 2) || (path[1] === 'endpoints' && path[3] === 'interfaces' && path.length > 4),
  },
  {
    why: "an endpoint's own interfaces must be keys of its service: a rule across fields",
    holds: (_path, message) => message === "is not one of the service's spec.interfaces",
  },
  { why: 'host:port is parsed', holds: (_path, message) => message.endsWith('is not host:port') },
  { why: 'a regular expression must compile', holds: (_path, message) => message.startsWith('is not a valid regular expression') },
  { why: 'weights of a route must not all be 0', holds: (_path, message) => message === 'weights must not all be 0' },
  { why: 'a duration rounds to whole milliseconds and must be longer than 0', holds: (_path, message) => message === 'must be longer than 0' },
  {
    why: 'duplicate subset names: the API server refuses them by x-kubernetes-list-map-keys, JSON Schema cannot',
    holds: (_path, message) => message.endsWith('is defined twice'),
  },
  {
    why: 'a load-balancer field of another policy: a CEL rule in the CRD, which ajv does not run',
    holds: (_path, message) => message.startsWith('is only for policy'),
  },
];

type Json = unknown;
/** Every path to a value in a document. */
function paths(value: Json, at: Array<string | number> = []): Array<Array<string | number>> {
  const out = [at];
  if (Array.isArray(value)) value.forEach((item, i) => out.push(...paths(item, [...at, i])));
  else if (typeof value === 'object' && value !== null) for (const [key, child] of Object.entries(value)) out.push(...paths(child, [...at, key]));
  return out;
}

function mutate(doc: Json, path: ReadonlyArray<string | number>, change: (parent: Record<string | number, unknown>, key: string | number) => void): Json {
  const copy = structuredClone(doc) as Record<string | number, unknown>;
  let parent = copy;
  for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
  change(parent, path[path.length - 1]!);
  return copy;
}

/** Generated mutations of a valid document: unknown fields, wrong types, numbers out of range, fields removed. */
function mutations(doc: Json): Array<{ name: string; doc: Json }> {
  const out: Array<{ name: string; doc: Json }> = [];
  for (const path of paths(doc)) {
    const where = path.join('.') || '(root)';
    const value = path.reduce<Json>((v, key) => (v as Record<string | number, unknown>)[key], doc);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      out.push({ name: `unknown field under ${where}`, doc: mutate({ root: doc }, ['root', ...path, 'zzUnknown'], (p, k) => (p[k] = 1)) });
    }
    if (path.length === 0) continue;
    out.push({ name: `${where} removed`, doc: mutate(doc, path, (p, k) => (Array.isArray(p) ? p.splice(k as number, 1) : delete p[k])) });
    const wrong: Json[] =
      typeof value === 'string' ? [5, true, { a: 1 }] : typeof value === 'number' ? ['5', -1, 1e9, 1.5] : Array.isArray(value) ? [{}, 'x', []] : ['x', 5, []];
    for (const replacement of wrong) out.push({ name: `${where} = ${JSON.stringify(replacement)}`, doc: mutate(doc, path, (p, k) => (p[k] = replacement)) });
  }
  return out.map((m) => ({ ...m, doc: (m.doc as { root?: Json }).root ?? m.doc }));
}

t.test('the CRD schemas accept exactly what file validation accepts, but for what OpenAPI cannot say', async (t) => {
  let agreed = 0;
  const beyond = new Map<string, number>();
  for (const base of corpus) {
    t.equal(validateResource(base).valid, true, `${base.kind} ${(base.metadata as { name: string }).name} is valid`);
    for (const { name, doc } of [{ name: 'as it is', doc: base }, ...mutations(base)]) {
      const file = validateResource(doc);
      const crd = crdValidators.get(base.kind as string)!(doc);
      if (file.valid) {
        if (!crd) t.fail(`${base.kind} ${name}: the file accepts it, the CRD refuses: ${JSON.stringify(crdValidators.get(base.kind as string)!.errors)}`);
        else agreed += 1;
        continue;
      }
      if (!crd) {
        agreed += 1;
        continue;
      }
      // The CRD accepts what the file refuses: only where every refusal is one OpenAPI cannot say.
      const reasons = file.issues.map((issue) => BEYOND_OPENAPI.find((gap) => gap.holds(issue.path, issue.message)));
      if (reasons.some((reason) => reason === undefined)) t.fail(`${base.kind} ${name}: the file refuses it (${file.errors.join('; ')}), the CRD accepts`);
      for (const reason of reasons) beyond.set(reason!.why, (beyond.get(reason!.why) ?? 0) + 1);
    }
  }
  t.ok(agreed > 500, `${agreed} documents judged alike`);
  t.ok(beyond.size > 0, `beyond OpenAPI: ${[...beyond].map(([why, n]) => `${why} (${n})`).join('; ')}`);
});

t.test('every CRD schema is structural: every node typed, or marked to preserve unknown fields', async (t) => {
  for (const crd of customResourceDefinitions()) {
    const schema = crd.spec.versions[0]!.schema.openAPIV3Schema;
    t.same(structuralSchemaProblems(schema), [], crd.metadata.name);
    let nodes = 0;
    const walk = (node: OpenApiSchema) => {
      nodes += 1;
      t.ok(node.type !== undefined || node['x-kubernetes-preserve-unknown-fields'] === true || node['x-kubernetes-int-or-string'] === true, 'typed');
      for (const child of Object.values(node.properties ?? {})) walk(child);
      if (typeof node.additionalProperties === 'object') walk(node.additionalProperties);
      if (node.items !== undefined) walk(node.items);
    };
    walk(schema);
    // A DubboRule's spec is a rule document of one of three shapes: the CRD types its header only.
    t.ok(nodes > (crd.spec.names.kind === 'DubboRule' ? 5 : 10), `${crd.metadata.name}: ${nodes} nodes walked`);
  }
});

t.test('a CustomResourceDefinition per kind, whole', async (t) => {
  t.same(kindNames(), [...KINDS], 'the registry holds the kinds of this version, in order');
  const crd = customResourceDefinition('DubboPolicy');
  t.match(crd, {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: 'dubbopolicies.dubbo-mesh.io' },
    spec: {
      group: 'dubbo-mesh.io',
      names: { kind: 'DubboPolicy', listKind: 'DubboPolicyList', plural: 'dubbopolicies', singular: 'dubbopolicy', shortNames: ['dp'] },
      scope: 'Namespaced',
      versions: [{ name: 'v1alpha1', served: true, storage: true, subresources: { status: {} } }],
    },
  });
  const spec = crd.spec.versions[0]!.schema.openAPIV3Schema.properties!.spec!;
  t.same(spec.required, ['service']);
  t.match(spec.properties!.subsets, { type: 'array', 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['name'], items: { required: ['name'] } });
  t.same(
    spec.properties!.loadBalancer!.properties!.policy,
    { type: 'string', enum: ['random', 'round-robin', 'least-active', 'shortest-response', 'consistent-hash', 'least-request'] },
    'the policies registered',
  );
  t.same(spec.properties!.loadBalancer!['x-kubernetes-validations'], [
    { rule: "!has(self.hash) || (has(self.policy) && self.policy in ['consistent-hash'])", message: 'hash is only for policy consistent-hash' },
  ]);
  t.same(spec.properties!.connectionPool!.properties!.maxConnections, { type: 'integer', minimum: 1, maximum: 1024 });
  t.same(
    customResourceDefinitions().map((c) => c.metadata.name),
    ['dubboservices.dubbo-mesh.io', 'dubboroutes.dubbo-mesh.io', 'dubbopolicies.dubbo-mesh.io', 'dubborules.dubbo-mesh.io', 'dubboplugins.dubbo-mesh.io'],
    'every kind but DubboIngress, which Kubernetes users write as Ingresses',
  );
  t.equal(kindDefinition('DubboIngress')!.customResource, false);
  t.throws(() => customResourceDefinition('DubboIngress'), /kind DubboIngress has no CustomResourceDefinition/);
  t.throws(
    () => customResourceDefinition('DubboThing'),
    /unknown kind "DubboThing"; known: DubboService, DubboRoute, DubboPolicy, DubboIngress, DubboRule, DubboPlugin$/,
  );
});

/**
 * Whether a path of field names leads through a schema (through arrays' items; an object the
 * schema leaves open, as metadata and status, holds anything).
 */
function schemaHas(schema: OpenApiSchema, fields: readonly string[]): boolean {
  let node: OpenApiSchema | undefined = schema;
  for (const field of fields) {
    while (node?.items !== undefined) node = node.items;
    if (node === undefined) return false;
    if (node.properties === undefined) return node.type === 'object' || node['x-kubernetes-preserve-unknown-fields'] === true;
    node = node.properties[field];
  }
  return node !== undefined;
}

t.test("kubectl get shows each kind's own columns, then Accepted and Age", async (t) => {
  const columns = (kind: string) =>
    customResourceDefinition(kind).spec.versions[0]!.additionalPrinterColumns.map(({ name, type, jsonPath }) => ({ name, type, jsonPath }));
  const common = [
    { name: 'Accepted', type: 'string', jsonPath: '.status.conditions[?(@.type=="Accepted")].status' },
    { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
  ];
  t.same(columns('DubboRoute'), [
    { name: 'Hosts', type: 'string', jsonPath: '.spec.hosts' },
    { name: 'Destinations', type: 'string', jsonPath: '.spec.routes[*].destinations[*].service' },
    ...common,
  ]);
  t.same(columns('DubboService'), [
    { name: 'Interfaces', type: 'string', jsonPath: '.spec.interfaces' },
    { name: 'Port', type: 'integer', jsonPath: '.spec.port' },
    ...common,
  ]);
  t.same(columns('DubboPolicy'), [
    { name: 'Service', type: 'string', jsonPath: '.spec.service' },
    { name: 'Load Balancer', type: 'string', jsonPath: '.spec.loadBalancer.policy' },
    ...common,
  ]);
  t.notOk(schemaHas(customResourceDefinition('DubboRoute').spec.versions[0]!.schema.openAPIV3Schema, ['spec', 'routes', 'nowhere']), 'the check can fail');
  for (const crd of customResourceDefinitions()) {
    const schema = crd.spec.versions[0]!.schema.openAPIV3Schema;
    for (const column of crd.spec.versions[0]!.additionalPrinterColumns) {
      // The API server refuses a column whose path does not start with a dot; each must also name a field the schema has.
      t.match(column.jsonPath, /^\./, `${crd.spec.names.kind} ${column.name}: a JSONPath from the root`);
      t.ok(column.description === undefined || column.description.length > 0);
      const fields = column.jsonPath
        .slice(1)
        .replace(/\[[^\]]*\]/g, '')
        .split('.');
      t.ok(schemaHas(schema, fields), `${crd.spec.names.kind} ${column.name}: ${column.jsonPath} names fields of the schema`);
    }
  }
});

const KUBECTL_GET = `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboRoute
metadata:
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: |
      {"apiVersion":"dubbo-mesh.io/v1alpha1","kind":"DubboRoute","metadata":{"annotations":{},"name":"user-canary","namespace":"shop"},"spec":{"hosts":["org.example.S"],"routes":[{"destinations":[{"service":"s"}]}]}}
  creationTimestamp: "2026-11-30T10:15:02Z"
  deletionGracePeriodSeconds: 0
  deletionTimestamp: "2026-12-01T10:15:02Z"
  finalizers:
  - dubbo-mesh.io/status
  generateName: user-
  generation: 3
  labels:
    app: user
  managedFields:
  - apiVersion: dubbo-mesh.io/v1alpha1
    fieldsType: FieldsV1
    fieldsV1:
      f:spec:
        .: {}
        f:hosts: {}
    manager: kubectl-client-side-apply
    operation: Update
    time: "2026-11-30T10:15:02Z"
  name: user-canary
  namespace: shop
  ownerReferences:
  - apiVersion: apps/v1
    kind: Deployment
    name: user
    uid: 4a1c0b7e-8f0e-4f4e-9d2b-0c6a2f1e9b11
    controller: true
  resourceVersion: "918273"
  selfLink: /apis/dubbo-mesh.io/v1alpha1/namespaces/shop/dubboroutes/user-canary
  uid: 0b7c3e52-6d2a-4c1e-8f3b-9a4d5e6f7a8b
spec:
  hosts:
  - org.example.S
  routes:
  - destinations:
    - service: s
status:
  observedGeneration: 3
  conditions: [{type: Accepted, status: "True"}]
`;

t.test('a resource as `kubectl get -o yaml` prints it validates: Kubernetes metadata and status are accepted', async (t) => {
  const [doc] = documents(KUBECTL_GET);
  const result = validateResource(doc);
  t.same(result.valid ? result.result : result.errors, {
    kind: 'DubboRoute',
    metadata: { name: 'user-canary', namespace: 'shop' },
    hosts: ['org.example.S'],
    routes: [{ name: 'route-0', match: [], destinations: [{ service: 's', weight: 1 }] }],
  });
  t.equal(crdValidators.get('DubboRoute')!(doc), true, 'and its CRD schema accepts it');
  const lenient = validateResource(doc, { unknownFields: 'warn' });
  t.same(lenient, { valid: true, result: result.valid ? result.result : undefined }, 'no warning either');
  // The status is the cluster's (written by the control plane's leader), never read: any value, even an empty `status:` line.
  for (const status of ['ok', null, []]) t.equal(validateResource({ ...doc, status }).valid, true, `status ${JSON.stringify(status)}`);
});

t.test('unknown fields: an error in a file, a warning naming resource and path when lenient', async (t) => {
  const doc = {
    apiVersion: 'dubbo-mesh.io/v1alpha1',
    kind: 'DubboRoute',
    metadata: { name: 'r', zone: 'z' },
    extra: true,
    spec: { hosts: ['org.example.S'], mirror: 'x', routes: [{ canary: true, destinations: [{ service: 's', priority: 1 }] }] },
  };
  const strict = validateResource(doc);
  t.same(strict.valid ? [] : strict.errors, [
    'DubboRoute default/r: extra: unknown field (expected one of: apiVersion, kind, metadata, spec, status)',
    'DubboRoute default/r: metadata.zone: unknown field (expected one of: name, namespace, labels, annotations, uid, resourceVersion, generation, creationTimestamp, deletionTimestamp, deletionGracePeriodSeconds, generateName, selfLink, managedFields, ownerReferences, finalizers)',
    'DubboRoute default/r: spec.mirror: unknown field (expected one of: hosts, routes)',
    'DubboRoute default/r: spec.routes[0].canary: unknown field (expected one of: name, match, destinations, timeout, retries)',
    'DubboRoute default/r: spec.routes[0].destinations[0].priority: unknown field (expected one of: service, subset, weight)',
  ]);
  const lenient = validateResource(doc, { unknownFields: 'warn' });
  t.equal(lenient.valid, true);
  t.same(lenient.warnings, [
    'DubboRoute default/r: extra: unknown field, ignored (expected one of: apiVersion, kind, metadata, spec, status)',
    'DubboRoute default/r: metadata.zone: unknown field, ignored (expected one of: name, namespace, labels, annotations, uid, resourceVersion, generation, creationTimestamp, deletionTimestamp, deletionGracePeriodSeconds, generateName, selfLink, managedFields, ownerReferences, finalizers)',
    'DubboRoute default/r: spec.mirror: unknown field, ignored (expected one of: hosts, routes)',
    'DubboRoute default/r: spec.routes[0].canary: unknown field, ignored (expected one of: name, match, destinations, timeout, retries)',
    'DubboRoute default/r: spec.routes[0].destinations[0].priority: unknown field, ignored (expected one of: service, subset, weight)',
  ]);
  t.same(
    lenient.valid ? lenient.result : undefined,
    {
      kind: 'DubboRoute',
      metadata: { name: 'r', namespace: 'default' },
      hosts: ['org.example.S'],
      routes: [{ name: 'route-0', match: [], destinations: [{ service: 's', weight: 1 }] }],
    },
    'the unknown fields are left out',
  );
  const wrong = validateResource({ ...doc, spec: { ...doc.spec, hosts: [] } }, { unknownFields: 'warn' });
  t.match(
    wrong,
    { valid: false, errors: ['DubboRoute default/r: spec.hosts: must name at least one interface'] },
    'lenient is about unknown fields only: a wrong value stays an error',
  );
  const policy = validateResource(
    { apiVersion: 'dubbo-mesh.io/v1alpha1', kind: 'DubboPolicy', metadata: { name: 'p' }, spec: { service: 's', loadBalancer: { policy: 'random', ring: 3 } } },
    { unknownFields: 'warn' },
  );
  t.same(
    policy.warnings,
    ['DubboPolicy default/p: spec.loadBalancer.ring: unknown field, ignored (expected one of: policy, hash)'],
    'the load-balancer registry is lenient too',
  );
});

t.test('defaults come from the one table', async (t) => {
  const policy = validateResource({
    apiVersion: 'dubbo-mesh.io/v1alpha1',
    kind: 'DubboPolicy',
    metadata: { name: 'p' },
    spec: { service: 's', outlierDetection: {}, healthCheck: {}, connectionPool: {}, loadBalancer: { policy: 'consistent-hash' } },
  });
  t.same(policy.valid && policy.result, {
    kind: 'DubboPolicy',
    metadata: { name: 'p', namespace: 'default' },
    service: 's',
    subsets: [],
    loadBalancer: { policy: 'consistent-hash', hash: { argument: 0 } },
    connectionPool: DEFAULT_CONNECTION_POOL,
    outlierDetection: DEFAULT_OUTLIER_DETECTION,
    healthCheck: DEFAULT_HEALTH_CHECK,
  });
  const route = validateResource({
    apiVersion: 'dubbo-mesh.io/v1alpha1',
    kind: 'DubboRoute',
    metadata: { name: 'r' },
    spec: { hosts: ['*'], routes: [{ destinations: [{ service: 's' }], retries: { attempts: 1 } }] },
  });
  t.same(route.valid && route.result.kind === 'DubboRoute' && route.result.routes[0]!.retries, { attempts: 1, retryOn: DEFAULT_RETRY_ON });
  const service = validateResource({
    apiVersion: 'dubbo-mesh.io/v1alpha1',
    kind: 'DubboService',
    metadata: { name: 's' },
    spec: { interfaces: ['a.B'], endpoints: [{ address: 'h:1' }] },
  });
  t.same(service.valid && service.result.kind === 'DubboService' && service.result.endpoints, [
    { address: 'h:1', host: 'h', port: 1, labels: {}, weight: 100 },
  ]);
});

t.test('semantic rules and load-balancer fields keep their messages', async (t) => {
  const base = { apiVersion: 'dubbo-mesh.io/v1alpha1', kind: 'DubboPolicy', metadata: { name: 'p' } };
  t.match(validateResource({ ...base, spec: { service: 's', loadBalancer: { policy: 'random', hash: { argument: 1 } } } }), {
    valid: false,
    errors: ['DubboPolicy default/p: spec.loadBalancer.hash: is only for policy consistent-hash'],
  });
  t.match(validateResource({ ...base, spec: { service: 's', loadBalancer: { policy: 'consistent-hash', hash: { argument: 1, attachment: 'a' } } } }), {
    valid: false,
    errors: ['DubboPolicy default/p: spec.loadBalancer.hash: must have exactly one of argument, attachment (has argument, attachment)'],
  });
  t.match(validateResource({ ...base, spec: { service: 's', loadBalancer: { policy: 'fastest' } } }), {
    valid: false,
    errors: [
      'DubboPolicy default/p: spec.loadBalancer.policy: must be one of random, round-robin, least-active, shortest-response, consistent-hash, least-request, got string "fastest"',
    ],
  });
  t.match(validateResource({ ...base, spec: { service: 's', subsets: [{ name: 'a' }, { name: 'a' }] } }), {
    valid: false,
    errors: ['DubboPolicy default/p: spec.subsets[1].name: subset "a" is defined twice'],
  });
  t.match(validateResource({ ...base, spec: {} }), { valid: false, errors: ['DubboPolicy default/p: spec.service: is required'] });
  t.match(validateResource({ ...base, spec: { service: 's', connectionPool: { connectTimeout: '0s' } } }), {
    valid: false,
    errors: ['DubboPolicy default/p: spec.connectionPool.connectTimeout: must be longer than 0'],
  });
  const route = { apiVersion: 'dubbo-mesh.io/v1alpha1', kind: 'DubboRoute', metadata: { name: 'r' } };
  t.match(validateResource({ ...route, spec: { hosts: ['a'], routes: [{ destinations: [{ service: 's', weight: 0 }] }] } }), {
    valid: false,
    errors: ['DubboRoute default/r: spec.routes[0].destinations: weights must not all be 0'],
  });
  t.match(
    validateResource({
      apiVersion: 'dubbo-mesh.io/v1alpha1',
      kind: 'DubboService',
      metadata: { name: 's' },
      spec: { interfaces: ['a'], endpoints: [{ address: 'nowhere' }] },
    }),
    { valid: false, errors: ['DubboService default/s: spec.endpoints[0].address: "nowhere" is not host:port'] },
  );
  t.match(validateResource('text'), { valid: false, errors: ['resource default/(unnamed): (root): must be an object, got string "text"'] });
});

t.test("an endpoint's own interfaces: keys of its service; an empty group or version is exact", async (t) => {
  const service = (endpoints: unknown[], interfaces: unknown[] = ['com.Foo', { interface: 'com.Bar', group: '', version: '1.0.0' }]) =>
    validateResource({ apiVersion: 'dubbo-mesh.io/v1alpha1', kind: 'DubboService', metadata: { name: 'app' }, spec: { interfaces, endpoints } });
  const ok = service([{ address: '10.0.0.1:20880', interfaces: [{ interface: 'com.Bar', group: '', version: '1.0.0' }] }, { address: '10.0.0.2:20880' }]);
  t.ok(ok.valid);
  if (ok.valid && ok.result.kind === 'DubboService') {
    t.same(ok.result.interfaces[1], { interface: 'com.Bar', group: '', version: '1.0.0' });
    t.same(ok.result.endpoints[0]!.interfaces, [{ interface: 'com.Bar', group: '', version: '1.0.0' }]);
    t.equal(ok.result.endpoints[1]!.interfaces, undefined, 'absent: every key of the service');
  }
  const foreign = service([{ address: '10.0.0.1:20880', interfaces: [{ interface: 'com.Bar', version: '1.0.0' }] }]);
  t.notOk(foreign.valid, 'absent group (any) is not the empty group (none)');
  if (!foreign.valid) t.match(foreign.errors.join('\n'), /spec\.endpoints\[0\]\.interfaces\[0\]: is not one of the service's spec\.interfaces/);
  const empty = service([{ address: '10.0.0.1:20880', interfaces: [] }]);
  t.notOk(empty.valid);
});
