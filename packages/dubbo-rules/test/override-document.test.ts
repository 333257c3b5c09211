import t from 'tap';
import { CheckContext, formatPath } from '@dubbo-mesh/schema';
import { overrideRuleNode } from '@dubbo-mesh/dubbo-rules';

function check(document: unknown): { value: unknown; issues: string[]; warnings: string[] } {
  const context = new CheckContext();
  const value = overrideRuleNode.check(document, context);
  const text = (list: typeof context.issues) => list.map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
  return { value, issues: text(context.issues), warnings: text(context.warnings) };
}

const item = { side: 'consumer', parameters: { timeout: 100 } };

t.test('an override rule document is checked with every error at its field path', async (t) => {
  const cases: Array<[name: string, document: unknown, issues: Array<string | RegExp>]> = [
    ['valid', { scope: 'service', key: 'com.Foo', configs: [item] }, []],
    ['no scope', { key: 'com.Foo', configs: [item] }, ['scope: is required']],
    ['a bad scope', { scope: 'global', key: 'com.Foo', configs: [item] }, ['scope: must be one of service, application, got string "global"']],
    ['no key', { scope: 'service', configs: [item] }, ['key: is required']],
    ['a service key with four parts', { scope: 'service', key: 'a:b:c:d', configs: [item] }, [/^key: "a:b:c:d" is not a service key/]],
    ['an application key with a colon', { scope: 'application', key: 'a:b', configs: [item] }, [/^key: "a:b" is not an application name/]],
    ['no configs', { scope: 'service', key: 'com.Foo' }, ['configs: is required']],
    ['no parameters', { scope: 'service', key: 'com.Foo', configs: [{ side: 'consumer' }] }, ['configs[0].parameters: is required']],
    [
      'empty parameters',
      { scope: 'service', key: 'com.Foo', configs: [item, { side: 'consumer', parameters: {} }] },
      ['configs[1].parameters: must set at least one parameter (timeout, weight, disabled, …)'],
    ],
    [
      'a parameter with no value',
      { scope: 'service', key: 'com.Foo', configs: [{ side: 'consumer', parameters: { timeout: null } }] },
      ['configs[0].parameters.timeout: must be a string, number or boolean, got null'],
    ],
    [
      'a bad side',
      { scope: 'service', key: 'com.Foo', configs: [{ side: 'both', parameters: { timeout: 1 } }] },
      ['configs[0].side: must be one of consumer, provider, got string "both"'],
    ],
    [
      'addresses not a list',
      { scope: 'service', key: 'com.Foo', configs: [{ ...item, addresses: '0.0.0.0' }] },
      ['configs[0].addresses: must be a list, got string "0.0.0.0"'],
    ],
    [
      'a typo',
      { scope: 'service', key: 'com.Foo', configs: [{ ...item, providerAddress: ['1.1.1.1:1'] }] },
      [
        /^configs\[0\]\.providerAddress: unknown field \(expected one of: side, type, enabled, addresses, providerAddresses, services, applications, parameters, match\)/,
      ],
    ],
    [
      'bad matches',
      {
        configVersion: 'v3.0',
        scope: 'application',
        key: 'app',
        configs: [
          {
            ...item,
            match: { address: { cidr: '10.0.0.0/8' }, providerAddress: { cird: 'x' }, service: { exact: 'a' }, app: { oneof: [{}] }, param: [{ key: 'k' }] },
          },
        ],
      },
      [
        /^configs\[0\]\.match\.address\.cidr: unknown field/,
        'configs[0].match.address: must have one of cird, wildcard, exact',
        /^configs\[0\]\.match\.providerAddress\.cird: "x" is not an IP expression/,
        /^configs\[0\]\.match\.service\.exact: unknown field \(expected one of: oneof\)/,
        'configs[0].match.service.oneof: is required',
        'configs[0].match.app.oneof[0]: must have one of exact, prefix, regex, wildcard, empty, noempty',
        'configs[0].match.param[0].value: is required',
      ],
    ],
    [
      'v3.1 is a condition version',
      { configVersion: 'v3.1', scope: 'service', key: 'com.Foo', configs: [item] },
      ['configVersion: must be one of v2.7, v3.0, got string "v3.1"'],
    ],
  ];
  for (const [name, document, issues] of cases) {
    const found = check(document).issues;
    t.match(found, issues, name);
    t.equal(found.length, issues.length, `${name}: no other issue (${found.join(' | ')})`);
  }
});

t.test('the document is normalised: defaults, text parameters, canonical key', async (t) => {
  t.same(
    check({
      scope: 'service',
      key: 'com.Foo:1.0.0',
      enabled: 'false',
      configs: [{ side: 'provider', addresses: ['10.0.0.1:20880'], parameters: { weight: 200, disabled: true } }],
    }).value,
    {
      configVersion: 'v2.7',
      scope: 'service',
      key: 'com.Foo:1.0.0:',
      enabled: false,
      force: false,
      runtime: true,
      priority: 0,
      kind: 'override',
      configs: [
        {
          side: 'provider',
          addresses: ['10.0.0.1:20880'],
          providerAddresses: [],
          services: [],
          applications: [],
          parameters: { weight: '200', disabled: 'true' },
        },
      ],
    },
  );
});

t.test('what Dubbo reads but ignores is a warning at its path', async (t) => {
  const checked = check({
    configVersion: 'v2.7',
    scope: 'service',
    key: 'com.Foo',
    configs: [
      { parameters: { timeout: 1 } },
      { side: 'consumer', enabled: false, services: ['x'], match: { app: { oneof: [{ exact: 'a' }] } }, parameters: { timeout: 1, group: 'g' } },
      { side: 'consumer', type: 'weight', enabled: false, parameters: { weight: 1 } },
    ],
  });
  t.same(checked.issues, []);
  t.same(checked.warnings, [
    'configs[0]: has no side: Dubbo applies such an item nowhere (side: consumer or provider)',
    "configs[1].enabled: ignored: Dubbo reads an item's enabled only when its type is not general (the document's enabled counts)",
    'configs[1].services: ignored: read only in application scope (the key names the service)',
    'configs[1].match: ignored: match is read only by configVersion v3.0 rules',
    'configs[1].parameters.group: ignored: Dubbo removes this parameter before applying an override',
  ]);
  const app = check({ scope: 'application', key: 'app', configs: [{ side: 'consumer', applications: ['x'], parameters: { timeout: 1 } }] });
  t.same(app.warnings, ['configs[0].applications: ignored: read only in service scope (the key names the application)']);
});
