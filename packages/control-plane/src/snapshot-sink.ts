import type { Snapshot } from './snapshot.js';

/**
 * Something that follows published snapshots (a registry exporter, a status writer, a test):
 * told of each snapshot the control plane publishes. A sink cannot hold publishing back: it
 * is told while proxies are already being pushed the snapshot, and a failure is logged and
 * counted, nothing more.
 */
export interface SnapshotSink {
  /** For logs and the `dubbo_mesh_cp_sink_failures_total{sink}` metric. */
  readonly name: string;
  /**
   * A snapshot was published. `previous` is the last snapshot this sink took without failing
   * (undefined the first time), so a sink that writes differences writes again what it failed
   * to write. A sink that returns a promise is not told again until it settles; then it is
   * told of the newest snapshot published meanwhile (those in between are skipped, never the
   * newest). A throw or a rejection is logged and counted; later snapshots still come.
   */
  onPublished(snapshot: Snapshot, previous: Snapshot | undefined): void | Promise<void>;
}

interface SinkState {
  readonly sink: SnapshotSink;
  /** Working on a snapshot (its promise has not settled). */
  busy: boolean;
  /** The newest snapshot published while busy. */
  pending: Snapshot | undefined;
  /** The last snapshot the sink took without failing. */
  accepted: Snapshot | undefined;
  removed: boolean;
}

/**
 * The sinks of a control plane, each told of published snapshots on its own: one that throws,
 * hangs or is slow affects no other and never the publishing; a slow one is told of the
 * newest snapshot when it is done (coalesced: it always ends on the newest).
 */
export class SnapshotSinks {
  private readonly states: SinkState[] = [];
  private latest: Snapshot | undefined;

  /** `onFailure` is told of each throw or rejection (the control plane logs and counts it). */
  constructor(private readonly onFailure: (sink: SnapshotSink, snapshot: Snapshot, error: unknown) => void) {}

  /**
   * Add a sink; if a snapshot was published already it is told of the newest at once, so a
   * sink added late still follows what is in force. Returns a function that removes it.
   */
  add(sink: SnapshotSink): () => void {
    const state: SinkState = { sink, busy: false, pending: undefined, accepted: undefined, removed: false };
    this.states.push(state);
    if (this.latest !== undefined) this.deliver(state, this.latest);
    return () => {
      state.removed = true;
      state.pending = undefined;
      const at = this.states.indexOf(state);
      if (at >= 0) this.states.splice(at, 1);
    };
  }

  /** Names of the sinks, in the order they were added. */
  names(): string[] {
    return this.states.map((state) => state.sink.name);
  }

  /** Tell every sink of a published snapshot (a busy one when it is done). */
  publish(snapshot: Snapshot): void {
    this.latest = snapshot;
    for (const state of [...this.states]) {
      // A sink published again from inside its own call: that newer publish has told (or
      // queued) every sink already; telling the rest this older one now would end them on it.
      if (this.latest !== snapshot) return;
      if (state.busy) state.pending = snapshot;
      else this.deliver(state, snapshot);
    }
  }

  private fail(sink: SnapshotSink, snapshot: Snapshot, error: unknown): void {
    try {
      this.onFailure(sink, snapshot, error);
    } catch {
      // Reporting the failure failed (a log that throws): the other sinks are still told.
    }
  }

  private deliver(state: SinkState, snapshot: Snapshot): void {
    // Busy from the start of the call: a publish made from inside the sink waits as pending,
    // so every sink sees snapshots in the order they were published.
    state.busy = true;
    let result: unknown;
    try {
      result = state.sink.onPublished(snapshot, state.accepted);
    } catch (error) {
      this.fail(state.sink, snapshot, error);
      this.settle(state);
      return;
    }
    if (!isPromiseLike(result)) {
      state.accepted = snapshot;
      this.settle(state);
      return;
    }
    const settle = () => this.settle(state);
    // Promise.resolve never throws: a thenable whose `then` throws becomes a rejection.
    Promise.resolve(result)
      .then(
        () => {
          state.accepted = snapshot;
        },
        (error: unknown) => this.fail(state.sink, snapshot, error),
      )
      .then(settle, settle);
  }

  /** The sink's call is over: tell it the newest snapshot published meanwhile, if any. */
  private settle(state: SinkState): void {
    state.busy = false;
    const next = state.pending;
    state.pending = undefined;
    if (next !== undefined && !state.removed) this.deliver(state, next);
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<void> {
  if (typeof value !== 'object' || value === null) return false;
  try {
    return typeof (value as { then?: unknown }).then === 'function';
  } catch {
    return true; // a `then` getter that throws: Promise.resolve turns it into a rejection
  }
}
