// One open watch: a chunked response of newline-delimited watch events, filtered by
// namespace and selectors the way the API server's cacheWatcher filters them (an object that
// stops matching is sent as DELETED, one that starts matching as ADDED).
import type { ServerResponse } from 'node:http';
import type { FakeKubeObject } from './fake-kube-object.js';
import type { FieldSelector } from './field-selector.js';
import type { LabelSelector } from './label-selector.js';
import type { StoreEvent, StoreSubscriber } from './object-store.js';
import { apiVersionOf, typeKey, type FakeKubeResourceType } from './resource-types.js';

/** Timers the fake server runs on (the shape of test-support's FakeClock). */
export interface FakeKubeClock {
  now(): number;
  setTimer(callback: () => void, delayMs: number): unknown;
  clearTimer(handle: unknown): void;
}

/** What a watch asked for. */
export interface WatchScope {
  type: FakeKubeResourceType;
  /** The namespace of the URL; undefined watches every namespace (or a cluster-scoped type). */
  namespace: string | undefined;
  labelSelector: LabelSelector;
  fieldSelector: FieldSelector;
  allowBookmarks: boolean;
}

/** The watch event types on the wire. */
export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

/** An open watch stream. `silence()` makes it a half-dead connection: open, never written to again. */
export class WatchStream implements StoreSubscriber {
  readonly typeKey: string;
  private silenced = false;
  private ended = false;
  private timeout: unknown;
  private readonly closeListeners: Array<() => void> = [];

  constructor(
    private readonly response: ServerResponse,
    readonly scope: WatchScope,
    private readonly clock: FakeKubeClock,
    timeoutSeconds: number | undefined,
  ) {
    this.typeKey = typeKey(scope.type);
    // The client going away (its abort, a reset) ends the watch as well.
    response.on('close', () => this.finished());
    // The server's request timeout for watches: end the stream cleanly, the client resumes.
    if (timeoutSeconds !== undefined) this.timeout = clock.setTimer(() => this.end(), timeoutSeconds * 1000);
  }

  /** Whether the stream is open (silenced ones included). */
  get open(): boolean {
    return !this.ended;
  }

  /** Runs `listener` once when the stream ends, for whatever reason. */
  onClose(listener: () => void): void {
    if (this.ended) listener();
    else this.closeListeners.push(listener);
  }

  /** Whether an object is in this watch's scope. */
  selects(object: FakeKubeObject): boolean {
    const { type, namespace, labelSelector, fieldSelector } = this.scope;
    if (type.namespaced && namespace !== undefined && object.metadata.namespace !== namespace) return false;
    return labelSelector.matches(object.metadata.labels) && fieldSelector.matches(object);
  }

  /** A committed change, turned into the event this watcher sees, if any. */
  onEvent(event: StoreEvent): void {
    if (event.type === 'DELETED') {
      if (event.previous !== undefined && this.selects(event.previous)) this.send('DELETED', event.object);
      return;
    }
    const now = this.selects(event.object);
    const before = event.previous !== undefined && this.selects(event.previous);
    if (now && before) this.send('MODIFIED', event.object);
    else if (now) this.send('ADDED', event.object);
    else if (before) {
      // Left the selection: a DELETED with the previous content at the change's version.
      this.send('DELETED', { ...event.previous!, metadata: { ...event.previous!.metadata, resourceVersion: event.object.metadata.resourceVersion } });
    }
  }

  /** Writes one event line. */
  send(type: WatchEventType, object: unknown): void {
    if (this.ended || this.silenced) return;
    this.response.write(`${JSON.stringify({ type, object })}\n`);
  }

  /** A BOOKMARK at `resourceVersion`, if the watch asked for bookmarks: only apiVersion, kind and metadata.resourceVersion. */
  bookmark(resourceVersion: number): void {
    if (!this.scope.allowBookmarks) return;
    this.send('BOOKMARK', { kind: this.scope.type.kind, apiVersion: apiVersionOf(this.scope.type), metadata: { resourceVersion: String(resourceVersion) } });
  }

  /** Keep the connection open and write nothing more to it. */
  silence(): void {
    this.silenced = true;
  }

  /** Ends the stream cleanly (the last chunk), as the server's timeout does. */
  end(): void {
    if (this.ended) return;
    this.response.end();
    this.finished();
  }

  private finished(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.timeout !== undefined) this.clock.clearTimer(this.timeout);
    for (const listener of this.closeListeners.splice(0)) listener();
  }
}
