import { mkdir, mkdtemp, open, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { FileSource, type SourceState, type SourceTimers } from '@dubbo-mesh/control-plane';

const service = (port: number, name = 's') =>
  `apiVersion: dubbo-mesh.io/v1alpha1\nkind: DubboService\nmetadata: {name: ${name}}\nspec:\n  interfaces: [org.example.${name}]\n  endpoints: [{address: 127.0.0.1:${port}}]\n`;

function portOf(state: SourceState | undefined): number | undefined {
  if (state?.kind !== 'resources') return undefined;
  const resource = state.resources[0]?.resource;
  return resource?.kind === 'DubboService' ? resource.endpoints[0]?.port : undefined;
}

/** Every state a source emits, and a way to wait for one that holds a predicate (the latest, or a later one). */
function recorder(): {
  states: SourceState[];
  emit: (state: SourceState) => void;
  until: (predicate: (state: SourceState) => boolean) => Promise<SourceState>;
} {
  const states: SourceState[] = [];
  const waiters: Array<{ predicate: (state: SourceState) => boolean; resolve: (state: SourceState) => void }> = [];
  return {
    states,
    emit: (state) => {
      states.push(state);
      for (const waiter of [...waiters]) {
        if (!waiter.predicate(state)) continue;
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(state);
      }
    },
    until: (predicate) => {
      const latest = states.at(-1);
      if (latest !== undefined && predicate(latest)) return Promise.resolve(latest);
      return new Promise((resolve) => waiters.push({ predicate, resolve }));
    },
  };
}

/** Fake time: timers run only when the test fires them, and the clock moves to when they were due. */
class FakeTimers implements SourceTimers {
  time = 0;
  private readonly queue: Array<{ at: number; callback: () => void }> = [];
  private readonly waiting: Array<() => void> = [];

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const timer = { at: this.time + ms, callback };
    this.queue.push(timer);
    for (const wake of this.waiting.splice(0)) wake();
    return timer;
  }

  clearTimeout(handle: unknown): void {
    const at = this.queue.indexOf(handle as never);
    if (at >= 0) this.queue.splice(at, 1);
  }

  /** Resolves once a timer is pending. */
  pending(): Promise<void> {
    return this.queue.length > 0 ? Promise.resolve() : new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Move the clock to the earliest timer and run it. */
  fireNext(): void {
    this.queue.sort((a, b) => a.at - b.at);
    const timer = this.queue.shift()!;
    this.time = Math.max(this.time, timer.at);
    timer.callback();
  }

  /**
   * Fire timers as they are set until `done` settles. Between two, the event loop runs once
   * (file I/O completes): with a timer always pending, firing from promise callbacks alone
   * would never let a look's stat calls finish.
   */
  async drive<T>(done: Promise<T>): Promise<T> {
    let finished = false;
    const result = done.finally(() => (finished = true));
    while (!finished) {
      const next = await Promise.race([result.then(() => 'done' as const), this.pending().then(() => 'timer' as const)]);
      if (next === 'timer' && !finished) this.fireNext();
      await new Promise((resolve) => setImmediate(resolve));
    }
    return result;
  }
}

async function tempFolder(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-fs-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A folder with `files` in it and a source on it, on fake time, started (the first state
 * emitted): what the settle-rule tests share.
 */
async function onFakeTime(t: { teardown(fn: () => Promise<void>): void }, files: Record<string, string>, options: { rescanIntervalMs?: number } = {}) {
  const dir = await tempFolder(t);
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  const timers = new FakeTimers();
  const recorded = recorder();
  const source = new FileSource([dir], { settleMs: 100, timers, ...options });
  t.teardown(() => source.stop());
  await timers.drive(source.start(recorded.emit));
  return { dir, timers, source, ...recorded };
}

t.test('a ConfigMap-style update (the ..data symlink swapped) is seen through a file path', async (t) => {
  const dir = await tempFolder(t);
  // As the kubelet lays a ConfigMap out: ..2026_v1/mesh.yaml, ..data -> ..2026_v1, mesh.yaml -> ..data/mesh.yaml
  await mkdir(path.join(dir, '..v1'));
  await writeFile(path.join(dir, '..v1', 'mesh.yaml'), service(20001));
  await symlink('..v1', path.join(dir, '..data'));
  await symlink('..data/mesh.yaml', path.join(dir, 'mesh.yaml'));
  const { emit, until } = recorder();
  const source = new FileSource([path.join(dir, 'mesh.yaml')], { settleMs: 20 });
  t.teardown(() => source.stop());
  await source.start(emit);
  t.equal(portOf(await until(() => true)), 20001);

  await mkdir(path.join(dir, '..v2'));
  await writeFile(path.join(dir, '..v2', 'mesh.yaml'), service(20002));
  await symlink('..v2', path.join(dir, '..data_tmp'));
  await rename(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
  t.equal(portOf(await until((state) => portOf(state) === 20002)), 20002, 'the new content is read');
});

t.test('an invalid change is emitted as invalid with file and line; a fix is read again', async (t) => {
  const dir = await tempFolder(t);
  const file = path.join(dir, 'mesh.yaml');
  await writeFile(file, service(20001));
  const { emit, until } = recorder();
  // A file path as a user may write it, not normalised: the watch events name the file otherwise.
  const given = `${dir}/./mesh.yaml`;
  const source = new FileSource([given], { settleMs: 20 });
  t.teardown(() => source.stop());
  await source.start(emit);
  await writeFile(file, service(20001).replace('127.0.0.1:20001', 'nowhere'));
  const invalid = await until((state) => state.kind === 'invalid');
  if (invalid.kind === 'invalid') {
    t.match(invalid.errors[0]!, `${given}:6:`);
    t.same(invalid.origins, [given], 'the refusal is attributed to the file');
  }
  await writeFile(file, service(20003));
  t.equal(portOf(await until((state) => portOf(state) === 20003)), 20003);
});

t.test('a file caught half-written is never read: its size and mtime must hold still for a settle interval', async (t) => {
  const { dir, timers, states, until } = await onFakeTime(t, { 'mesh.yaml': service(20001) }, { rescanIntervalMs: 0 });
  const file = path.join(dir, 'mesh.yaml');
  t.equal(portOf(states[0]), 20001);
  t.ok(timers.time >= 100, 'even the first read waits for the files to hold still');

  // Rewritten in place: truncated, then written in two parts. The first part alone is a
  // valid service with no endpoints: what proxies would get if it were read now.
  const text = service(20002);
  const half = text.slice(0, text.indexOf('  endpoints'));
  const handle = await open(file, 'w');
  await handle.write(half);
  await timers.pending(); // the watcher saw it
  timers.fireNext(); // a look: the file changed, not settled yet
  await timers.pending(); // it comes back after the settle interval
  await handle.write(text.slice(half.length));
  await handle.close();
  await timers.drive(until((state) => portOf(state) === 20002));
  t.same(states.slice(1).map(portOf), [20002], 'only the whole file was ever emitted');
});

t.test('an empty file is refused; a file with only a comment is empty on purpose; a deleted file is gone', async (t) => {
  const dir = await tempFolder(t);
  const file = path.join(dir, 'a.yaml');
  const other = path.join(dir, 'b.yaml');
  await writeFile(file, service(20001, 'a'));
  await writeFile(other, service(20002, 'b'));
  const { emit, until } = recorder();
  const source = new FileSource([dir], { settleMs: 20 });
  t.teardown(() => source.stop());
  await source.start(emit);
  t.equal((await until(() => true)).kind, 'resources');

  await writeFile(file, '  \n');
  const empty = await until((state) => state.kind === 'invalid');
  t.same(empty, {
    kind: 'invalid',
    errors: [`${file}: empty file (no YAML document): refused, the last valid state stays; to clear a file on purpose delete it or leave only a comment in it`],
    origins: [file],
    resources: (empty as { resources: unknown[] }).resources,
  });

  await writeFile(file, '# a.yaml is cleared on purpose\n');
  const cleared = await until((state) => state.kind === 'resources');
  t.same(
    cleared.kind === 'resources' ? cleared.resources.map((r) => r.resource.metadata.name) : [],
    ['b'],
    'a comment-only file has no resources and no error',
  );

  await rm(other);
  const deleted = await until((state) => state.kind === 'resources' && state.resources.length === 0);
  t.equal(deleted.kind, 'resources', 'a deleted file takes its resources with it');
});

t.test("a misspelled field and a dangling reference are reported together (a proxy's --static: the source is the whole config)", async (t) => {
  const dir = await tempFolder(t);
  const file = path.join(dir, 'mesh.yaml');
  await writeFile(
    file,
    `${service(20001)}---
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboPolicy
metadata: {name: p}
spec: {service: s, loadBalancer: {polcy: random}}
---
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboRoute
metadata: {name: r}
spec:
  hosts: [org.example.s]
  routes: [{destinations: [{service: nobody}]}]
`,
  );
  const { emit, until } = recorder();
  const source = new FileSource([file], { settleMs: 20 });
  t.teardown(() => source.stop());
  await source.start(emit);
  const state = await until(() => true);
  t.same(state.kind === 'invalid' ? state.errors : [], [
    `${file}:11:42: DubboPolicy default/p: spec.loadBalancer.polcy: unknown field (expected one of: policy, hash)`,
    `${file}:18:38: DubboRoute default/r: spec.routes[0].destinations[0].service: no DubboService "nobody" in namespace default`,
  ]);
});

t.test('a change that spans two files is emitted once, whole, when the slower one has settled', async (t) => {
  const { dir, timers, source, states, until } = await onFakeTime(t, { 'a.yaml': service(20001, 'a'), 'b.yaml': service(20002, 'b') }, { rescanIntervalMs: 0 });
  const a = path.join(dir, 'a.yaml');
  const b = path.join(dir, 'b.yaml');
  const ports = (state: SourceState | undefined) =>
    state?.kind === 'resources'
      ? state.resources.map((r) => (r.resource.kind === 'DubboService' ? `${r.resource.metadata.name}:${r.resource.endpoints[0]?.port}` : '')).join(' ')
      : state?.kind;
  t.equal(ports(states[0]), 'a:20001 b:20002');

  // Sizes change too: with fake time, these writes may fall in the same mtime tick as the first ones.
  await writeFile(a, service(2101, 'a'));
  const text = service(21002, 'b');
  const handle = await open(b, 'w');
  await handle.write(text.slice(0, 40));
  // Look at both files now, whichever of their watch events has arrived yet.
  source.rescan();
  await timers.pending();
  timers.fireNext(); // both changed: neither settled
  await timers.pending();
  await handle.write(text.slice(40)); // b still moving when a has settled
  await handle.close();
  await timers.drive(until((state) => ports(state) === 'a:2101 b:21002'));
  t.same(states.slice(1).map(ports), ['a:2101 b:21002'], 'no state with a changed and b not');
});

t.test('every file is looked at again every rescan interval, so a change whose watch event was lost is still seen', async (t) => {
  const { dir, timers, source, states, until } = await onFakeTime(t, { 'mesh.yaml': service(20001) }, { rescanIntervalMs: 30_000 });
  const file = path.join(dir, 'mesh.yaml');
  // Pretend the watch events are lost: a watcher that never calls back.
  (source as unknown as { watchers: Array<{ removeAllListeners(event: string): void }> }).watchers.forEach((w) => w.removeAllListeners('change'));
  await writeFile(file, service(2002)); // another size: with fake time this may fall in the first write's mtime tick
  await timers.drive(until((state) => portOf(state) === 2002));
  t.ok(timers.time >= 30_000, `seen at ${timers.time} ms of fake time, after the rescan interval`);
  t.same(states.map(portOf), [20001, 2002]);
});

t.test('a deleted file is dropped only once it has stayed gone for a settle interval: rm, then a new copy, publishes nothing without it', async (t) => {
  const { dir, timers, source, states } = await onFakeTime(t, { 'a.yaml': service(20001, 'a'), 'b.yaml': service(20002, 'b') });
  const b = path.join(dir, 'b.yaml');
  const names = (state: SourceState) => (state.kind === 'resources' ? state.resources.map((r) => r.resource.metadata.name) : []);
  t.same(names(states.at(-1)!), ['a', 'b']);
  const emitted = states.length;
  // One look, run to its end (internals, on purpose: the look is what the test steps through).
  const look = async () => {
    timers.fireNext();
    await (source as unknown as { reading: Promise<void> }).reading;
  };
  await rm(b);
  source.rescan();
  await look();
  t.equal(states.length, emitted, 'b gone for less than a settle interval: nothing is published');
  await writeFile(b, service(20002, 'b')); // the new copy
  for (let i = 0; i < 20 && states.length === emitted; i++) await look();
  t.ok(states.length > emitted, 'the folder is published again once b has settled');
  t.same(
    states.slice(emitted).map(names),
    states.slice(emitted).map(() => ['a', 'b']),
    'and no state ever lacked b',
  );
  // Gone for good: dropped after the settle interval.
  await rm(b);
  source.rescan();
  for (let i = 0; i < 20 && names(states.at(-1)!).length === 2; i++) await look();
  t.same(names(states.at(-1)!), ['a'], 'a file that stays gone is dropped');
});

t.test('a steady stream of events does not push the next look back', async (t) => {
  const { timers, source } = await onFakeTime(t, { 'a.yaml': service(20001, 'a') });
  const queue = () => (timers as unknown as { queue: Array<{ at: number }> }).queue;
  const first = timers.time;
  for (let i = 0; i < 50; i++) {
    source.rescan(); // as a watch event would, every 4 ms for 200 ms
    timers.time += 4;
  }
  t.equal(Math.min(...queue().map((timer) => timer.at)), first + 10, 'the look stays due 10 ms after the first event');
});
