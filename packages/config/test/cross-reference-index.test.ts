import t from 'tap';
import { CrossReferenceIndex, assembleMeshConfig, validateResource, type LocatedResource } from '@dubbo-mesh/config';

/** A small deterministic generator (mulberry32): the same run every time. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function located(raw: unknown): LocatedResource {
  const result = validateResource(raw);
  if (!result.valid) throw new Error(result.errors.join('\n'));
  return { resource: result.result, raw };
}

const meta = (name: string) => ({ apiVersion: 'dubbo-mesh.io/v1alpha1', metadata: { name } });

/**
 * Every resource a random mesh may hold: services (two versions each, the second claiming an
 * interface another service may claim too), policies with different subsets, policies on
 * services that may be missing, routes to services and subsets that may be missing, ingresses
 * whose target applications may clash.
 */
function universe(): LocatedResource[] {
  const out: LocatedResource[] = [];
  for (let s = 0; s < 5; s++) {
    out.push(located({ ...meta(`s${s}`), kind: 'DubboService', spec: { interfaces: [`org.example.S${s}`], endpoints: [{ address: `10.0.0.${s}:1` }] } }));
    out.push(
      located({
        ...meta(`s${s}`),
        kind: 'DubboService',
        spec: { interfaces: [`org.example.S${s}`, `org.example.Shared${s % 2}`], endpoints: [{ address: `10.0.1.${s}:1` }] },
      }),
    );
    out.push(located({ ...meta(`p${s}`), kind: 'DubboPolicy', spec: { service: `s${s}`, subsets: [{ name: 'v1', labels: { v: '1' } }] } }));
    out.push(located({ ...meta(`p${s}`), kind: 'DubboPolicy', spec: { service: `s${s}`, subsets: [{ name: 'v2', labels: { v: '2' } }] } }));
    out.push(located({ ...meta(`q${s}`), kind: 'DubboPolicy', spec: { service: `s${s}` } }));
  }
  // Ingresses whose hosts (target applications, global to the mesh) may clash, across namespaces too.
  for (let i = 0; i < 3; i++) {
    const endpoints = [{ address: `10.0.2.${i}:1` }];
    out.push(located({ ...meta(`i${i}`), kind: 'DubboIngress', spec: { rules: [{ host: `app${i}`, service: `s${i}`, endpoints }] } }));
    out.push(
      located({
        ...meta(`i${i}`),
        kind: 'DubboIngress',
        spec: {
          rules: [
            { host: `app${i}`, service: `s${i}` },
            { host: `app${(i + 1) % 3}`, service: `s${i}`, endpoints },
          ],
        },
      }),
    );
    out.push(
      located({
        apiVersion: 'dubbo-mesh.io/v1alpha1',
        metadata: { name: `i${i}`, namespace: 'other' },
        kind: 'DubboIngress',
        spec: { rules: [{ host: `app${i}`, service: `s${i}` }] },
      }),
    );
  }
  for (let r = 0; r < 4; r++) {
    for (const [target, subset] of [
      [r, undefined],
      [r, 'v1'],
      [r + 1, 'v2'],
      [7, undefined],
    ] as const) {
      out.push(
        located({
          ...meta(`r${r}`),
          kind: 'DubboRoute',
          spec: { hosts: ['*'], routes: [{ destinations: [{ service: `s${target}`, ...(subset === undefined ? {} : { subset }) }] }] },
        }),
      );
    }
  }
  return out;
}

t.test('the incremental index decides exactly as the full check, over random changes', async (t) => {
  const all = universe();
  const next = random(42);
  const index = new CrossReferenceIndex();
  // Start from a valid mesh, then change a few resources at a time (add, remove, swap a version).
  let items = all.filter((item) => item.resource.kind === 'DubboService' && (item.raw as { spec: { interfaces: string[] } }).spec.interfaces.length === 1);
  let valid = 0;
  for (let step = 0; step < 3000; step++) {
    const changes = 1 + Math.floor(next() * 3);
    const candidate = [...items];
    for (let c = 0; c < changes; c++) {
      const pick = all[Math.floor(next() * all.length)]!;
      const at = candidate.indexOf(pick);
      if (at >= 0) candidate.splice(at, 1);
      else candidate.splice(Math.floor(next() * (candidate.length + 1)), 0, pick);
    }
    const expected = assembleMeshConfig(candidate);
    const actual = index.assemble(candidate);
    if (actual.valid !== expected.valid) {
      t.fail(
        `step ${step}: index says ${actual.valid}, full check says ${expected.valid}: ${candidate.map((i) => `${i.resource.kind}/${i.resource.metadata.name}`).join(' ')}`,
      );
      return;
    }
    if (expected.valid && actual.valid) {
      t.same(actual.result, expected.result, `step ${step}: the same config`);
      valid += 1;
      items = candidate; // a valid change is taken, as the builder takes it
    } else if (!expected.valid && !actual.valid) {
      t.same(actual.errors, expected.errors, `step ${step}: the same errors`);
    }
  }
  t.ok(valid > 300, `${valid} valid changes taken`);
  t.ok(index.checks.incremental > 200, `${index.checks.incremental} decided by the index alone, ${index.checks.full} by the full check`);
});
