// Dubbo's governance rules end to end, with real peers: rules written to a real ZooKeeper's
// config center (Debian's) as dubbo-admin writes them, the control-plane app with
// `--zookeeper`, a consumer proxy, and two consumers calling through it all along:
// apache-dubbo-js and a raw-socket client. Rules are added, changed, broken and deleted under
// that traffic; no call fails.
import t, { type Test } from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startControlPlaneApp, type ControlPlaneApp, type RuleStatus } from '@dubbo-mesh/control-plane';
import { FrameDecoder, ResponseStatus, decodeErrorMessage, decodeResponseBody, encodeRequest, encodeRequestBody, type Frame } from '@dubbo-mesh/protocol';
import { ZooKeeperSession, createRegistryBridgeExtension, registryBridgeSettings } from '@dubbo-mesh/registry-bridge';
import { startSidecar, type SidecarHandle } from '@dubbo-mesh/sidecar';
import { USER_SERVICE, eventually, makeUser, recordingLogger, startTestProvider, startZooKeeper, userValue } from '@dubbo-mesh/test-support';
import { userClient } from '../packages/proxy/test/fixtures/consumer.js';

const zk = await startZooKeeper();
t.teardown(() => zk.close());

const HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
const REGIONS = ['hangzhou', 'beijing', 'hangzhou'];
const RULES = '/dubbo/config/dubbo';
const KEY = `${USER_SERVICE}:1.0.0:`;

/** A raw-socket consumer: hand-encoded getUser calls on one connection, each answer by its request id. */
class RawConsumer {
  private readonly decoder = new FrameDecoder();
  private readonly waiting = new Map<bigint, (frame: Frame) => void>();
  private nextId = 1n;
  private readonly socket: net.Socket;

  constructor(port: number) {
    this.socket = net.connect({ host: '127.0.0.1', port });
    this.socket.on('error', () => {});
    this.socket.on('data', (chunk: Buffer) => {
      this.decoder.push(chunk);
      for (let frame = this.decoder.next(); frame !== undefined; frame = this.decoder.next()) this.waiting.get(frame.header.requestId)?.(frame);
    });
  }

  /** The name of the instance that served getUser(id), or an error. */
  async who(id: number, attachments: Record<string, string> = {}): Promise<{ name?: string; error?: string }> {
    const requestId = this.nextId++;
    const answer = new Promise<Frame>((resolve) => this.waiting.set(requestId, resolve));
    const body = encodeRequestBody({
      path: USER_SERVICE,
      version: '1.0.0',
      method: 'getUser',
      parameterTypes: ['long'],
      arguments: [id],
      attachments: { path: USER_SERVICE, interface: USER_SERVICE, version: '1.0.0', ...attachments },
    });
    this.socket.write(encodeRequest(requestId, body));
    const frame = await answer;
    this.waiting.delete(requestId);
    if (frame.header.status !== ResponseStatus.OK) return { error: `status ${frame.header.status}: ${decodeErrorMessage(frame.body)}` };
    return { name: (decodeResponseBody(frame.body) as { value: { name: string } }).value.name };
  }

  close(): void {
    this.socket.destroy();
  }
}

interface World {
  app: ControlPlaneApp;
  sidecar: SidecarHandle;
  session: ZooKeeperSession;
  /** Write (or replace) a rule node's YAML, as dubbo-admin does. */
  writeRule(name: string, yaml: string): Promise<void>;
  deleteRule(name: string): Promise<void>;
  /** Wait until the consumer proxy runs the control plane's newest snapshot and `check` holds of it. */
  applied(check: () => boolean): Promise<void>;
  rules(): Promise<RuleStatus[]>;
}

async function startWorld(t: Test): Promise<World> {
  const providers = await Promise.all(
    HOSTS.map(async (host) => {
      const provider = await startTestProvider({
        host,
        services: { [USER_SERVICE]: { getUser: ([id]) => userValue({ ...makeUser(id as number), name: host }) } },
      });
      t.teardown(() => provider.close());
      return provider;
    }),
  );
  const configDir = await mkdtemp(path.join(tmpdir(), 'dubbo-mesh-rules-'));
  t.teardown(() => rm(configDir, { recursive: true, force: true }));
  await writeFile(
    path.join(configDir, 'mesh.yaml'),
    `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: user-provider}
spec:
  interfaces: [{interface: ${USER_SERVICE}, version: 1.0.0}]
  endpoints:
${providers.map((p, i) => `    - {address: "${p.address}", labels: {region: ${REGIONS[i]}}}`).join('\n')}
`,
  );
  const bridge = await createRegistryBridgeExtension({
    settings: registryBridgeSettings({ zookeeper: zk.connect, zookeeperExport: 'none' })!,
    importTiming: { debounceMs: 20, maxDelayMs: 100 },
    rulesTiming: { debounceMs: 20, maxDelayMs: 100 },
  });
  const app = await startControlPlaneApp({
    configPaths: [configDir],
    grpc: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    logger: recordingLogger(),
    fileSource: { settleMs: 20 },
    extensions: [bridge],
  });
  t.teardown(() => app.stop());
  const sidecar = await startSidecar({
    role: 'proxy',
    node: { id: 'shop-0.default', service: 'shop', namespace: 'default', ip: '10.0.0.7' },
    config: { kind: 'control-plane', address: { host: '127.0.0.1', port: app.grpcPort } },
    outbound: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    logger: recordingLogger(),
  });
  t.teardown(() => sidecar.destroy());
  const session = new ZooKeeperSession({ connect: zk.connect });
  await session.start();
  t.teardown(() => session.close());
  await session.mkdirp(RULES);
  const writeRule = async (name: string, yaml: string) => {
    const node = `${RULES}/${name}`;
    if ((await session.exists(node)) === undefined) await session.create(node, Buffer.from(yaml), 'persistent');
    else await session.setData(node, Buffer.from(yaml), -1);
  };
  const deleteRule = async (name: string) => void (await session.remove(`${RULES}/${name}`));
  const applied = (check: () => boolean) =>
    eventually(
      () => sidecar.version !== undefined && sidecar.version === app.controlPlane.snapshot?.version && check(),
      'the consumer proxy to run the newest snapshot',
    );
  const rules = async () => (await (await fetch(`http://127.0.0.1:${app.adminPort}/api/v1/rules`)).json()) as RuleStatus[];
  return { app, sidecar, session, writeRule, deleteRule, applied, rules };
}

/** Both consumers calling in a loop; every answer kept with the order it was asked in. */
function traffic(t: Test, world: World) {
  const outbound = world.sidecar.addresses.outbound!;
  const js = userClient(`${outbound.host}:${outbound.port}`);
  const raw = new RawConsumer(outbound.port);
  t.teardown(() => {
    js.close();
    raw.close();
  });
  const errors: string[] = [];
  const answers: Array<{ seq: number; name: string }> = [];
  let started = 0;
  let stop = false;
  const record = (seq: number, name: string | undefined, error: string | undefined, who: string) => {
    if (name === undefined) errors.push(`${who}: ${error ?? 'no answer'}`);
    else answers.push({ seq, name });
  };
  const loops = Promise.all([
    (async () => {
      for (let id = 0; !stop; id++) {
        const seq = started++;
        const answer = await js.getUser(id);
        record(seq, (answer.res as { name?: string } | null)?.name, answer.err?.message, 'apache-dubbo-js');
      }
    })(),
    (async () => {
      for (let id = 0; !stop; id++) {
        const seq = started++;
        const answer = await raw.who(id);
        record(seq, answer.name, answer.error, 'raw socket');
      }
    })(),
  ]);
  return {
    errors,
    get calls() {
      return answers.length;
    },
    /** Calls asked from now on reach exactly `hosts` (each at least once, nothing else, 30 calls at least). */
    async reach(hosts: string[], what: string): Promise<void> {
      const from = started;
      await eventually(() => {
        const after = answers.filter((a) => a.seq >= from);
        return after.length >= 30 && hosts.every((host) => after.some((a) => a.name === host));
      }, what);
      const seen = [...new Set(answers.filter((a) => a.seq >= from).map((a) => a.name))].sort();
      t.same(seen, [...hosts].sort(), what);
    },
    async stop(): Promise<void> {
      stop = true;
      await loops;
    },
  };
}

t.test('rules from the ZooKeeper config center, added, changed, broken and deleted under traffic: no failed call', async (t) => {
  const world = await startWorld(t);
  await world.applied(() => true);
  const calls = traffic(t, world);
  await calls.reach(HOSTS, 'no rule: every provider');

  // dubbo-admin's condition rule for the service key, as it writes it.
  await world.writeRule(
    `${KEY}.condition-router`,
    `configVersion: v3.0
scope: service
key: ${USER_SERVICE}:1.0.0
force: true
runtime: true
enabled: true
conditions:
  - method = getUser => region = beijing
`,
  );
  await world.applied(() => world.app.controlPlane.snapshot!.config.rules.length === 1);
  await calls.reach(['127.0.0.3'], 'the rule sends every call to beijing');

  await world.writeRule(
    `${KEY}.condition-router`,
    `configVersion: v3.0
scope: service
key: ${USER_SERVICE}:1.0.0
force: true
conditions:
  - method = getUser => region = hangzhou
`,
  );
  await world.applied(() => JSON.stringify(world.app.controlPlane.snapshot!.config.rules[0]!.rule).includes('hangzhou'));
  await calls.reach(['127.0.0.2', '127.0.0.4'], 'changed: every call to hangzhou');

  // A broken edit: refused with the node's path, the last valid version stays in force.
  await world.writeRule(
    `${KEY}.condition-router`,
    `configVersion: v3.0
scope: service
key: ${USER_SERVICE}:1.0.0
conditions:
  - method = => region = beijing
`,
  );
  await eventually(async () => (await world.rules()).some((rule) => rule.state === 'refused'), 'the broken rule to be listed as refused');
  const listed = await world.rules();
  const path = `zookeeper:${RULES}/${KEY}.condition-router`;
  t.match(listed, [
    { state: 'in-force', kind: 'condition', key: KEY, source: 'zookeeper-rules', origin: path },
    { state: 'refused', source: 'zookeeper-rules', origin: path, lastValidInForce: true, errors: [/no value after "="/] },
  ]);
  await calls.reach(['127.0.0.2', '127.0.0.4'], 'the last valid rule stays while the broken one is refused');

  // A tag rule for the provider application (the mesh service's name) and an override rule.
  await world.writeRule(
    'user-provider.tag-router',
    `configVersion: v3.0
force: false
enabled: true
key: user-provider
tags:
  - name: gray
    addresses: ["127.0.0.4"]
`,
  );
  await world.writeRule(
    `${KEY}.configurators`,
    `configVersion: v3.0
scope: service
key: ${USER_SERVICE}:1.0.0
enabled: true
configs:
  - side: consumer
    addresses: [0.0.0.0]
    providerAddresses: ["${HOSTS[0]}:0"]
    parameters:
      weight: 100
`,
  );
  await world.applied(() => world.app.controlPlane.snapshot!.config.rules.length === 3);
  await calls.reach(['127.0.0.2'], 'untagged calls: hangzhou, and not the gray instance');

  // Deleted: every provider again.
  await world.deleteRule(`${KEY}.condition-router`);
  await world.deleteRule('user-provider.tag-router');
  await world.deleteRule(`${KEY}.configurators`);
  await world.applied(() => world.app.controlPlane.snapshot!.config.rules.length === 0);
  await calls.reach(HOSTS, 'rules deleted: every provider');
  t.same(await world.rules(), [], 'no rule listed');
  await calls.stop();
  t.same(calls.errors, [], 'no call failed');
  t.ok(calls.calls > 200, `${calls.calls} calls made`);
});

t.test('tagged calls and a blacklist from the config center reach consumers through the proxy', async (t) => {
  const world = await startWorld(t);
  await world.writeRule(
    'user-provider.tag-router',
    `configVersion: v3.0
force: false
key: user-provider
tags:
  - {name: gray, addresses: ["127.0.0.4"]}
`,
  );
  await world.applied(() => world.app.controlPlane.snapshot!.config.rules.length === 1);
  const outbound = world.sidecar.addresses.outbound!;
  const js = userClient(`${outbound.host}:${outbound.port}`);
  t.teardown(() => js.close());
  const names = async (attachments: Record<string, string>) => {
    const seen = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const answer = await js.getUserWith(i, attachments);
      seen.add((answer.res as { name?: string } | null)?.name ?? `error: ${answer.err?.message}`);
    }
    return [...seen].sort();
  };
  t.same(await names({ 'dubbo.tag': 'gray' }), ['127.0.0.4'], 'dubbo.tag=gray: the gray instance');
  t.same(await names({ 'dubbo.tag': 'blue' }), ['127.0.0.2', '127.0.0.3'], 'an unknown tag falls back to the untagged instances');

  // The consumer proxy's own host (its IP: the application calls it over loopback) blacklisted.
  await world.writeRule(
    `${KEY}.condition-router`,
    `configVersion: v3.0
scope: service
key: ${USER_SERVICE}:1.0.0
force: true
conditions:
  - host = 10.0.0.7 => false
`,
  );
  await world.applied(() => world.app.controlPlane.snapshot!.config.rules.length === 2);
  const denied = await js.getUser(1);
  t.match(
    denied.err?.message ?? '',
    /condition rule org\.apache\.dubbo\.[a-z.]+\.UserService:1\.0\.0: \(DubboRule default\/condition-[a-z0-9.-]+\) blacklists the call/,
  );
});
