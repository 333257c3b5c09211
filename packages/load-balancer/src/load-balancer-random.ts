import {
  WeightedChoice,
  candidates,
  unavailable,
  weightedRandom,
  type Endpoint,
  type LoadBalancerFactory,
  type PickResult,
  type Picker,
  type PickerOptions,
} from './picker.js';

/** Weighted random, as Dubbo's RandomLoadBalance: uniform when every weight is equal. */
export const randomLoadBalancer: LoadBalancerFactory = {
  name: 'random',
  createPicker(endpoints: readonly Endpoint[], options: PickerOptions = {}): Picker {
    const random = options.random ?? Math.random;
    const usable = endpoints.filter((e) => e.weight > 0);
    const all = new WeightedChoice(usable);
    return {
      pick(context): PickResult {
        // A first attempt (nothing excluded) picks from the precomputed choice: nothing is allocated.
        if (context.exclude === undefined || context.exclude.size === 0) return all.pick(random) ?? unavailable(endpoints);
        const endpoint = weightedRandom(candidates(usable, context.exclude), random);
        return endpoint === undefined ? unavailable(endpoints) : { type: 'complete', endpoint };
      },
    };
  },
};
