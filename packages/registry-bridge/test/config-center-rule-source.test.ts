import t from 'tap';
import { once } from 'node:events';
import type { DubboRuleConfig, LocatedResource } from '@dubbo-mesh/config';
import { FakeClock, eventually, startTcpPartition, startZooKeeper } from '@dubbo-mesh/test-support';
import { ConfigCenterRuleSource, ZooKeeperSession, type ConfigCenterRuleSourceOptions } from '@dubbo-mesh/registry-bridge';

const server = await startZooKeeper();
t.teardown(() => server.close());
const writer = new ZooKeeperSession({ connect: server.connect, spinDelayMs: 50 });
await writer.start();
t.teardown(() => writer.close());

/** Verbatim in dubbo-admin's shapes. A v3.0 condition rule on a versioned service (newer dubbo-admin writes configVersion). */
const CONDITION_V30 = `configVersion: v3.0
scope: service
force: true
runtime: true
enabled: true
key: 'com.Foo:1.0.0:'
conditions:
  - method=find*,list*,get*,is* => host = 10.0.0.1
  - => host != 10.0.0.9
`;
/** An application condition rule as dubbo-admin 0.x dumps it (SnakeYAML `dumpAsMap`: sorted keys, no configVersion). */
const APP_CONDITION = `conditions:
- => host != 172.22.3.111
- => host != 172.22.3.112
enabled: true
force: true
key: test-application
priority: 0
runtime: false
scope: application
`;
/** A tag rule as dubbo-admin dumps it. */
const TAG = `enabled: true
force: false
key: shop-provider
priority: 0
runtime: true
tags:
- addresses:
  - 10.0.0.1:20880
  name: gray
`;
/** An override rule from dubbo-admin's template. */
const OVERRIDE = `configVersion: v2.7
enabled: true
key: com.Foo:1.0.0
scope: service
configs:
  - addresses: [0.0.0.0]  # 0.0.0.0 for all addresses
    side: consumer
    parameters:
      timeout: 6000
`;

const condition = (host: string, key = 'com.Foo') => `configVersion: v3.0\nscope: service\nkey: ${key}\nconditions:\n  - => host = ${host}\n`;

/** A running rule source on its own session, and what it emitted. */
interface Harness {
  readonly source: ConfigCenterRuleSource;
  readonly session: ZooKeeperSession;
  readonly states: LocatedResource[][];
  readonly logs: Array<{ level: string; message: string; fields: Record<string, unknown> }>;
  /** The last state's rules by origin. */
  rules(): Map<string, LocatedResource>;
  /** Resolves with the first state (the last one emitted, or a later one) that satisfies `check`. */
  next(check: (rules: Map<string, LocatedResource>) => boolean): Promise<Map<string, LocatedResource>>;
  close(): Promise<void>;
}

async function startRules(
  t: { teardown(fn: () => unknown): void },
  connect: string,
  options: Omit<ConfigCenterRuleSourceOptions, 'session'> = {},
  sessionTimeoutMs?: number,
): Promise<Harness> {
  const session = new ZooKeeperSession({ connect, spinDelayMs: 50, ...(sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs }) });
  await session.start();
  const logs: Harness['logs'] = [];
  const source = new ConfigCenterRuleSource({
    session,
    retry: { initialMs: 50, maxMs: 500 },
    log: (level, message, fields) => logs.push({ level, message, fields }),
    ...options,
  });
  const states: LocatedResource[][] = [];
  const waiters = new Set<() => void>();
  const byOrigin = (state: readonly LocatedResource[] | undefined) => new Map((state ?? []).map((item) => [item.origin!, item]));
  await source.start((state) => {
    if (state.kind !== 'resources') throw new Error('the rule source never emits an invalid state');
    states.push([...state.resources]);
    for (const waiter of [...waiters]) waiter();
  });
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await source.stop();
    await session.close();
  };
  t.teardown(close);
  return {
    source,
    session,
    states,
    logs,
    rules: () => byOrigin(states.at(-1)),
    next: (check) =>
      new Promise((resolve, reject) => {
        // A failure detector, not a timing assertion: generous for a loaded machine.
        const deadline = setTimeout(() => {
          waiters.delete(test);
          reject(new Error(`no state satisfied the check within 30 s; the last: ${JSON.stringify([...byOrigin(states.at(-1)).keys()])}`));
        }, 30_000);
        const test = () => {
          const rules = byOrigin(states.at(-1));
          if (!check(rules)) return false;
          clearTimeout(deadline);
          waiters.delete(test);
          resolve(rules);
          return true;
        };
        if (!test()) waiters.add(test);
      }),
    close,
  };
}

/** Write a node's data, creating it (and its folder) if needed. */
async function put(session: ZooKeeperSession, path: string, text: string): Promise<void> {
  const data = Buffer.from(text, 'utf8');
  if ((await session.exists(path)) === undefined) {
    await session.mkdirp(path.slice(0, path.lastIndexOf('/')));
    await session.create(path, data, 'persistent');
  } else await session.setData(path, data, -1);
}

/** {@link put}, again until it goes through: a writer whose ZooKeeper restarted may lose its session on the way. */
async function putSurely(session: ZooKeeperSession, path: string, text: string): Promise<void> {
  await eventually(
    () =>
      put(session, path, text).then(
        () => true,
        () => false,
      ),
    `${path} to be written`,
  );
}

const ruleOf = (item: LocatedResource | undefined) => (item?.resource as DubboRuleConfig | undefined)?.rule;
const origin = (path: string) => `zookeeper:${path}`;

t.test('a rule node created, changed, emptied, written again and deleted: the source follows each step', async (t) => {
  const folder = '/steps/config/dubbo';
  const harness = await startRules(t, server.connect, { root: '/steps' });
  t.same(harness.states, [[]], 'a missing folder: no rules, emitted at once');
  t.equal(harness.source.configPath, folder);

  const foo = `${folder}/com.Foo::.condition-router`;
  const bar = `${folder}/com.Bar::.condition-router`;
  await put(writer, foo, condition('10.0.0.1'));
  await put(writer, bar, condition('10.0.0.2', 'com.Bar'));
  let rules = await harness.next((rules) => rules.size === 2);
  const first = rules.get(origin(foo))!;
  t.match(ruleOf(first), { kind: 'condition', scope: 'service', key: 'com.Foo::', conditions: ['=> host = 10.0.0.1'] });
  t.equal(first.resource.metadata.namespace, 'default');
  t.equal(first.locate?.(['spec', 'conditions', 0]), `zookeeper:${foo}:5:5: `, 'located in the node text');
  const barBefore = rules.get(origin(bar))!;

  await put(writer, foo, condition('10.0.0.3'));
  rules = await harness.next((rules) => (ruleOf(rules.get(origin(foo))) as { conditions?: unknown[] } | undefined)?.conditions?.[0] === '=> host = 10.0.0.3');
  t.not(rules.get(origin(foo))!.raw, first.raw, 'a changed node: a new raw object');
  t.equal(rules.get(origin(bar))!.raw, barBefore.raw, 'an unchanged node keeps its raw object');
  t.equal(rules.get(origin(bar)), barBefore, 'and its located resource');

  await put(writer, foo, '');
  rules = await harness.next((rules) => !rules.has(origin(foo)));
  t.same([...rules.keys()], [origin(bar)], 'an emptied node is no rule');
  await put(writer, foo, condition('10.0.0.4'));
  await harness.next((rules) => rules.has(origin(foo)));
  await writer.remove(foo);
  rules = await harness.next((rules) => !rules.has(origin(foo)));
  t.same([...rules.keys()], [origin(bar)], 'a deleted node removes its rule');
  t.match(harness.source.details(), { configPath: folder, nodes: 1, rules: { condition: 1, tag: 0, override: 0 }, refused: [], ignored: 0 });
  t.ok(harness.source.connection().connected);
});

t.test("dubbo-admin's documents, verbatim, in their nodes", async (t) => {
  const folder = '/admin/config/dubbo';
  const nodes = {
    condition: `${folder}/com.Foo:1.0.0:.condition-router`,
    application: `${folder}/test-application.condition-router`,
    tag: `${folder}/shop-provider.tag-router`,
    override: `${folder}/com.Foo:1.0.0:.configurators`,
  };
  await put(writer, nodes.condition, CONDITION_V30);
  await put(writer, nodes.application, APP_CONDITION);
  await put(writer, nodes.tag, TAG);
  await put(writer, nodes.override, OVERRIDE);
  const harness = await startRules(t, server.connect, { root: '/admin', namespace: 'dubbo-registry' });
  t.equal(harness.states.length, 1, 'everything in the first state');
  const rules = harness.rules();
  t.match(ruleOf(rules.get(origin(nodes.condition))), { kind: 'condition', configVersion: 'v3.0', scope: 'service', key: 'com.Foo:1.0.0:', force: true });
  t.match(ruleOf(rules.get(origin(nodes.application))), { kind: 'condition', scope: 'application', key: 'test-application', runtime: false });
  t.match(ruleOf(rules.get(origin(nodes.tag))), { kind: 'tag', scope: 'application', key: 'shop-provider', tags: [{ name: 'gray' }] });
  t.match(ruleOf(rules.get(origin(nodes.override))), { kind: 'override', scope: 'service', key: 'com.Foo:1.0.0:', configs: [{ side: 'consumer' }] });
  for (const item of rules.values()) t.equal(item.resource.metadata.namespace, 'dubbo-registry');
  t.match(harness.source.details(), { rules: { condition: 2, tag: 1, override: 1 }, refused: [] });
  // dubbo-admin 0.x writes condition and tag rules with no configVersion: taken, with a warning.
  t.same(
    (harness.source.details().warnings as Array<{ path: string }>).map((warning) => warning.path),
    [nodes.tag, nodes.application].sort(),
    'the two documents with no configVersion are warned about',
  );
});

t.test('an invalid change is refused with its path and every error; the last valid version stays', async (t) => {
  const folder = '/refusal/config/dubbo';
  const node = `${folder}/com.Foo::.condition-router`;
  await put(writer, node, condition('10.0.0.1'));
  const harness = await startRules(t, server.connect, { root: '/refusal' });
  const valid = harness.rules().get(origin(node))!;
  t.ok(valid, 'the valid version is in force');
  const emitted = harness.states.length;

  // Two errors: an unknown configVersion and a condition with no value.
  await put(writer, node, 'configVersion: v9.9\nscope: service\nkey: com.Foo\nconditions:\n  - "method = => host = 1.2.3.4"\n');
  await eventually(() => (harness.source.details().refused as unknown[]).length === 1, 'the refusal');
  const [refused] = harness.source.details().refused as Array<{ path: string; errors: string[]; lastValidInForce: boolean }>;
  t.equal(refused!.path, node);
  t.ok(refused!.lastValidInForce);
  t.match(refused!.errors, [/:1:16: .*spec\.configVersion: /, /:5:5: .*spec\.conditions\[0\]: /], 'every error');
  for (const error of refused!.errors)
    t.match(error, new RegExp(`^zookeeper:${node.replace(/[.]/g, '\\.')}:\\d+:\\d+: DubboRule `), 'each names the path, line and column');
  t.same(harness.source.rejectedResources(), [
    { kind: 'DubboRule', name: `default/${valid.resource.metadata.name}`, origin: origin(node), errors: refused!.errors, lastValidInForce: true },
  ]);
  t.equal(harness.states.length, emitted, 'nothing emitted: the state did not change');
  t.equal(harness.source.rules().get(node), valid, 'the last valid version stays in force');
  const warned = harness.logs.filter((line) => line.level === 'warn' && line.fields.origin === origin(node));
  t.equal(warned.length, 1, 'logged once');
  t.match(warned[0]!.message, /refused, its last valid version stays in force/);

  // Another node changes: the refusal is not logged again.
  const other = `${folder}/com.Other::.condition-router`;
  await put(writer, other, condition('10.0.0.5', 'com.Other'));
  await harness.next((rules) => rules.has(origin(other)));
  t.equal(harness.logs.filter((line) => line.fields.origin === origin(node)).length, 1, 'still logged once');
  t.equal(harness.rules().get(origin(node)), valid, 'the refused node still gives its last valid version');

  // Fixed: the new version replaces it, the refusal is gone.
  await put(writer, node, condition('10.0.0.2'));
  const rules = await harness.next((rules) => rules.get(origin(node)) !== valid);
  t.match(ruleOf(rules.get(origin(node))), { conditions: ['=> host = 10.0.0.2'] });
  t.same(harness.source.details().refused, []);

  // A node that was never valid contributes nothing.
  const never = `${folder}/never.condition-router`;
  await put(writer, never, 'configVersion: v3.0\nscope: application\nkey: never\nconditions: 7\n');
  await eventually(() => (harness.source.details().refused as unknown[]).length === 1, 'the second refusal');
  t.match(harness.source.details().refused, [{ path: never, lastValidInForce: false }]);
  t.notOk(harness.source.rules().has(never));
  t.notOk(harness.rules().has(origin(never)));
  t.match(harness.logs.find((line) => line.fields.origin === origin(never))?.message, /^a config-center rule is refused: /);
});

t.test('a YAML syntax error is refused with its line and column', async (t) => {
  const folder = '/syntax/config/dubbo';
  const node = `${folder}/shop.tag-router`;
  const harness = await startRules(t, server.connect, { root: '/syntax' });
  await put(writer, node, 'configVersion: v3.0\nkey: shop\ntags:\n  - name: gray\n   addresses: [1.2.3.4]\n');
  await eventually(() => (harness.source.details().refused as unknown[]).length === 1, 'the refusal');
  const [refused] = harness.source.details().refused as Array<{ path: string; errors: string[] }>;
  t.equal(refused!.path, node);
  t.match(refused!.errors[0], new RegExp(`^zookeeper:${node.replace(/[.]/g, '\\.')}:5:\\d+: `));
  t.same(harness.states, [[]], 'nothing was ever in force');
});

t.test('children that name no rule are ignored and counted; a node of the wrong kind is refused', async (t) => {
  const folder = '/mixed/config/dubbo';
  await put(writer, `${folder}/dubbo.properties`, 'dubbo.registry.address=zookeeper://127.0.0.1:2181\n');
  await put(writer, `${folder}/shop.script-router`, 'script: x\n');
  await put(writer, `${folder}/.condition-router`, condition('10.0.0.1'));
  await put(writer, `${folder}/shop.migration`, 'key: shop\nstep: FORCE_APPLICATION\n');
  const wrong = `${folder}/com.Foo::.condition-router`;
  await put(writer, wrong, 'configVersion: v3.0\nkey: com.Foo\ntags:\n  - name: gray\n');
  const harness = await startRules(t, server.connect, { root: '/mixed' });
  t.same(harness.states, [[]]);
  const details = harness.source.details();
  t.equal(details.ignored, 4);
  t.same(details.ignoredExamples, ['.condition-router', 'dubbo.properties', 'shop.migration', 'shop.script-router']);
  t.match(details.refused, [
    { path: wrong, errors: [`zookeeper:${wrong}:4:3: a .condition-router node holds a condition rule (conditions), this document is a tag rule (tags)`] },
  ]);
  t.equal(details.nodes, 1, 'only rule nodes are read');
});

t.test("the node's name decides the key: a document naming another is taken under the node's, with a warning", async (t) => {
  const folder = '/renamed/config/dubbo';
  const node = `${folder}/com.Foo:1.0.0:.condition-router`;
  await put(writer, node, condition('10.0.0.1', 'com.Bar'));
  const harness = await startRules(t, server.connect, { root: '/renamed' });
  t.match(ruleOf(harness.rules().get(origin(node))), { key: 'com.Foo:1.0.0:' });
  t.same(harness.source.details().warnings, [
    { path: node, warnings: [`zookeeper:${node}:3:6: key "com.Bar" is not the node's; the node's name decides: "com.Foo:1.0.0:"`] },
  ]);
});

t.test('a new session after an expiry: the folder is listed again, deleted rules removed, changed ones re-read, the rest kept', async (t) => {
  const folder = '/expiry/config/dubbo';
  const nodes = { kept: `${folder}/kept.condition-router`, changed: `${folder}/changed.condition-router`, deleted: `${folder}/deleted.condition-router` };
  const app = (key: string, host: string) => `configVersion: v3.0\nscope: application\nkey: ${key}\nconditions:\n  - => host = ${host}\n`;
  await put(writer, nodes.kept, app('kept', '10.0.0.1'));
  await put(writer, nodes.changed, app('changed', '10.0.0.1'));
  await put(writer, nodes.deleted, app('deleted', '10.0.0.1'));
  const partition = await startTcpPartition({ host: '127.0.0.1', port: server.port });
  t.teardown(() => partition.close());
  const harness = await startRules(t, partition.address, { root: '/expiry' }, 1000);
  const before = harness.rules();
  t.equal(before.size, 3);
  const probe = await harness.session.create('/expiry-probe', undefined, 'ephemeral');
  const emitted = harness.states.length;

  const disconnected = once(harness.session, 'disconnected');
  partition.cut();
  await disconnected;
  t.match(harness.source.connection(), { connected: false, error: /connection lost .* the last rules stay in force/ });
  await put(writer, nodes.changed, app('changed', '10.0.0.2'));
  await writer.remove(nodes.deleted);
  await eventually(async () => (await writer.exists(probe)) === undefined, 'the server to expire the partitioned session');
  t.equal(harness.states.length, emitted, 'nothing emitted while away');

  const started = once(harness.session, 'session-started');
  partition.heal();
  await started;
  const after = await harness.next((rules) => rules.size === 2);
  t.equal(after.get(origin(nodes.kept)), before.get(origin(nodes.kept)), 'an unchanged rule keeps its object');
  t.match(ruleOf(after.get(origin(nodes.changed))), { conditions: ['=> host = 10.0.0.2'] }, 'a changed rule is read again');
  t.notOk(after.has(origin(nodes.deleted)), 'a deleted rule is gone');
  t.equal(harness.states.length, emitted + 1, 'one new state: the difference');
  t.equal(harness.source.details().relists, 1);
  t.ok(harness.source.connection().connected);
  // Watches are set again in the new session.
  await put(writer, nodes.kept, app('kept', '10.0.0.3'));
  await harness.next((rules) => (ruleOf(rules.get(origin(nodes.kept))) as { conditions?: string[] }).conditions?.[0] === '=> host = 10.0.0.3');
});

t.test('ZooKeeper stopped: the rules stay; started again: followed; restarted empty: the rules are removed', async (t) => {
  const local = await startZooKeeper();
  t.teardown(() => local.close());
  const localWriter = new ZooKeeperSession({ connect: local.connect, spinDelayMs: 50, sessionTimeoutMs: 2000 });
  t.teardown(() => localWriter.close());
  await localWriter.start();
  const node = '/dubbo/config/dubbo/shop.condition-router';
  const ruleText = (n: number) => `configVersion: v3.0\nscope: application\nkey: shop\nconditions:\n  - method = m${n} => host = 10.0.0.1\n`;
  await put(localWriter, node, ruleText(1000));
  const harness = await startRules(t, local.connect, {}, 3000);
  const rule = harness.rules().get(origin(node));
  t.ok(rule, 'read from the default root');
  const emitted = harness.states.length;

  const disconnected = once(harness.session, 'disconnected');
  await local.stop();
  await disconnected;
  t.equal(harness.source.connection().connected, false);
  t.match(harness.source.details(), { connected: false });
  t.equal(harness.source.rules().get(node), rule, 'the last rules stay');

  const reconnected = once(harness.session, 'connected');
  await local.start();
  await reconnected;
  await putSurely(localWriter, node, ruleText(2000));
  await harness.next((rules) => rules.get(origin(node)) !== undefined && rules.get(origin(node)) !== rule);
  t.ok(harness.states.length > emitted);

  // Wiped: the server comes back empty; only a new session gets in, and it lists an empty folder.
  const away = once(harness.session, 'disconnected');
  await local.wipe();
  await away;
  await local.start();
  await harness.next((rules) => rules.size === 0);
  t.ok((harness.source.details().relists as number) >= 1);
  // And what is written in the new ZooKeeper is followed.
  await putSurely(localWriter, node, ruleText(3000));
  await harness.next((rules) => rules.size === 1);
});

t.test('a burst of 200 node changes is a few states', async (t) => {
  const folder = '/burst/config/dubbo';
  const harness = await startRules(t, server.connect, { root: '/burst' });
  const app = (i: number, host: string) => `configVersion: v3.0\nscope: application\nkey: app-${i}\nconditions:\n  - => host = ${host}\n`;
  const start = harness.states.length;
  await writer.mkdirp(folder);
  await Promise.all(Array.from({ length: 200 }, (_, i) => writer.create(`${folder}/app-${i}.condition-router`, Buffer.from(app(i, '10.0.0.1')), 'persistent')));
  await harness.next((rules) => rules.size === 200);
  const created = harness.states.length - start;
  t.ok(created <= 15, `200 creations: ${created} states`);
  const mid = harness.states.length;
  await Promise.all(Array.from({ length: 200 }, (_, i) => writer.setData(`${folder}/app-${i}.condition-router`, Buffer.from(app(i, '10.0.0.2')), -1)));
  await harness.next((rules) => [...rules.values()].every((item) => (ruleOf(item) as { conditions?: string[] }).conditions?.[0] === '=> host = 10.0.0.2'));
  const changed = harness.states.length - mid;
  t.ok(changed <= 15, `200 changes: ${changed} states`);
  t.match(harness.source.details(), { nodes: 200, rules: { condition: 200 } });
});

t.test('changes are gathered 100 ms after the last one, and at most 500 ms after the first (on an injected clock)', async (t) => {
  const folder = '/debounce/config/dubbo';
  const clock = new FakeClock(0);
  const harness = await startRules(t, server.connect, { root: '/debounce', clock });
  const app = (key: string) => `configVersion: v3.0\nscope: application\nkey: ${key}\nconditions:\n  - => host = 10.0.0.1\n`;
  const read = async (name: string) => {
    const reads = harness.source.details().reads as number;
    await put(writer, `${folder}/${name}.condition-router`, app(name));
    await eventually(() => (harness.source.details().reads as number) > reads, `${name} to be read`);
  };
  t.same(harness.states, [[]]);
  await read('a');
  clock.advance(99);
  t.equal(harness.states.length, 1, 'not before 100 ms of quiet');
  clock.advance(1);
  t.equal(harness.states.length, 2, 'after 100 ms of quiet');
  t.equal(harness.rules().size, 1);

  // A change every 90 ms: never 100 ms of quiet, so the longest wait decides.
  await read('b');
  for (let i = 0; i < 5; i++) {
    clock.advance(90);
    await read(`c${i}`);
  }
  t.equal(harness.states.length, 2, 'nothing yet at 450 ms');
  clock.advance(50);
  t.equal(harness.states.length, 3, 'emitted 500 ms after the first change');
  t.equal(harness.rules().size, 7, 'with every change so far');
});
