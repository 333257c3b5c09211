// Snapshot sinks: one that throws, rejects, hangs or is slow never holds back publishing or
// another sink; a slow one ends on the newest snapshot. Promises the test resolves, no sleeps.
import { once } from 'node:events';
import t from 'tap';
import { validateResource, type LocatedResource } from '@dubbo-mesh/config';
import { ControlPlane, Snapshot, SnapshotSinks, type ConfigSource, type SnapshotSink, type SourceState } from '@dubbo-mesh/control-plane';
import { eventually } from '@dubbo-mesh/test-support';

function service(name: string, port = 20880): LocatedResource {
  const raw = {
    apiVersion: 'dubbo-mesh.io/v1alpha1',
    kind: 'DubboService',
    metadata: { name },
    spec: { interfaces: [`org.example.${name}`], endpoints: [{ address: `127.0.0.1:${port}` }] },
  };
  const result = validateResource(raw);
  if (!result.valid) throw new Error(result.errors.join('\n'));
  return { resource: result.result, raw };
}

function snapshot(port: number): Snapshot {
  const created = Snapshot.create([service('users', port)]);
  if (!created.valid) throw new Error(created.errors.join('\n'));
  return created.snapshot;
}

/** A promise and its resolve/reject, for a sink the test finishes by hand. */
function deferred() {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A sink that records what it is told and answers with whatever `answer` returns. */
function recordingSink(name: string, answer: (snapshot: Snapshot) => void | Promise<void> = () => {}) {
  const calls: Array<{ version: string; previous: string | undefined }> = [];
  const waiters: Array<() => void> = [];
  const sink: SnapshotSink = {
    name,
    onPublished(snapshot, previous) {
      calls.push({ version: snapshot.version, previous: previous?.version });
      for (const waiter of waiters.splice(0)) waiter();
      return answer(snapshot);
    },
  };
  /** Resolves once the sink has been told `count` times in all. */
  const told = (count: number) =>
    new Promise<void>((resolve) => {
      const check = () => (calls.length >= count ? resolve() : waiters.push(check));
      check();
    });
  return { sink, calls, told };
}

t.test('a sink that throws or rejects is reported and later snapshots still come; the others are told regardless', async (t) => {
  const failures: Array<{ sink: string; version: string; error: string }> = [];
  const sinks = new SnapshotSinks((sink, s, error) => failures.push({ sink: sink.name, version: s.version, error: (error as Error).message }));
  let throwing = true;
  const thrower = recordingSink('thrower', () => {
    if (throwing) throw new Error('boom');
  });
  const rejecter = recordingSink('rejecter', () => Promise.reject(new Error('refused by the registry')));
  const good = recordingSink('good');
  sinks.add(thrower.sink);
  sinks.add(rejecter.sink);
  sinks.add(good.sink);
  t.same(sinks.names(), ['thrower', 'rejecter', 'good']);
  const a = snapshot(1);
  const b = snapshot(2);
  sinks.publish(a);
  t.same(good.calls, [{ version: a.version, previous: undefined }], 'the sink after a throwing one is told');
  t.same(
    failures.map((f) => f.sink),
    ['thrower'],
    'the throw is reported at once, the rejection when it settles',
  );
  sinks.publish(b);
  // The rejection of the first call is reported once its promise settles; the second call waits for it.
  await rejecter.told(2);
  t.same(failures.slice(0, 3), [
    { sink: 'thrower', version: a.version, error: 'boom' },
    { sink: 'thrower', version: b.version, error: 'boom' },
    { sink: 'rejecter', version: a.version, error: 'refused by the registry' },
  ]);
  t.same(rejecter.calls[1], { version: b.version, previous: undefined }, 'previous is the last snapshot the sink took without failing: none');
  throwing = false;
  const c = snapshot(3);
  sinks.publish(c);
  t.same(thrower.calls.at(-1), { version: c.version, previous: undefined }, 'a sink that failed on every earlier snapshot still has no previous');
  sinks.publish(a);
  t.same(thrower.calls.at(-1), { version: a.version, previous: c.version }, 'once it took one, that is its previous');
  t.same(
    good.calls.map((call) => call.previous),
    [undefined, a.version, b.version, c.version],
    'the good sink saw every snapshot in order',
  );
});

t.test('a hanging sink holds back nobody; a slow one is told of the newest snapshot when it is done', async (t) => {
  const sinks = new SnapshotSinks(() => t.fail('no failure expected'));
  const hanging = recordingSink('hanging', () => new Promise<void>(() => {}));
  const work: Array<ReturnType<typeof deferred>> = [];
  const slow = recordingSink('slow', () => {
    const d = deferred();
    work.push(d);
    return d.promise;
  });
  const fast = recordingSink('fast');
  sinks.add(hanging.sink);
  sinks.add(slow.sink);
  sinks.add(fast.sink);
  const [a, b, c, d] = [snapshot(1), snapshot(2), snapshot(3), snapshot(4)];
  sinks.publish(a);
  sinks.publish(b);
  sinks.publish(c);
  t.same(
    fast.calls.map((call) => call.version),
    [a.version, b.version, c.version],
    'the fast sink is told of each at once',
  );
  t.same(
    slow.calls.map((call) => call.version),
    [a.version],
    'the slow sink is busy with the first',
  );
  t.same(
    hanging.calls.map((call) => call.version),
    [a.version],
  );
  work[0]!.resolve();
  await slow.told(2);
  t.same(slow.calls[1], { version: c.version, previous: a.version }, 'then the newest, b skipped, with the one it took as previous');
  sinks.publish(d);
  t.equal(slow.calls.length, 2, 'busy again: d waits');
  work[1]!.resolve();
  await slow.told(3);
  t.same(slow.calls[2], { version: d.version, previous: c.version });
  work[2]!.resolve();
  await work[2]!.promise;
  await Promise.resolve();
  t.equal(slow.calls.length, 3, 'done on the newest: nothing more');
  t.equal(hanging.calls.length, 1, 'the hanging sink is still on its first');
});

t.test('a slow sink that rejects still goes on to the newest snapshot', async (t) => {
  const failed: string[] = [];
  const sinks = new SnapshotSinks((_sink, s) => failed.push(s.version));
  const work: Array<ReturnType<typeof deferred>> = [];
  const slow = recordingSink('slow', () => {
    const d = deferred();
    work.push(d);
    return d.promise;
  });
  sinks.add(slow.sink);
  const [a, b] = [snapshot(1), snapshot(2)];
  sinks.publish(a);
  sinks.publish(b);
  work[0]!.reject(new Error('timeout'));
  await slow.told(2);
  t.same(failed, [a.version]);
  t.same(slow.calls[1], { version: b.version, previous: undefined });
});

t.test('a sink added late is told of the newest snapshot at once; a removed one is told of nothing more', async (t) => {
  const sinks = new SnapshotSinks(() => t.fail('no failure expected'));
  const early = recordingSink('early');
  const remove = sinks.add(early.sink);
  const a = snapshot(1);
  sinks.publish(a);
  const late = recordingSink('late');
  sinks.add(late.sink);
  t.same(late.calls, [{ version: a.version, previous: undefined }]);
  remove();
  sinks.publish(snapshot(2));
  t.equal(early.calls.length, 1, 'removed: not told');
  t.equal(late.calls.length, 2);
  t.same(sinks.names(), ['late']);
});

t.test('a removed slow sink is not told of what was published while it worked', async (t) => {
  const sinks = new SnapshotSinks(() => t.fail('no failure expected'));
  const d = deferred();
  const slow = recordingSink('slow', () => d.promise);
  const remove = sinks.add(slow.sink);
  sinks.publish(snapshot(1));
  sinks.publish(snapshot(2));
  remove();
  d.resolve();
  await d.promise;
  await Promise.resolve();
  await Promise.resolve();
  t.equal(slow.calls.length, 1);
});

/** A source the test drives by hand. */
class ScriptedSource implements ConfigSource {
  private emitState: ((state: SourceState) => void) | undefined;
  constructor(
    readonly name: string,
    private readonly first: LocatedResource[],
  ) {}
  async start(emit: (state: SourceState) => void): Promise<void> {
    this.emitState = emit;
    emit({ kind: 'resources', resources: this.first });
  }
  async stop(): Promise<void> {}
  set(resources: LocatedResource[]): void {
    this.emitState!({ kind: 'resources', resources });
  }
}

t.test('a control plane tells its sinks of each snapshot after publishing it; a failing sink is logged and counted', async (t) => {
  const source = new ScriptedSource('scripted', [service('users', 1)]);
  const logged: Array<{ level: string; message: string; fields: Record<string, unknown> | undefined }> = [];
  const hangs = recordingSink('hangs', () => new Promise<void>(() => {}));
  const fails = recordingSink('registry-exporter', () => Promise.reject(new Error('connection refused')));
  const controlPlane = new ControlPlane({
    sources: [source],
    sinks: [hangs.sink, fails.sink],
    log: (level, message, fields) => logged.push({ level, message, fields }),
  });
  t.teardown(() => controlPlane.stop());
  await controlPlane.start('127.0.0.1', 0);
  const first = controlPlane.snapshot!;
  t.same(hangs.calls, [{ version: first.version, previous: undefined }], 'told of the first snapshot');
  const added = recordingSink('added');
  controlPlane.addSink(added.sink);
  t.same(added.calls, [{ version: first.version, previous: undefined }], 'a sink added later is told of the snapshot in force');

  const published = once(controlPlane, 'published');
  source.set([service('users', 2)]);
  const [second] = (await published) as [Snapshot];
  t.not(second.version, first.version);
  t.same(added.calls.at(-1), { version: second.version, previous: first.version }, 'told before the published event');
  t.equal(hangs.calls.length, 1, 'the hanging sink held back neither the publish nor the others');
  await fails.told(2);
  await new Promise<void>((resolve) => setImmediate(resolve));
  const metrics = await controlPlane.metrics.registry.metrics();
  t.match(metrics, /dubbo_mesh_cp_sink_failures_total\{sink="registry-exporter"\} 2/);
  const errors = logged.filter((line) => line.level === 'error');
  t.same(
    errors.map((line) => line.message),
    [
      `snapshot sink registry-exporter failed on snapshot ${first.version}; publishing goes on`,
      `snapshot sink registry-exporter failed on snapshot ${second.version}; publishing goes on`,
    ],
  );
  t.equal(errors[0]!.fields?.error, 'connection refused');
});

t.test('a sink that publishes again from inside its call: every sink sees the snapshots in order and ends on the newest', async (t) => {
  const sinks = new SnapshotSinks(() => {});
  const [s1, s2, s3] = [snapshot(20001), snapshot(20002), snapshot(20003)];
  let again = true;
  const a = recordingSink('a', () => {
    if (again) {
      again = false;
      sinks.publish(s2);
    }
  });
  const b = recordingSink('b');
  sinks.add(a.sink);
  sinks.add(b.sink);
  sinks.publish(s1);
  t.same(
    a.calls.map((c) => c.version),
    [s1.version, s2.version],
    'a: s1, then s2 once its call is over',
  );
  t.same(
    b.calls.map((c) => c.version),
    [s2.version],
    'b: only the newest (s1 was superseded before its turn)',
  );
  sinks.publish(s3);
  t.equal(a.calls.at(-1)!.previous, s2.version, "a's previous is the newest it accepted");
  t.equal(b.calls.at(-1)!.previous, s2.version);
});

t.test('a sink answering a thenable whose `then` throws is a failure like a rejection; publish never throws', async (t) => {
  const failures: string[] = [];
  const sinks = new SnapshotSinks((sink, _snapshot, error) => failures.push(`${sink.name}: ${(error as Error).message}`));
  const s1 = snapshot(20001);
  const s2 = snapshot(20002);
  const thenThrows = {
    then() {
      throw new Error('then threw');
    },
  };
  const getterThrows = Object.defineProperty({}, 'then', {
    get() {
      throw new Error('getter threw');
    },
  });
  const answers: unknown[] = [thenThrows, getterThrows];
  sinks.add({ name: 'weird', onPublished: () => answers.shift() as void });
  const after = recordingSink('after');
  sinks.add(after.sink);
  t.doesNotThrow(() => sinks.publish(s1));
  await after.told(1);
  await eventually(() => failures.length === 1, 'the first failure');
  t.doesNotThrow(() => sinks.publish(s2));
  await eventually(() => failures.length === 2, 'the second failure');
  t.same(failures, ['weird: then threw', 'weird: getter threw']);
  t.equal(after.calls.at(-1)!.version, s2.version, 'the other sink is told regardless');
});
