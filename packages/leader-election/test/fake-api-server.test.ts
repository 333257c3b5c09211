// The election over the shared fake API server of test-support (the stand-in the Kubernetes
// source's tests use): Leases with its optimistic concurrency and its six-digit MicroTime check,
// through the real HTTP path of KubernetesLeaseLock. Time is fake: the test moves it.
import t from 'tap';
import { FakeClock, eventually } from '@dubbo-mesh/test-support';
import { startFakeKubeApiServer } from '@dubbo-mesh/test-support/fake-kube';
import { KubernetesLeaseLock, LeaderElector } from '@dubbo-mesh/leader-election';

t.test('two replicas over the fake API server: one leads, the other takes over only after the lease duration of silence', async (t) => {
  const cluster = await startFakeKubeApiServer();
  t.teardown(() => cluster.close());
  const clock = new FakeClock();
  const elector = (identity: string) =>
    new LeaderElector({
      lock: new KubernetesLeaseLock(cluster.kubeConfig(), 'dubbo-mesh', 'dubbo-mesh-control-plane'),
      identity,
      clock,
      releaseOnStop: false,
      random: () => 0,
    });
  const a = elector('replica-a');
  const b = elector('replica-b');
  t.teardown(async () => {
    await a.stop();
    await b.stop();
  });
  a.start();
  await eventually(() => a.isLeader, 'replica a to lead');
  b.start();
  await eventually(() => b.leader === 'replica-a', 'replica b to see a as the leader');
  const lease = cluster.get('coordination.k8s.io/v1', 'Lease', 'dubbo-mesh', 'dubbo-mesh-control-plane')!;
  const spec = lease.spec as { holderIdentity: string; leaseDurationSeconds: number; renewTime: string; acquireTime: string };
  t.equal(spec.holderIdentity, 'replica-a');
  t.equal(spec.leaseDurationSeconds, 15);
  t.match(spec.renewTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/, 'the fake took a six-digit MicroTime');

  // a stops renewing (a killed process: no release); b waits out the lease by its own clock.
  await a.stop();
  for (let waited = 0; waited < 14_000; waited += 2_000) {
    clock.advance(2_000);
    await new Promise((resolve) => setImmediate(resolve));
  }
  t.notOk(b.isLeader, 'not before the lease duration');
  await eventually(() => {
    clock.advance(500);
    return b.isLeader;
  }, 'replica b to take the Lease');
  const taken = cluster.get('coordination.k8s.io/v1', 'Lease', 'dubbo-mesh', 'dubbo-mesh-control-plane')!.spec as {
    holderIdentity: string;
    leaseTransitions: number;
  };
  t.equal(taken.holderIdentity, 'replica-b');
  t.equal(taken.leaseTransitions, 1);
});
