import { systemClock, type Clock } from './clock.js';
import type { KubernetesSource } from './kubernetes-source.js';
import type { Leadership } from './leadership.js';

/** What every writer of the leader is given. */
export interface LeaderWriterOptions {
  /** What a pass follows: a version that moves when something to write changed, and a listener told when it moves. */
  readonly source: Pick<KubernetesSource, 'onOutcomes' | 'outcomesVersion'>;
  readonly leadership: Leadership;
  readonly clock?: Clock;
  /** After a pass with a failed write, the next attempt (default 5 s). */
  readonly retryMs?: number;
  readonly log?: (level: 'info' | 'warn', message: string, fields: Record<string, unknown>) => void;
}

/**
 * A writer that only the leader runs (statuses of custom resources, of Ingresses): a pass over
 * everything, run when the source's outcomes change and when this replica starts leading, one
 * at a time (asked while running, it runs once more when done, so every ask is followed by a
 * whole pass), again after `retryMs` when a write failed, never after `stop()`.
 */
export abstract class LeaderWriter {
  protected readonly clock: Clock;
  private running: Promise<void> | undefined;
  private again = false;
  private retryTimer: unknown;
  private stopped = false;
  private readonly unsubscribe: () => void;
  private readonly onLeading = () => {
    this.covered = undefined;
    void this.sync();
  };
  /** The source's outcomes version the last whole, successful pass covered: asked again with nothing new, a pass is skipped. */
  private covered: number | undefined;

  constructor(private readonly writer: LeaderWriterOptions) {
    this.clock = writer.clock ?? systemClock;
    this.unsubscribe = writer.source.onOutcomes(() => void this.sync());
    writer.leadership.on('started-leading', this.onLeading);
  }

  /** One pass over everything; resolves true when a write failed (a retry is then scheduled). */
  protected abstract pass(): Promise<boolean>;

  /** Whether a write may be made now (leading, not stopped): checked before each one. */
  protected get mayWrite(): boolean {
    return !this.stopped && this.writer.leadership.isLeader;
  }

  stop(): void {
    this.stopped = true;
    this.clock.clearTimer(this.retryTimer);
    this.unsubscribe();
    this.writer.leadership.off('started-leading', this.onLeading);
  }

  /** Bring everything up to date (coalesced); resolves when the pass that covers this ask is done. */
  sync(): Promise<void> {
    if (!this.mayWrite) return Promise.resolve();
    if (this.running !== undefined) {
      this.again = true;
      return this.running.then(() => this.running);
    }
    const version = this.writer.source.outcomesVersion;
    if (version === this.covered) return Promise.resolve();
    this.running = this.pass()
      .catch((error: unknown) => {
        // A pass that broke is a failed pass: logged, and tried again after the retry delay.
        this.writer.log?.('warn', `${this.constructor.name}: a pass failed; retrying`, { error: error instanceof Error ? error.message : String(error) });
        return true;
      })
      .then((failed) => {
        // Covered only when nothing failed: a failed write is tried again.
        this.covered = failed ? undefined : version;
        if (!failed || this.stopped) return;
        this.clock.clearTimer(this.retryTimer);
        this.retryTimer = this.clock.setTimer(() => void this.sync(), this.writer.retryMs ?? 5_000);
      })
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          void this.sync();
        }
      });
    return this.running;
  }
}
