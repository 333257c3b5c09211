// examples/plugins: the login-token plugin called as a function (what a proxy does in process)
// and through servePluginModule with a gRPC client made from the .proto alone (what a proxy does
// with `dubbo-mesh plugin serve`), its token minting, and its DubboPlugin YAMLs.
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseMeshYaml, type DubboPluginConfig } from '@dubbo-mesh/config';
import { servePluginModule, type PluginRequest, type PluginResponse } from '@dubbo-mesh/plugins';

const EXAMPLES = fileURLToPath(new URL('../../../examples/plugins/', import.meta.url));
const MODULE = `${EXAMPLES}login-token.mjs`;
const PROTO = fileURLToPath(new URL('../../../proto/dubbo_mesh/plugin/v1/plugin.proto', import.meta.url));
const SECRET = 'a test secret, not a real one';

interface LoginTokenModule {
  default: (request: PluginRequest) => PluginResponse | undefined;
  signToken(user: string, expires: number, realm?: string, secret?: string): string;
}

// The module reads its secret when it loads, as it would in a proxy or a plugin server.
process.env.LOGIN_TOKEN_SECRET = SECRET;
const plugin = (await import(pathToFileURL(MODULE).href)) as LoginTokenModule;
const now = () => Math.floor(Date.now() / 1000);

function request(attachments: Record<string, string>, more: Partial<PluginRequest> = {}): PluginRequest {
  return {
    id: 'c1',
    tag: '',
    phase: 'REQUEST',
    service: 'org.apache.dubbo.benchmark.service.UserService',
    group: '',
    version: '',
    method: 'getUser',
    attachments,
    source_address: '10.0.0.7:41000',
    application: 'web',
    status: 0,
    ...more,
  };
}

t.test('called directly: a valid token passes as x-user, without x-token', async (t) => {
  const token = plugin.signToken('ann', now() + 3600);
  t.same(plugin.default(request({ 'x-token': token, other: 'kept' })), { set_attachments: { 'x-user': 'ann', 'x-token': '' } });
  const dotted = plugin.signToken('ann.lee@example.com', now() + 60);
  t.same(plugin.default(request({ 'x-token': dotted })), { set_attachments: { 'x-user': 'ann.lee@example.com', 'x-token': '' } }, 'a user with dots');
  t.same(
    plugin.default(request({ 'x-token': token, 'x-user': 'root' })),
    { set_attachments: { 'x-user': 'ann', 'x-token': '' } },
    "a consumer's own x-user is replaced by the token's",
  );
  const realm = plugin.signToken('ann', now() + 60, 'orders');
  t.same(plugin.default(request({ 'x-token': realm }, { tag: 'orders' })), { set_attachments: { 'x-user': 'ann', 'x-token': '' } }, 'the realm is the tag');
  t.equal(plugin.default(request({}, { phase: 'RESPONSE', status: 20 })), undefined, 'the response phase is left alone');
});

t.test('called directly: missing, forged, expired, malformed or another realm: 70 saying why', async (t) => {
  const valid = plugin.signToken('ann', now() + 3600);
  const [user, expires, signature] = valid.split('.') as [string, string, string];
  const cases: Array<[string, Record<string, string>, string, Partial<PluginRequest>?]> = [
    ['no x-token', { 'x-user': 'root' }, 'login required: the call has no x-token attachment'],
    ['an empty x-token', { 'x-token': '' }, 'login required: the call has no x-token attachment'],
    ['another user under the signature', { 'x-token': `bob.${expires}.${signature}` }, 'login required: x-token is invalid'],
    ['a later expiry under the signature', { 'x-token': `${user}.${Number(expires) + 1}.${signature}` }, 'login required: x-token is invalid'],
    [
      'signed with another secret',
      { 'x-token': plugin.signToken('ann', now() + 3600, '', 'another secret of some length') },
      'login required: x-token is invalid',
    ],
    ['a shortened signature', { 'x-token': valid.slice(0, -1) }, 'login required: x-token is invalid'],
    ['expired', { 'x-token': plugin.signToken('ann', now() - 1) }, 'login required: x-token expired'],
    ['no dots', { 'x-token': 'just-a-password' }, 'login required: x-token is malformed'],
    ['no user', { 'x-token': `.${expires}.${signature}` }, 'login required: x-token is malformed'],
    ['no signature', { 'x-token': `${user}.${expires}.` }, 'login required: x-token is malformed'],
    ['an expiry that is no number', { 'x-token': `${user}.soon.${signature}` }, 'login required: x-token is malformed'],
    ['signed for another realm', { 'x-token': plugin.signToken('ann', now() + 60, 'orders') }, 'login required: x-token is invalid', { tag: 'billing' }],
  ];
  for (const [what, attachments, message, more] of cases) {
    t.same(plugin.default(request(attachments, more)), { code: 70, message }, what);
  }
});

t.test('through servePluginModule, called by a gRPC client made from the .proto alone', async (t) => {
  const lines: string[] = [];
  const server = await servePluginModule({ file: MODULE, host: '127.0.0.1', port: 0, watch: false, log: (line) => lines.push(line) });
  t.teardown(() => server.close());
  t.match(lines[0], `plugin module ${MODULE}: loaded (version 1`);
  const definition = protoLoader.loadSync(PROTO, { keepCase: true, enums: String, defaults: true });
  const DubboPlugin = (grpc.loadPackageDefinition(definition) as unknown as { dubbo_mesh: { plugin: { v1: { DubboPlugin: grpc.ServiceClientConstructor } } } })
    .dubbo_mesh.plugin.v1.DubboPlugin;
  const client = new DubboPlugin(server.address, grpc.credentials.createInsecure());
  t.teardown(() => client.close());
  const execute = (attachments: Record<string, string>) =>
    new Promise<unknown>((resolve, reject) =>
      client.Execute(
        { id: 'c1', phase: 'REQUEST', service: 'org.apache.dubbo.benchmark.service.UserService', method: 'getUser', attachments },
        { deadline: Date.now() + 30_000 },
        (error: grpc.ServiceError | null, answer: unknown) => (error === null ? resolve(answer) : reject(error)),
      ),
    );
  t.same(await execute({ 'x-token': plugin.signToken('ann', now() + 60) }), { code: 0, set_attachments: { 'x-user': 'ann', 'x-token': '' }, message: '' });
  t.same(await execute({}), { code: 70, set_attachments: {}, message: 'login required: the call has no x-token attachment' });
  t.same(await execute({ 'x-token': plugin.signToken('ann', now() - 60) }), { code: 70, set_attachments: {}, message: 'login required: x-token expired' });
});

function runModule(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [MODULE, ...args], { env, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : ((error as { code?: number }).code ?? null), stdout, stderr });
    });
  });
}

t.test('run directly, the module signs a token the plugin accepts; without a secret it refuses to load', async (t) => {
  const signed = await runModule(['carol', '120', 'orders'], { PATH: process.env.PATH, LOGIN_TOKEN_SECRET: SECRET });
  t.equal(signed.code, 0);
  const token = signed.stdout.trim();
  t.match(token, /^carol\.\d+\.[\w-]+$/);
  t.same(plugin.default(request({ 'x-token': token }, { tag: 'orders' })), { set_attachments: { 'x-user': 'carol', 'x-token': '' } });

  const noSecret = await runModule(['carol'], { PATH: process.env.PATH });
  t.not(noSecret.code, 0);
  t.match(noSecret.stderr, 'LOGIN_TOKEN_SECRET must be set to a secret of at least 16 characters');
});

t.test('the example DubboPlugin YAMLs are valid, and name the module and the plugin server', async (t) => {
  const plugins: Record<string, DubboPluginConfig> = {};
  for (const name of ['login-token-grpc.yaml', 'login-token-module.yaml', 'user-service.yaml']) {
    const parsed = parseMeshYaml(await readFile(`${EXAMPLES}${name}`, 'utf8'), name);
    t.same(parsed.errors, [], `${name}: valid`);
    for (const item of parsed.resources) if (item.resource.kind === 'DubboPlugin') plugins[name] = item.resource;
  }
  t.match(plugins['login-token-grpc.yaml'], { grpc: { host: '127.0.0.1', port: 9500, timeoutMs: 200 }, module: undefined, failurePolicy: 'fail-closed' });
  t.match(plugins['login-token-module.yaml'], { grpc: undefined, module: '/plugins/login-token.mjs', timeoutMs: 50 });
});
