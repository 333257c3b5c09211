// `dubbo-mesh proxy --static` when its file is replaced rather than written in place, as
// `mv tmp file`, `sed -i`, editors and Kubernetes ConfigMap volumes do: every replacement is
// seen, an invalid one is refused naming the file, and the last valid config stays.
import t from 'tap';
import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startChild } from './fixtures/child.js';
import { userServiceMeshYaml as meshYaml } from '@dubbo-mesh/test-support';

t.test('proxy --static sees every replacement of its file: renames over it and a ConfigMap ..data symlink swap', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-cli-'));
  const children: Array<ReturnType<typeof startChild>> = [];
  t.teardown(async () => {
    for (const child of children) child.process.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });
  const timeoutOf = async (admin: unknown) =>
    ((await (await fetch(`http://${admin as string}/config_dump`)).json()) as { config: { routes: Array<{ routes: Array<{ timeoutMs: number }> }> } }).config
      .routes[0]!.routes[0]!.timeoutMs;

  // A file replaced by a rename, as `mv tmp file`, `sed -i` and editors do: each one is seen.
  const file = path.join(dir, 'mesh.yaml');
  await writeFile(file, meshYaml(20880, '1s'));
  const plain = startChild(['proxy', '--node', 'n1', '--static', file, '--outbound', '127.0.0.1:0', '--admin', '127.0.0.1:0']);
  children.push(plain);
  const ready = await plain.waitFor((l) => l.msg === 'proxy ready');
  const seen = new Set([ready.version]);
  const replace = async (target: string, text: string) => {
    const temporary = `${target}.${seen.size}.tmp`;
    await writeFile(temporary, text);
    await rename(temporary, target);
  };
  for (const [n, timeout] of ['2s', '3s', '4s'].entries()) {
    await replace(file, meshYaml(20880, timeout));
    const applied = await plain.waitFor((l) => l.msg === `applied the changed config in ${file}` && !seen.has(l.version));
    seen.add(applied.version);
    t.equal(await timeoutOf(ready.admin), (n + 2) * 1000, `replacement ${n + 1} is in force`);
  }
  await replace(file, meshYaml(20880, '5s').replace('kind: DubboRoute', 'kind: DubboRoutes'));
  const refused = await plain.waitFor((l) => l.msg === `refused the changed config in ${file}; the last valid config stays in force`);
  t.match((refused.errors as string[]).join('\n'), file, 'the refusal names the file');
  t.equal(await timeoutOf(ready.admin), 4000, 'the last valid config stays');
  await replace(file, meshYaml(20880, '6s'));
  await plain.waitFor((l) => l.msg === `applied the changed config in ${file}` && !seen.has(l.version));
  t.equal(await timeoutOf(ready.admin), 6000, 'a valid replacement after a refused one is applied');
  // Written in place and found empty, as a file caught mid-write looks: refused, the config stays.
  await writeFile(file, '');
  const empty = await plain.waitFor(
    (l) => l.msg === `refused the changed config in ${file}; the last valid config stays in force` && (l.errors as string[]).join('\n').includes('empty file'),
  );
  t.match((empty.errors as string[]).join('\n'), `${file}: empty file`, 'an empty file is refused, naming it');
  t.equal(await timeoutOf(ready.admin), 6000, 'and the last valid config stays in force');

  // A ConfigMap volume: mesh.yaml -> ..data/mesh.yaml, and an update swaps the ..data symlink.
  const volume = path.join(dir, 'volume');
  const revision = async (n: number, timeout: string) => {
    await mkdir(path.join(volume, `..rev_${n}`), { recursive: true });
    await writeFile(path.join(volume, `..rev_${n}`, 'mesh.yaml'), meshYaml(20880, timeout));
    await symlink(`..rev_${n}`, path.join(volume, '..data_tmp'));
    await rename(path.join(volume, '..data_tmp'), path.join(volume, '..data'));
  };
  await revision(1, '1s');
  const mounted = path.join(volume, 'mesh.yaml');
  await symlink('..data/mesh.yaml', mounted);
  const configMap = startChild(['proxy', '--node', 'n2', '--static', mounted, '--outbound', '127.0.0.1:0', '--admin', '127.0.0.1:0']);
  children.push(configMap);
  const mountedReady = await configMap.waitFor((l) => l.msg === 'proxy ready');
  const mountedSeen = new Set([mountedReady.version]);
  for (const [n, timeout] of ['2s', '3s'].entries()) {
    await revision(n + 2, timeout);
    await rm(path.join(volume, `..rev_${n + 1}`), { recursive: true });
    const applied = await configMap.waitFor((l) => l.msg === `applied the changed config in ${mounted}` && !mountedSeen.has(l.version));
    mountedSeen.add(applied.version);
    t.equal(await timeoutOf(mountedReady.admin), (n + 2) * 1000, `symlink swap ${n + 1} is in force`);
  }
});
