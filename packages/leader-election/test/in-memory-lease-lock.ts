// An honest in-memory LeaseLock for the elector's tests: one record with a version that every
// write bumps, a create that conflicts when the record exists, an update that conflicts on a
// stale version (as the API server answers 409), and every call resolved asynchronously so
// candidates' calls interleave. Each candidate gets its own lock on a shared store, so a test
// can make one candidate's calls fail or hang.
import { LeaseApiError, LeaseConflictError, type LeaseLock, type LeaseRecord, type LeaseSnapshot } from '@dubbo-mesh/leader-election';

/** One write that reached the store. */
export interface StoredWrite {
  at: number;
  by: string;
  operation: 'create' | 'update';
  record: LeaseRecord;
  version: string;
}

/** The one lease all candidates' locks share. */
export class LeaseStore {
  lease: { record: LeaseRecord; version: number } | undefined;
  readonly writes: StoredWrite[] = [];
  conflicts = 0;
  private nextVersion = 1;

  /** `now` stamps each write with the test's time, to assert when takeovers happen. */
  constructor(private readonly now: () => number) {}

  /** Write as a third party would (a foreign holder, a lease left by a dead replica). */
  put(record: LeaseRecord, by = 'test'): string {
    const version = this.nextVersion++;
    this.lease = { record: copy(record), version };
    this.writes.push({ at: this.now(), by, operation: 'update', record: copy(record), version: String(version) });
    return String(version);
  }

  create(record: LeaseRecord, by: string): string {
    if (this.lease !== undefined) {
      this.conflicts++;
      throw new LeaseConflictError('test/lease', 'lease test/lease already exists');
    }
    const version = this.put(record, by);
    this.writes[this.writes.length - 1]!.operation = 'create';
    return version;
  }

  update(record: LeaseRecord, version: string, by: string): string {
    if (this.lease === undefined) throw new LeaseApiError('test/lease', 404, 'lease test/lease not found');
    if (String(this.lease.version) !== version) {
      this.conflicts++;
      throw new LeaseConflictError('test/lease', `lease test/lease changed since version ${version}`);
    }
    return this.put(record, by);
  }

  /** The last write, which must exist. */
  get lastWrite(): StoredWrite {
    const write = this.writes[this.writes.length - 1];
    if (write === undefined) throw new Error('no write yet');
    return write;
  }
}

/** What a test makes a call do instead: fail with an error, or never answer. */
export type Injection = Error | 'hang' | undefined;

/** One candidate's view of a {@link LeaseStore}. */
export class InMemoryLeaseLock implements LeaseLock {
  /** Decides, per call, whether it fails or hangs; undefined lets calls through. */
  inject: ((operation: 'get' | 'create' | 'update') => Injection) | undefined;
  readonly calls: Array<{ operation: 'get' | 'create' | 'update'; at: number }> = [];

  constructor(
    private readonly store: LeaseStore,
    private readonly by: string,
    private readonly now: () => number,
  ) {}

  describe(): string {
    return 'test/lease';
  }

  get(): Promise<LeaseSnapshot | undefined> {
    return this.call('get', () => {
      const lease = this.store.lease;
      return lease === undefined ? undefined : { record: copy(lease.record), version: String(lease.version), raw: { ...lease } };
    });
  }

  create(record: LeaseRecord): Promise<string> {
    return this.call('create', () => this.store.create(record, this.by));
  }

  update(record: LeaseRecord, version: string): Promise<string> {
    return this.call('update', () => this.store.update(record, version, this.by));
  }

  private async call<T>(operation: 'get' | 'create' | 'update', run: () => T): Promise<T> {
    this.calls.push({ operation, at: this.now() });
    const injected = this.inject?.(operation);
    if (injected === 'hang') return new Promise<T>(() => {});
    // Answer on a later microtask, as a network call would, so other candidates' calls interleave.
    await Promise.resolve();
    if (injected instanceof Error) throw injected;
    return run();
  }
}

function copy(record: LeaseRecord): LeaseRecord {
  return { ...record, acquireTime: new Date(record.acquireTime), renewTime: new Date(record.renewTime) };
}
