/**
 * Who may write (CONVENTIONS: every replica serves proxies, one leader writes). The leader
 * elector of `@dubbo-mesh/leader-election` has this shape; a single replica with no election
 * can pass {@link ALWAYS_LEADER}.
 */
export interface Leadership {
  readonly isLeader: boolean;
  on(event: 'started-leading' | 'stopped-leading', listener: () => void): unknown;
  off(event: 'started-leading' | 'stopped-leading', listener: () => void): unknown;
}

/** Leadership for a control plane that runs alone (tests, a single replica with no election). */
export const ALWAYS_LEADER: Leadership = { isLeader: true, on: () => undefined, off: () => undefined };
