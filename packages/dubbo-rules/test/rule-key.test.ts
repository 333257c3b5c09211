// Rule keys: service keys in every form Dubbo and dubbo-admin write, config-center node names, resource names.
import t from 'tap';
import { canonicalRuleKey, configCenterName, parseConfigCenterName, parseServiceRuleKey, ruleResourceName } from '@dubbo-mesh/dubbo-rules';

t.test('service keys: interface[:version[:group]] and group/interface:version, canonical as interface:version:group', async (t) => {
  const cases: Array<[string, string | undefined]> = [
    ['com.Foo', 'com.Foo::'],
    ['com.Foo:1.0.0', 'com.Foo:1.0.0:'],
    ['com.Foo:1.0.0:g1', 'com.Foo:1.0.0:g1'],
    ['com.Foo::g1', 'com.Foo::g1'],
    ['g1/com.Foo:1.0.0', 'com.Foo:1.0.0:g1'],
    ['g1/com.Foo', 'com.Foo::g1'],
    ['com.Foo:1:g:extra', undefined],
    [':1.0.0', undefined],
    ['/com.Foo', undefined],
    ['com Foo', undefined],
  ];
  for (const [text, canonical] of cases) t.equal(canonicalRuleKey('service', text), canonical, text);
  t.same(parseServiceRuleKey('g/com.Foo:2'), { interface: 'com.Foo', version: '2', group: 'g' });
  t.equal(canonicalRuleKey('application', 'user-app'), 'user-app');
  t.equal(canonicalRuleKey('application', 'user:app'), undefined, 'an application has no colon');
  t.equal(canonicalRuleKey('application', ''), undefined);
});

t.test('config-center node names', async (t) => {
  t.same(parseConfigCenterName('com.Foo:1.0.0:.condition-router'), { kind: 'condition', scope: 'service', key: 'com.Foo:1.0.0:' });
  t.same(parseConfigCenterName('com.Foo::.condition-router'), { kind: 'condition', scope: 'service', key: 'com.Foo::' });
  t.same(parseConfigCenterName('user-app.condition-router'), { kind: 'condition', scope: 'application', key: 'user-app' });
  t.same(parseConfigCenterName('user-app.tag-router'), { kind: 'tag', scope: 'application', key: 'user-app' });
  t.same(parseConfigCenterName('com.Foo::g.configurators'), { kind: 'override', scope: 'service', key: 'com.Foo::g' });
  t.same(parseConfigCenterName('user-app.configurators'), { kind: 'override', scope: 'application', key: 'user-app' });
  t.equal(parseConfigCenterName('dubbo.properties'), undefined);
  t.equal(parseConfigCenterName('.condition-router'), undefined);
  t.equal(configCenterName('condition', 'com.Foo:1.0.0:'), 'com.Foo:1.0.0:.condition-router');
});

t.test('resource names: valid Kubernetes names, one per kind and key', async (t) => {
  const names = new Set<string>();
  for (const [kind, key] of [
    ['condition', 'com.Foo:1.0.0:'],
    ['condition', 'com.foo:1.0.0:'],
    ['override', 'com.Foo:1.0.0:'],
    ['tag', 'User_App'],
    ['condition', '::'],
  ] as const) {
    const name = ruleResourceName(kind, key);
    t.match(name, /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, name);
    t.ok(name.length <= 253);
    names.add(name);
  }
  t.equal(names.size, 5, 'keys that differ only in case get different names');
  t.equal(ruleResourceName('condition', 'com.Foo:1.0.0:'), ruleResourceName('condition', 'com.Foo:1.0.0:'), 'stable');
});
