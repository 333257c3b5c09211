// The DubboIngress kind: target applications (from Ingresses of class dubbo, or files) and
// the endpoints behind them; a target application is held by one rule in the whole mesh.
import t from 'tap';
import { CrossReferenceIndex, assembleMeshConfig, validateResource, type LocatedResource } from '@dubbo-mesh/config';

function ingress(name: string, rules: unknown, namespace?: string): Record<string, unknown> {
  return { apiVersion: 'dubbo-mesh.io/v1alpha1', kind: 'DubboIngress', metadata: { name, ...(namespace === undefined ? {} : { namespace }) }, spec: { rules } };
}

function located(raw: unknown): LocatedResource {
  const result = validateResource(raw);
  if (!result.valid) throw new Error(result.errors.join('\n'));
  return { resource: result.result, raw };
}

t.test('a DubboIngress is validated and normalised; endpoints as a DubboService has them', async (t) => {
  const result = validateResource(
    ingress('user-ingress', [
      {
        host: 'user-app',
        service: 'user',
        port: 20880,
        endpoints: [
          { address: '10.0.0.5:20880', labels: { app: 'user' } },
          { address: '[::1]:20881', weight: 5 },
        ],
      },
      { host: 'OrderApp', service: 'order' },
    ]),
  );
  t.same(result.valid ? result.result : result.errors, {
    kind: 'DubboIngress',
    metadata: { name: 'user-ingress', namespace: 'default' },
    rules: [
      {
        host: 'user-app',
        service: 'user',
        port: 20880,
        endpoints: [
          { address: '10.0.0.5:20880', host: '10.0.0.5', port: 20880, labels: { app: 'user' }, weight: 100 },
          { address: '[::1]:20881', host: '::1', port: 20881, labels: {}, weight: 5 },
        ],
      },
      { host: 'OrderApp', service: 'order', endpoints: [] },
    ],
  });
});

t.test('a DubboIngress with field errors names each', async (t) => {
  t.match(validateResource(ingress('i', [])), { valid: false, errors: ['DubboIngress default/i: spec.rules: must have at least one rule'] });
  t.match(validateResource({ ...ingress('i', []), spec: {} }), { valid: false, errors: ['DubboIngress default/i: spec.rules: is required'] });
  const result = validateResource(
    ingress('i', [
      { service: 'Bad_Service', port: 0, endpoints: [{ address: 'nowhere' }, { address: '10.0.0.1:1', weight: -1 }] },
      { host: '', service: 's', tls: true },
    ]),
  );
  t.same(result.valid ? [] : result.errors, [
    'DubboIngress default/i: spec.rules[0].host: is required',
    'DubboIngress default/i: spec.rules[0].service: "Bad_Service" is not a valid name (lower case letters, digits, - and .)',
    'DubboIngress default/i: spec.rules[0].port: must be >= 1',
    'DubboIngress default/i: spec.rules[0].endpoints[0].address: "nowhere" is not host:port',
    'DubboIngress default/i: spec.rules[0].endpoints[1].weight: must be >= 0',
    'DubboIngress default/i: spec.rules[1].tls: unknown field (expected one of: host, service, port, endpoints)',
    'DubboIngress default/i: spec.rules[1].host: must be a non-empty string, got string ""',
  ]);
});

t.test('a target application is held by one rule in the mesh, in any namespace; the conflict names the holder', async (t) => {
  const a = located(ingress('a', [{ host: 'user-app', service: 'user' }], 'shop'));
  const b = located(
    ingress(
      'b',
      [
        { host: 'order-app', service: 'order' },
        { host: 'user-app', service: 'user' },
      ],
      'other',
    ),
  );
  const twice = located(
    ingress('twice', [
      { host: 'x-app', service: 's' },
      { host: 'x-app', service: 't' },
    ]),
  );
  const result = assembleMeshConfig([a, b, twice]);
  t.same(result.valid ? [] : result.errors, [
    'DubboIngress other/b: spec.rules[1].host: target-application "user-app" is already served by DubboIngress shop/a (spec.rules[0])',
    'DubboIngress default/twice: spec.rules[1].host: target-application "x-app" is already served by DubboIngress default/twice (spec.rules[0])',
  ]);
  t.same(result.valid ? [] : result.origins, [], 'no origins given, none named');
  const index = new CrossReferenceIndex();
  t.match(index.assemble([a, b, twice]), { valid: false, errors: result.valid ? [] : result.errors }, 'the index refuses alike');
});

t.test('ingresses are assembled into the config, with no reference to a DubboService needed', async (t) => {
  const service = located({
    apiVersion: 'dubbo-mesh.io/v1alpha1',
    kind: 'DubboService',
    metadata: { name: 'user' },
    spec: { interfaces: ['org.example.UserService'] },
  });
  const a = located(ingress('a', [{ host: 'user-app', service: 'user' }]));
  const b = located(ingress('b', [{ host: 'order-app', service: 'no-such-service' }], 'shop'));
  const result = assembleMeshConfig([service, a, b]);
  t.equal(result.valid, true);
  if (!result.valid) return;
  t.same(
    result.result.ingresses.map((i) => `${i.metadata.namespace}/${i.metadata.name}`),
    ['default/a', 'shop/b'],
  );
  t.equal(result.result.services.length, 1);
  t.same(assembleMeshConfig([service]).valid && assembleMeshConfig([service]).result.ingresses, [], 'none: an empty list');
  // A host that moves from one resource to another in one change is no conflict.
  const index = new CrossReferenceIndex();
  t.equal(index.assemble([service, a, b]).valid, true);
  const moved = located(ingress('c', [{ host: 'user-app', service: 'user' }]));
  t.equal(index.assemble([service, b, moved]).valid, true, 'user-app now held by c');
  t.equal(index.assemble([service, b, moved, a]).valid, false, 'and a may not take it back while c holds it');
});
