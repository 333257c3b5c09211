import { SourceUnavailableError } from '@dubbo-mesh/control-plane';

/** Stable codes of the registry bridge's errors (CONVENTIONS: typed errors with a code). */
export const RegistryBridgeErrorCode = {
  /** ZooKeeper could not be reached at start (`--zookeeper`). */
  ZOOKEEPER_UNAVAILABLE: 'DM_ERR_ZOOKEEPER_UNAVAILABLE',
  /** A ZooKeeper operation failed (its ZooKeeper code says why). */
  ZOOKEEPER_OPERATION: 'DM_ERR_ZOOKEEPER_OPERATION',
  /** A bridge flag has a bad value. */
  BRIDGE_FLAG: 'DM_ERR_REGISTRY_BRIDGE_FLAG',
  /** A MetadataService call to a Dubbo 3 provider failed. */
  METADATA_SERVICE: 'DM_ERR_METADATA_SERVICE',
} as const;

/** The base of the registry bridge's errors. */
export class RegistryBridgeError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * ZooKeeper could not be reached at start: the message is one line naming the servers. It is
 * the control plane's `SourceUnavailableError` for the flag `zookeeper`, so the command line
 * prints `--zookeeper: …` and exits 1.
 */
export class ZooKeeperUnavailableError extends SourceUnavailableError {
  readonly reason = RegistryBridgeErrorCode.ZOOKEEPER_UNAVAILABLE;
  constructor(
    readonly connect: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super('zookeeper', message, options);
    this.name = 'ZooKeeperUnavailableError';
  }
}

/** What went wrong in a ZooKeeper operation, by ZooKeeper's own error names. */
export type ZooKeeperFailure = 'NO_NODE' | 'NODE_EXISTS' | 'BAD_VERSION' | 'NOT_EMPTY' | 'CONNECTION_LOSS' | 'SESSION_EXPIRED' | 'OTHER';

/** A ZooKeeper operation failed. */
export class ZooKeeperOperationError extends RegistryBridgeError {
  constructor(
    readonly failure: ZooKeeperFailure,
    readonly operation: string,
    readonly path: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(RegistryBridgeErrorCode.ZOOKEEPER_OPERATION, `${operation} ${path}: ${message}`, options);
  }
}

/** A `--zookeeper*` or `--registry-namespace` flag has a bad value. */
export class RegistryBridgeFlagError extends RegistryBridgeError {
  constructor(
    readonly flag: string,
    message: string,
  ) {
    super(RegistryBridgeErrorCode.BRIDGE_FLAG, message);
  }
}

/** A MetadataService call (Dubbo 3 `local` metadata) failed or answered something unreadable. */
export class MetadataServiceError extends RegistryBridgeError {
  constructor(message: string, options?: ErrorOptions) {
    super(RegistryBridgeErrorCode.METADATA_SERVICE, message, options);
  }
}
