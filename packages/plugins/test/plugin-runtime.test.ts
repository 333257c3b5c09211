// The plugin runtime composed into a real proxy: DubboPlugin resources of each snapshot become
// filters in order, in-process modules are loaded from real files, plugins that do not change
// keep their filter (and breaker) across snapshots, and attachments set by a plugin are seen
// by the route rules (plugins run before routing).
import t, { type Test } from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PluginRuntime, servePluginModule } from '@dubbo-mesh/plugins';
import { DubboProxy } from '@dubbo-mesh/proxy';
import { USER_SERVICE, eventually, makeUser, startTestProvider, userValue, type TestProvider } from '@dubbo-mesh/test-support';
import { userClient } from '../../proxy/test/fixtures/consumer.js';
import { buildConfig } from '../../proxy/test/fixtures/mesh.js';

const API = 'dubbo-mesh.io/v1alpha1';

function plugin(name: string, spec: object): object {
  return { apiVersion: API, kind: 'DubboPlugin', metadata: { name }, spec };
}

async function setup(t: Test, options: { providerGate?: () => Promise<void> } = {}) {
  const dir = await mkdtemp(path.join(tmpdir(), 'dubbo-mesh-plugins-'));
  const providers: TestProvider[] = [];
  const received: Array<{ version: string; attachments: Record<string, unknown> }> = [];
  for (const version of ['v1', 'v2']) {
    providers.push(
      await startTestProvider({
        services: {
          [USER_SERVICE]: {
            getUser: async ([id], request) => {
              received.push({ version, attachments: { ...request.attachments } });
              await options.providerGate?.();
              return userValue({ ...makeUser(id as number), name: version });
            },
          },
        },
      }),
    );
  }
  const lines: string[] = [];
  const runtime = new PluginRuntime({ log: (line) => lines.push(line) });
  const proxy = new DubboProxy({ node: 'consumer-1', role: 'proxy', outbound: { host: '127.0.0.1', port: 0 }, extensions: [runtime] });
  await proxy.start();
  const service = {
    apiVersion: API,
    kind: 'DubboService',
    metadata: { name: 'user-provider' },
    spec: { interfaces: [USER_SERVICE], endpoints: providers.map((p, i) => ({ address: p.address, labels: { version: `v${i + 1}` } })) },
  };
  const policy = {
    apiVersion: API,
    kind: 'DubboPolicy',
    metadata: { name: 'user-provider' },
    spec: {
      service: 'user-provider',
      subsets: [
        { name: 'v1', labels: { version: 'v1' } },
        { name: 'v2', labels: { version: 'v2' } },
      ],
    },
  };
  let version = 0;
  const apply = (...resources: object[]) => proxy.applySnapshot(buildConfig([service, policy, ...resources]), `v${++version}`);
  const client = userClient(`127.0.0.1:${proxy.addresses().outbound!.port}`);
  const module = async (name: string, text: string) => {
    const file = path.join(dir, name);
    await writeFile(file, text);
    return file;
  };
  t.teardown(async () => {
    client.close();
    await proxy.destroy();
    for (const provider of providers) await provider.close();
    await rm(dir, { recursive: true, force: true });
  });
  return { proxy, runtime, received, apply, client, module, lines, dir };
}

t.test('plugins run in order (then by name); the second sees what the first set; a module waits for its first load', async (t) => {
  const s = await setup(t);
  const first = await s.module('first.mjs', `export default (r) => ({ set_attachments: { 'x-seen': (r.attachments['x-seen'] ?? '') + 'first,' } });`);
  const second = await s.module(
    'second.cjs',
    `module.exports = { execute: (r) => ({ set_attachments: { 'x-seen': (r.attachments['x-seen'] ?? '') + 'second:' + r.tag } }) };`,
  );
  // Declared out of order: order decides, then namespace/name (b-… before c-… at the same order).
  s.apply(
    plugin('c-second', { module: second, order: 5, tag: 'two' }),
    plugin('a-late', { module: first, order: 9 }),
    plugin('b-first', { module: first, order: 5 }),
  );
  t.same(
    s.runtime.plugins.map((p) => p.id),
    ['default/b-first', 'default/c-second', 'default/a-late'],
  );
  const answer = await s.client.getUserWith(1, {});
  t.equal((answer.res as { id: number }).id, 1);
  t.equal(s.received[0]!.attachments['x-seen'], 'first,second:twofirst,');
  t.match(s.lines.join('\n'), /first\.mjs: loaded \(version 1/);
});

t.test('an unchanged plugin keeps its filter, breaker and stats across snapshots; a changed one gets a new filter; a removed one goes', async (t) => {
  const s = await setup(t);
  const file = await s.module('p.mjs', `export default () => undefined;`);
  s.apply(plugin('p', { module: file }));
  const chain = s.proxy.filterChain;
  const [filter] = s.runtime.plugins;
  await s.client.getUserWith(1, {});
  s.apply(plugin('p', { module: file }));
  t.equal(s.proxy.filterChain, chain, 'the same chain: nothing changed');
  t.equal(s.runtime.plugins[0], filter);
  s.apply(plugin('p', { module: file, tag: 'new' }));
  t.not(s.runtime.plugins[0], filter, 'a changed plugin is a new filter');
  t.not(s.proxy.filterChain, chain);
  t.match((s.runtime.stats() as Record<string, { calls: number }>)['default/p'], { calls: 1 }, 'its stats stay');
  await s.client.getUserWith(2, {});
  t.match((s.runtime.stats() as Record<string, { calls: number }>)['default/p'], { calls: 2 });
  s.apply();
  t.equal(s.runtime.plugins.length, 0);
  t.equal(s.proxy.filterChain, undefined, 'no plugin, no chain: calls take the plain path');
  t.same(s.runtime.stats(), {});
  t.equal(s.runtime.prometheus('consumer-1'), '');
});

t.test('attachments a plugin sets are matched by DubboRoute rules: plugins run before routing', async (t) => {
  const s = await setup(t);
  const tenant = await s.module(
    'tenant.mjs',
    `export default (r) => ({ set_attachments: { 'x-tenant': r.attachments['x-user'] === 'alice' ? 'gold' : 'basic' } });`,
  );
  const route = {
    apiVersion: API,
    kind: 'DubboRoute',
    metadata: { name: 'by-tenant' },
    spec: {
      hosts: [USER_SERVICE],
      routes: [
        { name: 'gold', match: [{ attachments: { 'x-tenant': { exact: 'gold' } } }], destinations: [{ service: 'user-provider', subset: 'v2' }] },
        { name: 'rest', destinations: [{ service: 'user-provider', subset: 'v1' }] },
      ],
    },
  };
  s.apply(route, plugin('tenant', { module: tenant }));
  for (let i = 0; i < 4; i++) {
    t.equal(((await s.client.getUserWith(i, { 'x-user': 'alice' })).res as { name: string }).name, 'v2', 'alice: gold, v2');
    t.equal(((await s.client.getUserWith(i, { 'x-user': 'bob' })).res as { name: string }).name, 'v1', 'bob: basic, v1');
  }
  t.equal(s.proxy.stats.counters.request_rerouted, 4, 'the gold calls took another rule than the one they were first given');
});

t.test('a module that cannot load: the failure policy answers until it loads; the proxy reports it', async (t) => {
  const s = await setup(t);
  const file = path.join(s.dir, 'later.mjs');
  s.apply(plugin('later', { module: file, failurePolicy: 'fail-closed' }));
  const denied = await s.client.getUserWith(1, {});
  t.match(denied.err?.message, /plugin default\/later: plugin failed \(fail-closed\): module not loaded: plugin module .*later\.mjs: no such file/);
  await writeFile(file, `export default () => ({ set_attachments: { 'x-loaded': 'yes' } });`);
  await eventually(async () => (await s.client.getUserWith(2, {})).err === null, 'the module loaded once written');
  t.equal(s.received.at(-1)!.attachments['x-loaded'], 'yes');
  // Five failures opened its breaker (10 s); the module loading closed it at once, not 10 s later.
  t.match(s.lines.join('\n'), /circuit breaker open for 10000 ms[\s\S]*circuit breaker closed: the plugin was replaced \(1\)/);
  const stats = (s.runtime.stats() as Record<string, Record<string, unknown>>)['default/later']!;
  t.match(stats, { version: 1, loads: 1, lastError: null });
  t.ok((stats.failedLoads as number) >= 1);
  t.match(s.runtime.configDump(), [{ plugin: 'default/later', phases: ['request'], failurePolicy: 'fail-closed', breaker: 'closed', version: 1 }]);
  t.match(
    s.runtime.prometheus('consumer-1'),
    /dubbo_mesh_plugin_calls_total\{node="consumer-1",plugin="default\/later",phase="request",outcome="error"\} [1-9]\d*\n/,
  );
});

t.test('a gRPC plugin removed while a call waits for its response phase: the call still finishes on it', async (t) => {
  let release: () => void = () => {};
  let gated = false;
  const gate = () => (gated ? new Promise<void>((resolve) => (release = resolve)) : Promise.resolve());
  const s = await setup(t, { providerGate: gate });
  const file = await s.module(
    'stamp.mjs',
    `export default (r) => r.phase === 'RESPONSE' ? { code: r.attachments['x-deny'] ? 70 : 0, message: 'denied late' } : undefined;`,
  );
  const server = await servePluginModule({ file, host: '127.0.0.1', port: 0 });
  t.teardown(() => server.close());
  s.apply(plugin('late', { grpc: { address: server.address, timeout: '5s' }, phases: ['request', 'response'] }));
  t.equal(((await s.client.getUserWith(1, {})).res as { id: number }).id, 1, 'the plugin answers');
  gated = true;
  const pending = s.client.getUserWith(2, { 'x-deny': 'yes' });
  await eventually(() => s.received.length === 2, 'the provider holding the call');
  s.apply(); // the plugin goes: its channel has no call in flight, so it closes now
  release();
  const answer = await pending;
  t.match(answer.err?.message, /plugin default\/late: denied late/, 'the response phase ran on the removed plugin, with a client made again');
});

t.test('a snapshot the proxy refuses leaves the plugins in force working', async (t) => {
  const s = await setup(t);
  const file = await s.module('ok.mjs', `export default () => ({ set_attachments: { 'x-by': 'grpc' } });`);
  const server = await servePluginModule({ file, host: '127.0.0.1', port: 0 });
  t.teardown(() => server.close());
  s.apply(plugin('keep', { grpc: { address: server.address } }));
  await s.client.getUserWith(1, {});
  t.equal(s.received.at(-1)!.attachments['x-by'], 'grpc');
  // A filter of the proxy's own with the name a new plugin takes: the new chain is refused.
  s.proxy.setFilterChain({ filters: [{ name: 'plugin default/clash', onRequest: () => undefined }] });
  t.throws(() => s.apply(plugin('clash', { module: file })), /two filters or endpoint narrowings are named "plugin default\/clash"/);
  t.same(
    s.runtime.plugins.map((p) => p.id),
    ['default/keep'],
  );
  await s.client.getUserWith(2, {});
  t.equal(s.received.at(-1)!.attachments['x-by'], 'grpc', 'the plugin in force still reaches its server');
  t.same(Object.keys(s.runtime.stats()), ['default/keep']);
});

t.test('a module plugin reads attachments as a plain object: one by one, listed, in, spread, JSON, changed on its copy', async (t) => {
  const s = await setup(t);
  const file = await s.module(
    'view.mjs',
    `export default (r) => {
      const a = r.attachments;
      const one = a['x-a'];
      a['x-local'] = 'mine';           // its own copy: the call is changed by set_attachments only
      delete a['x-b'];
      return { set_attachments: {
        'x-one': String(one),
        'x-missing': String(a['x-none']),
        'x-has': String('x-a' in a) + String('x-none' in a) + String('x-local' in a),
        'x-keys': Object.keys(a).filter((k) => k.startsWith('x-')).sort().join(','),
        'x-json': JSON.stringify({ ...a }['x-a']),
      } };
    };`,
  );
  s.apply(plugin('view', { module: file }));
  const answer = await s.client.getUserWith(1, { 'x-a': 'A', 'x-b': 'B' });
  t.equal(answer.err, null);
  t.match(s.received.at(-1)!.attachments, {
    'x-one': 'A',
    'x-missing': 'undefined',
    'x-has': 'truefalsetrue',
    'x-keys': 'x-a,x-local',
    'x-json': '"A"',
    'x-b': 'B',
  });
  t.notOk('x-local' in s.received.at(-1)!.attachments, 'what the module wrote on its copy does not reach the provider');
});
