import type { MeshConfig } from '@dubbo-mesh/config';
import type { NodeIdentity } from './call-context.js';
import type { Clock } from './clock.js';
import type { ProxyFilter } from './filter.js';

/** What an extension's filters run with: the proxy's clock (every timer and deadline) and identity. */
export interface ProxyExtensionHost {
  readonly clock: Clock;
  readonly node: NodeIdentity;
}

/**
 * Something an application composes into a proxy (the plugins of DubboPlugin resources):
 * filters that come with each snapshot, its own section of the admin API, and what to close
 * when the proxy stops. Every member is optional.
 */
export interface ProxyExtension {
  /** Names its sections: `/stats` and `/config_dump` show them under this key (`plugins`). */
  readonly name: string;
  /**
   * The filters this extension puts on the call path while `config` is in force, after the
   * proxy's own filters. Called synchronously as each snapshot is applied: return the same
   * filter objects (or the same array) for what did not change, and the proxy keeps its chain.
   * A throw refuses the snapshot (the one in force stays).
   */
  filtersFor?(config: MeshConfig, host: ProxyExtensionHost): readonly ProxyFilter[];
  /**
   * Whether the snapshot the last `filtersFor` was for is now in force (true) or was refused
   * (false: the filters in force stay). What the extension's previous filters held is let go
   * here, not in `filtersFor`.
   */
  snapshotSettled?(applied: boolean): void;
  /** Its part of `/stats` (JSON). */
  stats?(): unknown;
  /** Its part of `/config_dump` (JSON). */
  configDump?(): unknown;
  /** Its Prometheus text for `/metrics`, each series labelled with `node`. */
  prometheus?(node: string): string;
  /** Release what it holds (connections, file watches), after the proxy's calls have ended. */
  close?(): Promise<void> | void;
}

/** Whether two filter lists hold the same filters in the same order. */
export function sameFilters(a: readonly ProxyFilter[], b: readonly ProxyFilter[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
