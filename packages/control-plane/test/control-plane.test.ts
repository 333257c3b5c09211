import { createServer, type AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { MeshYamlCache } from '@dubbo-mesh/config';
import { encodeSharedDeltaResponse, encodeSharedResponse } from '@dubbo-mesh/discovery';
import { ControlPlane, DubboMeshDiscoveryView, ListenError, Snapshot, startControlPlaneAdmin, type Refusal } from '@dubbo-mesh/control-plane';

const service = (name: string, port = 20001) => `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: ${name}}
spec:
  interfaces: [org.example.${name}]
  endpoints: [{address: 127.0.0.1:${port}}]
`;
const policy = (service: string, extra = '') => `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboPolicy
metadata: {name: ${service}}
spec:
  service: ${service}
  subsets: [{name: v1, labels: {version: v1}}]${extra}
`;
const route = (service: string, subset: string) => `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboRoute
metadata: {name: r}
spec:
  hosts: [org.example.${service}]
  routes: [{destinations: [{service: ${service}, subset: ${subset}}]}]
`;

interface LogLine {
  level: string;
  message: string;
  fields: Record<string, unknown> | undefined;
}

/** A control plane on a temp folder whose log lines can be awaited. */
async function setup(t: { teardown(fn: () => Promise<void>): void }, files: Record<string, string>) {
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-cpt-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  const lines: LogLine[] = [];
  const waiters: Array<{ predicate: (line: LogLine) => boolean; resolve: (line: LogLine) => void }> = [];
  const controlPlane = new ControlPlane({
    configPaths: [dir],
    fileSource: { settleMs: 20 },
    log: (level, message, fields) => {
      const line = { level, message, fields };
      lines.push(line);
      for (const waiter of [...waiters]) {
        if (!waiter.predicate(line)) continue;
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    },
  });
  t.teardown(() => controlPlane.stop());
  /** The next log line (from now on) that holds `predicate`. */
  const next = (predicate: (line: LogLine) => boolean) => new Promise<LogLine>((resolve) => waiters.push({ predicate, resolve }));
  return { dir, controlPlane, lines, next };
}

t.test('a cross-reference refusal is attributed to its file, the same in the log, lastRefusal and /readyz', async (t) => {
  const s = await setup(t, { 'a.yaml': `${service('users')}---\n${policy('users')}`, 'b.yaml': route('users', 'v1') });
  await s.controlPlane.start('127.0.0.1', 0);
  const admin = await startControlPlaneAdmin(s.controlPlane, '127.0.0.1', 0);
  t.teardown(() => admin.server.close());
  const good = s.controlPlane.snapshot!.version;
  const file = path.join(s.dir, 'b.yaml');

  const refused = s.next((line) => line.level === 'error');
  await writeFile(file, route('users', 'v9'));
  const line = await refused;
  t.equal(line.message, `refused a config change from ${file}; snapshot ${good} stays in force`);
  t.equal(s.controlPlane.builder.lastRefusal?.source, file);
  const ready = (await (await fetch(`http://127.0.0.1:${admin.port}/readyz`)).json()) as {
    version: string;
    lastRefusal: { source: string; origins: string[]; errors: string[] };
  };
  t.equal(ready.version, good, 'the snapshot in force stays');
  t.equal(ready.lastRefusal.source, file, '/readyz names the file the log names');
  t.same(ready.lastRefusal.origins, [file]);
  t.match(ready.lastRefusal.errors, [
    new RegExp(`^${file}:\\d+:\\d+: DubboRoute default/r: spec\\.routes\\[0\\]\\.destinations\\[0\\]\\.subset: service users has no subset "v9"`),
  ]);
});

t.test('a misspelled field and a cross-reference error are refused together', async (t) => {
  const s = await setup(t, { 'a.yaml': `${service('users')}---\n${policy('users')}`, 'b.yaml': route('users', 'v1') });
  await s.controlPlane.start('127.0.0.1', 0);
  const a = path.join(s.dir, 'a.yaml');
  const b = path.join(s.dir, 'b.yaml');
  const refused = s.next((line) => line.level === 'error');
  // One save of a.yaml: a typo in the policy, and subset v1 renamed (b.yaml's route names it).
  await writeFile(a, `${service('users')}---\n${policy('users', '\n  loadBalancr: {policy: random}').replace('name: v1', 'name: v2')}`);
  const line = await refused;
  const errors = line.fields!.errors as string[];
  t.equal(errors.length, 2, errors.join('\n'));
  t.match(errors[0], new RegExp(`^${a}:\\d+:\\d+: DubboPolicy default/users: spec\\.loadBalancr: unknown field`));
  t.match(
    errors[1],
    new RegExp(`^${b}:\\d+:\\d+: DubboRoute default/r: spec\\.routes\\[0\\]\\.destinations\\[0\\]\\.subset: service users has no subset "v1"`),
  );
  t.same(s.controlPlane.builder.lastRefusal?.origins, [a, b], 'both files are named');
  t.equal(line.message, `refused a config change from ${a}, ${b}; snapshot ${s.controlPlane.snapshot!.version} stays in force`);
});

t.test('a refusal before any snapshot says that none has been published', async (t) => {
  const s = await setup(t, { 'a.yaml': route('nobody', 'v1') });
  await s.controlPlane.start('127.0.0.1', 0);
  t.equal(s.controlPlane.snapshot, undefined);
  const line = s.lines.find((l) => l.level === 'error');
  t.equal(line?.message, `refused a config change from ${path.join(s.dir, 'a.yaml')}; no snapshot has been published yet`);
  t.notMatch(s.lines.map((l) => l.message).join('\n'), /stays in force/);
});

t.test('/metrics: # HELP on every metric; Node process metrics under their standard names', async (t) => {
  const s = await setup(t, { 'a.yaml': service('users') });
  await s.controlPlane.start('127.0.0.1', 0);
  const admin = await startControlPlaneAdmin(s.controlPlane, '127.0.0.1', 0);
  t.teardown(() => admin.server.close());
  const text = await (await fetch(`http://127.0.0.1:${admin.port}/metrics`)).text();
  const typed = [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!);
  const helped = new Set([...text.matchAll(/^# HELP (\S+) \S/gm)].map((m) => m[1]!));
  t.ok(typed.length > 20, `${typed.length} metrics`);
  t.same(
    typed.filter((name) => !helped.has(name)),
    [],
    'every metric has a # HELP line',
  );
  for (const name of [
    'process_cpu_seconds_total',
    'process_resident_memory_bytes',
    'nodejs_heap_size_used_bytes',
    'nodejs_eventloop_lag_seconds',
    'dubbo_mesh_cp_snapshots_total',
    'dubbo_mesh_cp_connected_proxies',
  ]) {
    t.ok(typed.includes(name), name);
  }
  t.same(
    typed.filter((name) => name.startsWith('dubbo_mesh_cp_') && /^dubbo_mesh_cp_(process|nodejs)_/.test(name)),
    [],
    'no prefix on the process metrics',
  );
});

t.test('an address in use rejects start() with a ListenError carrying EADDRINUSE', async (t) => {
  const s = await setup(t, { 'a.yaml': service('users') });
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => taken.close(() => resolve())));
  const { port } = taken.address() as AddressInfo;
  const error = await s.controlPlane.start('127.0.0.1', port).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.type(error, ListenError);
  t.equal((error as ListenError).code, 'EADDRINUSE');
  t.equal((error as Error).message, `cannot listen on 127.0.0.1:${port}: address already in use`);
});

t.test('snapshots reuse the wire form and bytes of unchanged resources, and encode as the discovery encoder does', async (t) => {
  const cache = new MeshYamlCache();
  const text = (port: number) => [service('a', port), service('b'), policy('b'), route('b', 'v1')].join('---\n');
  const first = Snapshot.create((await cache.parse(text(1), 'mesh.yaml')).resources);
  const second = Snapshot.create((await cache.parse(text(2), 'mesh.yaml')).resources);
  if (!first.valid || !second.valid) throw new Error('invalid');
  t.not(first.snapshot.version, second.snapshot.version);
  t.same(
    second.snapshot.resources.filter((r) => !first.snapshot.resources.includes(r)).map((r) => `${r.kind}/${r.name}`),
    ['DubboService/a'],
    'one resource made again',
  );
  const again = Snapshot.create((await cache.parse(text(1), 'mesh.yaml')).resources);
  t.equal(again.valid && again.snapshot.version, first.snapshot.version, 'equal content, equal version');

  const s = second.snapshot;
  const view = new DubboMeshDiscoveryView();
  const expected = encodeSharedResponse({ version_info: s.version, resources: [...s.resources], mappings: [...s.mappings] });
  t.same(decodeFields(view.stateOfTheWorld(s)), decodeFields(expected), 'state of the world: the same fields as the discovery encoder writes');
  t.equal(view.response(s, { mode: 'sotw' }, new Map()), view.stateOfTheWorld(s), 'encoded once per snapshot');
  const delta = encodeSharedDeltaResponse({ version_info: s.version, resources: [s.byKey.get('DubboService/default/a')!], removed_resources: [] });
  t.same(decodeFields(view.delta(s, first.snapshot)), decodeFields(delta), 'delta: only the changed resource');
  t.equal(view.delta(s, first.snapshot), view.delta(s, first.snapshot), 'a delta from a held snapshot is encoded once per pair');
});

/** The top-level fields of a protobuf message as `field:hex` in order of field then appearance (scalars: last one wins). */
function decodeFields(bytes: Buffer): string[] {
  const fields: Array<[number, string]> = [];
  let at = 0;
  const varint = () => {
    let value = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[at++]!;
      value += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return value;
      shift += 7;
    }
  };
  while (at < bytes.length) {
    const key = varint();
    const length = varint();
    fields.push([key >>> 3, bytes.subarray(at, at + length).toString('hex')]);
    at += length;
  }
  const scalars = new Map<number, string>();
  for (const [field, value] of fields) if (field <= 2) scalars.set(field, value);
  return [
    ...[...scalars].map(([field, value]) => `${field}:${value}`),
    ...fields
      .filter(([field]) => field > 2)
      .sort((a, b) => a[0] - b[0])
      .map(([field, value]) => `${field}:${value}`),
  ];
}

t.test('a route in one --config folder may name a service in another; each error is reported once', async (t) => {
  const dirs = await Promise.all([0, 1].map(() => mkdtemp(path.join(tmpdir(), 'dm-cpt-'))));
  t.teardown(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))).then(() => {}));
  await writeFile(path.join(dirs[0]!, 'services.yaml'), `${service('users')}---\n${policy('users')}`);
  const routes = path.join(dirs[1]!, 'routes.yaml');
  await writeFile(routes, route('users', 'v1'));
  const controlPlane = new ControlPlane({ configPaths: dirs, fileSource: { settleMs: 20 } });
  t.teardown(() => controlPlane.stop());
  await controlPlane.start('127.0.0.1', 0);
  t.equal(controlPlane.snapshot?.counts.routes, 1, 'the reference across sources holds');

  const refused = new Promise<Refusal>((resolve) => controlPlane.once('refused', resolve));
  await writeFile(routes, route('users', 'v9').replace('hosts:', 'hostz: [x]\n  hosts:'));
  const refusal = await refused;
  t.equal(refusal.errors.length, 2, refusal.errors.join('\n'));
  t.match(refusal.errors[0], /spec\.hostz: unknown field/);
  t.match(refusal.errors[1], /spec\.routes\[0\]\.destinations\[0\]\.subset: service users has no subset "v9"/);
  t.equal(refusal.source, routes);
});
