import type { LocatedResource } from '@dubbo-mesh/config';
import type { ConfigSource, RejectedResource, SourceState } from '@dubbo-mesh/control-plane';
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
import { SERVICE_NAME_LABEL } from './annotations.js';
import { systemClock, type Clock } from './clock.js';
import type { ClusterObjects } from './endpoint-mapping.js';
import { mapIngress, servedByGateway, type IngressClasses } from './ingress-mapping.js';
import { objectKey, type KubeObject } from './kube-objects.js';
import { ResilientInformer, type InformerOptions, type InformerStatus } from './resilient-informer.js';
import { mapAnnotatedService, mapCustomResource, originOf, type Mapped } from './resource-mapping.js';
import { customResourceKinds, informedTypes } from './watched-types.js';

/** What the Kubernetes source is started with. */
export interface KubernetesSourceOptions {
  readonly kubeConfig: KubeConfig;
  /** Follow one namespace (`--kube-namespace`); undefined: every namespace. */
  readonly namespace?: string;
  /** Default `kubernetes`. */
  readonly name?: string;
  readonly clock?: Clock;
  readonly wallClock?: () => Date;
  /**
   * Changes are gathered for this long after the last one before a new state is emitted
   * (default 100 ms), and for at most `maxDelayMs` after the first (default 300 ms): a burst of
   * 500 pod changes is one rebuild, and a change still reaches proxies within a second.
   */
  readonly debounceMs?: number;
  readonly maxDelayMs?: number;
  /** Backoff and watchdog of the informers. */
  readonly informers?: Omit<InformerOptions, 'clock' | 'wallClock' | 'log'>;
  readonly log?: (level: 'info' | 'warn', message: string, fields: Record<string, unknown>) => void;
  /** Who leads the writes (shown in `GET /api/v1/sources`). */
  readonly leadership?: () => { readonly identity: string; readonly leading: boolean; readonly leader: string | undefined };
  /** What the writers that follow the source report (shown in `GET /api/v1/sources` as `writers`). */
  readonly writers?: () => Record<string, unknown>;
}

/** A custom resource (or other object) the source refused, with every error. */
export interface RefusedObject {
  /** `DubboRoute default/x`, `Service default/y`, `Ingress default/z`. */
  readonly object: string;
  readonly errors: readonly string[];
}

/** One mesh resource the source makes, from one object and what it depends on. */
interface Unit {
  readonly mapped: Mapped;
  /** The object whose status tells whether it was accepted (a custom resource), if any. */
  readonly statusTarget: { kind: string; namespace: string; name: string } | undefined;
  /** The generation of the object it was mapped from (what a status's observedGeneration says). */
  readonly generation: number | undefined;
  /** The raw JSON it was made from, to keep the same resource object when nothing changed. */
  readonly json: string;
  /** Sort key: older objects first, so of two that claim the same thing the older wins. */
  readonly order: string;
  readonly pods: readonly string[];
  readonly backends: readonly string[];
  /**
   * For a kind whose last valid version stays when an edit makes it invalid
   * ({@link KEEP_LAST_VALID}): that version, while the object is invalid.
   */
  readonly lastValid?: LocatedResource;
}

const MAX_NOTES = 100;

/**
 * Kinds whose last valid version stays in force when an edit makes the object invalid (the
 * object's status says Invalid with every error meanwhile). Dubbo governance rules work this
 * way in Dubbo's config center, and a broken edit of a blacklist must not open the gate; nor
 * must a broken edit of a plugin (a login check) take the check off the call path.
 */
const KEEP_LAST_VALID: ReadonlySet<string> = new Set(['DubboRule', 'DubboPlugin']);

function createdAt(object: KubeObject): string {
  const value = (object.metadata as { creationTimestamp?: unknown } | undefined)?.creationTimestamp;
  const time = value instanceof Date ? value.getTime() : typeof value === 'string' ? Date.parse(value) : NaN;
  return Number.isFinite(time) ? String(time).padStart(16, '0') : '9'.repeat(16);
}

/**
 * The control plane's Kubernetes source (SPEC "Kubernetes"): informers on the mesh's custom
 * resources, Services, EndpointSlices, Pods, Ingresses and IngressClasses, mapped to mesh
 * resources — custom resources validated like files; DubboServices without endpoints given the
 * ready endpoints of their Service; Services annotated `dubbo-mesh.io/interfaces` made mesh
 * services; Ingresses of class dubbo made DubboIngresses for gateways.
 *
 * Each object stands alone: one that fails validation (or, told by the builder, a
 * cross-reference) is refused and the rest goes on (`refusal: 'resource'`). Changes are
 * debounced, and only what a change touches is mapped again (a pod's event maps the services
 * whose endpoints it is); an unchanged result keeps its resource object, so the snapshot reuses
 * its encoding and a replay (reconnect, re-list) publishes nothing.
 */
export class KubernetesSource implements ConfigSource, ClusterObjects, IngressClasses {
  readonly name: string;
  readonly type = 'kubernetes';
  readonly refusal = 'resource' as const;
  private readonly clock: Clock;
  private readonly informers = new Map<string, ResilientInformer<KubernetesObject>>();
  private readonly customKinds: Set<string>;
  /** EndpointSlices by `namespace/service`. */
  private readonly slices = new Map<string, Map<string, KubeObject>>();
  private readonly units = new Map<string, Unit>();
  private readonly dirty = new Set<string>();
  /** Pod `namespace/name` → units whose endpoints read it. */
  private readonly podDependents = new Map<string, Set<string>>();
  /** Service `namespace/name` → Ingress units whose backends it is. */
  private readonly backendDependents = new Map<string, Set<string>>();
  /** Refused by the builder (cross-references), by origin. */
  private builderRefused: ReadonlyMap<string, readonly string[]> = new Map();
  private emit: ((state: SourceState) => void) | undefined;
  private flushTimer: unknown;
  private firstDirtyAt = 0;
  private emitted: readonly LocatedResource[] | undefined;
  private stopped = false;
  /** The errors of each refused object last logged, so a refusal is logged once, not at every build. */
  private logged = new Map<string, string>();
  /**
   * Moves whenever an outcome may have changed (a build mapped something again, the builder
   * refused or accepted something): a writer that saw this value already has nothing to do.
   */
  outcomesVersion = 0;
  /** An object of a kind whose status is written (or that feeds one: the gateway's Service) changed since the last build. */
  private writtenKindChanged = false;
  /** Listeners told after each build which objects are accepted or refused (the status writer). */
  private readonly outcomeListeners = new Set<() => void>();
  /** Listeners told of every pod event (the resolve ConfigMap writer: which namespaces mount it). */
  private readonly podListeners = new Set<(pod: KubeObject, deleted: boolean) => void>();

  constructor(private readonly options: KubernetesSourceOptions) {
    this.name = options.name ?? 'kubernetes';
    this.clock = options.clock ?? systemClock;
    this.customKinds = new Set(customResourceKinds().map((definition) => definition.kind));
    const informerOptions: InformerOptions = { ...options.informers, clock: this.clock, wallClock: options.wallClock, log: options.log };
    for (const type of informedTypes(options.kubeConfig, options.namespace)) {
      const informer = new ResilientInformer<KubernetesObject>(
        type,
        options.kubeConfig,
        {
          onUpsert: (object, previous) => this.changed(type.kind, object as KubeObject, previous as KubeObject | undefined),
          onDelete: (object) => this.changed(type.kind, object as KubeObject, undefined, true),
        },
        informerOptions,
      );
      this.informers.set(type.kind, informer);
    }
  }

  /** Start every informer; the first state is emitted once every one has listed. */
  async start(emit: (state: SourceState) => void): Promise<void> {
    this.stopped = false;
    await Promise.all([...this.informers.values()].map((informer) => informer.start()));
    if (this.stopped) return;
    this.emit = emit;
    // Everything, once: the events of the first lists only filled the stores.
    this.dirty.clear();
    for (const kind of this.customKinds) for (const object of this.informer(kind).list()) this.dirty.add(this.unitOf(kind, object as KubeObject));
    for (const service of this.informer('Service').list()) this.dirty.add(`svc:${objectKey(service as KubeObject)}`);
    for (const ingress of this.informer('Ingress').list()) this.dirty.add(`ing:${objectKey(ingress as KubeObject)}`);
    this.flush();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.clock.clearTimer(this.flushTimer);
    await Promise.all([...this.informers.values()].map((informer) => informer.stop()));
  }

  // ClusterObjects and IngressClasses: what mapping reads.
  service(namespace: string, name: string): KubeObject | undefined {
    return this.informer('Service').get(namespace, name) as KubeObject | undefined;
  }
  slicesOf(namespace: string, serviceName: string): readonly KubeObject[] {
    const slices = this.slices.get(`${namespace}/${serviceName}`);
    return slices === undefined ? [] : [...slices.values()];
  }
  pod(namespace: string, name: string): KubeObject | undefined {
    return this.informer('Pod').get(namespace, name) as KubeObject | undefined;
  }
  get(name: string): KubeObject | undefined {
    return this.informer('IngressClass').get('', name) as KubeObject | undefined;
  }
  all(): readonly KubeObject[] {
    return this.informer('IngressClass').list() as KubeObject[];
  }

  /** One object the source knows now, by kind, namespace (empty for cluster-scoped) and name. */
  object(kind: string, namespace: string, name: string): KubeObject | undefined {
    return this.informers.get(kind)?.get(namespace, name) as KubeObject | undefined;
  }

  /** The objects of one kind the source knows now (a custom resource kind, `Service`, `Pod` …). */
  objects(kind: string): KubeObject[] {
    return (this.informers.get(kind)?.list() ?? []) as KubeObject[];
  }

  /** Whether every informer reaches the API server now. */
  connection(): { connected: boolean; error?: string } {
    const failing = [...this.informers.values()].map((informer) => informer.status()).find((status) => !status.connected);
    if (failing === undefined) return { connected: true };
    return { connected: false, error: `${failing.kind}: ${failing.lastError ?? 'not connected'}` };
  }

  /** Custom resources that failed validation, with their errors (`GET /api/v1/rules` and `/api/v1/plugins` list the rules and plugins among them). */
  rejectedResources(): RejectedResource[] {
    const out: RejectedResource[] = [];
    for (const unit of this.units.values()) {
      const target = unit.statusTarget;
      if (target === undefined || unit.mapped.ok) continue;
      out.push({
        kind: target.kind,
        name: `${target.namespace}/${target.name}`,
        origin: originOf(target.kind, target.namespace, target.name),
        errors: unit.mapped.errors,
        lastValidInForce: unit.lastValid !== undefined,
      });
    }
    return out;
  }

  /** Objects refused now: by validation, or by the builder's cross-reference check. */
  refusedObjects(): RefusedObject[] {
    const out: RefusedObject[] = [];
    for (const [key, unit] of this.units) {
      const object = this.describeUnit(key);
      if (!unit.mapped.ok) out.push({ object, errors: unit.mapped.errors });
      else {
        const errors = this.builderRefused.get(unit.mapped.located.origin ?? '');
        if (errors !== undefined) out.push({ object, errors });
      }
    }
    return out;
  }

  /**
   * Every custom resource the source knows, with its outcome: accepted (in force), or refused
   * with its errors; with the generation it was judged at (for `observedGeneration`).
   */
  outcomes(): Array<{ kind: string; namespace: string; name: string; generation: number | undefined; accepted: boolean; errors: readonly string[] }> {
    const out = [];
    for (const [key, unit] of this.units) {
      const target = unit.statusTarget;
      if (target === undefined) continue;
      const object = this.informer(target.kind).get(target.namespace, target.name) as KubeObject | undefined;
      // Gone, or changed since it was mapped (a new verdict is on its way): nothing to say yet.
      if (object === undefined || object.metadata?.generation !== unit.generation) continue;
      const errors = unit.mapped.ok ? this.builderRefused.get(unit.mapped.located.origin ?? '') : unit.mapped.errors;
      out.push({ ...target, generation: unit.generation, accepted: errors === undefined, errors: errors ?? [], key });
    }
    return out;
  }

  /** The Ingresses the gateway serves now (of class dubbo, mapped and not refused). */
  servedIngresses(): KubeObject[] {
    const out: KubeObject[] = [];
    for (const [key, unit] of this.units) {
      if (!key.startsWith('ing:') || !unit.mapped.ok || this.builderRefused.has(unit.mapped.located.origin ?? '')) continue;
      const [namespace = '', name = ''] = key.slice(4).split('/');
      const ingress = this.informer('Ingress').get(namespace, name) as KubeObject | undefined;
      if (ingress !== undefined) out.push(ingress);
    }
    return out;
  }

  /** Be told after each build (and each builder refusal) that outcomes may have changed. */
  onOutcomes(listener: () => void): () => void {
    this.outcomeListeners.add(listener);
    return () => this.outcomeListeners.delete(listener);
  }

  /**
   * Be told of each pod the source's informer sees added, changed or deleted (the initial list
   * included), without a second watch; {@link objects}`('Pod')` lists what is known now.
   */
  onPods(listener: (pod: KubeObject, deleted: boolean) => void): () => void {
    this.podListeners.add(listener);
    return () => this.podListeners.delete(listener);
  }

  /** Held resources logged at the build before, and at this one. */
  private heldBefore = new Set<string>();
  private heldNow = new Set<string>();

  onResourcesHeld(held: readonly LocatedResource[]): void {
    for (const item of held) {
      const label = `${item.resource.kind} ${item.resource.metadata.namespace}/${item.resource.metadata.name}`;
      if (!this.heldBefore.has(label))
        this.options.log?.(
          'warn',
          `${label} is gone from the cluster (deleted or now invalid) but another source refers to it: its last version stays in force`,
          {
            object: label,
          },
        );
      this.heldNow.add(label);
    }
  }

  onResourcesRefused(refused: ReadonlyMap<string, readonly string[]>): void {
    this.heldBefore = this.heldNow;
    this.heldNow = new Set();
    const before = this.builderRefused;
    this.builderRefused = refused;
    if (before.size === 0 && refused.size === 0) return;
    this.outcomesVersion += 1;
    this.logRefusals();
    for (const listener of this.outcomeListeners) listener();
  }

  details(): Record<string, unknown> {
    const statuses: InformerStatus[] = [...this.informers.values()].map((informer) => informer.status());
    const latest = (dates: Array<Date | undefined>) =>
      dates.reduce<Date | undefined>((max, date) => (date !== undefined && (max === undefined || date > max) ? date : max), undefined)?.toISOString() ?? null;
    const notes = [...this.units.values()].flatMap((unit) => unit.mapped.notes);
    const leadership = this.options.leadership?.();
    return {
      namespace: this.options.namespace ?? null,
      ...(leadership === undefined ? {} : { leadership: { identity: leadership.identity, leading: leadership.leading, leader: leadership.leader ?? null } }),
      connected: statuses.every((status) => status.connected),
      objects: Object.fromEntries(statuses.map((status) => [status.kind, status.objects])),
      lastEvent: latest(statuses.map((status) => status.lastEventAt)),
      lastRelist: latest(statuses.map((status) => status.lastRelistAt)),
      informers: statuses.map((status) => ({
        kind: status.kind,
        connected: status.connected,
        synced: status.synced,
        objects: status.objects,
        lastEvent: status.lastEventAt?.toISOString() ?? null,
        lastRelist: status.lastRelistAt?.toISOString() ?? null,
        error: status.lastError ?? null,
        restarts: status.restarts,
        watchdogRelists: status.watchdogRelists,
      })),
      refused: this.refusedObjects(),
      notes: notes.slice(0, MAX_NOTES),
      ...(notes.length > MAX_NOTES ? { notesLeftOut: notes.length - MAX_NOTES } : {}),
      ...(this.options.writers === undefined ? {} : { writers: this.options.writers() }),
    };
  }

  private informer(kind: string): ResilientInformer<KubernetesObject> {
    const informer = this.informers.get(kind);
    if (informer === undefined) throw new Error(`no informer for ${kind}`);
    return informer;
  }

  private unitOf(kind: string, object: KubeObject): string {
    return kind === 'DubboService' ? `svc:${objectKey(object)}` : `cr:${kind}:${objectKey(object)}`;
  }

  private describeUnit(key: string): string {
    const [type, rest] = [key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)];
    if (type === 'ing') return `Ingress ${rest}`;
    if (type === 'cr') return `${rest.slice(0, rest.indexOf(':'))} ${rest.slice(rest.indexOf(':') + 1)}`;
    const [namespace = '', name = ''] = rest.split('/');
    return this.informer('DubboService').get(namespace, name) !== undefined ? `DubboService ${rest}` : `Service ${rest}`;
  }

  /** An object changed (or was deleted): mark what it feeds, and schedule a build. */
  private changed(kind: string, object: KubeObject, previous: KubeObject | undefined, deleted = false): void {
    const key = objectKey(object);
    if (this.customKinds.has(kind) || kind === 'Ingress' || kind === 'Service') this.writtenKindChanged = true;
    if (this.customKinds.has(kind)) this.dirty.add(this.unitOf(kind, object));
    else if (kind === 'Service') {
      this.dirty.add(`svc:${key}`);
      for (const unit of this.backendDependents.get(key) ?? []) this.dirty.add(unit);
    } else if (kind === 'EndpointSlice') {
      const namespace = object.metadata?.namespace ?? '';
      for (const version of [previous, object]) {
        const service = version?.metadata?.labels?.[SERVICE_NAME_LABEL];
        if (service === undefined) continue;
        const serviceKey = `${namespace}/${service}`;
        const slices = this.slices.get(serviceKey);
        if (version === previous) slices?.delete(key);
        this.dirty.add(`svc:${serviceKey}`);
        for (const unit of this.backendDependents.get(serviceKey) ?? []) this.dirty.add(unit);
      }
      const service = object.metadata?.labels?.[SERVICE_NAME_LABEL];
      if (!deleted && service !== undefined) {
        const serviceKey = `${namespace}/${service}`;
        let slices = this.slices.get(serviceKey);
        if (slices === undefined) this.slices.set(serviceKey, (slices = new Map()));
        slices.set(key, object);
      } else if (deleted && service !== undefined) {
        const slices = this.slices.get(`${namespace}/${service}`);
        slices?.delete(key);
        if (slices?.size === 0) this.slices.delete(`${namespace}/${service}`);
      }
    } else if (kind === 'Pod') {
      for (const unit of this.podDependents.get(key) ?? []) this.dirty.add(unit);
      for (const listener of this.podListeners) listener(object, deleted);
    } else if (kind === 'Ingress') this.dirty.add(`ing:${key}`);
    else if (kind === 'IngressClass') for (const ingress of this.informer('Ingress').list()) this.dirty.add(`ing:${objectKey(ingress as KubeObject)}`);
    this.schedule();
  }

  private schedule(): void {
    if (this.emit === undefined || this.stopped || this.dirty.size === 0) return;
    const now = this.clock.now();
    const debounceMs = this.options.debounceMs ?? 100;
    const maxDelayMs = this.options.maxDelayMs ?? 300;
    if (this.flushTimer === undefined) this.firstDirtyAt = now;
    else {
      // Past the longest wait: the timer already armed fires when it must.
      if (now + debounceMs > this.firstDirtyAt + maxDelayMs) return;
      this.clock.clearTimer(this.flushTimer);
    }
    this.flushTimer = this.clock.setTimer(() => this.flush(), Math.min(debounceMs, this.firstDirtyAt + maxDelayMs - now));
  }

  /** Map every dirty unit again and emit the state when a resource changed. */
  private flush(): void {
    this.flushTimer = undefined;
    if (this.emit === undefined || this.stopped) return;
    let changed = false;
    const dirty = [...this.dirty];
    this.dirty.clear();
    for (const key of dirty) changed = this.remap(key) || changed;
    // A writer has work when a resource changed, or an object whose status it writes (a custom
    // resource, an Ingress, the gateway's Service) did; pod churn that changes nothing does not
    // make every status be looked at again.
    if (changed || this.writtenKindChanged) this.outcomesVersion += 1;
    this.writtenKindChanged = false;
    if (!changed && this.emitted !== undefined) {
      // Nothing for proxies; a writer may still have work (a gateway Service's address changed).
      for (const listener of this.outcomeListeners) listener();
      return;
    }
    const units = [...this.units.values()].sort((a, b) => (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));
    const resources: LocatedResource[] = [];
    for (const unit of units) {
      if (unit.mapped.ok) resources.push(unit.mapped.located);
      else if (unit.lastValid !== undefined) resources.push(unit.lastValid);
    }
    this.emitted = resources;
    this.emit({ kind: 'resources', resources });
    this.logRefusals();
    for (const listener of this.outcomeListeners) listener();
  }

  /** Log each object newly refused (or refused for other reasons), and each that is no longer. */
  private logRefusals(): void {
    const now = new Map(this.refusedObjects().map((refused) => [refused.object, refused.errors.join('\n')]));
    for (const [object, errors] of now) {
      if (this.logged.get(object) === errors) continue;
      this.options.log?.('warn', `refused ${object}; the rest of the cluster's resources are in force`, { object, errors: errors.split('\n') });
    }
    for (const object of this.logged.keys()) if (!now.has(object)) this.options.log?.('info', `${object} is accepted now`, { object });
    this.logged = now;
  }

  /** Map one unit again; true when its resource (or refusal) changed. */
  private remap(key: string): boolean {
    const previous = this.units.get(key);
    const next = this.map(key);
    this.track(key, previous, next);
    if (next === undefined) {
      if (previous === undefined) return false;
      this.units.delete(key);
      return true;
    }
    if (previous !== undefined && previous.json === next.json) {
      // Same content: keep the resource object the snapshot already encoded.
      const kept =
        previous.mapped.ok && next.mapped.ok ? { ...next, mapped: { ...next.mapped, located: previous.mapped.located, raw: previous.mapped.raw } } : next;
      this.units.set(key, previous.lastValid === undefined || next.mapped.ok ? kept : { ...kept, lastValid: previous.lastValid });
      return false;
    }
    const lastValid =
      next.mapped.ok || previous === undefined || !KEEP_LAST_VALID.has(next.statusTarget?.kind ?? '')
        ? undefined
        : previous.mapped.ok
          ? previous.mapped.located
          : previous.lastValid;
    this.units.set(key, lastValid === undefined ? next : { ...next, lastValid });
    return true;
  }

  /** Keep the reverse indexes (pods, Ingress backends) in step with what a unit read. */
  private track(key: string, previous: Unit | undefined, next: Unit | undefined): void {
    for (const pod of previous?.pods ?? []) this.podDependents.get(pod)?.delete(key);
    for (const backend of previous?.backends ?? []) this.backendDependents.get(backend)?.delete(key);
    for (const pod of next?.pods ?? []) {
      let set = this.podDependents.get(pod);
      if (set === undefined) this.podDependents.set(pod, (set = new Set()));
      set.add(key);
    }
    for (const backend of next?.backends ?? []) {
      let set = this.backendDependents.get(backend);
      if (set === undefined) this.backendDependents.set(backend, (set = new Set()));
      set.add(key);
    }
    for (const pod of previous?.pods ?? []) if (this.podDependents.get(pod)?.size === 0) this.podDependents.delete(pod);
    for (const backend of previous?.backends ?? []) if (this.backendDependents.get(backend)?.size === 0) this.backendDependents.delete(backend);
  }

  private map(key: string): Unit | undefined {
    const type = key.slice(0, key.indexOf(':'));
    const rest = key.slice(key.indexOf(':') + 1);
    if (type === 'cr') {
      const kind = rest.slice(0, rest.indexOf(':'));
      const [namespace = '', name = ''] = rest.slice(rest.indexOf(':') + 1).split('/');
      const object = this.informer(kind).get(namespace, name) as KubeObject | undefined;
      if (object === undefined) return undefined;
      return this.unit(mapCustomResource(object, this), object, { kind, namespace, name });
    }
    const [namespace = '', name = ''] = rest.split('/');
    if (type === 'svc') {
      const custom = this.informer('DubboService').get(namespace, name) as KubeObject | undefined;
      if (custom !== undefined) return this.unit(mapCustomResource(custom, this), custom, { kind: 'DubboService', namespace, name });
      const service = this.service(namespace, name);
      const mapped = service === undefined ? undefined : mapAnnotatedService(service, this);
      return mapped === undefined || service === undefined ? undefined : this.unit(mapped, service, undefined);
    }
    const ingress = this.informer('Ingress').get(namespace, name) as KubeObject | undefined;
    if (ingress === undefined || !servedByGateway(ingress, this)) return undefined;
    const mapped = mapIngress(ingress, this);
    return this.unit(mapped, ingress, undefined, mapped.services);
  }

  private unit(mapped: Mapped, object: KubeObject, statusTarget: Unit['statusTarget'], backends: readonly string[] = []): Unit {
    const json = mapped.ok ? JSON.stringify(mapped.raw) : JSON.stringify(mapped.errors);
    return {
      mapped,
      statusTarget,
      generation: object.metadata?.generation,
      json,
      order: `${createdAt(object)} ${objectKey(object)}`,
      pods: mapped.pods,
      backends,
    };
  }
}
