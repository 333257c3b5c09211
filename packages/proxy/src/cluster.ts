import {
  DEFAULT_CONNECTION_POOL, DEFAULT_LOAD_BALANCER, type ConnectionPoolConfig, type HashOn, type LoadBalancerConfig, type OutlierDetectionConfig,
} from '@dubbo-mesh/config';
import { getLoadBalancer, type Endpoint, type PickContext, type Picker } from '@dubbo-mesh/load-balancer';
import type { UpstreamEndpoint } from './upstream-endpoint.js';

/** An endpoint as one cluster sees it: the shared upstream, with this service's weight and labels. */
export interface ClusterMember extends Endpoint {
  readonly upstream: UpstreamEndpoint;
  readonly labels: Readonly<Record<string, string>>;
}

/** Outlier detection when a policy names none: the values SPEC's example uses. */
export const DEFAULT_OUTLIER_DETECTION: OutlierDetectionConfig = Object.freeze({ consecutiveErrors: 5, intervalMs: 5000, baseEjectionTimeMs: 30_000, maxEjectionPercent: 50 });

/**
 * The endpoints of one service (or one subset of it), its load balancer and its circuit
 * breaker. The picker is rebuilt over the available members whenever availability changes.
 */
export class Cluster {
  /** Calls in flight through this cluster (circuit breaker `maxRequests`). */
  active = 0;
  private picker: Picker | undefined;
  private pickerEpoch = -1;

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
      this.pickerEpoch = epoch;
      if (available.length === 0) {
        this.picker = undefined;
        return this.whyNoneAvailable();
      }
    }
    const result = this.picker.pick(context);
    return result.type === 'complete' ? (result.endpoint as ClusterMember) : result.reason;
  }

  /** Why no member takes calls, naming the first few and their causes. */
  private whyNoneAvailable(): string {
    const members = this.members;
    if (members.length === 0) return 'it has no endpoints';
    const reasons = members.slice(0, 3).map((member) => member.upstream.unavailableReason ?? `${member.id} is ejected`);
    const more = members.length > 3 ? `; and ${members.length - 3} more` : '';
    return `all ${members.length} endpoint${members.length === 1 ? ' is' : 's are'} unavailable (${reasons.join('; ')}${more})`;
  }
}
