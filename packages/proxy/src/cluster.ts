import {
  DEFAULT_CONNECTION_POOL, DEFAULT_LOAD_BALANCER, DEFAULT_OUTLIER_DETECTION, type ConnectionPoolConfig, type HashOn, type LoadBalancerConfig, type OutlierDetectionConfig,
} from '@dubbo-mesh/config';
import { getLoadBalancer, type Endpoint, type PickContext, type Picker } from '@dubbo-mesh/load-balancer';
import type { UpstreamEndpoint } from './upstream-endpoint.js';

/** An endpoint as one cluster sees it: the shared upstream, with this service's weight and labels. */
export interface ClusterMember extends Endpoint {
  readonly upstream: UpstreamEndpoint;
  readonly labels: Readonly<Record<string, string>>;
}

/** Narrowed sets whose pickers one cluster keeps; past this the cache starts over (a narrowing that yields ever new sets must not grow it without bound). */
export const NARROWED_PICKERS_LIMIT = 64;

/** A picker over one narrowed set of a cluster's members, valid for one availability epoch. */
interface NarrowedPicker {
  /** The set, in the cluster's member order. */
  readonly members: readonly ClusterMember[];
  /** The array a narrowing returned for it last (a narrowing that returns the same array is matched without a key). */
  source: readonly ClusterMember[];
  picker: Picker | undefined;
  /** Why none of the set is available, when `picker` is undefined. */
  reason: string | undefined;
  epoch: number;
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
  private narrowed: Map<number | string, NarrowedPicker> | undefined;
  private lastNarrowed: NarrowedPicker | undefined;
  private memberIndex: Map<ClusterMember, number> | undefined;

  constructor(
    /** `namespace/service` or `namespace/service/subset`. */
    readonly name: string,
    readonly members: readonly ClusterMember[],
    readonly loadBalancer: LoadBalancerConfig = DEFAULT_LOAD_BALANCER,
    readonly pool: ConnectionPoolConfig = DEFAULT_CONNECTION_POOL,
    readonly outlierDetection: OutlierDetectionConfig | undefined = DEFAULT_OUTLIER_DETECTION,
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
   * (members of other clusters are ignored). The picker over the available ones of the set
   * is built once per distinct set and availability epoch, and kept: a narrowing that keeps
   * the same set call after call builds no picker per call. The set is recognised by the
   * array itself when the narrowing returns the same one, else by which members it holds.
   */
  pickAmong(members: readonly ClusterMember[], context: PickContext, epoch: number): ClusterMember | string {
    if (members === this.members) return this.pick(context, epoch);
    let entry = this.lastNarrowed;
    if (entry === undefined || entry.source !== members) {
      const key = this.setKey(members);
      const cache = (this.narrowed ??= new Map());
      entry = cache.get(key);
      if (entry === undefined) {
        if (cache.size >= NARROWED_PICKERS_LIMIT) cache.clear();
        const kept = new Set(members);
        entry = { members: this.members.filter((member) => kept.has(member)), source: members, picker: undefined, reason: undefined, epoch: -1 };
        cache.set(key, entry);
      }
      entry.source = members;
      this.lastNarrowed = entry;
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

  /** A key of a subset of the members: a bit mask of their indexes for up to 31 members (no string built), else their indexes joined. */
  private setKey(members: readonly ClusterMember[]): number | string {
    const index = (this.memberIndex ??= new Map(this.members.map((member, i) => [member, i])));
    if (this.members.length <= 31) {
      let mask = 0;
      for (const member of members) {
        const i = index.get(member);
        if (i !== undefined) mask |= 1 << i;
      }
      return mask;
    }
    const indexes: number[] = [];
    for (const member of members) {
      const i = index.get(member);
      if (i !== undefined) indexes.push(i);
    }
    return indexes.sort((a, b) => a - b).join(',');
  }

  /** Why no member (of the cluster, or of a narrowed set) takes calls, naming the first few and their causes. */
  private whyNoneAvailable(members: readonly ClusterMember[] = this.members): string {
    if (members.length === 0) return 'it has no endpoints';
    const reasons = members.slice(0, 3).map((member) => member.upstream.unavailableReason ?? `${member.id} is ejected`);
    const more = members.length > 3 ? `; and ${members.length - 3} more` : '';
    return `all ${members.length} endpoint${members.length === 1 ? ' is' : 's are'} unavailable (${reasons.join('; ')}${more})`;
  }
}
