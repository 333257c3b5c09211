// The DubboRule kind: a Dubbo rule document as a resource's spec, or alone in a rule file.
import t from 'tap';
import { assembleMeshConfig, parseMeshYaml, validateResource } from '@dubbo-mesh/config';

const RULE_FILE = `# dubbo-admin's read/write split, as it writes it
configVersion: v3.0
scope: service
key: org.apache.dubbo.benchmark.service.UserService:1.0.0
force: true
conditions:
  - method = find*,list*,get* => host = 172.22.3.94,172.22.3.95
`;

t.test('a rule document alone in a file is a DubboRule named after its kind and key', async (t) => {
  const parsed = parseMeshYaml(RULE_FILE, 'rules/user.yaml');
  t.same(parsed.errors, []);
  const [item] = parsed.resources;
  t.equal(item!.resource.kind, 'DubboRule');
  t.match(item!.resource.metadata, { namespace: 'default', name: /^condition-org\.apache\.dubbo\.benchmark\.service\.userservice-1\.0\.0-[0-9a-f]{8}$/ });
  t.match(item!.resource, {
    rule: { kind: 'condition', scope: 'service', key: 'org.apache.dubbo.benchmark.service.UserService:1.0.0:', force: true, enabled: true },
  });
  t.equal(item!.origin, 'rules/user.yaml');
});

t.test('an invalid rule file names file:line:col and the field, every error at once', async (t) => {
  const parsed = parseMeshYaml(
    `configVersion: v3.0
scope: service
key: com.Foo
conditions:
  - method = => host = 1.2.3.4
  - 42
enabled: maybe
`,
    'rules/bad.yaml',
  );
  t.equal(parsed.resources.length, 0);
  t.match(parsed.errors, [
    /^rules\/bad\.yaml:7:10: DubboRule default\/condition-com\.foo-[0-9a-f]{8}: spec\.enabled: must be true or false, got string "maybe"/,
    /^rules\/bad\.yaml:5:5: .*spec\.conditions\[0\]: "method = => host = 1\.2\.3\.4": no value after "=" at column 10/,
    /^rules\/bad\.yaml:6:5: .*spec\.conditions\[1\]: /,
  ]);
  const noKind = parseMeshYaml('configVersion: v3.0\nkey: com.Foo\n', 'rules/empty.yaml');
  t.match(noKind.errors, [/^rules\/empty\.yaml:1:1: .*spec: is no rule: it must have one of conditions \(condition rule\)/]);
});

t.test('one rule document per kind and key, mesh-wide', async (t) => {
  const rule = (namespace: string, name: string, key: string) => {
    const result = validateResource({
      apiVersion: 'dubbo-mesh.io/v1alpha1',
      kind: 'DubboRule',
      metadata: { namespace, name },
      spec: { configVersion: 'v3.0', scope: 'service', key, conditions: ['=> host = 10.0.0.1'] },
    });
    if (!result.valid) throw new Error(result.errors.join('\n'));
    return { resource: result.result, raw: {} };
  };
  const conflict = assembleMeshConfig([rule('a', 'one', 'com.Foo:1.0.0'), rule('b', 'two', 'com.Foo:1.0.0:')]);
  t.equal(conflict.valid, false);
  if (!conflict.valid)
    t.match(conflict.errors, [
      /DubboRule b\/two: spec\.key: a condition rule for "com\.Foo:1\.0\.0:" is already given by DubboRule a\/one \(one rule document per key\)/,
    ]);
  const fine = assembleMeshConfig([rule('a', 'one', 'com.Foo:1.0.0'), rule('a', 'two', 'com.Foo:2.0.0')]);
  t.equal(fine.valid, true);
  if (fine.valid) t.equal(fine.result.rules.length, 2);
});

t.test('two rule files for one key: the one-rule-per-key check names both', async (t) => {
  const a = parseMeshYaml(RULE_FILE, 'rules/a.yaml');
  const b = parseMeshYaml(RULE_FILE, 'rules/b.yaml');
  t.not(a.resources[0]!.resource.metadata.name, b.resources[0]!.resource.metadata.name, 'each file its own resource');
  const assembled = assembleMeshConfig([...a.resources, ...b.resources]);
  t.equal(assembled.valid, false);
  if (!assembled.valid)
    t.match(
      assembled.errors.join('\n'),
      /rules\/b\.yaml:4:6: DubboRule default\/condition-[^:]+: spec\.key: a condition rule for "org\.apache\.dubbo\.benchmark\.service\.UserService:1\.0\.0:" is already given by DubboRule default\/condition-/,
    );
});
