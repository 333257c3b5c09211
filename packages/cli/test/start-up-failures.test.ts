// Start-up failures a user causes, as a user meets them: the real executable, one line on
// stderr naming the flag, the address or file and the cause, exit 1, no stack trace, and the
// process gone (nothing of it left listening). Bad flag values exit 2.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { chmod, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { runToEnd } from './fixtures/child.js';
import { SERVICE_YAML, oneLine, serviceFileForTests } from './fixtures/start-up.js';

const files = serviceFileForTests();

t.test('an address not on this host, a missing file: one line each', async (t) => {
  const dir = files.dir();
  const file = files.file();
  const missing = path.join(dir, 'missing.yaml');
  const cases: Array<[string, string[], string]> = [
    // 192.0.2.1 is TEST-NET-1 (RFC 5737): never an address of this host.
    [
      'an address not on this host',
      ['proxy', '--node', 'n1', '--static', file, '--outbound', '127.0.0.1:0', '--admin', '192.0.2.1:15001'],
      'dubbo-mesh proxy: --admin 192.0.2.1:15001: address not available on this host',
    ],
    ['a missing --static file', ['proxy', '--node', 'n1', '--static', missing], `dubbo-mesh proxy: --static ${missing}: cannot read: no such file or folder`],
    ['a missing --config file', ['control-plane', '--config', missing], `dubbo-mesh control-plane: --config ${missing}: cannot read: no such file or folder`],
  ];
  const finished = await Promise.all(cases.map(([, args]) => runToEnd(args)));
  cases.forEach(([what, , expected], i) => oneLine(t, finished[i]!, expected, what));
});

t.test('an unreadable --static file and a privileged port: one line each', async (t) => {
  const dir = files.dir();
  const file = files.file();
  // Root reads and binds everything: run these as nobody when this test is root.
  const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  await chmod(dir, 0o755);
  await chmod(file, 0o644);
  const secret = path.join(dir, 'secret.yaml');
  await writeFile(secret, SERVICE_YAML, { mode: 0o000 });
  oneLine(
    t,
    await runToEnd(['proxy', '--node', 'n1', '--static', secret, '--outbound', '127.0.0.1:0', '--admin', '127.0.0.1:0'], asUser),
    `dubbo-mesh proxy: --static ${secret}: cannot read: permission denied`,
    'an unreadable --static file',
  );

  // A port below the unprivileged start needs privileges.
  const unprivilegedStart = Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8').trim());
  if (unprivilegedStart <= 1) return t.skip('this host lets anyone bind every port');
  const privileged = `127.0.0.1:${unprivilegedStart - 1}`;
  oneLine(
    t,
    await runToEnd(['gateway', '--node', 'g1', '--static', file, '--listen', privileged, '--admin', '127.0.0.1:0'], asUser),
    `dubbo-mesh gateway: --listen ${privileged}: permission denied (ports below 1024 need privileges)`,
    'a privileged port',
  );
});

t.test('a bad --log-level exits 2 naming the flag and the allowed values, for every command that has it', async (t) => {
  const file = files.file();
  const allowed = 'trace, debug, info, warn, error, fatal, silent';
  const commands = [
    ['proxy', '--node', 'n1', '--static', file],
    ['gateway', '--node', 'g1', '--static', file],
    ['control-plane', '--config', file],
  ];
  const finished = await Promise.all(commands.map((args) => runToEnd([...args, '--log-level', 'loud', '--admin', '127.0.0.1:0'])));
  commands.forEach((args, i) => {
    t.equal(finished[i]!.code, 2, `${args[0]}: exits 2`);
    t.equal(finished[i]!.stderr, `dubbo-mesh ${args[0]}: --log-level: "loud" is not one of ${allowed}\n`, `${args[0]}: names the flag and the allowed values`);
  });
  const fromEnv = await runToEnd(['proxy', '--node', 'n1', '--static', file], { env: { ...process.env, DUBBO_MESH_LOG_LEVEL: 'verbose' } });
  t.equal(fromEnv.code, 2, 'the environment twin is checked the same way');
  t.match(fromEnv.stderr, '--log-level: "verbose" is not one of');
});

t.test('--outbound none needs another listener', async (t) => {
  const file = files.file();
  const finished = await runToEnd(['proxy', '--node', 'n1', '--static', file, '--outbound', 'none']);
  t.equal(finished.code, 2);
  t.equal(finished.stderr, 'dubbo-mesh proxy: --outbound none needs --inbound: a proxy needs at least one listener\n');
});
