import path from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import type { DubboPluginConfig, MeshConfig } from '@dubbo-mesh/config';
import { sameFilters, type ProxyExtension, type ProxyExtensionHost } from '@dubbo-mesh/proxy';
import { PluginBreaker } from './plugin-breaker.js';
import { PluginFilter } from './plugin-filter.js';
import { GrpcPluginInvoker, ModulePluginInvoker, type PluginInvoker } from './plugin-invoker.js';
import { PluginModule } from './plugin-module.js';
import { PluginStats, pluginsToPrometheus } from './plugin-stats.js';

/** Options of a {@link PluginRuntime}. */
export interface PluginRuntimeOptions {
  /** Where relative `module` paths are resolved from; default the working directory. */
  readonly baseDir?: string;
  /** One line per event worth an operator's eye: module loads and failures, plugin failures, breakers. */
  readonly log?: (line: string, level: 'info' | 'warn') => void;
  /** How long a gRPC client no plugin uses any more stays open for calls in flight; default 10 s. */
  readonly channelGraceMs?: number;
}

/** Something shared by the plugins that use it (a gRPC client per address, a module per file), closed when the last one goes. */
interface Shared<T> {
  readonly value: T;
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
 * config did not change keeps its filter, breaker and stats; a gRPC client per address and a
 * loaded module per file are shared by the plugins that use them and closed with the last.
 */
export class PluginRuntime implements ProxyExtension {
  readonly name = 'plugins';
  private entries = new Map<string, Entry>();
  private readonly statsById = new Map<string, PluginStats>();
  private readonly clients = new Map<string, Shared<grpc.Client>>();
  private readonly modules = new Map<string, Shared<PluginModule>>();
  /** Clients no plugin uses any more, waiting for their calls in flight before they close. */
  private readonly closing = new Map<NodeJS.Timeout, grpc.Client>();
  private filters: readonly PluginFilter[] = [];
  private closed = false;

  constructor(private readonly options: PluginRuntimeOptions = {}) {}

  filtersFor(config: MeshConfig, host: ProxyExtensionHost): readonly PluginFilter[] {
    const plugins = config.plugins ?? [];
    if (plugins.length === 0 && this.entries.size === 0) return this.filters;
    const next = new Map<string, Entry>();
    const filters: PluginFilter[] = [];
    for (const plugin of [...plugins].sort(byOrder)) {
      const id = idOf(plugin);
      const signature = JSON.stringify(plugin);
      const previous = this.entries.get(id);
      const entry = previous !== undefined && previous.signature === signature ? previous : this.create(plugin, id, signature, host);
      next.set(id, entry);
      filters.push(entry.filter);
    }
    // What the plugins replaced or removed held is let go after the new ones took theirs, so a
    // module or client both use is kept, not closed and opened again.
    for (const [id, entry] of this.entries) if (next.get(id) !== entry) this.release(entry);
    for (const id of this.statsById.keys()) if (!next.has(id)) this.statsById.delete(id);
    this.entries = next;
    if (!sameFilters(filters, this.filters)) this.filters = filters;
    return this.filters;
  }

  private create(plugin: DubboPluginConfig, id: string, signature: string, host: ProxyExtensionHost): Entry {
    let invoker: PluginInvoker;
    let holds: Entry['holds'];
    if (plugin.grpc !== undefined) {
      const address = plugin.grpc.address;
      invoker = new GrpcPluginInvoker(address, this.acquireClient(address));
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

  private acquireClient(address: string): grpc.Client {
    let shared = this.clients.get(address);
    if (shared === undefined) this.clients.set(address, (shared = { value: GrpcPluginInvoker.client(address), users: 0 }));
    shared.users += 1;
    return shared.value;
  }

  private acquireModule(file: string): PluginModule {
    let shared = this.modules.get(file);
    if (shared === undefined) {
      const module = new PluginModule(file, { log: (line, failed) => this.options.log?.(line, failed ? 'warn' : 'info') });
      void module.start();
      this.modules.set(file, (shared = { value: module, users: 0 }));
    }
    shared.users += 1;
    return shared.value;
  }

  private release(entry: Entry): void {
    if ('grpc' in entry.holds) {
      const address = entry.holds.grpc;
      const shared = this.clients.get(address);
      if (shared === undefined || --shared.users > 0) return;
      this.clients.delete(address);
      // Calls in flight on it end within their timeouts: close it once they have.
      const timer = setTimeout(() => {
        this.closing.delete(timer);
        shared.value.close();
      }, this.options.channelGraceMs ?? 10_000);
      timer.unref();
      this.closing.set(timer, shared.value);
    } else {
      const file = entry.holds.module;
      const shared = this.modules.get(file);
      if (shared === undefined || --shared.users > 0) return;
      this.modules.delete(file);
      // Calls in flight hold their version; only following the file stops.
      shared.value.close();
    }
  }

  /** The plugins in force, in order. */
  get plugins(): readonly PluginFilter[] {
    return this.filters;
  }

  stats(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [id, entry] of this.entries) {
      const { filter } = entry;
      out[id] = { ...filter.stats.toJSON(), breaker: filter.breaker.state, breaker_openings: filter.breaker.opened, ...filter.invoker.describe() };
    }
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
    for (const [timer, client] of this.closing) {
      clearTimeout(timer);
      client.close();
    }
    this.closing.clear();
    for (const { value } of this.clients.values()) value.close();
    for (const { value } of this.modules.values()) value.close();
    this.clients.clear();
    this.modules.clear();
  }
}
