import t from 'tap';
import { CheckContext, formatPath } from '@dubbo-mesh/schema';
import { conditionRuleNode, ruleDocumentNode, type ConditionRuleDocument } from '@dubbo-mesh/dubbo-rules';

function check(document: unknown, unknownFields: 'error' | 'warn' = 'error') {
  const context = new CheckContext({ unknownFields });
  const result = conditionRuleNode.check(document, context);
  const show = (list: typeof context.issues) => list.map((issue) => `${formatPath(issue.path) || '(root)'}: ${issue.message}`);
  return { result, issues: show(context.issues), warnings: show(context.warnings) };
}

const header = { configVersion: 'v3.0', scope: 'service', key: 'org.example.UserService:1.0.0' };

t.test('a valid v3.0 document: header defaults, canonical key, kind condition', async (t) => {
  const { result, issues, warnings } = check({ ...header, force: 'true', conditions: ['method = find*,list*,get*,is* => host = 172.22.3.94,172.22.3.95'] });
  t.same(issues, []);
  t.same(warnings, []);
  t.same(result, {
    configVersion: 'v3.0',
    scope: 'service',
    key: 'org.example.UserService:1.0.0:',
    enabled: true,
    force: true,
    runtime: true,
    priority: 0,
    valid: true,
    dynamic: false,
    kind: 'condition',
    conditions: ['method = find*,list*,get*,is* => host = 172.22.3.94,172.22.3.95'],
  } satisfies ConditionRuleDocument);
});

t.test('conditions Dubbo reads as text: numbers and booleans, blank sides, true and false', async (t) => {
  const { result, issues } = check({ ...header, configVersion: 'v2.7', conditions: [false, '=> host = 1.2.3.4', 'host = 10.0.0.1 =>', 'true => false', '=>'] });
  t.same(issues, []);
  t.same(result?.conditions, ['false', '=> host = 1.2.3.4', 'host = 10.0.0.1 =>', 'true => false', '=>']);
  t.same(check({ ...header, dynamic: true, valid: 'false', rawRule: 'whatever' }).issues, ['conditions: is required']);
  const flags = check({ ...header, dynamic: true, valid: 'false', rawRule: 'whatever', conditions: ['=> host = 1'] }).result;
  t.match(flags, { valid: false, dynamic: true });
  t.notOk(flags !== undefined && 'rawRule' in flags, 'rawRule is accepted, not kept');
});

t.test('every condition is parsed: errors name the condition index and the column', async (t) => {
  const cases: Array<[string, string]> = [
    ['method = => host = 1.2.3.4', 'no value after "=" at column 10'],
    ['host = 1.2.3.4 5.6.7.8', 'no "=" or "!=" after "5.6.7.8" at column 16 (in the then-part; values are separated by ",")'],
    ['method => host = 1.2.3.4', 'no "=" or "!=" after "method" at column 1 (in the when-part; values are separated by ",")'],
    ['method = a, => host = 1', 'nothing after "," at column 13'],
    ['method = a & => host = 1', 'nothing after "&" at column 14'],
    ['method != => host = 1', 'no value after "!=" at column 11'],
    ['= a => host = 1', '"=" before "a" has no key before it at column 1'],
    [', a => host = 1', '"," before "a" follows no value at column 1'],
    ['method == a => host = 1', 'unexpected "==" before "a" at column 8 (use "&", "=", "!=" or ",")'],
    ['method = a &! b => host = 1', 'unexpected "&!" before "b" at column 12 (use "&", "=", "!=" or ",")'],
    ['method = a => host = 1 => port = 2', 'has a second "=>" at column 24'],
    ['   ', 'is empty (a condition is "WHEN => THEN") at column 1'],
    ['consumer.host = 1.1.1.1 & method = => host = 2', 'no value after "=" at column 36'],
  ];
  for (const [condition, message] of cases) {
    const { result, issues } = check({ ...header, conditions: ['=> host = 1.1.1.1', condition] });
    t.equal(result, undefined, condition);
    t.same(issues, [`conditions[1]: ${JSON.stringify(condition)}: ${message}`], condition);
  }
});

t.test('every bad condition of a document is reported, with the header issues', async (t) => {
  const { issues } = check({
    configVersion: 'v4',
    scope: 'service',
    key: 'a b',
    conditions: ['a = => b = 1', 'ok = 1 => host = 1', { from: { match: 'a=1' } }, null],
  });
  t.same(issues, [
    'configVersion: must be one of v2.7, v3.0, v3.1, got string "v4"',
    'key: "a b" is not a service key (interface, interface:version or interface:version:group)',
    'conditions[0]: "a = => b = 1": no value after "=" at column 5',
    'conditions[2]: is a v3.1 condition (from/to): set configVersion: v3.1',
    'conditions[3]: must be a condition text, got null',
  ]);
  t.same(check({ ...header, conditions: [] }).issues, ['conditions: must have at least one condition']);
  t.same(check({ ...header, conditions: 'a => b' }).issues, ['conditions: must be a list of conditions, got string "a => b"']);
  t.same(check({ ...header, conditions: ['=> host = 1'], color: 1 }).issues, [
    'color: unknown field (expected one of: configVersion, scope, key, enabled, force, runtime, priority, valid, dynamic, rawRule, conditions)',
  ]);
  t.same(check({ ...header, conditions: ['=> host = 1'], color: 1 }, 'warn').issues, []);
});

t.test('keys Dubbo accepts that never hold in the mesh are warnings', async (t) => {
  const { result, warnings } = check({
    ...header,
    conditions: [
      'region = hz & arguments = 1 & attachments[dubbo.tag] = gray => host = $host & zone = $zone & arguments[0] = 1',
      'application = a & attachments[k] = v & arguments[2] = x => host = $host',
    ],
  });
  t.ok(result);
  const text = JSON.stringify('region = hz & arguments = 1 & attachments[dubbo.tag] = gray => host = $host & zone = $zone & arguments[0] = 1');
  t.same(warnings, [
    `conditions[0]: ${text}: "region" at column 1 is not a call value the mesh knows (method, methods, interface, path, group, version, application, host, arguments[N], attachments[k]): it never holds`,
    `conditions[0]: ${text}: "arguments" at column 15 is not arguments[N] (Dubbo reads it as not found: = never holds, != always does)`,
    `conditions[0]: ${text}: "attachments[dubbo.tag]" at column 31 is not attachments[key] with a key free of "." (Dubbo reads the key up to its first "."): = never holds, != always does`,
    `conditions[0]: ${text}: "zone" at column 79 uses $zone: the mesh knows the consumer's $host, $application, $interface, $path, $group, $version; $zone has no value`,
    `conditions[0]: ${text}: "arguments[0]" at column 94 has no value in a then-part (Dubbo reads providers there): = never holds, != always does`,
  ]);
});

t.test('v3.1: from/to with weights, null from/to, ignored dubbo-admin fields, match errors at their path', async (t) => {
  const v31 = { ...header, configVersion: 'v3.1' };
  const { result, issues, warnings } = check({
    ...v31,
    conditions: [
      { from: { match: 'method = get*' }, to: [{ match: 'region=$region & version=v1' }, { match: 'version=v2', weight: '200' }, { match: false, weight: 0 }] },
      { from: null, to: [{ match: 'host != 127.0.0.1' }] },
      { from: { match: 'host = 10.0.0.1' } },
      { priority: 1, trafficDisable: true, force: true, ratio: 10, to: null },
    ],
  });
  t.same(issues, []);
  t.same(result?.conditions, [
    {
      from: { match: 'method = get*' },
      to: [
        { match: 'region=$region & version=v1', weight: 100 },
        { match: 'version=v2', weight: 200 },
        { match: 'false', weight: 0 },
      ],
    },
    { from: { match: '' }, to: [{ match: 'host != 127.0.0.1', weight: 100 }] },
    { from: { match: 'host = 10.0.0.1' }, to: [] },
    { from: { match: '' }, to: [] },
  ]);
  t.same(warnings, [
    'conditions[0].to[0].match: "region=$region & version=v1": "region" at column 1 uses $region: the mesh knows the consumer\'s $host, $application, $interface, $path, $group, $version; $region has no value',
    'conditions[3].priority: ignored: Dubbo 3.3 does not read it, nor does the mesh',
    'conditions[3].trafficDisable: ignored: Dubbo 3.3 does not read it, nor does the mesh',
    'conditions[3].force: ignored: Dubbo 3.3 does not read it, nor does the mesh',
    'conditions[3].ratio: ignored: Dubbo 3.3 does not read it, nor does the mesh',
  ]);
  t.same(
    check({
      ...v31,
      conditions: [{ from: { match: 'a = 1 => b = 2' }, to: [{ match: 'x = 1' }, { match: 'y =', weight: 'heavy' }], extra: 1 }, 'a => b'],
    }).issues,
    [
      'conditions[0].extra: unknown field (expected one of: priority, from, trafficDisable, to, force, ratio)',
      'conditions[0].to[1].weight: must be an integer, got string "heavy"',
      'conditions[0].from.match: "a = 1 => b = 2": has "=>": a v3.1 match is one side only (from.match is the when-part, to[].match the then-part) at column 7',
      'conditions[0].to[1].match: "y =": no value after "=" at column 4',
      'conditions[1]: is a condition text: v3.1 conditions are {from: {match}, to: [{match, weight}]} (or set configVersion: v3.0)',
    ],
  );
});

t.test('the rule document node dispatches a conditions document to this kind', async (t) => {
  const context = new CheckContext();
  const document = ruleDocumentNode.check({ ...header, conditions: ['=> host = $host'] }, context);
  t.same(context.issues, []);
  t.equal(document?.kind, 'condition');
});
