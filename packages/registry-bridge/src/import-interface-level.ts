/**
 * Interface-level import (Dubbo 2.7, and Dubbo 3 in register-mode `interface`/`all`): the
 * children of `/<root>` are interfaces, the children of `/<root>/<interface>/providers` are
 * provider URLs in their node *names* (Java's URLEncoder form encoding). Every group and
 * version of an interface shares one folder.
 */
import { decodeNodeName, MESH_MARKER_PARAMETER, parseDubboUrl } from './dubbo-url.js';
import { isEndpointAddress, type RegistryProvider } from './imported-services.js';
import type { SkipReason } from './import-skips.js';
import { ZooKeeperWatch, type ImportContext, type WatchedValue } from './import-watch.js';

/** Children of the root that are Dubbo's own folders, never services. */
export const NON_SERVICE_FOLDERS: ReadonlySet<string> = new Set(['config', 'mapping', 'metadata']);

/** One node of a providers folder, read: a provider, or why it is skipped. */
export type ProviderNode =
  { readonly provider: RegistryProvider; readonly skipped?: undefined } | { readonly provider?: undefined; readonly skipped: SkipReason };

/** Java's `Boolean.parseBoolean` as `URL.getParameter(key, default)` applies it (empty: the default). */
function booleanParameter(value: string | undefined, fallback: boolean): boolean {
  return value === undefined || value === '' ? fallback : value.toLowerCase() === 'true';
}

/**
 * Read one node name of `/<root>/<interface>/providers`: decoded before its protocol is tested
 * (Java encodes the whole URL); `empty://`, other protocols, the bridge's own exports
 * (`meshed-by`), disabled providers (`enabled=false` — Dubbo's `isMatch` —, `disabled=true`)
 * and other categories are skipped with their reason.
 */
export function readProviderNode(name: string, folderPath: string): ProviderNode {
  let text: string;
  try {
    text = decodeNodeName(name);
  } catch {
    return { skipped: 'undecodable' };
  }
  const url = parseDubboUrl(text);
  if (url === undefined) return { skipped: 'not-a-url' };
  if (url.protocol === 'empty') return { skipped: 'empty' };
  if (url.protocol !== 'dubbo') return { skipped: 'protocol' };
  const parameters = url.parameters;
  if (parameters[MESH_MARKER_PARAMETER] !== undefined) return { skipped: 'meshed-by' };
  if (!booleanParameter(parameters.enabled, true) || booleanParameter(parameters.disabled, false)) return { skipped: 'disabled' };
  if (parameters.category !== undefined && parameters.category !== 'providers') return { skipped: 'not-a-provider' };
  const iface = parameters.interface ?? url.path;
  if (iface === '') return { skipped: 'not-a-url' };
  if (!isEndpointAddress(url.host, url.port)) return { skipped: 'bad-address' };
  return {
    provider: {
      application: parameters.application ?? '',
      interface: iface,
      group: parameters.group ?? '',
      version: parameters.version ?? '',
      host: url.host,
      port: url.port,
      parameters,
      path: folderPath,
      mode: 'interface',
    },
  };
}

/** One `/<root>/<interface>/providers` folder followed. */
class ProvidersFolder {
  /** Node name → what it reads as (kept across listings: a 2,000-node folder is parsed once). */
  nodes = new Map<string, ProviderNode>();
  readonly watch: ZooKeeperWatch<'children'>;

  constructor(
    context: ImportContext,
    readonly path: string,
    onListed: () => void,
  ) {
    this.watch = new ZooKeeperWatch(context, path, 'children', (value) => {
      if (this.update(value)) onListed();
    });
  }

  /** A new listing; true when its set of nodes changed. Missing or empty: no providers (never the stale ones). */
  private update(value: WatchedValue<'children'>): boolean {
    const children = value?.children ?? [];
    if (children.length === this.nodes.size && children.every((name) => this.nodes.has(name))) return false;
    const next = new Map<string, ProviderNode>();
    for (const name of children) next.set(name, this.nodes.get(name) ?? readProviderNode(name, this.path));
    this.nodes = next;
    return true;
  }
}

/** What the interface-level import holds now. */
export interface InterfaceLevelStats {
  /** Interface folders followed. */
  readonly interfaces: number;
  /** Interfaces with at least one imported provider. */
  readonly interfacesWithProviders: number;
  readonly providers: number;
}

/**
 * Follows `/<root>` and every interface's providers folder in it. {@link start} resolves once
 * the root and every folder in it were listed; from then on each change is reported through
 * the context's `onChange`, and {@link providers} says what is there.
 */
export class InterfaceLevelImport {
  private readonly folders = new Map<string, ProvidersFolder>();
  private readonly rootWatch: ZooKeeperWatch<'children'>;
  private cached: RegistryProvider[] | undefined;
  private stopped = false;

  constructor(
    private readonly context: ImportContext,
    /** `--zookeeper-root`, e.g. `/dubbo`. */
    private readonly root: string,
  ) {
    this.rootWatch = new ZooKeeperWatch(context, root, 'children', (value) => this.syncFolders(value?.children ?? []));
  }

  /** Resolves once the root and each interface folder found in it have been listed. */
  async start(): Promise<void> {
    await this.rootWatch.start();
    await Promise.all([...this.folders.values()].map((folder) => folder.watch.firstRead));
  }

  stop(): void {
    this.stopped = true;
    this.rootWatch.stop();
    for (const folder of this.folders.values()) folder.watch.stop();
  }

  /** Every provider imported now. */
  providers(): RegistryProvider[] {
    if (this.cached === undefined) {
      const out: RegistryProvider[] = [];
      for (const folder of this.folders.values()) for (const node of folder.nodes.values()) if (node.provider !== undefined) out.push(node.provider);
      this.cached = out;
    }
    return this.cached;
  }

  /** Every node skipped now, with its reason. */
  *skipped(): Iterable<{ reason: SkipReason; entry: string }> {
    for (const folder of this.folders.values())
      for (const [name, node] of folder.nodes) if (node.skipped !== undefined) yield { reason: node.skipped, entry: `${folder.path}/${name}` };
  }

  stats(): InterfaceLevelStats {
    let providers = 0;
    let withProviders = 0;
    for (const folder of this.folders.values()) {
      let count = 0;
      for (const node of folder.nodes.values()) if (node.provider !== undefined) count += 1;
      providers += count;
      if (count > 0) withProviders += 1;
    }
    return { interfaces: this.folders.size, interfacesWithProviders: withProviders, providers };
  }

  private changed(): void {
    this.cached = undefined;
    if (!this.stopped) this.context.onChange();
  }

  /** The root's children now: follow new interfaces, drop gone ones. */
  private syncFolders(children: readonly string[]): void {
    const wanted = new Set(children.filter((name) => isServiceFolder(name)));
    let removed = false;
    for (const [name, folder] of this.folders) {
      if (wanted.has(name)) continue;
      folder.watch.stop();
      this.folders.delete(name);
      removed ||= folder.nodes.size > 0;
    }
    const prefix = this.root === '/' ? '' : this.root;
    for (const name of wanted) {
      if (this.folders.has(name)) continue;
      const folder = new ProvidersFolder(this.context, `${prefix}/${name}/providers`, () => this.changed());
      this.folders.set(name, folder);
      void folder.watch.start();
    }
    if (removed) this.changed();
  }
}

/** Whether a child of the root may be an interface folder (`config`, `mapping`, `metadata` and undecodable names are not). */
function isServiceFolder(name: string): boolean {
  if (NON_SERVICE_FOLDERS.has(name)) return false;
  try {
    return decodeNodeName(name).trim() !== '';
  } catch {
    return false;
  }
}
