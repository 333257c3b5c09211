import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { systemClock, type Clock } from '@dubbo-mesh/leader-election';
import { ZooKeeperOperationError } from './errors.js';
import type { ZooKeeperSession } from './zookeeper-session.js';

/** Where the control planes of one registry queue up for the export (issue #13: without `--kubernetes`). */
export const DEFAULT_LEADER_PATH = '/dubbo-mesh/leader';

/** How a {@link ZooKeeperLeaderLock} is made. */
export interface ZooKeeperLeaderLockOptions {
  readonly session: ZooKeeperSession;
  /** This candidate's name (the data of its node, what {@link ZooKeeperLeaderLock.leader} shows). */
  readonly identity: string;
  /** The folder of the candidates' nodes (default `/dubbo-mesh/leader`). */
  readonly path?: string;
  /** Timers of the retry backoff. */
  readonly clock?: Clock;
  /** First retry after a failed step (default 1 s), doubled up to 30 s. */
  readonly retryMinMs?: number;
  readonly log?: (level: 'info' | 'warn', message: string, fields: Record<string, unknown>) => void;
}

/** The lock's events: those of the Kubernetes `Leadership`. */
export interface ZooKeeperLeaderLockEvents {
  /** This candidate's node is the first in line: it may write from now on. */
  'started-leading': [];
  /** It is not any more (its session was lost, its node went, or it was stopped): stop writing now. */
  'stopped-leading': [];
}

/** The sequence number ZooKeeper appended to a sequential node's name. */
function sequenceOf(name: string): number {
  const match = /(\d{10})$/.exec(name);
  return match === null ? Number.MAX_SAFE_INTEGER : Number(match[1]);
}

/**
 * One leader among control planes sharing a ZooKeeper, ZooKeeper's own lock recipe: each
 * candidate creates an ephemeral sequential node under the lock folder (its identity as data);
 * the lowest sequence leads; every other candidate watches the node just before its own (no
 * herd when the leader goes). A lost session (`expired`: the server said so, or the connection
 * was away longer than the session timeout) stops leading at once, and the candidate queues
 * again in the new session; `stop()` removes its node so the next one leads without waiting
 * for a session to expire. The shape of the Kubernetes `Leadership`, for the export sink.
 */
export class ZooKeeperLeaderLock extends EventEmitter<ZooKeeperLeaderLockEvents> {
  private readonly session: ZooKeeperSession;
  private readonly folder: string;
  private readonly clock: Clock;
  private readonly retryMinMs: number;
  /** Marks this candidate's nodes (Curator's protected mode): a create whose answer was lost is found again. */
  private readonly token = `_c_${randomUUID()}-`;
  private ownNode: string | undefined;
  private leading = false;
  private leaderIdentity: string | undefined;
  private running = false;
  /** Bumped on every change of session or of mode: a callback of an older one does nothing. */
  private epoch = 0;
  private retryTimer: unknown;
  private failures = 0;
  private readonly onSessionStarted = () => {
    if (!this.running) return;
    this.lose('a new ZooKeeper session');
    void this.step(this.epoch);
  };
  private readonly onExpired = () => this.lose('the ZooKeeper session was lost');
  private readonly onConnected = () => {
    if (this.running && this.retryTimer !== undefined) {
      this.clock.clearTimer(this.retryTimer);
      this.retryTimer = undefined;
      void this.step(this.epoch);
    }
  };

  constructor(private readonly options: ZooKeeperLeaderLockOptions) {
    super();
    this.session = options.session;
    this.folder = (options.path ?? DEFAULT_LEADER_PATH).replace(/\/+$/, '');
    this.clock = options.clock ?? systemClock;
    this.retryMinMs = options.retryMinMs ?? 1000;
  }

  /** This candidate's identity. */
  get identity(): string {
    return this.options.identity;
  }

  /** Whether this candidate leads now (between `started-leading` and `stopped-leading`). */
  get isLeader(): boolean {
    return this.leading;
  }

  /** The identity of the first candidate in line, as last read (undefined before the line was read). */
  get leader(): string | undefined {
    return this.leaderIdentity;
  }

  /**
   * Queue up: resolves once this candidate's node is in line and the line was read (or the
   * try failed: it is retried in the background). Once the session's first connection is up.
   */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.session.on('session-started', this.onSessionStarted);
    this.session.on('expired', this.onExpired);
    this.session.on('connected', this.onConnected);
    // A session still making its first connection says `session-started` when it has: queue up then.
    if (this.session.state !== 'connecting') await this.step(this.epoch);
  }

  /** Leave the line: stops leading (`stopped-leading`) and removes this candidate's node. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.session.off('session-started', this.onSessionStarted);
    this.session.off('expired', this.onExpired);
    this.session.off('connected', this.onConnected);
    const node = this.ownNode;
    this.lose('stopped');
    if (node !== undefined) await this.session.remove(node).catch(() => undefined);
  }

  /** The node is gone (or no longer counts): stop leading now. */
  private lose(why: string): void {
    this.epoch += 1;
    this.ownNode = undefined;
    this.clock.clearTimer(this.retryTimer);
    this.retryTimer = undefined;
    if (this.leading) {
      this.leading = false;
      this.options.log?.('warn', 'ZooKeeper leader lock: stopped leading', { identity: this.identity, why });
      this.emit('stopped-leading');
    }
  }

  /** Queue up if not in line, then read the line; a failure is retried with backoff. */
  private async step(epoch: number): Promise<void> {
    try {
      if (this.ownNode === undefined) await this.enter(epoch);
      if (epoch === this.epoch && this.ownNode !== undefined) await this.check(epoch);
      if (epoch === this.epoch) this.failures = 0;
    } catch (error) {
      // A closed session is the end (the control plane is shutting down): nothing to retry.
      if (epoch !== this.epoch || !this.running || this.session.state === 'closed') return;
      this.failures += 1;
      const delayMs = Math.min(30_000, this.retryMinMs * 2 ** Math.min(this.failures - 1, 30));
      this.options.log?.('warn', 'ZooKeeper leader lock: retrying', { identity: this.identity, error: (error as Error).message, delayMs });
      this.clock.clearTimer(this.retryTimer);
      this.retryTimer = this.clock.setTimer(() => {
        this.retryTimer = undefined;
        if (epoch === this.epoch && this.running) void this.step(epoch);
      }, delayMs);
    }
  }

  private async enter(epoch: number): Promise<void> {
    await this.session.mkdirp(this.folder);
    let created: string | undefined;
    try {
      created = await this.session.create(`${this.folder}/${this.token}lock-`, Buffer.from(this.identity), 'ephemeral-sequential');
    } catch (error) {
      if (!(error instanceof ZooKeeperOperationError && error.failure === 'CONNECTION_LOSS')) throw error;
      // The create may have been made: find it by this candidate's token.
      const listed = await this.session.getChildren(this.folder);
      const mine = listed?.children.find((name) => name.startsWith(this.token));
      if (mine === undefined) throw error;
      created = `${this.folder}/${mine}`;
    }
    if (epoch !== this.epoch || !this.running) {
      // Made for a session or a run that is over: leave no stray candidate in line.
      await this.session.remove(created).catch(() => undefined);
      return;
    }
    this.ownNode = created;
  }

  private async check(epoch: number): Promise<void> {
    for (;;) {
      const own = this.ownNode;
      if (own === undefined) return;
      const listed = await this.session.getChildren(this.folder);
      if (epoch !== this.epoch) return;
      const names = (listed?.children ?? []).filter((name) => /\d{10}$/.test(name)).sort((a, b) => sequenceOf(a) - sequenceOf(b));
      const ownName = own.slice(this.folder.length + 1);
      const at = names.indexOf(ownName);
      if (at < 0) {
        // Our node was deleted (by hand): queue up again.
        this.lose('its node was deleted');
        void this.step(this.epoch);
        return;
      }
      const first = names[0]!;
      if (at === 0) {
        this.leaderIdentity = this.identity;
        // Watch our own node: deleted behind our back, we must stop writing.
        const stat = await this.session.exists(own, () => this.onOwnNodeChanged(epoch));
        if (epoch !== this.epoch) return;
        if (stat === undefined) continue;
        if (!this.leading) {
          this.leading = true;
          this.options.log?.('info', 'ZooKeeper leader lock: started leading', { identity: this.identity, node: own });
          this.emit('started-leading');
        }
        return;
      }
      if (this.leading) {
        // Someone queued before us (cannot happen in one session's line): never two writers.
        this.leading = false;
        this.emit('stopped-leading');
      }
      const read = await this.session.getData(`${this.folder}/${first}`).catch(() => undefined);
      if (epoch !== this.epoch) return;
      if (read !== undefined) this.leaderIdentity = read.data?.toString('utf8');
      const predecessor = `${this.folder}/${names[at - 1]!}`;
      const stat = await this.session.exists(predecessor, () => {
        if (epoch === this.epoch && this.running) void this.step(epoch);
      });
      if (epoch !== this.epoch) return;
      if (stat === undefined) continue; // gone meanwhile: read the line again
      return;
    }
  }

  private onOwnNodeChanged(epoch: number): void {
    if (epoch !== this.epoch || !this.running) return;
    void this.step(epoch);
  }
}
