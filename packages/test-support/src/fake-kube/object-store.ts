// The fake API server's storage, shaped like etcd behind the API server: one global revision
// counter (every write takes the next one, whatever its type), a history of changes a watch
// can resume from until it is compacted, and subscribers told of each change as it commits.
import type { FakeKubeObject } from './fake-kube-object.js';
import { typeKey, type FakeKubeResourceType } from './resource-types.js';

/** One committed change, as a watch replays it. `previous` is the object before the change (absent for a create). */
export interface StoreEvent {
  revision: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  typeKey: string;
  /** The object after the change; for a delete, its last state with the deletion's resourceVersion. */
  object: FakeKubeObject;
  previous?: FakeKubeObject;
}

/** Who hears of changes as they commit (a watch stream). */
export interface StoreSubscriber {
  readonly typeKey: string;
  onEvent(event: StoreEvent): void;
}

function objectKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}

function freeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) freeze(child);
    Object.freeze(value);
  }
  return value;
}

/** Objects by type, the global revision and the change history. Stored objects are frozen: readers get them as they are, writers commit new ones. */
export class ObjectStore {
  private revision = 1;
  private compactedAt = 1;
  private readonly tables = new Map<string, Map<string, FakeKubeObject>>();
  private history: StoreEvent[] = [];
  private readonly subscribers = new Set<StoreSubscriber>();

  /** The last revision handed out: what a list reports as its resourceVersion. */
  currentRevision(): number {
    return this.revision;
  }

  /** The oldest resourceVersion a watch can start from; older ones answer 410. */
  oldestResumable(): number {
    return this.compactedAt;
  }

  get(type: FakeKubeResourceType, namespace: string | undefined, name: string): FakeKubeObject | undefined {
    return this.tables.get(typeKey(type))?.get(objectKey(type.namespaced ? namespace : undefined, name));
  }

  /** The objects of a type, in one namespace or all, ordered by namespace then name as etcd's keys order them. */
  list(type: FakeKubeResourceType, namespace?: string): FakeKubeObject[] {
    const table = this.tables.get(typeKey(type));
    if (table === undefined) return [];
    return [...table.entries()]
      .filter(([, object]) => namespace === undefined || !type.namespaced || object.metadata.namespace === namespace)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, object]) => object);
  }

  /** The changes of a type after `revision`, in order. */
  changesSince(key: string, revision: number): StoreEvent[] {
    return this.history.filter((event) => event.typeKey === key && event.revision > revision);
  }

  /** Writes an object (create or update), giving it the next resourceVersion; returns the stored object. */
  put(type: FakeKubeResourceType, object: FakeKubeObject): FakeKubeObject {
    const key = typeKey(type);
    let table = this.tables.get(key);
    if (table === undefined) this.tables.set(key, (table = new Map()));
    const id = objectKey(type.namespaced ? object.metadata.namespace : undefined, object.metadata.name);
    const previous = table.get(id);
    const revision = ++this.revision;
    const stored = freeze({ ...object, metadata: { ...object.metadata, resourceVersion: String(revision) } });
    table.set(id, stored);
    this.record({
      revision,
      type: previous === undefined ? 'ADDED' : 'MODIFIED',
      typeKey: key,
      object: stored,
      ...(previous === undefined ? {} : { previous }),
    });
    return stored;
  }

  /** Deletes an object, giving the deletion the next resourceVersion; returns the object's last state carrying that version. */
  remove(type: FakeKubeResourceType, namespace: string | undefined, name: string): FakeKubeObject | undefined {
    const key = typeKey(type);
    const table = this.tables.get(key);
    const id = objectKey(type.namespaced ? namespace : undefined, name);
    const previous = table?.get(id);
    if (table === undefined || previous === undefined) return undefined;
    table.delete(id);
    const revision = ++this.revision;
    // As the etcd3 watcher does: a delete carries the object's last content at the delete's revision.
    const deleted = freeze({ ...previous, metadata: { ...previous.metadata, resourceVersion: String(revision) } });
    this.record({ revision, type: 'DELETED', typeKey: key, object: deleted, previous });
    return deleted;
  }

  /** Forgets the history: a watch from any revision before now answers 410. */
  compact(): void {
    this.compactedAt = this.revision;
    this.history = [];
  }

  subscribe(subscriber: StoreSubscriber): () => void {
    this.subscribers.add(subscriber);
    return () => this.subscribers.delete(subscriber);
  }

  private record(event: StoreEvent): void {
    this.history.push(event);
    for (const subscriber of [...this.subscribers]) if (subscriber.typeKey === event.typeKey) subscriber.onEvent(event);
  }
}
