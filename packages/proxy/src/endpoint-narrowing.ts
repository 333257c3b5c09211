import type { ClusterMember } from './cluster.js';
import type { FilterCall } from './filter.js';
import type { RouteDecision } from './routing-table.js';

/**
 * Narrows, per call, the endpoints of the destination a route chose, before load balancing
 * (what Dubbo's tag and condition rules do). Several narrowings apply in order, each to what
 * the one before kept. Synchronous: it runs on every attempt of the call.
 */
export interface EndpointNarrowing {
  /** Names it in replies and errors (an empty result is answered 70 naming it). */
  readonly name: string;
  /** As `ProxyFilter.appliesTo`: asked once per route decision and remembered. */
  appliesTo?(decision: RouteDecision): boolean;
  /**
   * The endpoints of `candidates` this call may go to. `candidates` are members of the
   * destination `cluster` (all of them, available or not, in a stable array: return it
   * itself to keep all). The load balancer then picks among those kept that are available;
   * its picker is built once per distinct kept set and availability, so return the same set
   * for the same inputs. An empty result ends the call with status 70.
   */
  narrow(call: FilterCall, candidates: readonly ClusterMember[], cluster: string): readonly ClusterMember[];
  /**
   * Why the last {@link narrow} kept nothing, in words for the reply (`… blacklists the
   * call`), asked right after it returned an empty result; absent or undefined: the reply
   * says the narrowing kept none of the endpoints.
   */
  whyEmpty?(): string | undefined;
}
