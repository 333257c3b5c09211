/**
 * One ZooKeeper node followed by the import: its children (a folder) or its data (an instance),
 * read again each time its one-shot watch fires (the session does not re-arm watches), a
 * missing node watched with `exists` until it appears, a failed read retried with backoff.
 */
import type { Clock } from '@dubbo-mesh/leader-election';
import type { ZooKeeperSession, ZooKeeperStat } from './zookeeper-session.js';

/** What the import's parts share: the session, the timer clock, where to report. */
export interface ImportContext {
  readonly session: ZooKeeperSession;
  /** Timers for retries and debouncing (monotonic; `FakeClock` in tests). */
  readonly clock: Clock;
  /** Something the import holds changed: a new state is to be built. */
  readonly onChange: () => void;
  /** A read failed and will be retried (for details and the log). */
  readonly onError: (path: string, error: Error) => void;
  /** A path that failed reads again. */
  readonly onRecovered: (path: string) => void;
  /** First retry delay and ceiling (default 1 s, 30 s). */
  readonly retry?: { readonly initialMs: number; readonly maxMs: number };
}

/** Exponential backoff: `initialMs`, doubling up to `maxMs`; back to `initialMs` on progress. */
export class RetryBackoff {
  private nextMs: number;

  constructor(
    readonly initialMs = 1000,
    readonly maxMs = 30_000,
  ) {
    this.nextMs = initialMs;
  }

  /** The delay before the next retry; each call doubles the one after, up to the ceiling. */
  next(): number {
    const delay = this.nextMs;
    this.nextMs = Math.min(this.nextMs * 2, this.maxMs);
    return delay;
  }

  /** Progress: the next failure waits `initialMs` again. */
  reset(): void {
    this.nextMs = this.initialMs;
  }
}

/** What a watched node holds now: its children or its data; `undefined`: it does not exist. */
export type WatchedValue<K extends 'children' | 'data'> =
  | (K extends 'children' ? { readonly children: string[]; readonly stat: ZooKeeperStat } : { readonly data: Buffer | undefined; readonly stat: ZooKeeperStat })
  | undefined;

/**
 * Follows one node. Reads are single-flight: a watch that fires during a read makes one more
 * read after it, never two at once, so a burst of changes costs a few reads, not one per change.
 * After {@link stop} nothing it started reports anything (a read of a lost session may never
 * answer: it is simply forgotten).
 */
export class ZooKeeperWatch<K extends 'children' | 'data'> {
  private reading = false;
  private again = false;
  private stopped = false;
  private failing = false;
  private retryTimer: unknown;
  private readonly backoff: RetryBackoff;
  private resolveFirst!: () => void;
  /** Resolves after the first successful read (the node's value, or that it does not exist). */
  readonly firstRead: Promise<void>;

  constructor(
    private readonly context: ImportContext,
    readonly path: string,
    private readonly kind: K,
    private readonly onValue: (value: WatchedValue<K>) => void,
    /** Watch a missing node with `exists` (false when its parent's children are followed already). */
    private readonly watchMissing = true,
  ) {
    this.backoff = new RetryBackoff(context.retry?.initialMs, context.retry?.maxMs);
    this.firstRead = new Promise((resolve) => (this.resolveFirst = resolve));
  }

  /** Start following; returns {@link firstRead}. */
  start(): Promise<void> {
    this.read();
    return this.firstRead;
  }

  /** Stop: no more reads, no more reports ({@link firstRead} resolves: there is nothing to wait for). */
  stop(): void {
    this.stopped = true;
    this.resolveFirst();
    this.context.clock.clearTimer(this.retryTimer);
    this.retryTimer = undefined;
  }

  /** Read again now (a watch fired, or a retry is due). */
  private read(): void {
    if (this.stopped) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    this.context.clock.clearTimer(this.retryTimer);
    this.retryTimer = undefined;
    this.reading = true;
    this.again = false;
    this.attempt().then(
      (value) => {
        this.reading = false;
        if (this.stopped) return;
        if (value === 'again') this.again = true;
        else {
          this.backoff.reset();
          if (this.failing) {
            this.failing = false;
            this.context.onRecovered(this.path);
          }
          this.onValue(value);
          this.resolveFirst();
        }
        if (this.again) this.read();
      },
      (error: unknown) => {
        this.reading = false;
        if (this.stopped) return;
        this.failing = true;
        this.context.onError(this.path, error instanceof Error ? error : new Error(String(error)));
        this.retryTimer = this.context.clock.setTimer(() => {
          this.retryTimer = undefined;
          this.read();
        }, this.backoff.next());
      },
    );
  }

  private async attempt(): Promise<WatchedValue<K> | 'again'> {
    const watcher = () => {
      if (!this.stopped) this.read();
    };
    const { session } = this.context;
    const value = this.kind === 'children' ? await session.getChildren(this.path, watcher) : await session.getData(this.path, watcher);
    if (value !== undefined || !this.watchMissing) return value as WatchedValue<K>;
    // Missing: be told when it appears. Created between the two calls: read it at once.
    const stat = await session.exists(this.path, watcher);
    return stat === undefined ? undefined : 'again';
  }
}
