import { candidates, unavailable, type Endpoint, type LoadBalancerFactory, type PickResult, type Picker, type PickerOptions } from './picker.js';

/**
 * Envoy's LEAST_REQUEST. With equal weights: power of two choices — draw two endpoints at
 * random and keep the one with fewer calls in flight (near least-active quality at O(1)).
 * With unequal weights: a weighted draw on `weight / (active + 1)`, so an idle mesh splits
 * by weight and load shifts calls away from busy endpoints.
 */
export const leastRequestLoadBalancer: LoadBalancerFactory = {
  name: 'least-request',
  createPicker(endpoints: readonly Endpoint[], options: PickerOptions = {}): Picker {
    const random = options.random ?? Math.random;
    const usable = endpoints.filter((e) => e.weight > 0);
    const equalWeights = usable.every((e) => e.weight === usable[0]!.weight);
    return {
      pick(context): PickResult {
        const list = candidates(usable, context.exclude);
        if (list.length === 0) return unavailable(endpoints);
        if (list.length === 1) return { type: 'complete', endpoint: list[0]! };
        if (equalWeights) {
          // Two distinct uniform indices: draw the second from the n-1 others.
          const i = Math.floor(random() * list.length);
          let j = Math.floor(random() * (list.length - 1));
          if (j >= i) j += 1;
          const first = list[i]!;
          const second = list[j]!;
          return { type: 'complete', endpoint: second.stats.active < first.stats.active ? second : first };
        }
        let total = 0;
        for (const endpoint of list) total += endpoint.weight / (endpoint.stats.active + 1);
        let offset = random() * total;
        for (const endpoint of list) {
          offset -= endpoint.weight / (endpoint.stats.active + 1);
          if (offset < 0) return { type: 'complete', endpoint };
        }
        return { type: 'complete', endpoint: list[list.length - 1]! };
      },
    };
  },
};
