import type { LocatedResource } from '@dubbo-mesh/config';

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
  /** Start; resolves after the first state was emitted. */
  start(emit: (state: SourceState) => void): Promise<void>;
  stop(): Promise<void>;
}
