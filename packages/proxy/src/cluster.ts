import {
  DEFAULT_CONNECTION_POOL,
  DEFAULT_LOAD_BALANCER,
  DEFAULT_OUTLIER_DETECTION,
  type ConnectionPoolConfig,
  type HashOn,
  type LoadBalancerConfig,
  type OutlierDetectionConfig,
} from '@dubbo-mesh/config';
import { getLoadBalancer, type Endpoint, type PickContext, type Picker } from '@dubbo-mesh/load-balancer';
import type { UpstreamEndpoint } from './upstream-endpoint.js';

/** An endpoint as one cluster sees it: the shared upstream, with this service's weight and labels. */
export interface ClusterMember extends Endpoint {
  readonly upstream: UpstreamEndpoint;
  readonly labels: Readonly<Record<string, string>>;
}

/** A call's timeout and retries as Dubbo's override rules set them, for calls whose route sets none. */
export interface CallOverrides {
  /** The timeout of an attempt sent to each member the rules give one (Dubbo reads it from the provider called). */
  readonly timeoutsMs: ReadonlyMap<ClusterMember, number> | undefined;
  /** The call's retries, when the rules give every member the same. */
  readonly retries: number | undefined;
}

/** Narrowed sets whose pickers one cluster keeps; past this the cache starts over (a narrowing that yields ever new sets must not grow it without bound). */
export const NARROWED_PICKERS_LIMIT = 64;

/** A picker over one narrowed set of a cluster's members, valid for one availability epoch. */
interface NarrowedPicker {
  /** The set, in the cluster's member order. */
  readonly members: readonly ClusterMember[];
  /** Their indexes in the cluster's members, ascending. */
  readonly indexes: readonly number[];
  /** {@link mixIndex} summed over `indexes`: the cache key (verified against the members, so a collision costs a comparison, never a wrong set). */
  readonly hash: number;
  picker: Picker | undefined;
  /** Why none of the set is available, when `picker` is undefined. */
  reason: string | undefined;
  epoch: number;
}

/** A well-spread 32-bit value of a member index (a Murmur3-style finaliser); summed, it keys a set whatever the order it is given in. */
function mixIndex(index: number): number {
  let x = Math.imul(index + 1, 0x9e3779b1);
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  return x;
}

/**
 * The endpoints of one service (or one subset of it), its load balancer and its circuit
 * breaker. The picker is rebuilt over the available members whenever availability changes.
 */
export class Cluster {
  /** Calls in flight through this cluster (circuit breaker `maxRequests`). */
  active = 0;
  private picker: Picker | undefined;
  private pickerEpoch = -1;
  /** Pickers built (whole cluster and narrowed sets): for tests and `/clusters`, a measure of rebuilds. */
  pickerBuilds = 0;
  /** Narrowed sets by hash (a list: sets whose hashes collide share a key). */
  private narrowed: Map<number, NarrowedPicker[]> | undefined;
  private narrowedCount = 0;
  private lastNarrowed: NarrowedPicker | undefined;
  /** Frozen narrowed arrays seen, and their sets (weakly: the arrays go with the narrowings' caches). */
  private byFrozen: WeakMap<readonly ClusterMember[], NarrowedPicker> | undefined;
  private lastFrozen: readonly ClusterMember[] | undefined;
  private lastFrozenEntry: NarrowedPicker | undefined;
  private memberIndex: Map<ClusterMember, number> | undefined;
  /** Per member index, the stamp of the last `pickAmong` that was given it: the set given, with no allocation per call. */
  private marks: Uint32Array | undefined;
  private stamp = 0;

  constructor(
    /** `namespace/service` or `namespace/service/subset`. */
    readonly name: string,
    readonly members: readonly ClusterMember[],
    readonly loadBalancer: LoadBalancerConfig = DEFAULT_LOAD_BALANCER,
    readonly pool: ConnectionPoolConfig = DEFAULT_CONNECTION_POOL,
    readonly outlierDetection: OutlierDetectionConfig | undefined = DEFAULT_OUTLIER_DETECTION,
    /** What Dubbo's override rules set for the calls of this cluster (an overridden view of another cluster only). */
    readonly callOverrides?: CallOverrides,
  ) {}

  /** What the consistent-hash key is read from, if the policy hashes. */
  get hashOn(): HashOn | undefined {
    return this.loadBalancer.hash;
  }

  /**
   * Members that may take new calls: not READONLY, and not ejected — but never more ejected
   * than `maxEjectionPercent` of the members; past that, those whose ejection ends soonest
   * serve again.
   */
  availableMembers(): ClusterMember[] {
    const live = this.members.filter((member) => member.upstream.available);
    const ejected = live.filter((member) => member.upstream.ejected);
    if (ejected.length === 0) return live;
    const allowed = Math.floor(((this.outlierDetection?.maxEjectionPercent ?? 100) * this.members.length) / 100);
    const kept = new Set(ejected.sort((a, b) => a.upstream.ejectedUntil - b.upstream.ejectedUntil).slice(0, Math.max(0, ejected.length - allowed)));
    return live.filter((member) => !member.upstream.ejected || kept.has(member));
  }

  /**
   * Pick a member, or say why none can be picked (a string); `epoch` is the availability
   * generation, to rebuild a stale picker.
   */
  pick(context: PickContext, epoch: number): ClusterMember | string {
    if (this.picker === undefined || this.pickerEpoch !== epoch) {
      const available = this.availableMembers();
      this.picker = getLoadBalancer(this.loadBalancer.policy).createPicker(available);
      this.pickerBuilds += 1;
      this.pickerEpoch = epoch;
      if (available.length === 0) {
        this.picker = undefined;
        return this.whyNoneAvailable();
      }
    }
    const result = this.picker.pick(context);
    return result.type === 'complete' ? (result.endpoint as ClusterMember) : result.reason;
  }

  /**
   * Pick among `members`, a subset of this cluster's members an endpoint narrowing kept
   * (members of other clusters are ignored, a member given twice counts once, order does not
   * matter). The picker over the available ones of the set is built once per distinct set
   * and availability epoch, and kept: a narrowing that keeps the same set call after call
   * builds no picker per call. The set is recognised by the members the array holds now,
   * never by the array itself (a narrowing may refill one array call after call): one pass
   * over it marks their indexes and sums a hash of them, with no allocation, and a cached
   * set matches when its members are exactly those marked. A frozen array cannot be refilled:
   * it is known by identity after its first pass (what the governance rules return).
   */
  pickAmong(members: readonly ClusterMember[], context: PickContext, epoch: number): ClusterMember | string {
    if (members === this.members) return this.pick(context, epoch);
    // A frozen array cannot be refilled: its set is known by the array itself, with no pass over it.
    const frozen = Object.isFrozen(members);
    let entry = !frozen ? undefined : members === this.lastFrozen ? this.lastFrozenEntry : this.byFrozen?.get(members);
    if (entry === undefined) {
      entry = this.narrowedEntry(members);
      if (frozen) (this.byFrozen ??= new WeakMap()).set(members, entry);
    }
    if (frozen) {
      this.lastFrozen = members;
      this.lastFrozenEntry = entry;
    }
    if (entry.epoch !== epoch) {
      const available = new Set(this.availableMembers());
      const usable = entry.members.filter((member) => available.has(member));
      entry.picker = usable.length === 0 ? undefined : getLoadBalancer(this.loadBalancer.policy).createPicker(usable);
      entry.reason = usable.length === 0 ? this.whyNoneAvailable(entry.members) : undefined;
      entry.epoch = epoch;
      this.pickerBuilds += 1;
    }
    if (entry.picker === undefined) return entry.reason!;
    const result = entry.picker.pick(context);
    return result.type === 'complete' ? (result.endpoint as ClusterMember) : result.reason;
  }

  /** The cached set of exactly the cluster members `members` holds, found (or added) by one pass over it. */
  private narrowedEntry(members: readonly ClusterMember[]): NarrowedPicker {
    const index = (this.memberIndex ??= new Map(this.members.map((member, i) => [member, i])));
    const marks = (this.marks ??= new Uint32Array(this.members.length));
    if (this.stamp === 0xffffffff) {
      marks.fill(0);
      this.stamp = 0;
    }
    const stamp = ++this.stamp;
    let distinct = 0;
    let hash = 0;
    for (let k = 0; k < members.length; k++) {
      const i = index.get(members[k]!);
      if (i === undefined || marks[i] === stamp) continue;
      marks[i] = stamp;
      distinct += 1;
      hash = (hash + mixIndex(i)) | 0;
    }
    let entry = this.lastNarrowed;
    if (entry === undefined || entry.hash !== hash || !holdsMarked(entry, distinct, marks, stamp)) {
      entry = this.findNarrowed(hash, distinct, marks, stamp) ?? this.addNarrowed(hash, marks, stamp);
      this.lastNarrowed = entry;
    }
    return entry;
  }

  /** The cached set whose members are exactly those marked with `stamp`. */
  private findNarrowed(hash: number, distinct: number, marks: Uint32Array, stamp: number): NarrowedPicker | undefined {
    const candidates = this.narrowed?.get(hash);
    if (candidates === undefined) return undefined;
    for (const candidate of candidates) if (holdsMarked(candidate, distinct, marks, stamp)) return candidate;
    return undefined;
  }

  /** Cache the set of the members marked with `stamp` (a cache past its limit starts over). */
  private addNarrowed(hash: number, marks: Uint32Array, stamp: number): NarrowedPicker {
    const cache = (this.narrowed ??= new Map());
    if (this.narrowedCount >= NARROWED_PICKERS_LIMIT) {
      cache.clear();
      this.narrowedCount = 0;
    }
    const indexes: number[] = [];
    const members: ClusterMember[] = [];
    for (let i = 0; i < marks.length; i++) {
      if (marks[i] !== stamp) continue;
      indexes.push(i);
      members.push(this.members[i]!);
    }
    const entry: NarrowedPicker = { members, indexes, hash, picker: undefined, reason: undefined, epoch: -1 };
    const list = cache.get(hash);
    if (list === undefined) cache.set(hash, [entry]);
    else list.push(entry);
    this.narrowedCount += 1;
    return entry;
  }

  /** Why no member (of the cluster, or of a narrowed set) takes calls, naming the first few and their causes. */
  private whyNoneAvailable(members: readonly ClusterMember[] = this.members): string {
    if (members.length === 0) return 'it has no endpoints';
    const reasons = members.slice(0, 3).map((member) => member.upstream.unavailableReason ?? `${member.id} is ejected`);
    const more = members.length > 3 ? `; and ${members.length - 3} more` : '';
    return `all ${members.length} endpoint${members.length === 1 ? ' is' : 's are'} unavailable (${reasons.join('; ')}${more})`;
  }
}

/** Whether `entry`'s members are exactly the `distinct` members marked with `stamp`. */
function holdsMarked(entry: NarrowedPicker, distinct: number, marks: Uint32Array, stamp: number): boolean {
  const indexes = entry.indexes;
  if (indexes.length !== distinct) return false;
  for (let k = 0; k < indexes.length; k++) if (marks[indexes[k]!] !== stamp) return false;
  return true;
}
