import { candidates, pickLowest, unavailable, type Endpoint, type LoadBalancerFactory, type PickResult, type Picker, type PickerOptions } from './picker.js';

/** The endpoints with the least calls in flight, as Dubbo's LeastActiveLoadBalance; ties by weighted random. */
export const leastActiveLoadBalancer: LoadBalancerFactory = {
  name: 'least-active',
  createPicker(endpoints: readonly Endpoint[], options: PickerOptions = {}): Picker {
    const random = options.random ?? Math.random;
    const usable = endpoints.filter((e) => e.weight > 0);
    return {
      pick(context): PickResult {
        const endpoint = pickLowest(candidates(usable, context.exclude), (e) => e.stats.active, random);
        return endpoint === undefined ? unavailable(endpoints) : { type: 'complete', endpoint };
      },
    };
  },
};
