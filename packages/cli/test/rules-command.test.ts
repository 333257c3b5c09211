import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../bin/dubbo-mesh.js', import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), 'dubbo-mesh-rules-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** Run the real binary in the fixtures' folder (files are named relative to it), with no DUBBO_MESH_* twin set. */
function run(args: string[], input?: string) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('DUBBO_MESH_')));
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', cwd: dir, env, input });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function file(name: string, text: string): string {
  writeFileSync(path.join(dir, name), text);
  return name;
}

const STACK_TRACE = /^\s+at /m;

// The documentation's examples, as dubbo-admin writes them.
const readWrite = file(
  'read-write.yaml',
  `configVersion: v3.0
scope: service
key: org.example.UserService
force: false
conditions:
  - method = find*,list*,get*,is* => host = 172.22.3.94,172.22.3.95
  - method != find*,list*,get*,is* => host = 172.22.3.97
`,
);
const blacklist = file(
  'blacklist.yaml',
  `configVersion: v3.0
scope: service
key: org.example.UserService
conditions:
  - host = 10.20.153.10,10.20.153.11 =>
`,
);
const localOnly = file(
  'local-only.yaml',
  `configVersion: v3.0
scope: service
key: org.example.UserService
conditions:
  - => host = $host
`,
);
// A DubboRule resource holding the gray release by tag (the documentation's tag rule).
const grayTag = file(
  'gray.yaml',
  `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboRule
metadata: {name: user-app-gray, namespace: default}
spec:
  configVersion: v3.0
  key: user-app
  tags:
    - name: gray
      addresses: ["172.22.3.95:20880"]
`,
);
const disable = file(
  'disable.yaml',
  `configVersion: v2.7
scope: service
key: org.example.UserService
configs:
  - side: consumer
    addresses: [0.0.0.0]
    providerAddresses: ["172.22.3.94:20880"]
    parameters:
      disabled: true
`,
);
const endpoints = file(
  'endpoints.yaml',
  `- address: 172.22.3.94:20880
  labels: {application: user-app}
- address: 172.22.3.95:20880
  labels: {application: user-app}
- address: 172.22.3.97:20880
  application: user-app
  weight: 50
`,
);
const service = file(
  'service.yaml',
  `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: user-app, namespace: default}
spec:
  interfaces: [org.example.UserService]
  endpoints:
    - {address: "172.22.3.94:20880"}
    - {address: "172.22.3.95:20880", weight: 200}
`,
);

t.test('--help lists rules, and rules --help prints both synopses', async (t) => {
  const help = run(['--help']);
  t.equal(help.status, 0);
  t.match(help.stdout, /^ {2}rules {2,}check Dubbo governance rules/m);
  const usage = run(['rules', '--help']);
  t.equal(usage.status, 0);
  t.match(usage.stdout, 'dubbo-mesh rules check FILE|-');
  t.match(usage.stdout, 'dubbo-mesh rules explain --rule FILE [--rule FILE]... --endpoints FILE --method M');
});

t.test('rules check: valid rules, one line each, exit 0', async (t) => {
  const text = `# bare rule documents and a DubboRule, as dubbo-admin and kubectl write them
configVersion: v3.0
scope: service
key: org.example.UserService:1.0.0
conditions:
  - method = find* => host = 172.22.3.94
---
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboRule
metadata: {name: user-app-gray, namespace: default}
spec:
  configVersion: v3.0
  key: user-app
  enabled: false
  tags:
    - name: gray
      addresses: ["172.22.3.95:20880"]
---
configVersion: v2.7
scope: application
key: shop-web
configs:
  - side: consumer
    parameters: {timeout: 6000}
`;
  const result = run(['rules', 'check', file('valid.yaml', text)]);
  t.equal(result.status, 0);
  t.equal(
    result.stdout,
    [
      'valid.yaml:2:1: condition rule org.example.UserService:1.0.0: (scope service, configVersion v3.0): valid',
      'valid.yaml:8:1: tag rule user-app (scope application, configVersion v3.0): valid',
      'valid.yaml:19:1: override rule shop-web (scope application, configVersion v2.7): valid',
      'valid.yaml: 3 valid rules, 0 errors',
      '',
    ].join('\n'),
  );
  t.equal(result.stderr, 'valid.yaml:14:12: warning: tag rule user-app: enabled: false: the rule does nothing\n');
});

t.test('rules check: every error with file:line:col, exit 1', async (t) => {
  const bad = file(
    'bad.yaml',
    `configVersion: v3.0
scope: service
key: org.example.UserService
conditions:
  - method = => host = 1.2.3.4
enabled: maybe
---
configVersion: v3.0
key: user-app
tags:
  - name: gray
    addresses: ["10.0.0.2:20880"]
    bogus: 1
`,
  );
  const result = run(['rules', 'check', bad]);
  t.equal(result.status, 1);
  t.equal(result.stdout, 'bad.yaml: 0 valid rules, 3 errors\n');
  t.equal(
    result.stderr,
    [
      'bad.yaml:6:10: DubboRule default/condition-org.example.userservice-d3e8776c: spec.enabled: must be true or false, got string "maybe"',
      'bad.yaml:5:5: DubboRule default/condition-org.example.userservice-d3e8776c: spec.conditions[0]: "method = => host = 1.2.3.4": no value after "=" at column 10',
      'bad.yaml:13:12: DubboRule default/tag-user-app-86759058: spec.tags[0].bogus: unknown field (expected one of: name, addresses, match)',
      '',
    ].join('\n'),
  );
});

t.test('rules check -: standard input, named <stdin>; two rules for one key are refused', async (t) => {
  const valid = run(['rules', 'check', '-'], 'configVersion: v3.0\nscope: service\nkey: org.example.UserService\nconditions: ["=> host = $host"]\n');
  t.equal(valid.status, 0);
  t.equal(valid.stdout, '<stdin>:1:1: condition rule org.example.UserService:: (scope service, configVersion v3.0): valid\n<stdin>: 1 valid rule, 0 errors\n');
  const twice = run(
    ['rules', 'check', '-'],
    'configVersion: v3.0\nscope: service\nkey: org.example.UserService\nconditions: ["=> host = $host"]\n---\nconfigVersion: v2.7\nscope: service\nkey: "org.example.UserService::"\nconditions: ["=>"]\n',
  );
  t.equal(twice.status, 1);
  t.equal(
    twice.stderr,
    '<stdin>:8:6: condition rule org.example.UserService::: <stdin>:1:1 already gives a condition rule for "org.example.UserService::": one rule document per key\n',
  );
  t.equal(twice.stdout, '<stdin>:1:1: condition rule org.example.UserService:: (scope service, configVersion v3.0): valid\n<stdin>: 1 valid rule, 1 error\n');
  const broken = run(['rules', 'check', '-'], 'configVersion: v3.0\nkey: [unclosed\n');
  t.equal(broken.status, 1);
  t.match(broken.stderr, /^<stdin>:\d+:\d+: /);
  const empty = run(['rules', 'check', '-'], '');
  t.equal(empty.status, 1);
  t.equal(empty.stderr, '<stdin>: empty: no rule document\n');
});

t.test('rules check: bad usage exits 2 with one line; an unreadable file exits 1 with one line', async (t) => {
  for (const [args, line] of [
    [['rules'], 'dubbo-mesh rules: give a subcommand: check FILE|- or explain --rule FILE --endpoints FILE --method M …\n'],
    [['rules', 'lint'], 'dubbo-mesh rules: unknown subcommand "lint": check FILE|- or explain --rule FILE --endpoints FILE --method M …\n'],
    [['rules', 'check'], 'dubbo-mesh rules check: give one FILE, or - for standard input (got 0)\n'],
    [['rules', 'check', 'a.yaml', 'b.yaml'], 'dubbo-mesh rules check: give one FILE, or - for standard input (got 2)\n'],
    [['rules', 'check', '--strict', 'a.yaml'], 'dubbo-mesh rules check: unknown option --strict (rules check FILE|-)\n'],
  ] as const) {
    const result = run([...args]);
    t.equal(result.status, 2, args.join(' '));
    t.equal(result.stderr, line);
  }
  const missing = run(['rules', 'check', 'missing.yaml']);
  t.equal(missing.status, 1);
  t.equal(missing.stderr, 'dubbo-mesh rules check: missing.yaml: cannot read: ENOENT\n');
});

t.test('rules explain: read/write split by method, with its reasons', async (t) => {
  const read = run(['rules', 'explain', '--rule', readWrite, '--endpoints', endpoints, '--method', 'findUser', '--application', 'shop-web']);
  t.equal(read.status, 0);
  t.equal(
    read.stdout,
    [
      'call org.example.UserService:: findUser (service from the rules’ keys), consumer shop-web at 127.0.0.1',
      '3 endpoints from endpoints.yaml',
      "1. condition rule org.example.UserService:: (read-write.yaml:1:1): applies: the call's service key org.example.UserService:: is the rule's key",
      '   conditions[0] "method = find*,list*,get*,is* => host = 172.22.3.94,172.22.3.95": narrowed: the when-part holds: method "findUser" matches find*; 2 of 3 endpoints match the then-part',
      '     - 172.22.3.97:20880: host "172.22.3.97" does not match 172.22.3.94,172.22.3.95',
      '   conditions[1] "method != find*,list*,get*,is* => host = 172.22.3.97": not-matched: the when-part does not hold: method "findUser" matches != find*',
      '   => narrowed: 2 endpoints left',
      'the call reaches 2 endpoints:',
      '  172.22.3.94:20880 (application user-app) weight 100',
      '  172.22.3.95:20880 (application user-app) weight 100',
      '',
    ].join('\n'),
  );
  const write = run(['rules', 'explain', '--rule', readWrite, '--endpoints', endpoints, '--method', 'saveUser', '--interface', 'org.example.UserService']);
  t.equal(write.status, 0);
  t.match(write.stdout, /the call reaches 1 endpoint:\n {2}172\.22\.3\.97:20880 \(application user-app\) weight 50\n$/);
});

t.test('rules explain: blacklist by host gives no provider (status 70), exit 1', async (t) => {
  const listed = run(['rules', 'explain', '--rule', blacklist, '--endpoints', endpoints, '--method', 'getUser', '--host', '10.20.153.11']);
  t.equal(listed.status, 1);
  t.equal(
    listed.stdout.split('\n').slice(2).join('\n'),
    [
      "1. condition rule org.example.UserService:: (blacklist.yaml:1:1): applies: the call's service key org.example.UserService:: is the rule's key",
      '   conditions[0] "host = 10.20.153.10,10.20.153.11 =>": blacklisted: the when-part holds: host "10.20.153.11" matches 10.20.153.11; the then-part is empty or false: a blacklist, no endpoint',
      '     - 172.22.3.94:20880: the then-part is empty or false: blacklist',
      '     - 172.22.3.95:20880: the then-part is empty or false: blacklist',
      '     - 172.22.3.97:20880: the then-part is empty or false: blacklist',
      '   => blacklisted: 0 endpoints left',
      'no provider (status 70): condition rule org.example.UserService:: (blacklist.yaml:1:1) blacklists the call (its then-part is empty or false)',
      '',
    ].join('\n'),
  );
  const other = run(['rules', 'explain', '--rule', blacklist, '--endpoints', endpoints, '--method', 'getUser', '--host', '10.20.153.12']);
  t.equal(other.status, 0);
  t.match(other.stdout, /the call reaches 3 endpoints:/);
});

t.test('rules explain: => host = $host keeps the consumer host’s providers', async (t) => {
  const local = file('local-endpoints.json', JSON.stringify([{ address: '10.0.0.5:20880' }, { address: '10.0.0.5:20881' }, { address: '10.0.0.6:20880' }]));
  const result = run(['rules', 'explain', '--rule', localOnly, '--endpoints', local, '--method', 'getUser', '--host', '10.0.0.5']);
  t.equal(result.status, 0);
  t.match(result.stdout, '     - 10.0.0.6:20880: host "10.0.0.6" does not match $host ("10.0.0.5")');
  t.match(result.stdout, /the call reaches 2 endpoints:\n {2}10\.0\.0\.5:20880 .*\n {2}10\.0\.0\.5:20881 /);
});

t.test('rules explain: gray release by tag, with fallback to the untagged', async (t) => {
  const base = ['rules', 'explain', '--rule', grayTag, '--endpoints', endpoints, '--method', 'getUser', '--interface', 'org.example.UserService'];
  const gray = run([...base, '--attachment', 'dubbo.tag=gray']);
  t.equal(gray.status, 0);
  t.match(gray.stdout, /the call reaches 1 endpoint:\n {2}172\.22\.3\.95:20880/);
  const fallback = run([...base, '--attachment', 'dubbo.tag=blue']);
  t.equal(fallback.status, 0);
  t.match(fallback.stdout, '   fallback: forced-empty: no endpoint for tag "blue": falling back to the endpoints in no tag');
  t.match(fallback.stdout, /the call reaches 2 endpoints:\n {2}172\.22\.3\.94:20880 .*\n {2}172\.22\.3\.97:20880 /);
  const forced = run([...base, '--attachment', 'dubbo.tag=blue', '--attachment', 'dubbo.force.tag=true']);
  t.equal(forced.status, 1);
  t.match(
    forced.stdout,
    /no provider \(status 70\): tag rule user-app \(gray\.yaml:1:1\) left none of its 3 endpoints: dubbo\.force\.tag=true: no fallback to untagged endpoints\n$/,
  );
});

t.test('rules explain: an override disabling a provider, endpoints from a DubboService, several rules in order', async (t) => {
  const result = run(['rules', 'explain', '--rule', disable, '--rule', readWrite, '--endpoints', service, '--method', 'findUser']);
  t.equal(result.status, 0);
  const lines = result.stdout.split('\n');
  t.equal(lines[1], '2 endpoints from service.yaml');
  t.equal(lines[2], '1. override rule org.example.UserService:: (disable.yaml:1:1): applies: an item applies to some endpoint');
  t.ok(lines.includes('     - 172.22.3.94:20880: disabled=true: left out'));
  t.ok(
    lines.includes(
      "2. condition rule org.example.UserService:: (read-write.yaml:1:1): applies: the call's service key org.example.UserService:: is the rule's key",
    ),
  );
  t.match(result.stdout, /the call reaches 1 endpoint:\n {2}172\.22\.3\.95:20880 \(application user-app\) weight 200\n$/);
});

t.test('rules explain: each bad flag or file is one line naming it; an invalid rule exits 1', async (t) => {
  const badEndpoints = file('bad-endpoints.yaml', '- address: nohost\n  labels: {weight: 3}\n- 5\n');
  const tagOnly = file('tag-only.yaml', 'configVersion: v3.0\nkey: user-app\ntags: [{name: gray, addresses: ["10.0.0.2"]}]\n');
  const base = ['rules', 'explain', '--rule', readWrite, '--endpoints', endpoints];
  for (const [args, stderr] of [
    [[...base], 'dubbo-mesh rules explain: --method is required\n'],
    [['rules', 'explain', '--endpoints', endpoints, '--method', 'm'], 'dubbo-mesh rules explain: --rule is required\n'],
    [[...base, '--method', 'm', '--attachment', 'novalue'], 'dubbo-mesh rules explain: --attachment: "novalue" is not k=value\n'],
    [[...base, '--method', 'm', '--argument', 'first=1'], 'dubbo-mesh rules explain: --argument: "first=1" is not N=value\n'],
    [[...base, '--method', 'm', '--host', 'myhost'], 'dubbo-mesh rules explain: --host: "myhost" is not an IP address\n'],
    [
      ['rules', 'explain', '--rule', tagOnly, '--endpoints', endpoints, '--method', 'm'],
      'dubbo-mesh rules explain: --interface is needed: no rule names a service (their scope is application)\n',
    ],
    [
      ['rules', 'explain', '--rule', readWrite, '--endpoints', badEndpoints, '--method', 'm'],
      [
        'dubbo-mesh rules explain: --endpoints bad-endpoints.yaml:1:12: [0].address: "nohost" is not host:port',
        'dubbo-mesh rules explain: --endpoints bad-endpoints.yaml:2:20: [0].labels.weight: must be text, got 3 (quote it)',
        'dubbo-mesh rules explain: --endpoints bad-endpoints.yaml:3:3: [1]: must be an endpoint {address, labels, application, weight}',
        '',
      ].join('\n'),
    ],
  ] as const) {
    const result = run([...args]);
    t.equal(result.status, 2, args.join(' '));
    t.equal(result.stderr, stderr);
  }
  const unknown = run([...base, '--method', 'm', '--consumer', 'x']);
  t.equal(unknown.status, 2);
  t.match(unknown.stderr, /^dubbo-mesh rules explain: Unknown option '--consumer'\n$/);
  const unreadable = run(['rules', 'explain', '--rule', 'nowhere.yaml', '--endpoints', endpoints, '--method', 'm']);
  t.equal(unreadable.status, 1);
  t.equal(unreadable.stderr, 'dubbo-mesh rules explain: --rule nowhere.yaml: cannot read: no such file or folder\n');
  const invalid = run([
    'rules',
    'explain',
    '--rule',
    file('invalid.yaml', 'configVersion: v3.0\nscope: service\nkey: a.B\nconditions: ["method = => host = 1.2.3.4"]\n'),
    '--endpoints',
    endpoints,
    '--method',
    'm',
  ]);
  t.equal(invalid.status, 1);
  t.match(
    invalid.stderr,
    /^invalid\.yaml:4:14: DubboRule default\/condition-a\.b-[0-9a-f]{8}: spec\.conditions\[0\]: "method = => host = 1\.2\.3\.4": no value after "=" at column 10\n/,
  );
  t.match(invalid.stderr, /--rule: 1 error: a rule the control plane would refuse is not explained\n$/);
  for (const result of [unknown, unreadable, invalid]) t.notMatch(result.stderr, STACK_TRACE);
});

t.test("the README's tour: examples/rules checks and explains as it says", async (t) => {
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const rule = path.join(root, 'examples/rules/read-write-split.yaml');
  const endpoints = path.join(root, 'examples/rules/endpoints.yaml');
  const checked = run(['rules', 'check', rule]);
  t.equal(checked.status, 0, checked.stderr);
  t.match(checked.stdout, /condition rule org\.apache\.dubbo\.benchmark\.service\.UserService:1\.0\.0: \(scope service, configVersion v3\.0\): valid/);
  const reads = run(['rules', 'explain', '--rule', rule, '--endpoints', endpoints, '--method', 'findUser']);
  t.equal(reads.status, 0, reads.stderr);
  t.match(reads.stdout, /the call reaches 2 endpoints:\n {2}172\.22\.3\.94:20880 .*\n {2}172\.22\.3\.95:20880 /);
  const writes = run(['rules', 'explain', '--rule', rule, '--endpoints', endpoints, '--method', 'createUser']);
  t.equal(writes.status, 0, writes.stderr);
  t.match(writes.stdout, /the call reaches 1 endpoint:\n {2}172\.22\.3\.91:20880 /);
});
