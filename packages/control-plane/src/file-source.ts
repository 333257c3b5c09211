import { statSync, watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { loadMeshResources, parseMeshFile, type ParsedYaml } from '@dubbo-mesh/config';
import type { ConfigSource, SourceState } from './source.js';

/** How long a burst of file events is let settle before the files are read again. */
const SETTLE_MS = 100;

interface CachedFile {
  readonly stamp: string;
  readonly parsed: ParsedYaml;
}

/**
 * Mesh YAML files or folders of them (`--config`). Each path is watched (a folder for files
 * added, changed or removed in it); after a change settles, everything is read and
 * validated again and the whole state emitted. A file that fails validation makes the
 * state `invalid`, with every error naming file, line and field.
 */
export class FileSource implements ConfigSource {
  readonly name: string;
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private reading: Promise<void> = Promise.resolve();
  /** Parse results by file, with the stat stamp they were parsed at. */
  private parsed = new Map<string, CachedFile>();

  constructor(private readonly paths: readonly string[]) {
    this.name = `file:${paths.join(',')}`;
  }

  async start(emit: (state: SourceState) => void): Promise<void> {
    // Watch first, then read: a change made meanwhile is not lost.
    for (const configPath of this.paths) this.watch(configPath, emit);
    await this.read(emit);
  }

  /**
   * Watch a path through its folder: editors replace files (a new inode) and Kubernetes
   * swaps a ConfigMap's `..data` symlink, neither of which a watch on the file itself sees.
   * Any event in the folder triggers a read; unchanged files are not parsed again. A watcher
   * that fails is set up again.
   */
  private watch(configPath: string, emit: (state: SourceState) => void): void {
    if (this.stopped) return;
    let folder = configPath;
    try {
      if (!statSync(configPath).isDirectory()) folder = path.dirname(configPath);
    } catch {
      folder = path.dirname(configPath); // missing now: watch where it would appear
    }
    try {
      const watcher = watch(folder, () => this.changed(emit));
      watcher.on('error', () => {
        watcher.close();
        this.watchers = this.watchers.filter((w) => w !== watcher);
        this.changed(emit);
        setTimeout(() => this.watch(configPath, emit), SETTLE_MS * 10).unref();
      });
      this.watchers.push(watcher);
    } catch {
      setTimeout(() => this.watch(configPath, emit), SETTLE_MS * 10).unref();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    for (const watcher of this.watchers) watcher.close();
    this.watchers = [];
    await this.reading;
  }

  private changed(emit: (state: SourceState) => void): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      // One read at a time, in order.
      this.reading = this.reading.then(() => (this.stopped ? undefined : this.read(emit)));
    }, SETTLE_MS);
  }

  /**
   * Read every file, parsing again only those whose size, mtime, ctime or inode changed
   * since the last read (a one-line change in one of two thousand files parses one file).
   */
  private async read(emit: (state: SourceState) => void): Promise<void> {
    const seen = new Map<string, CachedFile>();
    const { resources, errors } = await loadMeshResources(this.paths, async (file) => {
      const info = await stat(file, { bigint: true });
      const stamp = `${info.size}:${info.mtimeNs}:${info.ctimeNs}:${info.ino}`;
      let cached = this.parsed.get(file);
      if (cached?.stamp !== stamp) cached = { stamp, parsed: await parseMeshFile(file) };
      seen.set(file, cached);
      return cached.parsed;
    });
    this.parsed = seen;
    emit(errors.length > 0 ? { kind: 'invalid', errors } : { kind: 'resources', resources });
  }
}
