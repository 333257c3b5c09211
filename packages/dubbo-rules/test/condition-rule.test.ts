import t from 'tap';
import { CheckContext, formatPath } from '@dubbo-mesh/schema';
import {
  compileConditionRule,
  conditionRuleNode,
  type ConditionRuleOptions,
  type NarrowingRule,
  type RuleCall,
  type RuleEndpoint,
} from '@dubbo-mesh/dubbo-rules';

/** A provider as the proxy might hold it: the rule sees it through `view`. */
interface Member {
  readonly id: string;
  readonly endpoint: RuleEndpoint;
}

/** A member `id` at `host:port` with labels (`application` label: its application, else `provider-app`). */
function member(id: string, host: string, port: number, labels: Record<string, string> = {}): Member {
  return { id, endpoint: { host, port, address: `${host}:${port}`, application: labels.application ?? 'provider-app', labels } };
}

/** What the call carries, with counters of what the rule read. */
interface TestCall extends RuleCall {
  readonly reads: { arguments: number; attachments: number };
}

/** A call; `args` are the arguments as text (`undefined`: not decodable), `attachments` by name. */
function call(
  fields: Partial<Omit<RuleCall, 'attachment' | 'argument'>> & { args?: (string | undefined)[]; attachments?: Record<string, string> } = {},
): TestCall {
  const reads = { arguments: 0, attachments: 0 };
  const args = fields.args ?? [];
  const attachments = fields.attachments ?? {};
  return {
    interface: fields.interface ?? 'org.example.UserService',
    group: fields.group ?? '',
    version: fields.version ?? '',
    method: fields.method ?? 'getUser',
    consumerApplication: 'consumerApplication' in fields ? fields.consumerApplication : 'consumer-app',
    consumerHost: fields.consumerHost ?? '192.168.0.1',
    reads,
    attachment(name) {
      reads.attachments += 1;
      return Object.hasOwn(attachments, name) ? attachments[name] : undefined;
    },
    argument(index) {
      reads.arguments += 1;
      return args[index];
    },
  };
}

/** A checked condition rule document (fails loudly when the test wrote an invalid one). */
function document(fields: Record<string, unknown>) {
  const context = new CheckContext();
  const checked = conditionRuleNode.check({ configVersion: 'v3.0', scope: 'service', key: 'org.example.UserService', ...fields }, context);
  if (checked === undefined || context.issues.length > 0) throw new Error(context.issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join('\n'));
  return checked;
}

/** A compiled rule from its conditions and other document fields. */
function rule(conditions: unknown[], fields: Record<string, unknown> = {}, options: ConditionRuleOptions = {}): NarrowingRule {
  return compileConditionRule(document({ conditions, ...fields }), options);
}

/** A view that counts its calls. */
function countingView(): { view: (m: Member) => RuleEndpoint; count: () => number } {
  let count = 0;
  return {
    view: (m) => {
      count += 1;
      return m.endpoint;
    },
    count: () => count,
  };
}

// Providers as in Dubbo's own router tests: one elsewhere with parameters, two on the local host.
const e1 = member('e1', '10.20.3.3', 20880, { serialization: 'fastjson', region: 'hangzhou', application: 'p1' });
const e2 = member('e2', '127.0.0.1', 20880);
const e3 = member('e3', '127.0.0.1', 20881, { protocol: 'tri', zone: 'aba' });
const all = [e1, e2, e3];

type Effect = ReturnType<typeof narrow>['effect'];

function narrow(r: NarrowingRule, c: RuleCall, candidates: readonly Member[] = all) {
  const out = { effect: 'disabled' as import('@dubbo-mesh/dubbo-rules').RuleEffect };
  const kept = r.narrow(c, candidates, (m) => m.endpoint, out);
  return { ids: kept.map((m) => m.id), effect: out.effect, kept };
}

interface Case {
  readonly name: string;
  readonly conditions: unknown[];
  readonly fields?: Record<string, unknown>;
  readonly call?: Parameters<typeof call>[0];
  readonly candidates?: readonly Member[];
  readonly ids: string[];
  readonly effect: Effect;
}

const force = { force: true };
const local = { consumerHost: '127.0.0.1' };

const cases: Case[] = [
  // when-part: empty or true holds for every call; host lists, != and globs (ConditionStateRouterTest.testRoute_matchWhen)
  { name: 'empty when-part', conditions: ['=> host = 127.0.0.1'], ids: ['e2', 'e3'], effect: 'narrowed' },
  { name: 'when-part true', conditions: ['true => host = 127.0.0.1'], ids: ['e2', 'e3'], effect: 'narrowed' },
  { name: 'no => at all: the whole text is the then-part', conditions: ['host = 127.0.0.1'], ids: ['e2', 'e3'], effect: 'narrowed' },
  {
    name: 'consumer host in a list',
    conditions: ['host = 2.2.2.2,1.1.1.1,3.3.3.3 => host = 10.20.3.3'],
    call: { consumerHost: '1.1.1.1' },
    ids: ['e1'],
    effect: 'narrowed',
  },
  {
    name: '= and != on one key: != wins',
    conditions: ['host = 2.2.2.2,1.1.1.1 & host != 1.1.1.1 => host = 10.20.3.3'],
    call: { consumerHost: '1.1.1.1' },
    ids: ['e1', 'e2', 'e3'],
    effect: 'not-matched',
  },
  {
    name: '!= glob that does not match, = that does',
    conditions: ['host != 4.4.4.* & host = 2.2.2.2,1.1.1.1 => host = 10.20.3.3'],
    call: { consumerHost: '1.1.1.1' },
    ids: ['e1'],
    effect: 'narrowed',
  },
  {
    name: '= glob, != exact',
    conditions: ['host = 1.1.1.* & host != 1.1.1.1 => host = 10.20.3.3'],
    call: { consumerHost: '1.1.1.1' },
    ids: ['e1', 'e2', 'e3'],
    effect: 'not-matched',
  },
  {
    name: '= glob, != another',
    conditions: ['host = 1.1.1.* & host != 1.1.1.2 => host = 10.20.3.3'],
    call: { consumerHost: '1.1.1.1' },
    ids: ['e1'],
    effect: 'narrowed',
  },
  // then-part filters (testRoute_matchFilter)
  { name: 'then = glob & != exact, force', conditions: ['=> host = 10.20.3.* & host != 10.20.3.3'], fields: force, ids: [], effect: 'forced-empty' },
  { name: 'then = and != the same value, force', conditions: ['=> host = 10.20.3.3 & host != 10.20.3.3'], fields: force, ids: [], effect: 'forced-empty' },
  { name: 'then value list', conditions: ['=> host = 10.20.3.2,10.20.3.3,10.20.3.4'], ids: ['e1'], effect: 'narrowed' },
  { name: 'then !=', conditions: ['=> host != 10.20.3.3'], ids: ['e2', 'e3'], effect: 'narrowed' },
  { name: 'then on a provider parameter (label)', conditions: ['=> serialization = fastjson'], ids: ['e1'], effect: 'narrowed' },
  { name: 'then keeps all: the same array', conditions: ['=> host = *'], ids: ['e1', 'e2', 'e3'], effect: 'kept-all' },
  // methods (testRoute_methodRoute): `method` and `methods` are the invoked method
  { name: 'methods = the invoked method', conditions: ['methods = getFoo => host = 10.20.3.3'], call: { method: 'getFoo' }, ids: ['e1'], effect: 'narrowed' },
  {
    name: 'method and host together',
    conditions: ['host = 127.0.0.1 & method = getFoo => host = 10.20.3.3'],
    call: { method: 'getFoo', ...local },
    ids: ['e1'],
    effect: 'narrowed',
  },
  {
    name: 'another method: not matched',
    conditions: ['method = getFoo => host = 10.20.3.3'],
    call: { method: 'setFoo' },
    ids: ['e1', 'e2', 'e3'],
    effect: 'not-matched',
  },
  // blacklists (testRoute_ReturnFalse / ReturnEmpty)
  { name: 'then false: blacklist', conditions: ['host = 127.0.0.1 => false'], call: local, ids: [], effect: 'blacklisted' },
  { name: 'then blank: blacklist', conditions: ['host = 127.0.0.1 => '], call: local, ids: [], effect: 'blacklisted' },
  { name: 'blacklist, force false: still no provider', conditions: ['=> false'], fields: { force: false }, ids: [], effect: 'blacklisted' },
  { name: 'blacklist whose when-part does not hold', conditions: ['host = 9.9.9.9 => false'], ids: ['e1', 'e2', 'e3'], effect: 'not-matched' },
  { name: 'the condition false: a blacklist for every call', conditions: [false], ids: [], effect: 'blacklisted' },
  // $param: the consumer's value (testRoute_Placeholder)
  { name: '$host: local providers', conditions: ['=> host = $host'], call: local, ids: ['e2', 'e3'], effect: 'narrowed' },
  { name: '$host: another consumer host', conditions: ['=> host = $host'], call: { consumerHost: '10.20.3.3' }, ids: ['e1'], effect: 'narrowed' },
  { name: '$application', conditions: ['=> application = $application'], call: { consumerApplication: 'p1' }, ids: ['e1'], effect: 'narrowed' },
  { name: '$key the consumer does not have: matches no non-empty value', conditions: ['=> region = $region'], fields: force, ids: [], effect: 'forced-empty' },
  { name: '$host in a when-part is literal text', conditions: ['host = $host => host = 10.20.3.3'], ids: ['e1', 'e2', 'e3'], effect: 'not-matched' },
  // force (testRoute_NoForce / testRoute_Force)
  { name: 'nothing left, force false: ignored', conditions: ['host = 127.0.0.1 => host = 1.2.3.4'], call: local, ids: ['e1', 'e2', 'e3'], effect: 'ignored' },
  {
    name: 'nothing left, force true: no provider',
    conditions: ['host = 127.0.0.1 => host = 1.2.3.4'],
    call: local,
    fields: force,
    ids: [],
    effect: 'forced-empty',
  },
  { name: 'force as text', conditions: ['=> host = 1.2.3.4'], fields: { force: 'true' }, ids: [], effect: 'forced-empty' },
  // arguments (testRoute_Arguments)
  {
    name: 'arguments[0] null is the text "null"',
    conditions: ['arguments[0] = a => host = 1.2.3.4'],
    fields: force,
    call: { args: ['null'] },
    ids: ['e1', 'e2', 'e3'],
    effect: 'not-matched',
  },
  { name: 'arguments[0] = a', conditions: ['arguments[0] = a => host = 1.2.3.4'], fields: force, call: { args: ['a'] }, ids: [], effect: 'forced-empty' },
  {
    name: 'arguments without index never =',
    conditions: ['arguments = b => host = 1.2.3.4'],
    fields: force,
    call: { args: ['b'] },
    ids: ['e1', 'e2', 'e3'],
    effect: 'not-matched',
  },
  {
    name: 'a missing argument never =',
    conditions: ['arguments[10].inner = a => host = 1.2.3.4'],
    fields: force,
    call: { args: ['a'] },
    ids: ['e1', 'e2', 'e3'],
    effect: 'not-matched',
  },
  {
    name: 'arguments[0].inner reads argument 0',
    conditions: ['arguments[0].inner = 1 => host = 1.2.3.4'],
    fields: force,
    call: { args: ['1'] },
    ids: [],
    effect: 'forced-empty',
  },
  {
    name: 'a missing argument holds for != (Dubbo reads it as "not found")',
    conditions: ['arguments[1] != x => host = 10.20.3.3'],
    call: { args: ['x'] },
    ids: ['e1'],
    effect: 'narrowed',
  },
  { name: 'an argument range', conditions: ['arguments[0] = 1~100 => region = hangzhou'], call: { args: ['42'] }, ids: ['e1'], effect: 'narrowed' },
  // attachments (testRoute_Attachments)
  { name: 'attachment absent', conditions: ['attachments[foo] = a => host = 1.2.3.4'], fields: force, ids: ['e1', 'e2', 'e3'], effect: 'not-matched' },
  {
    name: 'attachment = a',
    conditions: ['attachments[foo] = a => host = 1.2.3.4'],
    fields: force,
    call: { attachments: { foo: 'a' } },
    ids: [],
    effect: 'forced-empty',
  },
  {
    name: 'attachments without key',
    conditions: ['attachments = a => host = 1.2.3.4'],
    fields: force,
    call: { attachments: { foo: 'a' } },
    ids: ['e1', 'e2', 'e3'],
    effect: 'not-matched',
  },
  {
    name: 'attachment routes to a region',
    conditions: ['attachments[foo] = a => region = hangzhou'],
    call: { attachments: { foo: 'a' } },
    ids: ['e1'],
    effect: 'narrowed',
  },
  {
    name: 'attachment absent: != does not hold either',
    conditions: ['attachments[foo] != a => region = hangzhou'],
    ids: ['e1', 'e2', 'e3'],
    effect: 'not-matched',
  },
  // ranges (testRoute_Range_Pattern)
  {
    name: 'range 1~100 holds for 80',
    conditions: ['attachments[user_id] = 1~100 => region=hangzhou'],
    call: { attachments: { user_id: '80' } },
    ids: ['e1'],
    effect: 'narrowed',
  },
  {
    name: 'range 1~100 fails for 101',
    conditions: ['attachments[user_id] = 1~100 => region=hangzhou'],
    call: { attachments: { user_id: '101' } },
    ids: ['e1', 'e2', 'e3'],
    effect: 'not-matched',
  },
  {
    name: 'range ~100 holds for 1',
    conditions: ['attachments[user_id] = ~100 => region=hangzhou'],
    call: { attachments: { user_id: '1' } },
    ids: ['e1'],
    effect: 'narrowed',
  },
  {
    name: 'range ~100 fails for 101',
    conditions: ['attachments[user_id] = ~100 => region=hangzhou'],
    call: { attachments: { user_id: '101' } },
    ids: ['e1', 'e2', 'e3'],
    effect: 'not-matched',
  },
  {
    name: 'range 1~ is malformed (Java split): false in a when-part',
    conditions: ['attachments[user_id] = 1~ => region=hangzhou'],
    call: { attachments: { user_id: '5' } },
    ids: ['e1', 'e2', 'e3'],
    effect: 'not-matched',
  },
  {
    name: 'a value that is no number counts as 0',
    conditions: ['attachments[user_id] = 0~5 => region=hangzhou'],
    call: { attachments: { user_id: 'abc' } },
    ids: ['e1'],
    effect: 'narrowed',
  },
  {
    name: 'a number too big for an int: false in a when-part',
    conditions: ['attachments[user_id] = 1~100 => region=hangzhou'],
    call: { attachments: { user_id: '99999999999' } },
    ids: ['e1', 'e2', 'e3'],
    effect: 'not-matched',
  },
  { name: 'then-part port range', conditions: ['=> port = 20000~20880'], ids: ['e1', 'e2'], effect: 'narrowed' },
  { name: 'a malformed range is true in a then-part', conditions: ['=> port = 5~'], ids: ['e1', 'e2', 'e3'], effect: 'kept-all' },
  // missing keys (testRoute_Key_Not_Exist): a missing value never matches, for = and for !=
  { name: 'then key no endpoint has, force', conditions: ['=> not_exist_then_key = any_value'], fields: force, ids: [], effect: 'forced-empty' },
  { name: 'when key the call does not have', conditions: ['not_exist_when_key = a => host = 10.20.3.3'], ids: ['e1', 'e2', 'e3'], effect: 'not-matched' },
  { name: 'then != on a key only e1 has: only e1 can pass', conditions: ['=> region != beijing'], ids: ['e1'], effect: 'narrowed' },
  { name: 'then != on a missing key, force false: ignored', conditions: ['=> rack != r1'], ids: ['e1', 'e2', 'e3'], effect: 'ignored' },
  // several keys (testRoute_Multiple_Conditions)
  {
    name: 'application and argument hold',
    conditions: ['application = consumer_app & arguments[0] = a => host = 127.0.0.1'],
    fields: force,
    call: { consumerApplication: 'consumer_app', args: ['a'] },
    ids: ['e2', 'e3'],
    effect: 'narrowed',
  },
  {
    name: 'application does not hold',
    conditions: ['application = consumer_app & arguments[0] = a => host = 127.0.0.1'],
    fields: force,
    call: { consumerApplication: 'another', args: ['a'] },
    ids: ['e1', 'e2', 'e3'],
    effect: 'not-matched',
  },
  {
    name: 'no consumer application: application != x does not hold',
    conditions: ['application != x => host = 127.0.0.1'],
    call: { consumerApplication: undefined },
    ids: ['e1', 'e2', 'e3'],
    effect: 'not-matched',
  },
  {
    name: 'interface, group, version',
    conditions: ['interface = org.example.* & group = g1 & version = 1.0.0 => port = 20881'],
    call: { group: 'g1', version: '1.0.0' },
    ids: ['e3'],
    effect: 'narrowed',
  },
  { name: 'no group: group != g1 does not hold', conditions: ['group != g1 => port = 20881'], ids: ['e1', 'e2', 'e3'], effect: 'not-matched' },
  // endpoint keys
  { name: 'address glob', conditions: ['=> address = *:20881'], ids: ['e3'], effect: 'narrowed' },
  { name: 'port', conditions: ['=> port = 20880'], ids: ['e1', 'e2'], effect: 'narrowed' },
  { name: 'protocol: label, else dubbo', conditions: ['=> protocol = dubbo'], ids: ['e1', 'e2'], effect: 'narrowed' },
  { name: 'endpoint application: label, else its service', conditions: ['=> application = provider-app'], ids: ['e2', 'e3'], effect: 'narrowed' },
  // Dubbo's text rules
  {
    name: 'consumer. and provider. prefixes are dropped',
    conditions: ['consumer.host = 127.0.0.1 => provider.host = 10.20.3.3'],
    call: local,
    ids: ['e1'],
    effect: 'narrowed',
  },
  {
    name: 'blanks separate keys as & does',
    conditions: ['method = getUser host = 127.0.0.1 => host = 10.20.3.3'],
    call: local,
    ids: ['e1'],
    effect: 'narrowed',
  },
  { name: 'only the last * is a wildcard', conditions: ['=> zone = a*a*'], fields: force, ids: [], effect: 'forced-empty' },
  { name: 'a glob prefix and suffix may overlap', conditions: ['=> zone = ab*ba'], ids: ['e3'], effect: 'narrowed' },
  {
    name: 'a comma after a new key continues the previous values',
    conditions: ['host = 127.0.0.1 & method = x & host, y => host = 10.20.3.3'],
    call: { ...local, method: 'y' },
    ids: ['e1'],
    effect: 'narrowed',
  },
  // sequence, enabled, empty input
  { name: 'conditions narrow in sequence', conditions: ['=> host = 127.0.0.1', '=> port = 20881'], ids: ['e3'], effect: 'narrowed' },
  {
    name: 'a later condition ignored: the strongest effect is reported',
    conditions: ['=> host = 127.0.0.1', '=> host = 1.2.3.4'],
    ids: ['e2', 'e3'],
    effect: 'ignored',
  },
  { name: 'after a blacklist nothing runs', conditions: ['=> false', '=> host = *'], ids: [], effect: 'blacklisted' },
  { name: 'forced empty, then nothing runs', conditions: ['=> host = 1.2.3.4', '=> host = *'], fields: force, ids: [], effect: 'forced-empty' },
  {
    name: 'a condition that does not hold, then one that keeps all',
    conditions: ['method = x => false', '=> host = *'],
    ids: ['e1', 'e2', 'e3'],
    effect: 'kept-all',
  },
  { name: 'enabled false', conditions: ['=> false'], fields: { enabled: false }, ids: ['e1', 'e2', 'e3'], effect: 'disabled' },
  { name: 'valid false', conditions: ['=> false'], fields: { valid: false }, ids: ['e1', 'e2', 'e3'], effect: 'disabled' },
  { name: 'no candidates', conditions: ['=> false'], candidates: [], ids: [], effect: 'not-matched' },
];

t.test('condition rules narrow as Dubbo 3.3 routes', async (t) => {
  for (const c of cases) {
    const r = rule(c.conditions, c.fields);
    const candidates = c.candidates ?? all;
    const got = narrow(r, call(c.call), candidates);
    t.same({ ids: got.ids, effect: got.effect }, { ids: c.ids, effect: c.effect }, c.name);
    if (['not-matched', 'ignored', 'disabled', 'kept-all'].includes(c.effect) && c.conditions.length === 1)
      t.equal(got.kept, candidates, `${c.name}: the candidates array itself`);
    // explain tells the same story as narrow
    const explained = r.explain(call(c.call), candidates, (m) => m.endpoint);
    t.same({ ids: explained.kept.map((m) => m.id), effect: explained.effect }, { ids: c.ids, effect: c.effect }, `${c.name}: explain`);
  }
});

t.test("Dubbo's documentation examples", async (t) => {
  const hosts = ['172.22.3.91', '172.22.3.94', '172.22.3.95', '172.22.3.97'].map((h, i) => member(`h${i}`, h, 20880));
  const run = (r: NarrowingRule, c: Parameters<typeof call>[0] = {}) => narrow(r, call(c), hosts).kept.map((m) => m.endpoint.host);

  const prerelease = rule(['=> host != 172.22.3.91']);
  t.same(run(prerelease), ['172.22.3.94', '172.22.3.95', '172.22.3.97'], 'exclude a pre-release host');

  const whitelist = rule(['host != 10.20.153.10,10.20.153.11 =>']);
  t.same(
    run(whitelist, { consumerHost: '10.20.153.10' }),
    hosts.map((m) => m.endpoint.host),
    'whitelist: a listed consumer reaches the providers',
  );
  t.same(run(whitelist, { consumerHost: '10.20.153.99' }), [], 'whitelist: any other consumer reaches none');

  const blacklist = rule(['host = 10.20.153.10,10.20.153.11 =>']);
  t.same(run(blacklist, { consumerHost: '10.20.153.11' }), [], 'blacklist: a listed consumer reaches none');
  t.same(run(blacklist, { consumerHost: '10.20.153.12' }).length, 4, 'blacklist: others are untouched');

  const readWrite = rule(['method = find*,list*,get*,is* => host = 172.22.3.94,172.22.3.95', 'method != find*,list*,get*,is* => host = 172.22.3.97'], force);
  for (const method of ['findUser', 'listUsers', 'getUser', 'isAdmin']) t.same(run(readWrite, { method }), ['172.22.3.94', '172.22.3.95'], `read ${method}`);
  for (const method of ['saveUser', 'deleteUser']) t.same(run(readWrite, { method }), ['172.22.3.97'], `write ${method}`);

  const offices = rule(['application = bops => host = 172.22.3.91', 'application != bops => host = 172.22.3.94,172.22.3.95,172.22.3.97']);
  t.same(run(offices, { consumerApplication: 'bops' }), ['172.22.3.91'], 'back office');
  t.same(run(offices, { consumerApplication: 'shop' }), ['172.22.3.94', '172.22.3.95', '172.22.3.97'], 'front office');

  const byKey = rule(
    ['method = getUser & arguments[0] = 1~100 => host = 172.22.3.94', 'method = getUser & arguments[0] != 1~100 => host = 172.22.3.95'],
    force,
  );
  t.same(run(byKey, { args: ['7'] }), ['172.22.3.94'], 'key router: user 7');
  t.same(run(byKey, { args: ['700'] }), ['172.22.3.95'], 'key router: user 700');

  const localOnly = rule(['=> host = $host']);
  t.same(run(localOnly, { consumerHost: '172.22.3.95' }), ['172.22.3.95'], 'local providers only');
  t.same(run(localOnly, { consumerHost: '10.0.0.1' }).length, 4, 'no local provider, force false: every provider');

  const segments = rule(['host != 172.22.3.* => host != 172.22.3.*', 'host = 172.22.3.* => host = 172.22.3.*']);
  t.same(run(segments, { consumerHost: '172.22.3.1' }).length, 4, 'network segments: same segment');
});

t.test('v3.1: from/to, weighted subsets with an injected random, Dubbo 3.3 tests as our own cases', async (t) => {
  const ms = [
    member('plain', '127.0.0.1', 1),
    member('normal', '127.0.0.1', 2, { env: 'normal' }),
    member('bj', '127.0.0.1', 3, { region: 'beijing' }),
    member('bj-gray', '10.0.0.1', 4, { region: 'beijing', env: 'gray' }),
    member('bj-normal', '10.0.0.1', 5, { region: 'beijing', env: 'normal' }),
    member('hz-gray', '10.0.0.2', 6, { region: 'hangzhou', env: 'gray' }),
  ];
  let draws: number[] = [];
  const random = () => draws.shift() ?? 0;
  const v31 = (conditions: unknown[], fields: Record<string, unknown> = {}) => rule(conditions, { configVersion: 'v3.1', ...fields }, { random });
  const gray = call({ consumerApplication: 'gray-app', ...local });
  const ids = (r: NarrowingRule, c: RuleCall = gray) => narrow(r, c, ms);

  const route = ids(v31([{ from: { match: 'application = gray-app' }, to: [{ match: 'env != gray', weight: 100 }] }]));
  t.same([route.ids, route.effect], [['normal', 'bj-normal'], 'narrowed'], 'from selects the call, to the providers (a missing env fails != too)');
  const consequent = v31([
    { from: { match: 'application = gray-app' }, to: [{ match: 'env != gray' }] },
    { from: { match: 'host = 127.0.0.1' }, to: [{ match: 'region = beijing' }] },
    { to: [{ match: 'host != 127.0.0.1' }] },
  ]);
  t.same(ids(consequent).ids, ['bj-normal'], 'consequent conditions narrow in turn');
  const unmatched = v31([
    { from: { match: 'application != gray-app' }, to: [{ match: 'env = gray' }] },
    { from: { match: 'host != 127.0.0.1' }, to: [{ match: 'region = beijing' }] },
    { from: null, to: [{ match: 'host != 127.0.0.1' }] },
  ]);
  t.same(ids(unmatched).ids, ['bj-gray', 'bj-normal', 'hz-gray'], 'from-parts that do not hold are skipped');
  const zero = [{ from: { match: 'application = gray-app' }, to: [{ match: 'env = ErrTag' }] }, { to: [{ match: 'host != 127.0.0.1' }] }];
  t.same(ids(v31(zero, force)), { ids: [], effect: 'forced-empty', kept: [] }, 'nothing left, force: no provider');
  t.same(ids(v31(zero)).ids, ['bj-gray', 'bj-normal', 'hz-gray'], 'nothing left, no force: the condition is ignored, the next runs');
  t.same(ids(v31(zero)).effect, 'ignored');
  const disabled = v31([{ from: { match: 'host = 127.0.0.1' } }, { to: [{ match: 'region != beijing' }] }]);
  t.same(ids(disabled), { ids: [], effect: 'blacklisted', kept: [] }, 'a from with no to: traffic disabled');
  t.same(
    ids(disabled, call({ consumerHost: '10.9.9.9' })).ids,
    ['hz-gray'],
    'traffic disabled for other hosts does not apply (providers with no region fail != too)',
  );
  t.same(ids(v31([{ from: { match: '' }, to: [{ match: '' }] }])).effect, 'kept-all', 'a blank to.match keeps every provider');
  t.same(ids(v31([{ to: [{ match: 'false' }] }])).effect, 'kept-all', 'to.match false keeps every provider too (Dubbo 3.3)');
  t.same(ids(v31([{ to: [{ match: 'region = $host' }] }], force)).effect, 'forced-empty', '$key in a v3.1 to.match is the consumer value');

  // Weighted choice: r = floor(random * total); subtract weights in order; the first at <= 0 wins (Dubbo's off-by-one kept).
  const weighted = v31([
    {
      to: [
        { match: 'env != gray', weight: 100 },
        { match: 'env = gray', weight: 900 },
        { match: 'region = nowhere', weight: 5000 },
      ],
    },
  ]);
  const pick = (x: number) => {
    draws = [x];
    return ids(weighted);
  };
  t.same(pick(0).ids, ['normal', 'bj-normal'], 'r = 0: first');
  t.same(pick(0.1).ids, ['normal', 'bj-normal'], 'r = 100: still the first (100 - 100 <= 0)');
  t.same(pick(0.101).ids, ['bj-gray', 'hz-gray'], 'r = 101: second; the empty subset takes no share');
  t.same(pick(0.999).ids, ['bj-gray', 'hz-gray'], 'r = 999: second');
  t.equal(pick(0).kept, pick(0.05).kept, 'the same subset is the same array');
  t.equal(pick(0.5).kept, pick(0.7).kept, 'the same subset is the same array');
  const weights0 = v31([
    {
      to: [
        { match: 'env = normal', weight: 0 },
        { match: 'env = gray', weight: 100 },
      ],
    },
  ]);
  draws = [0.5];
  t.same(narrow(weights0, gray, ms).ids, ['normal', 'bj-normal'], 'weight 0 reads as 100: r = 100 picks the first');
  draws = [0.51];
  t.same(narrow(weights0, gray, ms).ids, ['bj-gray', 'hz-gray']);
  draws = [0.99];
  const single = v31([{ to: [{ match: 'env = normal' }, { match: 'env = none' }] }]);
  t.same(narrow(single, gray, ms).ids, ['normal', 'bj-normal'], 'one non-empty subset: no draw');
  t.same(draws, [0.99], 'random was not called');
});

t.test('caching: the same array for the same candidates and call values, view called only to compute', async (t) => {
  const r = rule(['method = get* => host = 127.0.0.1', '=> port = 20881']);
  const counter = countingView();
  const out = { effect: 'disabled' as import('@dubbo-mesh/dubbo-rules').RuleEffect };
  const first = r.narrow(call(), all, counter.view, out);
  const viewsFirst = counter.count();
  t.ok(viewsFirst > 0);
  for (let i = 0; i < 5; i++) t.equal(r.narrow(call({ method: `getX${i}` }), all, counter.view, out), first, 'same array object');
  t.equal(counter.count(), viewsFirst, 'view not called again');
  t.same(
    first.map((m) => m.id),
    ['e3'],
  );
  t.equal(
    r
      .narrow(call({ method: 'save' }), all, counter.view, out)
      .map((m) => m.id)
      .join(),
    'e3',
    'another when-part outcome, its own result',
  );
  const copy = [...all];
  const other = r.narrow(call(), copy, counter.view, out);
  t.not(other, first, 'another candidates array: computed for it');
  t.same(other, first);
  t.equal(r.narrow(call(), copy, counter.view, out), other);

  const byHost = rule(['=> host = $host']);
  const hostView = countingView();
  const atLocal = byHost.narrow(call(local), all, hostView.view, out);
  const atOther = byHost.narrow(call({ consumerHost: '10.20.3.3' }), all, hostView.view, out);
  t.not(atLocal, atOther, 'two consumer hosts: two arrays');
  t.same([atLocal.map((m) => m.id), atOther.map((m) => m.id)], [['e2', 'e3'], ['e1']]);
  const views = hostView.count();
  t.equal(byHost.narrow(call(local), all, hostView.view, out), atLocal);
  t.equal(byHost.narrow(call({ consumerHost: '10.20.3.3' }), all, hostView.view, out), atOther);
  t.equal(hostView.count(), views, 'each host cached');
  for (let i = 0; i < 100; i++) byHost.narrow(call({ consumerHost: `10.1.1.${i}` }), all, hostView.view, out);
  t.same(
    byHost.narrow(call({ consumerHost: '10.20.3.3' }), all, hostView.view, out).map((m) => m.id),
    ['e1'],
    'still right after the bounded cache was cleared',
  );

  const two = rule(['=> host = $host & application = $application'], { force: true });
  const a = two.narrow(call({ consumerHost: '10.20.3.3', consumerApplication: 'p1' }), all, (m) => m.endpoint, out);
  t.same(
    a.map((m) => m.id),
    ['e1'],
  );
  t.equal(
    two.narrow(call({ consumerHost: '10.20.3.3', consumerApplication: 'p1' }), all, (m) => m.endpoint, out),
    a,
  );
  t.same(
    two.narrow(call({ consumerHost: '10.20.3.3', consumerApplication: 'p2' }), all, (m) => m.endpoint, out),
    [],
    'keyed by both values',
  );
  t.equal(out.effect, 'forced-empty');
});

t.test('arguments are read only by rules that use them, and only when cheaper keys held', async (t) => {
  const out = { effect: 'disabled' as import('@dubbo-mesh/dubbo-rules').RuleEffect };
  const none = call({ args: ['a'] });
  rule(['method = getUser & attachments[k] = v => host = 127.0.0.1']).narrow(none, all, (m) => m.endpoint, out);
  t.equal(none.reads.arguments, 0, 'no arguments key: argument() never called');
  const skipped = call({ method: 'save', args: ['a'] });
  rule(['arguments[0] = a & method = getUser => host = 127.0.0.1']).narrow(skipped, all, (m) => m.endpoint, out);
  t.equal(skipped.reads.arguments, 0, 'method did not hold: the argument was not decoded');
  const used = call({ args: ['a'] });
  rule(['arguments[0] = a & method = getUser => host = 127.0.0.1']).narrow(used, all, (m) => m.endpoint, out);
  t.equal(used.reads.arguments, 1);
  t.equal(out.effect, 'narrowed');
});

t.test('explain: each condition with its effect, what it dropped and why', async (t) => {
  const r = rule(['method = find*,list* => host = 127.0.0.1', 'application = bops => false', '=> port != 20880 & host = $host']);
  const explained = r.explain(call({ method: 'findUser', ...local }), all, (m) => m.endpoint);
  const steps = explained.steps.map((s) => ({
    step: s.step,
    effect: s.effect,
    kept: s.kept.map((m) => m.id),
    dropped: [...s.dropped].map(([m, why]) => `${m.id}: ${why}`),
    reason: s.reason,
  }));
  t.same(steps, [
    {
      step: 'conditions[0] "method = find*,list* => host = 127.0.0.1"',
      effect: 'narrowed',
      kept: ['e2', 'e3'],
      dropped: ['e1: host "10.20.3.3" does not match 127.0.0.1'],
      reason: 'the when-part holds: method "findUser" matches find*; 2 of 3 endpoints match the then-part',
    },
    {
      step: 'conditions[1] "application = bops => false"',
      effect: 'not-matched',
      kept: ['e2', 'e3'],
      dropped: [],
      reason: 'the when-part does not hold: application "consumer-app" does not match bops',
    },
    {
      step: 'conditions[2] "=> port != 20880 & host = $host"',
      effect: 'narrowed',
      kept: ['e3'],
      dropped: ['e2: port "20880" matches != 20880'],
      reason: 'the when-part is empty: every call; 1 of 2 endpoints match the then-part',
    },
  ]);
  t.same([explained.effect, explained.kept.map((m) => m.id)], ['narrowed', ['e3']]);

  const forced = rule(['=> host = $host'], { force: true }).explain(call({ consumerHost: '9.9.9.9' }), all, (m) => m.endpoint);
  t.same(forced.steps[0]?.reason, 'the when-part is empty: every call; no endpoint matches the then-part and force is true: no endpoint');
  t.same([...forced.steps[0]!.dropped.values()][0], 'host "10.20.3.3" does not match $host ("9.9.9.9")');
  const ignoredRule = rule(['host = 1.1.1.1 => host = 9.9.9.9']).explain(call({ consumerHost: '1.1.1.1' }), all, (m) => m.endpoint);
  t.same(
    ignoredRule.steps[0]?.reason,
    'the when-part holds: host "1.1.1.1" matches 1.1.1.1; no endpoint matches the then-part and force is false: the condition is ignored',
  );
  const blacklist = rule(['=> false', '=> host = *']).explain(call(), all, (m) => m.endpoint);
  t.same(
    blacklist.steps.map((s) => [s.effect, s.reason, s.dropped.size]),
    [
      ['blacklisted', 'the when-part is empty: every call; the then-part is empty or false: a blacklist, no endpoint', 3],
      ['not-matched', 'no endpoint left: not run', 0],
    ],
  );
  const disabled = rule(['=> false'], { enabled: false }).explain(call(), all, (m) => m.endpoint);
  t.same([disabled.effect, disabled.steps[0]?.reason], ['disabled', 'enabled: false: the rule does nothing']);
  const argument = rule(['arguments[3] != x => host = 127.0.0.1']).explain(call(), all, (m) => m.endpoint);
  t.match(argument.steps[0]?.reason, /^the when-part holds: arguments\[3\] not found matches none of != x;/);

  const weighted = rule(
    [
      {
        from: { match: 'method = get*' },
        to: [
          { match: 'port = 20880', weight: 1 },
          { match: 'port = 20881', weight: 3 },
        ],
      },
    ],
    { configVersion: 'v3.1' },
    { random: () => 0.9 },
  );
  const step = weighted.explain(call(), all, (m) => m.endpoint).steps[0]!;
  t.same(
    { step: step.step, effect: step.effect, kept: step.kept.map((m) => m.id), reason: step.reason, dropped: [...step.dropped.values()] },
    {
      step: 'conditions[0] from "method = get*"',
      effect: 'narrowed',
      kept: ['e3'],
      reason: 'the when-part holds: method "getUser" matches get*; to.match "port = 20881" chosen by weight (3 of 4) among 2 non-empty subsets',
      dropped: ['port "20880" does not match 20881 (to.match "port = 20881")', 'port "20880" does not match 20881 (to.match "port = 20881")'],
    },
  );
});
