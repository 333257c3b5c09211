// DubboPlugins end to end with real parts: a gRPC plugin server written from the proto alone
// (plain @grpc/grpc-js, none of our code), DubboPlugin resources in the control plane's config
// folder delivered to a consumer proxy, apache-dubbo-js and a raw-socket consumer calling
// through it, and providers that record the attachments they got. Each scenario checks what
// the consumer got, what the provider saw, what the plugin was sent, and the proxy's /stats and
// /metrics against the calls made.
import net from 'node:net';
import t from 'tap';
import { USER_SERVICE, eventually } from '@dubbo-mesh/test-support';
import { startPluginServer, type ReceivedPluginRequest } from './fixtures/plugins/grpc-plugin-server.js';
import { NODE, sample, startPluginMesh } from './fixtures/plugins/plugin-mesh.js';

const mesh = await startPluginMesh(t);
const plugin = await startPluginServer();
t.teardown(() => plugin.close());

/** A DubboPlugin document for USER_SERVICE; `spec` lines are indented under `spec:`. */
function pluginDoc(name: string, ...spec: string[]): string {
  return `---
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboPlugin
metadata: {name: ${name}}
spec:
  services: ["org.apache.dubbo.benchmark.service.*"]
${spec.map((line) => `  ${line}`).join('\n')}
`;
}

/** `dubbo_mesh_plugin_calls_total` of one plugin, phase and outcome. */
async function callsTotal(name: string, phase: 'request' | 'response', outcome: string): Promise<number | undefined> {
  return sample(await mesh.metrics(), 'dubbo_mesh_plugin_calls_total', { node: NODE.id, plugin: `default/${name}`, phase, outcome });
}

/** A port nothing listens on (bound, then closed): connecting to it is refused. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const REPLY = 'dubbo-mesh [DM_ERR_FILTER_REPLY]: plugin default';

t.test('attachments set and removed by a plugin reach the provider; the plugin gets every field of the call, the same id in both phases', async (t) => {
  plugin.behave('enrich', (request) => (request.phase === 'REQUEST' ? { set_attachments: { 'x-user': 'alice', 'x-drop': '' } } : { code: 0 }));
  await mesh.apply(pluginDoc('enrich', 'phases: [request, response]', 'tag: enrich', `grpc: {address: "${plugin.address}", timeout: 5s}`), ['enrich']);

  // apache-dubbo-js, with attachments of its own.
  const id = mesh.nextId();
  const answer = await mesh.client.getUserWith(id, { 'x-drop': 'secret', 'x-keep': 'kept' });
  t.equal(answer.err, null, 'the call succeeds');
  const saw = mesh.saw(id)!;
  t.ok(saw, 'the provider got the call');
  t.equal(saw.attachments['x-user'], 'alice', 'the attachment the plugin set reaches the provider');
  t.equal(saw.attachments['x-keep'], 'kept', "the consumer's own attachment is kept");
  t.notOk('x-drop' in saw.attachments, 'the attachment the plugin removed (empty value) is gone');
  t.equal(saw.attachments.path, USER_SERVICE, 'the service key attachments are untouched');

  const [request, response, ...more] = plugin.tagged('enrich');
  t.same(more, [], 'one request per phase');
  t.match(request, {
    tag: 'enrich',
    phase: 'REQUEST',
    service: USER_SERVICE,
    group: '',
    version: '1.0.0',
    method: 'getUser',
    attachments: { 'x-drop': 'secret', 'x-keep': 'kept', path: USER_SERVICE },
    // The application beside the proxy called over loopback: the instance's IP and its port.
    source_address: /^10\.0\.0\.7:\d+$/,
    // apache-dubbo-js names itself in the `application` attachment.
    application: 'dubbo-js',
    status: 0,
  });
  t.equal(request!.attachments.application, 'dubbo-js');
  t.notOk('x-user' in request!.attachments, 'the request phase sees the call as the consumer sent it');
  t.match(response, {
    tag: 'enrich',
    phase: 'RESPONSE',
    service: USER_SERVICE,
    version: '1.0.0',
    method: 'getUser',
    status: 20,
    source_address: request!.source_address,
  });
  t.ok(request!.id !== '' && request!.id === response!.id, `the same id in both phases (${request!.id})`);

  // The raw consumer: its own port, and its application named by remote.application.
  const second = mesh.nextId();
  t.match(await mesh.raw.getUser(second, { 'remote.application': 'web' }), { status: 20 });
  t.equal(mesh.saw(second)?.attachments['x-user'], 'alice');
  const [request2, response2] = plugin.tagged('enrich').slice(2);
  t.match(request2, { phase: 'REQUEST', application: 'web', source_address: `10.0.0.7:${mesh.raw.localPort}` });
  t.equal(response2?.id, request2?.id, 'the same id in both phases');
  t.not(request2?.id, request!.id, 'another call, another id');
  // A consumer that names no application: the proxy's own service.
  t.match(await mesh.raw.getUser(mesh.nextId()), { status: 20 });
  t.match(plugin.tagged('enrich')[4], { phase: 'REQUEST', application: NODE.service });

  const stats = (await mesh.stats())['default/enrich']!;
  t.match(stats, { calls: 6, rejections: 0, errors: 0, timeouts: 0, short_circuited: 0, breaker: 'closed', request: { ok: 3 }, response: { ok: 3 } });
  const metrics = await mesh.metrics();
  const labels = { node: NODE.id, plugin: 'default/enrich' };
  t.equal(sample(metrics, 'dubbo_mesh_plugin_calls_total', { ...labels, phase: 'request', outcome: 'ok' }), 3);
  t.equal(sample(metrics, 'dubbo_mesh_plugin_calls_total', { ...labels, phase: 'response', outcome: 'ok' }), 3);
  t.equal(sample(metrics, 'dubbo_mesh_plugin_calls_total', { ...labels, phase: 'request', outcome: 'error' }), 0);
  t.equal(sample(metrics, 'dubbo_mesh_plugin_duration_seconds_count', { ...labels, phase: 'request' }), 3);
  t.equal(sample(metrics, 'dubbo_mesh_plugin_duration_seconds_bucket', { ...labels, phase: 'response', le: '+Inf' }), 3);
  t.equal(sample(metrics, 'dubbo_mesh_plugin_breaker_open', labels), 0);
});

t.test('a request-phase rejection: the consumer gets the status and the message, the provider never sees the call', async (t) => {
  plugin.behave('login', (request) =>
    request.attachments['x-token'] === 'good' ? { set_attachments: { 'x-user': 'bob' } } : { code: 40, message: 'no valid x-token' },
  );
  await mesh.apply(pluginDoc('login', 'tag: login', `grpc: {address: "${plugin.address}", timeout: 5s}`), ['login']);
  const before = mesh.providerCalls;

  const id = mesh.nextId();
  const denied = await mesh.client.getUserWith(id, { 'x-token': 'forged' });
  t.match(denied.err?.message, /DM_ERR_FILTER_REPLY\]: plugin default\/login: no valid x-token/, "apache-dubbo-js sees the plugin's message");
  const raw = await mesh.raw.getUser(mesh.nextId());
  t.same(raw, { status: 40, message: `${REPLY}/login: no valid x-token` }, "the raw consumer sees the plugin's status and message");
  t.equal(mesh.providerCalls, before, 'no provider got a rejected call');
  t.equal(mesh.saw(id), undefined);

  const allowed = mesh.nextId();
  t.match(await mesh.raw.getUser(allowed, { 'x-token': 'good' }), { status: 20 }, 'a call with a valid token passes');
  t.equal(mesh.saw(allowed)?.attachments['x-user'], 'bob');
  t.equal(mesh.providerCalls, before + 1, 'only the allowed call reached a provider');

  t.match((await mesh.stats())['default/login'], { calls: 3, rejections: 2, errors: 0, request: { ok: 1, rejected: 2 } });
  t.equal(await callsTotal('login', 'request', 'rejected'), 2);
  t.equal(await callsTotal('login', 'request', 'ok'), 1);
});

t.test("a response-phase rejection: the provider answered, the consumer gets the plugin's status instead", async (t) => {
  plugin.behave('withhold', () => ({ code: 50, message: 'answer withheld' }));
  await mesh.apply(pluginDoc('withhold', 'phases: [response]', 'tag: withhold', `grpc: {address: "${plugin.address}", timeout: 5s}`), ['withhold']);

  const id = mesh.nextId();
  t.same(await mesh.raw.getUser(id), { status: 50, message: `${REPLY}/withhold: answer withheld` });
  t.ok(mesh.saw(id), 'the provider did answer the call');
  const js = mesh.nextId();
  t.match((await mesh.client.getUser(js)).err?.message, /plugin default\/withhold: answer withheld/);
  t.ok(mesh.saw(js));

  const requests = plugin.tagged('withhold');
  t.equal(requests.length, 2, 'called once per call: the response phase only');
  t.match(requests, [
    { phase: 'RESPONSE', status: 20, method: 'getUser' },
    { phase: 'RESPONSE', status: 20, method: 'getUser' },
  ]);
  t.match((await mesh.stats())['default/withhold'], { calls: 2, rejections: 2, request: { ok: 0, rejected: 0 }, response: { rejected: 2 } });
  t.equal(await callsTotal('withhold', 'response', 'rejected'), 2);
});

t.test('two plugins run in order (order, not name); the second sees what the first set; tags as configured', async (t) => {
  const TAG = 'second; mode=strict';
  plugin.behave('first', () => ({ set_attachments: { 'x-first': 'one' } }));
  plugin.behave(TAG, (request) => ({ set_attachments: { 'x-second': `after ${request.attachments['x-first'] ?? 'nothing'}` } }));
  await mesh.apply(
    pluginDoc('a-second', 'order: 20', `tag: "${TAG}"`, `grpc: {address: "${plugin.address}", timeout: 5s}`) +
      pluginDoc('z-first', 'order: 10', 'tag: first', `grpc: {address: "${plugin.address}", timeout: 5s}`),
    ['a-second', 'z-first'],
  );
  const dump = (await (await fetch(`http://127.0.0.1:${mesh.sidecar.adminPort}/config_dump`)).json()) as {
    plugins: Array<{ plugin: string; order: number; tag: string }>;
  };
  t.match(dump.plugins, [
    { plugin: 'default/z-first', order: 10, tag: 'first' },
    { plugin: 'default/a-second', order: 20, tag: TAG },
  ]);

  const ids = [mesh.nextId(), mesh.nextId(), mesh.nextId()];
  for (const id of ids) t.equal((await mesh.client.getUser(id)).err, null);
  for (const id of ids)
    t.match(mesh.saw(id)?.attachments, { 'x-first': 'one', 'x-second': 'after one' }, 'the provider sees both, the second built on the first');

  const first = plugin.tagged('first');
  const second = plugin.tagged(TAG);
  t.equal(first.length, 3);
  t.equal(second.length, 3);
  for (let i = 0; i < 3; i++) {
    t.equal(first[i]!.id, second[i]!.id, 'one id per call, for every plugin');
    t.ok(plugin.requests.indexOf(first[i]!) < plugin.requests.indexOf(second[i]!), 'order 10 ran before order 20');
    t.equal(second[i]!.attachments['x-first'], 'one', "the second plugin was sent the first one's attachment");
  }
  const stats = await mesh.stats();
  t.match(stats['default/z-first'], { calls: 3, request: { ok: 3 } });
  t.match(stats['default/a-second'], { calls: 3, request: { ok: 3 } });
});

/** A plugin that answers after `ms` (or when the proxy gives up on the call). */
function sleeping(ms: number) {
  return async (_request: ReceivedPluginRequest, cancelled: Promise<void>) => {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      timer.unref();
      void cancelled.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    return { set_attachments: { 'x-late': 'yes' } };
  };
}

t.test('a plugin that times out: fail-open lets the call go on unchanged, fail-closed answers 70', async (t) => {
  // A 100 ms timeout, a plugin that takes 2 s: no dependence on the machine's speed.
  plugin.behave('slow', sleeping(2000));
  await mesh.apply(pluginDoc('slow-open', 'tag: slow', 'failurePolicy: fail-open', `grpc: {address: "${plugin.address}", timeout: 100ms}`), ['slow-open']);
  const open = mesh.nextId();
  t.match(await mesh.raw.getUser(open), { status: 20 }, 'fail-open: the call goes on');
  t.ok(mesh.saw(open), 'the provider got it');
  t.notOk('x-late' in mesh.saw(open)!.attachments, 'unchanged by the plugin');
  const openJs = mesh.nextId();
  t.equal((await mesh.client.getUser(openJs)).err, null);
  t.match((await mesh.stats())['default/slow-open'], { calls: 2, timeouts: 2, errors: 0, breaker: 'closed', request: { timeout: 2 } });
  t.equal(await callsTotal('slow-open', 'request', 'timeout'), 2);

  await mesh.apply(pluginDoc('slow-closed', 'tag: slow', 'failurePolicy: fail-closed', `grpc: {address: "${plugin.address}", timeout: 100ms}`), [
    'slow-closed',
  ]);
  const before = mesh.providerCalls;
  t.same(await mesh.raw.getUser(mesh.nextId()), {
    status: 70,
    message: `${REPLY}/slow-closed: plugin failed (fail-closed): timed out (no answer within 100 ms)`,
  });
  t.match((await mesh.client.getUser(mesh.nextId())).err?.message, /plugin default\/slow-closed: plugin failed \(fail-closed\): timed out/);
  t.equal(mesh.providerCalls, before, 'fail-closed: no provider got the calls');
  t.match((await mesh.stats())['default/slow-closed'], { calls: 2, timeouts: 2, breaker: 'closed' });
  t.equal(await callsTotal('slow-closed', 'request', 'timeout'), 2);
});

t.test('a plugin that is down: fail-open passes, fail-closed answers 70; its breaker opens and short-circuits it', async (t) => {
  const address = `127.0.0.1:${await closedPort()}`;
  // A generous timeout: a refused connection is an error, never a timeout.
  await mesh.apply(
    pluginDoc(
      'down-open',
      'tag: down',
      'failurePolicy: fail-open',
      `grpc: {address: "${address}", timeout: 5s}`,
      'circuitBreaker: {consecutiveFailures: 3, openFor: 10m}',
    ),
    ['down-open'],
  );
  const opened = mesh.log.waitFor((line) => line.message.includes('plugin default/down-open: circuit breaker open'));
  for (let i = 0; i < 6; i++) {
    const id = mesh.nextId();
    t.match(await mesh.raw.getUser(id), { status: 20 }, `call ${i + 1} passes`);
    t.ok(mesh.saw(id));
  }
  await opened;
  t.match(
    (await mesh.stats())['default/down-open'],
    { calls: 6, errors: 3, timeouts: 0, short_circuited: 3, breaker: 'open' },
    '3 failures opened it, then 3 short-circuited',
  );
  for (let i = 0; i < 2; i++) t.match(await mesh.raw.getUser(mesh.nextId()), { status: 20 });
  t.match((await mesh.stats())['default/down-open'], { calls: 8, errors: 3, short_circuited: 5, breaker: 'open' }, 'short_circuited grows while it is open');
  const metrics = await mesh.metrics();
  const labels = { node: NODE.id, plugin: 'default/down-open' };
  t.equal(sample(metrics, 'dubbo_mesh_plugin_calls_total', { ...labels, phase: 'request', outcome: 'error' }), 3);
  t.equal(sample(metrics, 'dubbo_mesh_plugin_calls_total', { ...labels, phase: 'request', outcome: 'short-circuited' }), 5);
  t.equal(sample(metrics, 'dubbo_mesh_plugin_duration_seconds_count', { ...labels, phase: 'request' }), 3, 'short-circuited calls take no time');
  t.equal(sample(metrics, 'dubbo_mesh_plugin_breaker_open', labels), 1);

  await mesh.apply(
    pluginDoc(
      'down-closed',
      'tag: down',
      'failurePolicy: fail-closed',
      `grpc: {address: "${address}", timeout: 5s}`,
      'circuitBreaker: {consecutiveFailures: 2, openFor: 10m}',
    ),
    ['down-closed'],
  );
  const before = mesh.providerCalls;
  for (let i = 0; i < 2; i++) {
    const answer = await mesh.raw.getUser(mesh.nextId());
    t.equal(answer.status, 70);
    t.ok(answer.message?.startsWith(`${REPLY}/down-closed: plugin failed (fail-closed): UNAVAILABLE`), answer.message ?? 'no message');
    t.match(answer.message, /ECONNREFUSED/);
  }
  const shorted = await mesh.raw.getUser(mesh.nextId());
  t.equal(shorted.status, 70);
  t.match(shorted.message, `${REPLY}/down-closed: plugin failed (fail-closed): short-circuited: it failed 2 times in a row`);
  t.match((await mesh.client.getUser(mesh.nextId())).err?.message, /short-circuited/);
  t.equal(mesh.providerCalls, before, 'no provider got the calls');
  t.match((await mesh.stats())['default/down-closed'], { calls: 4, errors: 2, short_circuited: 2, breaker: 'open' });
});

t.test('a plugin back up: after openFor one call probes it, and its success closes the breaker', async (t) => {
  const port = await closedPort();
  await mesh.apply(
    pluginDoc(
      'back',
      'tag: back',
      'failurePolicy: fail-closed',
      `grpc: {address: "127.0.0.1:${port}", timeout: 5s}`,
      'circuitBreaker: {consecutiveFailures: 1, openFor: 200ms}',
    ),
    ['back'],
  );
  const down = await mesh.raw.getUser(mesh.nextId());
  t.equal(down.status, 70);
  t.ok(down.message?.startsWith(`${REPLY}/back: plugin failed (fail-closed): UNAVAILABLE`), down.message ?? 'no message');
  t.match((await mesh.stats())['default/back'], { calls: 1, errors: 1, breaker_openings: 1 }, 'one failure opened it');

  // The plugin comes back on its address: once openFor has passed, a probe reaches it.
  const back = await startPluginServer(port);
  t.teardown(() => back.close());
  back.behave('back', () => ({ set_attachments: { 'x-back': 'yes' } }));
  const closed = mesh.log.waitFor((line) => line.message.includes('plugin default/back: circuit breaker closed'));
  const probed = mesh.nextId();
  await eventually(async () => (await mesh.raw.getUser(probed)).status === 20, 'a probe to reach the plugin back up');
  await closed;
  t.equal(mesh.saw(probed)?.attachments['x-back'], 'yes', 'the probe was answered by the plugin');
  for (let i = 0; i < 3; i++) {
    const id = mesh.nextId();
    t.match(await mesh.raw.getUser(id), { status: 20 });
    t.equal(mesh.saw(id)?.attachments['x-back'], 'yes');
  }
  const stats = (await mesh.stats())['default/back']!;
  t.match(stats, { breaker: 'closed', request: { ok: 4 } }, 'closed: every call goes to the plugin again');
  t.equal(back.tagged('back').length, 4, 'the plugin got the probe and the calls after it');
  t.equal(await callsTotal('back', 'request', 'ok'), 4);
  t.equal(sample(await mesh.metrics(), 'dubbo_mesh_plugin_breaker_open', { node: NODE.id, plugin: 'default/back' }), 0);
});

t.test('plugins run before routing: a DubboRoute matches the x-tenant attachment a plugin sets', async (t) => {
  plugin.behave('tenant', (request) => (request.attachments['x-user'] === 'alice' ? { set_attachments: { 'x-tenant': 'acme' } } : undefined));
  await mesh.apply(
    pluginDoc('tenant', 'tag: tenant', `grpc: {address: "${plugin.address}", timeout: 5s}`) +
      `---
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboRoute
metadata: {name: user-tenants}
spec:
  hosts: [${USER_SERVICE}]
  routes:
    - name: acme
      match: [{attachments: {x-tenant: {exact: acme}}}]
      destinations: [{service: user-provider, subset: acme}]
    - name: rest
      destinations: [{service: user-provider, subset: other}]
`,
    ['tenant'],
  );
  const served = async (user: string) => {
    const names = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const id = mesh.nextId();
      const answer = await mesh.client.getUserWith(id, { 'x-user': user });
      names.add((answer.res as { name?: string } | null)?.name ?? `error: ${answer.err?.message}`);
      t.equal(mesh.saw(id)?.attachments['x-tenant'], user === 'alice' ? 'acme' : undefined);
    }
    return [...names];
  };
  t.same(await served('alice'), ['acme'], "alice's calls: the plugin set x-tenant=acme, the route sent them to the acme subset");
  t.same(await served('bob'), ['other'], "bob's calls: no x-tenant, the other subset");
  t.match((await mesh.stats())['default/tenant'], { calls: 20, request: { ok: 20 } });
});
