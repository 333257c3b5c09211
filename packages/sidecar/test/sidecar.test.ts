// startSidecar in-process: a static file served, reloaded, a bad change refused; the control
// plane's snapshots; a drain on stop; and every start-up failure as a typed error that says
// which input it is about, with nothing left listening. Real sockets, a real provider and the
// third-party apache-dubbo-js consumer.
import t, { type Test } from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import dubboJs from 'apache-dubbo-js';
import { ControlPlane, startControlPlaneApp, type ConfigSource, type SourceState } from '@dubbo-mesh/control-plane';
import { parseMeshYaml } from '@dubbo-mesh/config';
import {
  AdminListenError,
  ListenError,
  SidecarErrorCode,
  StaticConfigInvalidError,
  StaticConfigUnreadableError,
  instanceIp,
  startSidecar,
} from '@dubbo-mesh/sidecar';
import {
  USER_SERVICE,
  busyPort,
  canBind,
  closeDirectlyDubbo,
  freePort,
  makeUser,
  recordingLogger,
  startTestProvider,
  userServiceMeshYaml as meshYaml,
  userValue,
} from '@dubbo-mesh/test-support';

const { DirectlyDubbo, java } = dubboJs as unknown as {
  DirectlyDubbo: {
    from(options: object): { proxyService(options: object): Record<string, (...args: unknown[]) => Promise<{ res: unknown; err: Error | null }>> };
  };
  java: { long(value: number): unknown };
};
const ANY = { host: '127.0.0.1', port: 0 };

/** A temporary folder for the test, removed after it. */
async function tempDir(t: Test): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-sidecar-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

type Users = Record<string, (...args: unknown[]) => Promise<{ res: unknown; err: Error | null }>>;
function usersAt(t: Test, port: number): Users {
  const dubbo = DirectlyDubbo.from({ dubboAddress: `127.0.0.1:${port}`, dubboVersion: '2.0.2', dubboInvokeTimeout: 5 });
  t.teardown(() => closeDirectlyDubbo(dubbo));
  return dubbo.proxyService({ dubboInterface: USER_SERVICE, version: '1.0.0', methods: { getUser: (id: number) => [java.long(id)] } });
}

t.test('static: serves, reloads a valid change, refuses an invalid one, drains on stop', async (t) => {
  const provider = await startTestProvider({ services: { [USER_SERVICE]: { getUser: ([id]) => userValue(makeUser(id as number)) } } });
  t.teardown(() => provider.close());
  const file = path.join(await tempDir(t), 'mesh.yaml');
  await writeFile(file, meshYaml(provider.port));
  const logger = recordingLogger();
  const sidecar = await startSidecar({
    role: 'proxy',
    node: { id: 'n1' },
    config: { kind: 'static', path: file },
    outbound: ANY,
    admin: ANY,
    accessLog: true,
    logger,
  });
  t.teardown(() => sidecar.destroy());
  const ready = await logger.waitFor((l) => l.message === 'proxy ready');
  t.equal(ready.fields.version, sidecar.version, "ready with the file's version");
  t.same(Object.keys(sidecar.addresses), ['outbound']);
  t.ok(sidecar.adminPort > 0, "the admin API's bound port");

  const users = usersAt(t, sidecar.addresses.outbound!.port);
  t.equal(((await users.getUser!(4)).res as { id: number }).id, 4, 'a call through the sidecar');
  const call = await logger.waitFor((l) => l.message === 'call');
  t.match(call.fields.access, { serviceKey: `${USER_SERVICE}:1.0.0`, status: 20 }, 'the access log');

  const first = sidecar.version;
  await writeFile(file, meshYaml(provider.port).replace('timeout: 2s', 'timeout: never'));
  const refused = await logger.waitFor((l) => l.message === `refused the changed config in ${file}; the last valid config stays in force`);
  t.equal(refused.level, 'error');
  t.match((refused.fields.errors as string[])[0], /spec\.routes\[0\]\.timeout: must be a duration/);
  t.equal(sidecar.version, first, 'the last valid config stays');
  await writeFile(file, meshYaml(provider.port, '3s'));
  const applied = await logger.waitFor((l) => l.message === `applied the changed config in ${file}`);
  t.equal(sidecar.version, applied.fields.version, 'a valid change is in force');
  t.not(sidecar.version, first);
  const dump = (await (await fetch(`http://127.0.0.1:${sidecar.adminPort}/config_dump`)).json()) as {
    config: { routes: Array<{ routes: Array<{ timeoutMs: number }> }> };
  };
  t.equal(dump.config.routes[0]!.routes[0]!.timeoutMs, 3000, 'the admin API shows it');

  const stopping = sidecar.stop(1000, 'SIGTERM');
  t.equal(sidecar.stop(1000), stopping, 'a second stop is the same stop');
  t.equal(await stopping, true, 'drained in time');
  t.match(logger.lines.find((l) => l.message === 'draining')?.fields, { signal: 'SIGTERM', drainTimeoutMs: 1000 });
  t.match(logger.lines.find((l) => l.message === 'stopped')?.fields, { drained: true });
  t.ok(await canBind(sidecar.adminPort), 'the admin API is closed');
  t.ok(await canBind(sidecar.addresses.outbound!.port), 'and the listener');
});

t.test('control-plane mode: listening at once, ready with the first snapshot, node identity sent', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'mesh.yaml');
  await writeFile(file, meshYaml(20880));
  const controlPlane = await startControlPlaneApp({ configPaths: [file], grpc: ANY, admin: ANY, logger: recordingLogger() });
  t.teardown(() => controlPlane.stop());
  const logger = recordingLogger();
  const sidecar = await startSidecar({
    role: 'gateway',
    node: { id: 'edge', service: 'shop', namespace: 'prod', labels: { zone: 'a' }, ip: '10.1.2.3' },
    config: { kind: 'control-plane', address: { host: '127.0.0.1', port: controlPlane.grpcPort } },
    outbound: ANY,
    admin: ANY,
    logger,
  });
  t.teardown(() => sidecar.destroy());
  t.ok(
    logger.lines.some((l) => l.message === 'gateway listening; waiting for its first snapshot from the control plane'),
    'listening, not yet ready',
  );
  const ready = await logger.waitFor((l) => l.message === 'gateway ready');
  t.equal(ready.fields.version, controlPlane.controlPlane.snapshot!.version);
  t.equal(sidecar.version, ready.fields.version);
  t.same(Object.keys(sidecar.addresses), ['gateway']);
  const status = controlPlane.controlPlane.proxies().find((p) => p.node.id === 'edge');
  t.match(status?.node, { id: 'edge', service: 'shop', namespace: 'prod', labels: { zone: 'a' } }, "the node's identity reached the control plane");
  t.same(
    sidecar.proxy.node,
    { id: 'edge', service: 'shop', namespace: 'prod', labels: { zone: 'a' }, ip: '10.1.2.3' },
    "and is the proxy's own identity in a call's context",
  );
  t.equal(await sidecar.stop(1000), true);
});

t.test('control-plane mode: a snapshot with fields this proxy does not know is applied, counted and logged, not NACKed', async (t) => {
  // A newer control plane during a rollout: its resources carry a field this version lacks.
  const parsed = parseMeshYaml(meshYaml(20880), 'mesh.yaml');
  if (parsed.errors.length > 0) throw new Error(parsed.errors.join('\n'));
  const newer = parsed.resources.map((item) => ({
    ...item,
    raw: { ...(item.raw as object), spec: { ...(item.raw as { spec: object }).spec, futureField: true } },
  }));
  const source: ConfigSource = {
    name: 'newer',
    start: async (emit: (state: SourceState) => void) => emit({ kind: 'resources', resources: newer }),
    stop: async () => {},
  };
  const controlPlane = new ControlPlane({ sources: [source] });
  const grpcPort = await controlPlane.start('127.0.0.1', 0);
  t.teardown(() => controlPlane.stop());
  const logger = recordingLogger();
  const sidecar = await startSidecar({
    role: 'proxy',
    node: { id: 'older' },
    config: { kind: 'control-plane', address: { host: '127.0.0.1', port: grpcPort } },
    outbound: ANY,
    admin: ANY,
    logger,
  });
  t.teardown(() => sidecar.destroy());
  const warned = await logger.waitFor((l) => l.message.includes('does not know'));
  await logger.waitFor((l) => l.message === 'proxy ready');
  t.equal(warned.fields.version, controlPlane.snapshot!.version);
  t.match((warned.fields.warnings as string[]).join('\n'), /spec\.futureField: unknown field, ignored/);
  t.equal(sidecar.proxy.stats.counters.config_unknown_field, newer.length, 'one per resource and field');
  t.equal(sidecar.version, controlPlane.snapshot!.version, 'the snapshot is in force');
  t.notOk(controlPlane.proxies()[0]?.lastNack, 'and was not NACKed');
});

t.test('start-up failures are typed, say which input, and leave nothing listening', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'mesh.yaml');
  await writeFile(file, meshYaml(20880));
  const logger = recordingLogger();
  const base = { role: 'proxy' as const, node: { id: 'n1' }, admin: ANY, logger };

  const missing = path.join(dir, 'missing.yaml');
  const unreadable = await startSidecar({ ...base, config: { kind: 'static', path: missing }, outbound: ANY }).catch((error: unknown) => error);
  t.ok(unreadable instanceof StaticConfigUnreadableError, 'an unreadable file');
  t.match(unreadable, { code: SidecarErrorCode.STATIC_UNREADABLE, path: missing, cause: { code: 'ENOENT' } });

  const bad = path.join(dir, 'bad.yaml');
  await writeFile(bad, meshYaml(20880).replace('timeout: 2s', 'timeout: soon'));
  const invalid = await startSidecar({ ...base, config: { kind: 'static', path: bad }, outbound: ANY }).catch((error: unknown) => error);
  t.ok(invalid instanceof StaticConfigInvalidError, 'an invalid file');
  t.match(invalid, { code: SidecarErrorCode.STATIC_INVALID, path: bad });
  t.match(
    (invalid as StaticConfigInvalidError).errors.join('\n'),
    `${bad}:16:16: DubboRoute default/user-route: spec.routes[0].timeout`,
    'every error names file, line and field',
  );

  const busy = await busyPort(t);
  const inUse = await startSidecar({
    ...base,
    config: { kind: 'static', path: file },
    outbound: ANY,
    inbound: { host: '127.0.0.1', port: busy },
    inboundTarget: { host: '127.0.0.1', port: 20880 },
  }).catch((error: unknown) => error);
  t.ok(inUse instanceof ListenError, "a listener in use is the proxy's ListenError");
  t.match(inUse, { listener: 'inbound', code: 'EADDRINUSE' }, 'naming which listener');

  // The outbound listener binds before the admin API fails: it is closed again.
  const outbound = await freePort();
  const adminInUse = await startSidecar({
    ...base,
    config: { kind: 'static', path: file },
    outbound: { host: '127.0.0.1', port: outbound },
    admin: { host: '127.0.0.1', port: busy },
  }).catch((error: unknown) => error);
  t.ok(adminInUse instanceof AdminListenError, 'the admin API in use');
  t.match(adminInUse, { code: SidecarErrorCode.ADMIN_LISTEN, host: '127.0.0.1', port: busy, cause: { code: 'EADDRINUSE' } });
  t.ok(await canBind(outbound), 'the outbound listener opened before it is closed again');
});

t.test("the instance's IP: POD_IP first, else a non-internal IPv4 of this host", async (t) => {
  t.equal(instanceIp({ POD_IP: ' 10.9.8.7 ' }), '10.9.8.7');
  const guessed = instanceIp({});
  t.ok(guessed === undefined || /^\d+\.\d+\.\d+\.\d+$/.test(guessed), `an IPv4 or none: ${guessed}`);
  t.not(guessed, '127.0.0.1', 'never loopback');
});
