/**
 * Dubbo's governance rules from the ZooKeeper config center (SPEC "Dubbo governance rules"),
 * as a control-plane source of DubboRule resources.
 */
import type { LocatedResource } from '@dubbo-mesh/config';
import type { ConfigSource, RejectedResource, SourceState } from '@dubbo-mesh/control-plane';
import { parseConfigCenterName, ruleResourceName, type ConfigCenterRuleName, type RuleKind } from '@dubbo-mesh/dubbo-rules';
import { systemClock, type Clock } from '@dubbo-mesh/leader-election';
import { readConfigCenterRule, configCenterOrigin } from './config-center-rule-document.js';
import { FlushDebounce } from './flush-debounce.js';
import { ZooKeeperWatch, type ImportContext } from './import-watch.js';
import type { ZooKeeperSession } from './zookeeper-session.js';

/** What the config-center rule source is made with. */
export interface ConfigCenterRuleSourceOptions {
  /** The bridge's session, started by the caller (the source never starts or closes it). */
  readonly session: ZooKeeperSession;
  /**
   * `--zookeeper-root` (default `/dubbo`): Dubbo's config center keeps rules in its namespace's
   * `config` folder, group `dubbo`, so they are read from `<root>/config/dubbo`.
   */
  readonly root?: string;
  /** The namespace of the DubboRule resources (`--registry-namespace`; a rule applies by its key whatever it is). Default `default`. */
  readonly namespace?: string;
  /** Changes are gathered for this long after the last one (default 100 ms), and at most `maxDelayMs` after the first (default 500 ms). */
  readonly debounceMs?: number;
  readonly maxDelayMs?: number;
  /** Timers (debounce, retries); `FakeClock` in tests. */
  readonly clock?: Clock;
  /** Retry delays of failed reads (default 1 s doubling to 30 s). */
  readonly retry?: { readonly initialMs: number; readonly maxMs: number };
  readonly log?: (level: 'info' | 'warn', message: string, fields: Record<string, unknown>) => void;
}

/** What one rule node holds for the source: the text last taken, the rule in force, the refusal of a newer text. */
interface NodeRecord {
  readonly path: string;
  readonly rule: ConfigCenterRuleName;
  /** The text last taken (read and judged). */
  text: string;
  /** The last valid version: what the node contributes, whatever came after it. */
  inForce: { readonly located: LocatedResource; readonly warnings: readonly string[] } | undefined;
  /** The current text when it is invalid: refused, {@link inForce} stays. */
  refused: { readonly errors: readonly string[]; readonly warnings: readonly string[]; readonly since: string } | undefined;
}

/** Everything followed in one ZooKeeper session. */
interface Generation {
  readonly id: number;
  readonly folder: ZooKeeperWatch<'children'>;
  /** Rule nodes listed in the folder, each followed. */
  readonly nodes: Map<string, ZooKeeperWatch<'data'>>;
  /** The text each listed rule node held when last read (absent: not read yet, or unreadable). */
  readonly texts: Map<string, string>;
  /** Children whose name holds no rule (`dubbo.properties`, other suffixes). */
  ignored: readonly string[];
  stopped: boolean;
}

const KINDS: readonly RuleKind[] = ['condition', 'tag', 'override'];

/**
 * The config center's rules (`<root>/config/dubbo/<key>.condition-router`, `.tag-router`,
 * `.configurators`) as DubboRule resources. It lists the folder and follows each rule node's
 * data (one-shot watches re-armed on each fire); other children are ignored and counted.
 *
 * A node's name decides its rule's kind and key (see {@link readConfigCenterRule}). A node
 * whose new text is invalid is refused (logged once per change, listed in `details()` with its
 * path and every error): its last valid version stays in force. A node that was never valid
 * contributes nothing; a deleted or emptied node removes its rule. Changes are debounced and
 * the whole state is emitted; an unchanged rule keeps its resource object and an unchanged
 * state is not emitted. While ZooKeeper is away the last rules stay; each new session lists
 * everything again and emits the difference once that listing is complete.
 */
export class ConfigCenterRuleSource implements ConfigSource {
  readonly name = 'zookeeper-rules';
  readonly type = 'zookeeper';
  readonly refusal = 'resource' as const;
  /** The folder rules are read from. */
  readonly configPath: string;
  private readonly session: ZooKeeperSession;
  private readonly namespace: string;
  private readonly clock: Clock;
  private readonly records = new Map<string, NodeRecord>();
  private emit: ((state: SourceState) => void) | undefined;
  private current: Generation | undefined;
  private pending: Generation | undefined;
  private generations = 0;
  private stopped = false;
  private readonly debounce: FlushDebounce;
  private dirty = false;
  private emitted: readonly LocatedResource[] | undefined;
  private builderRefused: ReadonlyMap<string, readonly string[]> = new Map();
  private readonly failingPaths = new Map<string, { error: string; since: string }>();
  private disconnection: string | undefined;
  private lastChange: Date | undefined;
  private lastRelist: Date | undefined;
  private readonly counters = { reads: 0, listings: 0, emits: 0, relists: 0, refusals: 0 };
  private resolveFirst!: () => void;
  private readonly firstComplete = new Promise<void>((resolve) => (this.resolveFirst = resolve));
  private readonly listeners: Array<[string, () => void]> = [];

  constructor(private readonly options: ConfigCenterRuleSourceOptions) {
    this.session = options.session;
    const root = (options.root ?? '/dubbo').replace(/(.)\/+$/, '$1');
    this.configPath = `${root === '/' ? '' : root}/config/dubbo`;
    this.namespace = options.namespace ?? 'default';
    this.clock = options.clock ?? systemClock;
    this.debounce = new FlushDebounce(this.clock, options.debounceMs ?? 100, options.maxDelayMs ?? 500, () => this.flush(false));
  }

  /** List the rules; resolves once the first complete listing was emitted. */
  async start(emit: (state: SourceState) => void): Promise<void> {
    this.stopped = false;
    this.emit = emit;
    this.listen('disconnected', () => {
      this.disconnection = `ZooKeeper connection lost at ${new Date().toISOString()}; the last rules stay in force`;
    });
    this.listen('expired', () => {
      this.disconnection = `ZooKeeper session expired at ${new Date().toISOString()}; a new session is being made, the last rules stay in force`;
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
    this.stopGeneration(this.pending);
    this.stopGeneration(this.current);
    this.resolveFirst();
  }

  /** Connected while the session is: otherwise why not, with the last rules in force. */
  connection(): { connected: boolean; error?: string } {
    if (this.session.state === 'connected') return { connected: true };
    return { connected: false, error: this.disconnection ?? `ZooKeeper ${this.session.state}; the last rules stay in force` };
  }

  /** Told by the snapshot builder which rules it left out (a rule of the same kind and key from another source …): logged and shown in details. */
  onResourcesRefused(refused: ReadonlyMap<string, readonly string[]>): void {
    const before = this.builderRefused;
    this.builderRefused = refused;
    for (const [origin, errors] of refused)
      if (before.get(origin)?.join('\n') !== errors.join('\n'))
        this.options.log?.('warn', `a config-center rule is refused by the control plane: ${errors.join('; ')}`, { origin, errors });
  }

  /**
   * Rule nodes whose current text is refused (`GET /api/v1/rules`), each named as the DubboRule
   * it would be, with every error and whether its last valid version is in force meanwhile.
   */
  rejectedResources(): RejectedResource[] {
    const out: RejectedResource[] = [];
    for (const record of this.records.values()) {
      if (record.refused === undefined) continue;
      out.push({
        kind: 'DubboRule',
        name: `${this.namespace}/${ruleResourceName(record.rule.kind, record.rule.key)}`,
        origin: configCenterOrigin(record.path),
        errors: record.refused.errors,
        lastValidInForce: record.inForce !== undefined,
      });
    }
    return out;
  }

  /** The rules in force now, by node path (for tests and the admin API). */
  rules(): ReadonlyMap<string, LocatedResource> {
    const rules = new Map<string, LocatedResource>();
    for (const record of this.records.values()) if (record.inForce !== undefined) rules.set(record.path, record.inForce.located);
    return rules;
  }

  /** For `GET /api/v1/sources`: where rules are read, how many of each kind, what is ignored, refused or warned about. */
  details(): Record<string, unknown> {
    const byKind = Object.fromEntries(KINDS.map((kind) => [kind, 0])) as Record<RuleKind, number>;
    const records = [...this.records.values()];
    for (const record of records) if (record.inForce !== undefined) byKind[record.rule.kind] += 1;
    const ignored = this.current?.ignored ?? [];
    return {
      configPath: this.configPath,
      namespace: this.namespace,
      connected: this.session.state === 'connected',
      session: this.session.sessionId ?? null,
      nodes: records.length,
      rules: byKind,
      ignored: ignored.length,
      ignoredExamples: ignored.slice(0, 10),
      refused: records
        .filter((record) => record.refused !== undefined)
        .map((record) => ({ path: record.path, errors: record.refused!.errors, since: record.refused!.since, lastValidInForce: record.inForce !== undefined })),
      warnings: records.flatMap((record) => {
        const warnings = record.refused?.warnings ?? record.inForce?.warnings ?? [];
        return warnings.length === 0 ? [] : [{ path: record.path, warnings }];
      }),
      refusedByControlPlane: [...this.builderRefused].map(([origin, errors]) => ({ origin, errors })),
      reads: this.counters.reads,
      listings: this.counters.listings,
      refusals: this.counters.refusals,
      emits: this.counters.emits,
      relists: this.counters.relists,
      relisting: this.pending !== undefined,
      lastChange: this.lastChange?.toISOString() ?? null,
      lastRelist: this.lastRelist?.toISOString() ?? null,
      failingPaths: [...this.failingPaths].map(([path, failure]) => ({ path, ...failure })),
    };
  }

  private listen(event: 'connected' | 'disconnected' | 'expired' | 'session-started', listener: () => void): void {
    this.session.on(event, listener);
    this.listeners.push([event, listener]);
  }

  private stopGeneration(generation: Generation | undefined): void {
    if (generation === undefined) return;
    generation.stopped = true;
    generation.folder.stop();
    for (const watch of generation.nodes.values()) watch.stop();
  }

  /** A new generation: list everything; it replaces the current one once complete. */
  private begin(): void {
    if (this.stopped) return;
    const id = ++this.generations;
    const context: ImportContext = {
      session: this.session,
      clock: this.clock,
      ...(this.options.retry === undefined ? {} : { retry: this.options.retry }),
      onChange: () => this.changed(generation),
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
      folder: new ZooKeeperWatch(context, this.configPath, 'children', (value) => {
        this.counters.listings += 1;
        this.listed(context, generation, value?.children ?? []);
      }),
      nodes: new Map(),
      texts: new Map(),
      ignored: [],
      stopped: false,
    };
    this.stopGeneration(this.pending);
    this.pending = generation;
    void this.listing(generation).then(() => this.complete(generation));
  }

  /** Resolves once the folder and every rule node listed in it (so far) were read once. */
  private async listing(generation: Generation): Promise<void> {
    await generation.folder.start();
    // Nodes listed while the first ones are read are waited for too.
    for (;;) {
      const watches = [...generation.nodes.values()];
      await Promise.all(watches.map((watch) => watch.firstRead));
      if (generation.stopped || watches.length === generation.nodes.size) return;
    }
  }

  /** The folder's children: follow new rule nodes, forget gone ones, count the rest. */
  private listed(context: ImportContext, generation: Generation, children: readonly string[]): void {
    const names = new Set<string>();
    const ignored: string[] = [];
    for (const child of children) {
      if (parseConfigCenterName(child) === undefined) ignored.push(child);
      else names.add(child);
    }
    generation.ignored = ignored.sort();
    for (const [name, watch] of generation.nodes)
      if (!names.has(name)) {
        watch.stop();
        generation.nodes.delete(name);
        generation.texts.delete(name);
      }
    for (const name of names) {
      if (generation.nodes.has(name)) continue;
      // The folder is followed already: a node deleted between the listing and its read is simply absent.
      const watch = new ZooKeeperWatch(
        context,
        `${this.configPath}/${name}`,
        'data',
        (value) => {
          this.counters.reads += 1;
          if (value === undefined) generation.texts.delete(name);
          else generation.texts.set(name, value.data?.toString('utf8') ?? '');
          context.onChange();
        },
        false,
      );
      generation.nodes.set(name, watch);
      void watch.start();
    }
    context.onChange();
  }

  /** A generation listed everything: it becomes the one followed, and its state is emitted. */
  private complete(generation: Generation): void {
    if (this.stopped || this.pending !== generation) return;
    this.pending = undefined;
    const previous = this.current;
    this.current = generation;
    if (previous !== undefined) {
      this.stopGeneration(previous);
      this.counters.relists += 1;
      this.lastRelist = new Date();
      this.options.log?.('info', 'ZooKeeper config center listed again in a new session', { path: this.configPath, generation: generation.id });
    }
    this.dirty = true;
    // A complete listing is emitted even if the connection dropped meanwhile: it is what the config center held.
    this.flush(true);
    this.resolveFirst();
  }

  /** Something the current generation follows changed: emit after the debounce. */
  private changed(generation: Generation): void {
    if (this.current !== generation) return;
    this.dirty = true;
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped || this.current === undefined) return;
    this.debounce.schedule();
  }

  /** Judge what changed and emit the rules in force if any changed; held while disconnected unless `force`. */
  private flush(force: boolean): void {
    const generation = this.current;
    if (this.stopped || this.emit === undefined || generation === undefined) return;
    if (!force && this.session.state !== 'connected') return;
    this.debounce.cancel();
    this.dirty = false;
    const names = [...generation.nodes.keys()].sort();
    for (const name of [...this.records.keys()]) if (!generation.nodes.has(name)) this.records.delete(name);
    for (const name of names) {
      const text = generation.texts.get(name);
      // Not read (yet, or unreadable): what the node held before stays.
      if (text === undefined) continue;
      const record = this.records.get(name);
      if (record !== undefined && record.text === text) continue;
      this.take(name, text, record);
    }
    const resources = names.flatMap((name) => {
      const located = this.records.get(name)?.inForce?.located;
      return located === undefined ? [] : [located];
    });
    const previous = this.emitted;
    if (previous !== undefined && previous.length === resources.length && previous.every((item, i) => item === resources[i])) return;
    this.emitted = resources;
    this.counters.emits += 1;
    this.lastChange = new Date();
    this.emit({ kind: 'resources', resources });
  }

  /** Judge a node's new text: a rule in force, a refusal (the last valid stays), or no rule. */
  private take(name: string, text: string, before: NodeRecord | undefined): void {
    const rule = parseConfigCenterName(name)!;
    const path = `${this.configPath}/${name}`;
    const record: NodeRecord = before ?? { path, rule, text, inForce: undefined, refused: undefined };
    record.text = text;
    const read = readConfigCenterRule({ path, rule, text, namespace: this.namespace });
    if (read.kind === 'empty') {
      record.inForce = undefined;
      record.refused = undefined;
    } else if (read.kind === 'rule') {
      record.inForce = { located: read.located, warnings: read.warnings };
      record.refused = undefined;
      if (read.warnings.length > 0)
        this.options.log?.('warn', 'a config-center rule is taken with warnings', { origin: configCenterOrigin(path), warnings: read.warnings });
    } else {
      record.refused = { errors: read.errors, warnings: read.warnings, since: new Date().toISOString() };
      this.counters.refusals += 1;
      this.options.log?.(
        'warn',
        record.inForce === undefined
          ? `a config-center rule is refused: ${read.errors.join('; ')}`
          : `a config-center rule is refused, its last valid version stays in force: ${read.errors.join('; ')}`,
        { origin: configCenterOrigin(path), errors: read.errors },
      );
    }
    this.records.set(name, record);
  }
}
