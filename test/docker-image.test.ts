// The image, without a Docker daemon: the repository's Dockerfile is run instruction by
// instruction (test/support/dockerfile-tree.ts: the same npm ci, build and prune, in temp
// folders, with the host's Node and npm standing in for the base image's), then the final
// stage's ENTRYPOINT runs `--help` and a proxy from the tree it built, as the image's user. A
// Dockerfile that does not build, an image missing a file the CLI loads, or one that needs a
// dev dependency at run time fails here.
import t, { type Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, lstat, mkdtemp, readFile, readdir, readlink, realpath, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMMANDS } from '../packages/cli/dist/commands.js';
import { UnsupportedInstructionError, buildDockerfileTree, hostPath, parseDockerfile, type Stage } from './support/dockerfile-tree.js';
import { isIgnored, parseDockerIgnore } from './support/docker-ignore.js';
import { untraced } from './support/untraced.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const IMAGE_BASE = 'node:20-bookworm-slim';

// npm ci and a whole build on a loaded 2-core machine: minutes, not the default 2.
t.setTimeout(15 * 60_000);

/** The environment RUN commands get: the host's tools, npm's cache used first (no registry round trips when it has everything), and nothing of the npm process that may be running this test. */
function runEnvironment(): Record<string, string> {
  const env: Record<string, string> = {
    // Not the repository's node_modules/.bin (`npm test` puts it first): the tree's own tools.
    PATH: (process.env.PATH ?? '')
      .split(path.delimiter)
      .filter((dir) => !dir.includes('node_modules'))
      .join(path.delimiter),
    HOME: process.env.HOME ?? homedir(),
    npm_config_prefer_offline: 'true',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
  };
  // The user's own npm settings (cache, registry), but none that point at this repository (local_prefix …).
  for (const name of ['npm_config_cache', 'npm_config_registry', 'npm_config_userconfig']) if (process.env[name] !== undefined) env[name] = process.env[name]!;
  return env;
}

/** Build a Dockerfile text into a fresh temp folder (removed in teardown). */
async function build(t: Test, dockerfile: string, context: string): Promise<Stage[]> {
  const into = await mkdtemp(path.join(tmpdir(), 'dm-image-'));
  t.teardown(() => rm(into, { recursive: true, force: true }));
  return buildDockerfileTree({ dockerfile, context, into, runEnv: runEnvironment() });
}

t.test('the interpreter refuses what it does not implement, and reads .dockerignore as Docker does', async (t) => {
  const context = await mkdtemp(path.join(tmpdir(), 'dm-image-context-'));
  t.teardown(() => rm(context, { recursive: true, force: true }));
  await writeFile(path.join(context, 'a.txt'), 'a');
  const refused: Array<[string, RegExp]> = [
    ['CMD ["proxy"]', /CMD is not implemented/],
    ['ADD a.txt /a.txt', /ADD is not implemented/],
    ['ARG VERSION', /ARG is not implemented/],
    ['RUN cat /etc/passwd', /absolute path/],
    ['RUN ["true"]', /exec form/],
    ['USER node', /numeric uid/],
    ['ENTRYPOINT node /app/x.js', /exec form/],
    ['COPY --chown=1000 a.txt ./', /only --from/],
    ['COPY *.txt ./', /wildcards/],
    ['COPY --from=nowhere /x ./', /earlier stage/],
    ['ENV A="b c"', /KEY=VALUE/],
  ];
  for (const [instruction, message] of refused)
    await t.rejects(build(t, `FROM ${IMAGE_BASE} AS one\n${instruction}\n`, context), { name: UnsupportedInstructionError.name, message }, instruction);
  await t.rejects(build(t, `FROM ${IMAGE_BASE}\nRUN exit 3\n`, context), /RUN exit 3: exit 3/, 'a failing RUN fails the build');
  const [stage] = await build(
    t,
    `FROM ${IMAGE_BASE} AS one\nWORKDIR /w\nCOPY a.txt ./\nRUN cp a.txt b.txt\nUSER 1000:1000\nENTRYPOINT ["node", "/w/b.txt"]\n`,
    context,
  );
  t.equal(await readFile(hostPath(stage!, '/w/b.txt'), 'utf8'), 'a', 'COPY and RUN act in the stage folder, at WORKDIR');
  t.same(stage!.user, { uid: 1000, gid: 1000 });

  t.same(
    parseDockerfile('# syntax=docker/dockerfile:1\nFROM x AS y\nRUN a \\\n # a comment\n && b\n\nrun c\n').map((i) => [i.keyword, i.args, i.line]),
    [
      ['FROM', 'x AS y', 2],
      ['RUN', 'a  && b', 3],
      ['RUN', 'c', 7],
    ],
  );
  const rules = parseDockerIgnore('# comment\n**/test\n*.log\n/docs\nbuild/**\n!build/keep.txt\n');
  const ignored = (p: string) => isIgnored(rules, p);
  t.ok(ignored('test') && ignored('test/a.ts') && ignored('packages/cli/test/fixtures/x.ts'), '**/ spans any number of folders, none included');
  t.ok(ignored('a.log') && !ignored('logs/a.log'), '* stays in one folder');
  t.ok(ignored('docs/x.md') && !ignored('packages/docs/x.md'), 'patterns are anchored at the context root');
  t.ok(ignored('build/a') && !ignored('build/keep.txt'), '! re-includes, the last match decides');
  t.notOk(ignored('testing/a.ts'), 'a name is matched whole');
});

/** Every symbolic link under `dir` whose target is outside `dir` or missing: in the image, it would point nowhere. */
async function brokenLinks(dir: string): Promise<string[]> {
  const real = await realpath(dir);
  const broken: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isSymbolicLink()) continue;
    const link = path.join(entry.parentPath, entry.name);
    const target = await realpath(link).catch(() => undefined);
    if (target === undefined || !(target === real || target.startsWith(real + path.sep))) broken.push(`${path.relative(dir, link)} -> ${await readlink(link)}`);
  }
  return broken;
}

/** A process started from the image, with its JSON log lines. */
interface ImageProcess {
  readonly child: ChildProcess;
  /** Resolves with the first log line `predicate` accepts; rejects if the process exits first. */
  line(predicate: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

/**
 * Run the image's ENTRYPOINT with `args` as `docker run IMAGE ARGS` would: at its WORKDIR, with
 * its ENV, as its USER when this test may switch users (it runs as root), and with absolute
 * paths of the image re-rooted into the tree. `node` is the host's (the base image's stand-in).
 */
function runImage(image: Stage, args: readonly string[]): ImageProcess {
  const [executable, ...entryArgs] = image.entrypoint!;
  if (executable !== 'node') throw new Error(`the entrypoint runs ${executable}, not node`);
  const reroot = (arg: string) => (arg.startsWith('/') ? hostPath(image, arg) : arg);
  const asImageUser = process.getuid?.() === 0 && image.user !== undefined;
  const child = spawn(...untraced(process.execPath, [...entryArgs, ...args].map(reroot)), {
    cwd: hostPath(image, image.workdir),
    env: { PATH: process.env.PATH ?? '', ...image.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(asImageUser ? { uid: image.user!.uid, gid: image.user!.gid } : {}),
  });
  let stdout = '';
  let stderr = '';
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<{ predicate: (line: Record<string, unknown>) => boolean; resolve: (line: Record<string, unknown>) => void }> = [];
  let pending = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
    pending += chunk.toString('utf8');
    const parts = pending.split('\n');
    pending = parts.pop()!;
    for (const part of parts) {
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(part) as Record<string, unknown>;
      } catch {
        continue;
      }
      lines.push(line);
      for (const waiter of waiters.splice(0))
        if (waiter.predicate(line)) waiter.resolve(line);
        else waiters.push(waiter);
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return {
    child,
    exit,
    line: (predicate) =>
      new Promise((resolve, reject) => {
        const seen = lines.find(predicate);
        if (seen !== undefined) return resolve(seen);
        waiters.push({ predicate, resolve });
        void exit.then(({ code, stderr: err }) => reject(new Error(`exited (${code}) before the log line: ${err}${stdout}`)));
      }),
  };
}

t.test(
  'the Dockerfile builds an image that runs `dubbo-mesh --help`, a control plane, a gateway and a proxy, as uid 1000, with production dependencies only',
  async (t) => {
    const startedAt = Date.now();
    const stages = await build(t, await readFile(path.join(root, 'Dockerfile'), 'utf8'), root);
    const seconds = Math.round((Date.now() - startedAt) / 1000);
    t.comment(`the image's tree was built in ${seconds} s (npm ci, the build and the prune included)`);
    const image = stages.at(-1)!;

    t.same(
      stages.map((s) => s.base),
      [IMAGE_BASE, IMAGE_BASE],
      'two stages on Node 20 slim',
    );
    if (process.versions.node.split('.')[0] !== '20') t.comment(`note: the image runs Node 20; this test ran its tree on Node ${process.versions.node}`);
    t.same(image.user, { uid: 1000, gid: 1000 }, 'a numeric non-root user');
    t.same(image.entrypoint, ['node', '/app/packages/cli/bin/dubbo-mesh.js']);
    t.equal(image.env.NODE_ENV, 'production');

    const modules = hostPath(image, '/app/node_modules');
    const installed = new Set(await readdir(modules));
    for (const dev of ['playwright-core', 'typescript', 'tap', 'eslint', 'tsx', 'kubernetes-models', 'madge'])
      t.notOk(installed.has(dev), `no ${dev} (a test, build or lint dependency)`);
    for (const scope of ['@tapjs', '@typescript-eslint', '@eslint']) t.notOk(installed.has(scope), `no ${scope}/*`);
    t.notOk((await readdir(path.join(modules, '@dubbo-mesh'))).includes('test-support'), 'no test-support workspace');
    t.ok(installed.has('fastify') && installed.has('@grpc'), 'the runtime dependencies are there');
    const packages = await readdir(hostPath(image, '/app/packages'));
    t.ok(packages.includes('cli') && !packages.includes('test-support'), 'the workspaces the CLI runs');
    for (const name of packages) {
      const entries = await readdir(hostPath(image, `/app/packages/${name}`));
      t.notOk(entries.includes('src') || entries.includes('test'), `${name}: no sources or tests`);
    }
    t.same(await brokenLinks(hostPath(image, '/')), [], 'every link (node_modules/.bin, the workspaces) points inside the image');

    if (process.getuid?.() === 0) {
      // The temp folders are private to their owner: let the image's user reach its tree.
      for (let dir = image.root; dir.startsWith(tmpdir()) && dir !== tmpdir(); dir = path.dirname(dir)) await chmod(dir, 0o755);
    } else t.comment('not root: the image runs as this user, not as uid 1000');

    const help = runImage(image, ['--help']);
    const helped = await help.exit;
    t.equal(helped.code, 0, helped.stderr);
    for (const command of COMMANDS) t.match(helped.stdout, new RegExp(`^  ${command.name} `, 'm'), `--help lists ${command.name}`);

    // The image's own demo mesh; port 0 for every listener.
    const mesh = '/app/packages/demo/examples/mesh.yaml';
    t.ok((await lstat(hostPath(image, mesh))).isFile(), 'the demo mesh is in the image');
    const processes: ImageProcess[] = [];
    const run = (args: string[]) => {
      const running = runImage(image, args);
      processes.push(running);
      return running;
    };
    t.teardown(() => {
      for (const { child } of processes) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });

    // The control plane (the discovery API's .proto files, the admin page), and the gateway
    // taking its routes from it over gRPC, as deploy/ runs them.
    const controlPlane = run(['control-plane', '--config', mesh, '--grpc', '127.0.0.1:0', '--admin', '127.0.0.1:0']);
    const cpReady = await controlPlane.line((line) => line.msg === 'control plane ready');
    t.equal((await fetch(`http://${String(cpReady.admin)}/readyz`)).status, 200, 'the control plane is ready');
    const page = await fetch(`http://${String(cpReady.admin)}/`);
    t.equal(page.status, 200, 'and serves its admin page');
    t.match(page.headers.get('content-type'), /text\/html/);
    await page.text();
    const gateway = run(['gateway', '--node', 'image-gateway', '--control-plane', String(cpReady.grpc), '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0']);
    const gatewayReady = await gateway.line((line) => line.msg === 'gateway ready');
    t.equal(gatewayReady.version, cpReady.version, "the gateway runs the control plane's snapshot");

    // A proxy on the mesh file alone.
    const proxy = run(['proxy', '--node', 'image-test', '--static', mesh, '--outbound', '127.0.0.1:0', '--admin', '127.0.0.1:0']);
    const ready = await proxy.line((line) => line.msg === 'proxy ready');
    const answer = await fetch(`http://${String(ready.admin)}/ready`);
    t.equal(answer.status, 200, 'the proxy is ready on its admin API');
    t.match(await answer.json(), { ready: true });

    for (const [name, running] of [
      ['proxy', proxy],
      ['gateway', gateway],
      ['control plane', controlPlane],
    ] as const) {
      running.child.kill('SIGTERM');
      const stopped = await running.exit;
      t.equal(stopped.code, 0, `the ${name} exits 0 on SIGTERM: ${stopped.stderr}`);
    }
    t.comment(`the whole test took ${Math.round((Date.now() - startedAt) / 1000)} s`);
  },
);
