// The README's plugin tour and examples/plugins, as written but on free ports: the example
// login-token module served by `dubbo-mesh plugin serve`, a `dubbo-mesh proxy --static` folder
// holding the example's DubboService and DubboPlugin, and apache-dubbo-js calling through it.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { USER_SERVICE, makeUser, startTestProvider, userValue } from '@dubbo-mesh/test-support';
import { userClient } from '../../proxy/test/fixtures/consumer.js';
import { startChild } from './fixtures/child.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const example = (name: string) => path.join(root, 'examples/plugins', name);
const env = { LOGIN_TOKEN_SECRET: 'a-secret-of-at-least-16-characters' };

t.test('the example login-token plugin served, and a proxy calling it for every UserService call', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-plugin-tour-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const received: Array<Record<string, unknown>> = [];
  const provider = await startTestProvider({
    services: {
      [USER_SERVICE]: {
        getUser: ([id], request) => {
          received.push({ ...request.attachments });
          return userValue(makeUser(id as number));
        },
      },
    },
  });
  t.teardown(() => provider.close());

  const serve = startChild(['plugin', 'serve', example('login-token.mjs'), '--listen', '127.0.0.1:0'], env);
  t.teardown(() => {
    if (serve.process.exitCode === null) serve.process.kill('SIGKILL');
  });
  const serving = await serve.waitFor((line) => /^plugin server: serving .* on /.test(String(line.msg)));
  const pluginAddress = /on (127\.0\.0\.1:\d+)$/.exec(String(serving.msg))![1]!;

  // The tour's copies, with the ports this test got.
  const service = await readFile(example('user-service.yaml'), 'utf8');
  const plugin = await readFile(example('login-token-grpc.yaml'), 'utf8');
  t.match(service, /127\.0\.0\.1:20880/);
  t.match(plugin, /address: 127\.0\.0\.1:9500/);
  await writeFile(path.join(dir, 'user-service.yaml'), service.replaceAll('127.0.0.1:20880', provider.address));
  await writeFile(path.join(dir, 'login-token-grpc.yaml'), plugin.replaceAll('127.0.0.1:9500', pluginAddress));

  const proxy = startChild(['proxy', '--node', 'dev', '--static', dir, '--outbound', '127.0.0.1:0', '--admin', '127.0.0.1:0']);
  t.teardown(() => {
    if (proxy.process.exitCode === null) proxy.process.kill('SIGKILL');
  });
  const ready = await proxy.waitFor((line) => line.msg === 'proxy ready');
  const outbound = (ready.listeners as { outbound: { port: number } }).outbound.port;
  const client = userClient(`127.0.0.1:${outbound}`);
  t.teardown(() => client.close());

  const denied = await client.getUserWith(1, {});
  t.match(denied.err?.message, /plugin default\/login-token: login required: the call has no x-token attachment/);
  t.equal(received.length, 0, 'the provider never saw the refused call');

  const signed = spawnSync(process.execPath, [example('login-token.mjs'), 'ann'], { env: { ...process.env, ...env }, encoding: 'utf8' });
  t.equal(signed.status, 0, signed.stderr);
  const token = signed.stdout.trim();
  const allowed = await client.getUserWith(2, { 'x-token': token });
  t.equal((allowed.res as { id: number }).id, 2);
  t.equal(received[0]!['x-user'], 'ann');
  t.notOk('x-token' in received[0]!, 'the token goes no further than the proxy');

  serve.process.kill('SIGTERM');
  proxy.process.kill('SIGTERM');
  t.equal(await serve.exited, 0);
  t.equal(await proxy.exited, 0);
});
