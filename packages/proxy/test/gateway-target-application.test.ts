// Routing by target application (DubboIngress, what the Kubernetes source makes of Ingresses
// of class dubbo): apache-dubbo-js, the real third-party consumer, calls a gateway on a static
// config, in front of providers on 127.0.0.1, 127.0.0.2 and 127.0.0.3. Each call is routed by
// the `target-application` it names, per request, on one connection.
import t, { type Test } from 'tap';
import net from 'node:net';
import { validateResource, type LocatedResource, type MeshConfig } from '@dubbo-mesh/config';
import { fromWireResources, toWireResources } from '@dubbo-mesh/discovery';
import { FrameDecoder, ResponseStatus, decodeErrorMessage, encodeRequest, encodeRequestBody, type Frame } from '@dubbo-mesh/protocol';
import { DubboProxy, type AccessLogEntry, type ProxyFilter } from '@dubbo-mesh/proxy';
import { USER_SERVICE, eventually, makeUser, startTestProvider, userValue, type TestProvider } from '@dubbo-mesh/test-support';
import { userClient, type UserClient } from './fixtures/consumer.js';

/** The providers, by what answers: the one the service key maps to, and one per target application. */
const HOSTS = { 'by-key': '127.0.0.1', 'user-app': '127.0.0.2', 'admin-app': '127.0.0.3' } as const;
type Backend = keyof typeof HOSTS;

interface Setup {
  gateway: DubboProxy;
  address: string;
  providers: Record<Backend, TestProvider>;
  /** The `target-application` each provider's calls carried, in order. */
  seen: Record<Backend, unknown[]>;
  log: AccessLogEntry[];
  config(ingresses: Array<{ host: string; backend: Backend }>): MeshConfig;
}

/**
 * Resources as the control plane would send them: through the discovery API's wire form and
 * back, so the kind is known on the wire (validated leniently, as a proxy reads a snapshot).
 */
function viaWire(resources: object[]): MeshConfig {
  const located: LocatedResource[] = resources.map((raw) => {
    const result = validateResource(raw);
    if (!result.valid) throw new Error(result.errors.join('\n'));
    return { resource: result.result, raw };
  });
  const decoded = fromWireResources(toWireResources(located));
  if (!decoded.valid) throw new Error(decoded.errors.join('\n'));
  if (decoded.warnings.length > 0) throw new Error(decoded.warnings.join('\n'));
  return decoded.result;
}

async function setup(t: Test, filters: ProxyFilter[] = []): Promise<Setup> {
  const seen = { 'by-key': [], 'user-app': [], 'admin-app': [] } as Record<Backend, unknown[]>;
  const providers = {} as Record<Backend, TestProvider>;
  for (const [name, host] of Object.entries(HOSTS) as Array<[Backend, string]>) {
    providers[name] = await startTestProvider({
      host,
      services: {
        [USER_SERVICE]: {
          getUser: ([id], request) => {
            seen[name].push(request.attachments['target-application']);
            return userValue({ ...makeUser(id as number), name });
          },
        },
      },
    });
    t.teardown(() => providers[name].close());
  }
  const log: AccessLogEntry[] = [];
  const gateway = new DubboProxy({ node: 'edge', role: 'gateway', outbound: { host: '127.0.0.1', port: 0 }, onAccessLog: (entry) => log.push(entry), filters });
  await gateway.start();
  t.teardown(() => gateway.stop(100));
  const config = (ingresses: Array<{ host: string; backend: Backend }>) =>
    viaWire([
      {
        apiVersion: 'dubbo-mesh.io/v1alpha1',
        kind: 'DubboService',
        metadata: { name: 'user-provider' },
        spec: { interfaces: [USER_SERVICE], endpoints: [{ address: providers['by-key'].address }] },
      },
      ...(ingresses.length === 0
        ? []
        : [
            {
              apiVersion: 'dubbo-mesh.io/v1alpha1',
              kind: 'DubboIngress',
              metadata: { name: 'edge-ingress', namespace: 'apps' },
              spec: {
                rules: ingresses.map(({ host, backend }) => ({
                  host,
                  service: backend,
                  port: providers[backend].port,
                  endpoints: [{ address: providers[backend].address, labels: { app: backend } }],
                })),
              },
            },
          ]),
    ]);
  gateway.applySnapshot(
    config([
      { host: 'user-app', backend: 'user-app' },
      { host: 'admin-app', backend: 'admin-app' },
    ]),
    'v1',
  );
  return { gateway, address: `127.0.0.1:${gateway.addresses().gateway!.port}`, providers, seen, log, config };
}

function client(t: Test, address: string): UserClient {
  const consumer = userClient(address);
  t.teardown(() => consumer.close());
  return consumer;
}

/** Who answered a getUser: the `name` each provider puts in its users. */
function answeredBy(result: { res: unknown; err: Error | null }): string {
  if (result.err !== null) throw result.err;
  return (result.res as { name: string }).name;
}

t.test('each call goes where its target-application says, else by its service key; an unknown one is refused', async (t) => {
  const { gateway, address, seen, log } = await setup(t);
  const consumer = client(t, address);
  t.equal(
    answeredBy(await consumer.getUserWith(1, { 'target-application': 'user-app' })),
    'user-app',
    "the Ingress rule's provider, though UserService maps elsewhere",
  );
  t.equal(answeredBy(await consumer.getUser(2)), 'by-key', 'no target-application: by service key');
  t.equal(answeredBy(await consumer.getUserWith(3, { 'target-application': '' })), 'by-key', 'an empty one: by service key');
  t.same(seen['user-app'], ['user-app'], 'the attachment is passed on to the provider');

  const unknown = await consumer.getUserWith(4, { 'target-application': 'nobody-app' });
  t.equal(unknown.res, null);
  t.match(
    unknown.err?.message,
    /dubbo-mesh \[DM_ERR_UNKNOWN_TARGET_APPLICATION\]: no Ingress of class dubbo serves target-application "nobody-app"/,
    'refused, naming it: not routed by service key instead',
  );
  t.equal(seen['by-key'].length, 2, 'the refused call reached no provider');
  t.equal(gateway.stats.counters.local_response_unknown_target_application, 1);
  t.equal(gateway.stats.counters.local_response_service_not_found, 0, 'counted apart from an unknown service key');
  t.same(
    log.map((entry) => [entry.rule, entry.serviceKey, entry.status]),
    [
      ['ingress user-app', `${USER_SERVICE}:1.0.0`, ResponseStatus.OK],
      ['default', `${USER_SERVICE}:1.0.0`, ResponseStatus.OK],
      ['default', `${USER_SERVICE}:1.0.0`, ResponseStatus.OK],
    ],
    'the access log names the Ingress rule',
  );
});

t.test('per request, not per connection: calls on one connection naming different applications reach different backends', async (t) => {
  const { gateway, address, seen } = await setup(t);
  const consumer = client(t, address);
  const names: Array<'user-app' | 'admin-app' | undefined> = [];
  for (let i = 0; i < 12; i++) names.push(i % 3 === 0 ? 'user-app' : i % 3 === 1 ? 'admin-app' : undefined);
  // All in flight at once, interleaved on the one connection.
  const answers = await Promise.all(
    names.map((name, i) => (name === undefined ? consumer.getUser(i) : consumer.getUserWith(i, { 'target-application': name }))),
  );
  t.same(
    answers.map(answeredBy),
    names.map((name) => name ?? 'by-key'),
  );
  t.equal(gateway.stats.counters.downstream_cx_total, 1, 'one consumer connection carried them all');
  t.same(seen['user-app'], ['user-app', 'user-app', 'user-app', 'user-app']);
  t.same(seen['admin-app'], ['admin-app', 'admin-app', 'admin-app', 'admin-app']);
  t.same(seen['by-key'], [undefined, undefined, undefined, undefined]);
});

/** A minimal consumer on our own codec: dubbo-js hands a caller no response status. */
async function rawCall(t: Test, address: string, attachments: Record<string, string>): Promise<Frame> {
  const [host, port] = address.split(':') as [string, string];
  const socket = net.connect({ host, port: Number(port) });
  t.teardown(() => socket.destroy());
  const decoder = new FrameDecoder();
  const frames: Frame[] = [];
  socket.on('data', (chunk: Buffer) => {
    decoder.push(chunk);
    for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) frames.push(frame);
  });
  const body = encodeRequestBody({
    path: USER_SERVICE,
    version: '1.0.0',
    method: 'getUser',
    parameterTypes: ['long'],
    arguments: [1],
    attachments: { path: USER_SERVICE, ...attachments },
  });
  socket.write(encodeRequest(77n, body));
  await eventually(() => frames.length > 0, 'an answer');
  return frames[0]!;
}

t.test('the refusal is status 60, with the consumer id; with no DubboIngress, target-application is not read', async (t) => {
  const { gateway, address, config } = await setup(t);
  const refused = await rawCall(t, address, { 'target-application': 'nobody-app' });
  t.equal(refused.header.status, ResponseStatus.SERVICE_NOT_FOUND);
  t.equal(refused.header.requestId, 77n);
  t.equal(decodeErrorMessage(refused.body), 'dubbo-mesh [DM_ERR_UNKNOWN_TARGET_APPLICATION]: no Ingress of class dubbo serves target-application "nobody-app"');
  gateway.applySnapshot(config([]), 'no-ingress');
  const byKey = await rawCall(t, address, { 'target-application': 'nobody-app' });
  t.equal(byKey.header.status, ResponseStatus.OK, 'no rule in force: every call goes by its service key');
});

t.test('a new snapshot: changed endpoints are used, a rule that goes leaves its applications unknown', async (t) => {
  const { gateway, address, config, seen } = await setup(t);
  const consumer = client(t, address);
  t.equal(answeredBy(await consumer.getUserWith(1, { 'target-application': 'user-app' })), 'user-app');
  gateway.applySnapshot(config([{ host: 'user-app', backend: 'admin-app' }]), 'v2');
  t.equal(answeredBy(await consumer.getUserWith(2, { 'target-application': 'user-app' })), 'admin-app', "the rule's new endpoints");
  const gone = await consumer.getUserWith(3, { 'target-application': 'admin-app' });
  t.match(gone.err?.message, /no Ingress of class dubbo serves target-application "admin-app"/, 'its rule is gone');
  t.same(
    gateway.clusters.allClusters().map((cluster) => cluster.name),
    ['apps/admin-app (ingress user-app)'],
    "the clusters of the snapshot in force: the rule's, named by Service and host",
  );
  t.same(seen['admin-app'], ['user-app']);
});

t.test('filters run on calls routed by target application, as on every routed call', async (t) => {
  const decisions: string[] = [];
  const tagging: ProxyFilter = {
    name: 'tagging',
    onRequest(call) {
      decisions.push(`${call.decision.rule} ${call.serviceKey}`);
      call.setAttachment('x-tagged', call.decision.rule);
    },
  };
  const refusing: ProxyFilter = {
    name: 'admin-guard',
    appliesTo: (decision) => decision.rule === 'ingress admin-app',
    onRequest: () => ({ status: ResponseStatus.SERVICE_ERROR, message: 'admins only' }),
  };
  const { address, seen } = await setup(t, [tagging, refusing]);
  const consumer = client(t, address);
  t.equal(answeredBy(await consumer.getUserWith(1, { 'target-application': 'user-app' })), 'user-app');
  const guarded = await consumer.getUserWith(2, { 'target-application': 'admin-app' });
  t.match(guarded.err?.message, /DM_ERR_FILTER_REPLY\]: admin-guard: admins only/, "a filter selected by the Ingress rule's decision answered");
  t.equal(answeredBy(await consumer.getUser(3)), 'by-key');
  t.same(decisions, [`ingress user-app ${USER_SERVICE}:1.0.0`, `ingress admin-app ${USER_SERVICE}:1.0.0`, `default ${USER_SERVICE}:1.0.0`]);
  t.same(seen['admin-app'], [], 'the refused call reached no provider');
});
