import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile, realpath } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { PluginModuleError } from './errors.js';
import type { PluginFunction } from './plugin-api.js';

const require = createRequire(import.meta.url);

/** Words of an error, on one line. */
function describe(error: unknown): string {
  const text = error instanceof Error ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}` : String(error);
  return text.replace(/\s*\n\s*/g, ' ');
}

/**
 * Where a syntax error is: Node names the line for a CommonJS module, never for an ES module,
 * so the file is checked by `node --check`, which does (only after a load failed, never per call).
 */
function syntaxErrorLocation(file: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--check', file], { timeout: 10_000 }, (_error, _stdout, stderr) => {
      const line = new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:(\\d+)`, 'm').exec(String(stderr));
      resolve(line === null ? undefined : `line ${line[1]}`);
    });
  });
}

/**
 * The plugin function a module namespace exports: `default` (a function, or an object with
 * `execute`, bound to that object so `this` is the module's exports), or a named `execute`.
 */
function pluginFunctionOf(namespace: Record<string, unknown>): PluginFunction | undefined {
  const main = namespace.default;
  if (typeof main === 'function') return main as PluginFunction;
  // A CommonJS `module.exports = { execute }` is `default` here (and `execute` too, unbound).
  const method = (main as Record<string, unknown> | undefined)?.execute;
  if (typeof method === 'function') return (method as PluginFunction).bind(main);
  if (typeof namespace.execute === 'function') return namespace.execute as PluginFunction;
  return undefined;
}

/**
 * Evaluate the plugin module at `file` afresh (`generation` makes it a new ES module; a
 * CommonJS module is dropped from require's cache first) and return its plugin function.
 * Only this file is evaluated again: modules it imports stay as first loaded. Rejects with a
 * {@link PluginModuleError} naming the file and the cause (and the line of a syntax error).
 */
export async function importPluginFunction(file: string, generation: number): Promise<PluginFunction> {
  const absolute = path.resolve(file);
  // Node caches modules by their real path (ES modules' resolution and require's cache both):
  // a file behind a symlink (a Kubernetes ConfigMap) is imported by the path it points at now.
  let real: string;
  try {
    real = await realpath(absolute);
  } catch (error) {
    throw new PluginModuleError(file, (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : `cannot read it: ${describe(error)}`, {
      cause: error,
    });
  }
  const url = pathToFileURL(real).href;
  delete require.cache[real];
  let namespace: Record<string, unknown>;
  try {
    namespace = (await import(`${url}?generation=${generation}`)) as Record<string, unknown>;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // The module itself missing (not something it imports: that error names the module too).
    if (code === 'ERR_MODULE_NOT_FOUND' && (error as { url?: string }).url?.split('?')[0] === url)
      throw new PluginModuleError(file, 'no such file', { cause: error });
    if (error instanceof SyntaxError) {
      const where = await syntaxErrorLocation(real);
      throw new PluginModuleError(file, `${where === undefined ? '' : `${where}: `}${describe(error)}`, { cause: error });
    }
    throw new PluginModuleError(file, `failed to load: ${describe(error)}`, { cause: error });
  } finally {
    delete require.cache[real];
  }
  const execute = pluginFunctionOf(namespace);
  if (execute === undefined)
    throw new PluginModuleError(
      file,
      'exports no plugin function (export default function (request) {…}, export function execute(request) {…}, or module.exports = …)',
    );
  return execute;
}

/** One loaded version of a module. */
export interface PluginModuleVersion {
  readonly execute: PluginFunction;
  /** 1 for the first load, then one more per reload that succeeded. */
  readonly generation: number;
  /** sha256 of the file's text when it was loaded (hex, first 12). */
  readonly digest: string;
  /** When it was loaded (ms since the epoch). */
  readonly loadedAt: number;
}

/** Options of a {@link PluginModule}. */
export interface PluginModuleOptions {
  /** Follow the file and load it again when its text changes; default true. */
  readonly watch?: boolean;
  /** How long changes settle before a reload (an editor writes a file in steps); default 50 ms. */
  readonly settleMs?: number;
  /** One line per load, reload and failure. */
  readonly log?: (line: string, failed: boolean) => void;
  /**
   * Load the module only when its real path is inside this folder (a proxy's
   * `--plugin-module-root`): a DubboPlugin naming any other file is refused.
   */
  readonly root?: string;
}

/**
 * A plugin module kept loaded: the first load, then a reload whenever the file's text changes
 * (the folder is watched, so a file replaced by a rename, or a Kubernetes ConfigMap's symlink
 * swap, is seen too). A version that fails to load is reported and the previous one stays;
 * a caller holds the version it started a call with, so calls in flight finish on it.
 */
export class PluginModule {
  private version: PluginModuleVersion | undefined;
  private error: string | undefined;
  /** The digest of the text last tried (loaded or refused): the same text is not tried twice. */
  private triedDigest: string | undefined;
  /** Folders followed: the module's own, and its real file's when it is a symlink elsewhere. */
  private readonly watchers = new Map<string, FSWatcher>();
  private timer: NodeJS.Timeout | undefined;
  private loading: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private generations = 0;
  /** Loads that succeeded (the first one included) and that failed. */
  loads = 0;
  failedLoads = 0;
  /** Settles once the first load was tried (loaded or failed). */
  readonly ready: Promise<void>;
  private markReady!: () => void;

  constructor(
    readonly file: string,
    private readonly options: PluginModuleOptions = {},
  ) {
    this.ready = new Promise((resolve) => (this.markReady = resolve));
  }

  /** The version in force; undefined until one loaded. */
  get current(): PluginModuleVersion | undefined {
    return this.version;
  }

  /** Why the last load failed; undefined once a load succeeds. */
  get lastError(): string | undefined {
    return this.error;
  }

  /** Load the module, then follow its file (unless `watch: false`). Resolves once the first load was tried. */
  async start(): Promise<void> {
    if (this.options.watch !== false) this.follow(path.dirname(path.resolve(this.file)));
    // Through reload(), so a change during the first load waits for it instead of racing it.
    await this.reload();
    this.markReady();
  }

  /** Load the file again now if its text changed (what a change of the file triggers); resolves when done. */
  async reload(): Promise<void> {
    if (this.loading !== undefined) {
      this.again = true;
      return this.loading;
    }
    this.loading = this.load().finally(() => {
      this.loading = undefined;
      if (this.again && !this.closed) {
        this.again = false;
        void this.reload();
      }
    });
    return this.loading;
  }

  /** Stop following the file (loaded versions stay usable by callers that hold them). */
  close(): void {
    this.closed = true;
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.markReady();
  }

  /** Follow `folder`: an event about the module's file (or, in a ConfigMap's folder, its `..data` link) reloads it. */
  private follow(folder: string): void {
    if (this.closed || this.watchers.has(folder)) return;
    const names = new Set([path.basename(this.file)]);
    try {
      const watcher = watch(folder, { persistent: false }, (_event, name) => {
        // `..data`: a Kubernetes ConfigMap swaps its files by replacing that link.
        if (name === null || names.has(name) || name.startsWith('..')) this.changed();
      });
      watcher.on('error', (error) => this.options.log?.(`plugin module ${this.file}: stopped following ${folder} (${describe(error)})`, true));
      this.watchers.set(folder, watcher);
    } catch (error) {
      this.options.log?.(`plugin module ${this.file}: cannot follow changes in ${folder} (${describe(error)})`, true);
    }
  }

  /** The module's file changed: reload once changes settle. */
  private changed(): void {
    if (this.closed) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.reload();
    }, this.options.settleMs ?? 50);
    this.timer.unref();
  }

  private async load(): Promise<void> {
    let text: Buffer;
    try {
      text = await readFile(this.file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // A file being replaced may be gone for a moment: the version in force stays; its return reloads it.
      if (this.version !== undefined && code === 'ENOENT') return;
      return this.failed(new PluginModuleError(this.file, code === 'ENOENT' ? 'no such file' : `cannot read it: ${describe(error)}`, { cause: error }));
    }
    // An empty file is one being written in place (truncated, not yet filled): its next event loads it.
    if (text.length === 0 && this.version !== undefined) return;
    const digest = createHash('sha256').update(text).digest('hex').slice(0, 12);
    // The same text as last tried, loaded or refused: nothing to do (an unrelated event, a touch).
    if (this.closed || digest === this.triedDigest) return;
    this.triedDigest = digest;
    // A symlink to a file in another folder: edits there are followed too.
    if (this.options.watch !== false) {
      const real = await realpath(this.file).catch(() => undefined);
      if (real !== undefined) this.follow(path.dirname(real));
    }
    const generation = ++this.generations;
    try {
      if (this.options.root !== undefined) await this.checkInsideRoot(this.options.root);
      const execute = await importPluginFunction(this.file, generation);
      if (this.closed) return;
      const reloaded = this.version !== undefined;
      this.version = Object.freeze({ execute, generation: this.loads + 1, digest, loadedAt: Date.now() });
      this.loads += 1;
      this.error = undefined;
      this.options.log?.(`plugin module ${this.file}: ${reloaded ? 'reloaded' : 'loaded'} (version ${this.version.generation}, sha256 ${digest})`, false);
    } catch (error) {
      this.failed(error instanceof PluginModuleError ? error : new PluginModuleError(this.file, describe(error), { cause: error }));
    }
  }

  /** Refuse a module whose real path is outside `root` (a symlink out of it counts as outside). */
  private async checkInsideRoot(root: string): Promise<void> {
    const [real, realRoot] = await Promise.all([realpath(this.file), realpath(root)]);
    if (real !== realRoot && !real.startsWith(realRoot.endsWith(path.sep) ? realRoot : realRoot + path.sep))
      throw new PluginModuleError(this.file, `is outside the plugin module root ${root} (--plugin-module-root): not loaded`);
  }

  private failed(error: PluginModuleError): void {
    this.failedLoads += 1;
    this.error = error.message;
    const kept = this.version === undefined ? 'no version is loaded' : `version ${this.version.generation} stays`;
    this.options.log?.(`${error.message}; ${kept}`, true);
  }
}
