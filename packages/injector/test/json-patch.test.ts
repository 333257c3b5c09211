import t from 'tap';
import { createJsonPatch, escapePointerToken, jsonEqual } from '../dist/json-patch.js';
import { applyJsonPatch } from './fixtures/apply-json-patch.js';

/** A small seeded PRNG (mulberry32), so a failing case can be replayed from its seed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = Math.imul(state ^ (state >>> 15), 1 | state);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const KEYS = ['name', 'a', 'b', 'a/b', 'x~y', '~1', '/', '', 'dubbo-mesh.io/injected', 'env', 'value'];

function randomValue(next: () => number, depth: number): unknown {
  const pick = next();
  if (depth <= 0 || pick < 0.35) {
    const scalars = [0, 1, -2.5, 'x', 'y', '', true, false, null, '~0/~1'];
    return scalars[Math.floor(next() * scalars.length)];
  }
  if (pick < 0.65) return Array.from({ length: Math.floor(next() * 5) }, () => randomValue(next, depth - 1));
  const object: Record<string, unknown> = {};
  for (let index = Math.floor(next() * 5); index > 0; index--) object[KEYS[Math.floor(next() * KEYS.length)]!] = randomValue(next, depth - 1);
  if (next() < 0.4) object.name = `n${Math.floor(next() * 4)}`; // named elements, as containers are
  return object;
}

/** `value` changed in a few random places: members added, removed, changed; elements inserted, removed, changed. */
function mutate(value: unknown, next: () => number, depth: number): unknown {
  if (Array.isArray(value)) {
    const copy = value.map((element) => (next() < 0.3 ? mutate(element, next, depth - 1) : element));
    if (next() < 0.3 && copy.length > 0) copy.splice(Math.floor(next() * copy.length), 1);
    if (next() < 0.4) copy.splice(Math.floor(next() * (copy.length + 1)), 0, randomValue(next, depth));
    if (next() < 0.2) copy.unshift(randomValue(next, depth));
    if (next() < 0.2) copy.push(randomValue(next, depth));
    return copy;
  }
  if (typeof value === 'object' && value !== null) {
    const copy: Record<string, unknown> = {};
    for (const [key, member] of Object.entries(value)) {
      if (next() < 0.15) continue;
      copy[key] = next() < 0.3 ? mutate(member, next, depth - 1) : member;
    }
    if (next() < 0.3) copy[KEYS[Math.floor(next() * KEYS.length)]!] = randomValue(next, depth);
    return copy;
  }
  return next() < 0.5 ? randomValue(next, depth) : value;
}

t.test('the test applier refuses what Kubernetes refuses, so the round trips below can fail', async (t) => {
  t.throws(() => applyJsonPatch({ metadata: {} }, [{ op: 'add', path: '/metadata/annotations/a', value: 'x' }]), /parent does not exist/);
  t.throws(() => applyJsonPatch({ a: [1] }, [{ op: 'add', path: '/a/2', value: 3 }]), /out of bounds/);
  t.throws(() => applyJsonPatch({ a: 1 }, [{ op: 'replace', path: '/b', value: 3 }]), /no such member/);
  t.throws(() => applyJsonPatch({ a: 1 }, [{ op: 'remove', path: '/b' }]), /no such member/);
  t.same(applyJsonPatch({ a: [1, 2] }, [{ op: 'add', path: '/a/2', value: 3 }]), { a: [1, 2, 3] }, 'index = length appends');
  t.same(applyJsonPatch({ 'a/b': { '~': 1 } }, [{ op: 'replace', path: '/a~1b/~0', value: 2 }]), { 'a/b': { '~': 2 } });
});

t.test('pointer tokens escape ~ before /', async (t) => {
  t.equal(escapePointerToken('dubbo-mesh.io/injected'), 'dubbo-mesh.io~1injected');
  t.equal(escapePointerToken('a~/b'), 'a~0~1b');
  t.equal(escapePointerToken('~1'), '~01', 'a literal ~1 is not read back as /');
});

t.test('equal values give an empty patch, key order and undefined members ignored', async (t) => {
  t.same(createJsonPatch({ a: 1, b: [{ name: 'x', v: 2 }] }, { b: [{ v: 2, name: 'x' }], a: 1, c: undefined }), []);
  t.ok(jsonEqual({ a: [1, { b: null }] }, { a: [1, { b: null }] }));
  t.notOk(jsonEqual({ a: [1] }, { a: [1, 1] }));
  t.notOk(jsonEqual({ a: null }, {}));
});

t.test('a missing annotations map is added whole; an existing one gets the escaped key', async (t) => {
  const before = { metadata: { name: 'p' } };
  const after = { metadata: { name: 'p', annotations: { 'dubbo-mesh.io/injected': '{}' } } };
  t.same(createJsonPatch(before, after), [{ op: 'add', path: '/metadata/annotations', value: { 'dubbo-mesh.io/injected': '{}' } }]);
  const withAnnotations = { metadata: { name: 'p', annotations: { other: 'x' } } };
  const afterWith = { metadata: { name: 'p', annotations: { other: 'x', 'dubbo-mesh.io/injected': '{}' } } };
  t.same(createJsonPatch(withAnnotations, afterWith), [{ op: 'add', path: '/metadata/annotations/dubbo-mesh.io~1injected', value: '{}' }]);
});

t.test('elements inserted at the front or appended are adds at their indexes; a changed element is patched inside', async (t) => {
  const sidecar = { name: 'dubbo-mesh-proxy', image: 'i' };
  const before = { spec: { initContainers: [{ name: 'migrate' }], containers: [{ name: 'app', env: [{ name: 'A', value: '1' }] }, { name: 'log' }] } };
  const after = {
    spec: {
      initContainers: [sidecar, { name: 'migrate' }],
      containers: [
        {
          name: 'app',
          env: [
            { name: 'JAVA_TOOL_OPTIONS', value: '-D' },
            { name: 'A', value: '1' },
          ],
        },
        { name: 'log' },
        sidecar,
      ],
    },
  };
  const patch = createJsonPatch(before, after);
  t.same(patch, [
    { op: 'add', path: '/spec/initContainers/0', value: sidecar },
    { op: 'add', path: '/spec/containers/0/env/0', value: { name: 'JAVA_TOOL_OPTIONS', value: '-D' } },
    { op: 'add', path: '/spec/containers/2', value: sidecar },
  ]);
  t.same(applyJsonPatch(before, patch), after);
  t.same(createJsonPatch({ spec: { containers: [] } }, { spec: { containers: [], initContainers: [sidecar] } }), [
    { op: 'add', path: '/spec/initContainers', value: [sidecar] },
  ]);
});

t.test('removals, type changes, a new root and arrays with nothing in common', async (t) => {
  const cases: Array<[unknown, unknown]> = [
    [{ a: 1, b: 2 }, { a: 1 }],
    [{ a: [1, 2, 3] }, { a: [3] }],
    [{ a: [1, 2] }, { a: [3, 4, 5] }],
    [{ a: { b: 1 } }, { a: [1] }],
    [[1], { a: 1 }],
    [1, 'x'],
    [{ a: [{ name: 'x', v: 1 }, { name: 'y' }] }, { a: [{ name: 'y' }, { name: 'x', v: 2 }] }],
  ];
  for (const [before, after] of cases) t.same(applyJsonPatch(before, createJsonPatch(before, after)), after, JSON.stringify([before, after]));
  t.same(createJsonPatch({ a: [1, 2] }, { a: [3, 4, 5] }), [{ op: 'replace', path: '/a', value: [3, 4, 5] }]);
});

t.test('for 2000 random pairs, applying the patch to the first gives exactly the second', async (t) => {
  let failures = 0;
  for (let seed = 1; seed <= 2000; seed++) {
    const next = random(seed);
    const before = randomValue(next, 4);
    const after = mutate(before, next, 4);
    const frozen = JSON.stringify(before);
    let result: unknown;
    try {
      result = applyJsonPatch(before, createJsonPatch(before, after));
    } catch (error) {
      result = error;
    }
    if (!jsonEqual(result, after) || JSON.stringify(before) !== frozen) {
      failures++;
      if (failures <= 3) t.fail(`seed ${seed}: ${JSON.stringify(before)} → ${JSON.stringify(after)} gave ${String(result)}`);
    }
  }
  t.equal(failures, 0);
});
