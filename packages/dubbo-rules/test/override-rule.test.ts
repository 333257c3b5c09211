import t, { type Test } from 'tap';
import { parse } from 'yaml';
import { CheckContext, formatPath } from '@dubbo-mesh/schema';
import {
  compileOverrideRule,
  compileRule,
  dubboServiceKey,
  overrideRuleNode,
  ruleDocumentNode,
  type OverrideConsumer,
  type OverrideRule,
  type OverrideService,
  type RuleEndpoint,
} from '@dubbo-mesh/dubbo-rules';

function compile(document: unknown): OverrideRule {
  const context = new CheckContext();
  const checked = overrideRuleNode.check(document, context);
  if (checked === undefined || context.issues.length > 0) throw new Error(context.issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join('\n'));
  return compileOverrideRule(checked);
}

function provider(address: string, application = 'demo-provider', labels: Record<string, string> = {}): RuleEndpoint {
  const colon = address.lastIndexOf(':');
  return { host: address.slice(0, colon), port: Number(address.slice(colon + 1)), address, application, labels };
}

const consumer = (application: string | undefined, host = '10.9.9.9'): OverrideConsumer => ({ application, host });
const service = (iface: string, version = '', group = ''): OverrideService => ({ interface: iface, version, group });
const BAR = service('com.foo.BarService');

type Side = 'consumer' | 'provider';
type Case = [
  name: string,
  side: Side,
  consumer: OverrideConsumer,
  service: OverrideService,
  endpoint: RuleEndpoint,
  expected: Record<string, string> | undefined,
];

function table(t: Test, rule: OverrideRule, cases: Case[]): void {
  for (const [name, side, who, svc, endpoint, expected] of cases) {
    t.same(rule.parametersFor(side, who, svc, endpoint), expected, name);
    // explain agrees: some entry applied iff parameters are set
    const lines = rule.explainFor(side, who, svc, endpoint);
    t.equal(
      lines.some((line) => line.includes(': applied: ')),
      expected !== undefined,
      `${name}: explain agrees (${lines.join(' | ')})`,
    );
  }
}

t.test('OverrideConfiguratorTest: v2.7 consumer and provider overrides', async (t) => {
  const consumerRule = compile({
    configVersion: 'v2.7',
    scope: 'service',
    key: 'com.foo.BarService',
    configs: [{ side: 'consumer', applications: ['foo'], parameters: { timeout: 10000 } }],
  });
  const providerRule = compile({
    configVersion: 'v2.7',
    scope: 'service',
    key: 'com.foo.BarService',
    configs: [{ side: 'provider', addresses: ['172.24.160.179:21880'], applications: ['foo'], parameters: { weight: 200 } }],
  });
  const p = provider('172.24.160.179:21880', 'foo');
  table(t, consumerRule, [
    ['the consumer app foo, any host', 'consumer', consumer('foo', '172.24.160.179'), BAR, p, { timeout: '10000' }],
    ['another consumer app', 'consumer', consumer('bar'), BAR, p, undefined],
    ['an unknown consumer app', 'consumer', consumer(undefined), BAR, p, undefined],
    ['another service', 'consumer', consumer('foo'), service('com.foo.Other'), p, undefined],
    ['the same interface in a group is another service', 'consumer', consumer('foo'), service('com.foo.BarService', '', 'g1'), p, undefined],
    ['a consumer item is not for the provider', 'provider', consumer('foo'), BAR, p, undefined],
  ]);
  table(t, providerRule, [
    ['the provider at that address', 'provider', consumer(undefined), BAR, p, { weight: '200' }],
    ['the consumer is not looked at on the provider side', 'provider', consumer('x', '1.1.1.1'), BAR, p, { weight: '200' }],
    [
      'another port of that host (providerAddresses are the addresses)',
      'provider',
      consumer(undefined),
      BAR,
      provider('172.24.160.179:21881', 'foo'),
      undefined,
    ],
    ['another host', 'provider', consumer(undefined), BAR, provider('172.24.160.180:21880', 'foo'), undefined],
    ['applications are the provider\u2019s on the provider side', 'provider', consumer(undefined), BAR, provider('172.24.160.179:21880', 'bar'), undefined],
    ['a provider item is not for consumers', 'consumer', consumer('foo'), BAR, p, undefined],
  ]);
});

t.test('addresses and providerAddresses', async (t) => {
  const rule = (item: Record<string, unknown>) =>
    compile({ scope: 'service', key: 'com.foo.BarService', configs: [{ side: 'consumer', parameters: { timeout: 1 }, ...item }] });
  const p = provider('10.0.0.1:20880');
  const cases: Array<[Record<string, unknown>, OverrideConsumer, RuleEndpoint, boolean]> = [
    [{}, consumer('a'), p, true],
    [{ addresses: ['0.0.0.0'] }, consumer('a'), p, true],
    [{ addresses: ['10.9.9.9'] }, consumer('a', '10.9.9.9'), p, true],
    [{ addresses: ['10.9.9.9'] }, consumer('a', '10.9.9.8'), p, false],
    // the port of an address is not compared
    [{ addresses: ['10.9.9.9:1234'] }, consumer('a', '10.9.9.9'), p, true],
    // no CIDR or wildcard for override addresses
    [{ addresses: ['10.9.9.0/24'] }, consumer('a', '10.9.9.9'), p, false],
    [{ addresses: ['10.1.1.1', '10.9.9.9'] }, consumer('a', '10.9.9.9'), p, true],
    [{ providerAddresses: ['10.0.0.1:20880'] }, consumer('a'), p, true],
    [{ providerAddresses: ['10.0.0.1:20881'] }, consumer('a'), p, false],
    [{ providerAddresses: ['10.0.0.1'] }, consumer('a'), p, true],
    [{ providerAddresses: ['0.0.0.0'] }, consumer('a'), p, true],
    [{ providerAddresses: ['0.0.0.0:*'] }, consumer('a'), p, true],
    [{ providerAddresses: ['0.0.0.0:20880'] }, consumer('a'), p, true],
    [{ providerAddresses: ['0.0.0.0:20881'] }, consumer('a'), p, false],
    [{ providerAddresses: ['10.0.0.2:20880', '0.0.0.0:20880'] }, consumer('a'), p, true],
  ];
  for (const [item, who, endpoint, applies] of cases) {
    t.equal(rule(item).parametersFor('consumer', who, BAR, endpoint) !== undefined, applies, `${JSON.stringify(item)} seen by ${who.host}`);
  }
  const providerSide = (item: Record<string, unknown>) =>
    compile({ scope: 'service', key: 'com.foo.BarService', configs: [{ side: 'provider', parameters: { weight: 1 }, ...item }] });
  t.ok(providerSide({ addresses: ['10.0.0.1'] }).parametersFor('provider', consumer(undefined), BAR, p), 'provider host');
  t.notOk(providerSide({ addresses: ['10.0.0.2'] }).parametersFor('provider', consumer(undefined), BAR, p), 'another provider host');
  t.ok(
    providerSide({ addresses: ['10.0.0.1'], providerAddresses: ['0.0.0.0'] }).parametersFor('provider', consumer(undefined), BAR, p),
    'providerAddresses given',
  );
});

t.test('scope: service keys and application keys (ConfigParserTest)', async (t) => {
  // ServiceGroupVersion.yml, with a side: Dubbo reads the key as group/interface:version.
  const grouped = compile({
    configVersion: 'v2.7',
    scope: 'service',
    key: 'testgroup/servicekey:1.0.0',
    configs: [{ side: 'provider', addresses: ['127.0.0.1:20880'], parameters: { weight: 222 } }],
  });
  const p = provider('127.0.0.1:20880');
  t.same(grouped.parametersFor('provider', consumer(undefined), service('servicekey', '1.0.0', 'testgroup'), p), { weight: '222' });
  t.equal(grouped.parametersFor('provider', consumer(undefined), service('servicekey', '1.0.0'), p), undefined);
  // The mesh's canonical key interface:version:group names the same service.
  const canonical = compile({ scope: 'service', key: 'servicekey:1.0.0:testgroup', configs: [{ side: 'provider', parameters: { weight: 222 } }] });
  t.same(canonical.parametersFor('provider', consumer(undefined), service('servicekey', '1.0.0', 'testgroup'), p), { weight: '222' });
  t.equal(canonical.parametersFor('provider', consumer(undefined), service('servicekey', '1.0.1', 'testgroup'), p), undefined);
  // AppMultiServices.yml (with a side): the key is the consumer application; services limit it.
  const app = compile(
    parse(`
configVersion: v2.7
scope: application
key: demo-consumer
configs:
- addresses: [127.0.0.1, 0.0.0.0]
  services: ['service1', 'g/service2:2.0']
  side: consumer
  parameters:
    loadbalance: random
    cluster: failfast
    timeout: 6666
`),
  );
  const expected = { loadbalance: 'random', cluster: 'failfast', timeout: '6666' };
  table(t, app, [
    ['service1 from any host', 'consumer', consumer('demo-consumer', '1.2.3.4'), service('service1'), p, expected],
    ['service2 in group g, version 2.0', 'consumer', consumer('demo-consumer'), service('service2', '2.0', 'g'), p, expected],
    ['service2 without its group', 'consumer', consumer('demo-consumer'), service('service2', '2.0'), p, undefined],
    ['service3', 'consumer', consumer('demo-consumer'), service('service3'), p, undefined],
    ['another consumer application', 'consumer', consumer('other'), service('service1'), p, undefined],
  ]);
  // AppNoService.yml: no services is every service; side provider: the key is the provider application.
  const providerApp = compile({ scope: 'application', key: 'demo-provider', configs: [{ side: 'provider', parameters: { weight: 5 } }] });
  table(t, providerApp, [
    ['any service of the provider app', 'provider', consumer(undefined), service('x.Y', '1', 'g'), p, { weight: '5' }],
    ['another provider app', 'provider', consumer(undefined), BAR, provider('127.0.0.1:20880', 'other'), undefined],
  ]);
  t.equal(dubboServiceKey(service('com.Foo', '1.0.0', 'g1')), 'g1/com.Foo:1.0.0');
  t.equal(dubboServiceKey(service('com.Foo')), 'com.Foo');
});

t.test('order: 0.0.0.0 first, then a specific host; then priority; then as written', async (t) => {
  const rule = compile({
    scope: 'service',
    key: 'com.foo.BarService',
    configs: [
      { side: 'consumer', addresses: ['10.9.9.9'], parameters: { timeout: 200 } },
      { side: 'consumer', addresses: ['0.0.0.0'], parameters: { timeout: 100, retries: 1 } },
      { side: 'consumer', parameters: { loadbalance: 'roundrobin', priority: 5 } },
      { side: 'consumer', parameters: { loadbalance: 'leastactive' } },
      { side: 'consumer', parameters: { retries: 3 } },
    ],
  });
  const p = provider('10.0.0.1:20880');
  t.same(rule.parametersFor('consumer', consumer('a', '10.9.9.9'), BAR, p), { timeout: '200', retries: '3', loadbalance: 'roundrobin', priority: '5' });
  t.same(rule.parametersFor('consumer', consumer('a', '10.9.9.8'), BAR, p), { timeout: '100', retries: '3', loadbalance: 'roundrobin', priority: '5' });
  t.same(rule.explainFor('consumer', consumer('a', '10.9.9.8'), BAR, p), [
    'configs[1] (address 0.0.0.0): applied: sets timeout=100, retries=1',
    'configs[3] (address 0.0.0.0): applied: sets loadbalance=leastactive',
    'configs[4] (address 0.0.0.0): applied: sets retries=3',
    'configs[2] (address 0.0.0.0): applied: sets loadbalance=roundrobin, priority=5',
    'configs[0] (address 10.9.9.9): not applied: the consumer host 10.9.9.8 is not 10.9.9.9',
  ]);
});

t.test('enabled, as Dubbo\u2019s ConfigParser.parseEnabled', async (t) => {
  const p = provider('10.0.0.1:20880');
  const doc = (enabled: boolean, item: Record<string, unknown>) =>
    compile({ scope: 'service', key: 'com.foo.BarService', enabled, configs: [{ side: 'consumer', parameters: { weight: 7 }, ...item }] });
  const cases: Array<[boolean, Record<string, unknown>, boolean]> = [
    [true, {}, true],
    [false, {}, false],
    // An item's enabled counts only when its type is not general.
    [true, { enabled: false }, true],
    [true, { type: 'general', enabled: false }, true],
    [false, { enabled: true }, false],
    [true, { type: 'weight', enabled: false }, false],
    [false, { type: 'weight', enabled: true }, true],
    // A typed item without enabled is off (Dubbo writes enabled=null).
    [true, { type: 'balancing' }, false],
  ];
  for (const [enabled, item, applies] of cases)
    t.equal(doc(enabled, item).parametersFor('consumer', consumer('a'), BAR, p) !== undefined, applies, `document ${enabled}, item ${JSON.stringify(item)}`);
  t.same(doc(false, {}).explainFor('consumer', consumer('a'), BAR, p), ['configs[0] (address 0.0.0.0): not applied: disabled']);
});

t.test('parameters: Dubbo URL parameters as text, less the condition keys', async (t) => {
  const p = provider('10.0.0.1:20880', 'demo-provider', { region: 'eu' });
  const rule = compile({
    scope: 'service',
    key: 'com.foo.BarService',
    configs: [
      {
        side: 'consumer',
        parameters: {
          timeout: 200,
          disabled: true,
          weight: 1.5,
          group: 'g',
          version: '2',
          application: 'x',
          side: 'provider',
          enabled: 'false',
          category: 'c',
          configVersion: 'v',
          dynamic: 'd',
          check: 'c',
          compatible_config: 'x',
          interfaces: 'i',
        },
      },
    ],
  });
  const result = rule.parametersFor('consumer', consumer('a'), BAR, p);
  t.same(result, { timeout: '200', disabled: 'true', weight: '1.5' });
  t.ok(Object.isFrozen(result));
  // v2.7 ~key parameters are conditions on the URL's parameter, not settings.
  const tilde = (configVersion: string) =>
    compile({ configVersion, scope: 'service', key: 'com.foo.BarService', configs: [{ side: 'provider', parameters: { '~region': 'eu', weight: 50 } }] });
  t.same(tilde('v2.7').parametersFor('provider', consumer(undefined), BAR, p), { weight: '50' });
  t.equal(tilde('v2.7').parametersFor('provider', consumer(undefined), BAR, provider('10.0.0.1:20880', 'demo-provider', { region: 'us' })), undefined);
  t.same(tilde('v3.0').parametersFor('provider', consumer(undefined), BAR, p), { '~region': 'eu', weight: '50' });
  const star = compile({
    configVersion: 'v2.7',
    scope: 'service',
    key: 'com.foo.BarService',
    configs: [{ side: 'provider', parameters: { '~region': '*', weight: 50 } }],
  });
  t.same(star.parametersFor('provider', consumer(undefined), BAR, provider('10.0.0.1:20880')), { weight: '50' });
});

t.test('v3.0 match (ConditionMatch)', async (t) => {
  const rule = (match: Record<string, unknown>, side: Side = 'consumer', configVersion = 'v3.0') =>
    compile({
      configVersion,
      scope: 'application',
      key: side === 'consumer' ? 'shop-web' : 'demo-provider',
      configs: [{ side, match, parameters: { timeout: 1 } }],
    });
  const p = provider('10.0.0.1:20880', 'demo-provider', { match_key1: 'value1' });
  const web = consumer('shop-web', '192.168.1.7');
  const cases: Array<[Record<string, unknown>, Side, boolean]> = [
    [{ param: [{ key: 'match_key1', value: { exact: 'value1' } }] }, 'consumer', true],
    [{ param: [{ key: 'match_key1', value: { exact: 'not_match_value' } }] }, 'consumer', false],
    [{ param: [{ key: 'application', value: { exact: 'shop-web' } }] }, 'consumer', true],
    [{ param: [{ key: 'application', value: { exact: 'demo-provider' } }] }, 'provider', true],
    [{ address: { cird: '192.168.1.0/24' } }, 'consumer', true],
    [{ address: { cird: '192.168.2.0/24' } }, 'consumer', false],
    [{ address: { exact: '10.0.0.1' } }, 'provider', true],
    // Dubbo matches match.address against the host, without the port (ConfiguratorV3.yml's wildcard "10.0.0.1:20880" never holds in configure()).
    [{ address: { wildcard: '10.0.0.1:20880' } }, 'provider', false],
    [{ address: { wildcard: '10.0.0.*' } }, 'provider', true],
    [{ providerAddress: { wildcard: '10.0.0.1:*' } }, 'consumer', true],
    [{ providerAddress: { exact: '10.0.0.1:20881' } }, 'consumer', false],
    [{ providerAddress: { cird: '10.0.0.0/8' } }, 'consumer', false],
    [{ service: { oneof: [{ exact: 'DemoService' }, { exact: 'com.foo.BarService' }] } }, 'consumer', true],
    [{ service: { oneof: [{ prefix: 'com.foo.Baz' }] } }, 'consumer', false],
    [{ app: { oneof: [{ exact: 'shop-web' }] } }, 'consumer', true],
    [{ app: { oneof: [{ exact: 'shop-web' }] } }, 'provider', false],
    [{ app: { oneof: [{ exact: 'demo-provider' }] } }, 'provider', true],
    [{ service: { oneof: [{ exact: 'com.foo.BarService' }] }, param: [{ key: 'match_key1', value: { exact: 'other' } }] }, 'consumer', false],
  ];
  for (const [match, side, applies] of cases)
    t.equal(rule(match, side).parametersFor(side, web, BAR, p) !== undefined, applies, `${side} ${JSON.stringify(match)}`);
  t.ok(
    rule({ param: [{ key: 'match_key1', value: { exact: 'nope' } }] }, 'consumer', 'v2.7').parametersFor('consumer', web, BAR, p),
    'v2.7 does not read match',
  );
  t.same(rule({ param: [{ key: 'match_key1', value: { exact: 'nope' } }] }).explainFor('consumer', web, BAR, p), [
    'configs[0] (address 0.0.0.0): not applied: match.param: match_key1 "value1", not exact "nope"',
  ]);
  // ConfiguratorV3Compatibility.yml: addresses, services and match together.
  const compat = compile(
    parse(`
configVersion: v3.0
scope: application
key: demo-provider
configs:
  - addresses:
      - "10.0.0.1:20880"
    services:
      - "DemoService"
    match:
      param:
        - key: match_key1
          value:
            exact: value1
    side: provider
    parameters:
      weight: 200
`),
  );
  const demo = service('DemoService');
  table(t, compat, [
    ['matches', 'provider', consumer(undefined), demo, p, { weight: '200' }],
    ['param does not match', 'provider', consumer(undefined), demo, provider('10.0.0.1:20880', 'demo-provider', { match_key1: 'value_not_match' }), undefined],
    ['another service', 'provider', consumer(undefined), service('DemoService2'), p, undefined],
  ]);
});

t.test('documentation examples', async (t) => {
  // Disable a provider (Dubbo docs: configuration rules, "disable provider").
  const disable = compile(
    parse(`
configVersion: v2.7
scope: service
key: org.apache.dubbo.demo.DemoService
enabled: true
configs:
- addresses: [10.20.153.10:20880]
  side: provider
  parameters:
    disabled: true
`),
  );
  const demo = service('org.apache.dubbo.demo.DemoService');
  t.same(disable.parametersFor('provider', consumer(undefined), demo, provider('10.20.153.10:20880')), { disabled: 'true' });
  t.equal(disable.parametersFor('provider', consumer(undefined), demo, provider('10.20.153.11:20880')), undefined);
  // Change a provider's weight.
  const weight = compile(
    parse(`
configVersion: v2.7
scope: service
key: org.apache.dubbo.samples.governance.api.DemoService
enabled: true
configs:
- addresses: [192.168.0.1:20880]
  side: provider
  parameters:
    weight: 200
`),
  );
  const samples = service('org.apache.dubbo.samples.governance.api.DemoService');
  t.same(weight.parametersFor('provider', consumer(undefined), samples, provider('192.168.0.1:20880')), { weight: '200' });
  t.equal(weight.parametersFor('provider', consumer(undefined), samples, provider('192.168.0.2:20880')), undefined);
  // A timeout for one consumer, by its address.
  const timeout = compile(
    parse(`
configVersion: v2.7
scope: service
key: org.apache.dubbo.demo.DemoService
configs:
- addresses: [10.20.153.11]
  side: consumer
  parameters:
    timeout: 6000
`),
  );
  const p = provider('10.20.153.10:20880');
  t.same(timeout.parametersFor('consumer', consumer('any', '10.20.153.11'), demo, p), { timeout: '6000' });
  t.equal(timeout.parametersFor('consumer', consumer('any', '10.20.153.12'), demo, p), undefined);
  // A timeout for one consumer application, for every service it calls.
  const appTimeout = compile({
    configVersion: 'v3.0',
    scope: 'application',
    key: 'shop-web',
    enabled: true,
    configs: [{ side: 'consumer', parameters: { timeout: 2000 } }],
  });
  t.same(appTimeout.parametersFor('consumer', consumer('shop-web'), demo, p), { timeout: '2000' });
  t.equal(appTimeout.parametersFor('consumer', consumer('shop-admin'), demo, p), undefined);
});

t.test('override rules are a registered kind: the configs field marks them', async (t) => {
  const context = new CheckContext();
  const document = ruleDocumentNode.check(
    { configVersion: 'v2.7', scope: 'service', key: 'com.foo.BarService', configs: [{ side: 'consumer', parameters: { timeout: 1 } }] },
    context,
  );
  t.same(context.issues, []);
  t.match(document, { kind: 'override', key: 'com.foo.BarService::' });
  const rule = compileRule(document!) as OverrideRule;
  t.equal(rule.kind, 'override');
  t.same(rule.parametersFor('consumer', consumer('a'), BAR, provider('1.1.1.1:1')), { timeout: '1' });
});
