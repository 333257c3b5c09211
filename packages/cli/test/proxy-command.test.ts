// `dubbo-mesh proxy --static` as a user runs it: the real executable, a real provider, the
// real apache-dubbo-js consumer, and the admin API over HTTP.
import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import dubboJs from 'apache-dubbo-js';
import { USER_SERVICE, closeDirectlyDubbo, makeUser, startTestProvider, userValue } from '@dubbo-mesh/test-support';

const bin = fileURLToPath(new URL('../bin/dubbo-mesh.js', import.meta.url));
const { DirectlyDubbo, java } = dubboJs as unknown as {
  DirectlyDubbo: { from(options: object): { proxyService(options: object): Record<string, (...args: unknown[]) => Promise<{ res: unknown; err: Error | null }>> } };
  java: { long(value: number): unknown };
};

function meshYaml(providerPort: number, timeout = '2s'): string {
  return `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: user-provider}
spec:
  interfaces: [${USER_SERVICE}]
  endpoints:
    - {address: 127.0.0.1:${providerPort}, labels: {version: v1}}
---
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboRoute
metadata: {name: user-route}
spec:
  hosts: [${USER_SERVICE}]
  routes:
    - destinations: [{service: user-provider}]
      timeout: ${timeout}
`;
}

t.test('bad flags and bad files exit non-zero naming the flag or the file, line and field', async (t) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-cli-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'mesh.yaml');
  await writeFile(file, meshYaml(20880).replace('timeout: 2s', 'timeout: soon'));
  const bad = spawnSync(process.execPath, [bin, 'proxy', '--node', 'n1', '--static', file], { encoding: 'utf8' });
  t.equal(bad.status, 1);
  t.match(bad.stderr, `${file}:16:16: DubboRoute default/user-route: spec.routes[0].timeout: must be a duration like "500ms" or "2s", got string "soon"`);
  const flag = spawnSync(process.execPath, [bin, 'proxy', '--node', 'n1', '--static', file, '--outbound', 'localhost'], { encoding: 'utf8' });
  t.equal(flag.status, 2);
  t.match(flag.stderr, 'dubbo-mesh proxy: --outbound: "localhost" is not host:port');
  const missing = spawnSync(process.execPath, [bin, 'gateway', '--static', file], { encoding: 'utf8', env: { ...process.env, DUBBO_MESH_NODE: '' } });
  t.equal(missing.status, 2);
  t.match(missing.stderr, 'dubbo-mesh gateway: --node is required');
  const envTwin = spawnSync(process.execPath, [bin, 'gateway', '--static', file], { encoding: 'utf8', env: { ...process.env, DUBBO_MESH_NODE: 'gw', DUBBO_MESH_LISTEN: 'nope' } });
  t.match(envTwin.stderr, 'dubbo-mesh gateway: --listen: "nope" is not host:port', 'flags come from their DUBBO_MESH_* twins');
  const unknown = spawnSync(process.execPath, [bin, 'proxy', '--nod', 'x'], { encoding: 'utf8' });
  t.equal(unknown.status, 2);
  t.match(unknown.stderr, "dubbo-mesh proxy: Unknown option '--nod'");
});

t.test('proxy --static serves calls, reloads the file, refuses a bad change, drains on SIGTERM', async (t) => {
  const provider = await startTestProvider({ services: { [USER_SERVICE]: { getUser: ([id]) => userValue(makeUser(id as number)) } } });
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-cli-'));
  const file = path.join(dir, 'mesh.yaml');
  await writeFile(file, meshYaml(provider.port));
  const child: ChildProcess = spawn(process.execPath, [bin, 'proxy', '--node', 'n1', '--static', file, '--outbound', '127.0.0.1:0', '--admin', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Array<Record<string, unknown>> = [];
  let buffered = '';
  const waitFor = (predicate: (line: Record<string, unknown>) => boolean) => new Promise<Record<string, unknown>>((resolve, reject) => {
    const found = lines.find(predicate);
    if (found) return resolve(found);
    const timer = setTimeout(() => reject(new Error(`log line not seen; got ${JSON.stringify(lines)}`)), 5000);
    const check = () => {
      const line = lines.find(predicate);
      if (line) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolve(line);
      }
    };
    child.stdout!.on('data', check);
  });
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    for (const part of parts) if (part.trim() !== '') lines.push(JSON.parse(part) as Record<string, unknown>);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(async () => {
    child.kill('SIGKILL');
    await provider.close();
    await rm(dir, { recursive: true, force: true });
  });

  const ready = await waitFor((l) => l.msg === 'proxy ready');
  const outboundPort = (ready.listeners as { outbound: { port: number } }).outbound.port;
  const admin = `http://${ready.admin as string}`;
  const dubbo = DirectlyDubbo.from({ dubboAddress: `127.0.0.1:${outboundPort}`, dubboVersion: '2.0.2', dubboInvokeTimeout: 5 });
  t.teardown(() => closeDirectlyDubbo(dubbo));
  const users = dubbo.proxyService({ dubboInterface: USER_SERVICE, version: '1.0.0', methods: { getUser: (id: number) => [java.long(id)] } });
  const result = await users.getUser!(9);
  t.equal((result.res as { id: number }).id, 9, 'a call through the proxy');

  t.same(await (await fetch(`${admin}/ready`)).json(), { ready: true, version: ready.version });
  const stats = await (await fetch(`${admin}/stats`)).json() as { counters: Record<string, number> };
  t.equal(stats.counters.response_success, 1);
  const clusters = await (await fetch(`${admin}/clusters`)).json() as { endpoints: Array<{ address: string; available: boolean }> };
  t.same(clusters.endpoints.map((e) => [e.address, e.available]), [[`127.0.0.1:${provider.port}`, true]]);
  const metrics = await (await fetch(`${admin}/metrics`)).text();
  t.match(metrics, /dubbo_mesh_response_success_total\{node="n1"\} 1/);
  t.match(metrics, /dubbo_mesh_request_time_ms_count\{node="n1"\} 1/);
  t.match(metrics, /^process_resident_memory_bytes \d/m, "the process metrics under their standard names");

  await writeFile(file, meshYaml(provider.port).replace('timeout: 2s', 'timeout: never'));
  const refused = await waitFor((l) => typeof l.msg === 'string' && l.msg.startsWith('refused the changed config'));
  t.match((refused.errors as string[])[0], /spec\.routes\[0\]\.timeout: must be a duration/);
  t.equal((await (await fetch(`${admin}/config_dump`)).json() as { version: string }).version, ready.version, 'the previous config stays in force');
  t.equal(((await users.getUser!(10)).res as { id: number }).id, 10, 'and serves');

  await writeFile(file, meshYaml(provider.port, '3s'));
  const applied = await waitFor((l) => l.msg === 'applied the changed config');
  const dump = await (await fetch(`${admin}/config_dump`)).json() as { version: string; config: { routes: Array<{ routes: Array<{ timeoutMs: number }> }> } };
  t.equal(dump.version, applied.version);
  t.equal(dump.config.routes[0]!.routes[0]!.timeoutMs, 3000, 'the new config is in force');

  child.kill('SIGTERM');
  t.equal(await exited, 0, 'SIGTERM drains and exits 0');
  t.ok(lines.some((l) => l.msg === 'stopped' && l.drained === true));
});
