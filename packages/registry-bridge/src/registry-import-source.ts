import type { LocatedResource } from '@dubbo-mesh/config';
import type { ConfigSource, SourceState } from '@dubbo-mesh/control-plane';
import { systemClock, type Clock } from '@dubbo-mesh/leader-election';
import { FlushDebounce } from './flush-debounce.js';
import { ApplicationLevelImport, MetadataCache } from './import-application-level.js';
import { InterfaceLevelImport } from './import-interface-level.js';
import { summariseSkips } from './import-skips.js';
import type { ImportContext } from './import-watch.js';
import { ImportedResourceCache, ImportedServiceBuilder, type ImportedService, type InvalidImportedService } from './imported-services.js';
import { fetchMetadataInfo, type MetadataFetcher } from './metadata-service-client.js';
import type { ZooKeeperSession } from './zookeeper-session.js';

/** What the registry import source is made with. */
export interface RegistryImportSourceOptions {
  /** The bridge's session, started by the caller (the import never starts or closes it). */
  readonly session: ZooKeeperSession;
  /** `--zookeeper-root`: interface-level providers, mapping and metadata live under it. Default `/dubbo`. */
  readonly root?: string;
  /** Where Dubbo 3 application instances live. Default `/services`. */
  readonly servicesRoot?: string;
  /** `--registry-namespace`: the namespace of every imported DubboService. Default `default`. */
  readonly namespace?: string;
  /**
   * Changes are gathered for this long after the last one before a new state is emitted
   * (default 100 ms), and for at most `maxDelayMs` after the first (default 500 ms): a burst of
   * 1,000 node changes is one state, and a change still reaches proxies within a second.
   */
  readonly debounceMs?: number;
  readonly maxDelayMs?: number;
  /** Timers (debounce, retries, warm-up steps). */
  readonly clock?: Clock;
  /** Wall clock, ms since the epoch, for warm-up (providers' `timestamp` is one). Default `Date.now`. */
  readonly wallClock?: () => number;
  /** How `local` application metadata is fetched. Default: the Dubbo MetadataService call. */
  readonly metadata?: MetadataFetcher;
  /** Retry delays of failed reads and metadata fetches (default 1 s doubling to 30 s). */
  readonly retry?: { readonly initialMs: number; readonly maxMs: number };
  readonly log?: (level: 'info' | 'warn', message: string, fields: Record<string, unknown>) => void;
}

/** Everything read in one ZooKeeper session: the import of that session. */
interface Generation {
  readonly id: number;
  readonly interfaces: InterfaceLevelImport;
  readonly applications: ApplicationLevelImport;
}

/**
 * The registry bridge's import (SPEC "Registry bridge"): every provider of a ZooKeeper Dubbo
 * registry, interface-level and application-level, as DubboServices of `--registry-namespace`
 * — one per Dubbo application, `mergeable` into a mesh service of the same name.
 *
 * Each ZooKeeper session is one generation: it lists everything, then follows changes with
 * one-shot watches re-armed on each fire. After a session expiry (`session-started`) a new
 * generation lists everything again; only once it is complete does it replace the old one,
 * and the diff is emitted (removals made meanwhile included). While the connection is down
 * nothing is emitted: the last import stays in force. A failed read is retried with backoff
 * and never fails the source. Changes are debounced; an unchanged application keeps its
 * resource object, so the control plane re-encodes nothing.
 */
export class RegistryImportSource implements ConfigSource {
  readonly name = 'zookeeper';
  readonly type = 'zookeeper';
  readonly refusal = 'resource' as const;
  private readonly session: ZooKeeperSession;
  private readonly root: string;
  private readonly namespace: string;
  private readonly clock: Clock;
  private readonly wallClock: () => number;
  private readonly metadataCache = new MetadataCache();
  private readonly builder = new ImportedServiceBuilder();
  private readonly resourceCache = new ImportedResourceCache();
  private emit: ((state: SourceState) => void) | undefined;
  private current: Generation | undefined;
  private pending: Generation | undefined;
  private generations = 0;
  private stopped = false;
  private readonly debounce: FlushDebounce;
  private warmUpTimer: unknown;
  /** A change is waiting to be emitted (held while disconnected). */
  private dirty = false;
  private emitted: readonly LocatedResource[] | undefined;
  private services: readonly ImportedService[] = [];
  private invalid: readonly InvalidImportedService[] = [];
  private builderRefused: ReadonlyMap<string, readonly string[]> = new Map();
  private readonly failingPaths = new Map<string, { error: string; since: string }>();
  private disconnection: string | undefined;
  private lastChange: Date | undefined;
  private lastRelist: Date | undefined;
  private emits = 0;
  private relists = 0;
  private resolveFirst!: () => void;
  private readonly firstComplete = new Promise<void>((resolve) => (this.resolveFirst = resolve));
  private readonly listeners: Array<[string, () => void]> = [];

  constructor(private readonly options: RegistryImportSourceOptions) {
    this.session = options.session;
    this.root = (options.root ?? '/dubbo').replace(/(.)\/+$/, '$1');
    this.namespace = options.namespace ?? 'default';
    this.clock = options.clock ?? systemClock;
    this.wallClock = options.wallClock ?? Date.now;
    this.debounce = new FlushDebounce(this.clock, options.debounceMs ?? 100, options.maxDelayMs ?? 500, () => this.flush(false));
  }

  /** List everything; resolves once the first complete listing was emitted. */
  async start(emit: (state: SourceState) => void): Promise<void> {
    this.stopped = false;
    this.emit = emit;
    this.listen('disconnected', () => {
      this.disconnection = `ZooKeeper connection lost at ${new Date().toISOString()}; the last import stays in force`;
    });
    this.listen('expired', () => {
      this.disconnection = `ZooKeeper session expired at ${new Date().toISOString()}; a new session is being made, the last import stays in force`;
    });
    this.listen('connected', () => {
      this.disconnection = undefined;
      if (this.dirty) this.schedule();
    });
    // A new session has no watches: list everything again.
    this.listen('session-started', () => this.begin());
    this.begin();
    await this.firstComplete;
  }

  /** Stop following ZooKeeper (the session is the caller's: it stays open). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const [event, listener] of this.listeners.splice(0)) this.session.off(event as 'connected', listener);
    this.debounce.cancel();
    this.clock.clearTimer(this.warmUpTimer);
    this.warmUpTimer = undefined;
    this.pending?.interfaces.stop();
    this.pending?.applications.stop();
    this.current?.interfaces.stop();
    this.current?.applications.stop();
    this.resolveFirst();
  }

  /** Connected while the session is: otherwise why not, with the last import in force. */
  connection(): { connected: boolean; error?: string } {
    if (this.session.state === 'connected') return { connected: true };
    return { connected: false, error: this.disconnection ?? `ZooKeeper ${this.session.state}; the last import stays in force` };
  }

  /** Told by the snapshot builder which imported services it left out (a claim conflict with a mesh service): logged and shown in details. */
  onResourcesRefused(refused: ReadonlyMap<string, readonly string[]>): void {
    const before = this.builderRefused;
    this.builderRefused = refused;
    for (const [origin, errors] of refused)
      if (before.get(origin)?.join('\n') !== errors.join('\n'))
        this.options.log?.('warn', `an imported service is refused: ${errors.join('; ')}`, { origin, errors });
  }

  /** The DubboServices imported now (for `GET /api/v1/registry`). */
  imported(): readonly ImportedService[] {
    return this.services;
  }

  /** For `GET /api/v1/sources`: what is followed and imported, what is skipped and why, failures, ZooKeeper reads. */
  details(): Record<string, unknown> {
    const generation = this.current;
    const interfaces = generation?.interfaces.stats();
    const applications = generation?.applications.stats();
    const skips = summariseSkips(generation === undefined ? [] : [...generation.interfaces.skipped(), ...generation.applications.skipped()]);
    return {
      root: this.root,
      servicesRoot: this.options.servicesRoot ?? '/services',
      namespace: this.namespace,
      connected: this.session.state === 'connected',
      session: this.session.sessionId ?? null,
      interfaces: interfaces?.interfaces ?? 0,
      interfacesWithProviders: interfaces?.interfacesWithProviders ?? 0,
      apps: applications?.applications ?? 0,
      instances: applications?.instances ?? 0,
      instancesByStatus: applications?.instancesByStatus ?? {},
      providers: (interfaces?.providers ?? 0) + (applications?.providers ?? 0),
      services: this.services.length,
      endpoints: this.services.reduce((sum, service) => sum + ((service.raw.spec as { endpoints: unknown[] }).endpoints.length ?? 0), 0),
      skipped: skips.counts,
      skippedExamples: skips.examples,
      refused: [
        ...this.invalid.map((service) => ({ service: service.name, origin: service.origin, errors: service.errors })),
        ...[...this.builderRefused].map(([origin, errors]) => ({ service: origin.slice(origin.lastIndexOf('#') + 1), origin, errors })),
      ],
      lastChange: this.lastChange?.toISOString() ?? null,
      lastRelist: this.lastRelist?.toISOString() ?? null,
      emits: this.emits,
      relists: this.relists,
      relisting: this.pending !== undefined,
      zookeeper: { ...this.session.counters },
      failingPaths: [...this.failingPaths].map(([path, failure]) => ({ path, ...failure })),
      metadataFailures: applications?.metadataFailures ?? [],
      metadataRevisions: this.metadataCache.size,
      metadataFetches: this.metadataCache.fetches,
    };
  }

  private listen(event: 'connected' | 'disconnected' | 'expired' | 'session-started', listener: () => void): void {
    this.session.on(event, listener);
    this.listeners.push([event, listener]);
  }

  /** A new generation: list everything; it replaces the current one once complete. */
  private begin(): void {
    if (this.stopped) return;
    const id = ++this.generations;
    const context: ImportContext = {
      session: this.session,
      clock: this.clock,
      retry: this.options.retry,
      onChange: () => {
        if (this.current?.id === id) this.changed();
      },
      onError: (path, error) => {
        if (!this.failingPaths.has(path)) this.options.log?.('warn', 'ZooKeeper read failed; retrying with backoff', { path, error: error.message });
        this.failingPaths.set(path, { error: error.message, since: this.failingPaths.get(path)?.since ?? new Date().toISOString() });
      },
      onRecovered: (path) => {
        this.failingPaths.delete(path);
      },
    };
    const generation: Generation = {
      id,
      interfaces: new InterfaceLevelImport(context, this.root),
      applications: new ApplicationLevelImport(context, {
        servicesRoot: (this.options.servicesRoot ?? '/services').replace(/(.)\/+$/, '$1'),
        metadataRoot: `${this.root === '/' ? '' : this.root}/metadata`,
        metadata: this.options.metadata ?? fetchMetadataInfo,
        cache: this.metadataCache,
        generation: id,
      }),
    };
    if (this.pending !== undefined) {
      this.pending.interfaces.stop();
      this.pending.applications.stop();
    }
    this.pending = generation;
    void Promise.all([generation.interfaces.start(), generation.applications.start()]).then(() => this.complete(generation));
  }

  /** A generation listed everything: it becomes the import, and its state is emitted. */
  private complete(generation: Generation): void {
    if (this.stopped || this.pending !== generation) return;
    this.pending = undefined;
    const previous = this.current;
    this.current = generation;
    if (previous !== undefined) {
      previous.interfaces.stop();
      previous.applications.stop();
      this.relists += 1;
      this.lastRelist = new Date();
      this.options.log?.('info', 'ZooKeeper registry listed again in a new session', { generation: generation.id });
    }
    this.dirty = true;
    // A complete listing is emitted even if the connection dropped meanwhile: it is what the registry held.
    this.flush(true);
    this.resolveFirst();
  }

  /** Something changed: emit after the debounce. */
  private changed(): void {
    this.dirty = true;
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped || this.current === undefined) return;
    this.debounce.schedule();
  }

  /** Build the resources and emit them if any changed; held while disconnected unless `force`. */
  private flush(force: boolean): void {
    const generation = this.current;
    if (this.stopped || this.emit === undefined || generation === undefined) return;
    if (!force && this.session.state !== 'connected') return;
    this.debounce.cancel();
    this.dirty = false;
    const now = this.wallClock();
    const built = this.builder.build([...generation.interfaces.providers(), ...generation.applications.providers()], { namespace: this.namespace, now });
    const { resources, invalid } = this.resourceCache.resolve(built.services);
    for (const service of invalid)
      if (!this.invalid.some((held) => held.name === service.name && held.errors.join() === service.errors.join()))
        this.options.log?.('warn', `imported service ${service.name} is invalid and left out`, { origin: service.origin, errors: service.errors });
    this.services = built.services;
    this.invalid = invalid;
    this.metadataCache.retain(new Set([...generation.applications.revisionKeys(), ...(this.pending?.applications.revisionKeys() ?? [])]));
    this.armWarmUp(built.nextWarmUpStepAt, now);
    const previous = this.emitted;
    if (previous !== undefined && previous.length === resources.length && previous.every((item, i) => item === resources[i])) return;
    this.emitted = resources;
    this.emits += 1;
    this.lastChange = new Date();
    this.emit({ kind: 'resources', resources });
  }

  /** While an endpoint warms, build again when its weight next steps up. */
  private armWarmUp(nextStepAt: number | undefined, now: number): void {
    this.clock.clearTimer(this.warmUpTimer);
    this.warmUpTimer = undefined;
    if (nextStepAt === undefined) return;
    this.warmUpTimer = this.clock.setTimer(
      () => {
        this.warmUpTimer = undefined;
        this.dirty = true;
        this.flush(false);
      },
      Math.max(0, nextStepAt - now),
    );
  }
}
