import t from 'tap';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MeshYamlCache, configVersion, formatDuration, loadMeshConfig, parseDuration, parseMeshYaml, validateResource } from '@dubbo-mesh/config';

const example = fileURLToPath(new URL('../../demo/examples/mesh.yaml', import.meta.url));

const SPEC_EXAMPLE = `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: user-provider}
spec:
  port: 20880
  interfaces:
    - org.apache.dubbo.benchmark.service.UserService
    - {interface: org.example.OrderService, group: g1, version: 1.0.0}
  endpoints:
    - {address: 127.0.0.1:20891, labels: {version: v1}, weight: 100}
---
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboRoute
metadata: {name: user-canary}
spec:
  hosts: [org.apache.dubbo.benchmark.service.UserService]
  routes:
    - name: gold
      match:
        - method: {prefix: get}
          attachments: {x-tier: {exact: gold}}
          arguments: [{index: 0, exact: "42"}]
      destinations:
        - {service: user-provider, subset: v2, weight: 10}
        - {service: user-provider, subset: v1, weight: 90}
      timeout: 2s
      retries: {attempts: 2, retryOn: [connect-failure, unavailable, timeout]}
---
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboPolicy
metadata: {name: user-provider}
spec:
  service: user-provider
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
  loadBalancer: {policy: random}
  connectionPool: {maxConnections: 4, maxPendingRequests: 1024, maxRequests: 10000, connectTimeout: 1s}
  outlierDetection: {consecutiveErrors: 5, interval: 5s, baseEjectionTime: 30s, maxEjectionPercent: 50}
  healthCheck: {interval: 5s, timeout: 1s, unhealthyThreshold: 3, healthyThreshold: 1}
`;

t.test('the example of SPEC parses, normalised', async (t) => {
  const parsed = parseMeshYaml(SPEC_EXAMPLE, 'spec.yaml');
  t.same(parsed.errors, []);
  const [service, route, policy] = parsed.resources.map((r) => r.resource);
  t.match(service, { kind: 'DubboService', metadata: { name: 'user-provider', namespace: 'default' }, port: 20880 });
  if (service?.kind !== 'DubboService' || route?.kind !== 'DubboRoute' || policy?.kind !== 'DubboPolicy') throw new Error('kinds');
  t.same(service.interfaces, [
    { interface: 'org.apache.dubbo.benchmark.service.UserService' },
    { interface: 'org.example.OrderService', group: 'g1', version: '1.0.0' },
  ]);
  t.same(service.endpoints[0], { address: '127.0.0.1:20891', host: '127.0.0.1', port: 20891, labels: { version: 'v1' }, weight: 100 });
  t.same(route.routes[0]!.match[0], {
    method: { prefix: 'get' },
    attachments: { 'x-tier': { exact: 'gold' } },
    arguments: [{ index: 0, match: { exact: '42' } }],
  });
  t.equal(route.routes[0]!.timeoutMs, 2000);
  t.same(route.routes[0]!.retries, { attempts: 2, retryOn: ['connect-failure', 'unavailable', 'timeout'] });
  t.same(policy.connectionPool, { maxConnections: 4, maxPendingRequests: 1024, maxRequests: 10000, connectTimeoutMs: 1000 });
  t.same(policy.outlierDetection, { consecutiveErrors: 5, intervalMs: 5000, baseEjectionTimeMs: 30000, maxEjectionPercent: 50 });
  t.same(policy.healthCheck, { intervalMs: 5000, timeoutMs: 1000, unhealthyThreshold: 3, healthyThreshold: 1 });
  t.ok(Object.isFrozen(route.routes[0]!.destinations[0]), 'validated config is frozen');
});

t.test('every error is collected, with file, line and field path', async (t) => {
  const bad = `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboRoute
metadata: {name: user-canary}
spec:
  hosts: [org.example.S]
  routes:
    - destinations:
        - {service: user-provider, weight: 5}
        - {service: user-provider, weight: -1}
      timeout: soon
      retries: {attempts: 2, retryOn: [always]}
      match:
        - method: {exact: a, prefix: b}
        - arguments: [{index: 0, regex: "("}]
`;
  const { errors } = parseMeshYaml(bad, 'mesh/routes.yaml');
  t.same(errors, [
    'mesh/routes.yaml:13:19: DubboRoute default/user-canary: spec.routes[0].match[0].method: must have exactly one of exact, prefix, regex (has exact, prefix)',
    'mesh/routes.yaml:14:41: DubboRoute default/user-canary: spec.routes[0].match[1].arguments[0].regex: is not a valid regular expression: Invalid regular expression: /(/: Unterminated group',
    'mesh/routes.yaml:9:44: DubboRoute default/user-canary: spec.routes[0].destinations[1].weight: must be >= 0',
    'mesh/routes.yaml:10:16: DubboRoute default/user-canary: spec.routes[0].timeout: must be a duration like "500ms" or "2s", got string "soon"',
    'mesh/routes.yaml:11:40: DubboRoute default/user-canary: spec.routes[0].retries.retryOn[0]: must be one of connect-failure, unavailable, timeout, got string "always"',
  ]);
});

t.test('kind, apiVersion, metadata and unknown fields', async (t) => {
  const result = validateResource({ apiVersion: 'v1', kind: 'DubboThing', metadata: { name: 'Bad_Name' }, spec: {} });
  t.equal(result.valid, false);
  if (!result.valid) {
    t.same(result.errors, [
      'DubboThing default/Bad_Name: apiVersion: must be dubbo-mesh.io/v1alpha1, got string "v1"',
      'DubboThing default/Bad_Name: kind: must be one of DubboService, DubboRoute, DubboPolicy, DubboIngress, DubboRule, DubboPlugin, got string "DubboThing"',
      'DubboThing default/Bad_Name: metadata.name: "Bad_Name" is not a valid name (lower case letters, digits, - and .)',
    ]);
  }
  const typo = validateResource({
    apiVersion: 'dubbo-mesh.io/v1alpha1',
    kind: 'DubboPolicy',
    metadata: { name: 'p' },
    spec: { service: 's', loadBalancer: { polcy: 'random' } },
  });
  t.match(typo, { valid: false, errors: ['DubboPolicy default/p: spec.loadBalancer.polcy: unknown field (expected one of: policy, hash)'] });
});

t.test('YAML syntax errors name file and line, in one complete line', async (t) => {
  const { errors } = parseMeshYaml('kind: DubboService\nmetadata: {name: x\n', 'broken.yaml');
  t.same(errors, ['broken.yaml:3:1: Flow map in block collection must be sufficiently indented and end with a }']);
  const nested = parseMeshYaml('apiVersion: dubbo-mesh.io/v1alpha1\nkind: DubboService\nmetadata: {name: x}\nspec:\n  port: : 1\n', 'nested.yaml');
  t.same(nested.errors, ['nested.yaml:5:9: Nested mappings are not allowed in compact mappings']);
  for (const error of [...errors, ...nested.errors]) t.notMatch(error, /:$|\n/, 'no dangling colon, one line');
});

t.test('an empty file is an error; a file of comments only is empty on purpose', async (t) => {
  for (const text of ['', '   \n\n', '---\n', '---\n---\n']) {
    t.same(
      parseMeshYaml(text, 'mesh.yaml').errors,
      ['mesh.yaml: empty file (no YAML document): refused, the last valid state stays; to clear a file on purpose delete it or leave only a comment in it'],
      JSON.stringify(text),
    );
  }
  t.same(parseMeshYaml('# nothing here on purpose\n', 'mesh.yaml'), { resources: [], errors: [], partial: [], rejected: [] });
});

t.test('a misspelled field does not hide the cross-reference errors of the same file', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-config-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'mesh.yaml');
  await writeFile(
    file,
    SPEC_EXAMPLE.replace('loadBalancer: {policy: random}', 'loadBalancer: {polcy: random}').replace('subset: v2, weight: 10', 'subset: v3, weight: 10'),
  );
  const result = await loadMeshConfig([dir]);
  t.same(result, {
    valid: false,
    errors: [
      `${file}:35:25: DubboPolicy default/user-provider: spec.loadBalancer.polcy: unknown field (expected one of: policy, hash)`,
      `${file}:24:44: DubboRoute default/user-canary: spec.routes[0].destinations[0].subset: service user-provider has no subset "v3" (subsets are defined by its DubboPolicy)`,
    ],
    origins: [file],
  });
});

t.test('a big file parsed again reuses every document whose text did not change', async (t) => {
  const doc = (i: number, port = 20880) =>
    `apiVersion: dubbo-mesh.io/v1alpha1\nkind: DubboService\nmetadata: {name: s${i}}\nspec:\n  interfaces: [org.example.S${i}]\n  endpoints: [{address: 127.0.0.1:${port}}]\n`;
  const text = (changed: number) => ['# generated', ...Array.from({ length: 50 }, (_, i) => doc(i, i === 7 ? changed : 20880))].join('\n---\n');
  const cache = new MeshYamlCache();
  const first = await cache.parse(text(1), 'big.yaml');
  t.same(first, parseMeshYaml(text(1), 'big.yaml'), 'the same as a whole-file parse');
  const second = await cache.parse(text(2), 'big.yaml');
  t.equal(second.resources.length, 50);
  t.equal(second.resources.filter((r, i) => r.resource !== first.resources[i]!.resource).length, 1, 'one document parsed again');
  const moved = await cache.parse(`# two more lines\n#\n${text(2)}`, 'big.yaml');
  t.equal(moved.resources[10]!.resource, second.resources[10]!.resource, 'a document that moved is reused');
  t.equal(
    moved.resources[10]!.locate!(['spec', 'endpoints', 0, 'address']),
    second.resources[10]!.locate!(['spec', 'endpoints', 0, 'address']).replace(/:(\d+):/, (_, line: string) => `:${Number(line) + 2}:`),
    'and located where it is now',
  );
  const broken = await cache.parse(text(2).replace('org.example.S3]', 'org.example.S3'), 'big.yaml');
  t.equal(broken.errors.length, 1);
  t.match(broken.errors[0], /^big\.yaml:\d+:\d+: /);
});

t.test('cross-references are checked', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-config-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(
    path.join(dir, 'a.yaml'),
    SPEC_EXAMPLE.replace('subset: v2, weight: 10', 'subset: v3, weight: 10').replace('{service: user-provider, subset: v1', '{service: nobody, subset: v1'),
  );
  const result = await loadMeshConfig([dir]);
  t.equal(result.valid, false);
  if (!result.valid) {
    t.same(result.errors, [
      `${dir}/a.yaml:24:44: DubboRoute default/user-canary: spec.routes[0].destinations[0].subset: service user-provider has no subset "v3" (subsets are defined by its DubboPolicy)`,
      `${dir}/a.yaml:25:21: DubboRoute default/user-canary: spec.routes[0].destinations[1].service: no DubboService "nobody" in namespace default`,
    ]);
  }
  const missing = await loadMeshConfig([path.join(dir, 'nope.yaml')]);
  t.match(missing, { valid: false, errors: [`${dir}/nope.yaml: cannot read: ENOENT`] });
});

t.test('the example mesh loads and versions are content digests', async (t) => {
  const first = await loadMeshConfig([example]);
  const second = await loadMeshConfig([example]);
  if (!first.valid || !second.valid) throw new Error('example invalid');
  t.equal(first.result.services.length, 1);
  t.equal(configVersion(first.result), configVersion(second.result));
  t.match(configVersion(first.result), /^[0-9a-f]{16}$/);
});

t.test('durations', async (t) => {
  t.equal(parseDuration('500ms'), 500);
  t.equal(parseDuration('2s'), 2000);
  t.equal(parseDuration('1.5s'), 1500);
  t.equal(parseDuration('1m'), 60000);
  t.equal(parseDuration('2'), undefined);
  t.equal(parseDuration('-1s'), undefined);
  t.equal(formatDuration(2000), '2s');
  t.equal(formatDuration(1500), '1500ms');
});

t.test('a big file is parsed in slices, letting the event loop run between them', async (t) => {
  const doc = (i: number) => `apiVersion: dubbo-mesh.io/v1alpha1\nkind: DubboService\nmetadata: {name: s${i}}\nspec:\n  interfaces: [org.example.S${i}]\n`;
  const text = Array.from({ length: 20 }, (_, i) => doc(i)).join('---\n');
  let time = 0;
  const now = () => (time += 4); // each look at the clock: 4 ms of work (fake time)
  const order: string[] = [];
  setImmediate(() => order.push('event loop ran'));
  const parsed = await new MeshYamlCache().parse(text, 'big.yaml', { now, sliceMs: 10 }).then((result) => {
    order.push('parsed');
    return result;
  });
  t.equal(parsed.resources.length, 20);
  t.same(order, ['event loop ran', 'parsed'], 'the parse yielded before it was done');
});

t.test('a document yaml cannot turn into data (an alias bomb) is an error of that document, naming file and line; the others stay', async (t) => {
  const bomb = [
    'a: &a [x, x, x, x, x, x, x, x, x, x]',
    'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
    'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
    'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]',
  ].join('\n');
  const good = 'apiVersion: dubbo-mesh.io/v1alpha1\nkind: DubboService\nmetadata: {name: s}\nspec:\n  interfaces: [org.example.S]\n';
  let parsed: ReturnType<typeof parseMeshYaml> | undefined;
  t.doesNotThrow(() => {
    parsed = parseMeshYaml(`${good}---\n${bomb}\n`, 'mesh.yaml');
  }, 'no throw out of the parser');
  t.equal(parsed!.resources.length, 1, 'the good document is read');
  t.equal(parsed!.errors.length, 1);
  t.match(parsed!.errors[0], /^mesh\.yaml:[67]:\d+: Excessive alias count/, 'where the document begins');
});

t.test('a duration with surrounding whitespace (a YAML block scalar gives "2s\\n") and a status of any value are accepted, as before', async (t) => {
  const route = (timeout: string, status?: unknown) =>
    validateResource({
      apiVersion: 'dubbo-mesh.io/v1alpha1',
      kind: 'DubboRoute',
      metadata: { name: 'r' },
      ...(status === undefined ? {} : { status }),
      spec: { hosts: ['org.example.S'], routes: [{ destinations: [{ service: 's' }], timeout }] },
    });
  for (const text of ['2s\n', ' 2s ', '\t2s\r\n']) {
    const result = route(text);
    t.ok(result.valid, JSON.stringify(text));
    if (result.valid && result.result.kind === 'DubboRoute') t.equal(result.result.routes[0]!.timeoutMs, 2000);
  }
  t.notOk(route('2 s').valid, 'whitespace inside is still an error');
  for (const status of [null, 'x', [], { conditions: [] }]) t.ok(route('1s', status).valid, `status ${JSON.stringify(status)}`);
  const fromYaml = parseMeshYaml(
    'apiVersion: dubbo-mesh.io/v1alpha1\nkind: DubboRoute\nmetadata: {name: r}\nstatus:\nspec:\n  hosts: [org.example.S]\n  routes:\n    - destinations: [{service: s}]\n      timeout: |\n        2s\n',
    'route.yaml',
  );
  t.same(fromYaml.errors, [], 'a block-scalar timeout and an empty status: line');
});
