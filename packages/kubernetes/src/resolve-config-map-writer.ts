import type { Snapshot, SnapshotSink } from '@dubbo-mesh/control-plane';
import { CoreV1Api, type KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import { RESOLVE_CONFIG_MAP, RESOLVE_FILE_KEY } from './annotations.js';
import { Backoff } from './backoff.js';
import type { Clock } from './clock.js';
import { array, record, text, type KubeObject } from './kube-objects.js';
import type { KubernetesSource } from './kubernetes-source.js';
import { LeaderWriter } from './leader-writer.js';
import type { Leadership } from './leadership.js';
import { resolveFileOf, resolveInterfaces } from './resolve-file.js';

/** The label that marks an object the mesh created (and may change); one without it is never touched. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
/** {@link MANAGED_BY_LABEL}'s value on what the control plane creates. */
export const MANAGED_BY = 'dubbo-mesh';

/** Whether a pod mounts the resolve ConfigMap (the injector's Java recipe adds that volume). */
export function mountsResolveConfigMap(pod: KubeObject): boolean {
  return array(record(pod.spec)?.volumes).some((volume) => text(record(record(volume)?.configMap)?.name) === RESOLVE_CONFIG_MAP);
}

/** Options of the resolve ConfigMap writer. */
export interface ResolveConfigMapWriterOptions {
  /** Its pod informer tells which namespaces need the ConfigMap (it follows `--kube-namespace`). */
  readonly source: KubernetesSource;
  readonly kubeConfig: KubeConfig;
  readonly leadership: Leadership;
  readonly clock?: Clock;
  /** After a failed write, the next attempt: 1 s (default) doubling up to `maxBackoffMs` (default 30 s), reset by a pass with no failure. */
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /**
   * What was written is read back from the API server this often (default 5 min): a
   * ConfigMap deleted or edited behind the writer's back is written again. A namespace is also
   * read again whenever a new pod there mounts the ConfigMap.
   */
  readonly resyncMs?: number;
  /** Namespaces written at once (default 8). */
  readonly concurrency?: number;
  readonly log?: (level: 'info' | 'warn', message: string, fields: Record<string, unknown>) => void;
}

/** What the writer reports in `GET /api/v1/sources` (the Kubernetes source's `writers.resolveConfigMaps`). */
export interface ResolveConfigMapStatus {
  /** Namespaces with a pod that mounts the ConfigMap, sorted. */
  readonly namespaces: string[];
  /** Interfaces in the file (besides the wildcard line); null before the first snapshot. */
  readonly interfaces: number | null;
  readonly writes: number;
  readonly failures: number;
  /** Namespaces whose ConfigMap of that name the mesh did not create (left alone). */
  readonly foreign: string[];
  /** Namespaces whose last write failed, with the error (retried with backoff). */
  readonly failing: Array<{ namespace: string; error: string }>;
}

/** What the writer knows of one namespace's ConfigMap: its own (as last read or written), or another's. */
type Known = { readonly owner: 'mesh'; readonly object: V1ConfigMap } | { readonly owner: 'foreign' };

/**
 * What the writer's passes follow, in the shape {@link LeaderWriter} reads of a source (a
 * version, and a listener told when it moves): the resolve file and the namespaces that need
 * it change with snapshots and pods, not with the source's outcomes.
 */
class WriterInputs {
  outcomesVersion = 0;
  private readonly listeners = new Set<() => void>();

  onOutcomes(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Something a pass writes from changed: the next pass is not skipped. */
  changed(): void {
    this.outcomesVersion += 1;
    for (const listener of this.listeners) listener();
  }
}

const errorText = (error: unknown): string => (error instanceof Error ? error.message.split('\n')[0]! : String(error));
const statusCode = (error: unknown): unknown => (error as { code?: unknown } | undefined)?.code;

/**
 * Keeps Dubbo's resolve file (`resolve-file.ts`) in the ConfigMap `dubbo-mesh-resolve`, key
 * `dubbo-resolve.properties`, of every namespace with a pod that mounts it (the injector's
 * Java recipe; the volume is not optional, so such a pod waits in ContainerCreating until the
 * ConfigMap exists: it is created as soon as the pod is seen, with the last published
 * snapshot). Only the leader writes; it creates a missing ConfigMap (labelled
 * `app.kubernetes.io/managed-by: dubbo-mesh`), replaces its data only when it differs, and
 * never changes or deletes one it did not create (warned once, counted in {@link foreign}).
 * A namespace left with no such pod keeps its ConfigMap: a pod being created may still need it.
 * A failed write is retried with backoff; other namespaces and other sinks go on.
 */
export class ResolveConfigMapWriter extends LeaderWriter implements SnapshotSink {
  readonly name = 'kubernetes-resolve-file';
  private readonly api: CoreV1Api;
  private readonly inputs: WriterInputs;
  private readonly backoff: Backoff;
  /** The file for the newest snapshot; undefined until one is published (nothing is written before). */
  private fileText: string | undefined;
  private interfaceCount: number | undefined;
  /** Namespace → pods (names) there that mount the ConfigMap. */
  private readonly mounting = new Map<string, Set<string>>();
  /** Namespace → its ConfigMap as last read or written; absent: read it before writing. */
  private readonly known = new Map<string, Known>();
  /** Namespace → the last write error, until a write there works. */
  private readonly failing = new Map<string, string>();
  private readonly warnedForeign = new Set<string>();
  /** The retry of the failing namespaces, armed while some fail; they are tried again only when it fires. */
  private backoffTimer: unknown;
  private retryDue = false;
  private halted = false;
  private resyncTimer: unknown;
  private readonly unsubscribePods: () => void;
  /** Leading again later: what another leader wrote meanwhile is read again, not assumed. */
  private readonly onStoppedLeading = () => {
    this.known.clear();
    this.retryDue = true;
  };
  /** ConfigMaps created or replaced. */
  writes = 0;
  /** Requests that failed (each is retried). */
  failures = 0;

  constructor(private readonly options: ResolveConfigMapWriterOptions) {
    const inputs = new WriterInputs();
    super({ ...options, source: inputs });
    this.inputs = inputs;
    this.api = options.kubeConfig.makeApiClient(CoreV1Api);
    this.backoff = new Backoff(options.initialBackoffMs ?? 1_000, options.maxBackoffMs ?? 30_000);
    for (const pod of options.source.objects('Pod')) this.podChanged(pod, false);
    this.unsubscribePods = options.source.onPods((pod, deleted) => this.podChanged(pod, deleted));
    options.leadership.on('stopped-leading', this.onStoppedLeading);
    this.armResync();
  }

  /** A snapshot was published: a new file when its interfaces changed (told without waiting for the writes). */
  onPublished(snapshot: Snapshot): void {
    const next = resolveFileOf(snapshot);
    if (next === this.fileText) return;
    this.fileText = next;
    this.interfaceCount = resolveInterfaces(snapshot).length;
    this.inputs.changed();
  }

  /** Namespaces whose ConfigMap of that name the mesh did not create, now. */
  get foreign(): number {
    let count = 0;
    for (const known of this.known.values()) if (known.owner === 'foreign') count += 1;
    return count;
  }

  status(): ResolveConfigMapStatus {
    return {
      namespaces: [...this.mounting.keys()].sort(),
      interfaces: this.interfaceCount ?? null,
      writes: this.writes,
      failures: this.failures,
      foreign: [...this.known].filter(([, known]) => known.owner === 'foreign').map(([namespace]) => namespace),
      failing: [...this.failing].map(([namespace, error]) => ({ namespace, error })),
    };
  }

  override stop(): void {
    super.stop();
    this.halted = true;
    this.clock.clearTimer(this.backoffTimer);
    this.clock.clearTimer(this.resyncTimer);
    this.unsubscribePods();
    this.options.leadership.off('stopped-leading', this.onStoppedLeading);
  }

  protected async pass(): Promise<boolean> {
    const file = this.fileText;
    if (file === undefined) return false;
    const retrying = this.retryDue;
    this.retryDue = false;
    const pending: Array<() => Promise<void>> = [];
    for (const namespace of [...this.mounting.keys()].sort()) {
      // A failing namespace waits for its backoff, whatever else changes meanwhile.
      if (this.failing.has(namespace) && !retrying) continue;
      const known = this.known.get(namespace);
      if (known?.owner === 'foreign') continue;
      if (known !== undefined && known.object.data?.[RESOLVE_FILE_KEY] === file) continue;
      pending.push(() => this.ensure(namespace, file));
    }
    const workers = Array.from({ length: Math.min(this.options.concurrency ?? 8, pending.length) }, async () => {
      for (let job = pending.shift(); job !== undefined; job = pending.shift()) await job();
    });
    await Promise.all(workers);
    // Retried here, with backoff, rather than by LeaderWriter's fixed delay (so the pass reports no failure).
    if (this.failing.size === 0) {
      this.backoff.reset();
      this.clock.clearTimer(this.backoffTimer);
      this.backoffTimer = undefined;
    } else if (this.backoffTimer === undefined && !this.halted) {
      this.backoffTimer = this.clock.setTimer(() => {
        this.backoffTimer = undefined;
        this.retryDue = true;
        this.inputs.changed();
      }, this.backoff.next());
    }
    return false;
  }

  /** Make one namespace's ConfigMap say `file`; a failure is recorded in {@link failing}. */
  private async ensure(namespace: string, file: string): Promise<void> {
    // Two rounds: a conflict (changed or created meanwhile) is read again and written at once.
    for (let round = 0; round < 2; round += 1) {
      if (!this.mayWrite) return;
      try {
        let known = this.known.get(namespace);
        if (known === undefined) {
          known = await this.read(namespace);
          if (known !== undefined) this.known.set(namespace, known);
          if (!this.mayWrite) return;
        }
        if (known?.owner === 'foreign') {
          this.failing.delete(namespace);
          if (!this.warnedForeign.has(namespace)) {
            this.warnedForeign.add(namespace);
            this.options.log?.(
              'warn',
              `ConfigMap ${namespace}/${RESOLVE_CONFIG_MAP} exists and was not created by dubbo-mesh (no label ${MANAGED_BY_LABEL}=${MANAGED_BY}): left as it is; the Java recipe's pods there read it`,
              { namespace, configMap: RESOLVE_CONFIG_MAP },
            );
          }
          return;
        }
        this.warnedForeign.delete(namespace);
        if (known !== undefined && known.object.data?.[RESOLVE_FILE_KEY] === file) {
          this.failing.delete(namespace);
          return;
        }
        const written =
          known === undefined
            ? await this.api.createNamespacedConfigMap({ namespace, body: this.desired(namespace, file) })
            : await this.api.replaceNamespacedConfigMap({
                namespace,
                name: RESOLVE_CONFIG_MAP,
                // The object as read, its resourceVersion included: a write made meanwhile is a conflict, not lost.
                body: { ...known.object, data: { ...known.object.data, [RESOLVE_FILE_KEY]: file } },
              });
        this.known.set(namespace, { owner: 'mesh', object: written });
        this.failing.delete(namespace);
        this.writes += 1;
        this.options.log?.('info', `${known === undefined ? 'created' : 'updated'} the resolve ConfigMap ${namespace}/${RESOLVE_CONFIG_MAP}`, {
          namespace,
          interfaces: this.interfaceCount,
        });
        return;
      } catch (error) {
        this.known.delete(namespace);
        const code = statusCode(error);
        // 409: created or changed meanwhile; 404: deleted meanwhile. Read again, write again.
        if ((code === 409 || code === 404) && round === 0) continue;
        this.failures += 1;
        const message = errorText(error);
        // Logged when the error changes, not at every retry: the count and `failing` show it goes on.
        if (this.failing.get(namespace) !== message)
          this.options.log?.('warn', `cannot write the resolve ConfigMap ${namespace}/${RESOLVE_CONFIG_MAP}; retrying`, { namespace, error: message });
        this.failing.set(namespace, message);
        return;
      }
    }
  }

  /** The ConfigMap in a namespace: the mesh's, another's, or undefined when there is none. */
  private async read(namespace: string): Promise<Known | undefined> {
    try {
      const object = await this.api.readNamespacedConfigMap({ namespace, name: RESOLVE_CONFIG_MAP });
      return object.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY ? { owner: 'mesh', object } : { owner: 'foreign' };
    } catch (error) {
      if (statusCode(error) === 404) return undefined;
      throw error;
    }
  }

  private desired(namespace: string, file: string): V1ConfigMap {
    return {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: RESOLVE_CONFIG_MAP, namespace, labels: { [MANAGED_BY_LABEL]: MANAGED_BY } },
      data: { [RESOLVE_FILE_KEY]: file },
    };
  }

  /** A pod event: a namespace that gains its first mounting pod, or a new pod (read the ConfigMap again: it may be gone), is written. */
  private podChanged(pod: KubeObject, deleted: boolean): void {
    const namespace = pod.metadata?.namespace ?? '';
    const name = pod.metadata?.name ?? '';
    let pods = this.mounting.get(namespace);
    if (deleted || !mountsResolveConfigMap(pod)) {
      // The ConfigMap stays: deleting it could strand a pod being created.
      if (pods?.delete(name) === true && pods.size === 0) {
        this.mounting.delete(namespace);
        this.known.delete(namespace);
        this.failing.delete(namespace);
      }
      return;
    }
    if (pods?.has(name) === true) return;
    if (pods === undefined) this.mounting.set(namespace, (pods = new Set()));
    pods.add(name);
    // Known to be written, but a pod waiting for it is worth one read: it may have been deleted since.
    if (this.known.get(namespace)?.owner === 'mesh') this.known.delete(namespace);
    this.inputs.changed();
  }

  private armResync(): void {
    this.resyncTimer = this.clock.setTimer(() => {
      this.armResync();
      this.known.clear();
      this.inputs.changed();
    }, this.options.resyncMs ?? 300_000);
  }
}
