import t from 'tap';
import { CheckContext, formatPath } from '@dubbo-mesh/schema';
import {
  explainCall,
  formatCallExplanation,
  planRules,
  ruleDocumentNode,
  STATIC_TAGS_NAME,
  type CallExplanation,
  type OverrideConsumer,
  type RuleCall,
  type RuleDocument,
  type WeightedRuleEndpoint,
} from '@dubbo-mesh/dubbo-rules';

const SERVICE = 'org.example.UserService';

/** A checked rule document (fails loudly when the test wrote an invalid one). */
function rule(fields: Record<string, unknown>): RuleDocument {
  const context = new CheckContext();
  const checked = ruleDocumentNode.check({ configVersion: 'v3.0', ...fields }, context);
  if (checked === undefined || context.issues.length > 0) throw new Error(context.issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join('\n'));
  return checked;
}

function condition(conditions: unknown[], extra: Record<string, unknown> = {}): RuleDocument {
  return rule({ scope: 'service', key: SERVICE, conditions, ...extra });
}

function endpoint(host: string, port = 20880, labels: Record<string, string> = {}, weight?: number): WeightedRuleEndpoint {
  return { host, port, address: `${host}:${port}`, application: labels.application ?? 'user-app', labels, ...(weight === undefined ? {} : { weight }) };
}

function call(fields: Partial<Omit<RuleCall, 'attachment' | 'argument'>> & { attachments?: Record<string, string>; args?: string[] } = {}): RuleCall {
  const attachments = fields.attachments ?? {};
  return {
    interface: fields.interface ?? SERVICE,
    group: fields.group ?? '',
    version: fields.version ?? '',
    method: fields.method ?? 'getUser',
    consumerApplication: 'consumerApplication' in fields ? fields.consumerApplication : 'shop-web',
    consumerHost: fields.consumerHost ?? '10.0.0.9',
    attachment: (name) => (Object.hasOwn(attachments, name) ? attachments[name] : undefined),
    argument: (index) => fields.args?.[index],
  };
}

const consumer: OverrideConsumer = { application: 'shop-web', host: '10.0.0.9' };
const hosts = (explanation: CallExplanation) => explanation.endpoints.map((e) => `${e.endpoint.address}@${e.weight}`);

const readWrite = condition(['method = find*,list*,get*,is* => host = 172.22.3.94,172.22.3.95', 'method != find*,list*,get*,is* => host = 172.22.3.97']);
const rw = [endpoint('172.22.3.94'), endpoint('172.22.3.95'), endpoint('172.22.3.97')];
const blacklist = condition(['host = 10.20.153.10,10.20.153.11 =>']);
const localOnly = condition(['=> host = $host']);
const local = [endpoint('10.0.0.9', 20880), endpoint('10.0.0.9', 20881), endpoint('10.0.0.1')];
const grayTag = rule({ key: 'user-app', tags: [{ name: 'gray', addresses: ['10.0.0.2:20880'] }] });
const tagged = [endpoint('10.0.0.1'), endpoint('10.0.0.2'), endpoint('10.0.0.3')];
const disable = rule({
  scope: 'service',
  key: SERVICE,
  configVersion: 'v2.7',
  configs: [{ side: 'consumer', addresses: ['0.0.0.0'], providerAddresses: ['10.0.0.1:20880'], parameters: { disabled: 'true' } }],
});
const weigh = rule({
  scope: 'service',
  key: SERVICE,
  configVersion: 'v2.7',
  configs: [{ side: 'consumer', addresses: ['0.0.0.0'], providerAddresses: ['10.0.0.3:20880'], parameters: { weight: '25' } }],
});

interface Case {
  readonly name: string;
  readonly rules: RuleDocument[];
  readonly endpoints: WeightedRuleEndpoint[];
  readonly call?: Parameters<typeof call>[0];
  /** `address@weight` of the endpoints reached; empty: no provider. */
  readonly reached: string[];
  /** The no-provider reason, when none is reached. */
  readonly reason?: string;
  /** Each step as `rule: applies|does not apply: effect`. */
  readonly steps?: string[];
}

const cases: Case[] = [
  {
    name: 'read/write split: a read goes to the read hosts',
    rules: [readWrite],
    endpoints: rw,
    call: { method: 'findUser' },
    reached: ['172.22.3.94:20880@100', '172.22.3.95:20880@100'],
    steps: [`condition rule ${SERVICE}::: applies: narrowed`],
  },
  {
    name: 'read/write split: a write goes to the write host',
    rules: [readWrite],
    endpoints: rw,
    call: { method: 'saveUser' },
    reached: ['172.22.3.97:20880@100'],
  },
  {
    name: 'blacklist by host: a listed consumer gets no provider',
    rules: [blacklist],
    endpoints: tagged,
    call: { consumerHost: '10.20.153.10' },
    reached: [],
    reason: `condition rule ${SERVICE}:: blacklists the call (its then-part is empty or false)`,
    steps: [`condition rule ${SERVICE}::: applies: blacklisted`],
  },
  {
    name: 'blacklist by host: another consumer reaches every provider',
    rules: [blacklist],
    endpoints: tagged,
    reached: ['10.0.0.1:20880@100', '10.0.0.2:20880@100', '10.0.0.3:20880@100'],
    steps: [`condition rule ${SERVICE}::: applies: not-matched`],
  },
  { name: '=> host = $host: local providers only', rules: [localOnly], endpoints: local, reached: ['10.0.0.9:20880@100', '10.0.0.9:20881@100'] },
  {
    name: '=> host = $host with no local provider and force: false: ignored',
    rules: [localOnly],
    endpoints: local,
    call: { consumerHost: '10.0.0.50' },
    reached: ['10.0.0.9:20880@100', '10.0.0.9:20881@100', '10.0.0.1:20880@100'],
    steps: [`condition rule ${SERVICE}::: applies: ignored`],
  },
  {
    name: '=> host = $host with no local provider and force: true: no provider',
    rules: [condition(['=> host = $host'], { force: true })],
    endpoints: local,
    call: { consumerHost: '10.0.0.50' },
    reached: [],
    reason: `condition rule ${SERVICE}:: left none of its 3 endpoints, and it is force: true`,
  },
  {
    name: 'gray release: dubbo.tag=gray goes to the gray host',
    rules: [grayTag],
    endpoints: tagged,
    call: { attachments: { 'dubbo.tag': 'gray' } },
    reached: ['10.0.0.2:20880@100'],
  },
  {
    name: 'gray release: no tag goes to the untagged',
    rules: [grayTag],
    endpoints: tagged,
    reached: ['10.0.0.1:20880@100', '10.0.0.3:20880@100'],
    steps: ['tag rule user-app: applies: narrowed'],
  },
  {
    name: 'gray release: gray|team1 falls back a level to gray',
    rules: [grayTag],
    endpoints: tagged,
    call: { attachments: { 'dubbo.tag': 'gray|team1' } },
    reached: ['10.0.0.2:20880@100'],
  },
  {
    name: 'gray release: an unknown tag falls back to the untagged',
    rules: [grayTag],
    endpoints: tagged,
    call: { attachments: { 'dubbo.tag': 'blue' } },
    reached: ['10.0.0.1:20880@100', '10.0.0.3:20880@100'],
  },
  {
    name: 'gray release: an unknown tag with dubbo.force.tag=true: no provider',
    rules: [grayTag],
    endpoints: tagged,
    call: { attachments: { 'dubbo.tag': 'blue', 'dubbo.force.tag': 'true' } },
    reached: [],
    reason: 'tag rule user-app left none of its 3 endpoints: dubbo.force.tag=true: no fallback to untagged endpoints',
  },
  {
    name: 'a tag rule of another application does not apply',
    rules: [rule({ key: 'order-app', tags: [{ name: 'gray', addresses: ['10.0.0.2'] }] })],
    endpoints: tagged,
    reached: ['10.0.0.1:20880@100', '10.0.0.2:20880@100', '10.0.0.3:20880@100'],
    steps: ['tag rule order-app: does not apply: not-matched'],
  },
  {
    name: 'static tags: endpoints labelled dubbo.tag route by it with no tag rule',
    rules: [],
    endpoints: [endpoint('10.0.0.1'), endpoint('10.0.0.2', 20880, { 'dubbo.tag': 'gray' })],
    call: { attachments: { 'dubbo.tag': 'gray' } },
    reached: ['10.0.0.2:20880@100'],
    steps: [`${STATIC_TAGS_NAME}: applies: narrowed`],
  },
  {
    name: 'override: a disabled provider is left out, another weighed',
    rules: [disable, weigh],
    endpoints: tagged,
    reached: ['10.0.0.2:20880@100', '10.0.0.3:20880@25'],
    steps: [`override rule ${SERVICE}::: applies: narrowed`, `override rule ${SERVICE}::: applies: kept-all`],
  },
  {
    name: 'override: disabling the only provider: no provider',
    rules: [disable],
    endpoints: [endpoint('10.0.0.1')],
    reached: [],
    reason: 'override rules leave none of the 1 endpoint (disabled=true)',
  },
  {
    name: 'override of another service does not apply',
    rules: [{ ...disable, key: 'org.example.Other::' }],
    endpoints: tagged,
    reached: ['10.0.0.1:20880@100', '10.0.0.2:20880@100', '10.0.0.3:20880@100'],
    steps: ['override rule org.example.Other::: does not apply: not-matched'],
  },
  {
    name: 'a service condition rule of another key does not apply',
    rules: [{ ...blacklist, key: `${SERVICE}:1.0.0:` }],
    endpoints: tagged,
    call: { consumerHost: '10.20.153.10' },
    reached: ['10.0.0.1:20880@100', '10.0.0.2:20880@100', '10.0.0.3:20880@100'],
    steps: [`condition rule ${SERVICE}:1.0.0:: does not apply: not-matched`],
  },
  {
    name: 'an application condition rule applies to its consumer application',
    rules: [rule({ scope: 'application', key: 'shop-web', conditions: ['=> host = 10.0.0.3'] })],
    endpoints: tagged,
    reached: ['10.0.0.3:20880@100'],
  },
  {
    name: 'an application condition rule applies to calls to its provider application',
    rules: [rule({ scope: 'application', key: 'user-app', conditions: ['=> host = 10.0.0.1'] })],
    endpoints: tagged,
    reached: ['10.0.0.1:20880@100'],
  },
  {
    name: 'an application condition rule of another application does not apply',
    rules: [rule({ scope: 'application', key: 'admin-web', conditions: ['=>'] })],
    endpoints: tagged,
    reached: ['10.0.0.1:20880@100', '10.0.0.2:20880@100', '10.0.0.3:20880@100'],
  },
  {
    name: 'order: overrides, then service conditions, application conditions and tags, whatever the order given',
    rules: [grayTag, rule({ scope: 'application', key: 'shop-web', conditions: ['=> host != 10.0.0.4'] }), readWrite, disable],
    endpoints: [...tagged, endpoint('10.0.0.4')],
    call: { method: 'findUser' },
    // 10.0.0.1 disabled; the read hosts are none of these (force: false: ignored); not 10.0.0.4; no tag: the untagged.
    reached: ['10.0.0.3:20880@100'],
    steps: [
      `override rule ${SERVICE}::: applies: narrowed`,
      `condition rule ${SERVICE}::: applies: ignored`,
      'condition rule shop-web: applies: narrowed',
      'tag rule user-app: applies: narrowed',
    ],
  },
  { name: 'a service with no endpoint: no provider', rules: [readWrite], endpoints: [], reached: [], reason: 'the service has no endpoint' },
];

t.test('explainCall: which endpoints a call reaches, rule by rule', async (t) => {
  for (const c of cases) {
    const explanation = explainCall(c.rules, call(c.call), c.endpoints, consumer);
    t.same(hosts(explanation), c.reached, `${c.name}: endpoints`);
    if (c.reached.length === 0) t.equal(explanation.noProvider?.reason, c.reason, `${c.name}: reason`);
    else t.equal(explanation.noProvider, undefined, `${c.name}: reachable`);
    if (c.steps !== undefined) {
      t.same(
        explanation.steps.slice(0, c.steps.length).map((s) => `${s.rule}: ${s.applies ? 'applies' : 'does not apply'}: ${s.effect}`),
        c.steps,
        `${c.name}: steps`,
      );
    }
  }
});

t.test('force: true: the first rule that leaves nothing stops, the steps say why', async (t) => {
  // The read/write rule's read hosts are not among these endpoints: with force: true, no provider.
  const forced = { ...readWrite, force: true } as RuleDocument;
  const explanation = explainCall([forced], call({ method: 'findUser' }), tagged, consumer);
  t.equal(explanation.noProvider?.rule, `condition rule ${SERVICE}::`);
  t.equal(explanation.noProvider?.status, 70);
  const step = explanation.steps[0]!;
  t.equal(step.dropped.get(tagged[0]!), 'host "10.0.0.1" does not match 172.22.3.94,172.22.3.95');
  t.equal(explanation.steps.length, 1, 'no later rule is run');
});

t.test('a disabled rule does nothing; v3.1 weighted subsets draw from the injected random source', async (t) => {
  const off = explainCall([condition(['=>'], { enabled: false })], call(), tagged, consumer);
  t.same(hosts(off), ['10.0.0.1:20880@100', '10.0.0.2:20880@100', '10.0.0.3:20880@100']);
  t.equal(off.steps[0]!.effect, 'disabled');
  const split = condition(
    [
      {
        from: { match: 'method = getUser' },
        to: [
          { match: 'host = 10.0.0.1', weight: 50 },
          { match: 'host = 10.0.0.2', weight: 50 },
        ],
      },
    ],
    {
      configVersion: 'v3.1',
    },
  );
  const low = explainCall([split], call(), tagged, consumer, { random: () => 0 });
  const high = explainCall([split], call(), tagged, consumer, { random: () => 0.99 });
  t.same(hosts(low), ['10.0.0.1:20880@100']);
  t.same(hosts(high), ['10.0.0.2:20880@100']);
  t.match(high.steps[0]!.details[0]!.reason, 'chosen by weight (50 of 100) among 2 non-empty subsets');
});

t.test('nameOf names the rules in steps and in the no-provider reason', async (t) => {
  const explanation = explainCall([blacklist], call({ consumerHost: '10.20.153.11' }), tagged, consumer, {
    nameOf: (d) => `${d.kind} rule ${d.key} (rules.yaml:1:1)`,
  });
  t.equal(explanation.noProvider?.rule, `condition rule ${SERVICE}:: (rules.yaml:1:1)`);
  t.equal(explanation.noProvider?.reason, `condition rule ${SERVICE}:: (rules.yaml:1:1) blacklists the call (its then-part is empty or false)`);
});

t.test('planRules: service conditions, application conditions, tags by key; overrides application scope first', async (t) => {
  const appOverride = rule({ scope: 'application', key: 'a-app', configs: [{ side: 'consumer', parameters: { timeout: '1' } }] });
  const svcOverride = rule({ scope: 'service', key: 'a.Svc', configs: [{ side: 'consumer', parameters: { timeout: '2' } }] });
  const rules = [
    grayTag,
    svcOverride,
    rule({ scope: 'application', key: 'b-app', conditions: ['=>'] }),
    rule({ scope: 'service', key: 'z.Svc', conditions: ['=>'] }),
    appOverride,
    rule({ scope: 'application', key: 'a-app', conditions: ['=>'] }),
    rule({ scope: 'service', key: 'a.Svc', conditions: ['=>'] }),
  ];
  const plan = planRules(rules, (r) => r);
  t.same(
    plan.narrowings.map((n) => `${n.stage} ${n.document.key}`),
    ['service-condition a.Svc::', 'service-condition z.Svc::', 'application-condition a-app', 'application-condition b-app', 'tag user-app'],
  );
  t.same(plan.overrides, [appOverride, svcOverride]);
  t.same([...plan.taggedApplications], ['user-app']);
});

t.test('formatCallExplanation: the lines an operator reads', async (t) => {
  const reached = formatCallExplanation(explainCall([readWrite, weigh], call({ method: 'findUser' }), rw, consumer));
  t.same(reached, [
    `1. override rule ${SERVICE}::: does not apply: no item applies to any endpoint`,
    `2. condition rule ${SERVICE}::: applies: the call's service key ${SERVICE}:: is the rule's key`,
    `   conditions[0] "method = find*,list*,get*,is* => host = 172.22.3.94,172.22.3.95": narrowed: the when-part holds: method "findUser" matches find*; 2 of 3 endpoints match the then-part`,
    '     - 172.22.3.97:20880: host "172.22.3.97" does not match 172.22.3.94,172.22.3.95',
    `   conditions[1] "method != find*,list*,get*,is* => host = 172.22.3.97": not-matched: the when-part does not hold: method "findUser" matches != find*`,
    '   => narrowed: 2 endpoints left',
    'the call reaches 2 endpoints:',
    '  172.22.3.94:20880 (application user-app) weight 100',
    '  172.22.3.95:20880 (application user-app) weight 100',
  ]);
  const none = formatCallExplanation(explainCall([disable], call(), [endpoint('10.0.0.1', 20880, { env: 'prod' })], consumer));
  t.same(none, [
    `1. override rule ${SERVICE}::: applies: an item applies to some endpoint`,
    `   10.0.0.1:20880: side consumer: configs[0] (address 0.0.0.0): applied: sets disabled=true`,
    '     - 10.0.0.1:20880: disabled=true: left out',
    '   => narrowed: 0 endpoints left',
    'no provider (status 70): override rules leave none of the 1 endpoint (disabled=true)',
  ]);
});
