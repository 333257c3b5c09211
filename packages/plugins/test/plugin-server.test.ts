// servePluginModule over real gRPC, called by a client made from the .proto file alone
// (grpc-js and proto-loader, none of our code): what a proxy, or anyone's gRPC client, sees.
import t, { type Test } from 'tap';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually } from '@dubbo-mesh/test-support';
import { PluginErrorCode, PluginServeListenError, checkPluginAnswer, servePluginModule, type PluginServer } from '@dubbo-mesh/plugins';

const PROTO = fileURLToPath(new URL('../../../proto/dubbo_mesh/plugin/v1/plugin.proto', import.meta.url));

interface Answer {
  code: number;
  set_attachments: Record<string, string>;
  message: string;
}
type Outcome = { ok: true; answer: Answer } | { ok: false; code: grpc.status; details: string };
type PluginClient = grpc.Client & {
  Execute(request: object, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, answer: Answer) => void): void;
};

const definition = protoLoader.loadSync(PROTO, { keepCase: true, enums: String, defaults: true });
const DubboPlugin = (grpc.loadPackageDefinition(definition) as unknown as { dubbo_mesh: { plugin: { v1: { DubboPlugin: grpc.ServiceClientConstructor } } } })
  .dubbo_mesh.plugin.v1.DubboPlugin;

function clientOf(t: Test, address: string): (request: object) => Promise<Outcome> {
  const client = new DubboPlugin(address, grpc.credentials.createInsecure()) as unknown as PluginClient;
  t.teardown(() => client.close());
  return (request) =>
    new Promise((resolve) => {
      // The deadline only detects a server that never answers: generous for a loaded machine.
      client.Execute(request, { deadline: Date.now() + 30_000 }, (error, answer) =>
        resolve(error === null ? { ok: true, answer } : { ok: false, code: error.code, details: error.details }),
      );
    });
}

let dir = '';
t.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-plugin-server-'));
});
t.teardown(() => rm(dir, { recursive: true, force: true }));

let files = 0;
/** A new module file (its own folder, so one test's writes are no other's changes) with `text`. */
async function moduleFile(text: string, name = 'plugin.mjs'): Promise<string> {
  const folder = await mkdtemp(path.join(dir, `m${++files}-`));
  const file = path.join(folder, name);
  await writeFile(file, text);
  return file;
}

async function serve(t: Test, file: string, options: { watch?: boolean } = {}): Promise<{ server: PluginServer; lines: Array<[string, boolean]> }> {
  const lines: Array<[string, boolean]> = [];
  const server = await servePluginModule({ file, host: '127.0.0.1', port: 0, watch: options.watch, log: (line, failed) => lines.push([line, failed]) });
  t.teardown(() => server.close());
  return { server, lines };
}

const CALL = {
  id: 'c1',
  tag: 'tenant=a',
  phase: 'REQUEST',
  service: 'org.example.UserService',
  group: 'g1',
  version: '1.0.0',
  method: 'getUser',
  attachments: { 'x-token': 'secret', other: 'kept' },
  source_address: '10.0.0.7:41000',
  application: 'web',
};

t.test('answers: the module sees the request as sent, and its answer goes back as the proto has it', async (t) => {
  const file = await moduleFile(`
    export default async function (request) {
      if (request.method === 'deny') return { code: 70, message: 'no login for ' + request.application };
      if (request.method === 'nothing') return undefined;
      if (request.method === 'empty') return {};
      return { set_attachments: { seen: JSON.stringify(request), 'x-token': '' } };
    }
  `);
  const { server, lines } = await serve(t, file);
  t.match(server.address, /^127\.0\.0\.1:\d+$/);
  t.equal(server.address, `127.0.0.1:${server.port}`);
  t.not(server.port, 0, 'the bound port, not 0');
  t.same(
    lines.map(([line]) => line),
    [
      `plugin module ${file}: loaded (version 1, sha256 ${server.module.current!.digest})`,
      `plugin server: serving ${file} (dubbo_mesh.plugin.v1.DubboPlugin) on ${server.address}`,
    ],
    'one line for the load, one with the bound address',
  );
  const call = clientOf(t, server.address);

  const seen = await call(CALL);
  t.ok(seen.ok);
  if (!seen.ok) return;
  t.equal(seen.answer.code, 0);
  t.same(seen.answer.set_attachments['x-token'], '', 'an empty value (a removal) travels');
  t.same(JSON.parse(seen.answer.set_attachments.seen!), { ...CALL, status: 0 }, 'every field of the request, the phase as its name');

  const response = await call({ ...CALL, phase: 'RESPONSE', method: 'nothing', status: 20 });
  t.same(response, { ok: true, answer: { code: 0, set_attachments: {}, message: '' } }, 'undefined: code 0, go on');
  t.same(await call({ ...CALL, method: 'empty' }), { ok: true, answer: { code: 0, set_attachments: {}, message: '' } }, '{}: code 0');
  t.same(await call({ ...CALL, method: 'deny' }), { ok: true, answer: { code: 70, set_attachments: {}, message: 'no login for web' } }, 'a rejection');
});

t.test('a module that throws or rejects: INTERNAL naming the module, the version and the line; the server goes on', async (t) => {
  const file = await moduleFile(
    [
      'export function execute(request) {',
      "  if (request.method === 'throw') throw new TypeError('no user in\\nthis call');",
      "  if (request.method === 'text') throw 'just text';",
      "  if (request.method === 'reject') return Promise.reject(new Error('lookup failed'));",
      '  return { code: 0 };',
      '}',
    ].join('\n'),
  );
  const { server, lines } = await serve(t, file);
  const call = clientOf(t, server.address);
  t.same(await call({ ...CALL, method: 'throw' }), {
    ok: false,
    code: grpc.status.INTERNAL,
    details: `plugin module ${file} (version 1) threw: TypeError: no user in this call (at line 2)`,
  });
  t.same(await call({ ...CALL, method: 'text' }), {
    ok: false,
    code: grpc.status.INTERNAL,
    details: `plugin module ${file} (version 1) threw: a string ("just text"), not an Error`,
  });
  t.same(await call({ ...CALL, method: 'reject' }), {
    ok: false,
    code: grpc.status.INTERNAL,
    details: `plugin module ${file} (version 1) rejected: lookup failed (at line 4)`,
  });
  t.same(await call(CALL), { ok: true, answer: { code: 0, set_attachments: {}, message: '' } }, 'the next call is answered');
  const failed = lines.filter(([, failed]) => failed).map(([line]) => line);
  t.equal(failed.length, 3, 'one log line per failed call');
  t.match(failed[0], `threw: TypeError: no user in this call (at line 2) (call c1, REQUEST org.example.UserService.throw)`);
});

t.test('answers that are no plugin answer: INTERNAL saying what is wrong', async (t) => {
  const file = await moduleFile(`
    const answers = {
      text: '70',
      list: [70],
      fraction: { code: 1.5 },
      big: { code: 2 ** 40 },
      textCode: { code: '70' },
      numbers: { set_attachments: { 'x-user': 'ann', 'x-level': 5 } },
      misspelt: { setAttachments: { 'x-user': 'ann' } },
      message: { code: 70, message: { why: 'no' } },
      attachmentsList: { set_attachments: ['x-user'] },
      nullFields: { code: null, set_attachments: null, message: null },
      odd: { code: 403, message: 'forbidden' },
    };
    export default (request) => answers[request.method];
  `);
  const { server, lines } = await serve(t, file);
  const call = clientOf(t, server.address);
  const prefix = `plugin module ${file} (version 1): `;
  const cases: Array<[string, string]> = [
    ['text', 'answered a string ("70"), not an object {code, set_attachments, message} or nothing'],
    ['list', 'answered an array, not an object {code, set_attachments, message} or nothing'],
    ['fraction', 'code must be a whole number such as 0 or 70, got a number (1.5)'],
    ['big', 'code must be a whole number such as 0 or 70, got a number (1099511627776)'],
    ['textCode', 'code must be a whole number such as 0 or 70, got a string ("70")'],
    ['numbers', `set_attachments["x-level"] must be a string ('' removes it), got a number (5)`],
    ['misspelt', 'unknown field "setAttachments" (an answer has code, set_attachments, message)'],
    ['message', 'message must be a string, got an object'],
    ['attachmentsList', 'set_attachments must be an object of strings, got an array'],
  ];
  for (const [method, problem] of cases) {
    t.same(await call({ ...CALL, method }), { ok: false, code: grpc.status.INTERNAL, details: prefix + problem }, method);
  }
  t.same(await call({ ...CALL, method: 'nullFields' }), { ok: true, answer: { code: 0, set_attachments: {}, message: '' } }, 'null fields are absent ones');
  t.same(
    await call({ ...CALL, method: 'odd' }),
    { ok: true, answer: { code: 403, set_attachments: {}, message: 'forbidden' } },
    'a whole number that is no Dubbo status goes back as it is: the proxy judges it',
  );
  t.match(lines.at(-1), [/answered code 403, which is no Dubbo error status \(25, 30, .*\): a proxy counts it as a plugin failure/, true], 'and is logged');
});

t.test('checkPluginAnswer collects every problem of an answer', async (t) => {
  t.same(checkPluginAnswer({ code: 'x', message: 1, extra: true }), {
    valid: false,
    errors: [
      'unknown field "extra" (an answer has code, set_attachments, message)',
      'code must be a whole number such as 0 or 70, got a string ("x")',
      'message must be a string, got a number (1)',
    ],
  });
  t.same(checkPluginAnswer(null), { valid: true, result: { code: 0, set_attachments: {}, message: '' } });
  t.same(checkPluginAnswer({ code: 40, set_attachments: { a: '' }, message: 'm' }), {
    valid: true,
    result: { code: 40, set_attachments: { a: '' }, message: 'm' },
  });
});

t.test('no version loaded: UNAVAILABLE naming the load error, then served once the file is fixed', async (t) => {
  const file = await moduleFile('export default function (request) {\n  return { code: 70 \n}}}\n');
  const { server, lines } = await serve(t, file);
  t.equal(server.module.current, undefined);
  t.match(lines[0], [new RegExp(`^plugin module ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: line 3: SyntaxError: .*; no version is loaded$`), true]);
  t.match(lines[1], [`plugin server: serving ${file}`, false], 'it serves anyway');
  const call = clientOf(t, server.address);
  const unavailable = await call(CALL);
  t.same(unavailable, { ok: false, code: grpc.status.UNAVAILABLE, details: `${server.module.lastError}; no version is loaded` });
  t.match(unavailable.ok ? '' : unavailable.details, `plugin module ${file}: line 3: SyntaxError`);

  await writeFile(file, "export default () => ({ code: 70, message: 'fixed' });\n");
  await eventually(async () => (await call(CALL)).ok, 'the fixed module to answer');
  t.same(await call(CALL), { ok: true, answer: { code: 70, set_attachments: {}, message: 'fixed' } });
});

t.test('hot reload: the served module follows its file; a syntax error keeps the version in force', async (t) => {
  const file = await moduleFile("export default () => ({ set_attachments: { 'x-version': 'one' } });\n");
  const { server, lines } = await serve(t, file);
  const call = clientOf(t, server.address);
  const version = async () => {
    const outcome = await call(CALL);
    return outcome.ok ? outcome.answer.set_attachments['x-version'] : `error ${outcome.details}`;
  };
  t.equal(await version(), 'one');

  await writeFile(file, "export default () => ({ set_attachments: { 'x-version': 'two' } });\n");
  await eventually(async () => (await version()) === 'two', 'the second version to answer');
  t.equal(server.module.current!.generation, 2);

  await writeFile(file, "export default () => ({ set_attachments: { 'x-version': 'three' } );\n");
  await eventually(() => server.module.failedLoads === 1, 'the broken version to be refused');
  t.equal(await version(), 'two', 'the version in force stays');
  t.match(lines.at(-1), [/: line 1: SyntaxError: .*; version 2 stays$/, true], 'the refusal is logged with its line');

  await writeFile(file, "export default () => ({ set_attachments: { 'x-version': 'four' } });\n");
  await eventually(async () => (await version()) === 'four', 'the fixed version to answer');
  t.equal(server.module.lastError, undefined);
});

t.test('watch: false: the file is read at start and on reload() only', async (t) => {
  const file = await moduleFile("export default () => ({ message: 'first' });\n");
  const { server } = await serve(t, file, { watch: false });
  const call = clientOf(t, server.address);
  await writeFile(file, "export default () => ({ message: 'second' });\n");
  // What a change would trigger, made explicit: reload() is the only way in without watching.
  t.match(await call(CALL), { ok: true, answer: { message: 'first' } });
  await server.module.reload();
  t.match(await call(CALL), { ok: true, answer: { message: 'second' } });
});

t.test('close: a call in flight finishes, then the server is gone', async (t) => {
  let open = () => {};
  let enter = () => {};
  const gate = new Promise<void>((resolve) => (open = resolve));
  const entered = new Promise<void>((resolve) => (enter = resolve));
  (globalThis as Record<string, unknown>).pluginServerTestGate = { gate, entered: enter };
  t.teardown(() => delete (globalThis as Record<string, unknown>).pluginServerTestGate);
  const file = await moduleFile(`
    export default async () => {
      globalThis.pluginServerTestGate.entered();
      await globalThis.pluginServerTestGate.gate;
      return { message: 'finished' };
    };
  `);
  const server = await servePluginModule({ file, host: '127.0.0.1', port: 0 });
  const call = clientOf(t, server.address);
  const inFlight = call(CALL);
  await entered;
  const closed = server.close();
  open();
  t.match(await inFlight, { ok: true, answer: { message: 'finished' } }, 'the call in flight is answered');
  await closed;
  t.equal(server.close(), closed, 'close twice: the same promise');
  const after = await call(CALL);
  t.match(after, { ok: false, code: grpc.status.UNAVAILABLE }, 'nothing listens any more');
});

t.test('an address in use: PluginServeListenError naming the address and the cause', async (t) => {
  const file = await moduleFile('export default () => undefined;\n');
  const { server } = await serve(t, file);
  const lines: string[] = [];
  const failed = await servePluginModule({ file, host: '127.0.0.1', port: server.port, log: (line) => lines.push(line) }).then(
    () => undefined,
    (error: unknown) => error,
  );
  t.ok(failed instanceof PluginServeListenError);
  t.equal((failed as PluginServeListenError).code, PluginErrorCode.SERVE_LISTEN);
  t.equal((failed as Error).message, `cannot listen on 127.0.0.1:${server.port}: address already in use`);
  t.equal((failed as PluginServeListenError).address, `127.0.0.1:${server.port}`);
  t.notMatch(lines.join('\n'), 'plugin server: serving', 'no start line');
});
