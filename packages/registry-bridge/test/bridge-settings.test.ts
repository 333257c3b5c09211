import t from 'tap';
import { RegistryBridgeFlagError, registryBridgeSettings } from '@dubbo-mesh/registry-bridge';

const fails = (values: Parameters<typeof registryBridgeSettings>[0]) => {
  try {
    registryBridgeSettings(values);
  } catch (error) {
    if (error instanceof RegistryBridgeFlagError) return `${error.flag}: ${error.message}`;
    throw error;
  }
  return 'accepted';
};

t.test('defaults: root /dubbo, no export, namespace default', async (t) => {
  t.equal(registryBridgeSettings({}), undefined, 'no --zookeeper: no bridge');
  t.same(registryBridgeSettings({ zookeeper: '127.0.0.1:2181' }), {
    connect: '127.0.0.1:2181',
    root: '/dubbo',
    exportMode: { kind: 'none' },
    namespace: 'default',
  });
  t.same(
    registryBridgeSettings({ zookeeper: 'zk-0:2181, zk-1:2181', zookeeperRoot: '/estate/dubbo', zookeeperExport: 'endpoints', registryNamespace: 'legacy' }),
    { connect: 'zk-0:2181,zk-1:2181', root: '/estate/dubbo', exportMode: { kind: 'endpoints' }, namespace: 'legacy' },
  );
  t.same(registryBridgeSettings({ zookeeper: 'zk:2181', zookeeperExport: '203.0.113.7:20880' })?.exportMode, {
    kind: 'address',
    host: '203.0.113.7',
    port: 20880,
  });
});

t.test('each bad value names its flag', async (t) => {
  t.equal(fails({ zookeeperExport: 'endpoints' }), 'zookeeper-export: --zookeeper-export needs --zookeeper');
  t.equal(fails({ registryNamespace: 'x' }), 'registry-namespace: --registry-namespace needs --zookeeper');
  t.equal(fails({ zookeeper: 'zk' }), 'zookeeper: --zookeeper: "zk" is not host:port');
  t.equal(fails({ zookeeper: 'zk:2181,' }), 'zookeeper: --zookeeper: "zk:2181," is not host:port[,host:port]');
  t.equal(fails({ zookeeper: 'zk:70000' }), 'zookeeper: --zookeeper: "zk:70000" is not host:port');
  t.match(fails({ zookeeper: 'zk:2181', zookeeperRoot: 'dubbo' }), /^zookeeper-root: --zookeeper-root: "dubbo" is not a ZooKeeper path/);
  t.match(fails({ zookeeper: 'zk:2181', zookeeperRoot: '/dubbo/' }), /^zookeeper-root: /);
  t.match(fails({ zookeeper: 'zk:2181', zookeeperExport: 'all' }), /^zookeeper-export: --zookeeper-export: "all" is not none, endpoints or host:port/);
  t.match(fails({ zookeeper: 'zk:2181', zookeeperExport: 'gw:0' }), /^zookeeper-export: --zookeeper-export: "gw:0" is not host:port/);
  t.match(fails({ zookeeper: 'zk:2181', registryNamespace: 'Legacy' }), /^registry-namespace: .* is not a namespace name/);
});
