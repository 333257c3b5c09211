// Follows many ZooKeeper folders with one-shot watches (no polling: polling 2,000 folders would
// load the ZooKeeper and the machine the control plane runs on) and records when each first
// holds what is wanted, so a benchmark learns when the last of them did to the millisecond.
import type { ZooKeeperSession } from '@dubbo-mesh/registry-bridge';

/** Whether a folder's children are what is waited for. */
export type FolderPredicate = (folder: string, children: readonly string[]) => boolean;

/** The folders followed, and when each first satisfied its predicate. */
export interface FolderWatch {
  /** Resolves once every folder was read (and watched) once. */
  readonly armed: Promise<void>;
  /** `performance.now()` when each folder first satisfied the predicate. */
  readonly satisfiedAt: ReadonlyMap<string, number>;
  /** Resolves with the time the last folder was satisfied; rejects after `timeoutMs`, naming how many never were. */
  whenAll(what: string, timeoutMs: number): Promise<number>;
  /** Stop following (watches that fire later are ignored). */
  stop(): void;
}

/**
 * Follow `folders` on `session`: a folder that exists is read with a child watch, one that
 * does not with an exists watch (ZooKeeper leaves no watch on a missing node's children); each
 * watch that fires reads the folder again. At most `concurrency` first reads at once.
 */
export function watchFolders(session: ZooKeeperSession, folders: readonly string[], satisfied: FolderPredicate, concurrency = 200): FolderWatch {
  const satisfiedAt = new Map<string, number>();
  let stopped = false;
  let done: (() => void) | undefined;
  const check = (folder: string, children: readonly string[]) => {
    if (satisfiedAt.has(folder) || !satisfied(folder, children)) return;
    satisfiedAt.set(folder, performance.now());
    if (satisfiedAt.size === folders.length) done?.();
  };
  const follow = async (folder: string): Promise<void> => {
    if (stopped) return;
    try {
      const listed = await session.getChildren(folder, () => void follow(folder));
      if (listed !== undefined) return check(folder, listed.children);
      // Created between the two reads: the exists watch would not fire, so read again.
      if ((await session.exists(folder, () => void follow(folder))) !== undefined) return follow(folder);
    } catch {
      // A connection hiccup: read again a moment later (the watch, if set, may fire too).
      if (!stopped) setTimeout(() => void follow(folder), 100);
    }
  };
  const armed = (async () => {
    let next = 0;
    const worker = async () => {
      while (next < folders.length) await follow(folders[next++]!);
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, folders.length) }, worker));
  })();
  return {
    armed,
    satisfiedAt,
    async whenAll(what, timeoutMs) {
      await armed;
      if (satisfiedAt.size < folders.length) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => {
            done = undefined;
            reject(new Error(`${what}: ${folders.length - satisfiedAt.size} of ${folders.length} folders never were within ${timeoutMs} ms`));
          }, timeoutMs);
          done = () => {
            clearTimeout(timer);
            done = undefined;
            resolve();
          };
        });
      }
      return Math.max(...satisfiedAt.values());
    },
    stop() {
      stopped = true;
      done = undefined;
    },
  };
}
