// `dubbo-mesh plugin serve` as a developer meets it: the real executable serving a module, a
// gRPC client made from the .proto alone calling it, the module edited while it runs, a stop on
// SIGTERM or SIGINT (exit 0), and every bad invocation as one line on stderr.
import t, { type Test } from 'tap';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually } from '@dubbo-mesh/test-support';
import { runToEnd, startChild, type Child } from './fixtures/child.js';

const PROTO = fileURLToPath(new URL('../../../proto/dubbo_mesh/plugin/v1/plugin.proto', import.meta.url));
const definition = protoLoader.loadSync(PROTO, { keepCase: true, enums: String, defaults: true });
const DubboPlugin = (grpc.loadPackageDefinition(definition) as unknown as { dubbo_mesh: { plugin: { v1: { DubboPlugin: grpc.ServiceClientConstructor } } } })
  .dubbo_mesh.plugin.v1.DubboPlugin;

interface Answer {
  code: number;
  set_attachments: Record<string, string>;
  message: string;
}
type Outcome = { ok: true; answer: Answer } | { ok: false; code: grpc.status; details: string };
type PluginClient = grpc.Client & {
  Execute(request: object, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, answer: Answer) => void): void;
};

function clientOf(t: Test, address: string): (request: object) => Promise<Outcome> {
  const client = new DubboPlugin(address, grpc.credentials.createInsecure()) as unknown as PluginClient;
  t.teardown(() => client.close());
  return (request) =>
    new Promise((resolve) => {
      client.Execute(request, { deadline: Date.now() + 30_000 }, (error, answer) =>
        resolve(error === null ? { ok: true, answer } : { ok: false, code: error.code, details: error.details }),
      );
    });
}

const CALL = { id: 'c1', phase: 'REQUEST', service: 'org.example.UserService', method: 'getUser', attachments: { 'x-user': 'ann' } };

let dir = '';
t.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-plugin-command-'));
});
t.teardown(() => rm(dir, { recursive: true, force: true }));

let folders = 0;
async function moduleFile(text: string): Promise<string> {
  const folder = await mkdtemp(path.join(dir, `m${++folders}-`));
  const file = path.join(folder, 'plugin.mjs');
  await writeFile(file, text);
  return file;
}

/** The process, killed in teardown if a test left it running; its bound address from the start line. */
async function serving(t: Test, args: string[], env: Record<string, string> = {}): Promise<{ child: Child; address: string; stderr: () => string }> {
  const child = startChild(['plugin', 'serve', ...args], env);
  let stderr = '';
  child.process.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  t.teardown(() => {
    if (child.process.exitCode === null) child.process.kill('SIGKILL');
  });
  const start = await child.waitFor((line) => /^plugin server: serving .* on /.test(String(line.msg)));
  const address = /on (127\.0\.0\.1:\d+)$/.exec(String(start.msg))![1]!;
  return { child, address, stderr: () => stderr };
}

t.test('serves a module on the bound address, follows its file, and exits 0 on SIGTERM', async (t) => {
  const file = await moduleFile("export default (request) => ({ set_attachments: { 'x-seen': request.attachments['x-user'] + ' v1' } });\n");
  const { child, address, stderr } = await serving(t, [file, '--listen', '127.0.0.1:0']);
  t.not(address, '127.0.0.1:0', 'the bound port is printed');
  t.match(child.lines[0], { level: 30, role: 'plugin', module: file, msg: `plugin module ${file}: loaded (version 1, sha256 ` }, 'the load is logged');
  const call = clientOf(t, address);
  t.same(await call(CALL), { ok: true, answer: { code: 0, set_attachments: { 'x-seen': 'ann v1' }, message: '' } });

  await writeFile(file, "export default () => ({ code: 70, message: 'v2 says no' });\n");
  await eventually(async () => {
    const outcome = await call(CALL);
    return outcome.ok && outcome.answer.code === 70;
  }, 'the edited module to answer');
  t.same(await call(CALL), { ok: true, answer: { code: 70, set_attachments: {}, message: 'v2 says no' } });
  await child.waitFor((line) => String(line.msg).startsWith(`plugin module ${file}: reloaded (version 2`));

  child.process.kill('SIGTERM');
  t.equal(await child.exited, 0, 'exit 0');
  t.equal(stderr(), '', 'nothing on stderr');
  t.ok(
    child.lines.some((line) => line.signal === 'SIGTERM'),
    'the stop is logged',
  );
});

t.test('a module with a syntax error at start: said on stderr, served UNAVAILABLE, loaded once fixed; SIGINT exits 0', async (t) => {
  const file = await moduleFile('export default function (request) {\n  return { code: 70 \n}}}\n');
  const { child, address, stderr } = await serving(t, [file, '--listen', '127.0.0.1:0']);
  await eventually(() => stderr().includes('\n'), 'the error line on stderr');
  t.match(
    stderr(),
    new RegExp(
      `^dubbo-mesh plugin serve: plugin module ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: line 3: SyntaxError: [^\\n]*; serving ${address} anyway: calls are answered UNAVAILABLE until the file is fixed\\n$`,
    ),
  );
  t.match(child.lines[0], { level: 50, msg: `plugin module ${file}: line 3: SyntaxError` }, 'and logged as an error');
  const call = clientOf(t, address);
  t.match(await call(CALL), { ok: false, code: grpc.status.UNAVAILABLE, details: `plugin module ${file}: line 3: SyntaxError` });

  await writeFile(file, "export default () => ({ message: 'fixed' });\n");
  await eventually(async () => (await call(CALL)).ok, 'the fixed module to answer');
  t.match(await call(CALL), { ok: true, answer: { message: 'fixed' } });
  child.process.kill('SIGINT');
  t.equal(await child.exited, 0);
});

t.test('--listen from its environment twin DUBBO_MESH_LISTEN', async (t) => {
  const file = await moduleFile('export default () => undefined;\n');
  const { child, address } = await serving(t, [file], { DUBBO_MESH_LISTEN: '127.0.0.1:0' });
  t.match(await clientOf(t, address)(CALL), { ok: true, answer: { code: 0 } });
  child.process.kill('SIGTERM');
  t.equal(await child.exited, 0);
});

t.test('a bad invocation or an unusable start: one line naming the flag or the file, non-zero, no stack trace', async (t) => {
  const file = await moduleFile('export default () => undefined;\n');
  const missing = path.join(dir, 'missing.mjs');
  const held = createServer();
  await new Promise<void>((resolve) => held.listen(0, '127.0.0.1', resolve));
  t.teardown(() => held.close());
  const port = (held.address() as { port: number }).port;
  const synopsis = 'plugin serve MODULE [--listen 127.0.0.1:9500] [--log-level info]';
  const cases: Array<[string, string[], number, string]> = [
    ['no subcommand', ['plugin'], 2, `dubbo-mesh plugin: give a subcommand: ${synopsis}`],
    ['an unknown subcommand', ['plugin', 'run', file], 2, `dubbo-mesh plugin: unknown subcommand "run": ${synopsis}`],
    ['no MODULE', ['plugin', 'serve', '--listen', '127.0.0.1:0'], 2, `dubbo-mesh plugin serve: give the MODULE to serve, a JavaScript file (${synopsis})`],
    ['two MODULEs', ['plugin', 'serve', file, file], 2, `dubbo-mesh plugin serve: give one MODULE, got 2: ${file} ${file}`],
    ['an unknown flag', ['plugin', 'serve', file, '--port', '9500'], 2, "dubbo-mesh plugin serve: Unknown option '--port'"],
    ['a bad --listen', ['plugin', 'serve', file, '--listen', '9500'], 2, 'dubbo-mesh plugin serve: --listen: "9500" is not host:port'],
    ['--listen without a value', ['plugin', 'serve', file, '--listen'], 2, "dubbo-mesh plugin serve: Option '--listen <value>' argument missing"],
    [
      'a bad --log-level',
      ['plugin', 'serve', file, '--log-level', 'loud'],
      2,
      'dubbo-mesh plugin serve: --log-level: "loud" is not one of trace, debug, info, warn, error, fatal, silent',
    ],
    ['a MODULE that does not exist', ['plugin', 'serve', missing], 1, `dubbo-mesh plugin serve: ${missing}: cannot read: no such file or folder`],
    ['a folder as MODULE', ['plugin', 'serve', dir], 1, `dubbo-mesh plugin serve: ${dir}: is a folder, not a module file`],
    [
      'a port in use',
      ['plugin', 'serve', file, '--listen', `127.0.0.1:${port}`],
      1,
      `dubbo-mesh plugin serve: --listen 127.0.0.1:${port}: address already in use`,
    ],
  ];
  const finished = await Promise.all(cases.map(([, args]) => runToEnd(args)));
  cases.forEach(([what, , code, expected], i) => {
    const result = finished[i]!;
    t.equal(result.code, code, `${what}: exits ${code}`);
    t.equal(result.stderr, `${expected}\n`, `${what}: one line`);
    t.notMatch(result.stderr, /\n\s+at /, `${what}: no stack trace`);
  });
});

t.test('plugin serve --help prints the synopsis', async (t) => {
  const finished = await runToEnd(['plugin', 'serve', '--help']);
  t.equal(finished.code, 0);
  t.match(finished.stdout, /^Usage: dubbo-mesh plugin serve MODULE \[--listen 127\.0\.0\.1:9500\] \[--log-level info\]\n/);
});
