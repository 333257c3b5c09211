import { candidates, unavailable, weightedRandom, type Endpoint, type LoadBalancerFactory, type PickResult, type Picker, type PickerOptions } from './picker.js';

/**
 * The endpoint expected to answer first, as Dubbo's ShortestResponseLoadBalance: average
 * response time (an EWMA here) × (calls in flight + 1); ties by weighted random. An endpoint
 * with no measurement yet counts as fastest, so it gets measured.
 */
export const shortestResponseLoadBalancer: LoadBalancerFactory = {
  name: 'shortest-response',
  createPicker(endpoints: readonly Endpoint[], options: PickerOptions = {}): Picker {
    const random = options.random ?? Math.random;
    const usable = endpoints.filter((e) => e.weight > 0);
    return {
      pick(context): PickResult {
        let best = Infinity;
        let ties: Endpoint[] = [];
        for (const endpoint of candidates(usable, context.exclude)) {
          const estimate = endpoint.stats.ewmaResponseMs * (endpoint.stats.active + 1);
          if (estimate < best) {
            best = estimate;
            ties = [endpoint];
          } else if (estimate === best) ties.push(endpoint);
        }
        const endpoint = ties.length === 1 ? ties[0] : weightedRandom(ties, random);
        return endpoint === undefined ? unavailable(endpoints) : { type: 'complete', endpoint };
      },
    };
  },
};
