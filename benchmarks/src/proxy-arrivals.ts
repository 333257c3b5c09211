// When each simulated proxy ACKed a snapshot version: counted as the ACKs arrive (the proxies'
// process does no work to wait), so a benchmark gets every proxy's time for one version.
import type { SimulatedProxy } from './simulated-proxies.js';

/** The ACK times of a set of proxies from now on. */
export interface ProxyArrivals {
  /** Resolves once every proxy has ACKed `version`, with each proxy's `performance.now()`; rejects after `timeoutMs`. */
  until(version: string, what: string, timeoutMs: number): Promise<number[]>;
  /** Stop recording (the proxies' `onVersion` hooks are cleared). */
  stop(): void;
}

/** Start recording, for every proxy, when it first ACKed each version (the one it holds counts, from when it arrived). */
export function recordArrivals(sims: readonly SimulatedProxy[]): ProxyArrivals {
  const seen = sims.map((sim) => new Map<string, number>(sim.version === '' ? [] : [[sim.version, sim.receivedAt]]));
  let target: string | undefined;
  let have = 0;
  let complete: (() => void) | undefined;
  sims.forEach((sim, i) => {
    sim.onVersion = (version) => {
      if (seen[i]!.has(version)) return;
      seen[i]!.set(version, performance.now());
      if (version === target && ++have === sims.length) complete?.();
    };
  });
  return {
    async until(version, what, timeoutMs) {
      target = version;
      have = seen.filter((versions) => versions.has(version)).length;
      if (have < sims.length) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`${what}: ${sims.length - have} of ${sims.length} proxies never got version ${version}`)), timeoutMs);
          complete = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      return seen.map((versions) => versions.get(version)!);
    },
    stop() {
      for (const sim of sims) sim.onVersion = undefined;
    },
  };
}

/** The `p` quantile (0–1) of sorted numbers (nearest rank, floor). */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}
