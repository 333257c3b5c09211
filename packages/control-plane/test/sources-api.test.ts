// GET /api/v1/sources through the real admin HTTP API: a file source starting, in force,
// going invalid (its last valid resources stay) and valid again, then stopped.
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { ControlPlane, startControlPlaneAdmin, type SourceStatusJson } from '@dubbo-mesh/control-plane';

const service = (name: string) => `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: ${name}}
spec:
  interfaces: [org.example.${name}]
  endpoints: [{address: 127.0.0.1:20880}]
`;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

t.test('a file source shows starting, ok, invalid with its refusal, ok again, and stopped', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-sources-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'mesh.yaml');
  await writeFile(file, `${service('users')}---\n${service('orders')}`);
  const controlPlane = new ControlPlane({ configPaths: [dir], fileSource: { settleMs: 20 } });
  t.teardown(() => controlPlane.stop());
  const admin = await startControlPlaneAdmin(controlPlane, '127.0.0.1', 0);
  t.teardown(() => admin.server.close());
  const sources = async () => {
    const response = await fetch(`http://127.0.0.1:${admin.port}/api/v1/sources`);
    t.equal(response.status, 200);
    return (await response.json()) as SourceStatusJson[];
  };

  t.same(
    await sources(),
    [{ name: `file:${dir}`, type: 'file', state: 'starting', lastChange: null, resources: 0, lastRefusal: null, error: null }],
    'before start',
  );

  await controlPlane.start('127.0.0.1', 0);
  const [ok] = await sources();
  t.match(ok, { name: `file:${dir}`, type: 'file', state: 'ok', resources: 2, lastRefusal: null, error: null });
  t.match(ok!.lastChange, ISO);

  const refused = once(controlPlane, 'refused');
  await writeFile(file, `${service('users')}---\n${service('orders').replace('interfaces', 'interfacez')}`);
  await refused;
  const [invalid] = await sources();
  t.equal(invalid!.state, 'invalid');
  t.equal(invalid!.resources, 2, 'its last valid resources stay in force');
  t.match(invalid!.error, new RegExp(`^${file}:\\d+:\\d+: .*interfacez`), 'the error in one line, naming file, line and field');
  t.same(invalid!.lastRefusal?.origins, [file]);
  t.equal(invalid!.lastRefusal?.errors[0], invalid!.error!.replace(/ \(and \d+ more\)$/, ''));
  t.match(invalid!.lastRefusal?.at, ISO);
  t.ok(invalid!.lastChange! >= ok!.lastChange!, 'the invalid state is a change');

  const published = once(controlPlane, 'published');
  await writeFile(file, `${service('users')}---\n${service('orders')}---\n${service('payments')}`);
  await published;
  const [again] = await sources();
  t.match(again, { state: 'ok', resources: 3, error: null });
  t.same(again!.lastRefusal, invalid!.lastRefusal, 'the last refusal stays shown, as history');
  t.ok(again!.lastChange! >= invalid!.lastChange!);

  await controlPlane.stop();
  const [stopped] = await sources();
  t.match(stopped, { state: 'stopped', resources: 3, error: null });
});

t.test('two --config folders: a route naming a subset the other folder lacks marks its own source invalid, not the other', async (t) => {
  const dirA = await mkdtemp(path.join(tmpdir(), 'dm-sources-a-'));
  const dirB = await mkdtemp(path.join(tmpdir(), 'dm-sources-b-'));
  t.teardown(() => Promise.all([rm(dirA, { recursive: true, force: true }), rm(dirB, { recursive: true, force: true })]));
  await writeFile(path.join(dirA, 'users.yaml'), service('users'));
  const route = (service: string) => `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboRoute
metadata: {name: r}
spec:
  hosts: [org.example.users]
  routes: [{destinations: [{service: ${service}}]}]
`;
  await writeFile(path.join(dirB, 'route.yaml'), route('users'));
  const controlPlane = new ControlPlane({ configPaths: [dirA, dirB], fileSource: { settleMs: 20 } });
  t.teardown(() => controlPlane.stop());
  const admin = await startControlPlaneAdmin(controlPlane, '127.0.0.1', 0);
  t.teardown(() => admin.server.close());
  await controlPlane.start('127.0.0.1', 0);
  const refused = once(controlPlane, 'refused');
  await writeFile(path.join(dirB, 'route.yaml'), route('nobody'));
  await refused;
  const response = await fetch(`http://127.0.0.1:${admin.port}/api/v1/sources`);
  const [a, b] = (await response.json()) as SourceStatusJson[];
  t.match(a, { name: `file:${dirA}`, state: 'ok', resources: 1, lastRefusal: null, error: null });
  t.match(b, { name: `file:${dirB}`, state: 'invalid', resources: 1 }, 'valid on its own, refused with the others: its route in force stays');
  t.match(b!.error, /spec\.routes\[0\]\.destinations\[0\]\.service: no DubboService "nobody"/);
});
