import type { LocatedResource } from '@dubbo-mesh/config';

/** An object a source could not make a valid resource of. */
export interface RejectedResource {
  /** The mesh kind it would be (`DubboRule`, `DubboPlugin`). */
  readonly kind: string;
  /** `namespace/name` (the resource it would be: `GET /api/v1/rules` shows `DubboRule namespace/name`, `GET /api/v1/plugins` `DubboPlugin namespace/name`). */
  readonly name: string;
  /** Where it is: `kubernetes DubboRule ns/name`, `zookeeper:/dubbo/config/dubbo/com.Foo::.condition-router`. */
  readonly origin: string;
  readonly errors: readonly string[];
  /** Whether its last valid version is in force meanwhile. */
  readonly lastValidInForce: boolean;
}

/** What a source knows at one moment: all its resources, or why it cannot say. */
export type SourceState =
  | { readonly kind: 'resources'; readonly resources: readonly LocatedResource[] }
  | {
      readonly kind: 'invalid';
      readonly errors: readonly string[];
      /**
       * Where the errors are (files, for a file source): a refusal is attributed to them, so the
       * log, `/readyz` and `lastRefusal` all name the same place. Absent: the source as a whole.
       */
      readonly origins?: readonly string[];
      /**
       * What could be read anyway, including resources that failed validation (with their
       * `issues`): never published, only used to report cross-reference errors together with
       * the field errors, so a misspelled field does not hide them.
       */
      readonly resources?: readonly LocatedResource[];
    };

/**
 * A source of mesh resources (files now; Kubernetes and ZooKeeper later). It emits its whole
 * state each time it changes; the snapshot builder merges the latest state of every source.
 * An `invalid` state is refused: the builder keeps that source's last valid resources.
 */
export interface ConfigSource {
  readonly name: string;
  /** What kind of source it is, for the admin API: `file`, later `kubernetes`, `zookeeper` (absent: `other`). */
  readonly type?: string;
  /**
   * How a cross-reference error among its resources is refused. `source` (the default, files):
   * the whole change is refused and the last valid state stays, since a file is written as a
   * whole. `resource` (Kubernetes: each object is applied on its own): the resources at fault
   * are left out and the rest goes in; the source is told which, by {@link onResourcesRefused}.
   */
  readonly refusal?: 'source' | 'resource';
  /**
   * With `refusal: 'resource'`: told after each build which of its resources were left out,
   * by origin, with their errors (an empty map: none).
   */
  onResourcesRefused?(refused: ReadonlyMap<string, readonly string[]>): void;
  /**
   * With `refusal: 'resource'`: resources the source no longer has (deleted, or now invalid)
   * whose last version stays in force because another source's resources need them (a file's
   * route to a custom resource that was deleted); told after each build that keeps any.
   */
  onResourcesHeld?(held: readonly LocatedResource[]): void;
  /**
   * Whether the source reaches its server now (network sources); undefined or true: connected.
   * A source that is not shows as `disconnected` in `GET /api/v1/sources`, its last resources
   * in force.
   */
  connection?(): { readonly connected: boolean; readonly error?: string };
  /**
   * Objects the source has but could not make a valid resource of (an invalid custom resource,
   * config-center node, …), with every error: listed by the admin API next to the resources
   * in force (`GET /api/v1/rules`, `GET /api/v1/plugins`). A file source's invalid files refuse the whole source instead.
   */
  rejectedResources?(): readonly RejectedResource[];
  /** More about the source for `GET /api/v1/sources` (objects per kind, last event, refused objects …). */
  details?(): Record<string, unknown>;
  /** Start; resolves after the first state was emitted. */
  start(emit: (state: SourceState) => void): Promise<void>;
  stop(): Promise<void>;
}
