// startControlPlaneApp, what `dubbo-mesh control-plane` runs: ready with the first snapshot,
// and each start-up failure a typed error naming its input, with nothing left listening.
import t, { type Test } from 'tap';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  ConfigUnreadableError,
  ControlPlaneAppErrorCode,
  ControlPlaneListenError,
  StartConfigInvalidError,
  startControlPlaneApp,
} from '@dubbo-mesh/control-plane';
import { busyPort, canBind, freePort, recordingLogger } from '@dubbo-mesh/test-support';

const SERVICE = `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: s}
spec:
  interfaces: [org.example.S]
  endpoints: [{address: 127.0.0.1:20880}]
`;
const ANY = { host: '127.0.0.1', port: 0 };

async function folder(t: Test, files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-cp-app-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return dir;
}

t.test('it starts on valid files, says it is ready with the version, serves the admin API, and stops', async (t) => {
  const dir = await folder(t, { 'mesh.yaml': SERVICE });
  const logger = recordingLogger();
  const app = await startControlPlaneApp({ configPaths: [dir], grpc: ANY, admin: ANY, logger });
  const version = app.controlPlane.snapshot!.version;
  t.ok(app.grpcPort > 0 && app.adminPort > 0, 'bound ports');
  t.same(logger.lines.find((l) => l.message === 'control plane ready')?.fields, {
    grpc: `127.0.0.1:${app.grpcPort}`,
    admin: `127.0.0.1:${app.adminPort}`,
    version,
  });
  t.ok(
    logger.lines.some((l) => l.message === 'published a snapshot' && l.fields.version === version),
    "the control plane's own lines go to the same logger",
  );
  t.same(await (await fetch(`http://127.0.0.1:${app.adminPort}/healthz`)).json(), { status: 'ok' });
  const stopping = app.stop('SIGTERM');
  t.equal(app.stop(), stopping, 'a second stop is the same stop');
  await stopping;
  t.same(logger.lines.at(-1), { level: 'info', message: 'stopping', fields: { signal: 'SIGTERM' } });
  t.ok((await canBind(app.adminPort)) && (await canBind(app.grpcPort)), 'both ports are free again');
});

t.test('an unreadable path, an invalid file, a port in use: typed errors, nothing left listening', async (t) => {
  const dir = await folder(t, {
    'good.yaml': SERVICE,
    'bad.yaml': 'apiVersion: dubbo-mesh.io/v1alpha1\nkind: DubboPolicy\nmetadata: {name: p}\nspec: {service: ghost}\n',
  });
  const logger = recordingLogger();
  const good = path.join(dir, 'good.yaml');
  const missing = path.join(dir, 'missing.yaml');

  const unreadable = await startControlPlaneApp({ configPaths: [good, missing], grpc: ANY, admin: ANY, logger }).catch((error: unknown) => error);
  t.ok(unreadable instanceof ConfigUnreadableError);
  t.match(unreadable, { code: ControlPlaneAppErrorCode.CONFIG_UNREADABLE, path: missing, cause: { code: 'ENOENT' } });

  // One valid and one invalid file: refused at start rather than serving half the config.
  const grpcPort = await freePort();
  const invalid = await startControlPlaneApp({
    configPaths: [good, path.join(dir, 'bad.yaml')],
    grpc: { host: '127.0.0.1', port: grpcPort },
    admin: ANY,
    logger,
  }).catch((error: unknown) => error);
  t.ok(invalid instanceof StartConfigInvalidError);
  t.equal((invalid as StartConfigInvalidError).code, ControlPlaneAppErrorCode.CONFIG_INVALID);
  t.match((invalid as StartConfigInvalidError).errors.join('\n'), `${path.join(dir, 'bad.yaml')}:4:`);
  t.match((invalid as StartConfigInvalidError).errors.join('\n'), 'spec.service: no DubboService "ghost"');
  t.ok(await canBind(grpcPort), 'the gRPC port is released');

  const busy = await busyPort(t);
  const grpcInUse = await startControlPlaneApp({ configPaths: [good], grpc: { host: '127.0.0.1', port: busy }, admin: ANY, logger }).catch(
    (error: unknown) => error,
  );
  t.ok(grpcInUse instanceof ControlPlaneListenError);
  t.match(grpcInUse, { code: ControlPlaneAppErrorCode.LISTEN, listener: 'grpc', address: { host: '127.0.0.1', port: busy } });
  t.equal(((grpcInUse as Error).cause as { code?: string }).code, 'EADDRINUSE', 'the cause keeps the errno code');

  const grpcBefore = await freePort();
  const adminInUse = await startControlPlaneApp({
    configPaths: [good],
    grpc: { host: '127.0.0.1', port: grpcBefore },
    admin: { host: '127.0.0.1', port: busy },
    logger,
  }).catch((error: unknown) => error);
  t.match(adminInUse, { listener: 'admin', address: { port: busy }, cause: { code: 'EADDRINUSE' } });
  t.ok(await canBind(grpcBefore), 'the gRPC server opened before the admin API failed is closed again');
});
