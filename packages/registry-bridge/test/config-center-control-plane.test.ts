import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ControlPlane } from '@dubbo-mesh/control-plane';
import { eventually, startZooKeeper } from '@dubbo-mesh/test-support';
import { ConfigCenterRuleSource, ZooKeeperSession, createRegistryBridgeExtension } from '@dubbo-mesh/registry-bridge';

const server = await startZooKeeper();
t.teardown(() => server.close());
const writer = new ZooKeeperSession({ connect: server.connect, spinDelayMs: 50 });
await writer.start();
t.teardown(() => writer.close());

async function put(nodePath: string, text: string): Promise<void> {
  await writer.mkdirp(nodePath.slice(0, nodePath.lastIndexOf('/')));
  await writer.create(nodePath, Buffer.from(text), 'persistent');
}

const rule = (key: string, host: string) => `configVersion: v3.0\nscope: application\nkey: ${key}\nconditions:\n  - => host = ${host}\n`;

t.test('--zookeeper gives the control plane the import and the config-center rules, on one session', async (t) => {
  await put('/ext/config/dubbo/shop.condition-router', rule('shop', '10.0.0.1'));
  const extension = await createRegistryBridgeExtension({
    settings: { connect: server.connect, root: '/ext', exportMode: { kind: 'none' }, namespace: 'default' },
  });
  t.teardown(() => extension.stop());
  t.same(
    extension.sources?.map((source) => source.name),
    ['zookeeper', 'zookeeper-rules'],
  );
  t.equal(extension.rulesSource.configPath, '/ext/config/dubbo', 'under --zookeeper-root');
  const controlPlane = new ControlPlane({ sources: extension.sources ?? [] });
  t.teardown(() => controlPlane.stop());
  await controlPlane.start('127.0.0.1', 0);
  t.match(
    controlPlane.snapshot!.config.rules.map((resource) => resource.rule),
    [{ kind: 'condition', key: 'shop' }],
  );
  t.match(
    controlPlane.sourceStatuses().find((status) => status.name === 'zookeeper-rules'),
    { type: 'zookeeper', state: 'ok', resources: 1 },
  );
  const before = extension.session.counters.sessions;
  t.equal(before, 1, 'one session for everything');
});

t.test('a rule the control plane refuses (the same kind and key as a file rule) is shown per node in details', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-cc-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'rules.yaml'), rule('clash', '10.0.0.1'));
  const node = '/clash/config/dubbo/clash.condition-router';
  await put(node, rule('clash', '10.0.0.2'));
  await put('/clash/config/dubbo/alone.condition-router', rule('alone', '10.0.0.3'));
  const session = new ZooKeeperSession({ connect: server.connect, spinDelayMs: 50 });
  await session.start();
  t.teardown(() => session.close());
  const logs: string[] = [];
  const source = new ConfigCenterRuleSource({ session, root: '/clash', log: (_level, message) => logs.push(message) });
  const controlPlane = new ControlPlane({ configPaths: [dir], fileSource: { settleMs: 20 }, sources: [source] });
  t.teardown(() => controlPlane.stop());
  await controlPlane.start('127.0.0.1', 0);
  await eventually(() => (source.details().refusedByControlPlane as unknown[]).length > 0, 'the refusal to be told');
  const refused = source.details().refusedByControlPlane as Array<{ origin: string; errors: string[] }>;
  t.same(
    refused.map((entry) => entry.origin),
    [`zookeeper:${node}`],
  );
  t.match(refused[0]!.errors.join('\n'), /clash/);
  // Logged when the refusal (or its errors) changes: a loaded machine may build more than once, never without the refusal.
  t.ok(
    logs.some((line) => /^a config-center rule is refused by the control plane: .*clash/.test(line)),
    `the refusal is logged: ${JSON.stringify(logs)}`,
  );
  const keys = controlPlane.snapshot!.config.rules.map((resource) => resource.rule.key).sort();
  t.same(keys, ['alone', 'clash'], 'the other node is in force, and the key held by the file');
});
