import t from 'tap';
import { parseMeshYaml } from '@dubbo-mesh/config';
import { Snapshot, SnapshotCache } from '@dubbo-mesh/control-plane';

function snapshot(port: number): Snapshot {
  const { resources, errors } = parseMeshYaml(
    `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: users}
spec:
  interfaces: [org.example.Users]
  endpoints: [{address: 127.0.0.1:${port}}]
`,
    'test.yaml',
  );
  if (errors.length > 0) throw new Error(errors.join('\n'));
  const created = Snapshot.create(resources);
  if (!created.valid) throw new Error(created.errors.join('\n'));
  return created.snapshot;
}

t.test('watches are one-shot and fire only for a version the watcher does not have', async (t) => {
  const cache = new SnapshotCache();
  const a = snapshot(1);
  const b = snapshot(2);
  t.not(a.version, b.version, 'content digests differ');
  t.equal(snapshot(1).version, a.version, 'equal content, equal version');
  const seen: string[] = [];
  cache.watch('n1', '', (s) => seen.push(s.version));
  t.equal(cache.openWatches, 1, 'no snapshot yet: the watch waits');
  cache.set('n1', a);
  t.same(seen, [a.version]);
  t.equal(cache.openWatches, 0, 'and is gone once fired');
  cache.set('n1', b);
  t.same(seen, [a.version], 'a fired watch does not fire again');

  const immediate: string[] = [];
  cache.watch('n1', a.version, (s) => immediate.push(s.version));
  t.same(immediate, [b.version], 'a watcher behind the cache is answered at once');
  const same: string[] = [];
  const cancel = cache.watch('n1', b.version, (s) => same.push(s.version));
  cache.set('n1', b);
  t.same(same, [], 'setting the version the watcher has does not fire it');
  cancel();
  cache.set('n1', a);
  t.same(same, [], 'a cancelled watch never fires');
  t.equal(cache.openWatches, 0);
});

t.test('snapshots are per node', async (t) => {
  const cache = new SnapshotCache();
  const fired: string[] = [];
  cache.watch('n1', '', () => fired.push('n1'));
  cache.watch('n2', '', () => fired.push('n2'));
  cache.set('n2', snapshot(3));
  t.same(fired, ['n2']);
  t.same(cache.nodes(), ['n2']);
  t.equal(cache.get('n1'), undefined);
  t.same(snapshot(3).counts, { services: 1, endpoints: 1, routes: 0, policies: 0, mappings: 1 });
});

t.test('a snapshot is only built from resources whose cross-references hold', async (t) => {
  const { resources } = parseMeshYaml(
    `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboPolicy
metadata: {name: users}
spec: {service: nobody}
`,
    'bad.yaml',
  );
  const created = Snapshot.create(resources);
  t.equal(created.valid, false);
  if (!created.valid) t.match(created.errors[0]!, /bad\.yaml:4:\d+: DubboPolicy default\/users: spec\.service: no DubboService "nobody"/);
});
