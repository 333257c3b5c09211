// A Dockerfile interpreter for the instructions the repository's Dockerfile uses, with no
// Docker daemon: each stage's file system is a folder, the instructions run as Docker would
// run them with every absolute path re-rooted into that folder, and the RUN commands run in
// the host's shell (the host's Node and npm stand in for the base image's). What it does not
// implement it refuses, so the Dockerfile cannot use something the test does not run.
import { spawn } from 'node:child_process';
import { cp, lstat, mkdir, readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { hasExceptions, isIgnored, parseDockerIgnore } from './docker-ignore.js';
import { untraced } from './untraced.js';

/** An instruction the interpreter does not implement (or a form of one it does not). */
export class UnsupportedInstructionError extends Error {
  constructor(line: number, message: string) {
    super(`Dockerfile:${line}: ${message}`);
    this.name = 'UnsupportedInstructionError';
  }
}

/** One instruction: its keyword (upper case), its argument text, the line it starts on. */
export interface Instruction {
  readonly keyword: string;
  readonly args: string;
  readonly line: number;
}

/**
 * The instructions of a Dockerfile: comment lines (parser directives included) and blank lines
 * left out, lines ending in `\` joined with the next (comment lines inside a continuation are
 * dropped, as Docker does).
 */
export function parseDockerfile(text: string): Instruction[] {
  const lines = text.split(/\r?\n/);
  const instructions: Instruction[] = [];
  for (let i = 0; i < lines.length; i++) {
    const first = lines[i]!.trim();
    if (first === '' || first.startsWith('#')) continue;
    const start = i + 1;
    let joined = first;
    while (joined.endsWith('\\')) {
      joined = joined.slice(0, -1);
      i++;
      if (i >= lines.length) break;
      const next = lines[i]!.trim();
      if (next.startsWith('#')) {
        joined += '\\';
        continue;
      }
      joined += ` ${next}`;
    }
    const match = /^(\S+)\s*(.*)$/s.exec(joined)!;
    instructions.push({ keyword: match[1]!.toUpperCase(), args: match[2]!.trim(), line: start });
  }
  return instructions;
}

/** A built stage: its file system's folder and what its instructions set. */
export interface Stage {
  readonly index: number;
  readonly name: string | undefined;
  /** The base image (`node:20-bookworm-slim`): not modelled, the host stands in for it. */
  readonly base: string;
  /** The folder that is this stage's `/`. */
  readonly root: string;
  /** The working directory, as an absolute path inside the image. */
  workdir: string;
  readonly env: Record<string, string>;
  /** `USER`, as `uid` and `gid` (numeric only). */
  user: { uid: number; gid: number } | undefined;
  /** `ENTRYPOINT` in exec form. */
  entrypoint: string[] | undefined;
}

/** A path inside a stage's image as a path on the host. */
export function hostPath(stage: Pick<Stage, 'root' | 'workdir'>, imagePath: string): string {
  const absolute = path.posix.resolve(stage.workdir, imagePath);
  return path.join(stage.root, ...absolute.split('/').filter((part) => part !== ''));
}

/** Options of {@link buildDockerfileTree}. */
export interface BuildOptions {
  /** The Dockerfile's text. */
  readonly dockerfile: string;
  /** The build context folder (its .dockerignore applies). */
  readonly context: string;
  /** An empty folder to build the stages in (one sub-folder each). */
  readonly into: string;
  /** The environment RUN commands get besides the stage's ENV (PATH, HOME, npm's cache settings). */
  readonly runEnv: Readonly<Record<string, string>>;
  /** Called with each instruction before it runs, and with the output of RUN commands. */
  readonly log?: (line: string) => void;
}

/** Split exec-form JSON (`["a", "b"]`) or return undefined when the text is not JSON. */
function execForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  const parsed = JSON.parse(args) as unknown;
  if (!Array.isArray(parsed) || !parsed.every((item) => typeof item === 'string')) return undefined;
  return parsed;
}

/** Run a shell command; rejects with the end of its output when it exits non-zero. */
function runShell(command: string, cwd: string, env: Record<string, string>, log: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(...untraced('/bin/sh', ['-c', command]), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-20_000);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      for (const line of output.split('\n').filter((l) => l.trim() !== '')) log(`  | ${line}`);
      if (code === 0) resolve();
      else reject(new Error(`RUN ${command}: exit ${code ?? signal}\n${output.slice(-4000)}`));
    });
  });
}

/** Every file, folder and link of the context that .dockerignore leaves in, as relative paths (folders before what they hold). */
async function contextEntries(context: string): Promise<string[]> {
  let ignoreText = '';
  try {
    ignoreText = await readFile(path.join(context, '.dockerignore'), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const rules = parseDockerIgnore(ignoreText);
  const walkIgnored = hasExceptions(rules);
  const kept: string[] = [];
  const walk = async (relative: string) => {
    for (const entry of (await readdir(path.join(context, relative), { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const child = relative === '' ? entry.name : `${relative}/${entry.name}`;
      const ignored = isIgnored(rules, child);
      if (!ignored) kept.push(child);
      if (entry.isDirectory() && (!ignored || walkIgnored)) await walk(child);
    }
  };
  await walk('');
  return kept;
}

/** Copy the context's `source` (relative to the context root) to `target` on the host, without what .dockerignore leaves out. */
async function copyFromContext(context: string, kept: readonly string[], source: string, target: string, intoFolder: boolean): Promise<void> {
  const relative = path.posix.normalize(source.replace(/^\/+/, '')).replace(/^\.$/, '');
  if (relative.startsWith('..')) throw new Error(`COPY ${source}: outside the build context`);
  const stat = await lstat(path.join(context, relative)).catch(() => undefined);
  if (stat === undefined || (relative !== '' && !kept.includes(relative)))
    throw new Error(`COPY ${source}: not in the build context (or left out by .dockerignore)`);
  if (!stat.isDirectory()) {
    const file = intoFolder ? path.join(target, path.posix.basename(relative)) : target;
    await mkdir(path.dirname(file), { recursive: true });
    await cp(path.join(context, relative), file, { verbatimSymlinks: true });
    return;
  }
  // A folder's contents go into the target folder.
  await mkdir(target, { recursive: true });
  const prefix = relative === '' ? '' : `${relative}/`;
  for (const entry of kept.filter((p) => p.startsWith(prefix) && p !== relative)) {
    const from = path.join(context, entry);
    const to = path.join(target, entry.slice(prefix.length));
    const entryStat = await lstat(from);
    if (entryStat.isDirectory()) await mkdir(to, { recursive: true });
    else {
      // A re-included file (`!…`) may be in a folder that is itself left out.
      await mkdir(path.dirname(to), { recursive: true });
      await cp(from, to, { verbatimSymlinks: true });
    }
  }
}

/** Copy `source` (a path in another stage's image) to `target` on the host; a folder's contents go into the target folder. */
async function copyFromStage(from: Stage, source: string, target: string, intoFolder: boolean): Promise<void> {
  const sourcePath = hostPath({ root: from.root, workdir: '/' }, source);
  const stat = await lstat(sourcePath).catch(() => undefined);
  if (stat === undefined) throw new Error(`COPY --from=${from.name ?? from.index} ${source}: no such file in that stage`);
  if (!stat.isDirectory()) {
    const destination = intoFolder ? path.join(target, path.basename(sourcePath)) : target;
    await mkdir(path.dirname(destination), { recursive: true });
    await cp(sourcePath, destination, { verbatimSymlinks: true });
    return;
  }
  await mkdir(target, { recursive: true });
  // cp(1) rather than fs.cp: a node_modules is tens of thousands of files, and fs.cp copies them
  // one by one in JavaScript. -R -P -p: recursive, links kept as links, modes kept (as COPY does).
  await new Promise<void>((resolve, reject) => {
    const child = spawn('cp', ['-R', '-P', '-p', `${sourcePath}/.`, `${target}/`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`COPY --from=${from.name ?? from.index} ${source}: cp exited ${code}: ${stderr}`))));
  });
}

/** The words of a shell-form argument list (no quoting: the forms used here have none). */
const words = (args: string) => args.split(/\s+/).filter((word) => word !== '');

/**
 * Build every stage of a Dockerfile into `options.into`, instruction by instruction; resolves to
 * the stages, the last one being the image. Throws {@link UnsupportedInstructionError} for an
 * instruction (or form) it does not implement, and an Error naming the instruction when one
 * fails (a RUN that exits non-zero, a COPY of something missing).
 */
export async function buildDockerfileTree(options: BuildOptions): Promise<Stage[]> {
  const log = options.log ?? (() => {});
  const instructions = parseDockerfile(options.dockerfile);
  const stages: Stage[] = [];
  let kept: string[] | undefined;
  for (const instruction of instructions) {
    const { keyword, args, line } = instruction;
    const unsupported = (message: string) => new UnsupportedInstructionError(line, message);
    log(`Dockerfile:${line}: ${keyword} ${args}`);
    if (keyword === 'FROM') {
      const match = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (match === null || match[1]!.startsWith('--')) throw unsupported(`FROM ${args}: only FROM IMAGE [AS NAME] is implemented`);
      if (stages.some((s) => s.name === match[1])) throw unsupported(`FROM ${match[1]}: a stage as a base image is not implemented`);
      const root = path.join(options.into, `stage-${stages.length}${match[2] === undefined ? '' : `-${match[2]}`}`);
      await mkdir(root, { recursive: true });
      stages.push({ index: stages.length, name: match[2], base: match[1]!, root, workdir: '/', env: {}, user: undefined, entrypoint: undefined });
      continue;
    }
    const stage = stages.at(-1);
    if (stage === undefined) throw unsupported(`${keyword} before any FROM`);
    switch (keyword) {
      case 'WORKDIR': {
        if (/\$|\s/.test(args) || args === '') throw unsupported(`WORKDIR ${args}: one plain path only`);
        stage.workdir = path.posix.resolve(stage.workdir, args);
        await mkdir(hostPath(stage, stage.workdir), { recursive: true });
        break;
      }
      case 'ENV': {
        for (const pair of words(args)) {
          const match = /^([A-Za-z_][A-Za-z0-9_]*)=([^"'$\\]*)$/.exec(pair);
          if (match === null) throw unsupported(`ENV ${args}: only KEY=VALUE pairs without quotes or variables are implemented`);
          stage.env[match[1]!] = match[2]!;
        }
        break;
      }
      case 'COPY': {
        const parts = execForm(args) ?? words(args);
        const flags = parts.filter((p) => p.startsWith('--'));
        const paths = parts.filter((p) => !p.startsWith('--'));
        const fromFlag = flags.find((f) => f.startsWith('--from='));
        const unknown = flags.filter((f) => f !== fromFlag);
        if (unknown.length > 0) throw unsupported(`COPY ${unknown.join(' ')}: only --from is implemented`);
        if (paths.length < 2) throw unsupported(`COPY ${args}: needs a source and a destination`);
        if (paths.some((p) => /[*?[\]$]/.test(p))) throw unsupported(`COPY ${args}: wildcards and variables are not implemented`);
        const destination = paths.at(-1)!;
        const sources = paths.slice(0, -1);
        const target = hostPath(stage, destination);
        const intoFolder = destination.endsWith('/') || destination === '.' || sources.length > 1;
        for (const source of sources) {
          if (fromFlag === undefined) {
            kept ??= await contextEntries(options.context);
            await copyFromContext(options.context, kept, source, target, intoFolder);
          } else {
            const name = fromFlag.slice('--from='.length);
            const from = stages.find((s) => s !== stage && (s.name === name || String(s.index) === name));
            if (from === undefined) throw unsupported(`COPY --from=${name}: only an earlier stage of this Dockerfile is implemented`);
            await copyFromStage(from, source, target, intoFolder);
          }
        }
        break;
      }
      case 'RUN': {
        if (args.startsWith('[')) throw unsupported('RUN in exec form is not implemented');
        if (args.startsWith('--')) throw unsupported(`RUN ${args.split(/\s/)[0]}: RUN flags are not implemented`);
        // An absolute path cannot be re-rooted inside a shell command: it would reach the host.
        if (/(^|[\s=:;|&<>'"(])\//.test(args)) throw unsupported(`RUN ${args}: an absolute path would leave the stage's folder; use paths relative to WORKDIR`);
        await runShell(args, hostPath(stage, stage.workdir), { ...options.runEnv, ...stage.env }, log);
        break;
      }
      case 'USER': {
        const match = /^(\d+)(?::(\d+))?$/.exec(args);
        if (match === null) throw unsupported(`USER ${args}: only a numeric uid[:gid] is implemented (and Kubernetes' runAsNonRoot needs one)`);
        stage.user = { uid: Number(match[1]), gid: Number(match[2] ?? match[1]) };
        break;
      }
      case 'ENTRYPOINT': {
        const command = execForm(args);
        if (command === undefined || command.length === 0) throw unsupported('ENTRYPOINT: only the exec form ["executable", "arg", …] is implemented');
        stage.entrypoint = command;
        break;
      }
      default:
        throw unsupported(`${keyword} is not implemented by this interpreter`);
    }
  }
  if (stages.length === 0) throw new UnsupportedInstructionError(1, 'no FROM');
  return stages;
}
