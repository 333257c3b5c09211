/**
 * Errors of leader election, classified by `code` (never by message text). The elector tells
 * a lost race ({@link LeaseConflictError}) from a lock that cannot be reached or answered
 * badly, and logs them differently: a conflict is the algorithm working, the others are not.
 */

/** Stable codes of the leader-election errors. */
export const LeaderElectionErrorCode = {
  /** The options of a LeaderElector break a rule (each message names the option). */
  CONFIG: 'DM_ERR_LEADER_ELECTION_CONFIG',
  /** A create or update raced another writer: the lease is not the version we read (HTTP 409). */
  LEASE_CONFLICT: 'DM_ERR_LEASE_CONFLICT',
  /** The lock's store answered with an error other than a conflict (HTTP status, bad body). */
  LEASE_API: 'DM_ERR_LEASE_API',
  /** The lock's store could not be reached or did not answer in time. */
  LEASE_REQUEST: 'DM_ERR_LEASE_REQUEST',
} as const;
/** One of {@link LeaderElectionErrorCode}. */
export type LeaderElectionErrorCodeValue = (typeof LeaderElectionErrorCode)[keyof typeof LeaderElectionErrorCode];

/** Base of the leader-election errors. */
export class LeaderElectionError extends Error {
  constructor(
    readonly code: LeaderElectionErrorCodeValue,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'LeaderElectionError';
  }
}

/** Options of a LeaderElector that break a rule; `errors` has one message per broken rule, each naming the option. */
export class LeaderElectionConfigError extends LeaderElectionError {
  constructor(readonly errors: readonly string[]) {
    super(LeaderElectionErrorCode.CONFIG, `invalid leader election options: ${errors.join('; ')}`);
    this.name = 'LeaderElectionConfigError';
  }
}

/**
 * A create found the lease already there, or an update carried a version that is no longer
 * the lease's: another writer got there first. Not a failure of the store; the elector reads
 * the lease again on its next try.
 */
export class LeaseConflictError extends LeaderElectionError {
  constructor(
    readonly lock: string,
    message = `lease ${lock} was changed by another writer`,
    options?: { cause?: unknown },
  ) {
    super(LeaderElectionErrorCode.LEASE_CONFLICT, message, options);
    this.name = 'LeaseConflictError';
  }
}

/** The store answered a lease request with an error other than a conflict; `status` is the HTTP status when there is one. */
export class LeaseApiError extends LeaderElectionError {
  constructor(
    readonly lock: string,
    readonly status: number | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(LeaderElectionErrorCode.LEASE_API, message, options);
    this.name = 'LeaseApiError';
  }
}

/** A lease request got no answer: the connection failed or timed out (`cause` is the system's error). */
export class LeaseRequestError extends LeaderElectionError {
  constructor(
    readonly lock: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(LeaderElectionErrorCode.LEASE_REQUEST, message, options);
    this.name = 'LeaseRequestError';
  }
}
