import { candidates, unavailable, weightedRandom, type Endpoint, type LoadBalancerFactory, type PickResult, type Picker, type PickerOptions } from './picker.js';

/** Weighted random, as Dubbo's RandomLoadBalance: uniform when every weight is equal. */
export const randomLoadBalancer: LoadBalancerFactory = {
  name: 'random',
  createPicker(endpoints: readonly Endpoint[], options: PickerOptions = {}): Picker {
    const random = options.random ?? Math.random;
    const usable = endpoints.filter((e) => e.weight > 0);
    return {
      pick(context): PickResult {
        const endpoint = weightedRandom(candidates(usable, context.exclude), random);
        return endpoint === undefined ? unavailable(endpoints) : { type: 'complete', endpoint };
      },
    };
  },
};
