import { statSync, watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { MeshYamlCache, cannotReadError, checkCrossReferences, configFiles, originsOf, type LocatedResource, type ParsedYaml } from '@dubbo-mesh/config';
import type { ConfigSource, RejectedResource, SourceState } from './source.js';

/**
 * The clock and timers a file source schedules its reads with. Injectable, so that tests of
 * the settle rule run on fake time and pass on a loaded machine.
 */
export interface SourceTimers {
  /** Milliseconds on a monotonic clock. */
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The process's own clock and timers. */
export const systemTimers: SourceTimers = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Options of a {@link FileSource}. */
export interface FileSourceOptions {
  /**
   * How long a changed file's size and mtime must stay the same before it is read (default
   * 100 ms): two stats this far apart must agree, so a file being written is never read.
   */
  readonly settleMs?: number;
  /** Clock and timers (default: the process's). */
  readonly timers?: SourceTimers;
  /**
   * Every this often every file is looked at even without a watch event (default 30 s; 0:
   * never). Between these, only files that watch events name are looked at; this catches a
   * change whose event was lost (an overflowing event queue when thousands of files change
   * at once, a file system that sends none) within the interval.
   */
  readonly rescanIntervalMs?: number;
  /**
   * Report cross-reference errors with the field errors of an invalid state, so a misspelled
   * field does not hide them (default true: right when this source is the whole config, as a
   * proxy's `--static` is). A control plane turns it off and checks them over the merge of
   * all its sources instead, where a reference to another source's resource holds.
   */
  readonly checkCrossReferences?: boolean;
}

/** How long a burst of watch events is let settle before the files are looked at. */
const EVENT_DEBOUNCE_MS = 10;
/** How many files are stat'ed at once (a folder of thousands is looked at on every change). */
const STAT_CONCURRENCY = 64;
/** The stamp of a file that was there and is not now (it must stay gone for a settle interval). */
const GONE = 'gone';

/** A file as last parsed: at which stat stamp, and what it gave. */
interface ParsedFile {
  readonly stamp: string;
  readonly parsed: ParsedYaml;
  /** The path resolved, as watch events are matched (resolved once, not on every look). */
  readonly resolved: string;
}

/** A file seen changed, not read yet: its stamp and when it was first seen so. */
interface UnsettledFile {
  readonly stamp: string;
  readonly seenAt: number;
}

/** Size, mtime, ctime and inode: what changes when a file is written or replaced. */
async function stampOf(file: string): Promise<string> {
  const info = await stat(file, { bigint: true });
  return `${info.size}:${info.mtimeNs}:${info.ctimeNs}:${info.ino}`;
}

/**
 * Mesh YAML files or folders of them (`--config`, and a proxy's `--static`). Each path is
 * watched (a folder for files added, changed or removed in it). A changed file is read only
 * once its size and mtime have settled — the same on two stats a settle interval apart —
 * so a file caught half-written is never published; a file that is empty (no document and
 * no comment) is refused like an invalid one. Only changed files are read and parsed again,
 * and in a changed file only the documents whose text changed. The whole state is emitted
 * when something changed: `invalid` with every error (each naming file, line and field) if
 * any file fails, so a half-valid change never replaces a good state.
 */
export class FileSource implements ConfigSource {
  readonly name: string;
  readonly type = 'file';
  private readonly settleMs: number;
  private readonly timers: SourceTimers;
  private watchers: FSWatcher[] = [];
  private timer: unknown;
  /** When the armed look is due (the timers' clock). */
  private timerDue = 0;
  /** The names of the files given as paths themselves (any ending), whose events always count. */
  private readonly watchedNames: ReadonlySet<string>;
  private stopped = false;
  private reading: Promise<void> = Promise.resolve();
  private emit: ((state: SourceState) => void) | undefined;
  private emitted = false;
  /** The errors last emitted (to emit again only when something changed). */
  private lastErrors = '';
  /**
   * Files were parsed or removed since the last emit. Kept across looks: a file read in a look
   * that then waits for another file to settle is emitted with it, by a later look.
   */
  private unemitted = false;
  private readonly yaml = new MeshYamlCache();
  /** Files as last parsed. */
  private files = new Map<string, ParsedFile>();
  /** Files seen changed and not yet settled. */
  private readonly unsettled = new Map<string, UnsettledFile>();
  /**
   * Files named by watch events since the last look, or `all` when an event named something
   * else (a folder, a symlink such as a ConfigMap's `..data`, or nothing): only these are
   * stat'ed, so a change to one file of thousands costs one stat, not thousands.
   */
  private dirty: Set<string> | 'all' = 'all';
  private rescanTimer: unknown;

  constructor(
    private readonly paths: readonly string[],
    private readonly options: FileSourceOptions = {},
  ) {
    this.name = `file:${paths.join(',')}`;
    this.watchedNames = new Set(paths.map((p) => path.basename(p)));
    this.settleMs = options.settleMs ?? 100;
    this.timers = options.timers ?? systemTimers;
  }

  async start(emit: (state: SourceState) => void): Promise<void> {
    const first = new Promise<void>((resolve) => {
      this.emit = (state) => {
        emit(state);
        resolve();
      };
    });
    // Watch first, then read: a change made meanwhile is not lost.
    for (const configPath of this.paths) this.watch(configPath);
    this.schedule(0);
    await first;
    this.emit = emit;
    this.armRescan();
  }

  private armRescan(): void {
    const every = this.options.rescanIntervalMs ?? 30_000;
    if (every <= 0 || this.stopped) return;
    this.rescanTimer = this.timers.setTimeout(() => {
      this.rescan();
      this.armRescan();
    }, every);
  }

  /**
   * Watch a path through its folder: editors replace files (a new inode) and Kubernetes
   * swaps a ConfigMap's `..data` symlink, neither of which a watch on the file itself sees.
   * Any event in the folder triggers a look; unchanged files are not read again. A watcher
   * that fails is set up again.
   */
  private watch(configPath: string): void {
    if (this.stopped) return;
    let folder = configPath;
    try {
      if (!statSync(configPath).isDirectory()) folder = path.dirname(configPath);
    } catch {
      folder = path.dirname(configPath); // missing now: watch where it would appear
    }
    const again = () => {
      const retry = setTimeout(() => this.watch(configPath), this.settleMs * 10);
      retry.unref();
    };
    try {
      const watcher = watch(folder, (_event, name) => {
        if (typeof name === 'string' && !name.startsWith('..') && !/\.ya?ml$/.test(name) && !this.watchedNames.has(name)) return; // another file in the folder (a log, an editor's swap file)
        if (this.dirty !== 'all') {
          if (typeof name === 'string' && /\.ya?ml$/.test(name) && !name.startsWith('..')) this.dirty.add(path.resolve(folder, name));
          else this.dirty = 'all';
        }
        this.schedule(EVENT_DEBOUNCE_MS);
      });
      watcher.on('error', () => {
        watcher.close();
        this.watchers = this.watchers.filter((w) => w !== watcher);
        this.dirty = 'all';
        this.schedule(EVENT_DEBOUNCE_MS);
        again();
      });
      this.watchers.push(watcher);
    } catch {
      again();
    }
  }

  /**
   * Look at every file again soon, as after a watch event that named none: for a caller that
   * knows files changed without an event (a network file system, where watch events do not
   * arrive). The settle rule applies as always.
   */
  rescan(): void {
    this.dirty = 'all';
    this.schedule(EVENT_DEBOUNCE_MS);
  }

  /** Stop watching; resolves once a look in progress has finished. */
  /**
   * The documents of the files as last read that name a resource but are not valid ones, with
   * their errors (`file:line:col`): while any exists the source's change is refused, and the
   * last valid files stay in force.
   */
  rejectedResources(): RejectedResource[] {
    const out: RejectedResource[] = [];
    for (const { parsed } of this.files.values())
      for (const rejected of parsed.rejected ?? [])
        out.push({ kind: rejected.kind, name: rejected.name, origin: rejected.origin, errors: rejected.errors, lastValidInForce: false });
    return out;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.timers.clearTimeout(this.timer);
    this.timers.clearTimeout(this.rescanTimer);
    for (const watcher of this.watchers) watcher.close();
    this.watchers = [];
    await this.reading;
  }

  /**
   * Look at the files within `delayMs`, one look at a time, in order. A look already due
   * sooner is kept: a steady stream of events (a log file written in the same folder) must
   * not push every look back for as long as it lasts.
   */
  private schedule(delayMs: number): void {
    if (this.stopped) return;
    const due = this.timers.now() + delayMs;
    if (this.timer !== undefined && this.timerDue <= due) return;
    this.timers.clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = this.timers.setTimeout(() => {
      this.timer = undefined;
      this.reading = this.reading
        .then(() => (this.stopped ? undefined : this.look()))
        .catch((error: unknown) => {
          // Not expected (read errors become states); never let one stop the watching.
          this.emit?.({ kind: 'invalid', errors: [`${this.name}: ${(error as Error).message}`] });
        });
    }, delayMs);
  }

  /**
   * One look at the files: stat them all; read those whose stamp settled since it changed;
   * come back later for those still changing; emit the whole state when something changed.
   */
  private async look(): Promise<void> {
    const pathErrors = new Map<string, string>();
    const listed: string[] = [];
    for (const configPath of this.paths) {
      try {
        listed.push(...(await configFiles(configPath)));
      } catch (error) {
        pathErrors.set(configPath, cannotReadError(configPath, error));
      }
    }
    // Stat what may have changed: everything after an event that named no file, else the
    // files named, those still settling, and files new to the listing.
    const dirty = this.dirty;
    this.dirty = new Set();
    const stamps = new Map<string, string | Error>();
    const toStat: string[] = [];
    for (const file of listed) {
      const known = this.files.get(file);
      // Compared resolved: `--config ./mesh.yaml` lists `./mesh.yaml`, the event names `mesh.yaml` in `.`.
      if (dirty === 'all' || known === undefined || dirty.has(known.resolved) || this.unsettled.has(file)) toStat.push(file);
      else stamps.set(file, known.stamp);
    }
    for (let i = 0; i < toStat.length; i += STAT_CONCURRENCY) {
      const batch = toStat.slice(i, i + STAT_CONCURRENCY);
      const results = await Promise.all(batch.map((file) => stampOf(file).catch((error: unknown) => error as Error)));
      batch.forEach((file, j) => stamps.set(file, results[j]!));
    }
    let waiting = false;
    const now = this.timers.now();
    const ready: Array<[string, string]> = [];
    for (const [file, stamp] of stamps) {
      if (stamp instanceof Error) {
        // Removed since the folder was listed: it is gone, as the next look will say too.
        if ((stamp as NodeJS.ErrnoException).code === 'ENOENT') stamps.delete(file);
        else pathErrors.set(file, cannotReadError(file, stamp));
        continue;
      }
      if (this.files.get(file)?.stamp === stamp) {
        this.unsettled.delete(file);
        continue;
      }
      const seen = this.unsettled.get(file);
      if (seen?.stamp === stamp && now - seen.seenAt >= this.settleMs) ready.push([file, stamp]);
      else {
        if (seen?.stamp !== stamp) this.unsettled.set(file, { stamp, seenAt: now });
        waiting = true;
      }
    }
    // A file that vanished is settling too: `rm` then a new copy (git checkout, `rm && cat >`)
    // must not publish a state without it in between. It counts as gone only once it has
    // stayed gone for a settle interval.
    for (const file of this.files.keys()) {
      if (stamps.has(file) || pathErrors.has(file)) continue;
      const seen = this.unsettled.get(file);
      if (seen?.stamp === GONE && now - seen.seenAt >= this.settleMs) continue;
      if (seen?.stamp !== GONE) this.unsettled.set(file, { stamp: GONE, seenAt: now });
      waiting = true;
    }
    for (const file of this.unsettled.keys())
      if (!stamps.has(file) && !(this.files.has(file) && this.unsettled.get(file)!.stamp === GONE)) this.unsettled.delete(file);
    for (const [file, stamp] of ready) {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
        const after = await stampOf(file);
        if (after !== stamp) {
          // Written while it was read: what was read may be half of it.
          this.unsettled.set(file, { stamp: after, seenAt: this.timers.now() });
          waiting = true;
          continue;
        }
      } catch (error) {
        pathErrors.set(file, cannotReadError(file, error));
        continue;
      }
      this.unsettled.delete(file);
      this.files.set(file, { stamp, parsed: await this.yaml.parse(text, file, { now: () => this.timers.now() }), resolved: path.resolve(file) });
      this.unemitted = true;
    }
    if (waiting) {
      // Nothing is emitted while any changed file is still being written: a change that
      // spans files is published whole.
      this.schedule(this.settleMs);
      return;
    }
    for (const file of this.files.keys()) {
      if (stamps.has(file) && !pathErrors.has(file)) continue;
      this.unsettled.delete(file);
      this.files.delete(file);
      this.yaml.forget(file);
      this.unemitted = true;
    }
    const errorsKey = [...pathErrors.values()].join('\n');
    if (this.emitted && !this.unemitted && errorsKey === this.lastErrors) return;
    this.emitted = true;
    this.unemitted = false;
    this.lastErrors = errorsKey;
    const state = this.state(listed, pathErrors);
    // Let the event loop run between looking at thousands of files and building a snapshot
    // of thousands of resources (what the emit sets off): two shorter waits for everything
    // else (health checks, proxy streams' keepalives), not one long one.
    await yieldToEventLoop();
    if (this.stopped) return;
    this.emit?.(state);
  }

  /** The state of every file, in path order (a folder's files sorted). */
  private state(listed: readonly string[], pathErrors: ReadonlyMap<string, string>): SourceState {
    const resources: LocatedResource[] = [];
    const partial: LocatedResource[] = [];
    const errors: string[] = [];
    const origins: string[] = [];
    for (const configPath of this.paths) {
      const error = pathErrors.get(configPath);
      if (error !== undefined) {
        errors.push(error);
        origins.push(configPath);
      }
    }
    for (const file of listed) {
      const error = pathErrors.get(file);
      if (error !== undefined) {
        errors.push(error);
        origins.push(file);
        continue;
      }
      const parsed = this.files.get(file)?.parsed;
      if (parsed === undefined) continue; // removed since it was listed
      resources.push(...parsed.resources);
      partial.push(...(parsed.partial ?? []));
      if (parsed.errors.length > 0) {
        errors.push(...parsed.errors);
        origins.push(file);
      }
    }
    if (errors.length === 0) return { kind: 'resources', resources };
    const everything = [...resources, ...partial];
    if (this.options.checkCrossReferences !== false) {
      const crossReferences = checkCrossReferences(everything);
      errors.push(...crossReferences.errors);
      origins.push(...originsOf(crossReferences.offending));
    }
    return { kind: 'invalid', errors, origins: [...new Set(origins)], resources: everything };
  }
}
