// The status writer against the fake API server: Accepted conditions as SPEC says, written
// only while leading and only when they change, other conditions kept.
import { EventEmitter } from 'node:events';
import t from 'tap';
import { FakeClock, eventually } from '@dubbo-mesh/test-support';
import { KubernetesSource, StatusWriter, type Leadership } from '../dist/index.js';
import { custom, startCluster } from './fixtures/cluster.js';

class SwitchableLeadership extends EventEmitter implements Leadership {
  isLeader = false;
  lead(): void {
    this.isLeader = true;
    this.emit('started-leading');
  }
}

type Condition = { type: string; status: string; reason: string; message: string; observedGeneration?: number; lastTransitionTime: string };
const conditionsOf = (object: { status?: unknown } | undefined) => (object?.status as { conditions?: Condition[] } | undefined)?.conditions ?? [];

t.test('statuses: refused False with every error, accepted True with observedGeneration; only the leader writes, only changes', async (t) => {
  const cluster = await startCluster(t);
  cluster.create(custom('DubboService', 'user', { interfaces: ['com.example.UserService'], endpoints: [{ address: '10.0.0.1:20880' }] }));
  cluster.create(
    custom('DubboRoute', 'typo', {
      hosts: ['com.example.UserService'],
      routes: [{ name: 'x', destinations: [{ service: 'user', subset: 'v9', weight: 100 }] }],
    }),
  );
  const bad = cluster.create(custom('DubboPolicy', 'bad', { service: 'user', loadBalancer: { policy: 'fastest' }, colour: 'red' }));
  // Another controller's condition on the policy: kept as it is.
  cluster.updateStatus('dubbo-mesh.io/v1alpha1', 'DubboPolicy', 'default', 'bad', {
    conditions: [{ type: 'Audited', status: 'True', reason: 'Ok', message: '', lastTransitionTime: '2026-01-01T00:00:00Z' }],
  });
  const clock = new FakeClock();
  const source = new KubernetesSource({ kubeConfig: cluster.kubeConfig(), clock });
  t.teardown(() => source.stop());
  // The builder's refusals come through the control plane; here the route's dangling subset is told by hand, as the builder would.
  await source.start(() => {});
  source.onResourcesRefused(
    new Map([['kubernetes DubboRoute default/typo', ['DubboRoute default/typo: spec.routes[0].destinations[0].subset: service user has no subset "v9"']]]),
  );
  const leadership = new SwitchableLeadership();
  const writer = new StatusWriter({ source, kubeConfig: cluster.kubeConfig(), leadership, clock, wallClock: () => new Date('2026-12-02T10:00:00.123Z') });
  t.teardown(() => writer.stop());

  await writer.sync();
  t.equal(writer.writes, 0, 'a replica that does not lead writes nothing');
  t.same(conditionsOf(cluster.get('dubbo-mesh.io/v1alpha1', 'DubboService', 'default', 'user')), []);

  leadership.lead();
  await eventually(() => writer.writes === 3, 'the new leader to write every status');
  const user = conditionsOf(cluster.get('dubbo-mesh.io/v1alpha1', 'DubboService', 'default', 'user'));
  t.same(user, [
    { type: 'Accepted', status: 'True', reason: 'Accepted', message: 'valid; in force', observedGeneration: 1, lastTransitionTime: '2026-12-02T10:00:00Z' },
  ]);
  const typo = conditionsOf(cluster.get('dubbo-mesh.io/v1alpha1', 'DubboRoute', 'default', 'typo'))[0]!;
  t.equal(typo.status, 'False');
  t.equal(typo.reason, 'Invalid');
  t.match(typo.message, /subset "v9"/);
  const policy = conditionsOf(cluster.get('dubbo-mesh.io/v1alpha1', 'DubboPolicy', 'default', 'bad'));
  t.same(
    policy.map((c) => c.type),
    ['Audited', 'Accepted'],
    "another controller's condition is kept",
  );
  const accepted = policy.find((c) => c.type === 'Accepted')!;
  t.match(accepted.message, /DubboPolicy default\/bad: spec\.colour: unknown field/);
  t.match(accepted.message, /DubboPolicy default\/bad: spec\.loadBalancer\.policy: /, 'every error, in one message');
  t.equal(accepted.observedGeneration, bad.metadata.generation);

  // The informers see the writes; syncing again writes nothing.
  await eventually(
    () => source.objects('DubboPolicy').some((o) => conditionsOf(o).some((c) => c.type === 'Accepted')),
    'the informer to see the written status',
  );
  await eventually(() => source.objects('DubboRoute').some((o) => conditionsOf(o).some((c) => c.type === 'Accepted')), 'the informer to see the route status');
  await eventually(
    () => source.objects('DubboService').some((o) => conditionsOf(o).some((c) => c.type === 'Accepted')),
    'the informer to see the service status',
  );
  await writer.sync();
  await writer.sync();
  t.equal(writer.writes, 3, 'nothing changed: nothing written');

  // The policy fixed: True, with the new generation and a new transition time.
  const fixed = cluster.patch('dubbo-mesh.io/v1alpha1', 'DubboPolicy', 'default', 'bad', { spec: { loadBalancer: { policy: 'random' }, colour: null } });
  await eventually(
    () => source.objects('DubboPolicy').some((o) => o.metadata?.resourceVersion === fixed.metadata.resourceVersion),
    'the fix to reach the informer',
  );
  clock.advance(1_000);
  await eventually(() => writer.writes === 4, 'the fixed policy to be written');
  const now = conditionsOf(cluster.get('dubbo-mesh.io/v1alpha1', 'DubboPolicy', 'default', 'bad')).find((c) => c.type === 'Accepted')!;
  t.equal(now.status, 'True');
  t.equal(now.observedGeneration, fixed.metadata.generation);
  t.ok((fixed.metadata.generation ?? 0) > (bad.metadata.generation ?? 0), 'a spec change is a new generation');
});
