// A listen address in use, for every listener flag, as a user meets it: the real executable,
// one line on stderr naming the flag, the address and the cause, exit 1, no stack trace, and
// the process gone (nothing of it left listening).
import t, { type Test } from 'tap';
import net from 'node:net';
import { runToEnd } from './fixtures/child.js';
import { oneLine, serviceFileForTests } from './fixtures/start-up.js';

/** A port some other process (this test) holds. */
async function busyPort(t: Test): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as net.AddressInfo).port;
}

const files = serviceFileForTests();

t.test('every listener flag: an address in use is one line naming the flag', async (t) => {
  const file = files.file();
  const port = await busyPort(t);
  const busy = `127.0.0.1:${port}`;
  const base = ['--node', 'n1', '--static', file];
  // Independent processes: run them side by side (each start costs most of a second of CPU).
  const cases: Array<[string, string[], string | RegExp]> = [
    ['proxy --outbound', ['proxy', ...base, '--admin', '127.0.0.1:0', '--outbound', busy], `dubbo-mesh proxy: --outbound ${busy}: address already in use`],
    [
      'proxy --inbound',
      ['proxy', ...base, '--admin', '127.0.0.1:0', '--outbound', '127.0.0.1:0', '--inbound', busy, '--inbound-target', '127.0.0.1:20880'],
      `dubbo-mesh proxy: --inbound ${busy}: address already in use`,
    ],
    // The outbound listener was bound before the admin API failed: it is closed again (the process exits).
    ['proxy --admin', ['proxy', ...base, '--outbound', '127.0.0.1:0', '--admin', busy], `dubbo-mesh proxy: --admin ${busy}: address already in use`],
    ['gateway --listen', ['gateway', ...base, '--admin', '127.0.0.1:0', '--listen', busy], `dubbo-mesh gateway: --listen ${busy}: address already in use`],
    ['gateway --admin', ['gateway', ...base, '--listen', '127.0.0.1:0', '--admin', busy], `dubbo-mesh gateway: --admin ${busy}: address already in use`],
    [
      'control-plane --grpc',
      ['control-plane', '--config', file, '--grpc', busy, '--admin', '127.0.0.1:0'],
      new RegExp(`^dubbo-mesh control-plane: --grpc ${busy}: .*address already in use`),
    ],
    [
      'control-plane --admin',
      ['control-plane', '--config', file, '--grpc', '127.0.0.1:0', '--admin', busy],
      `dubbo-mesh control-plane: --admin ${busy}: address already in use`,
    ],
    // What `npm start` meets when 15000 is taken.
    ['demo --admin', ['demo', '--admin', busy], `dubbo-mesh demo: --admin ${busy}: address already in use`],
  ];
  const finished = await Promise.all(cases.map(([, args]) => runToEnd(args)));
  cases.forEach(([what, , expected], i) => oneLine(t, finished[i]!, expected, what));
});
