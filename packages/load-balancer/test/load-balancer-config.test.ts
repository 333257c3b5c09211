import t from 'tap';
import { CheckContext, formatPath, integer } from '@dubbo-mesh/schema';
import { loadBalancerConfigSchema, loadBalancerNames, registerLoadBalancer, randomLoadBalancer, type LoadBalancerFactory } from '@dubbo-mesh/load-balancer';

function check(value: unknown, unknownFields: 'error' | 'warn' = 'error') {
  const context = new CheckContext({ unknownFields });
  context.path.push('loadBalancer');
  const result = loadBalancerConfigSchema('random').check(value, context);
  const show = (list: typeof context.issues) => list.map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
  return { result, issues: show(context.issues), warnings: show(context.warnings) };
}

t.test('each algorithm validates its own part of loadBalancer', async (t) => {
  t.same(check({}).result, { policy: 'random' }, 'policy defaults');
  t.same(check({ policy: 'consistent-hash' }).result, { policy: 'consistent-hash', hash: { argument: 0 } }, "consistent-hash's default: the first argument");
  t.same(check({ policy: 'consistent-hash', hash: { attachment: 'x-user' } }).result, { policy: 'consistent-hash', hash: { attachment: 'x-user' } });
  t.same(check({ policy: 'consistent-hash', hash: { argument: 256 } }).issues, ['loadBalancer.hash.argument: must be <= 255']);
  t.same(check({ policy: 'consistent-hash', hash: {} }).issues, ['loadBalancer.hash: must have exactly one of argument, attachment']);
  t.same(check({ policy: 'round-robin', hash: { argument: 1 } }).issues, ['loadBalancer.hash: is only for policy consistent-hash']);
  t.same(check({ policy: 'best' }).issues, [
    'loadBalancer.policy: must be one of random, round-robin, least-active, shortest-response, consistent-hash, least-request, got string "best"',
  ]);
  t.same(check({ polcy: 'random' }).issues, ['loadBalancer.polcy: unknown field (expected one of: policy, hash)']);
  t.same(check({ polcy: 'random' }, 'warn'), {
    result: { policy: 'random' },
    issues: [],
    warnings: ['loadBalancer.polcy: unknown field, ignored (expected one of: policy, hash)'],
  });
  t.same(check('random').issues, ['loadBalancer: must be an object, got string "random"']);
});

t.test('a load balancer registered later brings its config and schema with it', async (t) => {
  const weighted: LoadBalancerFactory = {
    name: 'test-weighted-hash',
    config: { fields: { hash: { node: integer(0, 1) }, rings: { node: integer(1, 8), default: 2 } } },
    createPicker: randomLoadBalancer.createPicker,
  };
  registerLoadBalancer(weighted);
  t.ok(loadBalancerNames().includes('test-weighted-hash'));
  t.same(check({ policy: 'test-weighted-hash', hash: 1 }).result, { policy: 'test-weighted-hash', hash: 1, rings: 2 });
  t.same(check({ policy: 'random', rings: 3 }).issues, ['loadBalancer.rings: is only for policy test-weighted-hash']);
  const schema = loadBalancerConfigSchema('random').toOpenApi();
  t.same(schema.properties!.rings, { type: 'integer', minimum: 1, maximum: 8 });
  t.same(
    schema.properties!.hash,
    {
      type: 'object',
      properties: { argument: { type: 'integer', minimum: 0, maximum: 255 }, attachment: { type: 'string', minLength: 1 } },
      oneOf: [{ required: ['argument'] }, { required: ['attachment'] }],
    },
    'a field two algorithms share takes the schema of the first',
  );
  t.same(schema['x-kubernetes-validations'], [
    {
      rule: "!has(self.hash) || (has(self.policy) && self.policy in ['consistent-hash', 'test-weighted-hash'])",
      message: 'hash is only for policy consistent-hash or test-weighted-hash',
    },
    { rule: "!has(self.rings) || (has(self.policy) && self.policy in ['test-weighted-hash'])", message: 'rings is only for policy test-weighted-hash' },
  ]);
});
