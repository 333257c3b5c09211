import { EventEmitter } from 'node:events';
import { systemClock, type Clock } from '@dubbo-mesh/leader-election';
import { ZooKeeperOperationError, type ZooKeeperFailure } from './errors.js';
import { NO_EXPORTED_NODES, type ExportedNodes } from './exported-nodes.js';
import type { ZooKeeperSession } from './zookeeper-session.js';

/** How an {@link ExportWriter} is made. */
export interface ExportWriterOptions {
  /** The one session every write goes through; its ephemeral nodes are the export. */
  readonly session: ZooKeeperSession;
  /** Timers of the retry backoff. */
  readonly clock?: Clock;
  /** First retry after a failed pass (default 1 s), doubled up to {@link retryMaxMs}. */
  readonly retryMinMs?: number;
  /** Longest wait between retries (default 30 s). */
  readonly retryMaxMs?: number;
  /** ZooKeeper operations in flight at once in a pass (default 32): one connection pipelines them. */
  readonly concurrency?: number;
  /** The `/dubbo/mapping` compare-and-set tries per pass, as Dubbo's `cas-retry-times` (default 10). */
  readonly mappingAttempts?: number;
  readonly log?: (level: 'info' | 'warn', message: string, fields: Record<string, unknown>) => void;
}

/** What the writer has done, for the admin API. */
export interface ExportWriterStatus {
  /** Nodes wanted: ephemerals, persistent metadata nodes, and application entries of mapping nodes. */
  readonly wanted: number;
  /** Of those, the ones known written in the current session. */
  readonly written: number;
  /** Wanted ephemeral paths held by another session: left alone, watched, created when they go. */
  readonly conflicts: number;
  /** Failed operations since the start. */
  readonly errors: number;
  /** The last failure, if a pass has failed since the last one that succeeded. */
  readonly lastError: string | undefined;
  /** Whether a retry is scheduled (the last pass failed). */
  readonly retrying: boolean;
}

/** The writer's events. */
export interface ExportWriterEvents {
  /** A pass ended with everything wanted written (or waiting on another session's node). */
  settled: [];
}

/** A pass stopped because a newer one replaced it (not a failure: never counted or logged). */
class AbandonedPassError extends Error {
  constructor() {
    super('abandoned: a newer pass replaced this one');
  }
}

const failureOf = (error: unknown): ZooKeeperFailure | undefined => (error instanceof ZooKeeperOperationError ? error.failure : undefined);

/** The folder of a node. */
function parentOf(path: string): string {
  const at = path.lastIndexOf('/');
  return at <= 0 ? '/' : path.slice(0, at);
}

/** The application names a mapping node lists (Dubbo's `ServiceNameMapping.getAppNames`: split on `,`, trimmed, no empties). */
function mappingApplications(content: string): Set<string> {
  return new Set(
    content
      .split(',')
      .map((app) => app.trim())
      .filter((app) => app !== ''),
  );
}

/** Run tasks with at most `limit` at once; resolves with every failure (the others still ran). */
async function runAll(tasks: ReadonlyArray<() => Promise<void>>, limit: number): Promise<unknown[]> {
  const failures: unknown[] = [];
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const task = tasks[next++]!;
      try {
        await task();
      } catch (error) {
        failures.push(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return failures;
}

/**
 * Keeps the wanted export nodes in ZooKeeper through one session, writing only differences:
 * creates the ephemerals it lacks (parents made persistent), rewrites one whose data changed,
 * removes the ones it owns that are no longer wanted, creates the persistent metadata nodes
 * once, and appends its applications to the mapping nodes with compare-and-set writes (never
 * removing an application). A node another session owns is never deleted or rewritten: it
 * is watched and created when it goes (the previous leader's, until its session ends). After
 * a new session (`session-started`) everything is written again. Failures are retried with
 * backoff and never thrown: an unchanged wish sends nothing to ZooKeeper.
 */
export class ExportWriter extends EventEmitter<ExportWriterEvents> {
  private readonly session: ZooKeeperSession;
  private readonly clock: Clock;
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;
  private readonly concurrency: number;
  private readonly mappingAttempts: number;
  private desired: ExportedNodes = NO_EXPORTED_NODES;
  /** Ephemerals this session created or found its own, with the data they hold. */
  private readonly owned = new Map<string, string>();
  /** Persistent metadata nodes known present. */
  private readonly persisted = new Set<string>();
  /** `path\napp` entries known listed in mapping nodes. */
  private readonly mapped = new Set<string>();
  /** Wanted ephemerals another session holds → that session; each watched. */
  private readonly conflicts = new Map<string, string>();
  /** Bumped whenever what is known of ZooKeeper is forgotten (new session, resync): older results are dropped. */
  private epoch = 0;
  /** The epoch of the pass loop running now, if any (one of an older epoch is abandoned). */
  private running: number | undefined;
  private again = false;
  private stopped = false;
  private retryTimer: unknown;
  private failures = 0;
  private errorCount = 0;
  private lastError: string | undefined;
  private readonly onSessionStarted = () => {
    this.forget();
    this.kick();
  };
  private readonly onExpired = () => this.forget();
  private readonly onConnected = () => {
    // The same session is back (a server restart, a short partition): retry now, not at the backoff's end.
    if (this.retryTimer !== undefined) this.retryNow();
  };

  constructor(private readonly options: ExportWriterOptions) {
    super();
    this.session = options.session;
    this.clock = options.clock ?? systemClock;
    this.retryMinMs = options.retryMinMs ?? 1000;
    this.retryMaxMs = options.retryMaxMs ?? 30_000;
    this.concurrency = options.concurrency ?? 32;
    this.mappingAttempts = options.mappingAttempts ?? 10;
    this.session.on('session-started', this.onSessionStarted);
    this.session.on('expired', this.onExpired);
    this.session.on('connected', this.onConnected);
  }

  /** Want these nodes from now on (the previous wish is replaced); written in the background. */
  setDesired(nodes: ExportedNodes): void {
    if (this.stopped) return;
    this.desired = nodes;
    this.kick();
  }

  /**
   * Forget what is known written and write everything again (a takeover): nodes this session
   * still owns are found and kept, the rest are created.
   */
  resync(): void {
    this.forget();
    this.kick();
  }

  /** Where the export stands. */
  status(): ExportWriterStatus {
    let wanted = this.desired.ephemerals.size + this.desired.persistents.size;
    let written = 0;
    for (const [path, data] of this.desired.ephemerals) if (this.owned.get(path) === data) written += 1;
    for (const path of this.desired.persistents.keys()) if (this.persisted.has(path)) written += 1;
    for (const [path, apps] of this.desired.mappings) {
      wanted += apps.length;
      for (const app of apps) if (this.mapped.has(`${path}\n${app}`)) written += 1;
    }
    let conflicts = 0;
    for (const path of this.conflicts.keys()) if (this.desired.ephemerals.has(path)) conflicts += 1;
    return { wanted, written, conflicts, errors: this.errorCount, lastError: this.lastError, retrying: this.retryTimer !== undefined };
  }

  /** Stop writing (the nodes stay until the session ends: closing the session removes them). */
  stop(): void {
    this.stopped = true;
    this.clock.clearTimer(this.retryTimer);
    this.retryTimer = undefined;
    this.session.off('session-started', this.onSessionStarted);
    this.session.off('expired', this.onExpired);
    this.session.off('connected', this.onConnected);
  }

  private forget(): void {
    this.epoch += 1;
    this.owned.clear();
    this.persisted.clear();
    this.mapped.clear();
    this.conflicts.clear();
  }

  private retryNow(): void {
    this.clock.clearTimer(this.retryTimer);
    this.retryTimer = undefined;
    this.kick();
  }

  /** Run a pass now, or once more after the running one. */
  private kick(): void {
    if (this.stopped) return;
    if (this.running === this.epoch) {
      this.again = true;
      return;
    }
    void this.run(this.epoch);
  }

  /**
   * Passes until nothing more is asked. A loop of an older epoch is abandoned, not waited for:
   * operations queued on a client the session gave up on may never be answered.
   */
  private async run(epoch: number): Promise<void> {
    this.running = epoch;
    let failed = false;
    do {
      this.again = false;
      const failures = await this.pass(epoch);
      if (epoch !== this.epoch) return;
      failed = failures.length > 0;
      if (failed) {
        this.errorCount += failures.length;
        const first = failures[0];
        this.lastError = first instanceof Error ? first.message : String(first);
        this.options.log?.('warn', 'ZooKeeper export: writes failed; retrying', { failed: failures.length, error: this.lastError });
      }
    } while (this.again && !this.stopped && !failed);
    this.running = undefined;
    if (this.stopped) return;
    if (failed) {
      this.failures += 1;
      // A closed session is the end (the control plane is shutting down): nothing to retry.
      if (this.retryTimer === undefined && this.session.state !== 'closed') {
        const delayMs = Math.min(this.retryMaxMs, this.retryMinMs * 2 ** Math.min(this.failures - 1, 30));
        this.retryTimer = this.clock.setTimer(() => {
          this.retryTimer = undefined;
          this.kick();
        }, delayMs);
      }
      return;
    }
    this.failures = 0;
    this.lastError = undefined;
    this.clock.clearTimer(this.retryTimer);
    this.retryTimer = undefined;
    this.emit('settled');
  }

  /** One pass over the differences; resolves with the failures (never rejects). */
  private async pass(epoch: number): Promise<unknown[]> {
    const desired = this.desired;
    const tasks: Array<() => Promise<void>> = [];
    for (const path of this.owned.keys()) if (!desired.ephemerals.has(path)) tasks.push(() => this.removeOwned(path, epoch));
    for (const path of [...this.conflicts.keys()]) if (!desired.ephemerals.has(path)) this.conflicts.delete(path);
    for (const [path, data] of desired.ephemerals) {
      const have = this.owned.get(path);
      if (have === undefined) {
        if (!this.conflicts.has(path)) tasks.push(() => this.createEphemeral(path, data, epoch));
      } else if (have !== data) tasks.push(() => this.rewrite(path, data, epoch));
    }
    for (const [path, data] of desired.persistents) if (!this.persisted.has(path)) tasks.push(() => this.createPersistent(path, data, epoch));
    for (const [path, apps] of desired.mappings) {
      const missing = apps.filter((app) => !this.mapped.has(`${path}\n${app}`));
      if (missing.length > 0) tasks.push(() => this.appendMapping(path, missing, epoch));
    }
    if (tasks.length === 0) return [];
    try {
      return (await runAll(tasks, this.concurrency)).filter((failure) => !(failure instanceof AbandonedPassError));
    } catch (error) {
      return [error];
    }
  }

  /**
   * Create a node, making its folder (persistent, as Dubbo makes them) only when it is missing:
   * in a registry that has the folders already (the usual case, and after a lost session) a
   * node costs one write.
   */
  private async create(path: string, data: Buffer | undefined, mode: 'persistent' | 'ephemeral', epoch: number): Promise<void> {
    this.live(epoch);
    try {
      await this.session.create(path, data, mode);
    } catch (error) {
      if (failureOf(error) !== 'NO_NODE') throw error;
      await this.session.mkdirp(parentOf(path));
      this.live(epoch);
      await this.session.create(path, data, mode);
    }
  }

  /**
   * Throws {@link AbandonedPassError} when the pass of `epoch` was abandoned (a new session, a
   * takeover): checked before each write, so that an old pass never writes over a newer one.
   */
  private live(epoch: number): void {
    if (epoch !== this.epoch || this.stopped) throw new AbandonedPassError();
  }

  private async createEphemeral(path: string, data: string, epoch: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.create(path, data === '' ? undefined : Buffer.from(data), 'ephemeral', epoch);
        if (epoch === this.epoch) this.owned.set(path, data);
        return;
      } catch (error) {
        if (failureOf(error) !== 'NODE_EXISTS') throw error;
      }
      // There already: ours (a create whose answer was lost, or a takeover by this session) or another session's.
      // The watch can fire before this continuation runs (its event in the same read as the answer): remember it.
      let changed = false;
      const stat = await this.session.exists(path, () => {
        changed = true;
        this.onConflictChanged(path, epoch);
      });
      if (stat === undefined) {
        if (attempt < 3) continue;
        throw new ZooKeeperOperationError('NODE_EXISTS', 'create', path, 'the node keeps coming and going');
      }
      if (stat.ephemeralOwner === this.session.sessionId) {
        const read = await this.session.getData(path);
        const held = read?.data?.toString('utf8') ?? '';
        if (epoch !== this.epoch) return;
        this.owned.set(path, held);
        if (held !== data) this.again = true;
        return;
      }
      if (changed) {
        if (attempt < 3) continue;
        throw new ZooKeeperOperationError('NODE_EXISTS', 'create', path, 'the node keeps changing');
      }
      if (epoch === this.epoch) {
        this.conflicts.set(path, stat.ephemeralOwner);
        this.options.log?.('info', 'ZooKeeper export: a node is held by another session; waiting for it to go', { path, owner: stat.ephemeralOwner });
      }
      return;
    }
  }

  /** A watched node held by another session changed or went: try again. */
  private onConflictChanged(path: string, epoch: number): void {
    if (epoch !== this.epoch || !this.conflicts.has(path)) return;
    this.conflicts.delete(path);
    this.kick();
  }

  private async rewrite(path: string, data: string, epoch: number): Promise<void> {
    try {
      this.live(epoch);
      await this.session.setData(path, Buffer.from(data), -1);
      if (epoch === this.epoch) this.owned.set(path, data);
    } catch (error) {
      if (failureOf(error) !== 'NO_NODE') throw error;
      // Deleted behind our back: created again on the next pass.
      if (epoch === this.epoch) {
        this.owned.delete(path);
        this.again = true;
      }
    }
  }

  private async removeOwned(path: string, epoch: number): Promise<void> {
    const stat = await this.session.exists(path);
    // Only a node this session owns is removed: after a new session, a node of the same path is someone else's.
    if (stat !== undefined && stat.ephemeralOwner === this.session.sessionId) {
      this.live(epoch);
      await this.session.remove(path, stat.version);
    }
    if (epoch === this.epoch) this.owned.delete(path);
  }

  private async createPersistent(path: string, data: string, epoch: number): Promise<void> {
    try {
      await this.create(path, Buffer.from(data), 'persistent', epoch);
    } catch (error) {
      // Content-addressed (the revision is a digest of the content): one already there is the same.
      if (failureOf(error) !== 'NODE_EXISTS') throw error;
    }
    if (epoch === this.epoch) this.persisted.add(path);
  }

  /** Add applications to a mapping node as Dubbo does: read, append, write at the read version; retried on a race. */
  private async appendMapping(path: string, apps: readonly string[], epoch: number): Promise<void> {
    for (let attempt = 1; attempt <= this.mappingAttempts; attempt++) {
      const read = await this.session.getData(path);
      try {
        if (read === undefined) await this.create(path, Buffer.from(apps.join(',')), 'persistent', epoch);
        else {
          const content = read.data?.toString('utf8') ?? '';
          const listed = mappingApplications(content);
          const missing = apps.filter((app) => !listed.has(app));
          if (missing.length > 0) {
            const next = content.trim() === '' ? missing.join(',') : `${content},${missing.join(',')}`;
            this.live(epoch);
            await this.session.setData(path, Buffer.from(next), read.stat.version);
          }
        }
        if (epoch === this.epoch) for (const app of apps) this.mapped.add(`${path}\n${app}`);
        return;
      } catch (error) {
        const failure = failureOf(error);
        if (failure !== 'BAD_VERSION' && failure !== 'NODE_EXISTS') throw error;
      }
    }
    throw new ZooKeeperOperationError('BAD_VERSION', 'setData', path, `the mapping changed under each of ${this.mappingAttempts} compare-and-set writes`);
  }
}
