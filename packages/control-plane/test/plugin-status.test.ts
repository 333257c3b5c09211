// GET /api/v1/plugins through the real admin HTTP API, from file sources: plugins in force in
// the order proxies run them, an invalid edit refused with every error at file:line:col while
// its last valid version stays, a plugin that was never valid, and a name defined in two sources.
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { ControlPlane, startControlPlaneAdmin, type PluginStatus } from '@dubbo-mesh/control-plane';
import { eventually } from '@dubbo-mesh/test-support';

const plugin = (name: string, spec: string, namespace?: string) => `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboPlugin
metadata: {name: ${name}${namespace === undefined ? '' : `, namespace: ${namespace}`}}
spec:
${spec.trim().replace(/^/gm, '  ')}
`;

const auth = plugin(
  'auth-login',
  `
services: [org.example.*]
phases: [response, request]
order: 10
tag: "tenant=a"
grpc: {address: 127.0.0.1:9500, timeout: 50ms}
failurePolicy: fail-open
circuitBreaker: {consecutiveFailures: 3, openFor: 2s}
`,
);
const enrich = plugin('enrich', 'module: /opt/plugins/enrich.mjs');

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A temp folder holding `files`, removed in teardown. */
async function folder(t: Test, files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-plugins-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return dir;
}

/** A control plane on one folder per entry of `folders`, its admin API, and a GET of /api/v1/plugins. */
async function start(t: Test, ...folders: Array<Record<string, string>>) {
  const dirs = await Promise.all(folders.map((files) => folder(t, files)));
  const controlPlane = new ControlPlane({ configPaths: dirs, fileSource: { settleMs: 20 } });
  t.teardown(() => controlPlane.stop());
  await controlPlane.start('127.0.0.1', 0);
  const admin = await startControlPlaneAdmin(controlPlane, '127.0.0.1', 0);
  t.teardown(() => admin.server.close());
  const plugins = async () => {
    const response = await fetch(`http://127.0.0.1:${admin.port}/api/v1/plugins`);
    t.equal(response.status, 200);
    return (await response.json()) as PluginStatus[];
  };
  return { dirs, controlPlane, plugins };
}

t.test('plugins in force: every field, defaults filled in, in the order proxies run them', async (t) => {
  const ties = `${plugin('b', 'module: /p/b.mjs\norder: 10')}---\n${plugin('a', 'module: /p/a.mjs\norder: 10', 'zz')}`;
  const { dirs, plugins } = await start(t, { 'auth.yaml': auth, 'enrich.yaml': enrich, 'ties.yaml': ties });
  const [dir] = dirs;
  const listed = await plugins();
  t.same(
    listed.map((status) => status.resource),
    ['DubboPlugin default/enrich', 'DubboPlugin default/auth-login', 'DubboPlugin default/b', 'DubboPlugin zz/a'],
    'order 0 first, then order 10 by namespace/name',
  );
  t.same(listed[1], {
    resource: 'DubboPlugin default/auth-login',
    source: `file:${dir}`,
    origin: path.join(dir!, 'auth.yaml'),
    services: ['org.example.*'],
    phases: ['request', 'response'],
    order: 10,
    tag: 'tenant=a',
    kind: 'grpc',
    address: '127.0.0.1:9500',
    path: null,
    timeoutMs: 50,
    failurePolicy: 'fail-open',
    circuitBreaker: { consecutiveFailures: 3, openForMs: 2000 },
    state: 'in-force',
    errors: [],
    lastValidInForce: null,
  });
  t.same(
    listed[0],
    {
      resource: 'DubboPlugin default/enrich',
      source: `file:${dir}`,
      origin: path.join(dir!, 'enrich.yaml'),
      services: null,
      phases: ['request'],
      order: 0,
      tag: '',
      kind: 'module',
      address: null,
      path: '/opt/plugins/enrich.mjs',
      timeoutMs: 200,
      failurePolicy: 'fail-closed',
      circuitBreaker: { consecutiveFailures: 5, openForMs: 10_000 },
      state: 'in-force',
      errors: [],
      lastValidInForce: null,
    },
    'a module plugin with every default: every call, the request phase, 200 ms, fail-closed, 5 failures then 10 s open',
  );
});

t.test('an invalid edit is refused with every error at file:line:col while its last valid version stays; fixed, it goes', async (t) => {
  const { dirs, controlPlane, plugins } = await start(t, { 'auth.yaml': auth });
  const file = path.join(dirs[0]!, 'auth.yaml');
  const refused = once(controlPlane, 'refused');
  // Two faults: a phase that does not exist, and both grpc and module.
  await writeFile(file, auth.replace('phases: [response, request]', 'phases: [before]').replace('failurePolicy:', 'module: /p/auth.mjs\n  failurePolicy:'));
  await refused;
  const [kept, rejected, ...more] = await plugins();
  t.same(more, [], 'the version in force and the refused edit, nothing else');
  t.match(kept, { resource: 'DubboPlugin default/auth-login', state: 'in-force', phases: ['request', 'response'], origin: file, errors: [] });
  t.match(rejected, {
    resource: 'DubboPlugin default/auth-login',
    source: `file:${dirs[0]}`,
    origin: file,
    state: 'refused',
    order: null,
    kind: null,
    lastValidInForce: true,
  });
  t.equal(rejected!.errors.length, 2, 'every error');
  t.match(
    rejected!.errors.join('\n'),
    new RegExp(`^${escape(file)}:6:\\d+: DubboPlugin default/auth-login: spec\\.phases\\[0\\]: `, 'm'),
    'the bad phase, at its line',
  );
  t.match(
    rejected!.errors.join('\n'),
    new RegExp(`^${escape(file)}:\\d+:\\d+: DubboPlugin default/auth-login: spec.*(grpc|module)`, 'm'),
    'grpc and module both given',
  );

  const published = once(controlPlane, 'published');
  await writeFile(file, auth.replace('order: 10', 'order: 20'));
  await published;
  t.match(await plugins(), [{ state: 'in-force', order: 20, errors: [] }]);
  t.equal((await plugins()).length, 1, 'the refusal is gone');
});

t.test('a plugin that was never valid is refused with nothing in force for it', async (t) => {
  const { dirs, controlPlane, plugins } = await start(t, { 'auth.yaml': auth });
  const file = path.join(dirs[0]!, 'broken.yaml');
  const refused = once(controlPlane, 'refused');
  await writeFile(file, plugin('broken', 'services: [org.example.*]'));
  await refused;
  const listed = await plugins();
  t.same(
    listed.map((status) => [status.resource, status.state]),
    [
      ['DubboPlugin default/auth-login', 'in-force'],
      ['DubboPlugin default/broken', 'refused'],
    ],
    'the refused one sorts last (its order is not known)',
  );
  t.match(listed[1], {
    origin: file,
    lastValidInForce: false,
    errors: [new RegExp(`^${escape(file)}:\\d+:\\d+: DubboPlugin default/broken: .*(grpc|module)`)],
  });
});

t.test('a name defined in a second source is refused there, with the error naming it; the first stays in force', async (t) => {
  const { dirs, controlPlane, plugins } = await start(t, { 'auth.yaml': auth }, {});
  const [first, second] = dirs;
  const conflict = path.join(second!, 'auth.yaml');
  const refused = once(controlPlane, 'refused');
  await writeFile(conflict, plugin('auth-login', 'module: /p/other.mjs\norder: 10'));
  await refused;
  await eventually(async () => (await plugins()).length === 2, 'both versions listed');
  const [held, loser] = await plugins();
  t.match(held, { resource: 'DubboPlugin default/auth-login', source: `file:${first}`, state: 'in-force', kind: 'grpc', errors: [] });
  t.match(loser, {
    resource: 'DubboPlugin default/auth-login',
    source: `file:${second}`,
    origin: conflict,
    state: 'refused',
    kind: 'module',
    path: '/p/other.mjs',
    lastValidInForce: null,
    errors: [`${conflict}:3:18: DubboPlugin default/auth-login: metadata.name: is defined twice`],
  });
  t.same(
    controlPlane.snapshot!.config.plugins.map((p) => p.grpc?.address),
    ['127.0.0.1:9500'],
    'the snapshot has the first source’s plugin only',
  );
});
