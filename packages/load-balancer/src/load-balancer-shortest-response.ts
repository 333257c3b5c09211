import { candidates, pickLowest, unavailable, type Endpoint, type LoadBalancerFactory, type PickResult, type Picker, type PickerOptions } from './picker.js';

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
        const endpoint = pickLowest(candidates(usable, context.exclude), (e) => e.stats.ewmaResponseMs * (e.stats.active + 1), random);
        return endpoint === undefined ? unavailable(endpoints) : { type: 'complete', endpoint };
      },
    };
  },
};
