// runDemo in-process: it tells what the control plane publishes and refuses and what the
// consumer's proxy applies, from their events, while traffic goes on; an abort ends it with
// SPEC's summary last; start-up failures are typed and close everything they opened.
import t, { type Test } from 'tap';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEMO_TRAFFIC_FILE, DemoAdminListenError, DemoConfigInvalidError, DemoErrorCode, runDemo } from '@dubbo-mesh/demo';

const ANY = { host: '127.0.0.1', port: 0 };

/** The demo's printed lines, and a wait for the first line (past or future) that matches. */
function printer() {
  const lines: string[] = [];
  const waiters: Array<{ predicate: (line: string) => boolean; resolve: (line: string) => void }> = [];
  return {
    lines,
    print: (line: string) => {
      lines.push(line);
      for (const waiter of [...waiters]) {
        if (!waiter.predicate(line)) continue;
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    },
    // No deadline of its own: the test's timeout is the failure detector.
    waitFor: (predicate: (line: string) => boolean, from = 0) =>
      new Promise<string>((resolve) => {
        const seen = lines.slice(from).find(predicate);
        if (seen !== undefined) resolve(seen);
        else waiters.push({ predicate, resolve });
      }),
  };
}

/** A copy of the demo's traffic file in a temporary folder, for a test to edit. */
async function trafficCopy(t: Test): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-demo-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'traffic.yaml');
  await copyFile(DEMO_TRAFFIC_FILE, file);
  return file;
}

t.test('the traffic file is found from the package, not from the working directory', async (t) => {
  t.equal(DEMO_TRAFFIC_FILE, path.resolve(import.meta.dirname, '../examples/demo/traffic.yaml'));
  t.match(await readFile(DEMO_TRAFFIC_FILE, 'utf8'), 'kind: DubboRoute');
});

t.test('edits of the traffic file: a refusal and a new split are told as they happen; an abort ends with the summary', async (t) => {
  const file = await trafficCopy(t);
  const out = printer();
  const stop = new AbortController();
  const running = runDemo({ admin: ANY, print: out.print, signal: stop.signal, trafficFile: file });
  t.teardown(() => stop.abort());
  const published = await out.waitFor((line) => line.startsWith('== control plane published snapshot '));
  const first = published.slice('== control plane published snapshot '.length);
  await out.waitFor((line) => line === `== consumer proxy applied snapshot ${first}`);
  await out.waitFor((line) => line.startsWith('dubbo-mesh demo is up in'));
  t.ok(out.lines.includes(`  shift traffic  edit the weights in ${file} and save`), 'it names the file to edit');
  t.ok(out.lines.includes('  stop           Ctrl-C'), 'without a duration it runs until stopped');

  const original = await readFile(file, 'utf8');
  const afterRefusal = out.lines.length;
  await writeFile(file, original.replace('subset: v2, weight: 10', 'subset: v3, weight: 10'));
  const refused = await out.waitFor((line) => line.startsWith('!! refused a config change'), afterRefusal);
  t.match(refused, `!! refused a config change from ${file}; snapshot ${first} stays in force:\n   `, 'what stays in force, from the refused event');
  t.match(refused, 'v3', 'and every error');

  const beforeSplit = out.lines.length;
  await writeFile(file, original.replace('weight: 90', 'weight: 50').replace('weight: 10', 'weight: 50'));
  const next = (await out.waitFor((line) => line.startsWith('== control plane published snapshot '), beforeSplit)).slice(
    '== control plane published snapshot '.length,
  );
  t.not(next, first, 'a new version');
  await out.waitFor((line) => line === `== consumer proxy applied snapshot ${next}`, beforeSplit);
  await out.waitFor((line) => /^\[\d\d:\d\d:\d\d\] v1 /.test(line), beforeSplit);

  stop.abort();
  const outcome = await running;
  t.equal(outcome.kind, 'finished', 'stopped once up, it finishes with its summary');
  const summary = (outcome as { summary: { requests: number; errors: number; bySubset: { v1: number; v2: number } } }).summary;
  t.same(JSON.parse(out.lines.at(-1)!), summary, "SPEC's JSON summary is the last line");
  t.same(Object.keys(JSON.parse(out.lines.at(-1)!) as object), ['requests', 'errors', 'bySubset', 'p50Ms', 'p99Ms']);
  t.equal(summary.errors, 0);
  t.equal(summary.bySubset.v1 + summary.bySubset.v2, summary.requests);
  t.ok(out.lines.at(-2)!.startsWith('total: '));
});

t.test('aborted before it is up, it ends without a summary', async (t) => {
  const out = printer();
  const outcome = await runDemo({ admin: ANY, print: out.print, signal: AbortSignal.abort() });
  t.same(outcome, { kind: 'interrupted' });
  t.notOk(out.lines.some((line) => line.startsWith('dubbo-mesh demo is up')));
});

t.test('an invalid traffic file and an admin port in use are typed errors, and nothing is left running', async (t) => {
  const file = await trafficCopy(t);
  await writeFile(file, (await readFile(file, 'utf8')).replace('weight: 90', 'weight: lots'));
  const invalid = await runDemo({ admin: ANY, print: () => {}, trafficFile: file }).catch((error: unknown) => error);
  t.ok(invalid instanceof DemoConfigInvalidError);
  t.match(invalid, { code: DemoErrorCode.CONFIG_INVALID, file });
  t.match((invalid as DemoConfigInvalidError).errors.join('\n'), `${file}:`, 'the errors name the file');

  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as net.AddressInfo).port;
  const inUse = await runDemo({ admin: { host: '127.0.0.1', port }, print: () => {} }).catch((error: unknown) => error);
  t.ok(inUse instanceof DemoAdminListenError);
  t.match(inUse, { code: DemoErrorCode.ADMIN_LISTEN, host: '127.0.0.1', port, cause: { code: 'EADDRINUSE' } });
  // The process would not exit (and tap would time the file out) if anything were left open.
});
