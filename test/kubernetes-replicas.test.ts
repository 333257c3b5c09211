// Two control-plane replicas on one cluster, as `dubbo-mesh control-plane --kubernetes` runs in
// a Deployment: both serve, only the Lease holder writes statuses, and when it is killed
// (SIGKILL: no release) the other takes the Lease within the lease duration and writes. The
// cluster is the fake API server of test-support.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { eventually } from '@dubbo-mesh/test-support';
import { startChild, type Child } from '../packages/cli/test/fixtures/child.js';
import { custom, startCluster } from '../packages/kubernetes/test/fixtures/cluster.js';

const LEASE_DURATION_S = 15;

t.test('only the leader writes statuses; killed, it is replaced within the lease duration', async (t) => {
  const cluster = await startCluster(t);
  cluster.create(custom('DubboService', 'user', { interfaces: ['com.example.UserService'], endpoints: [{ address: '10.0.0.1:20880' }] }));
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-replicas-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const kubeconfig = path.join(dir, 'kubeconfig');
  await cluster.writeKubeConfig(kubeconfig);
  const replica = (name: string): Child => {
    const child = startChild(['control-plane', '--kubernetes', '--grpc', '127.0.0.1:0', '--admin', '127.0.0.1:0'], {
      KUBECONFIG: kubeconfig,
      POD_NAMESPACE: 'dubbo-mesh',
      POD_NAME: name,
    });
    t.teardown(() => void child.process.kill('SIGKILL'));
    return child;
  };
  const replicas = { a: replica('control-plane-a'), b: replica('control-plane-b') };
  await Promise.all([replicas.a.waitFor((l) => l.msg === 'control plane ready'), replicas.b.waitFor((l) => l.msg === 'control plane ready')]);
  const holder = () =>
    (cluster.get('coordination.k8s.io/v1', 'Lease', 'dubbo-mesh', 'dubbo-mesh-control-plane')?.spec as { holderIdentity?: string } | undefined)?.holderIdentity;
  await eventually(() => holder() === 'control-plane-a' || holder() === 'control-plane-b', 'a replica to take the Lease');
  const leaderName = holder()!;
  const [leader, follower] = leaderName === 'control-plane-a' ? [replicas.a, replicas.b] : [replicas.b, replicas.a];
  const accepted = (name: string, status: string) => () => {
    const conditions = (
      cluster.get('dubbo-mesh.io/v1alpha1', 'DubboService', 'default', name)?.status as { conditions?: Array<{ type: string; status: string }> } | undefined
    )?.conditions;
    return conditions?.some((c) => c.type === 'Accepted' && c.status === status) === true;
  };
  await eventually(accepted('user', 'True'), 'the leader to write Accepted=True');
  // The leader logs its write once the API server has answered: the status can be seen before the line arrives.
  await leader.waitFor((l) => l.msg === 'wrote custom resource statuses', 60_000);
  const wrote = (child: Child) => child.lines.filter((l) => l.msg === 'wrote custom resource statuses').length;
  t.ok(wrote(leader) >= 1, 'the leader wrote');
  t.equal(wrote(follower), 0, 'the other replica wrote nothing');

  leader.process.kill('SIGKILL');
  const killedAt = Date.now();
  await leader.exited;
  cluster.create(custom('DubboService', 'orders', { interfaces: [], endpoints: [] }));
  await eventually(() => holder() !== leaderName, 'the other replica to take the Lease', 60_000);
  const tookMs = Date.now() - killedAt;
  // client-go's rule: the Lease is free once the follower saw no change for the lease duration
  // by its own clock. It saw the last renewal up to one retry period (2 s × 1.2 jitter) after it
  // was made, and tries again every retry period: lease + 2 × 2.4 s, plus 2 s for a loaded machine.
  t.ok(tookMs <= (LEASE_DURATION_S + 2 * 2.4 + 2) * 1000, `took the Lease ${tookMs} ms after the kill (lease duration ${LEASE_DURATION_S} s)`);
  await eventually(accepted('orders', 'False'), 'the new leader to write the refused resource its status');
  // Its log line may arrive a moment after the write it reports.
  await follower.waitFor((l) => l.msg === 'wrote custom resource statuses');
  t.ok(
    follower.lines.some((l) => l.msg === 'leading: this replica writes statuses'),
    'and says it leads',
  );
});
