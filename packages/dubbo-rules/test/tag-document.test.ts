import t from 'tap';
import { parse } from 'yaml';
import { CheckContext, formatPath } from '@dubbo-mesh/schema';
import { ruleDocumentNode, tagRuleNode } from '@dubbo-mesh/dubbo-rules';

function check(document: unknown): { value: unknown; issues: string[]; warnings: string[] } {
  const context = new CheckContext();
  const value = tagRuleNode.check(document, context);
  const text = (list: typeof context.issues) => list.map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
  return { value, issues: text(context.issues), warnings: text(context.warnings) };
}

t.test('a tag rule document is checked with every error at its field path', async (t) => {
  const cases: Array<[name: string, document: unknown, issues: Array<string | RegExp>]> = [
    ['valid', { key: 'app', tags: [{ name: 'gray', addresses: ['10.0.0.1'] }] }, []],
    ['no key', { tags: [{ name: 'gray' }] }, ['key: is required']],
    ['key with a colon', { key: 'com.Foo:1.0.0', tags: [{ name: 'gray' }] }, ['key: "com.Foo:1.0.0" is not an application name (no spaces or colons)']],
    ['no tags', { key: 'app' }, ['tags: is required']],
    ['empty tags', { key: 'app', tags: [] }, ['tags: must have at least one tag (Dubbo takes a tag rule with no tags as invalid)']],
    ['tags not a list', { key: 'app', tags: { name: 'gray' } }, ['tags: must be a list, got an object']],
    ['tag without name', { key: 'app', tags: [{ addresses: ['10.0.0.1'] }] }, ['tags[0].name: is required']],
    [
      'a bad address',
      { key: 'app', tags: [{ name: 'a' }, { name: 'b', addresses: ['10.0.0.1', '10.0.0', 'db.local'] }] },
      [/^tags\[1\]\.addresses\[1\]: "10\.0\.0" is not an IP expression \(/, /^tags\[1\]\.addresses\[2\]: "db\.local" is not an IP expression/],
    ],
    [
      'a bad CIDR',
      { key: 'app', tags: [{ name: 'a', addresses: ['10.0.0.0/40'] }] },
      ['tags[0].addresses[0]: "10.0.0.0/40" is not a CIDR: the prefix length must be 0 to 32'],
    ],
    ['a duplicate tag', { key: 'app', tags: [{ name: 'gray' }, { name: 'gray' }] }, ['tags[1].name: tag "gray" is defined twice']],
    ['a typo', { key: 'app', tags: [{ name: 'gray', adresses: ['10.0.0.1'] }] }, ['tags[0].adresses: unknown field (expected one of: name, addresses, match)']],
    [
      'an unknown top-level field',
      { key: 'app', tags: [{ name: 'g' }], tagz: [] },
      [/^tagz: unknown field \(expected one of: configVersion, scope, key, enabled, force, runtime, priority, tags\)/],
    ],
    [
      'v3.1 is a condition version',
      { configVersion: 'v3.1', key: 'app', tags: [{ name: 'g' }] },
      ['configVersion: must be one of v2.7, v3.0, got string "v3.1"'],
    ],
    [
      'v3.0 tag with neither addresses nor match',
      { configVersion: 'v3.0', key: 'app', tags: [{ name: 'g', addresses: [] }] },
      ['tags[0]: a v3.0 tag needs addresses or match'],
    ],
    [
      'a bad match',
      {
        configVersion: 'v3.0',
        key: 'app',
        tags: [{ name: 'g', match: [{ key: 'env', value: { regex: '(' } }, { key: 'x', value: {} }, { value: { exact: 'a' } }] }],
      },
      [
        /^tags\[0\]\.match\[0\]\.value\.regex: "\(" is not a regular expression: /,
        'tags[0].match[1].value: must have one of exact, prefix, regex, wildcard, empty, noempty',
        'tags[0].match[2].key: is required',
      ],
    ],
    ['force as text', { key: 'app', force: 'yes', tags: [{ name: 'g' }] }, ['force: must be true or false, got string "yes"']],
  ];
  for (const [name, document, issues] of cases) {
    const found = check(document).issues;
    t.match(found, issues, name);
    t.equal(found.length, issues.length, `${name}: no other issue`);
  }
});

t.test('Dubbo\u2019s own tag rules are accepted as written', async (t) => {
  // TagStateRouterTest.tagRouterRuleParseTest: addresses null, ~ and [] are tags with no address.
  const parsed = check(
    parse(`---
force: false
runtime: true
enabled: false
priority: 1
key: demo-provider
tags:
  - name: tag1
    addresses: null
  - name: tag2
    addresses: ["30.5.120.37:20880"]
  - name: tag3
    addresses: []
  - name: tag4
    addresses: ~
...`),
  );
  t.same(parsed.issues, []);
  t.same(parsed.value, {
    configVersion: 'v2.7',
    scope: 'application',
    key: 'demo-provider',
    enabled: false,
    force: false,
    runtime: true,
    priority: 1,
    kind: 'tag',
    tags: [
      { name: 'tag1', addresses: [] },
      { name: 'tag2', addresses: ['30.5.120.37:20880'] },
      { name: 'tag3', addresses: [] },
      { name: 'tag4', addresses: [] },
    ],
  });
  // tagRouterRuleParseTestV3, with both addresses and match on one tag.
  const v3 = check(
    parse(`---
configVersion: v3.0
force: false
runtime: true
enabled: "true"
priority: 1
key: demo-provider
tags:
  - name: tag1
    match:
    - key: match_key1
      value:
       exact: value1
  - name: tag2
    addresses:
     - "10.20.3.3:20880"
     - "10.20.3.4:20880"
    match:
    - key: match_key2
      value:
       exact: value2
  - name: tag5
    match:
    - key: match_key2
      value:
       wildcard: "*"
...`),
  );
  t.same(v3.issues, []);
  t.same(v3.warnings, []);
  t.match(v3.value, {
    configVersion: 'v3.0',
    enabled: true,
    tags: [{ name: 'tag1', addresses: [], match: [{ key: 'match_key1', value: { exact: 'value1' } }] }, {}, {}],
  });
});

t.test('what Dubbo ignores is a warning', async (t) => {
  const v27 = check({ configVersion: 'v2.7', key: 'app', scope: 'service', tags: [{ name: 'g', match: [{ key: 'k', value: { exact: 'v' } }] }] });
  t.same(v27.issues, []);
  t.same(v27.warnings, [
    'scope: ignored: a tag rule is keyed by the provider application, got string "service"',
    'tags[0].match: ignored: match is read only by configVersion v3.0 rules',
  ]);
  t.match(v27.value, { scope: 'application', key: 'app' });
  const lenient = new CheckContext({ unknownFields: 'warn' });
  ruleDocumentNode.check({ key: 'app', tags: [{ name: 'g', weight: 3 }] }, lenient);
  t.same(lenient.issues, []);
  t.equal(formatPath(lenient.warnings[0]!.path), 'tags[0].weight');
});
