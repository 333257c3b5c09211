// `dubbo-mesh demo --duration` (what `npm start` runs, bounded): up quickly, traffic split by
// packages/demo/examples/demo/traffic.yaml, SPEC's JSON summary as the last line.
import t from 'tap';
import { startChild } from './fixtures/child.js';

t.test('demo --duration prints live counts and the JSON summary last, then exits 0, started from any folder', async (t) => {
  // Started in `/`: the .proto files (@dubbo-mesh/proto) and the traffic file (@dubbo-mesh/demo)
  // are found from their packages, not from the working directory.
  const demo = startChild(['demo', '--duration', '3s', '--admin', '127.0.0.1:0'], {}, { cwd: '/' });
  t.teardown(() => demo.process.kill('SIGKILL'));
  const code = await demo.exited;
  t.equal(code, 0);
  const upLine = demo.text.find((line) => line.startsWith('dubbo-mesh demo is up in'));
  t.ok(upLine, 'it says when it is up');
  // How fast it comes up is not asserted: on a loaded machine that is not the demo's doing.
  t.ok(Number.isFinite(Number(/up in ([\d.]+) s/.exec(upLine ?? '')?.[1])), `${upLine}: it says how long it took`);
  t.ok(
    demo.text.some((line) => /shift traffic\s+edit the weights in \/.*packages\/demo\/examples\/demo\/traffic\.yaml/.test(line)),
    'it names the file to edit, by its absolute path',
  );
  t.ok(
    demo.text.some((line) => /^== consumer proxy applied snapshot [0-9a-f]+$/.test(line)),
    "the consumer proxy's first snapshot is told",
  );
  t.ok(
    demo.text.some((line) => /admin http:\/\/127\.0\.0\.1:\d+/.test(line)),
    'and where the admin API is',
  );
  t.ok(demo.text.filter((line) => /^\[\d\d:\d\d:\d\d\] v1 /.test(line)).length >= 2, 'live counts every second');
  const summary = demo.lines.at(-1) as { requests: number; errors: number; bySubset: { v1: number; v2: number }; p50Ms: number; p99Ms: number };
  t.same(Object.keys(summary), ['requests', 'errors', 'bySubset', 'p50Ms', 'p99Ms'], "SPEC's summary, last");
  // How many calls fit in 3 s depends on the machine's load, not on the demo: only that traffic flowed.
  t.ok(summary.requests > 0, `${summary.requests} requests`);
  t.equal(summary.errors, 0);
  t.equal(summary.bySubset.v1 + summary.bySubset.v2, summary.requests);
  // The file sends 10% to v2: within 4.5 standard deviations of a binomial draw of this size
  // (a false alarm about once in 300,000 runs, however many requests a loaded machine made).
  const v2Share = summary.bySubset.v2 / summary.requests;
  const tolerance = 4.5 * Math.sqrt((0.1 * 0.9) / summary.requests);
  t.ok(
    Math.abs(v2Share - 0.1) < tolerance,
    `v2 got ${(v2Share * 100).toFixed(1)}% of ${summary.requests} (the file says 10%, ± ${(tolerance * 100).toFixed(1)})`,
  );
  t.ok(summary.p50Ms > 0 && summary.p99Ms >= summary.p50Ms);
});
