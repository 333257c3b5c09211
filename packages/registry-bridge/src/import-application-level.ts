/**
 * Application-level import (Dubbo 3, register-mode `instance` or `all`): every application
 * under `/services`, each instance `/services/<app>/<ip:port>` (Curator ServiceInstance JSON)
 * with its metadata revision, the services of a revision read from the metadata report
 * (`/dubbo/metadata/<app>/<revision>`, storage-type `remote`) or asked of the instance's
 * MetadataService (`local`, the default). A revision's content never changes (it is a hash
 * of it), so it is read once and cached; `"0"` means no services.
 *
 * `/dubbo/mapping/<interface>` (interface → applications) is not read: Dubbo consumers need it
 * to know which applications to subscribe to for an interface; the import follows every
 * application under `/services`, so it knows each one already.
 */
import {
  EMPTY_REVISION,
  REVISION_KEY,
  STORAGE_TYPE_KEY,
  instanceEndpoints,
  metadataServiceParams,
  parseServiceInstance,
  readMetadataInfo,
  type MetadataInfo,
  type ServiceInstance,
} from './application-level-metadata.js';
import { MESH_MARKER_PARAMETER } from './dubbo-url.js';
import { MetadataServiceError, ZooKeeperOperationError } from './errors.js';
import { isEndpointAddress, type RegistryProvider } from './imported-services.js';
import type { SkipReason } from './import-skips.js';
import { RetryBackoff, ZooKeeperWatch, type ImportContext, type WatchedValue } from './import-watch.js';
import type { MetadataFetcher } from './metadata-service-client.js';

/**
 * Metadata by application and revision, shared by every import generation (a new session
 * re-lists instances, not revisions): each revision is fetched once, concurrent askers of one
 * generation share the fetch, a failed fetch is forgotten so the next asker tries again.
 *
 * A fetch in flight is not shared with a later generation: a read of the metadata report made
 * in a session that has since ended may never answer, and a new session's re-list must not
 * wait on it (it fetches again; whichever answers first is kept).
 */
export class MetadataCache {
  private readonly known = new Map<string, MetadataInfo>();
  private readonly inFlight = new Map<string, { readonly generation: number; readonly promise: Promise<MetadataInfo> }>();
  /** Fetches made (reads of the metadata report and MetadataService calls). */
  fetches = 0;

  /** The cache key of one revision of one application. */
  static key(application: string, revision: string): string {
    return `${application}/${revision}`;
  }

  /** A revision's metadata if it is known. */
  get(application: string, revision: string): MetadataInfo | undefined {
    return this.known.get(MetadataCache.key(application, revision));
  }

  /**
   * The metadata of a revision: known, being fetched by this or a later `generation`, or
   * fetched now with `fetch`.
   */
  load(application: string, revision: string, fetch: () => Promise<MetadataInfo>, generation = 0): Promise<MetadataInfo> {
    const key = MetadataCache.key(application, revision);
    const known = this.known.get(key);
    if (known !== undefined) return Promise.resolve(known);
    const held = this.inFlight.get(key);
    if (held !== undefined && held.generation >= generation) return held.promise;
    this.fetches += 1;
    const entry = {
      generation,
      promise: fetch().then(
        (info) => {
          if (this.inFlight.get(key) === entry) this.inFlight.delete(key);
          this.known.set(key, info);
          return info;
        },
        (error: unknown) => {
          if (this.inFlight.get(key) === entry) this.inFlight.delete(key);
          throw error;
        },
      ),
    };
    this.inFlight.set(key, entry);
    return entry.promise;
  }

  /** Forget every revision not in `keys` (no instance has it any more). */
  retain(keys: ReadonlySet<string>): void {
    for (const key of this.known.keys()) if (!keys.has(key)) this.known.delete(key);
  }

  /** Revisions known. */
  get size(): number {
    return this.known.size;
  }
}

/** How the application-level import finds things. */
export interface ApplicationLevelOptions {
  /** Where instances are, default `/services` (Dubbo's `ZookeeperServiceDiscovery` root). */
  readonly servicesRoot: string;
  /** Where remote metadata is, default `/dubbo/metadata`. */
  readonly metadataRoot: string;
  readonly metadata: MetadataFetcher;
  readonly cache: MetadataCache;
  /** The import generation (one per session): a later one never waits on an earlier one's fetch. */
  readonly generation?: number;
}

/** An instance whose metadata could not be had: left out, retried with backoff. */
export interface MetadataFailure {
  readonly instance: string;
  readonly application: string;
  readonly revision: string;
  readonly storageType: string;
  readonly error: string;
  readonly since: string;
  readonly attempts: number;
}

type InstanceStatus = 'reading' | 'imported' | 'no-services' | 'skipped' | 'failed' | 'gone';

/** A revision's services at one instance as providers; services of other protocols and disabled ones skipped. */
export function instanceProviders(
  application: string,
  instance: ServiceInstance,
  info: MetadataInfo,
  path: string,
): { providers: RegistryProvider[]; skipped: SkipReason[]; meshed: boolean } {
  const endpoints = instanceEndpoints(instance.metadata);
  const providers: RegistryProvider[] = [];
  const skipped: SkipReason[] = [];
  for (const service of info.services) {
    if (service.params[MESH_MARKER_PARAMETER] !== undefined) return { providers: [], skipped: [], meshed: true };
    const protocol = service.protocol === '' ? 'dubbo' : service.protocol;
    if (protocol !== 'dubbo') {
      skipped.push('protocol');
      continue;
    }
    const enabled = service.params.enabled;
    if ((enabled !== undefined && enabled !== '' && enabled.toLowerCase() !== 'true') || service.params.disabled?.toLowerCase() === 'true') {
      skipped.push('disabled');
      continue;
    }
    // Dubbo's order (ServiceInstancesChangedListener): the service's own port, else the protocol's endpoint, else the instance's.
    const port = service.port > 0 ? service.port : (endpoints.find((endpoint) => endpoint.protocol === protocol)?.port ?? instance.port);
    if (!isEndpointAddress(instance.address, port)) {
      skipped.push('bad-address');
      continue;
    }
    // Since 3.1 the service parameters leave `timestamp` to the instance (warm-up reads it there, as Dubbo's InstanceAddressURL does).
    const parameters: Record<string, string> = { ...service.params };
    for (const key of ['timestamp', 'weight', 'warmup'])
      if (parameters[key] === undefined && instance.metadata[key] !== undefined) parameters[key] = instance.metadata[key]!;
    providers.push({
      application,
      interface: service.name,
      group: service.group,
      version: service.version,
      host: instance.address,
      port,
      parameters,
      path,
      mode: 'application',
    });
  }
  return { providers, skipped, meshed: false };
}

/** One `/services/<app>/<id>` node followed, and the metadata of its revision. */
class InstanceImport {
  status: InstanceStatus = 'reading';
  providers: RegistryProvider[] = [];
  skipped: SkipReason[] = [];
  instance: ServiceInstance | undefined;
  failure: MetadataFailure | undefined;
  readonly watch: ZooKeeperWatch<'data'>;
  /** Resolves after the first read and, if it names a revision, the first attempt at its metadata. */
  readonly settled: Promise<void>;
  private resolveSettled!: () => void;
  private attempt = 0;
  private retryTimer: unknown;
  private readonly backoff: RetryBackoff;
  private stopped = false;

  constructor(
    private readonly context: ImportContext,
    private readonly options: ApplicationLevelOptions,
    readonly application: string,
    /** `/services/<app>`: where its providers say they come from. */
    private readonly appPath: string,
    readonly path: string,
  ) {
    this.backoff = new RetryBackoff(context.retry?.initialMs, context.retry?.maxMs);
    this.settled = new Promise((resolve) => (this.resolveSettled = resolve));
    // A missing node is watched with `exists`: Curator deletes and creates an instance node again
    // at the same path (a provider restarted on the same ip:port), maybe before the folder is listed.
    this.watch = new ZooKeeperWatch(context, path, 'data', (value) => this.read(value));
  }

  start(): void {
    // A node that could not be read at all (retried in the background) holds up nothing.
    void this.watch.start().then(() => {
      if (this.attempt === 0) this.resolveSettled();
    });
  }

  stop(): void {
    this.stopped = true;
    this.watch.stop();
    this.context.clock.clearTimer(this.retryTimer);
    this.resolveSettled();
  }

  /** The revision it names (for the cache's bookkeeping). */
  get revisionKey(): string | undefined {
    const revision = this.instance?.metadata[REVISION_KEY];
    return revision === undefined || revision === EMPTY_REVISION ? undefined : MetadataCache.key(this.application, revision);
  }

  private set(status: InstanceStatus, providers: RegistryProvider[], skipped: SkipReason[] = []): void {
    const changed = status !== this.status || providers.length > 0 || this.providers.length > 0 || skipped.length !== this.skipped.length;
    this.status = status;
    this.providers = providers;
    this.skipped = skipped;
    if (changed && !this.stopped) this.context.onChange();
  }

  /** The node's data changed (or it is gone). */
  private read(value: WatchedValue<'data'>): void {
    this.context.clock.clearTimer(this.retryTimer);
    this.attempt += 1;
    this.failure = undefined;
    if (value === undefined) {
      this.instance = undefined;
      this.set('gone', []);
      this.resolveSettled();
      return;
    }
    const instance = parseServiceInstance(value.data);
    this.instance = instance;
    if (instance === undefined) {
      this.set('skipped', [], ['unreadable-instance']);
      this.resolveSettled();
      return;
    }
    if (instance.metadata[MESH_MARKER_PARAMETER] !== undefined) {
      this.set('skipped', [], ['meshed-by']);
      this.resolveSettled();
      return;
    }
    const revision = instance.metadata[REVISION_KEY];
    if (revision === undefined || revision === EMPTY_REVISION || revision === '') {
      this.set('no-services', []);
      this.resolveSettled();
      return;
    }
    this.backoff.reset();
    this.resolve(instance, revision, 1);
  }

  /** Get the revision's metadata (cached, the metadata report, or the instance's MetadataService) and import its services. */
  private resolve(instance: ServiceInstance, revision: string, tries: number): void {
    const attempt = this.attempt;
    const cached = this.options.cache.get(this.application, revision);
    const metadata =
      cached !== undefined
        ? Promise.resolve(cached)
        : this.options.cache.load(this.application, revision, () => this.fetch(instance, revision), this.options.generation);
    metadata.then(
      (info) => {
        if (this.stopped || attempt !== this.attempt) return;
        this.failure = undefined;
        const { providers, skipped, meshed } = instanceProviders(this.application, instance, info, this.appPath);
        if (meshed) this.set('skipped', [], ['meshed-by']);
        else this.set('imported', providers, skipped);
        this.resolveSettled();
      },
      (error: unknown) => {
        if (this.stopped || attempt !== this.attempt) return;
        const retry = () =>
          (this.retryTimer = this.context.clock.setTimer(() => {
            if (!this.stopped && attempt === this.attempt) this.resolve(instance, revision, tries + 1);
          }, this.backoff.next()));
        if (error instanceof ZooKeeperOperationError && (error.failure === 'CONNECTION_LOSS' || error.failure === 'SESSION_EXPIRED')) {
          // ZooKeeper is away, not the metadata: what the instance had stays, as everything else does.
          retry();
          return;
        }
        const storageType = instance.metadata[STORAGE_TYPE_KEY] ?? 'local';
        this.failure = {
          instance: this.path,
          application: this.application,
          revision,
          storageType,
          error: error instanceof Error ? error.message : String(error),
          since: this.failure?.since ?? new Date().toISOString(),
          attempts: tries,
        };
        this.set('failed', []);
        this.resolveSettled();
        retry();
      },
    );
  }

  private async fetch(instance: ServiceInstance, revision: string): Promise<MetadataInfo> {
    if (instance.metadata[STORAGE_TYPE_KEY] === 'remote') {
      const path = `${this.options.metadataRoot}/${this.application}/${revision}`;
      const node = await this.context.session.getData(path);
      if (node === undefined) throw new MetadataServiceError(`remote metadata ${path} does not exist`);
      let json: unknown;
      try {
        json = JSON.parse(node.data?.toString('utf8') ?? '');
      } catch (error) {
        throw new MetadataServiceError(`remote metadata ${path} is not JSON: ${(error as Error).message}`);
      }
      const info = readMetadataInfo(json);
      if (info === undefined) throw new MetadataServiceError(`remote metadata ${path} is not a MetadataInfo`);
      return info;
    }
    const params = metadataServiceParams(instance.metadata);
    const protocol = params?.protocol ?? 'dubbo';
    if (protocol !== 'dubbo')
      throw new MetadataServiceError(`the MetadataService of ${instance.address}:${instance.port} speaks ${protocol}; the bridge speaks dubbo`);
    const port = Number(params?.port ?? instance.port);
    return this.options.metadata({ host: instance.address, port, application: this.application, revision, version: params?.version });
  }
}

/** One `/services/<app>` folder followed. */
class ApplicationFolder {
  readonly instances = new Map<string, InstanceImport>();
  readonly watch: ZooKeeperWatch<'children'>;

  constructor(
    private readonly context: ImportContext,
    private readonly options: ApplicationLevelOptions,
    readonly application: string,
    readonly path: string,
  ) {
    // `/services/<app>` is a Curator container node (the server deletes it once empty): a
    // missing folder is watched with `exists` too, as it may come back before the root is listed.
    this.watch = new ZooKeeperWatch(context, path, 'children', (value) => this.sync(value?.children ?? []));
  }

  stop(): void {
    this.watch.stop();
    for (const instance of this.instances.values()) instance.stop();
  }

  private sync(children: readonly string[]): void {
    const wanted = new Set(children);
    let removed = false;
    for (const [id, instance] of this.instances) {
      if (wanted.has(id)) continue;
      instance.stop();
      this.instances.delete(id);
      removed ||= instance.providers.length > 0 || instance.status !== 'gone';
    }
    for (const id of wanted) {
      const held = this.instances.get(id);
      if (held !== undefined && held.status !== 'gone') continue;
      // Listed but last read as gone: the node was created again since; follow it afresh.
      held?.stop();
      const instance = new InstanceImport(this.context, this.options, this.application, this.path, `${this.path}/${id}`);
      this.instances.set(id, instance);
      instance.start();
    }
    if (removed) this.context.onChange();
  }
}

/** What the application-level import holds now. */
export interface ApplicationLevelStats {
  readonly applications: number;
  readonly instances: number;
  readonly instancesByStatus: Partial<Record<InstanceStatus, number>>;
  readonly providers: number;
  readonly metadataFailures: readonly MetadataFailure[];
}

/**
 * Follows `/services`, each application in it and each instance of each. {@link start}
 * resolves once every instance there was read and its metadata tried once.
 */
export class ApplicationLevelImport {
  private readonly applications = new Map<string, ApplicationFolder>();
  private readonly rootWatch: ZooKeeperWatch<'children'>;

  constructor(
    private readonly context: ImportContext,
    private readonly options: ApplicationLevelOptions,
  ) {
    this.rootWatch = new ZooKeeperWatch(context, options.servicesRoot, 'children', (value) => this.sync(value?.children ?? []));
  }

  /** Resolves once every instance found was read and its metadata tried once. */
  async start(): Promise<void> {
    await this.rootWatch.start();
    await Promise.all([...this.applications.values()].map((folder) => folder.watch.firstRead));
    await Promise.all([...this.applications.values()].flatMap((folder) => [...folder.instances.values()].map((instance) => instance.settled)));
  }

  /** Stop following; nothing it started reports any more. */
  stop(): void {
    this.rootWatch.stop();
    for (const folder of this.applications.values()) folder.stop();
  }

  /** Every provider imported now (one per service of each instance's revision). */
  providers(): RegistryProvider[] {
    const out: RegistryProvider[] = [];
    for (const folder of this.applications.values()) for (const instance of folder.instances.values()) out.push(...instance.providers);
    return out;
  }

  /** The `application/revision` of every instance (what the metadata cache must keep). */
  revisionKeys(): Set<string> {
    const keys = new Set<string>();
    for (const folder of this.applications.values())
      for (const instance of folder.instances.values()) {
        const key = instance.revisionKey;
        if (key !== undefined) keys.add(key);
      }
    return keys;
  }

  /** Every instance (or service of one) skipped now, with its reason. */
  *skipped(): Iterable<{ reason: SkipReason; entry: string }> {
    for (const folder of this.applications.values())
      for (const instance of folder.instances.values()) for (const reason of instance.skipped) yield { reason, entry: instance.path };
  }

  /** Counts for `details()`. */
  stats(): ApplicationLevelStats {
    const byStatus: Partial<Record<InstanceStatus, number>> = {};
    const failures: MetadataFailure[] = [];
    let instances = 0;
    let providers = 0;
    for (const folder of this.applications.values())
      for (const instance of folder.instances.values()) {
        instances += 1;
        providers += instance.providers.length;
        byStatus[instance.status] = (byStatus[instance.status] ?? 0) + 1;
        if (instance.failure !== undefined) failures.push(instance.failure);
      }
    return { applications: this.applications.size, instances, instancesByStatus: byStatus, providers, metadataFailures: failures };
  }

  private sync(children: readonly string[]): void {
    const wanted = new Set(children);
    let removed = false;
    for (const [name, folder] of this.applications) {
      if (wanted.has(name)) continue;
      folder.stop();
      this.applications.delete(name);
      removed ||= folder.instances.size > 0;
    }
    const prefix = this.options.servicesRoot === '/' ? '' : this.options.servicesRoot;
    for (const name of wanted) {
      if (this.applications.has(name)) continue;
      const folder = new ApplicationFolder(this.context, this.options, name, `${prefix}/${name}`);
      this.applications.set(name, folder);
      void folder.watch.start();
    }
    if (removed) this.context.onChange();
  }
}
