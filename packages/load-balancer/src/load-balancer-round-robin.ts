import { candidates, unavailable, type Endpoint, type LoadBalancerFactory, type PickResult, type Picker } from './picker.js';

/**
 * Smooth weighted round-robin (nginx's, and Dubbo's RoundRobinLoadBalance): each pick adds
 * every endpoint's weight to its current value, takes the largest, and subtracts the total
 * from it. Weights 5,1,1 give a,a,b,a,c,a,a — spread out, not bunched.
 *
 * Current values live in an array by the endpoint's place in the list, and each endpoint has
 * one result object: a pick allocates nothing and hashes nothing (a retry, which excludes
 * endpoints, looks their places up).
 */
export const roundRobinLoadBalancer: LoadBalancerFactory = {
  name: 'round-robin',
  createPicker(endpoints: readonly Endpoint[]): Picker {
    const usable = endpoints.filter((e) => e.weight > 0);
    const current = new Float64Array(usable.length);
    const results: PickResult[] = usable.map((endpoint) => Object.freeze({ type: 'complete' as const, endpoint }));
    const place = new Map<Endpoint, number>(usable.map((endpoint, i) => [endpoint, i]));
    return {
      pick(context): PickResult {
        const list = candidates(usable, context.exclude);
        const all = list === usable;
        let total = 0;
        let best = -1;
        let bestValue = -Infinity;
        for (let i = 0; i < list.length; i++) {
          const endpoint = list[i]!;
          const k = all ? i : place.get(endpoint)!;
          const value = current[k]! + endpoint.weight;
          current[k] = value;
          total += endpoint.weight;
          if (value > bestValue) {
            bestValue = value;
            best = k;
          }
        }
        if (best < 0) return unavailable(endpoints);
        current[best] = bestValue - total;
        return results[best]!;
      },
    };
  },
};
