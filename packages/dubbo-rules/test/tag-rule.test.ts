import t from 'tap';
import { parse } from 'yaml';
import { CheckContext, formatPath } from '@dubbo-mesh/schema';
import {
  compileRule,
  compileTagRule,
  ruleDocumentNode,
  staticTagRule,
  tagRuleNode,
  type EffectSlot,
  type NarrowingRule,
  type RuleCall,
  type RuleEffect,
  type RuleEndpoint,
  type TagRuleDocument,
} from '@dubbo-mesh/dubbo-rules';

interface Endpoint {
  readonly id: string;
  readonly endpoint: RuleEndpoint;
}

/** `a=10.0.0.1:20880` with labels. */
function ep(id: string, address: string, labels: Record<string, string> = {}, application = 'shop-detail'): Endpoint {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[|\]$/g, '');
  return { id, endpoint: { host, port: Number(address.slice(colon + 1)), address, application: labels.application ?? application, labels } };
}

const view = (e: Endpoint): RuleEndpoint => e.endpoint;

function call(attachments: Record<string, string> = {}, method = 'get'): RuleCall {
  return {
    interface: 'org.example.Detail',
    group: '',
    version: '',
    method,
    consumerApplication: 'shop-web',
    consumerHost: '10.9.9.9',
    attachment: (name) => attachments[name],
    argument: () => undefined,
  };
}

function compile(document: unknown): NarrowingRule {
  const context = new CheckContext();
  const checked = tagRuleNode.check(document, context);
  if (checked === undefined || context.issues.length > 0) throw new Error(context.issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join('\n'));
  return compileTagRule(checked);
}

function run(rule: NarrowingRule, attachments: Record<string, string>, endpoints: readonly Endpoint[]): { ids: string[]; effect: RuleEffect } {
  const out: EffectSlot = { effect: 'not-matched' };
  const result = rule.narrow(call(attachments), endpoints, view, out);
  const explained = rule.explain(call(attachments), endpoints, view);
  // explain says what narrow does
  if (explained.kept.map((e) => e.id).join() !== result.map((e) => e.id).join() || explained.effect !== out.effect) {
    throw new Error(`explain ${explained.effect} ${explained.kept.map((e) => e.id)} differs from narrow ${out.effect} ${result.map((e) => e.id)}`);
  }
  return { ids: result.map((e) => e.id), effect: out.effect };
}

// Providers of shop-detail: two in tag gray by address, one labelled gray, one beta, two untagged.
const providers = [
  ep('g1', '10.0.0.1:20880'),
  ep('g2', '10.0.0.2:20880'),
  ep('s-gray', '10.0.1.1:20880', { 'dubbo.tag': 'gray' }),
  ep('s-blue', '10.0.1.2:20880', { 'dubbo.tag': 'blue' }),
  ep('u1', '10.0.2.1:20880', { version: 'v1' }),
  ep('u2', '10.0.2.2:20880', { 'dubbo.tag': '' }),
];
const base = { key: 'shop-detail', force: false, enabled: true };

t.test('tag routing as Dubbo 3.3 TagStateRouter', async (t) => {
  const rule = compile({
    ...base,
    tags: [
      { name: 'gray', addresses: ['10.0.0.1', '10.0.0.2:20880'] },
      { name: 'empty', addresses: [] },
    ],
  });
  const forced = compile({ ...base, force: true, tags: [{ name: 'gray', addresses: ['10.0.0.1', '10.0.0.2:20880'] }] });
  const cases: Array<
    [name: string, rule: NarrowingRule, attachments: Record<string, string>, endpoints: readonly Endpoint[], ids: string[], effect: RuleEffect]
  > = [
    ['a tag of the rule: its addresses', rule, { 'dubbo.tag': 'gray' }, providers, ['g1', 'g2'], 'narrowed'],
    ['no tag: only the endpoints in no tag (rule or label)', rule, {}, providers, ['u1', 'u2'], 'narrowed'],
    ['an empty tag is no tag', rule, { 'dubbo.tag': '' }, providers, ['u1', 'u2'], 'narrowed'],
    ['a tag the rule lacks: the endpoints labelled with it', rule, { 'dubbo.tag': 'blue' }, providers, ['s-blue'], 'narrowed'],
    ['a tag with no address in the rule is no tag of the rule', rule, { 'dubbo.tag': 'empty' }, providers, ['u1', 'u2'], 'narrowed'],
    ['a tag nobody has: falls back to untagged', rule, { 'dubbo.tag': 'red' }, providers, ['u1', 'u2'], 'narrowed'],
    ['dubbo.force.tag=true: no fallback', rule, { 'dubbo.tag': 'red', 'dubbo.force.tag': 'true' }, providers, [], 'forced-empty'],
    ['dubbo.force.tag is read as Java booleans', rule, { 'dubbo.tag': 'red', 'dubbo.force.tag': 'TRUE' }, providers, [], 'forced-empty'],
    ['dubbo.force.tag=yes is false', rule, { 'dubbo.tag': 'red', 'dubbo.force.tag': 'yes' }, providers, ['u1', 'u2'], 'narrowed'],
    ['dubbo.force.tag with a tag that has endpoints', rule, { 'dubbo.tag': 'gray', 'dubbo.force.tag': 'true' }, providers, ['g1', 'g2'], 'narrowed'],
    ['the tag has no candidate, force: false: untagged', rule, { 'dubbo.tag': 'gray' }, providers.slice(2), ['u1', 'u2'], 'narrowed'],
    ['the tag has no candidate, force: true: none', forced, { 'dubbo.tag': 'gray' }, providers.slice(2), [], 'forced-empty'],
    ['the tag has no candidate, dubbo.force.tag: none', rule, { 'dubbo.tag': 'gray', 'dubbo.force.tag': 'true' }, providers.slice(2), [], 'forced-empty'],
    ['rule force does not stop the static fallback', forced, { 'dubbo.tag': 'red' }, providers, ['u1', 'u2'], 'narrowed'],
    ['no tag and every endpoint tagged: none', rule, {}, providers.slice(0, 4), [], 'forced-empty'],
    ['all candidates kept: the same array', rule, { 'dubbo.tag': 'gray' }, providers.slice(0, 2), ['g1', 'g2'], 'kept-all'],
    ['no candidate: nothing to do', rule, { 'dubbo.tag': 'gray' }, [], [], 'not-matched'],
  ];
  for (const [name, r, attachments, endpoints, ids, effect] of cases) t.same(run(r, attachments, endpoints), { ids, effect }, name);
});

t.test('a|b|c falls back level by level among the rule\u2019s tags (selectAddressByTagLevel)', async (t) => {
  const endpoints = [
    ep('beta', '192.168.5.1:20880'),
    ep('team1', '192.168.5.2:20880'),
    ep('partner1', '192.168.5.3:20880'),
    ep('plain', '192.168.5.9:20880'),
    ep('lbl', '192.168.5.8:20880', { 'dubbo.tag': 'beta|team9' }),
  ];
  const rule = compile({
    ...base,
    tags: [
      { name: 'beta', addresses: ['192.168.5.1'] },
      { name: 'beta|team1', addresses: ['192.168.5.2'] },
      { name: 'beta|team1|partner1', addresses: ['192.168.5.3'] },
    ],
  });
  const cases: Array<[Record<string, string>, string[]]> = [
    [{ 'dubbo.tag': 'beta|team1|partner1' }, ['partner1']],
    [{ 'dubbo.tag': 'beta|team1|partner2' }, ['team1']],
    [{ 'dubbo.tag': 'beta|team2' }, ['beta']],
    [{ 'dubbo.tag': 'beta|team1' }, ['team1']],
    [{ 'dubbo.tag': 'beta' }, ['beta']],
    [{ 'dubbo.tag': 'beta2' }, ['plain']],
    // Forced: the whole tag only, no levels; the rule lacks it, so the labels decide.
    [{ 'dubbo.tag': 'beta|team2', 'dubbo.force.tag': 'true' }, []],
    [{ 'dubbo.tag': 'beta|team1', 'dubbo.force.tag': 'true' }, ['team1']],
    // A level found wins over the static labels of the whole tag.
    [{ 'dubbo.tag': 'beta|team9' }, ['beta']],
  ];
  for (const [attachments, ids] of cases) t.same(run(rule, attachments, endpoints).ids, ids, JSON.stringify(attachments));
  // Levels count only the rule's tags: static labels are compared with the whole tag.
  const labelsOnly = compile({ ...base, tags: [{ name: 'other', addresses: ['1.1.1.1'] }] });
  t.same(run(labelsOnly, { 'dubbo.tag': 'beta|team9' }, endpoints).ids, ['lbl']);
  t.same(run(labelsOnly, { 'dubbo.tag': 'beta|team9|x' }, endpoints).ids, ['beta', 'team1', 'partner1', 'plain']);
});

t.test('addresses: ip, ip:port, 0.0.0.0:port, CIDR and * segments', async (t) => {
  const endpoints = [ep('a', '10.0.0.1:20880'), ep('b', '10.0.0.1:20881'), ep('c', '10.1.0.7:20880'), ep('d', '172.16.0.1:30000'), ep('e', '[fe80::1]:20880')];
  const cases: Array<[string[], string[]]> = [
    [['10.0.0.1'], ['a', 'b']],
    [['10.0.0.1:20881'], ['b']],
    [['0.0.0.0:20880'], ['a', 'c', 'e']],
    [['10.0.0.0/8'], ['a', 'b', 'c']],
    [['10.*.*.7'], ['c']],
    [['172.16.0.1-9:30000'], ['d']],
    [['fe80::/16'], ['e']],
    [['[fe80::1]:20880'], ['e']],
    [['*'], ['a', 'b', 'c', 'd', 'e']],
  ];
  for (const [addresses, ids] of cases)
    t.same(run(compile({ ...base, tags: [{ name: 't', addresses }] }), { 'dubbo.tag': 't' }, endpoints).ids, ids, addresses.join());
});

t.test('v3.0 match: tags by provider parameters (labels, application)', async (t) => {
  // TagStateRouterTest.testTagRouteWithDynamicRuleV3: the tag holds invoker 1 and 2.
  const endpoints = [
    ep('1', '127.0.0.1:7777', { application: 'foo', 'dubbo.tag': 'tag2', match_key: 'value' }),
    ep('2', '127.0.0.1:7778', { application: 'foo', match_key: 'value' }),
    ep('3', '127.0.0.1:7779', { application: 'foo' }),
  ];
  const v3 = compile({ configVersion: 'v3.0', ...base, tags: [{ name: 'tag2', match: [{ key: 'match_key', value: { exact: 'value' } }] }] });
  t.same(run(v3, { 'dubbo.tag': 'tag2' }, endpoints).ids, ['1', '2']);
  t.same(run(v3, {}, endpoints).ids, ['3']);
  // The same document as v2.7: match is not read, so the tag does not exist; the labels decide.
  const v27 = compile({ configVersion: 'v2.7', ...base, tags: [{ name: 'tag2', match: [{ key: 'match_key', value: { exact: 'value' } }] }] });
  t.same(run(v27, { 'dubbo.tag': 'tag2' }, endpoints).ids, ['1']);
  t.same(run(v27, {}, endpoints).ids, ['2', '3']);
  // With addresses too, the addresses win (tagRouterRuleParseTestV3's tag2).
  const both = compile({
    configVersion: 'v3.0',
    ...base,
    tags: [{ name: 't', addresses: ['127.0.0.1:7779'], match: [{ key: 'match_key', value: { exact: 'value' } }] }],
  });
  t.same(run(both, { 'dubbo.tag': 't' }, endpoints).ids, ['3']);
  // application is the endpoint's application; all match keys must hold; a match nobody meets is no tag.
  const byApp = compile({
    configVersion: 'v3.0',
    ...base,
    tags: [
      {
        name: 'foo',
        match: [
          { key: 'application', value: { exact: 'foo' } },
          { key: 'match_key', value: { noempty: 'true' } },
        ],
      },
      { name: 'none', match: [{ key: 'not_exist', value: { exact: 'not_exist' } }] },
      { name: 'any', match: [{ key: 'match_key', value: { wildcard: '*' } }] },
    ],
  });
  t.same(run(byApp, { 'dubbo.tag': 'foo' }, endpoints).ids, ['1', '2']);
  t.same(run(byApp, { 'dubbo.tag': 'none' }, endpoints).ids, ['3']);
  t.same(run(byApp, { 'dubbo.tag': 'none', 'dubbo.force.tag': 'true' }, endpoints).ids, []);
  t.same(run(byApp, { 'dubbo.tag': 'any' }, endpoints).ids, ['1', '2']);
  const serviceApp = [ep('x', '10.0.0.1:1', {}, 'orders'), ep('y', '10.0.0.2:1', {}, 'users')];
  const byServiceApp = compile({ configVersion: 'v3.0', ...base, tags: [{ name: 'o', match: [{ key: 'application', value: { prefix: 'ord' } }] }] });
  t.same(run(byServiceApp, { 'dubbo.tag': 'o' }, serviceApp).ids, ['x']);
  // A label named like an Object property is not there.
  const proto = compile({ configVersion: 'v3.0', ...base, tags: [{ name: 'p', match: [{ key: 'constructor', value: { noempty: 'true' } }] }] });
  t.same(run(proto, { 'dubbo.tag': 'p' }, serviceApp).ids, ['x', 'y']);
});

t.test('enabled: false and no rule: the endpoints\u2019 own labels (filterUsingStaticTag)', async (t) => {
  const disabled = compile({ ...base, enabled: false, tags: [{ name: 'gray', addresses: ['10.0.0.1', '10.0.0.2'] }] });
  for (const rule of [disabled, staticTagRule]) {
    t.same(run(rule, { 'dubbo.tag': 'gray' }, providers).ids, ['s-gray']);
    t.same(run(rule, { 'dubbo.tag': 'red' }, providers).ids, ['g1', 'g2', 'u1', 'u2']);
    t.same(run(rule, { 'dubbo.tag': 'red', 'dubbo.force.tag': 'true' }, providers).ids, []);
    t.same(run(rule, {}, providers).ids, ['g1', 'g2', 'u1', 'u2']);
  }
  t.same(run(disabled, {}, providers.slice(0, 2)), { ids: ['g1', 'g2'], effect: 'disabled' });
  t.same(run(staticTagRule, {}, providers.slice(0, 2)), { ids: ['g1', 'g2'], effect: 'kept-all' });
  // TagStateRouterTest.testTagRoutePickInvokers
  const invokers = [ep('1', '127.0.0.1:7777', { 'dubbo.tag': 'tag2' }), ep('2', '127.0.0.1:7778'), ep('3', '127.0.0.1:7779')];
  t.same(run(staticTagRule, { 'dubbo.tag': 'tag2' }, invokers).ids, ['1']);
});

t.test('documentation: gray release by tag, with fallback', async (t) => {
  // The v3.0 form of Dubbo's tag routing docs: instances labelled env=gray form the gray tag.
  const doc = parse(`
configVersion: v3.0
force: false
enabled: true
key: shop-detail
tags:
  - name: gray
    match:
      - key: env
        value:
          exact: gray
`);
  const rule = compile(doc);
  const instances = [ep('gray-1', '10.0.3.1:20880', { env: 'gray' }), ep('stable-1', '10.0.3.2:20880', { env: 'prod' }), ep('stable-2', '10.0.3.3:20880')];
  t.same(run(rule, { 'dubbo.tag': 'gray' }, instances).ids, ['gray-1'], 'gray traffic to the gray instance');
  t.same(run(rule, {}, instances).ids, ['stable-1', 'stable-2'], 'other traffic never to the gray instance');
  t.same(run(rule, { 'dubbo.tag': 'gray' }, instances.slice(1)).ids, ['stable-1', 'stable-2'], 'gray instance gone: falls back to stable');
  t.same(run(rule, { 'dubbo.tag': 'gray', 'dubbo.force.tag': 'true' }, instances.slice(1)).ids, [], 'forced: no fallback');
  // The 2.7 form, by addresses (Dubbo's TagRule.yml, which has no configVersion).
  const v27 = compile(
    parse(`
force: true
runtime: false
enabled: true
priority: 1
key: demo-provider
tags:
- name: tag1
  addresses: [30.5.120.16:20880]
- name: tag2
  addresses: [30.5.120.16:20881]
`),
  );
  const demo = [ep('p0', '30.5.120.16:20880'), ep('p1', '30.5.120.16:20881'), ep('p2', '30.5.120.17:20880')];
  t.same(run(v27, { 'dubbo.tag': 'tag1' }, demo).ids, ['p0']);
  t.same(run(v27, { 'dubbo.tag': 'tag2' }, demo).ids, ['p1']);
  t.same(run(v27, {}, demo).ids, ['p2']);
  t.same(run(v27, { 'dubbo.tag': 'tag1' }, demo.slice(1)).ids, [], 'force: true and tag1 gone: none');
});

t.test('narrow caches per candidates array, request tag and dubbo.force.tag', async (t) => {
  const rule = compile({
    configVersion: 'v3.0',
    ...base,
    tags: [
      { name: 'gray', addresses: ['10.0.0.1', '10.0.0.2'] },
      { name: 'v1', match: [{ key: 'version', value: { exact: 'v1' } }] },
    ],
  });
  let views = 0;
  const counting = (e: Endpoint): RuleEndpoint => {
    views += 1;
    return e.endpoint;
  };
  const candidates = [...providers];
  const out: EffectSlot = { effect: 'not-matched' };
  const gray1 = rule.narrow(call({ 'dubbo.tag': 'gray' }), candidates, counting, out);
  t.equal(views, candidates.length, 'each endpoint viewed once');
  t.equal(out.effect, 'narrowed');
  const gray2 = rule.narrow(call({ 'dubbo.tag': 'gray', other: 'x' }, 'otherMethod'), candidates, counting, out);
  t.equal(gray2, gray1, 'the same array object for the same tag, whatever else the call has');
  const none1 = rule.narrow(call(), candidates, counting, out);
  t.equal(views, candidates.length, 'another tag over the same array views nothing again');
  t.not(none1, gray1);
  t.equal(rule.narrow(call({ 'dubbo.tag': '' }), candidates, counting, out), none1, 'an empty tag is no tag');
  t.equal(rule.narrow(call({ 'dubbo.force.tag': 'true' }), candidates, counting, out), none1, 'force without a tag changes nothing');
  const red = rule.narrow(call({ 'dubbo.tag': 'red' }), candidates, counting, out);
  const redForced = rule.narrow(call({ 'dubbo.tag': 'red', 'dubbo.force.tag': 'true' }), candidates, counting, out);
  t.same([red.length, redForced.length], [1, 0], 'red falls back to u2 (u1 is in tag v1); forced is empty');
  t.equal(out.effect, 'forced-empty', 'the effect is kept with the result');
  t.equal(rule.narrow(call({ 'dubbo.tag': 'red' }), candidates, counting, out), red);
  t.equal(out.effect, 'narrowed');
  t.equal(rule.narrow(call({ 'dubbo.tag': 'v1' }), candidates, counting, out)[0]?.id, 'u1');
  // A new array with the same endpoints is computed anew.
  const copy = [...providers];
  const gray3 = rule.narrow(call({ 'dubbo.tag': 'gray' }), copy, counting, out);
  t.equal(views, candidates.length * 2);
  t.not(gray3, gray1);
  t.same(gray3, gray1);
  // Kept-all returns the candidates array itself.
  const grayOnly = providers.slice(0, 2);
  t.equal(rule.narrow(call({ 'dubbo.tag': 'gray' }), grayOnly, counting, out), grayOnly);
  // Bounded: many distinct tags push the oldest out; it is recomputed (a new array, the same endpoints).
  for (let i = 0; i < 20; i++) rule.narrow(call({ 'dubbo.tag': `t${i}` }), candidates, counting, out);
  const gray4 = rule.narrow(call({ 'dubbo.tag': 'gray' }), candidates, counting, out);
  t.not(gray4, gray1, 'evicted and recomputed');
  t.same(gray4, gray1);
  t.equal(views, candidates.length * 2 + grayOnly.length, 'facts of an array are kept while it lives: no new views');
  t.equal(rule.narrow(call({ 'dubbo.tag': 'gray' }), candidates, counting, out), gray4, 'and cached again');
});

t.test('explain says why, step by step', async (t) => {
  const rule = compile({
    configVersion: 'v3.0',
    ...base,
    tags: [
      { name: 'gray', addresses: ['10.0.0.1', '10.0.0.2:20880'] },
      { name: 'v1', match: [{ key: 'version', value: { exact: 'v1' } }] },
    ],
  });
  const gray = rule.explain(call({ 'dubbo.tag': 'gray|x' }), providers, view);
  t.equal(gray.effect, 'narrowed');
  t.same(
    gray.steps.map((s) => [s.step, s.effect]),
    [
      ['request tag', 'kept-all'],
      ['tag "gray" (level of "gray|x")', 'narrowed'],
    ],
  );
  t.equal(gray.steps[0]!.reason, 'dubbo.tag=gray|x');
  t.equal(gray.steps[1]!.dropped.get(providers[2]!), "10.0.1.1:20880 is not one of the tag's addresses 10.0.0.1, 10.0.0.2:20880");
  const fallback = rule.explain(call({ 'dubbo.tag': 'red' }), providers, view);
  t.same(
    fallback.steps.map((s) => s.step),
    ['request tag', 'rule tags', 'endpoints labelled dubbo.tag=red', 'fallback', 'untagged endpoints'],
  );
  const untagged = fallback.steps[4]!;
  t.equal(untagged.dropped.get(providers[0]!), 'in tag "gray" of the rule');
  t.equal(untagged.dropped.get(providers[3]!), 'its dubbo.tag label is "blue"');
  t.equal(untagged.dropped.get(providers[4]!), 'in tag "v1" of the rule');
  t.same(
    fallback.kept.map((e) => e.id),
    ['u2'],
  );
  const v1 = rule.explain(call({ 'dubbo.tag': 'v1' }), providers, view);
  t.equal(v1.steps[1]!.dropped.get(providers[0]!), 'does not match the tag: version is absent, not exact "v1"');
  const disabled = compile({ ...base, enabled: false, tags: [{ name: 'gray', addresses: ['10.0.0.1'] }] }).explain(call(), providers, view);
  t.same(
    disabled.steps.map((s) => s.step),
    ['rule disabled', 'untagged endpoints'],
  );
});

t.test('tag rules are a registered kind: the tags field marks them', async (t) => {
  const context = new CheckContext();
  const document = ruleDocumentNode.check({ key: 'shop-detail', tags: [{ name: 'gray', addresses: ['10.0.0.1'] }] }, context);
  t.same(context.issues, []);
  t.match(document, { kind: 'tag', key: 'shop-detail', scope: 'application', configVersion: 'v2.7', enabled: true, force: false });
  const rule = compileRule(document!) as NarrowingRule;
  t.equal(rule.kind, 'tag');
  t.same(run(rule, { 'dubbo.tag': 'gray' }, providers).ids, ['g1']);
  const typed: TagRuleDocument = document as TagRuleDocument;
  t.same(typed.tags, [{ name: 'gray', addresses: ['10.0.0.1'] }]);
});
