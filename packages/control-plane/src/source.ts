import type { LocatedResource } from '@dubbo-mesh/config';

/** What a source knows at one moment: all its resources, or why it cannot say. */
export type SourceState =
  | { readonly kind: 'resources'; readonly resources: readonly LocatedResource[] }
  | { readonly kind: 'invalid'; readonly errors: readonly string[] };

/**
 * A source of mesh resources (files now; Kubernetes and ZooKeeper later). It emits its whole
 * state each time it changes; the snapshot builder merges the latest state of every source.
 * An `invalid` state is refused: the builder keeps that source's last valid resources.
 */
export interface ConfigSource {
  readonly name: string;
  /** Start; resolves after the first state was emitted. */
  start(emit: (state: SourceState) => void): Promise<void>;
  stop(): Promise<void>;
}
