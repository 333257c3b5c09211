// PluginModule, the module a proxy loads in process and `plugin serve` serves: the export shapes
// of ES and CommonJS modules, reloads when the file's text changes, refusals that keep the
// version in force, and versions held by callers.
import t, { type Test } from 'tap';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eventually } from '@dubbo-mesh/test-support';
import { PluginModule, PluginModuleError, importPluginFunction, type PluginModuleOptions, type PluginRequest } from '@dubbo-mesh/plugins';

const REQUEST: PluginRequest = {
  id: 'c1',
  tag: 'the tag',
  phase: 'REQUEST',
  service: 'org.example.UserService',
  group: '',
  version: '',
  method: 'getUser',
  attachments: { 'x-token': 't' },
  source_address: '127.0.0.1:40000',
  application: 'web',
  status: 0,
};

let dir = '';
t.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-plugin-module-'));
});
t.teardown(() => rm(dir, { recursive: true, force: true }));

let folders = 0;
/** A folder of its own (one test's writes are no other module's changes), with `files` written in it. */
async function folderWith(files: Record<string, string>): Promise<string> {
  const folder = await mkdtemp(path.join(dir, `f${++folders}-`));
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(folder, name), text);
  return folder;
}

/** A started module with its log lines; closed in teardown. */
async function started(t: Test, file: string, options: PluginModuleOptions = {}): Promise<{ module: PluginModule; lines: Array<[string, boolean]> }> {
  const lines: Array<[string, boolean]> = [];
  const module = new PluginModule(file, { ...options, log: (line, failed) => lines.push([line, failed]) });
  t.teardown(() => module.close());
  await module.start();
  return { module, lines };
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

t.test('every export shape, ES module and CommonJS, gives the plugin function', async (t) => {
  const body = "return { message: request.tag + ' ' + request.method };";
  const shapes: Record<string, string> = {
    'default-function.mjs': `export default function (request) { ${body} }`,
    'default-arrow.mjs': `export default async (request) => { ${body} };`,
    'named-execute.mjs': `export function execute(request) { ${body} }`,
    'default-object.mjs': `export default { execute(request) { ${body} } };`,
    'exports-function.cjs': `module.exports = function (request) { ${body} };`,
    'exports-object.cjs': `module.exports = { execute: (request) => { ${body} } };`,
    'exports-named.cjs': `exports.execute = (request) => { ${body} };`,
    // A .js file with no package.json above it (a temporary folder) is CommonJS.
    'commonjs.js': `const { format } = require('node:util'); module.exports = (request) => ({ message: format('%s %s', request.tag, request.method) });`,
  };
  const folder = await folderWith(shapes);
  for (const name of Object.keys(shapes)) {
    const { module, lines } = await started(t, path.join(folder, name), { watch: false });
    t.equal(module.lastError, undefined, `${name}: loaded`);
    t.same(await module.current?.execute(REQUEST), { message: 'the tag getUser' }, `${name}: called with the request`);
    t.match(lines, [[`plugin module ${path.join(folder, name)}: loaded (version 1, sha256 `, false]], `${name}: one log line`);
  }
});

t.test('a module that exports no function, throws while loading, or is no file: refused, naming the file and why', async (t) => {
  const folder = await folderWith({
    'nothing.mjs': 'export const execute = 5;\n',
    'throws.mjs': "import path from 'node:path';\nthrow new RangeError('no config for ' + path.sep);\n",
  });
  const cases: Array<[string, RegExp]> = [
    [
      'nothing.mjs',
      /: exports no plugin function \(export default function \(request\) \{…\}, export function execute\(request\) \{…\}, or module\.exports = …\)$/,
    ],
    ['throws.mjs', /: failed to load: RangeError: no config for \/$/],
    ['missing.mjs', /: no such file$/],
  ];
  for (const [name, expected] of cases) {
    const file = path.join(folder, name);
    const { module, lines } = await started(t, file, { watch: false });
    t.equal(module.current, undefined, `${name}: no version`);
    t.match(module.lastError, new RegExp(`^plugin module ${escape(file)}${expected.source}`), `${name}: why`);
    t.equal(module.failedLoads, 1);
    t.same(lines, [[`${module.lastError}; no version is loaded`, true]], `${name}: logged once`);
  }
  const error = await importPluginFunction(path.join(folder, 'nothing.mjs'), 1).catch((error: unknown) => error);
  t.ok(error instanceof PluginModuleError, 'importPluginFunction rejects with a PluginModuleError');
  t.equal((error as PluginModuleError).code, 'DM_ERR_PLUGIN_MODULE');
});

t.test('a module that imports a missing file: the missing import is named, not the module', async (t) => {
  const folder = await folderWith({ 'imports-missing.mjs': "import './not-there.mjs';\nexport default () => undefined;\n" });
  const file = path.join(folder, 'imports-missing.mjs');
  const { module } = await started(t, file, { watch: false });
  t.equal(module.current, undefined);
  t.match(module.lastError, new RegExp(`^plugin module ${escape(file)}: failed to load: Cannot find module .*not-there\\.mjs`));
});

t.test('a syntax error names its line, in an ES module and in a CommonJS one', async (t) => {
  const folder = await folderWith({
    'broken.mjs': 'export default function (request) {\n  const a = 1;\n  return { code: 70 ;\n}\n',
    'broken.cjs': 'module.exports = (request) => {\n  return {\n    code: 70,,\n  };\n};\n',
  });
  for (const [name, line] of [
    ['broken.mjs', 3],
    ['broken.cjs', 3],
  ] as const) {
    const file = path.join(folder, name);
    const { module } = await started(t, file, { watch: false });
    t.match(module.lastError, new RegExp(`^plugin module ${escape(file)}: line ${line}: SyntaxError: `), `${name}: line ${line}`);
    t.notMatch(module.lastError, /\n/, `${name}: one line`);
  }
});

t.test('reload: a change of text is loaded; the same text again is not; CommonJS too', async (t) => {
  for (const [name, text] of [
    ['plugin.mjs', (n: number) => `export default () => ({ message: 'v${n}' });\n`],
    ['plugin.cjs', (n: number) => `module.exports = () => ({ message: 'v${n}' });\n`],
  ] as const) {
    const folder = await folderWith({ [name]: text(1) });
    const file = path.join(folder, name);
    const { module, lines } = await started(t, file);
    t.same(await module.current!.execute(REQUEST), { message: 'v1' });

    await writeFile(file, text(2));
    await eventually(() => module.current?.generation === 2, `${name}: version 2`);
    t.same(await module.current!.execute(REQUEST), { message: 'v2' }, `${name}: the new text runs`);
    t.match(lines.at(-1), [`plugin module ${file}: reloaded (version 2, sha256 ${module.current!.digest})`, false]);

    await writeFile(file, text(2));
    await module.reload();
    t.equal(module.loads, 2, `${name}: the same text is not loaded again`);
    t.equal(module.current!.generation, 2);
  }
});

t.test('a failed reload keeps the version in force; fixing the file loads it', async (t) => {
  const folder = await folderWith({ 'plugin.mjs': "export default () => ({ message: 'good' });\n" });
  const file = path.join(folder, 'plugin.mjs');
  const { module, lines } = await started(t, file);
  const first = module.current!;

  await writeFile(file, "export default () => ({ message: 'bad' );\n");
  await eventually(() => module.failedLoads === 1, 'the broken text to be refused');
  t.equal(module.current, first, 'the version in force stays');
  t.match(module.lastError, `plugin module ${file}: line 1: SyntaxError`);
  t.match(lines.at(-1), [/; version 1 stays$/, true]);

  await writeFile(file, "export default () => ({ message: 'fixed' });\n");
  await eventually(() => module.current?.generation === 2, 'the fixed text to load');
  t.equal(module.lastError, undefined, 'the error is cleared');
  t.same(await module.current!.execute(REQUEST), { message: 'fixed' });
});

t.test('a missing file, then created: loaded when it appears', async (t) => {
  const folder = await folderWith({});
  const file = path.join(folder, 'later.mjs');
  const { module } = await started(t, file);
  t.equal(module.current, undefined);
  t.equal(module.lastError, `plugin module ${file}: no such file`);
  await writeFile(file, "export default () => ({ message: 'here' });\n");
  await eventually(() => module.current !== undefined, 'the new file to load');
  t.same(await module.current!.execute(REQUEST), { message: 'here' });
  t.equal(module.lastError, undefined);
});

t.test('a version held by a caller keeps working, with its own module state, after a reload', async (t) => {
  const text = (name: string) => `let calls = 0;\nexport default async () => ({ message: '${name} ' + ++calls });\n`;
  const folder = await folderWith({ 'plugin.mjs': text('old') });
  const file = path.join(folder, 'plugin.mjs');
  const { module } = await started(t, file);
  const held = module.current!;
  t.same(await held.execute(REQUEST), { message: 'old 1' });

  await writeFile(file, text('new'));
  await eventually(() => module.current !== held, 'the reload');
  t.same(await module.current!.execute(REQUEST), { message: 'new 1' }, 'the new version starts afresh');
  t.same(await held.execute(REQUEST), { message: 'old 2' }, 'the held version still runs, with its state');
  t.ok(Object.isFrozen(held), 'a version is frozen');
});

t.test(
  'a file replaced the way a Kubernetes ConfigMap volume replaces it (a symlink swap) is reloaded',
  // Node's ES module resolver caches real paths for the life of the process: the module is
  // imported by the real path its link has now.
  async (t) => {
    // A ConfigMap volume: plugin.mjs -> ..data/plugin.mjs, ..data -> ..<timestamp>; an update
    // writes a new timestamped folder and renames a new ..data link over the old one.
    const folder = await folderWith({});
    const writeVersion = async (name: string, text: string) => {
      await mkdir(path.join(folder, name));
      await writeFile(path.join(folder, name, 'plugin.mjs'), text);
      await symlink(name, path.join(folder, '..data_tmp'));
      await rename(path.join(folder, '..data_tmp'), path.join(folder, '..data'));
    };
    await writeVersion('..2024_01', "export default () => ({ message: 'first' });\n");
    await symlink('..data/plugin.mjs', path.join(folder, 'plugin.mjs'));
    const { module } = await started(t, path.join(folder, 'plugin.mjs'));
    t.same(await module.current!.execute(REQUEST), { message: 'first' });

    await writeVersion('..2024_02', "export default () => ({ message: 'second' });\n");
    await eventually(() => module.current?.generation === 2, 'the swapped file to load');
    t.same(await module.current!.execute(REQUEST), { message: 'second' });
  },
);

t.test('close stops following the file; versions held stay usable', async (t) => {
  const folder = await folderWith({ 'plugin.mjs': "export default () => ({ message: 'one' });\n" });
  const file = path.join(folder, 'plugin.mjs');
  const { module } = await started(t, file);
  const held = module.current!;
  module.close();
  await module.ready;

  // A second module on the same file shows the change was seen and settled: the closed one,
  // had it still been following, would have reloaded with it.
  const { module: witness } = await started(t, file);
  await writeFile(file, "export default () => ({ message: 'two' });\n");
  await eventually(() => witness.current?.generation === 2, 'the witness to reload');
  await witness.reload();
  t.equal(module.current, held, 'the closed module kept its version');
  t.equal(module.loads, 1);
  t.same(await held.execute(REQUEST), { message: 'one' }, 'and it still runs');
});

t.test('a CommonJS module behind a symlink to another folder: an edit of the target is seen and evaluated afresh', async (t) => {
  const real = await folderWith({ 'p.cjs': "module.exports = () => ({ message: 'v1' });\n" });
  const links = await folderWith({});
  await symlink(path.join(real, 'p.cjs'), path.join(links, 'p.cjs'));
  const { module } = await started(t, path.join(links, 'p.cjs'));
  t.same(await module.current!.execute(REQUEST), { message: 'v1' });
  await writeFile(path.join(real, 'p.cjs'), "module.exports = () => ({ message: 'v2' });\n");
  await eventually(() => module.current?.generation === 2, 'the edited target to load');
  t.same(await module.current!.execute(REQUEST), { message: 'v2' }, 'not the cached exports of the real path');
});

t.test('files written beside a refused module do not make it be tried again; the same text is tried once', async (t) => {
  const folder = await folderWith({ 'plugin.mjs': "export default () => ({ message: 'ok' });\n" });
  const file = path.join(folder, 'plugin.mjs');
  const lines: string[] = [];
  const module = new PluginModule(file, { log: (line) => lines.push(line) });
  t.teardown(() => module.close());
  await module.start();
  await writeFile(file, 'export default () => ({ message: ;\n');
  await eventually(() => module.failedLoads === 1, 'the broken text refused');
  for (let i = 0; i < 5; i++) await writeFile(path.join(folder, `other-${i}.log`), String(i));
  await writeFile(file, 'export default () => ({ message: ;\n'); // the same text again
  // A witness: a module in the same folder that loads again once these events have been seen.
  await writeFile(path.join(folder, 'witness.mjs'), 'export default () => undefined;\n');
  const witness = new PluginModule(path.join(folder, 'witness.mjs'));
  t.teardown(() => witness.close());
  await witness.start();
  await writeFile(path.join(folder, 'witness.mjs'), 'export default () => ({ code: 0 });\n');
  await eventually(() => witness.current?.generation === 2, 'the witness reloaded');
  await module.reload();
  t.equal(module.failedLoads, 1, 'refused once');
  t.same(await module.current!.execute(REQUEST), { message: 'ok' }, 'the first version stays');
});

t.test('a change during a slow first load is loaded after it, never overwritten by the older text', async (t) => {
  const folder = await folderWith({ 'slow.mjs': "await new Promise((r) => setTimeout(r, 300));\nexport default () => ({ message: 'A' });\n" });
  const file = path.join(folder, 'slow.mjs');
  const module = new PluginModule(file, { settleMs: 10 });
  t.teardown(() => module.close());
  const started = module.start();
  await writeFile(file, "export default () => ({ message: 'B' });\n");
  await started;
  await eventually(async () => (await module.current?.execute(REQUEST))?.message === 'B', 'the newer text in force');
  await module.reload();
  t.same(await module.current!.execute(REQUEST), { message: 'B' });
});

t.test('module.exports = { execute() {…} } runs with this = the exports object', async (t) => {
  const folder = await folderWith({
    'this.cjs': "module.exports = { prefix: 'hi ', execute(request) { return { message: this.prefix + request.method }; } };\n",
  });
  const execute = await importPluginFunction(path.join(folder, 'this.cjs'), 1);
  t.same(await execute(REQUEST), { message: `hi ${REQUEST.method}` });
});

t.test('--plugin-module-root: a module outside the root (or a symlink out of it) is refused; inside loads', async (t) => {
  const root = await folderWith({ 'in.mjs': 'export default () => undefined;\n' });
  const outside = await folderWith({ 'out.mjs': 'export default () => undefined;\n' });
  await symlink(path.join(outside, 'out.mjs'), path.join(root, 'link.mjs'));
  const inside = new PluginModule(path.join(root, 'in.mjs'), { root, watch: false });
  await inside.start();
  t.ok(inside.current);
  for (const file of [path.join(outside, 'out.mjs'), path.join(root, 'link.mjs')]) {
    const refused = new PluginModule(file, { root, watch: false });
    await refused.start();
    t.equal(refused.current, undefined, file);
    t.equal(refused.lastError, `plugin module ${file}: is outside the plugin module root ${root} (--plugin-module-root): not loaded`);
  }
});
