// GET /api/v1/rules from a file source: a rule in force, an invalid edit listed as refused with
// its position while the last valid version stays in force, and the fix.
import t from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ControlPlane } from '@dubbo-mesh/control-plane';
import { eventually } from '@dubbo-mesh/test-support';

const rule = (conditions: string) => `configVersion: v3.0
scope: service
key: org.example.UserService:1.0.0
force: true
conditions:
  - ${conditions}
`;

t.test('a rule file: in force; an invalid edit refused with file:line:col while its last valid version stays; fixed', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-rules-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'rules.yaml');
  await writeFile(file, rule('method = find* => host = 10.0.0.1'));
  const controlPlane = new ControlPlane({ configPaths: [dir], fileSource: { settleMs: 20 } });
  t.teardown(() => controlPlane.stop());
  await controlPlane.start('127.0.0.1', 0);
  t.match(controlPlane.rules(), [
    {
      state: 'in-force',
      kind: 'condition',
      scope: 'service',
      key: 'org.example.UserService:1.0.0:',
      configVersion: 'v3.0',
      enabled: true,
      origin: file,
      errors: [],
    },
  ]);
  t.equal(controlPlane.rules().length, 1);

  await writeFile(file, rule('method = => host = 10.0.0.1'));
  await eventually(() => controlPlane.rules().some((status) => status.state === 'refused'), 'the broken edit to be listed');
  const [kept, refused] = controlPlane.rules();
  t.match(kept, { state: 'in-force', origin: file }, 'the last valid version stays in force');
  t.match(refused, {
    resource: kept!.resource,
    state: 'refused',
    origin: file,
    lastValidInForce: true,
    errors: [new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:6:5: DubboRule .*: spec\\.conditions\\[0\\]: .*no value after "="`)],
  });

  await writeFile(file, rule('method = get* => host = 10.0.0.2'));
  await eventually(
    () => controlPlane.rules().length === 1 && JSON.stringify(controlPlane.snapshot!.config.rules[0]!.rule).includes('get*'),
    'the fix to be in force',
  );
  t.match(controlPlane.rules(), [{ state: 'in-force', errors: [] }]);
});
