import { CrossReferenceIndex, checkCrossReferences, originsOf, type LocatedResource } from '@dubbo-mesh/config';
import { mergeResources, resourcesAtFault } from './mergeable-resources.js';
import { Snapshot } from './snapshot.js';

/** `Kind/namespace/name` of a located resource. */
function resourceKeyOf(item: LocatedResource): string {
  const { kind, metadata } = item.resource;
  return `${kind}/${metadata.namespace}/${metadata.name}`;
}
import type { ConfigSource, SourceState } from './source.js';
import { summarizeErrors, type SourceRefusal, type SourceStatus } from './source-status.js';

/** A refused change: every error, and where it is (what the log, `/readyz` and the admin API all name). */
export interface Refusal {
  readonly errors: readonly string[];
  /**
   * Where the errors are: the files (or other origins) of the resources at fault, comma
   * separated; else the source whose change was refused; undefined if neither is known.
   */
  readonly source: string | undefined;
  /** The origins one by one (files, for file sources). */
  readonly origins: readonly string[];
  readonly at: Date;
}

/** What the builder tells its owner. */
export interface BuilderEvents {
  /** A new snapshot is in force. */
  published(snapshot: Snapshot): void;
  /** A change was refused (a source's state, or the merged resources); the snapshot in force, if any, stays. */
  refused(refusal: Refusal): void;
}

/**
 * Merges the latest valid state of every source into one set of resources, checks their
 * cross-references, and publishes a snapshot when the content changed (the version is a
 * digest of the content, so equal content is the same version). A source that emits an
 * invalid state keeps its last valid resources in the merge.
 *
 * Each source's latest valid state is kept even when the merge refuses it, and every later
 * change retries the merge of all latest states: a service moved from one source to
 * another (written to the second first, so it is briefly defined twice) arrives whole when
 * the first source catches up, instead of the refused state being forgotten. When the merge
 * of all latest states does not hold, the changed source alone is tried against what is in
 * force, so one source's conflict does not hold back the others' independent changes.
 *
 * Before the check, the registry bridge's imports (`LocatedResource.mergeable`) join the mesh
 * service of the same name from another source (see {@link mergeResources}); each source's
 * state, its counts and its refusals stay its own.
 */
export class SnapshotBuilder {
  /** Each source's latest valid state (in force or not). */
  private readonly states = new Map<string, readonly LocatedResource[]>();
  /** Each source's state the snapshot in force was built from. */
  private readonly inForce = new Map<string, readonly LocatedResource[]>();
  /**
   * Each source's state the resources in force came from: the same as {@link inForce} but for
   * a source that refuses resource by resource, whose state is in force with its refused
   * resources left out (the source is still `ok`: each refusal is the object's own).
   */
  private readonly inForceFrom = new Map<string, readonly LocatedResource[]>();
  /** The cross-reference index of the resources in force: a change is checked where it is, not everywhere. */
  private readonly index = new CrossReferenceIndex();
  /** The snapshot in force. */
  current: Snapshot | undefined;
  /** The last refused change, until a later change is published. */
  lastRefusal: Refusal | undefined;

  /** When each source last emitted a state. */
  private readonly changedAt = new Map<string, Date>();
  /** Each source's last refused change. */
  private readonly sourceRefusals = new Map<string, SourceRefusal>();
  private readonly stopped = new Set<string>();
  /** Sources that refuse resource by resource (see {@link ConfigSource.refusal}), by name. */
  private readonly granular = new Map<string, ConfigSource>();

  /** Per granular source, its resources the last build of its latest state left out, by origin, with their errors. */
  private readonly granularRefusals = new Map<string, ReadonlyMap<string, readonly string[]>>();

  constructor(private readonly events: BuilderEvents) {}

  /**
   * The resources of one kind each source has: those in force, and those of a source's latest
   * valid state that are not (refused by the merge: a conflict, a dangling reference), with the
   * errors the refusal gave for their origin when known. Source by source, in source order.
   */
  resourcesOfKind(
    kind: string,
  ): Array<{ readonly source: string; readonly item: LocatedResource; readonly inForce: boolean; readonly errors: readonly string[] }> {
    const out: Array<{ source: string; item: LocatedResource; inForce: boolean; errors: readonly string[] }> = [];
    const names = new Set([...this.inForce.keys(), ...this.states.keys()]);
    for (const source of names) {
      const inForce = this.inForce.get(source) ?? [];
      const held = new Set(inForce);
      for (const item of inForce) if (item.resource.kind === kind) out.push({ source, item, inForce: true, errors: [] });
      const keys = new Set(inForce.filter((item) => item.resource.kind === kind).map(resourceKeyOf));
      for (const item of this.states.get(source) ?? []) {
        if (item.resource.kind !== kind || held.has(item) || keys.has(resourceKeyOf(item))) continue;
        const errors =
          (item.origin === undefined ? undefined : this.granularRefusals.get(source)?.get(item.origin)) ?? this.sourceRefusals.get(source)?.errors ?? [];
        out.push({ source, item, inForce: false, errors });
      }
    }
    return out;
  }

  /** Where a source stands (see {@link SourceStatus}); a source not started yet is `starting`. */
  sourceStatus(source: ConfigSource): SourceStatus {
    const name = source.name;
    const lastChange = this.changedAt.get(name);
    const lastRefusal = this.sourceRefusals.get(name);
    const resources = this.inForce.get(name)?.length ?? 0;
    const base = { name, type: source.type ?? 'other', lastChange, resources, lastRefusal };
    const details = source.details?.();
    const status = details === undefined ? base : { ...base, details };
    if (this.stopped.has(name)) return { ...status, state: 'stopped', error: undefined };
    if (lastChange === undefined) return { ...status, state: 'starting', error: undefined };
    const connection = source.connection?.();
    if (connection !== undefined && !connection.connected) return { ...status, state: 'disconnected', error: connection.error ?? 'not connected' };
    const invalid = this.invalidSources.get(name);
    if (invalid !== undefined) return { ...status, state: 'invalid', error: summarizeErrors(invalid) };
    // Valid, but refused with the other sources' resources (a conflict): it waits outside the merge.
    if (this.states.get(name) !== this.inForceFrom.get(name)) {
      return { ...status, state: 'invalid', error: summarizeErrors(lastRefusal?.errors ?? []) ?? 'its resources are not in force' };
    }
    return { ...status, state: 'ok', error: undefined };
  }

  /** The control plane stopped a source: it shows as `stopped` (its resources stay in the snapshot in force). */
  sourceStopped(name: string): void {
    this.stopped.add(name);
  }

  private starting = false;

  /**
   * Start every source; resolves when each has emitted its first state. The first snapshot
   * is built from all of them (not one per source as they start).
   */
  async start(sources: readonly ConfigSource[]): Promise<void> {
    this.starting = true;
    for (const source of sources) if (source.refusal === 'resource') this.granular.set(source.name, source);
    try {
      for (const source of sources) await source.start((state) => this.onState(source.name, state));
    } finally {
      this.starting = false;
    }
    if (this.states.size > 0) this.rebuild(undefined, this.states);
  }

  /** Sources whose latest state is invalid, with its errors (their last valid state stays in the merge). */
  readonly invalidSources = new Map<string, readonly string[]>();

  private onState(source: string, state: SourceState): void {
    this.changedAt.set(source, new Date());
    if (state.kind === 'invalid') {
      const errors = [...state.errors];
      const origins = [...(state.origins ?? [])];
      if (state.resources !== undefined) {
        // Check the cross-references too, with what the source could read and the other
        // sources' resources: every error at once, not the field errors first and the rest
        // after they are fixed.
        const others = [...this.states].filter(([name]) => name !== source).flatMap(([, resources]) => resources);
        const merged = mergeResources([...others, ...state.resources]);
        const crossReferences = checkCrossReferences(merged);
        errors.push(...crossReferences.errors);
        origins.push(...originsOf(resourcesAtFault(merged, crossReferences.offending)));
      }
      this.invalidSources.set(source, errors);
      this.refuse(errors, origins, source);
      return;
    }
    this.invalidSources.delete(source);
    this.states.set(source, state.resources);
    if (this.starting) return;
    if (this.rebuild(source, this.states)) return;
    // The merge of every latest state does not hold. This source's change alone, against
    // what is in force, may: then it goes in, and the others wait for a later merge.
    if (this.inForce.size === 0) return;
    const alone = new Map(this.inForce);
    alone.set(source, state.resources);
    this.rebuild(source, alone, true);
  }

  /**
   * Build and publish from `states`; false when the merged resources were refused (the
   * refusal is reported unless `quiet`: the caller already reported the fuller merge's).
   */
  private rebuild(trigger: string | undefined, given: ReadonlyMap<string, readonly LocatedResource[]>, quiet = false): boolean {
    const refused = new Map<string, Map<string, string[]>>();
    let attempt = this.pruneUntilValid(given, refused);
    const held = new Map<string, LocatedResource[]>();
    if (!attempt.built.valid && this.granular.size > 0) {
      // What still fails is another source's (a file naming a custom resource that was
      // deleted, or edited into an invalid one). A resource is not lost for that: the last
      // version in force of what a granular source no longer has stays, and the rest of its
      // change goes in.
      const withHeld = new Map(given);
      for (const [name] of this.granular) {
        const latest = given.get(name);
        const before = this.inForce.get(name);
        if (latest === undefined || before === undefined || latest === before) continue;
        const keys = new Set(latest.map(resourceKeyOf));
        const kept = before.filter((item) => !keys.has(resourceKeyOf(item)));
        if (kept.length === 0) continue;
        held.set(name, kept);
        withHeld.set(name, [...latest, ...kept]);
      }
      if (held.size > 0) {
        refused.clear();
        attempt = this.pruneUntilValid(withHeld, refused);
      }
    }
    const { built, states } = attempt;
    if (!built.valid) {
      if (!quiet) this.refuse(built.errors, built.origins, trigger);
      return false;
    }
    for (const [name, source] of this.granular) {
      // Told only about a build of its latest state (the "alone" retry reuses what is in force).
      if (given.get(name) !== this.states.get(name)) continue;
      const ownRefused = refused.get(name) ?? new Map<string, string[]>();
      this.granularRefusals.set(name, ownRefused);
      source.onResourcesRefused?.(ownRefused);
      const kept = (held.get(name) ?? []).filter((item) => states.get(name)?.includes(item));
      if (kept.length > 0) source.onResourcesHeld?.(kept);
    }
    for (const [name, resources] of states) {
      const from = given.get(name) ?? resources;
      // A source whose in-force resources were reused keeps what they came from.
      this.inForceFrom.set(name, from === this.inForce.get(name) ? (this.inForceFrom.get(name) ?? from) : from);
      this.inForce.set(name, resources);
    }
    // A refusal stays shown while any source is still invalid or waits outside the merge.
    if (this.invalidSources.size === 0 && [...this.states].every(([name, resources]) => this.inForceFrom.get(name) === resources)) this.lastRefusal = undefined;
    if (built.snapshot.version === this.current?.version) return true;
    this.current = built.snapshot;
    this.events.published(built.snapshot);
    return true;
  }

  /** Build from `given`, leaving out the resources at fault of granular sources until it holds or nothing more can be left out. */
  private pruneUntilValid(
    given: ReadonlyMap<string, readonly LocatedResource[]>,
    refused: Map<string, Map<string, string[]>>,
  ): { built: ReturnType<typeof Snapshot.create>; states: ReadonlyMap<string, readonly LocatedResource[]> } {
    let states = given;
    let built = this.build(states);
    // Leaving one out can leave another dangling (a route to a service left out): rounds.
    for (let round = 0; !built.valid && this.granular.size > 0 && round < 16; round++) {
      const pruned = this.prune(states, built.errors, new Set(built.origins), refused);
      if (pruned === undefined) break;
      states = pruned;
      built = this.build(states);
    }
    return { built, states };
  }

  /**
   * Check and build the snapshot of `states`, with the mergeable imports merged into their
   * twins first (see {@link mergeResources}). A merged service at fault is blamed on the part
   * at fault, so the refusal names it and pruning leaves out that source's object.
   */
  private build(states: ReadonlyMap<string, readonly LocatedResource[]>): ReturnType<typeof Snapshot.create> {
    const all = [...states.values()].flat();
    const items = mergeResources(all);
    const built = Snapshot.create(items, undefined, this.index);
    if (built.valid || items === all) return built;
    // Only when something was merged and the set failed (rare): two more full checks, to find who is at fault.
    const unvalidated = items.filter((item) => item.issues !== undefined);
    const { offending } = checkCrossReferences(items);
    return { ...built, origins: originsOf([...unvalidated, ...resourcesAtFault(items, offending)]) };
  }

  /**
   * `states` without the resources of granular sources whose origin is at fault, recording
   * each one's errors (those that start with its label) in `refused`; undefined when no such
   * resource is at fault (the fault lies with a source that refuses as a whole).
   */
  private prune(
    states: ReadonlyMap<string, readonly LocatedResource[]>,
    errors: readonly string[],
    origins: ReadonlySet<string>,
    refused: Map<string, Map<string, string[]>>,
  ): Map<string, readonly LocatedResource[]> | undefined {
    let pruned: Map<string, readonly LocatedResource[]> | undefined;
    for (const [name, resources] of states) {
      if (!this.granular.has(name)) continue;
      const kept = resources.filter((item) => item.origin === undefined || !origins.has(item.origin));
      if (kept.length === resources.length) continue;
      pruned ??= new Map(states);
      pruned.set(name, kept);
      let bySource = refused.get(name);
      if (bySource === undefined) refused.set(name, (bySource = new Map()));
      for (const item of resources) {
        if (item.origin === undefined || !origins.has(item.origin)) continue;
        const label = `${item.resource.kind} ${item.resource.metadata.namespace}/${item.resource.metadata.name}:`;
        const own = errors.filter((error) => error.startsWith(label) || error.includes(` ${label}`));
        bySource.set(item.origin, [...(bySource.get(item.origin) ?? []), ...(own.length > 0 ? own : errors)]);
      }
    }
    return pruned;
  }

  private refuse(errors: readonly string[], origins: readonly string[], source: string | undefined): void {
    const unique = [...new Set(origins)];
    const refusal: Refusal = { errors, source: unique.length > 0 ? unique.join(', ') : source, origins: unique, at: new Date() };
    this.lastRefusal = refusal;
    // Attributed to the source whose change it was; at start (no single change), to every
    // source whose state is not in force.
    const attributed = source !== undefined ? [source] : [...this.states.keys()].filter((name) => this.states.get(name) !== this.inForceFrom.get(name));
    for (const name of attributed) this.sourceRefusals.set(name, { errors, origins: unique, at: refusal.at });
    this.events.refused(refusal);
  }
}
