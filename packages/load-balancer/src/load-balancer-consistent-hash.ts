import { createHash } from 'node:crypto';
import { integer, object, string } from '@dubbo-mesh/schema';
import { unavailable, type Endpoint, type LoadBalancerConfigClass, type LoadBalancerFactory, type PickResult, type Picker } from './picker.js';

/** Virtual nodes per endpoint of the largest weight, as Dubbo's `hash.nodes` default. */
export const VIRTUAL_NODES = 160;

function md5(text: string): Buffer {
  return createHash('md5').update(text).digest();
}

/** Point `index` (0–3) of an MD5 digest, read little-endian as Dubbo's ketama does. */
function point(digest: Buffer, index: number): number {
  return digest.readUInt32LE(index * 4);
}

/** What consistent-hash hashes a call on: one argument (by index) or one attachment (by key). */
export type ConsistentHashOn = { readonly argument: number } | { readonly attachment: string };

/** Dubbo's default: the first argument (`hash.arguments=0`). */
export const DEFAULT_HASH_ON: ConsistentHashOn = Object.freeze({ argument: 0 });

/** consistent-hash's part of `loadBalancer`: `hash: {argument: N}` or `hash: {attachment: KEY}`. */
export const consistentHashConfig: LoadBalancerConfigClass = {
  fields: {
    hash: {
      node: object<ConsistentHashOn>({ argument: { node: integer(0, 255) }, attachment: { node: string() } }, { exactlyOneOf: ['argument', 'attachment'] }),
      default: DEFAULT_HASH_ON,
    },
  },
};

/**
 * A ketama ring, as Dubbo's ConsistentHashLoadBalance: each endpoint is placed at 160
 * virtual points (four per MD5 digest of `id + i`), scaled by weight (weight 50 of a
 * largest 100 gets 80); a call goes to the first point at or after the MD5 of its key. The
 * same key keeps its endpoint, and adding or removing one endpoint moves only its share.
 */
export const consistentHashLoadBalancer: LoadBalancerFactory = {
  name: 'consistent-hash',
  config: consistentHashConfig,
  createPicker(endpoints: readonly Endpoint[]): Picker {
    const usable = endpoints.filter((e) => e.weight > 0);
    const maxWeight = Math.max(0, ...usable.map((e) => e.weight));
    const ring: Array<{ point: number; endpoint: Endpoint }> = [];
    for (const endpoint of usable) {
      const replicas = Math.max(4, Math.round((VIRTUAL_NODES * endpoint.weight) / maxWeight / 4) * 4);
      for (let i = 0; i < replicas / 4; i++) {
        const digest = md5(`${endpoint.id}${i}`);
        for (let h = 0; h < 4; h++) ring.push({ point: point(digest, h), endpoint });
      }
    }
    ring.sort((a, b) => a.point - b.point);
    const points = Uint32Array.from(ring.map((r) => r.point));
    return {
      pick(context): PickResult {
        if (ring.length === 0) return unavailable(endpoints);
        const key = context.hashKey?.() ?? '';
        const target = point(md5(key), 0);
        // First point >= target (binary search), wrapping to the start.
        let low = 0;
        let high = points.length;
        while (low < high) {
          const mid = (low + high) >>> 1;
          if (points[mid]! < target) low = mid + 1;
          else high = mid;
        }
        const exclude = context.exclude;
        const first = ring[low % ring.length]!.endpoint;
        if (exclude === undefined || !exclude.has(first.id) || usable.every((e) => exclude.has(e.id))) return { type: 'complete', endpoint: first };
        // A retry walks on round the ring to the next endpoint not tried yet.
        for (let step = 1; step < ring.length; step++) {
          const endpoint = ring[(low + step) % ring.length]!.endpoint;
          if (!exclude.has(endpoint.id)) return { type: 'complete', endpoint };
        }
        return { type: 'complete', endpoint: ring[low % ring.length]!.endpoint };
      },
    };
  },
};
