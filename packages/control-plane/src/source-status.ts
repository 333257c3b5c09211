/**
 * Where a source stands: `starting` until its first state; `ok` when its latest state is in
 * force; `invalid` when its latest state was refused (its own errors, or a conflict with the
 * other sources' resources) and its last valid resources stay in force; `disconnected` for a
 * network source (Kubernetes, ZooKeeper) that lost its server and keeps its last resources;
 * `stopped` once the control plane stopped it.
 */
export type SourceStateName = 'starting' | 'ok' | 'invalid' | 'disconnected' | 'stopped';

/** A source's last refused change. */
export interface SourceRefusal {
  readonly errors: readonly string[];
  /** Where the errors are (files, for a file source). */
  readonly origins: readonly string[];
  readonly at: Date;
}

/** A source as the admin API (`GET /api/v1/sources`) shows it. */
export interface SourceStatus {
  readonly name: string;
  /** `file` (and later `kubernetes`, `zookeeper`; a source that names no type: `other`). */
  readonly type: string;
  readonly state: SourceStateName;
  /** When the source last emitted a state (a change, valid or not); undefined before its first. */
  readonly lastChange: Date | undefined;
  /** How many of its resources are in force. */
  readonly resources: number;
  /** Its last refused change (kept after later valid ones, as history); undefined if none. */
  readonly lastRefusal: SourceRefusal | undefined;
  /** Why it is not `ok` now, in one line; undefined when it is `ok`, `starting` or `stopped`. */
  readonly error: string | undefined;
  /** What the source tells about itself (a Kubernetes source: objects per kind, last event, last re-list, refused objects). */
  readonly details?: Record<string, unknown>;
}

/** Errors as one line: the first, and how many more. */
export function summarizeErrors(errors: readonly string[]): string | undefined {
  if (errors.length === 0) return undefined;
  return errors.length === 1 ? errors[0] : `${errors[0]} (and ${errors.length - 1} more)`;
}
