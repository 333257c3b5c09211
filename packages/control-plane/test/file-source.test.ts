import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { FileSource, type SourceState } from '@dubbo-mesh/control-plane';

const service = (port: number) => `apiVersion: dubbo-mesh.io/v1alpha1\nkind: DubboService\nmetadata: {name: s}\nspec:\n  interfaces: [org.example.S]\n  endpoints: [{address: 127.0.0.1:${port}}]\n`;

function portOf(state: SourceState | undefined): number | undefined {
  if (state?.kind !== 'resources') return undefined;
  const resource = state.resources[0]?.resource;
  return resource?.kind === 'DubboService' ? resource.endpoints[0]!.port : undefined;
}

t.test('a ConfigMap-style update (the ..data symlink swapped) is seen through a file path', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-fs-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  // As the kubelet lays a ConfigMap out: ..2026_v1/mesh.yaml, ..data -> ..2026_v1, mesh.yaml -> ..data/mesh.yaml
  await mkdir(path.join(dir, '..v1'));
  await writeFile(path.join(dir, '..v1', 'mesh.yaml'), service(20001));
  await symlink('..v1', path.join(dir, '..data'));
  await symlink('..data/mesh.yaml', path.join(dir, 'mesh.yaml'));
  let latest: SourceState | undefined;
  const source = new FileSource([path.join(dir, 'mesh.yaml')]);
  t.teardown(() => source.stop());
  await source.start((state) => (latest = state));
  t.equal(portOf(latest), 20001);

  await mkdir(path.join(dir, '..v2'));
  await writeFile(path.join(dir, '..v2', 'mesh.yaml'), service(20002));
  await symlink('..v2', path.join(dir, '..data_tmp'));
  await rename(path.join(dir, '..data_tmp'), path.join(dir, '..data'));
  const deadline = Date.now() + 3000;
  while (portOf(latest) !== 20002 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  t.equal(portOf(latest), 20002, 'the new content is read');
});

t.test('an invalid change is emitted as invalid with file and line; a fix is read again', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-fs-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'mesh.yaml');
  await writeFile(file, service(20001));
  const states: SourceState[] = [];
  const source = new FileSource([dir]);
  t.teardown(() => source.stop());
  await source.start((state) => states.push(state));
  await writeFile(file, service(20001).replace('127.0.0.1:20001', 'nowhere'));
  const until = async (predicate: () => boolean) => {
    const deadline = Date.now() + 3000;
    while (!predicate() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  };
  await until(() => states.at(-1)?.kind === 'invalid');
  const invalid = states.at(-1);
  t.equal(invalid?.kind, 'invalid');
  if (invalid?.kind === 'invalid') t.match(invalid.errors[0]!, `${file}:6:`);
  await writeFile(file, service(20003));
  await until(() => portOf(states.at(-1)) === 20003);
  t.equal(portOf(states.at(-1)), 20003);
});
