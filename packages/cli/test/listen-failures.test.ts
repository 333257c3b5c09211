// A listen address in use, for every listener flag, as a user meets it: the real executable,
// one line on stderr naming the flag, the address and the cause, exit 1, no stack trace, and
// the process gone (nothing of it left listening).
import t, { type Test } from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runToEnd, type Finished } from './fixtures/child.js';

const SERVICE_YAML = `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: s}
spec:
  interfaces: [org.example.S]
  endpoints: [{address: 127.0.0.1:20880}]
`;

/** A port some other process (this test) holds. */
async function busyPort(t: Test): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as net.AddressInfo).port;
}

/** Exactly one line on stderr: no stack trace, nothing else. */
function oneLine(t: Test, finished: Finished, expected: string | RegExp, what: string): void {
  t.equal(finished.code, 1, `${what}: exits 1`);
  const lines = finished.stderr.split('\n').filter((line) => line !== '');
  t.equal(lines.length, 1, `${what}: one line on stderr, got ${JSON.stringify(finished.stderr)}`);
  if (typeof expected === 'string') t.equal(lines[0], expected, what);
  else t.match(lines[0], expected, what);
  t.notMatch(finished.stderr, /\n\s+at /, `${what}: no stack trace`);
}

let dir: string;
let file: string;
t.before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dm-start-up-'));
  file = path.join(dir, 'mesh.yaml');
  await writeFile(file, SERVICE_YAML);
});
t.teardown(() => rm(dir, { recursive: true, force: true }));

t.test('every listener flag: an address in use is one line naming the flag', async (t) => {
  const port = await busyPort(t);
  const busy = `127.0.0.1:${port}`;
  const base = ['--node', 'n1', '--static', file];
  // Independent processes: run them side by side (each start costs most of a second of CPU).
  const cases: Array<[string, string[], string | RegExp]> = [
    ['proxy --outbound', ['proxy', ...base, '--admin', '127.0.0.1:0', '--outbound', busy], `dubbo-mesh proxy: --outbound ${busy}: address already in use`],
    ['proxy --inbound', ['proxy', ...base, '--admin', '127.0.0.1:0', '--outbound', '127.0.0.1:0', '--inbound', busy, '--inbound-target', '127.0.0.1:20880'], `dubbo-mesh proxy: --inbound ${busy}: address already in use`],
    // The outbound listener was bound before the admin API failed: it is closed again (the process exits).
    ['proxy --admin', ['proxy', ...base, '--outbound', '127.0.0.1:0', '--admin', busy], `dubbo-mesh proxy: --admin ${busy}: address already in use`],
    ['gateway --listen', ['gateway', ...base, '--admin', '127.0.0.1:0', '--listen', busy], `dubbo-mesh gateway: --listen ${busy}: address already in use`],
    ['gateway --admin', ['gateway', ...base, '--listen', '127.0.0.1:0', '--admin', busy], `dubbo-mesh gateway: --admin ${busy}: address already in use`],
    ['control-plane --grpc', ['control-plane', '--config', file, '--grpc', busy, '--admin', '127.0.0.1:0'], new RegExp(`^dubbo-mesh control-plane: --grpc ${busy}: .*address already in use`)],
    ['control-plane --admin', ['control-plane', '--config', file, '--grpc', '127.0.0.1:0', '--admin', busy], `dubbo-mesh control-plane: --admin ${busy}: address already in use`],
    // What `npm start` meets when 15000 is taken.
    ['demo --admin', ['demo', '--admin', busy], `dubbo-mesh demo: --admin ${busy}: address already in use`],
  ];
  const finished = await Promise.all(cases.map(([, args]) => runToEnd(args)));
  cases.forEach(([what, , expected], i) => oneLine(t, finished[i]!, expected, what));
});

