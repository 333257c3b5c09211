import { makeInformer, type Informer, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import { Backoff } from './backoff.js';
import type { Clock } from './clock.js';

/** One type an informer follows: where to watch it and how to list it. */
export interface InformedType<T extends KubernetesObject = KubernetesObject> {
  /** The kind, for status and logs (`Pod`, `DubboRoute`). */
  readonly kind: string;
  /** The watch path (`/api/v1/pods`, `/api/v1/namespaces/NS/pods`). */
  readonly path: string;
  /** List every object at `path`, with the list's `metadata.resourceVersion`. */
  list(): Promise<KubernetesListObject<T>>;
}

/** What an informer tells its owner: an object is new or changed, or gone. */
export interface InformerHandler<T extends KubernetesObject = KubernetesObject> {
  /** `previous` is the version known before (undefined for a new object). */
  onUpsert(object: T, previous: T | undefined): void;
  onDelete(object: T): void;
}

/** Where one informer stands, for `GET /api/v1/sources`. */
export interface InformerStatus {
  readonly kind: string;
  /** Its last list or watch worked and no error came since. */
  readonly connected: boolean;
  /** Its first list is done. */
  readonly synced: boolean;
  readonly objects: number;
  readonly lastEventAt: Date | undefined;
  readonly lastRelistAt: Date | undefined;
  readonly lastError: string | undefined;
  /** Restarts after errors, and re-lists forced by the watchdog, since start. */
  readonly restarts: number;
  readonly watchdogRelists: number;
}

/** Timing of an informer; every field has a production default. */
export interface InformerOptions {
  readonly clock: Clock;
  /** Wall time, for the status's dates. */
  readonly wallClock?: () => Date;
  /** First restart delay after an error (default 1 s), doubling up to `maxBackoffMs` (default 30 s). */
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /**
   * A watch that brought nothing — no event, no bookmark, no reconnect — for this long is
   * taken for dead and the type is listed again (default 5 min; the API server sends a
   * bookmark about every minute to a watch that asks for them, as this one does).
   */
  readonly silenceMs?: number;
  readonly log?: (level: 'info' | 'warn', message: string, fields: Record<string, unknown>) => void;
}

const key = (object: KubernetesObject): string => `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown; statusCode?: unknown }).statusCode ?? (error as { code?: unknown }).code;
    const head = error.message.split('\n')[0]!.slice(0, 300);
    return typeof code === 'number' || typeof code === 'string' ? `${head} (${code})` : head;
  }
  return String(error);
}

/**
 * `@kubernetes/client-node`'s informer (`ListWatch`), made to keep going. That informer lists,
 * then watches from the list's resourceVersion, re-lists on 410, and re-watches when a watch
 * ends — but:
 * - it **stops for good** on any other error (a refused connection, a 500, a 403): here it is
 *   started again after a backoff of 1 s doubling to 30 s, reset by progress;
 * - a watch can go **silent for good** with no error (a half-open connection): a watchdog
 *   lists the type again when nothing — no event, no bookmark, no reconnect — came for
 *   `silenceMs`, by replacing the informer;
 * - every re-list (after 410, or the watchdog's) is diffed against what was known, so objects
 *   deleted meanwhile are reported deleted, and an object whose resourceVersion did not change
 *   is not reported again (a reconnect's `connect` and a re-list's replays change nothing).
 * The objects are kept here (one store whichever informer instance brought them).
 */
export class ResilientInformer<T extends KubernetesObject = KubernetesObject> {
  private readonly store = new Map<string, T>();
  private informer: Informer<T> | undefined;
  private readonly backoff: Backoff;
  private retryTimer: unknown;
  private watchdogTimer: unknown;
  private stopped = true;
  private connected = false;
  private synced = false;
  private lastError: string | undefined;
  private lastEventAt: Date | undefined;
  private lastRelistAt: Date | undefined;
  private lastProgress = 0;
  private lastResourceVersion = '';
  private restarts = 0;
  /** Errors since start (a start that saw none is progress). */
  private failures = 0;
  private watchdogRelists = 0;
  private onSynced: (() => void) | undefined;
  private readonly wallClock: () => Date;
  private readonly silenceMs: number;

  constructor(
    private readonly type: InformedType<T>,
    private readonly kubeConfig: KubeConfig,
    private readonly handler: InformerHandler<T>,
    private readonly options: InformerOptions,
  ) {
    this.backoff = new Backoff(options.initialBackoffMs ?? 1_000, options.maxBackoffMs ?? 30_000);
    this.wallClock = options.wallClock ?? (() => new Date());
    this.silenceMs = options.silenceMs ?? 300_000;
  }

  get kind(): string {
    return this.type.kind;
  }

  /** Start; resolves once the first list is done (it may take retries: this waits for them). */
  start(): Promise<void> {
    this.stopped = false;
    this.lastProgress = this.options.clock.now();
    const synced = new Promise<void>((resolve) => {
      this.onSynced = resolve;
    });
    this.replaceInformer();
    this.armWatchdog();
    return synced;
  }

  /** Stop every list, watch and timer. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.options.clock.clearTimer(this.retryTimer);
    this.options.clock.clearTimer(this.watchdogTimer);
    const informer = this.informer;
    this.informer = undefined;
    this.connected = false;
    await informer?.stop();
  }

  /** Every object known now. */
  list(): T[] {
    return [...this.store.values()];
  }

  /** One object by namespace (empty for cluster-scoped) and name. */
  get(namespace: string, name: string): T | undefined {
    return this.store.get(`${namespace}/${name}`);
  }

  status(): InformerStatus {
    return {
      kind: this.type.kind,
      connected: this.connected,
      synced: this.synced,
      objects: this.store.size,
      lastEventAt: this.lastEventAt,
      lastRelistAt: this.lastRelistAt,
      lastError: this.lastError,
      restarts: this.restarts,
      watchdogRelists: this.watchdogRelists,
    };
  }

  private progress(): void {
    this.lastProgress = this.options.clock.now();
    this.connected = true;
    this.lastError = undefined;
    this.backoff.reset();
  }

  /** A new client informer (a full list, then a watch): at start, and when the watchdog gives up on a watch. */
  private replaceInformer(): void {
    const previous = this.informer;
    // The watch asks for bookmarks, so a quiet type still shows progress (its resourceVersion moves).
    const separator = this.type.path.includes('?') ? '&' : '?';
    const informer: Informer<T> = makeInformer<T>(
      this.kubeConfig,
      `${this.type.path}${separator}allowWatchBookmarks=true`,
      (): Promise<KubernetesListObject<T>> => this.listed(informer),
    );
    this.informer = informer;
    informer.on('add', (object: T) => this.upsert(informer, object));
    informer.on('update', (object: T) => this.upsert(informer, object));
    informer.on('delete', (object: T) => this.remove(informer, object));
    informer.on('error', (error: unknown) => this.failed(informer, error));
    // A watch that ended and is opened again (the API server ends every watch after a while)
    // is alive: the watchdog waits from here.
    informer.on('connect', () => {
      if (this.informer === informer) this.lastProgress = this.options.clock.now();
    });
    if (previous !== undefined) void previous.stop();
    this.run(informer);
  }

  private run(informer: Informer<T>): void {
    const failuresBefore = this.failures;
    informer.start().then(
      () => {
        if (this.informer !== informer || this.stopped) return;
        // Listed or watching again with no error on the way: connected (the watchdog watches it from here).
        if (this.failures === failuresBefore) this.progress();
        if (this.synced) this.onSynced?.();
      },
      (error: unknown) => this.failed(informer, error),
    );
  }

  /** The list function the client informer calls: list, then diff against what is known, so deletions made meanwhile are seen. */
  private async listed(informer: Informer<T>): Promise<KubernetesListObject<T>> {
    const list = await this.type.list();
    // Stopped or replaced meanwhile: fail the client informer's start, so it opens no watch
    // (it does not check whether it was stopped once its list returns).
    if (this.informer !== informer || this.stopped) throw new Error(`the ${this.type.kind} informer was stopped`);
    const seen = new Set<string>();
    for (const item of list.items) {
      seen.add(key(item));
      this.upsert(informer, item);
    }
    for (const [name, object] of this.store) {
      if (seen.has(name)) continue;
      this.store.delete(name);
      this.handler.onDelete(object);
    }
    this.lastRelistAt = this.wallClock();
    this.lastResourceVersion = list.metadata?.resourceVersion ?? '';
    this.synced = true;
    this.progress();
    return list;
  }

  private upsert(informer: Informer<T>, object: T): void {
    if (this.informer !== informer || this.stopped) return;
    this.progress();
    const name = key(object);
    const previous = this.store.get(name);
    // A reconnect or re-list replays objects: an unchanged resourceVersion is no change.
    if (previous !== undefined && previous.metadata?.resourceVersion !== undefined && previous.metadata.resourceVersion === object.metadata?.resourceVersion)
      return;
    this.store.set(name, object);
    this.lastEventAt = this.wallClock();
    this.handler.onUpsert(object, previous);
  }

  private remove(informer: Informer<T>, object: T): void {
    if (this.informer !== informer || this.stopped) return;
    this.progress();
    const name = key(object);
    const known = this.store.get(name);
    if (known === undefined) return; // a re-list's diff reported it already
    this.store.delete(name);
    this.lastEventAt = this.wallClock();
    this.handler.onDelete(known);
  }

  /** The client informer stopped on an error: start it again after the backoff. */
  private failed(informer: Informer<T>, error: unknown): void {
    if (this.informer !== informer || this.stopped) return;
    this.failures += 1;
    this.connected = false;
    this.lastError = describeError(error);
    const delayMs = this.backoff.next();
    this.options.log?.('warn', `kubernetes ${this.type.kind} informer failed; retrying`, { error: this.lastError, retryInMs: delayMs });
    this.options.clock.clearTimer(this.retryTimer);
    this.retryTimer = this.options.clock.setTimer(() => {
      if (this.informer !== informer || this.stopped) return;
      this.restarts += 1;
      // Resumes the watch from the last resourceVersion, or lists again when there is none.
      this.run(informer);
    }, delayMs);
  }

  private armWatchdog(): void {
    const checkMs = Math.max(1, Math.floor(this.silenceMs / 4));
    this.watchdogTimer = this.options.clock.setTimer(() => {
      if (this.stopped) return;
      this.checkSilence();
      this.armWatchdog();
    }, checkMs);
  }

  private checkSilence(): void {
    const informer = this.informer;
    if (informer === undefined) return;
    // A bookmark moves the resourceVersion without any object event: progress too.
    const resourceVersion = (informer as unknown as { latestResourceVersion?: () => string }).latestResourceVersion?.() ?? '';
    if (resourceVersion !== '' && resourceVersion !== this.lastResourceVersion) {
      this.lastResourceVersion = resourceVersion;
      this.progress();
      return;
    }
    // Failing, with a restart pending: the backoff is in charge, not the watchdog.
    if (!this.connected) return;
    if (this.options.clock.now() - this.lastProgress < this.silenceMs) return;
    this.watchdogRelists += 1;
    this.options.log?.('warn', `kubernetes ${this.type.kind} watch brought nothing for ${Math.round(this.silenceMs / 1000)} s; listing again`, {});
    this.lastProgress = this.options.clock.now();
    this.replaceInformer();
  }
}
