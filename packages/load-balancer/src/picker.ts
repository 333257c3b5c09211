/**
 * The load-balancer interface (after grpc-js's load-balancer/picker split): a factory takes
 * the endpoint list and publishes an immutable-list picker; `pick()` returns a tagged result.
 */
import type { FieldSpec } from '@dubbo-mesh/schema';

/** Live numbers of one endpoint, kept by the proxy and read by the pickers. */
export interface EndpointStats {
  /** Calls in flight to the endpoint. */
  active: number;
  /** Exponentially weighted moving average of successful response times, in ms (0: none yet). */
  ewmaResponseMs: number;
}

/** What a load balancer sees of an endpoint. */
export interface Endpoint {
  /** Unique in the list: `host:port`. */
  readonly id: string;
  /** Relative weight; 0 is never picked. */
  readonly weight: number;
  readonly stats: EndpointStats;
}

/** What a pick may look at. */
export interface PickContext {
  /** The hash key for consistent-hash (an argument or attachment), read only when asked. */
  hashKey?: () => string | undefined;
  /** Endpoints already tried by this call: a retry goes elsewhere when it can. */
  exclude?: ReadonlySet<string>;
}

/** The outcome of a pick. */
export type PickResult = { readonly type: 'complete'; readonly endpoint: Endpoint } | { readonly type: 'unavailable'; readonly reason: string };

/** Picks endpoints from one fixed list. */
export interface Picker {
  pick(context: PickContext): PickResult;
}

/** A source of uniform numbers in [0, 1): injectable for tests. */
export type RandomSource = () => number;

/** Options shared by every factory. */
export interface PickerOptions {
  random?: RandomSource;
}

/** A named load-balancing algorithm. */
export interface LoadBalancerFactory {
  readonly name: string;
  /**
   * The fields this algorithm reads from a policy's `loadBalancer` besides `policy`, each with
   * its schema and default (consistent-hash's `hash`): the algorithm validates its own part of
   * the config, as a grpc-js load balancer registers with its config class.
   */
  readonly config?: LoadBalancerConfigClass;
  createPicker(endpoints: readonly Endpoint[], options?: PickerOptions): Picker;
}

/** The config an algorithm takes: its fields of `loadBalancer`, by name. */
export interface LoadBalancerConfigClass {
  readonly fields: Readonly<Record<string, FieldSpec>>;
}

/** The endpoints a pick may choose from: weight above 0 and not excluded. */
export function candidates(endpoints: readonly Endpoint[], exclude: ReadonlySet<string> | undefined): readonly Endpoint[] {
  if (exclude === undefined || exclude.size === 0) return endpoints;
  const rest = endpoints.filter((endpoint) => !exclude.has(endpoint.id));
  // Every endpoint was tried: trying one again beats failing the call.
  return rest.length > 0 ? rest : endpoints;
}

/** Weighted random choice among `list` (uniform when weights are equal), as Dubbo's RandomLoadBalance. */
export function weightedRandom(list: readonly Endpoint[], random: RandomSource): Endpoint | undefined {
  let total = 0;
  let same = true;
  const first = list[0]?.weight;
  for (const endpoint of list) {
    total += endpoint.weight;
    if (endpoint.weight !== first) same = false;
  }
  if (total <= 0) return undefined;
  if (same) return list[Math.floor(random() * list.length)];
  let offset = random() * total;
  for (const endpoint of list) {
    offset -= endpoint.weight;
    if (offset < 0) return endpoint;
  }
  return list[list.length - 1];
}

/**
 * {@link weightedRandom} over a list fixed when a picker is built: the total, whether every
 * weight is the same, and a result object per endpoint are worked out once, so a pick reads
 * one random number and allocates nothing. Same choices as `weightedRandom` for the same
 * random numbers.
 */
export class WeightedChoice {
  /** A `complete` result per endpoint, shared by every pick of it. */
  readonly results: readonly PickResult[];
  private readonly total: number;
  private readonly same: boolean;

  constructor(readonly list: readonly Endpoint[]) {
    this.results = list.map((endpoint) => Object.freeze({ type: 'complete' as const, endpoint }));
    this.total = list.reduce((sum, endpoint) => sum + endpoint.weight, 0);
    this.same = list.every((endpoint) => endpoint.weight === list[0]!.weight);
  }

  /** The result of one pick, or undefined when nothing can be picked (no list, or no weight). */
  pick(random: RandomSource): PickResult | undefined {
    const list = this.list;
    if (this.total <= 0) return undefined;
    if (this.same) return this.results[Math.floor(random() * list.length)];
    let offset = random() * this.total;
    for (let i = 0; i < list.length; i++) {
      offset -= list[i]!.weight;
      if (offset < 0) return this.results[i];
    }
    return this.results[list.length - 1];
  }
}

/** The result for an empty choice. */
export function unavailable(endpoints: readonly Endpoint[]): PickResult {
  return { type: 'unavailable', reason: endpoints.length === 0 ? 'no endpoints' : 'every endpoint has weight 0' };
}

/**
 * The endpoint with the lowest `score`, ties broken by weighted random (the shape of Dubbo's
 * LeastActive and ShortestResponse balancers).
 */
export function pickLowest(list: readonly Endpoint[], score: (endpoint: Endpoint) => number, random: RandomSource): Endpoint | undefined {
  let best = Infinity;
  let ties: Endpoint[] = [];
  for (const endpoint of list) {
    const value = score(endpoint);
    if (value < best) {
      best = value;
      ties = [endpoint];
    } else if (value === best) ties.push(endpoint);
  }
  return ties.length === 1 ? ties[0] : weightedRandom(ties, random);
}
