// In-process plugin modules end to end: a DubboPlugin with `module:` delivered by the control
// plane to a consumer proxy, apache-dubbo-js calling through it in several loops while the
// module's file is edited: no call lost or failed, the new behaviour seen within a second of
// the write, a version with a syntax error refused (the old one answers on) and reported with
// its line, then fixed again; a module that fails its first load (its failure policy answers);
// a call in flight across a reload (it ends on the version it started with).
import { writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import t, { type Test } from 'tap';
import { userClient } from '../packages/proxy/test/fixtures/consumer.js';
import { NODE, sample, startPluginMesh, type PluginMesh } from './fixtures/plugins/plugin-mesh.js';

/** A plugin module that stamps `version` on every call (and throws when the call asks it to). */
function moduleText(version: string): string {
  return `// plugin version ${version}
export default function execute(request) {
  if (request.attachments['x-throw'] === 'yes') throw new Error('asked to throw by ${version}');
  return { set_attachments: { 'x-plugin-version': '${version}' } };
}
`;
}

/** A version whose line 4 does not parse. */
const BROKEN = `// plugin version v3, broken
export default function execute(request) {
  if (request.attachments['x-throw'] === 'yes') throw new Error('asked to throw by v3');
  return { set_attachments: { 'x-plugin-version': 'v3' } ;
}
`;

/** A temp folder for modules, removed at the end. */
async function moduleDir(t: Test): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dubbo-mesh-plugin-module-'));
  await mkdir(path.join(dir, '.staging'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A DubboPlugin running the module at `file` for UserService calls. */
function moduleDoc(name: string, file: string, failurePolicy: 'fail-open' | 'fail-closed', timeout = '2s'): string {
  return `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboPlugin
metadata: {name: ${name}}
spec:
  services: ["org.apache.dubbo.benchmark.service.UserService"]
  module: "${file}"
  timeout: ${timeout}
  failurePolicy: ${failurePolicy}
`;
}

/** One call of the traffic: when it started and ended (performance.now()), and the version the provider saw, or its error. */
interface CallRecord {
  readonly startedAt: number;
  readonly endedAt: number;
  readonly version?: string;
  readonly error?: string;
}

/** `loops` apache-dubbo-js clients (a connection each) calling getUser in a loop through the proxy. */
function traffic(t: Test, mesh: PluginMesh, loops: number) {
  const outbound = mesh.sidecar.addresses.outbound!;
  const records: CallRecord[] = [];
  const waiters: Array<{ check: (record: CallRecord) => boolean; resolve: (record: CallRecord) => void }> = [];
  let stop = false;
  const running = Array.from({ length: loops }, async () => {
    const client = userClient(`${outbound.host}:${outbound.port}`);
    try {
      while (!stop) {
        const id = mesh.nextId();
        const startedAt = performance.now();
        const result = await client.getUser(id);
        const endedAt = performance.now();
        const version = mesh.saw(id)?.attachments['x-plugin-version'];
        const record: CallRecord =
          result.err !== null
            ? { startedAt, endedAt, error: result.err.message }
            : { startedAt, endedAt, version: typeof version === 'string' ? version : 'none' };
        records.push(record);
        for (const waiter of [...waiters]) {
          if (!waiter.check(record)) continue;
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(record);
        }
      }
    } finally {
      client.close();
    }
  });
  const stopAll = async () => {
    stop = true;
    await Promise.all(running);
  };
  t.teardown(stopAll);
  return {
    records,
    /** The first call ending from now on that `check` holds of. */
    next: (check: (record: CallRecord) => boolean) => new Promise<CallRecord>((resolve) => waiters.push({ check, resolve })),
    /** Resolves once at least `count` more calls have ended, with the calls ended since. */
    async more(count: number): Promise<CallRecord[]> {
      const from = records.length;
      await new Promise<CallRecord>((resolve) => waiters.push({ check: () => records.length >= from + count, resolve }));
      return records.slice(from);
    },
    stop: stopAll,
  };
}

/**
 * Replace `file`'s text at once (a new file renamed over it), as editors that save atomically
 * do. The new file is written in a folder of its own (`.staging`, made before the module is
 * first loaded): the proxy follows the module's folder, and a change there while the module's
 * version is refused is one more load tried (and refused) of its own.
 */
async function replace(file: string, text: string): Promise<void> {
  const next = path.join(path.dirname(file), '.staging', path.basename(file));
  await writeFile(next, text);
  await rename(next, file);
}

/** Settles (performance.now()) when the proxy logs that it loaded `version` of `file`. */
function reloaded(file: string, version: number): Promise<number> {
  return mesh.log.waitFor((line) => line.message.includes(file) && line.message.includes(`(version ${version},`)).then(() => performance.now());
}

/** The distinct versions (or errors) of some calls, sorted. */
function distinct(records: readonly CallRecord[]): string[] {
  return [...new Set(records.map((record) => record.version ?? `error: ${record.error}`))].sort();
}

const mesh = await startPluginMesh(t);
const REPLY = 'dubbo-mesh [DM_ERR_FILTER_REPLY]: plugin default';

t.test('a module edited under load: no call lost or failed, the new version within a second; a syntax error refused, the old one kept', async (t) => {
  const dir = await moduleDir(t);
  const file = path.join(dir, 'stamp.mjs');
  await writeFile(file, moduleText('v1'));
  await mesh.apply(moduleDoc('stamp', file, 'fail-closed'), ['stamp']);
  const calls = traffic(t, mesh, 4);
  t.same(distinct(await calls.more(40)), ['v1'], 'v1 stamps every call');

  // Edited in place, as most editors save.
  const v2 = calls.next((record) => record.version === 'v2');
  const reloadedV2 = reloaded(file, 2);
  const writtenAt = performance.now();
  // Synchronously: truncated and written with no turn of the event loop between, so the
  // proxy never reads it half written (that would be a failed load of its own, and a slower one).
  writeFileSync(file, moduleText('v2'));
  const firstV2 = await v2;
  const v2Ms = firstV2.endedAt - writtenAt;
  t.comment(
    `module rewritten in place: reloaded (log line) after ${((await reloadedV2) - writtenAt).toFixed(1)} ms, the first call stamped v2 ended ${v2Ms.toFixed(1)} ms after the write began`,
  );
  t.ok(v2Ms < 1000, `v2 answers within a second of the write (${v2Ms.toFixed(1)} ms)`);
  await calls.more(60);
  t.same(
    distinct(calls.records.filter((record) => record.startedAt > firstV2.endedAt)),
    ['v2'],
    'every call started after the first v2 answer is answered by v2',
  );
  const loaded = (await mesh.stats())['default/stamp']!;
  t.match(loaded, { module: file, version: 2, loads: 2, failedLoads: 0, lastError: null, breaker: 'closed' });

  // A version that does not parse: refused with its line, v2 answers on.
  const refused = mesh.log.waitFor((line) => line.level === 'warn' && line.message.includes(file) && line.message.includes('SyntaxError'));
  await replace(file, BROKEN);
  const refusal = await refused;
  t.match(refusal.message, /stamp\.mjs: line 4: SyntaxError.*; version 2 stays$/, refusal.message);
  const broken = (await mesh.stats())['default/stamp']!;
  t.match(broken, { version: 2, loads: 2, failedLoads: 1, lastError: /stamp\.mjs: line 4: SyntaxError/ }, '/stats names the line');
  t.same(distinct(await calls.more(60)), ['v2'], 'calls go on, answered by v2');

  // Fixed: the next version loads.
  const v4 = calls.next((record) => record.version === 'v4');
  const reloadedV4 = reloaded(file, 3);
  const fixedAt = performance.now();
  await replace(file, moduleText('v4'));
  const firstV4 = await v4;
  const v4Ms = firstV4.endedAt - fixedAt;
  t.comment(
    `module fixed (replaced by a rename): reloaded (log line) after ${((await reloadedV4) - fixedAt).toFixed(1)} ms, the first call stamped v4 ended ${v4Ms.toFixed(1)} ms after the write began`,
  );
  t.ok(v4Ms < 1000, `v4 answers within a second of the write (${v4Ms.toFixed(1)} ms)`);
  await calls.more(40);
  await calls.stop();
  t.same(
    distinct(calls.records.filter((record) => record.startedAt > firstV4.endedAt)),
    ['v4'],
    'every call started after the first v4 answer is answered by v4',
  );

  const { records } = calls;
  t.same(
    records.filter((record) => record.error !== undefined),
    [],
    'no call failed',
  );
  t.same(distinct(records), ['v1', 'v2', 'v4'], 'every call was stamped by a loaded version, never by the broken one');
  t.comment(`${records.length} calls over 4 connections`);
  const fixed = (await mesh.stats())['default/stamp']!;
  t.match(fixed, { version: 3, loads: 3, failedLoads: 1, lastError: null });
  t.match(fixed, { calls: records.length, errors: 0, timeouts: 0, rejections: 0, request: { ok: records.length } }, 'one plugin call per call made');
  const metrics = await mesh.metrics();
  const labels = { node: NODE.id, plugin: 'default/stamp' };
  t.equal(sample(metrics, 'dubbo_mesh_plugin_calls_total', { ...labels, phase: 'request', outcome: 'ok' }), records.length);
  t.equal(sample(metrics, 'dubbo_mesh_plugin_duration_seconds_count', { ...labels, phase: 'request' }), records.length);

  // A module that throws: its failure policy (fail-closed) answers 70, naming why.
  const before = mesh.providerCalls;
  t.same(await mesh.raw.getUser(mesh.nextId(), { 'x-throw': 'yes' }), {
    status: 70,
    message: `${REPLY}/stamp: plugin failed (fail-closed): asked to throw by v4`,
  });
  t.equal(mesh.providerCalls, before, 'no provider got the call');
  t.match((await mesh.stats())['default/stamp'], { calls: records.length + 1, errors: 1 });
});

t.test('a module that does not load at first: calls answered by its failure policy, naming the line; it loads once fixed', async (t) => {
  const dir = await moduleDir(t);
  const file = path.join(dir, 'late.mjs');
  await writeFile(file, BROKEN);
  const refused = mesh.log.waitFor((line) => line.level === 'warn' && line.message.includes(file) && line.message.includes('SyntaxError'));
  await mesh.apply(moduleDoc('late', file, 'fail-closed'), ['late']);
  t.match((await refused).message, /late\.mjs: line 4: SyntaxError.*; no version is loaded$/);
  t.match((await mesh.stats())['default/late'], { version: null, loads: 0, failedLoads: 1, lastError: /late\.mjs: line 4: SyntaxError/ });
  const before = mesh.providerCalls;
  const answer = await mesh.raw.getUser(mesh.nextId());
  t.equal(answer.status, 70);
  t.match(answer.message, `${REPLY}/late: plugin failed (fail-closed): module not loaded: plugin module ${file}: line 4: SyntaxError`);
  t.equal(mesh.providerCalls, before);

  const loaded = mesh.log.waitFor((line) => line.message.includes(file) && / loaded \(version 1/.test(line.message));
  await replace(file, moduleText('late-v1'));
  await loaded;
  const id = mesh.nextId();
  t.match(await mesh.raw.getUser(id), { status: 20 });
  t.equal(mesh.saw(id)?.attachments['x-plugin-version'], 'late-v1');
  t.match((await mesh.stats())['default/late'], { version: 1, loads: 1, failedLoads: 1, lastError: null, calls: 2, errors: 1, request: { ok: 1, error: 1 } });
});

/** What a held module and the test share: the module is in process, so globalThis is the test's too. */
interface Gate {
  dubboMeshPluginEntered?: (id: string) => void;
  dubboMeshPluginGate?: Promise<void>;
}

/** A module whose calls with `x-hold: yes` wait for the test's gate (async, as a module calling a service would). */
function heldModuleText(version: string): string {
  return `// plugin version ${version}
export default async function execute(request) {
  if (request.attachments['x-hold'] === 'yes') {
    globalThis.dubboMeshPluginEntered?.(request.id);
    await globalThis.dubboMeshPluginGate;
  }
  return { set_attachments: { 'x-plugin-version': '${version}' } };
}
`;
}

t.test('a call in flight when the module is replaced finishes on the version it started with', async (t) => {
  const gate = globalThis as Gate;
  let open!: () => void;
  gate.dubboMeshPluginGate = new Promise<void>((resolve) => (open = resolve));
  const entered = new Promise<string>((resolve) => (gate.dubboMeshPluginEntered = resolve));
  t.teardown(() => {
    open();
    delete gate.dubboMeshPluginGate;
    delete gate.dubboMeshPluginEntered;
  });
  const dir = await moduleDir(t);
  const file = path.join(dir, 'held.mjs');
  await writeFile(file, heldModuleText('h1'));
  // A long timeout: the held call waits for the reload, however long a loaded machine takes.
  await mesh.apply(moduleDoc('held', file, 'fail-closed', '60s'), ['held']);

  const heldId = mesh.nextId();
  const held = mesh.raw.getUser(heldId, { 'x-hold': 'yes' });
  await entered;
  const reloadedH2 = reloaded(file, 2);
  writeFileSync(file, heldModuleText('h2'));
  await reloadedH2;
  const fresh = mesh.nextId();
  t.match(await mesh.raw.getUser(fresh), { status: 20 }, 'a call started after the reload');
  t.equal(mesh.saw(fresh)?.attachments['x-plugin-version'], 'h2', 'is answered by the new version');
  t.equal(mesh.saw(heldId), undefined, 'while the held call is still in the old version');
  open();
  t.match(await held, { status: 20 }, 'the held call ends well');
  t.equal(mesh.saw(heldId)?.attachments['x-plugin-version'], 'h1', 'answered by the version it started with');
  t.match((await mesh.stats())['default/held'], { version: 2, loads: 2, calls: 2, request: { ok: 2 } });
});
