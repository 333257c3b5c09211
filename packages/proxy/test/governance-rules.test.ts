// Dubbo's governance rules on the proxy's call path, on real sockets: a raw consumer (bound to
// a 127.0.0.x address of its choosing) → the outbound proxy → test providers on 127.0.0.2,
// 127.0.0.3 and 127.0.0.4, each labelled as a Dubbo provider URL would be.
import t, { type Test } from 'tap';
import net from 'node:net';
import { FrameDecoder, ResponseStatus, decodeErrorMessage, decodeResponseBody, encodeRequest, encodeRequestBody, type Frame } from '@dubbo-mesh/protocol';
import { DubboProxy, startProxyAdmin, type ProxyOptions } from '@dubbo-mesh/proxy';
import { USER_SERVICE, eventually, makeUser, startTestProvider, userValue, type TestProvider } from '@dubbo-mesh/test-support';
import { buildConfig } from './fixtures/mesh.js';

/** A consumer that sends getUser calls from a local address of its choosing. */
class RawConsumer {
  readonly frames: Frame[] = [];
  private readonly decoder = new FrameDecoder();
  private nextId = 1n;
  readonly socket: net.Socket;

  constructor(port: number, localAddress = '127.0.0.1') {
    this.socket = net.connect({ host: '127.0.0.1', port, localAddress });
    this.socket.on('error', () => {});
    this.socket.on('data', (chunk: Buffer) => {
      this.decoder.push(chunk);
      for (let frame = this.decoder.next(); frame !== undefined; frame = this.decoder.next()) this.frames.push(frame);
    });
  }

  async call(id: number, attachments: Record<string, unknown> = {}, method = 'getUser'): Promise<Frame> {
    const requestId = this.nextId++;
    const body = encodeRequestBody({
      path: USER_SERVICE,
      version: '1.0.0',
      method,
      parameterTypes: ['long'],
      arguments: [id],
      attachments: { path: USER_SERVICE, ...attachments },
    });
    this.socket.write(encodeRequest(requestId, body));
    await eventually(() => this.frames.some((frame) => frame.header.requestId === requestId), `the answer to call ${requestId}`);
    return this.frames.find((frame) => frame.header.requestId === requestId)!;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The instance that answered: its host. */
function answeredBy(frame: Frame): string {
  if (frame.header.status !== ResponseStatus.OK) throw new Error(`status ${frame.header.status}: ${decodeErrorMessage(frame.body)}`);
  return (decodeResponseBody(frame.body) as { value: { name: string } }).value.name;
}

interface Setup {
  proxy: DubboProxy;
  port: number;
  providers: TestProvider[];
  apply(rules: object[], version: string): void;
}

const HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
/** Labels as the registry import writes them. */
const LABELS: Array<Record<string, string>> = [
  { application: 'user-app', region: 'hangzhou' },
  { application: 'user-app', region: 'beijing' },
  { application: 'user-app', region: 'hangzhou', zone: 'b' },
];

async function setup(t: Test, options: Partial<ProxyOptions> = {}, labels = LABELS): Promise<Setup> {
  const providers: TestProvider[] = [];
  for (const host of HOSTS) {
    providers.push(
      await startTestProvider({
        host,
        services: {
          [USER_SERVICE]: {
            getUser: ([id]) => userValue({ ...makeUser(id as number), name: host }),
            findUser: ([id]) => userValue({ ...makeUser(id as number), name: host }),
          },
        },
      }),
    );
  }
  const proxy = new DubboProxy({ node: 'consumer-1', role: 'proxy', service: 'shop', outbound: { host: '127.0.0.1', port: 0 }, ...options });
  await proxy.start();
  const apply = (rules: object[], version: string) =>
    proxy.applySnapshot(
      buildConfig([
        {
          apiVersion: 'dubbo-mesh.io/v1alpha1',
          kind: 'DubboService',
          metadata: { name: 'user-provider' },
          spec: {
            interfaces: [{ interface: USER_SERVICE, version: '1.0.0' }],
            endpoints: providers.map((p, i) => ({ address: p.address, labels: labels[i] })),
          },
        },
        {
          apiVersion: 'dubbo-mesh.io/v1alpha1',
          kind: 'DubboPolicy',
          metadata: { name: 'user-provider' },
          spec: { service: 'user-provider', loadBalancer: { policy: 'round-robin' } },
        },
        ...rules.map((spec, i) => ({ apiVersion: 'dubbo-mesh.io/v1alpha1', kind: 'DubboRule', metadata: { name: `rule-${i}` }, spec })),
      ]),
      version,
    );
  apply([], 'v0');
  t.teardown(async () => {
    await proxy.destroy();
    for (const provider of providers) await provider.close();
  });
  return { proxy, port: proxy.addresses().outbound!.port, providers, apply };
}

/** Which hosts answer `count` calls. */
async function hostsOf(consumer: RawConsumer, count: number, attachments: Record<string, unknown> = {}, method = 'getUser'): Promise<string[]> {
  const hosts = new Set<string>();
  for (let i = 0; i < count; i++) hosts.add(answeredBy(await consumer.call(i, attachments, method)));
  return [...hosts].sort();
}

const KEY = `${USER_SERVICE}:1.0.0`;

t.test('no rule: no chain, every provider takes calls', async (t) => {
  const s = await setup(t);
  t.equal(s.proxy.filterChain, undefined, 'a snapshot without rules adds nothing to the call path');
  t.equal(s.proxy.governanceRules, undefined);
  const consumer = new RawConsumer(s.port);
  t.teardown(() => consumer.close());
  t.same(await hostsOf(consumer, 6), HOSTS);
});

t.test('a service condition rule narrows by method; other methods and keys are left alone', async (t) => {
  const s = await setup(t);
  s.apply(
    [{ configVersion: 'v3.0', scope: 'service', key: KEY, force: true, conditions: ['method = find*,list*,get*,is* => host = 127.0.0.2,127.0.0.3'] }],
    'v1',
  );
  const consumer = new RawConsumer(s.port);
  t.teardown(() => consumer.close());
  t.same(await hostsOf(consumer, 6), ['127.0.0.2', '127.0.0.3'], 'reads go to the read replicas');
  t.same(await hostsOf(consumer, 6, {}, 'findUser'), ['127.0.0.2', '127.0.0.3']);
  const counters = s.proxy.governanceRules!.countersByRule();
  const [name] = Object.keys(counters);
  t.equal(name, `condition rule ${KEY}: (DubboRule default/rule-0)`);
  t.equal(counters[name!]!.narrowed, 12, 'every call counted as narrowed');
  // A rule for another key (no version) does not apply to these calls.
  s.apply([{ configVersion: 'v3.0', scope: 'service', key: USER_SERVICE, force: true, conditions: ['=> host = 127.0.0.9'] }], 'v2');
  t.same(await hostsOf(consumer, 6), HOSTS, 'a rule for com.Foo:: leaves com.Foo:1.0.0: alone');
});

t.test('blacklist and force: true answer 70 naming the rule; force: false is ignored', async (t) => {
  const s = await setup(t);
  const consumer = new RawConsumer(s.port, '127.0.0.7');
  t.teardown(() => consumer.close());
  s.apply([{ configVersion: 'v3.0', scope: 'service', key: KEY, force: true, conditions: ['host = 127.0.0.7 => false'] }], 'v1');
  const denied = await consumer.call(1);
  t.equal(denied.header.status, ResponseStatus.SERVICE_ERROR);
  t.equal(
    decodeErrorMessage(denied.body),
    `dubbo-mesh [DM_ERR_NO_HEALTHY_UPSTREAM]: no healthy instance of default/user-provider: condition rule ${KEY}: (DubboRule default/rule-0) blacklists the call (its then-part is empty or false)`,
  );
  const other = new RawConsumer(s.port, '127.0.0.8');
  t.teardown(() => other.close());
  t.same(await hostsOf(other, 3), HOSTS, 'another consumer host is not blacklisted');

  s.apply([{ configVersion: 'v3.0', scope: 'service', key: KEY, force: true, conditions: ['=> region = shanghai'] }], 'v2');
  const forced = await consumer.call(2);
  t.equal(forced.header.status, ResponseStatus.SERVICE_ERROR, 'force: true and nothing left: no provider');
  t.match(decodeErrorMessage(forced.body), `condition rule ${KEY}: (DubboRule default/rule-0) left none of its 3 endpoints, and it is force: true`);
  s.apply([{ configVersion: 'v3.0', scope: 'service', key: KEY, force: false, conditions: ['=> region = shanghai'] }], 'v3');
  t.same(await hostsOf(consumer, 6), HOSTS, 'force: false and nothing left: the rule is ignored');
  const counters = Object.values(s.proxy.governanceRules!.countersByRule())[0]!;
  t.equal(counters.ignored, 6);
  s.apply([{ configVersion: 'v3.0', scope: 'service', key: KEY, enabled: false, force: true, conditions: ['=> false'] }], 'v4');
  t.same(await hostsOf(consumer, 6), HOSTS, 'enabled: false does nothing');
});

t.test('application rules: for calls of that consumer application and for calls to that provider application', async (t) => {
  const s = await setup(t);
  const consumer = new RawConsumer(s.port);
  t.teardown(() => consumer.close());
  s.apply([{ configVersion: 'v3.0', scope: 'application', key: 'backoffice', force: true, conditions: ['=> region = beijing'] }], 'v1');
  t.same(await hostsOf(consumer, 6, { application: 'backoffice' }), ['127.0.0.3'], 'the back office goes to beijing');
  t.same(await hostsOf(consumer, 6, { 'remote.application': 'frontend' }), HOSTS, 'the front office does not');
  t.same(await hostsOf(consumer, 6), HOSTS, "a call naming no application is the proxy's own service (shop)");
  s.apply([{ configVersion: 'v3.0', scope: 'application', key: 'shop', force: true, conditions: ['=> region = hangzhou'] }], 'v2');
  t.same(await hostsOf(consumer, 6), ['127.0.0.2', '127.0.0.4'], "the proxy's service is the consumer application");
  s.apply([{ configVersion: 'v3.0', scope: 'application', key: 'user-app', force: true, conditions: ['=> region = beijing'] }], 'v3');
  t.same(await hostsOf(consumer, 6, { application: 'anyone' }), ['127.0.0.3'], 'a rule keyed by the provider application applies to its calls');
});

t.test('a key router on an argument, and attachments', async (t) => {
  const s = await setup(t);
  const consumer = new RawConsumer(s.port);
  t.teardown(() => consumer.close());
  s.apply(
    [
      {
        configVersion: 'v3.0',
        scope: 'service',
        key: KEY,
        force: true,
        conditions: ['arguments[0] = 1~100 => host = 127.0.0.2', 'attachments[vip] = true => host = 127.0.0.4'],
      },
    ],
    'v1',
  );
  t.equal(answeredBy(await consumer.call(42)), '127.0.0.2', 'an argument in the range');
  const outOfRange = new Set<string>();
  for (let i = 0; i < 6; i++) outOfRange.add(answeredBy(await consumer.call(4242)));
  t.same([...outOfRange].sort(), HOSTS, 'out of the range: the first condition does not apply');
  t.equal(answeredBy(await consumer.call(4242, { vip: 'true' })), '127.0.0.4');
});

t.test('=> host = $host keeps calls on the local host: the consumer connection, or the proxy IP for loopback', async (t) => {
  const s = await setup(t);
  s.apply([{ configVersion: 'v3.0', scope: 'service', key: KEY, force: false, conditions: ['=> host = $host'] }], 'v1');
  const consumer = new RawConsumer(s.port, '127.0.0.3');
  t.teardown(() => consumer.close());
  t.same(await hostsOf(consumer, 6), ['127.0.0.3'], 'the consumer host as it connects');
  const elsewhere = new RawConsumer(s.port, '127.0.0.9');
  t.teardown(() => elsewhere.close());
  t.same(await hostsOf(elsewhere, 6), HOSTS, 'no local provider and force: false: every provider');
  const beside = await setup(t, { ip: '127.0.0.4' });
  beside.apply([{ configVersion: 'v3.0', scope: 'service', key: KEY, force: false, conditions: ['=> host = $host'] }], 'v1');
  const local = new RawConsumer(beside.port, '127.0.0.1');
  t.teardown(() => local.close());
  t.same(await hostsOf(local, 6), ['127.0.0.4'], "a sidecar's application calls over loopback: the proxy's IP is its host");
});

t.test('the admin API shows the rules in force and counts their calls', async (t) => {
  const s = await setup(t);
  s.apply([{ configVersion: 'v3.0', scope: 'service', key: KEY, force: true, conditions: ['method = getUser => region = hangzhou'] }], 'v1');
  const admin = await startProxyAdmin(s.proxy, '127.0.0.1', 0, 'consumer-1');
  t.teardown(() => admin.server.close());
  const consumer = new RawConsumer(s.port);
  t.teardown(() => consumer.close());
  await hostsOf(consumer, 4);
  const base = `http://127.0.0.1:${admin.port}`;
  const dump = (await (await fetch(`${base}/config_dump`)).json()) as { rules: Array<Record<string, unknown>>; config: { rules: unknown[] } };
  t.match(dump.rules, [{ kind: 'condition', scope: 'service', key: `${KEY}:`, enabled: true, resource: 'DubboRule default/rule-0' }]);
  t.equal(dump.config.rules.length, 1, 'the document itself is in the config');
  const stats = (await (await fetch(`${base}/stats`)).json()) as { rules: Record<string, Record<string, number>> };
  t.equal(Object.values(stats.rules)[0]!.narrowed, 4);
  const metrics = await (await fetch(`${base}/metrics`)).text();
  t.match(metrics, /dubbo_mesh_rule_calls_total\{node="consumer-1",rule="condition rule [^"]+",effect="narrowed"\} 4/);
  // Counters go on across a snapshot that keeps the rule.
  s.apply([{ configVersion: 'v3.0', scope: 'service', key: KEY, force: true, conditions: ['method = getUser => region = hangzhou'] }], 'v2');
  await hostsOf(consumer, 2);
  t.equal(Object.values(s.proxy.governanceRules!.countersByRule())[0]!.narrowed, 6);
  s.apply([], 'v3');
  t.equal(s.proxy.governanceRules, undefined, 'rules gone: nothing on the call path');
  t.equal(s.proxy.filterChain, undefined);
});

t.test('tag rules: gray release by tag with fallback, forced tags, addresses and labels', async (t) => {
  const s = await setup(t);
  const consumer = new RawConsumer(s.port);
  t.teardown(() => consumer.close());
  s.apply(
    [
      {
        configVersion: 'v3.0',
        key: 'user-app',
        force: false,
        tags: [
          { name: 'gray', addresses: ['127.0.0.4'] },
          { name: 'beijing', match: [{ key: 'region', value: { exact: 'beijing' } }] },
        ],
      },
    ],
    'v1',
  );
  t.same(await hostsOf(consumer, 6, { 'dubbo.tag': 'gray' }), ['127.0.0.4'], 'the gray tag goes to the gray instance');
  t.same(await hostsOf(consumer, 6, { 'dubbo.tag': 'beijing' }), ['127.0.0.3'], 'a tag defined by a label match');
  t.same(await hostsOf(consumer, 6), ['127.0.0.2'], 'no tag: only the endpoints in no tag');
  t.same(await hostsOf(consumer, 6, { 'dubbo.tag': 'canary' }), ['127.0.0.2'], 'a tag with no endpoint and force: false falls back to the untagged');
  const forced = await consumer.call(1, { 'dubbo.tag': 'canary', 'dubbo.force.tag': 'true' });
  t.equal(forced.header.status, ResponseStatus.SERVICE_ERROR, 'dubbo.force.tag: no fallback');
  t.same(await hostsOf(consumer, 6, { 'dubbo.tag': 'gray|beijing' }), ['127.0.0.4'], 'a|b tries the whole tag, then falls back level by level');
  const counters = s.proxy.governanceRules!.countersByRule();
  t.ok(Object.keys(counters)[0]!.startsWith('tag rule user-app (DubboRule default/rule-0)'));
});

t.test("endpoints' own dubbo.tag labels route as Dubbo's tag router does, with no rule", async (t) => {
  const s = await setup(t, {}, [LABELS[0]!, LABELS[1]!, { ...LABELS[2]!, 'dubbo.tag': 'gray' }]);
  const consumer = new RawConsumer(s.port);
  t.teardown(() => consumer.close());
  t.same(await hostsOf(consumer, 6), ['127.0.0.2', '127.0.0.3'], 'untagged calls never reach a tagged instance');
  t.same(await hostsOf(consumer, 6, { 'dubbo.tag': 'gray' }), ['127.0.0.4']);
  t.match(s.proxy.governanceRules!.entries, [{ name: "static tags (endpoints' own dubbo.tag labels)", key: 'user-app', resource: '(built in)' }]);
  const tagged = await setup(t, { labels: { 'dubbo.tag': 'gray' } }, [LABELS[0]!, LABELS[1]!, { ...LABELS[2]!, 'dubbo.tag': 'gray' }]);
  const grayConsumer = new RawConsumer(tagged.port);
  t.teardown(() => grayConsumer.close());
  t.same(await hostsOf(grayConsumer, 6), ['127.0.0.4'], "a call with no tag takes the consumer's own: the proxy's dubbo.tag label");
});

t.test('override rules: disable a provider, change weights, timeout and load balancing for this consumer', async (t) => {
  const s = await setup(t, { ip: '10.0.0.7' });
  const consumer = new RawConsumer(s.port);
  t.teardown(() => consumer.close());
  const override = (configs: object[]) => ({ configVersion: 'v3.0', scope: 'service', key: KEY, enabled: true, configs });
  s.apply([override([{ side: 'consumer', addresses: ['0.0.0.0'], providerAddresses: [s.providers[1]!.address], parameters: { disabled: 'true' } }])], 'v1');
  t.same(await hostsOf(consumer, 6), ['127.0.0.2', '127.0.0.4'], 'the disabled provider gets no call');
  s.apply([override([{ side: 'consumer', addresses: ['10.0.0.8'], providerAddresses: [s.providers[1]!.address], parameters: { disabled: 'true' } }])], 'v2');
  t.same(await hostsOf(consumer, 6), HOSTS, "an item for another consumer's address does not apply to this proxy");
  s.apply(
    [
      override([{ side: 'consumer', addresses: ['10.0.0.7'], parameters: { loadbalance: 'random', weight: '50' } }]),
      { configVersion: 'v3.0', scope: 'application', key: 'shop', configs: [{ side: 'consumer', parameters: { timeout: '1234' } }] },
    ],
    'v3',
  );
  // Random now: call until every provider answered (each answers with probability 1/3 per call).
  const answered = new Set<string>();
  for (let i = 0; i < 300 && answered.size < 3; i++) answered.add(answeredBy(await consumer.call(i)));
  t.same([...answered].sort(), HOSTS, 'calls go on under the new weights and load balancer');
  const cluster = s.proxy.clusters.allClusters().find((c) => c.callOverrides === undefined)!;
  const view = s.proxy.clusters.withOverrides(cluster, `${USER_SERVICE}:1.0.0`);
  t.not(view, cluster, 'the overridden view of the cluster');
  t.equal(view.loadBalancer.policy, 'random', 'loadbalance=random');
  t.same(
    view.members.map((m) => m.weight),
    [50, 50, 50],
    'weight for every provider',
  );
  t.same(
    [...(view.callOverrides!.timeoutsMs ?? new Map()).values()],
    [1234, 1234, 1234],
    "the application rule of this consumer sets every provider's timeout",
  );
  t.equal(view.callOverrides!.retries, undefined);
  t.equal(s.proxy.clusters.withOverrides(cluster, `${USER_SERVICE}:1.0.0`), view, 'made once per key');
  t.equal(s.proxy.clusters.breakerOf(view), cluster, "its calls count on the cluster's circuit breaker");
});

t.test('override views: a timeout for the provider it names, all weights 0 spread evenly, one view for many keys', async (t) => {
  const s = await setup(t, { ip: '10.0.0.7' });
  const consumer = new RawConsumer(s.port);
  t.teardown(() => consumer.close());
  s.apply(
    [
      {
        configVersion: 'v3.0',
        scope: 'application',
        key: 'shop',
        configs: [
          { side: 'consumer', parameters: { weight: '0' } },
          { side: 'consumer', providerAddresses: [s.providers[1]!.address], parameters: { timeout: '777' } },
        ],
      },
    ],
    'v1',
  );
  t.same(await hostsOf(consumer, 9), HOSTS, 'weight 0 on every provider: calls spread evenly, as Dubbo does, none fails');
  const cluster = s.proxy.clusters.allClusters().find((c) => c.callOverrides === undefined)!;
  const view = s.proxy.clusters.withOverrides(cluster, `${USER_SERVICE}:1.0.0`);
  t.same(
    view.members.map((m) => m.weight),
    [1, 1, 1],
  );
  t.same(
    [...(view.callOverrides!.timeoutsMs ?? new Map())].map(([member, ms]) => [member.id, ms]),
    [[s.providers[1]!.address, 777]],
    'the timeout belongs to the provider it names, not to every call',
  );
  const views = new Set(Array.from({ length: 3000 }, (_, i) => s.proxy.clusters.withOverrides(cluster, `${USER_SERVICE}:${i}`)));
  t.equal(views.size, 1, '3,000 keys a consumer chose share one view');
});

t.test('a tag rule runs only on the destinations of its application, even when a route splits a call over two', async (t) => {
  const v1 = await startTestProvider({
    host: '127.0.0.2',
    services: { [USER_SERVICE]: { getUser: ([id]) => userValue({ ...makeUser(id as number), name: 'v1' }) } },
  });
  const v2 = await startTestProvider({
    host: '127.0.0.3',
    services: { [USER_SERVICE]: { getUser: ([id]) => userValue({ ...makeUser(id as number), name: 'v2' }) } },
  });
  const proxy = new DubboProxy({ node: 'consumer-1', role: 'proxy', outbound: { host: '127.0.0.1', port: 0 } });
  await proxy.start();
  t.teardown(async () => {
    await proxy.destroy();
    await v1.close();
    await v2.close();
  });
  const service = (name: string, address: string) => ({
    apiVersion: 'dubbo-mesh.io/v1alpha1',
    kind: 'DubboService',
    metadata: { name },
    spec: { interfaces: [{ interface: USER_SERVICE, version: '1.0.0' }], endpoints: [{ address }] },
  });
  proxy.applySnapshot(
    buildConfig([
      service('user-v1', v1.address),
      // Its own key, so the two services claim no key twice; the route sends calls to both.
      { ...service('user-v2', v2.address), spec: { interfaces: [{ interface: USER_SERVICE, version: '2.0.0' }], endpoints: [{ address: v2.address }] } },
      {
        apiVersion: 'dubbo-mesh.io/v1alpha1',
        kind: 'DubboRoute',
        metadata: { name: 'split' },
        spec: {
          hosts: [USER_SERVICE],
          routes: [
            {
              name: 'half',
              destinations: [
                { service: 'user-v1', weight: 50 },
                { service: 'user-v2', weight: 50 },
              ],
            },
          ],
        },
      },
      {
        apiVersion: 'dubbo-mesh.io/v1alpha1',
        kind: 'DubboRule',
        metadata: { name: 'v1-tags' },
        spec: { configVersion: 'v3.0', key: 'user-v1', force: true, tags: [{ name: 'gray', addresses: ['10.9.9.9'] }] },
      },
    ]),
    'v1',
  );
  const consumer = new RawConsumer(proxy.addresses().outbound!.port);
  t.teardown(() => consumer.close());
  const seen = new Map<string, number>();
  for (let i = 0; i < 40; i++) {
    const answer = await consumer.call(i, { 'dubbo.tag': 'gray' });
    const name = answer.header.status === ResponseStatus.OK ? answeredBy(answer) : `status ${answer.header.status}`;
    seen.set(name, (seen.get(name) ?? 0) + 1);
  }
  t.ok((seen.get('v2') ?? 0) > 0, `calls drawn to user-v2 are served there: ${JSON.stringify([...seen])}`);
  t.notOk(seen.has('v1'), "user-v1's own rule leaves its gray calls no endpoint (force: true)");
  t.equal((seen.get('v2') ?? 0) + (seen.get('status 70') ?? 0), 40);
});
