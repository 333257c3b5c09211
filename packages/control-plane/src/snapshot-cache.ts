import type { Snapshot } from './snapshot.js';

/** Cancels a watch that has not fired. */
export type CancelWatch = () => void;

interface Watch {
  readonly knownVersion: string;
  readonly respond: (snapshot: Snapshot) => void;
}

/**
 * Snapshots per node, as go-control-plane's simple cache keeps them: the cache owns the
 * versions; a watch is one-shot — it fires once, with the node's snapshot, as soon as that
 * snapshot's version differs from the version the watcher already has, and is then gone.
 * Keyed by node id; a node's snapshot may differ from another's (the builder decides), which
 * leaves room for on-demand and delta subscriptions.
 */
export class SnapshotCache {
  private readonly snapshots = new Map<string, Snapshot>();
  private readonly watches = new Map<string, Set<Watch>>();

  /** The snapshot of a node, if one was set. */
  get(nodeId: string): Snapshot | undefined {
    return this.snapshots.get(nodeId);
  }

  /** Node ids with a snapshot. */
  nodes(): string[] {
    return [...this.snapshots.keys()];
  }

  /** Set a node's snapshot and fire its watches that do not have this version. */
  set(nodeId: string, snapshot: Snapshot): void {
    this.snapshots.set(nodeId, snapshot);
    const watches = this.watches.get(nodeId);
    if (watches === undefined) return;
    for (const watch of [...watches]) {
      if (watch.knownVersion === snapshot.version) continue;
      watches.delete(watch);
      watch.respond(snapshot);
    }
    if (watches.size === 0) this.watches.delete(nodeId);
  }

  /** Forget a node (it has no stream left). */
  clear(nodeId: string): void {
    this.snapshots.delete(nodeId);
  }

  /**
   * Watch a node's snapshot for a version other than `knownVersion`. Fires at once (before
   * returning) when the cache already holds one; else when {@link set} brings one.
   */
  watch(nodeId: string, knownVersion: string, respond: (snapshot: Snapshot) => void): CancelWatch {
    const current = this.snapshots.get(nodeId);
    if (current !== undefined && current.version !== knownVersion) {
      respond(current);
      return () => {};
    }
    const watch: Watch = { knownVersion, respond };
    let set = this.watches.get(nodeId);
    if (set === undefined) this.watches.set(nodeId, (set = new Set()));
    set.add(watch);
    return () => {
      const watches = this.watches.get(nodeId);
      watches?.delete(watch);
      if (watches?.size === 0) this.watches.delete(nodeId);
    };
  }

  /** Open watches (for tests and metrics). */
  get openWatches(): number {
    let count = 0;
    for (const set of this.watches.values()) count += set.size;
    return count;
  }
}
