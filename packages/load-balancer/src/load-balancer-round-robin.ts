import { candidates, unavailable, type Endpoint, type LoadBalancerFactory, type PickResult, type Picker } from './picker.js';

/**
 * Smooth weighted round-robin (nginx's, and Dubbo's RoundRobinLoadBalance): each pick adds
 * every endpoint's weight to its current value, takes the largest, and subtracts the total
 * from it. Weights 5,1,1 give a,a,b,a,c,a,a — spread out, not bunched.
 */
export const roundRobinLoadBalancer: LoadBalancerFactory = {
  name: 'round-robin',
  createPicker(endpoints: readonly Endpoint[]): Picker {
    const usable = endpoints.filter((e) => e.weight > 0);
    const current = new Map<string, number>(usable.map((e) => [e.id, 0]));
    return {
      pick(context): PickResult {
        const list = candidates(usable, context.exclude);
        let total = 0;
        let best: Endpoint | undefined;
        let bestValue = -Infinity;
        for (const endpoint of list) {
          const value = current.get(endpoint.id)! + endpoint.weight;
          current.set(endpoint.id, value);
          total += endpoint.weight;
          if (value > bestValue) {
            bestValue = value;
            best = endpoint;
          }
        }
        if (best === undefined) return unavailable(endpoints);
        current.set(best.id, bestValue - total);
        return { type: 'complete', endpoint: best };
      },
    };
  },
};
