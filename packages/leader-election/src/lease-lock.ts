/**
 * What a leader election reads and writes: the record of who holds the lease, and the lock,
 * a store of one such record with optimistic concurrency (every write names the version it
 * replaces), as client-go's `resourcelock.Interface`.
 */

/** The lease as stored: a `coordination.k8s.io/v1` Lease's spec, with times as Dates. */
export interface LeaseRecord {
  /** Who holds the lease; '' when nobody does (released). */
  holderIdentity: string;
  /** How long, from when a candidate last saw the record change, the holder may go without renewing. */
  leaseDurationSeconds: number;
  /** When the holder acquired the lease (the holder's wall clock; informative only). */
  acquireTime: Date;
  /** When the holder last renewed (the holder's wall clock; informative only: expiry never compares it with our time). */
  renewTime: Date;
  /** How many times the lease has passed to a new holder. */
  leaseTransitions: number;
}

/** One read of a lease: the record, the opaque version to write back against, and the stored object. */
export interface LeaseSnapshot {
  record: LeaseRecord;
  /** Opaque; compared only for equality by the store (a Kubernetes resourceVersion). */
  version: string;
  /** The object as the store holds it (a Lease as JSON), for diagnostics. */
  raw: unknown;
}

/**
 * A store of one lease record with optimistic concurrency. `create` and `update` throw
 * `LeaseConflictError` when another writer got there first (the lease exists, or `version`
 * is stale); other failures throw the other errors of `errors.ts`.
 */
export interface LeaseLock {
  /** The lease's name for logs (`namespace/name`). */
  describe(): string;
  /** The lease, or undefined when there is none. */
  get(): Promise<LeaseSnapshot | undefined>;
  /** Create the lease; resolves with its new version. */
  create(record: LeaseRecord): Promise<string>;
  /** Replace the record of the lease at `version`; resolves with its new version. */
  update(record: LeaseRecord, version: string): Promise<string>;
}
