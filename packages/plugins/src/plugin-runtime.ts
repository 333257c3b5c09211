import path from 'node:path';
import type { DubboPluginConfig, MeshConfig } from '@dubbo-mesh/config';
import { sameFilters, type ProxyExtension, type ProxyExtensionHost } from '@dubbo-mesh/proxy';
import { PluginBreaker } from './plugin-breaker.js';
import { PluginFilter } from './plugin-filter.js';
import { GrpcPluginInvoker, ModulePluginInvoker, PluginChannel, type PluginInvoker } from './plugin-invoker.js';
import { PluginModule } from './plugin-module.js';
import { PluginStats, pluginsToPrometheus } from './plugin-stats.js';

/** Options of a {@link PluginRuntime}. */
export interface PluginRuntimeOptions {
  /** Where relative `module` paths are resolved from; default the working directory. */
  readonly baseDir?: string;
  /** When set, in-process modules load only from inside this folder (`--plugin-module-root`). */
  readonly moduleRoot?: string;
  /** One line per event worth an operator's eye: module loads and failures, plugin failures, breakers. */
  readonly log?: (line: string, level: 'info' | 'warn') => void;
}

/** A module file shared by the plugins that load it, closed with the last of them. */
interface SharedModule {
  readonly module: PluginModule;
  users: number;
}

/** One plugin in force. */
interface Entry {
  /** The normalised config as JSON: an unchanged plugin keeps its filter (and breaker) across snapshots. */
  readonly signature: string;
  readonly filter: PluginFilter;
  /** What it holds: a gRPC address or a module file. */
  readonly holds: { readonly grpc: string } | { readonly module: string };
}

/** The plugins of a snapshot being applied, until the proxy says whether it took it. */
interface Pending {
  readonly entries: Map<string, Entry>;
  readonly filters: readonly PluginFilter[];
}

/** `namespace/name`. */
function idOf(config: DubboPluginConfig): string {
  return `${config.metadata.namespace}/${config.metadata.name}`;
}

/** The order plugins run in: `order`, then namespace/name. */
function byOrder(a: DubboPluginConfig, b: DubboPluginConfig): number {
  if (a.order !== b.order) return a.order - b.order;
  const ida = idOf(a);
  const idb = idOf(b);
  return ida < idb ? -1 : ida > idb ? 1 : 0;
}

/**
 * The DubboPlugins of the snapshot in force, as filters on the proxy's call path (a
 * {@link ProxyExtension} named `plugins`): each snapshot's plugins in order; a plugin whose
 * config did not change keeps its filter, breaker and stats; a gRPC channel per address and a
 * loaded module per file are shared by the plugins that use them. What a snapshot replaced is
 * let go only once the proxy took that snapshot (a refused one leaves the plugins in force
 * as they were), and a channel closes only once its calls in flight have ended.
 */
export class PluginRuntime implements ProxyExtension {
  readonly name = 'plugins';
  private entries = new Map<string, Entry>();
  private filters: readonly PluginFilter[] = [];
  private pending: Pending | undefined;
  private readonly statsById = new Map<string, PluginStats>();
  private readonly channels = new Map<string, PluginChannel>();
  private readonly modules = new Map<string, SharedModule>();
  private closed = false;

  constructor(private readonly options: PluginRuntimeOptions = {}) {}

  filtersFor(config: MeshConfig, host: ProxyExtensionHost): readonly PluginFilter[] {
    const plugins = config.plugins ?? [];
    if (this.closed || (plugins.length === 0 && this.entries.size === 0)) return this.filters;
    // A snapshot that was never settled (the proxy threw before saying): what it made goes.
    if (this.pending !== undefined) this.snapshotSettled(false);
    const entries = new Map<string, Entry>();
    const filters: PluginFilter[] = [];
    for (const plugin of [...plugins].sort(byOrder)) {
      const id = idOf(plugin);
      const signature = JSON.stringify(plugin);
      const previous = this.entries.get(id);
      const entry = previous !== undefined && previous.signature === signature ? previous : this.create(plugin, signature, host);
      entries.set(id, entry);
      filters.push(entry.filter);
    }
    this.pending = { entries, filters: sameFilters(filters, this.filters) ? this.filters : filters };
    return this.pending.filters;
  }

  snapshotSettled(applied: boolean): void {
    const pending = this.pending;
    if (pending === undefined) return;
    this.pending = undefined;
    const [kept, dropped] = applied ? [pending.entries, this.entries] : [this.entries, pending.entries];
    // What the plugins dropped held is let go after the kept ones took theirs, so a module or
    // channel both use is kept, not closed and opened again.
    for (const [id, entry] of dropped) if (kept.get(id) !== entry) this.release(entry);
    if (!applied) return;
    this.entries = pending.entries;
    this.filters = pending.filters;
    for (const id of this.statsById.keys()) if (!this.entries.has(id)) this.statsById.delete(id);
  }

  private create(plugin: DubboPluginConfig, signature: string, host: ProxyExtensionHost): Entry {
    const id = idOf(plugin);
    let invoker: PluginInvoker;
    let holds: Entry['holds'];
    if (plugin.grpc !== undefined) {
      const address = plugin.grpc.address;
      let channel = this.channels.get(address);
      if (channel === undefined) this.channels.set(address, (channel = new PluginChannel(address)));
      channel.users += 1;
      invoker = new GrpcPluginInvoker(channel);
      holds = { grpc: address };
    } else {
      const file = path.resolve(this.options.baseDir ?? process.cwd(), plugin.module!);
      invoker = new ModulePluginInvoker(this.acquireModule(file));
      holds = { module: file };
    }
    let stats = this.statsById.get(id);
    if (stats === undefined) this.statsById.set(id, (stats = new PluginStats()));
    const breaker = new PluginBreaker(plugin.circuitBreaker, () => host.clock.now());
    const filter = new PluginFilter(plugin, invoker, stats, breaker, { clock: host.clock, node: host.node, log: (line) => this.options.log?.(line, 'warn') });
    return { signature, filter, holds };
  }

  private acquireModule(file: string): PluginModule {
    let shared = this.modules.get(file);
    if (shared === undefined) {
      const module = new PluginModule(file, { root: this.options.moduleRoot, log: (line, failed) => this.options.log?.(line, failed ? 'warn' : 'info') });
      // start() reports its own failures (a module that does not load is logged and answered by the failure policy).
      module.start().catch((error: unknown) => this.options.log?.(`plugin module ${file}: ${String(error)}`, 'warn'));
      this.modules.set(file, (shared = { module, users: 0 }));
    }
    shared.users += 1;
    return shared.module;
  }

  private release(entry: Entry): void {
    if ('grpc' in entry.holds) {
      const address = entry.holds.grpc;
      const channel = this.channels.get(address);
      if (channel === undefined || --channel.users > 0) return;
      this.channels.delete(address);
      channel.retire();
    } else {
      const file = entry.holds.module;
      const shared = this.modules.get(file);
      if (shared === undefined || --shared.users > 0) return;
      this.modules.delete(file);
      // Calls in flight hold their version; only following the file stops.
      shared.module.close();
    }
  }

  /** The plugins in force, in order. */
  get plugins(): readonly PluginFilter[] {
    return this.filters;
  }

  stats(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [id, { filter }] of this.entries)
      out[id] = { ...filter.stats.toJSON(), breaker: filter.breaker.state, breaker_openings: filter.breaker.opened, ...filter.invoker.describe() };
    return out;
  }

  configDump(): unknown[] {
    return this.filters.map((filter) => ({
      plugin: filter.id,
      order: filter.config.order,
      services: filter.config.services ?? null,
      phases: filter.config.phases,
      tag: filter.config.tag,
      timeoutMs: filter.config.timeoutMs,
      failurePolicy: filter.config.failurePolicy,
      breaker: filter.breaker.state,
      ...filter.invoker.describe(),
    }));
  }

  prometheus(node: string): string {
    return pluginsToPrometheus(
      [...this.entries].map(([id, { filter }]) => ({ id, stats: filter.stats, breakerOpen: filter.breaker.state !== 'closed' })),
      node,
    );
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pending = undefined;
    for (const channel of this.channels.values()) channel.close();
    for (const { module } of this.modules.values()) module.close();
    this.channels.clear();
    this.modules.clear();
  }
}
