import { candidates, unavailable, weightedRandom, type Endpoint, type LoadBalancerFactory, type PickResult, type Picker, type PickerOptions } from './picker.js';

/** The endpoints with the least calls in flight, as Dubbo's LeastActiveLoadBalance; ties by weighted random. */
export const leastActiveLoadBalancer: LoadBalancerFactory = {
  name: 'least-active',
  createPicker(endpoints: readonly Endpoint[], options: PickerOptions = {}): Picker {
    const random = options.random ?? Math.random;
    const usable = endpoints.filter((e) => e.weight > 0);
    return {
      pick(context): PickResult {
        let least = Infinity;
        let ties: Endpoint[] = [];
        for (const endpoint of candidates(usable, context.exclude)) {
          if (endpoint.stats.active < least) {
            least = endpoint.stats.active;
            ties = [endpoint];
          } else if (endpoint.stats.active === least) ties.push(endpoint);
        }
        const endpoint = ties.length === 1 ? ties[0] : weightedRandom(ties, random);
        return endpoint === undefined ? unavailable(endpoints) : { type: 'complete', endpoint };
      },
    };
  },
};
