// The cluster manager's lookups: destinations resolve against the snapshot in force, also
// when the same destination object is asked for again after a swap.
import t from 'tap';
import { ClusterManager, ProxyStats, RoutingTable } from '@dubbo-mesh/proxy';
import { buildConfig } from './fixtures/mesh.js';

function config(addresses: Record<string, string>) {
  return buildConfig([
    {
      apiVersion: 'dubbo-mesh.io/v1alpha1', kind: 'DubboService', metadata: { name: 'svc' },
      spec: { interfaces: ['org.example.Api'], endpoints: Object.entries(addresses).map(([address, version]) => ({ address, labels: { version } })) },
    },
    {
      apiVersion: 'dubbo-mesh.io/v1alpha1', kind: 'DubboPolicy', metadata: { name: 'svc' },
      spec: { service: 'svc', subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }] },
    },
  ]);
}

t.test('a destination resolves to the cluster of the snapshot in force, before and after a swap', async (t) => {
  const manager = new ClusterManager({ maxPayload: 1 << 20, heartbeatIntervalMs: 60_000, stats: new ProxyStats(), removedEndpointGraceMs: 0 });
  t.teardown(() => manager.close());
  const members = (destination: { serviceId: string; subset: string | undefined }) => manager.clusterOf(destination)?.members.map((m) => m.id).sort();
  manager.apply(new RoutingTable(config({ '127.0.0.1:1001': 'v1', '127.0.0.1:1002': 'v2' }), 'a'));
  const v1 = { serviceId: 'default/svc', subset: 'v1' };
  const v2 = { serviceId: 'default/svc', subset: 'v2' };
  const all = { serviceId: 'default/svc', subset: undefined };
  t.same(members(v1), ['127.0.0.1:1001']);
  t.same(members(v2), ['127.0.0.1:1002']);
  t.same(members(all), ['127.0.0.1:1001', '127.0.0.1:1002']);
  t.equal(manager.clusterOf(v1), manager.clusterOf(v1), 'the same cluster object while the snapshot stays');
  t.equal(manager.clusterOf({ serviceId: 'default/svc', subset: 'v3' }), undefined, 'an unknown subset');
  manager.apply(new RoutingTable(config({ '127.0.0.1:1003': 'v1', '127.0.0.1:1002': 'v2' }), 'b'));
  t.same(members(v1), ['127.0.0.1:1003'], 'the same destination object after a swap: the new snapshot\'s members');
  t.same(members(all), ['127.0.0.1:1002', '127.0.0.1:1003']);
  for (let i = 0; i < 20; i++) manager.clusterOf({ serviceId: 'default/svc', subset: i % 2 === 0 ? 'v1' : 'v2' }); // more destinations than are remembered
  t.same(members(v2), ['127.0.0.1:1002']);
});
