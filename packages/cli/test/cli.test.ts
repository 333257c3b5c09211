import t from 'tap';
import { freePort } from '@dubbo-mesh/test-support';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../bin/dubbo-mesh.js', import.meta.url));
const SPEC_COMMANDS = ['control-plane', 'proxy', 'gateway', 'injector', 'demo', 'rules', 'bench'];

function run(...args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
}

t.test('--help lists every subcommand of SPEC and exits 0', async (t) => {
  const result = run('--help');
  t.equal(result.status, 0);
  for (const name of SPEC_COMMANDS) t.match(result.stdout, new RegExp(`^  ${name} `, 'm'), `lists ${name}`);
});

t.test('no command prints help to stderr and exits 2', async (t) => {
  const result = run();
  t.equal(result.status, 2);
  t.match(result.stderr, /Usage: dubbo-mesh <command>/);
});

t.test('an unknown command is named and exits 2', async (t) => {
  const result = run('frobnicate');
  t.equal(result.status, 2);
  t.match(result.stderr, /unknown command 'frobnicate'/);
});

t.test('a command whose issue has not landed says so and exits non-zero', async (t) => {
  const result = run('bench');
  t.equal(result.status, 3, 'bench exits 3');
  t.match(result.stderr, /dubbo-mesh bench: not available in this build yet; it lands with a later issue/);
});

t.test('control-plane: a missing --config names the flag; each bad bridge flag names itself', async (t) => {
  const missing = run('control-plane', '--grpc', '127.0.0.1:0');
  t.equal(missing.status, 2);
  t.match(missing.stderr, /give at least one --config PATH \(a mesh YAML file or a folder of them\), --kubernetes or --zookeeper/);
  for (const [args, message] of [
    [['--config', 'x.yaml', '--zookeeper-export', 'endpoints'], /dubbo-mesh control-plane: --zookeeper-export needs --zookeeper\n$/],
    [['--zookeeper', 'zk'], /dubbo-mesh control-plane: --zookeeper: "zk" is not host:port\n$/],
    [['--zookeeper', '127.0.0.1:2181', '--zookeeper-export', 'all'], /--zookeeper-export: "all" is not none, endpoints or host:port/],
    [['--zookeeper', '127.0.0.1:2181', '--zookeeper-root', 'dubbo'], /--zookeeper-root: "dubbo" is not a ZooKeeper path/],
    [['--zookeeper', '127.0.0.1:2181', '--registry-namespace', 'Not_A_Name'], /--registry-namespace: "Not_A_Name" is not a namespace name/],
  ] as const) {
    const result = run('control-plane', ...args);
    t.equal(result.status, 2, args.join(' '));
    t.match(result.stderr, message);
  }
  const orphan = run('control-plane', '--config', 'x.yaml', '--kube-namespace', 'default');
  t.equal(orphan.status, 2);
  t.match(orphan.stderr, /--kube-namespace needs --kubernetes/);
  const badAddress = run('control-plane', '--config', 'x.yaml', '--grpc', 'nowhere');
  t.equal(badAddress.status, 2);
  t.match(badAddress.stderr, /--grpc/);
});

t.test('control-plane --zookeeper: no server answering is one line, exit 1, and nothing left running', async (t) => {
  const port = await freePort();
  const started = Date.now();
  const result = spawnSync(process.execPath, [bin, 'control-plane', '--zookeeper', `127.0.0.1:${port}`, '--grpc', '127.0.0.1:0', '--admin', '127.0.0.1:0'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  t.equal(result.signal, null, 'it exits by itself (the ZooKeeper client does not keep it alive)');
  t.equal(result.status, 1);
  t.equal(result.stderr, `dubbo-mesh control-plane: --zookeeper: no ZooKeeper server answered at 127.0.0.1:${port} within 10 s\n`);
  t.ok(Date.now() - started >= 9_000, 'after the connect timeout');
});

t.test('<command> --help prints the synopsis of SPEC', async (t) => {
  const result = run('proxy', '--help');
  t.equal(result.status, 0);
  t.match(result.stdout, /dubbo-mesh proxy --node ID/);
  t.match(result.stdout, /--inbound-target/);
  t.match(result.stdout, '[--outbound 127.0.0.1:20881|none]', 'the outbound listener can be turned off');
});

t.test('proxy: the limits against hostile consumers are flags, checked like every other', async (t) => {
  const base = ['proxy', '--node', 'n', '--static', 'x.yaml'];
  const cases: Array<[string[], RegExp]> = [
    [['--max-requests-per-connection', '0'], /--max-requests-per-connection: "0" is not a whole number of at least 1/],
    [['--max-buffered-frame-bytes', '64MB'], /--max-buffered-frame-bytes: "64MB" is not a size like 64MiB, 512KiB or 1048576/],
    [['--idle-timeout', 'soon'], /--idle-timeout: "soon" is not a duration/],
    [['--frame-timeout=-1s', ''], /--frame-timeout: "-1s" is not a duration/],
  ];
  for (const [flags, message] of cases) {
    const result = run(...base, ...flags.filter((flag) => flag !== ''));
    t.equal(result.status, 2, `${flags[0]} ${flags[1]} exits 2`);
    t.match(result.stderr, message);
  }
});
