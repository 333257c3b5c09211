/**
 * Dubbo's warm-up weight (`AbstractLoadBalance.getWeight`): a provider exported `uptime` ms ago
 * gets a share of its `weight` until `warmup` ms have passed, so a cold JVM is not handed its
 * full load at once. The mesh sets the result as the endpoint's weight and re-computes it at
 * steps while any endpoint warms.
 */

/** `weight` when a provider names none (Dubbo's `DEFAULT_WEIGHT`). */
export const DUBBO_DEFAULT_WEIGHT = 100;
/** `warmup` when a provider names none: ten minutes (Dubbo's `DEFAULT_WARMUP`). */
export const DUBBO_DEFAULT_WARMUP_MS = 600_000;
/** The largest weight a DubboService endpoint takes. */
export const MAX_ENDPOINT_WEIGHT = 1_000_000;
/** A warm-up is followed in this many steps (each re-computed weight is re-published)… */
export const WARM_UP_STEPS = 20;
/** …but never more often than this. */
export const MIN_WARM_UP_STEP_MS = 1000;

/**
 * How the share grows: `quadratic` (`round((uptime/warmup)² × weight)`) in Dubbo 2.7.15 and
 * later 2.7 releases, `linear` (`uptime / (warmup / weight)`) in Dubbo 3 and before 2.7.15.
 */
export type WarmUpCurve = 'linear' | 'quadratic';

/**
 * The curve a consumer of the provider's own generation applies, by the provider URL's
 * `release` (the framework version it runs): an estate's consumers and providers move between
 * Dubbo generations together, so this is the weight its consumers give that provider today.
 * Unknown or absent: linear (Dubbo 3).
 */
export function warmUpCurveOf(release: string | undefined): WarmUpCurve {
  const match = /^2\.7\.(\d+)/.exec(release ?? '');
  return match !== null && Number(match[1]) >= 15 ? 'quadratic' : 'linear';
}

/** Java's `Integer.parseInt` / `Long.parseLong` as `URL.getParameter(key, default)` uses it: the default when unreadable. */
function integerParameter(value: string | undefined, fallback: number): number {
  if (value === undefined || !/^[+-]?\d+$/.test(value.trim())) return fallback;
  const parsed = Number(value.trim());
  return Number.isSafeInteger(parsed) ? parsed : fallback;
}

/** Dubbo's `calculateWarmupWeight`: never below 1, never above the weight. */
function warmingWeight(uptimeMs: number, warmupMs: number, weight: number, curve: WarmUpCurve): number {
  const share = curve === 'quadratic' ? Math.round((uptimeMs / warmupMs) ** 2 * weight) : Math.trunc(uptimeMs / (warmupMs / weight));
  return share < 1 ? 1 : Math.min(share, weight);
}

/** The weight of a provider now, and when it next changes. */
export interface WarmUpWeight {
  /** The endpoint weight, 0 to {@link MAX_ENDPOINT_WEIGHT}. */
  readonly weight: number;
  /** Wall-clock ms (since the epoch) at which the weight is to be computed again; absent once warm. */
  readonly nextStepAt?: number;
}

/**
 * The weight Dubbo gives a provider with these URL parameters (`weight`, `warmup`,
 * `timestamp`, `release`) at `nowMs` (wall clock, ms since the epoch, as `timestamp` is):
 * - no `timestamp` (or 0): the full `weight`; `weight` ≤ 0: 0 (never picked);
 * - a provider clock ahead of ours (`uptime` < 0): 1, as Dubbo;
 * - warming: Dubbo's share of the weight, computed at the start of the current step (a step
 *   is `warmup / 20`, at least 1 s, counted from `timestamp`) so that every rebuild within a
 *   step gives the same weight, and a change of anything else republishes nothing new;
 *   `nextStepAt` says when the next step starts (the last one ends warm, at full weight).
 */
export function warmUpWeight(parameters: Readonly<Record<string, string>>, nowMs: number): WarmUpWeight {
  const weight = Math.min(integerParameter(parameters.weight, DUBBO_DEFAULT_WEIGHT), MAX_ENDPOINT_WEIGHT);
  if (weight <= 0) return { weight: 0 };
  const timestamp = integerParameter(parameters.timestamp, 0);
  if (timestamp <= 0) return { weight };
  const warmupMs = integerParameter(parameters.warmup, DUBBO_DEFAULT_WARMUP_MS);
  const uptime = nowMs - timestamp;
  // Dubbo: `uptime < 0` → 1; warming only while `0 < uptime < warmup` (0 itself: full weight).
  if (uptime < 0) return { weight: 1, nextStepAt: timestamp + 1 };
  if (uptime === 0 || uptime >= warmupMs) return { weight };
  const step = Math.max(MIN_WARM_UP_STEP_MS, Math.ceil(warmupMs / WARM_UP_STEPS));
  const stepStart = Math.floor(uptime / step) * step;
  // The first step is computed just after the export (Dubbo's uptime 0 means "full weight").
  const at = Math.max(stepStart, 1);
  return {
    weight: warmingWeight(at, warmupMs, weight, warmUpCurveOf(parameters.release)),
    nextStepAt: timestamp + Math.min(stepStart + step, warmupMs),
  };
}
