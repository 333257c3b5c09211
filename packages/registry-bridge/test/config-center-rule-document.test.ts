import t from 'tap';
import { parseConfigCenterName } from '@dubbo-mesh/dubbo-rules';
import { readConfigCenterRule, type ConfigCenterRuleRead } from '@dubbo-mesh/registry-bridge';

const FOLDER = '/dubbo/config/dubbo';

function read(name: string, text: string): ConfigCenterRuleRead {
  const rule = parseConfigCenterName(name);
  if (rule === undefined) throw new Error(`${name} names no rule`);
  return readConfigCenterRule({ path: `${FOLDER}/${name}`, rule, text, namespace: 'dubbo-registry' });
}

function errorsOf(result: ConfigCenterRuleRead): readonly string[] {
  if (result.kind !== 'invalid') throw new Error(`expected a refusal, got ${result.kind}`);
  return result.errors;
}

t.test('no data, or only whitespace, is no rule', async (t) => {
  for (const text of ['', '  \n\t\n']) t.same(read('com.Foo::.condition-router', text), { kind: 'empty' }, JSON.stringify(text));
});

t.test('YAML syntax errors name the node path, line and column', async (t) => {
  const name = 'com.Foo:1.0.0:.condition-router';
  const [unclosed, ...more] = errorsOf(read(name, 'configVersion: v3.0\nconditions:\n  - "=> host = 1.2.3.4\n'));
  t.equal(more.length, 0, 'one error');
  // An unclosed quote is seen where the text ends.
  t.equal(unclosed, `zookeeper:${FOLDER}/${name}:4:1: Missing closing "quote`);
  t.same(errorsOf(read(name, 'configVersion: v3.0\nkey: a: b\n')), [`zookeeper:${FOLDER}/${name}:2:6: Nested mappings are not allowed in compact mappings`]);
  t.same(errorsOf(read(name, 'configVersion: v3.0\n\tkey: a\n')), [`zookeeper:${FOLDER}/${name}:2:1: Tabs are not allowed as indentation`]);
  const [indent] = errorsOf(read(name, 'configVersion: v3.0\nkey: [a,\nconditions: []\n'));
  t.match(indent, /^zookeeper:\/dubbo\/config\/dubbo\/com\.Foo:1\.0\.0:\.condition-router:3:\d+: /);
  const [duplicate] = errorsOf(read(name, 'configVersion: v3.0\nkey: a\nkey: b\n'));
  t.match(duplicate, /:3:1: Map keys must be unique/);
  t.same(errorsOf(read(name, 'configVersion: v3.0\n---\nconditions: []\n')), [
    `zookeeper:${FOLDER}/${name}:2:1: a second YAML document: a config-center node holds one rule document`,
  ]);
  t.same(errorsOf(read(name, '- a\n- b\n')), [
    `zookeeper:${FOLDER}/${name}:1:1: must be a rule document (a YAML mapping with configVersion, key …), got a list`,
  ]);
  t.same(errorsOf(read(name, 'just text\n')), [
    `zookeeper:${FOLDER}/${name}:1:1: must be a rule document (a YAML mapping with configVersion, key …), got string "just text"`,
  ]);
  // A comment alone is a document with nothing in it: not a rule, and not "no data" either.
  t.match(errorsOf(read(name, '# nothing yet\n')), [/: must be a rule document .*got nothing \(null\)$/]);
  const [bomb] = errorsOf(
    read(name, `a: &a [x, x, x, x, x, x, x, x, x, x]\n${Array.from({ length: 12 }, (_, i) => `b${i}: [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]`).join('\n')}\n`),
  );
  t.match(bomb, /^zookeeper:\/dubbo\/config\/dubbo\/com\.Foo:1\.0\.0:\.condition-router:1:1: .*alias/i, 'an alias bomb is an error, not a hang');
});

t.test('a document of another kind than its node suffix is an error at the field that says so', async (t) => {
  t.same(errorsOf(read('com.Foo::.condition-router', 'configVersion: v3.0\nkey: com.Foo\ntags:\n  - name: gray\n')), [
    `zookeeper:${FOLDER}/com.Foo::.condition-router:4:3: a .condition-router node holds a condition rule (conditions), this document is a tag rule (tags)`,
  ]);
  t.same(errorsOf(read('shop.tag-router', 'configVersion: v3.0\nkey: shop\nconfigs:\n  - side: consumer\n')), [
    `zookeeper:${FOLDER}/shop.tag-router:4:3: a .tag-router node holds a tag rule (tags), this document is a override rule (configs)`,
  ]);
  t.same(errorsOf(read('shop.configurators', 'configVersion: v3.0\nkey: shop\nconditions: []\n')), [
    `zookeeper:${FOLDER}/shop.configurators:3:13: a .configurators node holds a override rule (configs), this document is a condition rule (conditions)`,
  ]);
});

t.test('a document with no body is refused by the rule schema, located at the document', async (t) => {
  const errors = errorsOf(read('com.Foo::.condition-router', 'configVersion: v3.0\nkey: com.Foo\n'));
  t.equal(errors.length, 1);
  t.match(
    errors[0],
    /^zookeeper:\/dubbo\/config\/dubbo\/com\.Foo::\.condition-router:1:1: DubboRule dubbo-registry\/condition-com\.foo-[0-9a-f]{8}: spec: is no rule/,
  );
});

t.test('the node name decides key and scope: a document that says otherwise is overridden, with a warning', async (t) => {
  // dubbo-admin's own test data: an application node whose document says `scope: service`.
  const result = read(
    'test-application.condition-router',
    'conditions:\n- => host != 172.22.3.111\nenabled: false\nforce: true\nkey: other-application\npriority: 0\nruntime: false\nscope: service\n',
  );
  const warnings = result.kind === 'invalid' || result.kind === 'rule' ? result.warnings : [];
  t.same(warnings, [
    `zookeeper:${FOLDER}/test-application.condition-router:5:6: key "other-application" is not the node's; the node's name decides: "test-application"`,
    `zookeeper:${FOLDER}/test-application.condition-router:8:8: scope "service" is not the node's; the node's name decides: "application"`,
    `zookeeper:${FOLDER}/test-application.condition-router:1:1: no configVersion: read as v2.7, as Dubbo reads a rule without one`,
  ]);
});

t.test('a valid rule: its resource, located fields, and unknown fields ignored with a warning (as Dubbo ignores them)', async (t) => {
  const name = 'com.Foo:1.0.0:.condition-router';
  const text = "configVersion: v3.0\nscope: service\nkey: 'com.Foo:1.0.0'\nconditions:\n  - => host = 10.0.0.1\nowner: team-a\n";
  const result = read(name, text);
  if (result.kind !== 'rule') throw new Error(`expected a rule: ${JSON.stringify(result)}`);
  const { resource, raw, origin, locate } = result.located;
  t.equal(origin, `zookeeper:${FOLDER}/${name}`);
  t.match(resource, { kind: 'DubboRule', metadata: { namespace: 'dubbo-registry' }, rule: { kind: 'condition', key: 'com.Foo:1.0.0:', scope: 'service' } });
  t.match(raw, { apiVersion: 'dubbo-mesh.io/v1alpha1', kind: 'DubboRule', spec: { key: 'com.Foo:1.0.0:', owner: 'team-a' } });
  t.equal(locate!(['spec', 'conditions', 0]), `zookeeper:${FOLDER}/${name}:5:5: `);
  t.equal(locate!(['metadata', 'name']), `zookeeper:${FOLDER}/${name}:1:1: `, 'a field with no place in the text: the document');
  t.equal(result.warnings.length, 1, 'the same key written without its empty group is no warning');
  t.match(
    result.warnings[0],
    new RegExp(`^zookeeper:${FOLDER}/com\\.Foo:1\\.0\\.0:\\.condition-router:6:8: DubboRule .*: spec\\.owner: unknown field, ignored`),
  );
  const again = read(name, text);
  t.not(again.kind === 'rule' ? again.located.raw : undefined, raw, 'each read a new raw object');
});
