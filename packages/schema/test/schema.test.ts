import t from 'tap';
import {
  CheckContext,
  anything,
  constant,
  duration,
  formatPath,
  integer,
  list,
  map,
  object,
  oneOf,
  opaqueObject,
  parseDuration,
  string,
  stringOr,
  structuralSchemaProblems,
  type SchemaNode,
} from '@dubbo-mesh/schema';

function run<T>(node: SchemaNode<T>, value: unknown, unknownFields: 'error' | 'warn' = 'error') {
  const context = new CheckContext({ unknownFields });
  const result = node.check(value, context);
  const show = (list: typeof context.issues) => list.map((issue) => `${formatPath(issue.path) || '(root)'}: ${issue.message}`);
  return { result, issues: show(context.issues), warnings: show(context.warnings) };
}

t.test('scalars: messages as config files show them', async (t) => {
  t.same(run(string(), '').issues, ['(root): must be a non-empty string, got string ""']);
  t.same(run(string({ allowEmpty: true }), 5).issues, ['(root): must be a string, got number 5']);
  t.same(run(string({ rule: { pattern: /^[a-z]+$/, says: 'is not lower case' } }), 'A').issues, ['(root): "A" is not lower case']);
  t.same(run(integer(1, 3), 0).issues, ['(root): must be >= 1']);
  t.same(run(integer(1, 3), 4).issues, ['(root): must be <= 3']);
  t.same(run(integer(1, 3), 1.5).issues, ['(root): must be an integer, got number 1.5']);
  t.same(run(integer(1, 3), null).issues, ['(root): must be an integer, got null']);
  t.same(run(oneOf(['a', 'b']), 'c').issues, ['(root): must be one of a, b, got string "c"']);
  t.same(run(constant('v1'), 'v2').issues, ['(root): must be v1, got string "v2"']);
  t.same(run(duration(), '1.5s'), { result: 1500, issues: [], warnings: [] });
  t.same(run(duration(), ' 2s ').result, 2000, 'blanks around a duration are allowed');
  t.same(run(duration(), 'soon').issues, ['(root): must be a duration like "500ms" or "2s", got string "soon"']);
  t.same(run(duration(), '0ms').issues, ['(root): must be longer than 0']);
  t.equal(parseDuration('1h'), 3_600_000);
  t.equal(parseDuration('-1s'), undefined);
  t.same(run(anything(), { a: [1] }).result, { a: [1] });
  t.same(run(opaqueObject(), []).issues, ['(root): must be an object, got a list']);
});

t.test('objects: unknown fields first, then fields in declared order, defaults, renames, required and fallbacks', async (t) => {
  const node = object({
    name: { node: string(), required: true },
    timeout: { node: duration(), as: 'timeoutMs' },
    weight: { node: integer(0, 10), default: 1 },
  });
  t.same(run(node, { name: 'a', timeout: '2s' }).result, { name: 'a', timeoutMs: 2000, weight: 1 });
  t.same(
    run(node, { weight: 11, zz: 1, name: 5 }),
    {
      result: undefined,
      issues: ['zz: unknown field (expected one of: name, timeout, weight)', 'name: must be a non-empty string, got number 5', 'weight: must be <= 10'],
      warnings: [],
    },
    'a required field that failed makes the object unusable',
  );
  t.same(run(node, {}).issues, ['name: is required']);
  const lenient = run(node, { name: 'a', zz: 1 }, 'warn');
  t.same(lenient, { result: { name: 'a', weight: 1 }, issues: [], warnings: ['zz: unknown field, ignored (expected one of: name, timeout, weight)'] });
  const withFallback = object({ name: { node: string(), required: true, fallback: '' }, n: { node: integer(0, 1) } });
  t.same(run(withFallback, { name: 7, n: 0 }).result, { name: '', n: 0 }, 'a fallback keeps the object readable');
  const one = object({ exact: { node: string() }, prefix: { node: string() } }, { exactlyOneOf: ['exact', 'prefix'] });
  t.same(run(one, { exact: 'a', prefix: 'b' }).issues, ['(root): must have exactly one of exact, prefix (has exact, prefix)']);
  t.same(run(one, {}).issues, ['(root): must have exactly one of exact, prefix']);
  t.same(run(one, 'x').issues, ['(root): must be an object, got string "x"']);
});

t.test('lists, maps, string-or-object and refinements keep the path of every item', async (t) => {
  const items = list(object<{ name: string }>({ name: { node: string(), required: true } }), {
    minItems: { count: 1, message: 'must have at least one item' },
    uniqueBy: { field: 'name', message: (name) => `${name} twice` },
  });
  t.same(run(items, []).issues, ['(root): must have at least one item']);
  t.same(run(items, [{ name: 'a' }, { name: 5 }, { name: 'a' }]), {
    result: [{ name: 'a' }, { name: 'a' }],
    issues: ['[1].name: must be a non-empty string, got number 5', '[2].name: a twice'],
    warnings: [],
  });
  t.same(run(items, {}).issues, ['(root): must be a list, got an object']);
  t.same(run(map(integer(0, 1)), { a: 1, b: 2 }), { result: { a: 1 }, issues: ['b: must be <= 1'], warnings: [] });
  const key = stringOr(
    string().refine((s) => ({ interface: s })),
    object({ interface: { node: string(), required: true } }),
  );
  t.same(run(list(key), ['A', { interface: 'B' }, 3]), {
    result: [{ interface: 'A' }, { interface: 'B' }],
    issues: ['[2]: must be an object, got number 3'],
    warnings: [],
  });
  const even = integer(0, 100).refine((n, context) => {
    if (n % 2 === 1) context.fail('must be even');
    return n % 2 === 1 ? undefined : n / 2;
  });
  t.same(run(object({ list: { node: list(even) } }), { list: [2, 3] }), { result: { list: [1] }, issues: ['list[1]: must be even'], warnings: [] });
});

t.test('OpenAPI: each node emits its structural schema', async (t) => {
  const node = object({
    name: { node: string({ rule: { pattern: /^[a-z]+$/, says: 'x' } }), required: true },
    port: { node: integer(1, 65535) },
    timeout: { node: duration() },
    labels: { node: map(string({ allowEmpty: true })) },
    subsets: { node: list(object({ name: { node: string(), required: true } }), { uniqueBy: { field: 'name', message: String } }) },
    kind: { node: oneOf(['a', 'b']) },
    key: { node: stringOr(string(), object({})) },
    match: {
      node: object({ exact: { node: string() }, prefix: { node: string() } }, { exactlyOneOf: ['exact', 'prefix'], cel: [{ rule: 'true', message: 'm' }] }),
    },
  });
  const schema = node.toOpenApi();
  t.same(schema, {
    type: 'object',
    required: ['name'],
    properties: {
      name: { type: 'string', minLength: 1, pattern: '^[a-z]+$' },
      port: { type: 'integer', minimum: 1, maximum: 65535 },
      timeout: { type: 'string', pattern: '^[ \\t\\n\\r\\f\\v]*([0-9]+(?:\\.[0-9]+)?)(ms|s|m|h)[ \\t\\n\\r\\f\\v]*$' },
      labels: { type: 'object', additionalProperties: { type: 'string' } },
      subsets: {
        type: 'array',
        items: { type: 'object', properties: { name: { type: 'string', minLength: 1 } }, required: ['name'] },
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['name'],
      },
      kind: { type: 'string', enum: ['a', 'b'] },
      key: { 'x-kubernetes-preserve-unknown-fields': true },
      match: {
        type: 'object',
        properties: { exact: { type: 'string', minLength: 1 }, prefix: { type: 'string', minLength: 1 } },
        oneOf: [{ required: ['exact'] }, { required: ['prefix'] }],
        'x-kubernetes-validations': [{ rule: 'true', message: 'm' }],
      },
    },
  });
  t.same(structuralSchemaProblems(schema), [], 'structural');
});

t.test('the structural-schema check finds what Kubernetes would refuse', async (t) => {
  t.same(
    structuralSchemaProblems({
      type: 'object',
      properties: {
        untyped: {},
        both: { type: 'object', properties: {}, additionalProperties: { type: 'string' } },
        junctor: { type: 'object', oneOf: [{ type: 'string' }] },
        closed: { type: 'object', additionalProperties: false },
        list: {
          type: 'array',
          items: { type: 'object', properties: { name: { type: 'string' } } },
          'x-kubernetes-list-type': 'map',
          'x-kubernetes-list-map-keys': ['name'],
        },
        bare: { type: 'array' },
        kept: { 'x-kubernetes-preserve-unknown-fields': true },
        either: { 'x-kubernetes-int-or-string': true },
      },
    }),
    [
      '(root).untyped: has no type',
      '(root).both: has both properties and additionalProperties',
      '(root).junctor.oneOf[0]: sets type inside a junctor',
      '(root).closed: additionalProperties: false is not allowed (Kubernetes prunes or rejects unknown fields itself)',
      '(root).list: list map key name is not a required field of its items',
      '(root).bare: a list with no items schema',
    ],
  );
});
