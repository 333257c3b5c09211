// A DubboPlugin's filter on a real proxy: apache-dubbo-js → the outbound proxy → a provider that
// records the attachments it gets. The plugin is reached through a scripted invoker (what the
// plugin answers, or how it fails, is the test's), and every timer runs on a fake clock.
import t, { type Test } from 'tap';
import type { DubboPluginConfig } from '@dubbo-mesh/config';
import { PluginBreaker, PluginFilter, PluginStats, type PluginAnswer, type PluginInvoker, type PluginRequest } from '@dubbo-mesh/plugins';
import { DubboProxy } from '@dubbo-mesh/proxy';
import { FakeClock, USER_SERVICE, eventually, makeUser, startTestProvider, userValue } from '@dubbo-mesh/test-support';
import { userClient } from '../../proxy/test/fixtures/consumer.js';
import { buildConfig } from '../../proxy/test/fixtures/mesh.js';

/** A plugin whose answers the test scripts; every request it got is kept. */
class ScriptedInvoker implements PluginInvoker {
  readonly requests: PluginRequest[] = [];
  constructor(public answer: (request: PluginRequest) => PluginAnswer | Promise<PluginAnswer>) {}
  invoke(request: PluginRequest): PluginAnswer | Promise<PluginAnswer> {
    this.requests.push(request);
    return this.answer(request);
  }
  describe(): Record<string, unknown> {
    return { scripted: true };
  }
}

function pluginConfig(spec: object, name = 'auth'): DubboPluginConfig {
  return buildConfig([{ apiVersion: 'dubbo-mesh.io/v1alpha1', kind: 'DubboPlugin', metadata: { name }, spec }]).plugins[0]!;
}

async function setup(t: Test, spec: object, answer: ScriptedInvoker['answer']) {
  const received: Array<Record<string, unknown>> = [];
  const provider = await startTestProvider({
    services: {
      [USER_SERVICE]: {
        getUser: ([id], request) => {
          received.push({ ...request.attachments });
          return userValue(makeUser(id as number));
        },
      },
    },
  });
  const clock = new FakeClock();
  const proxy = new DubboProxy({ node: 'consumer-1', role: 'proxy', service: 'web', ip: '10.1.2.3', outbound: { host: '127.0.0.1', port: 0 }, clock });
  await proxy.start();
  proxy.applySnapshot(
    buildConfig([
      {
        apiVersion: 'dubbo-mesh.io/v1alpha1',
        kind: 'DubboService',
        metadata: { name: 'user-provider' },
        spec: { interfaces: [USER_SERVICE], endpoints: [{ address: provider.address }] },
      },
    ]),
    'v1',
  );
  const config = pluginConfig(spec);
  const invoker = new ScriptedInvoker(answer);
  const lines: string[] = [];
  const breaker = new PluginBreaker(config.circuitBreaker, () => clock.now());
  const stats = new PluginStats();
  const filter = new PluginFilter(config, invoker, stats, breaker, { clock, node: proxy.node, log: (line) => lines.push(line) });
  proxy.setFilterChain({ filters: [filter] });
  const client = userClient(`127.0.0.1:${proxy.addresses().outbound!.port}`);
  t.teardown(async () => {
    client.close();
    await proxy.destroy();
    await provider.close();
  });
  return { proxy, provider, received, clock, invoker, lines, breaker, stats, client };
}

t.test('request phase: attachments added, replaced and removed reach the provider; the plugin sees the call and who makes it', async (t) => {
  const s = await setup(t, { tag: 'tenant=a', phases: ['request', 'response'], module: '/unused.mjs' }, (request) =>
    request.phase === 'REQUEST' ? { code: 0, set_attachments: { 'x-user': 'alice', 'x-token': '', 'x-tier': 'gold' } } : undefined,
  );
  const answer = await s.client.getUserWith(7, { 'x-token': 'secret', 'x-tier': 'silver', 'x-keep': 'k' });
  t.equal((answer.res as { id: number }).id, 7);
  t.equal(s.received.length, 1);
  t.equal(s.received[0]!['x-user'], 'alice', 'added');
  t.equal(s.received[0]!['x-tier'], 'gold', 'replaced');
  t.notOk('x-token' in s.received[0]!, 'removed with an empty value');
  t.equal(s.received[0]!['x-keep'], 'k', 'the others as they were');
  const [request, response] = s.invoker.requests;
  t.match(request, {
    tag: 'tenant=a',
    phase: 'REQUEST',
    service: USER_SERVICE,
    group: '',
    version: '1.0.0',
    method: 'getUser',
    application: 'dubbo-js',
    status: 0,
    attachments: { 'x-token': 'secret', 'x-tier': 'silver', 'x-keep': 'k', timeout: '5000' },
  });
  t.match(request!.source_address, /^10\.1\.2\.3:\d+$/, 'a loopback consumer is the instance IP, with its port');
  t.match(response, { phase: 'RESPONSE', status: 20, id: request!.id, attachments: { 'x-user': 'alice', 'x-tier': 'gold' } });
  t.notOk('x-token' in response!.attachments, 'the response phase sees the request as sent');
  t.not(request!.id, '');
  await s.client.getUserWith(8, {});
  t.not(s.invoker.requests[2]!.id, request!.id, 'one id per call');
  t.same(s.stats.toJSON(), { ...s.stats.toJSON(), calls: 4, rejections: 0, errors: 0, timeouts: 0, short_circuited: 0 });
});

t.test('a rejection answers the call with the plugin status and message; the provider never sees it', async (t) => {
  const s = await setup(t, { module: '/unused.mjs' }, (request) =>
    request.attachments['x-token'] === 'good' ? undefined : { code: 40, message: `no valid x-token for ${request.method}` },
  );
  const denied = await s.client.getUserWith(1, { 'x-token': 'bad' });
  t.match(denied.err?.message, /dubbo-mesh \[DM_ERR_FILTER_REPLY\]: plugin default\/auth: no valid x-token for getUser/);
  t.equal(s.received.length, 0, 'the provider never saw it');
  const allowed = await s.client.getUserWith(2, { 'x-token': 'good' });
  t.equal((allowed.res as { id: number }).id, 2);
  t.equal(s.received.length, 1);
  t.match(s.stats.toJSON(), { calls: 2, rejections: 1, request: { ok: 1, rejected: 1 } });
});

t.test('a response-phase rejection replaces the provider answer', async (t) => {
  const s = await setup(t, { phases: ['response'], module: '/unused.mjs' }, (request) =>
    request.status === 20 ? { code: 80, message: 'the answer may not leave' } : undefined,
  );
  const answer = await s.client.getUserWith(3, {});
  t.match(answer.err?.message, /plugin default\/auth: the answer may not leave/);
  t.equal(s.received.length, 1, 'the provider did answer');
  t.same(
    s.invoker.requests.map((r) => r.phase),
    ['RESPONSE'],
    'a response-only plugin is not called in the request phase',
  );
});

t.test('answers outside the API are plugin failures: fail-closed answers 70 naming why', async (t) => {
  let next: unknown;
  const s = await setup(t, { module: '/unused.mjs', circuitBreaker: { consecutiveFailures: 100 } }, () => next as PluginAnswer);
  const cases: Array<[unknown, RegExp]> = [
    [{ code: 20 }, /answered code 20, which is neither 0 nor a Dubbo error status/],
    [{ code: 7 }, /answered code 7/],
    [{ code: 1.5 }, /code must be a whole number such as 0 or 70, got a number \(1.5\)/],
    ['yes', /answered a string \("yes"\), not an object \{code, set_attachments, message\} or nothing/],
    [[1], /answered an array/],
    [{ set_attachments: { a: 1 } }, /set_attachments\["a"\] must be a string \('' removes it\), got a number \(1\)/],
    [{ set_attachments: 'a=b' }, /set_attachments must be an object of strings, got a string/],
    [{ set_attachments: { group: 'other' } }, /set_attachments.group: the service key .* is the consumer's/],
    [{ message: 5, code: 70 }, /message must be a string, got a number \(5\)/],
    [{ code: 0, setAttachments: { 'x-a': 'b' } }, /unknown field "setAttachments" \(an answer has code, set_attachments, message\)/],
  ];
  for (const [answer, why] of cases) {
    next = answer;
    const result = await s.client.getUserWith(1, {});
    t.match(result.err?.message, /plugin default\/auth: plugin failed \(fail-closed\): /, JSON.stringify(answer));
    t.match(result.err?.message, why);
  }
  t.equal(s.received.length, 0);
  t.equal(s.stats.toJSON().errors, cases.length);
  t.equal(s.lines.length, 1, 'a run of failures is logged once');
  t.match(s.lines[0], /plugin default\/auth: request phase failed: .*calls are answered 70 \(failurePolicy fail-closed\)/);
  next = undefined;
  t.equal(((await s.client.getUserWith(5, {})).res as { id: number }).id, 5);
  t.match(s.lines[1], /answers again/);
});

t.test('fail-open: a plugin that throws lets the call go on unchanged', async (t) => {
  const s = await setup(t, { module: '/unused.mjs', failurePolicy: 'fail-open' }, () => {
    throw new Error('boom');
  });
  const answer = await s.client.getUserWith(4, { 'x-a': 'b' });
  t.equal((answer.res as { id: number }).id, 4);
  t.equal(s.received[0]!['x-a'], 'b');
  t.equal(s.stats.toJSON().errors, 1);
});

t.test('a plugin past its timeout (on the proxy clock): fail-open passes, fail-closed answers 70', async (t) => {
  for (const policy of ['fail-open', 'fail-closed'] as const) {
    await t.test(policy, async (t) => {
      const s = await setup(t, { module: '/unused.mjs', timeout: '50ms', failurePolicy: policy }, (request) =>
        request.attachments.slow === 'yes' ? new Promise<PluginAnswer>(() => {}) : undefined,
      );
      const pending = s.client.getUserWith(9, { slow: 'yes' });
      await eventually(() => s.invoker.requests.length === 1, 'the plugin called');
      s.clock.advance(49);
      await new Promise((resolve) => setImmediate(resolve));
      t.equal(s.received.length, 0, 'still waiting 1 ms before the timeout');
      s.clock.advance(1);
      const answer = await pending;
      if (policy === 'fail-open') t.equal((answer.res as { id: number }).id, 9);
      else t.match(answer.err?.message, /plugin default\/auth: plugin failed \(fail-closed\): timed out \(no answer within 50 ms\)/);
      t.equal(s.stats.toJSON().timeouts, 1);
    });
  }
});

t.test('the breaker: failures in a row stop the calls to the plugin for openFor, then one probe closes it', async (t) => {
  let down = true;
  const s = await setup(t, { module: '/unused.mjs', failurePolicy: 'fail-open', circuitBreaker: { consecutiveFailures: 3, openFor: '10s' } }, () => {
    if (down) throw new Error('UNAVAILABLE: connection refused');
    return undefined;
  });
  for (let i = 0; i < 3; i++) t.equal(((await s.client.getUserWith(i, {})).res as { id: number }).id, i);
  t.equal(s.invoker.requests.length, 3);
  t.equal(s.breaker.state, 'open');
  for (let i = 0; i < 5; i++) await s.client.getUserWith(i, {});
  t.equal(s.invoker.requests.length, 3, 'open: the plugin is not called');
  t.match(s.stats.toJSON(), { errors: 3, short_circuited: 5 });
  t.match(s.lines.join('\n'), /circuit breaker open for 10000 ms after 3 failures in a row/);
  down = false;
  s.clock.advance(10_000);
  await s.client.getUserWith(1, {});
  t.equal(s.invoker.requests.length, 4, 'the probe');
  t.equal(s.breaker.state, 'closed');
  t.match(s.lines.at(-1), /circuit breaker closed/);
});

t.test('fail-closed while short-circuited answers 70 at once, saying when the plugin is tried again', async (t) => {
  const s = await setup(t, { module: '/unused.mjs', circuitBreaker: { consecutiveFailures: 1, openFor: '2s' } }, () => {
    throw new Error('down');
  });
  await s.client.getUserWith(1, {});
  s.clock.advance(500);
  const answer = await s.client.getUserWith(2, {});
  t.match(answer.err?.message, /plugin failed \(fail-closed\): short-circuited: it failed 1 times in a row, probed again in 1500 ms/);
  t.equal(s.invoker.requests.length, 1);
});

t.test('services select the calls by interface', async (t) => {
  const other = await setup(t, { module: '/unused.mjs', services: ['org.example.*', 'com.Other'] }, () => ({ code: 70, message: 'no' }));
  t.equal(((await other.client.getUserWith(1, {})).res as { id: number }).id, 1, 'not selected: the plugin does not run');
  t.equal(other.invoker.requests.length, 0);
  const mine = await setup(t, { module: '/unused.mjs', services: ['org.apache.dubbo.*.UserService'] }, () => ({ code: 70, message: 'no' }));
  t.match((await mine.client.getUserWith(1, {})).err?.message, /plugin default\/auth: no/);
});
