import { targetOf, type CrossReference, type CrossReferenceClaim } from './kind-definition.js';
import { kindDefinition } from './kind-registry.js';
import { assembleMeshConfig, configOf, type LocatedResource } from './mesh-config.js';
import type { MeshResource } from './types.js';

/** `Kind namespace/name`: what must be unique, and what refers to a resource. */
function idOf(resource: MeshResource): string {
  return targetOf(resource.kind, resource.metadata);
}

function claimsOf(resource: MeshResource): readonly CrossReferenceClaim[] {
  return kindDefinition(resource.kind)?.claims?.(resource) ?? [];
}

function referencesOf(resource: MeshResource): readonly CrossReference[] {
  return kindDefinition(resource.kind)?.references?.(resource) ?? [];
}

/** Everything a resource needs to exist: its references and what its claims require. */
function needsOf(resource: MeshResource): string[] {
  const needs = referencesOf(resource).map((reference) => reference.target);
  for (const claim of claimsOf(resource)) if (claim.requires !== undefined) needs.push(claim.requires.target);
  return needs;
}

/** Everything a resource provides: itself and what its claims provide. */
function providesOf(resource: MeshResource): string[] {
  const provides = [idOf(resource)];
  for (const claim of claimsOf(resource)) provides.push(...(claim.provides ?? []));
  return provides;
}

/**
 * The cross-reference index of the last valid set of resources, kept between changes: a new
 * set is checked by looking only at the resources that were added or removed (a changed
 * resource is both) and at what refers to them, instead of at every resource. It knows no kind:
 * it works on what the kinds declare (claims, references, what they provide). A set that
 * fails, or one that changed in most of its resources, is checked in full by
 * {@link assembleMeshConfig}, which also gives every error message; so the index only ever
 * decides faster, never differently (a test holds it to that on random changes).
 *
 * Resources are told apart by identity: a source that keeps unchanged resources as the same
 * objects (the YAML cache does) makes a change cost what changed.
 */
export class CrossReferenceIndex {
  private resources = new Set<MeshResource>();
  /** `Kind ns/name` → the resource. */
  private readonly ids = new Map<string, MeshResource>();
  /** Target → the resource that provides it. */
  private readonly provided = new Map<string, MeshResource>();
  /** Claim token → its holder. */
  private readonly holders = new Map<string, { owner: string | undefined; resource: MeshResource }>();
  /** Target → the resources that need it. */
  private readonly dependents = new Map<string, Set<MeshResource>>();

  /** How many sets were decided by the index alone, and how many by the full check. */
  readonly checks = { incremental: 0, full: 0 };

  /** Check and assemble, as {@link assembleMeshConfig} does; the index moves on only when the set is valid. */
  assemble(items: readonly LocatedResource[]): ReturnType<typeof assembleMeshConfig> {
    const current = new Set<MeshResource>();
    for (const item of items) current.add(item.resource);
    const added: MeshResource[] = [];
    for (const resource of current) if (!this.resources.has(resource)) added.push(resource);
    const removed: MeshResource[] = [];
    for (const resource of this.resources) if (!current.has(resource)) removed.push(resource);
    const incremental =
      this.resources.size > 0 &&
      current.size === items.length &&
      added.length + removed.length <= items.length / 2 &&
      items.every((item) => item.issues === undefined);
    if (incremental && this.holds(added, removed)) {
      for (const resource of removed) this.remove(resource);
      for (const resource of added) this.add(resource);
      this.resources = current;
      this.checks.incremental += 1;
      return { valid: true, result: configOf(items) };
    }
    this.checks.full += 1;
    const full = assembleMeshConfig(items);
    if (full.valid) this.rebuild(items);
    return full;
  }

  /**
   * Whether the set with `added` and without `removed` holds, looking only at what they touch.
   * False may also mean "not sure": the full check then decides.
   */
  private holds(added: readonly MeshResource[], removed: readonly MeshResource[]): boolean {
    const gone = new Set(removed);
    const addedIds = new Set<string>();
    const addedProvided = new Set<string>();
    for (const resource of added) {
      const id = idOf(resource);
      const kept = this.ids.get(id);
      if ((kept !== undefined && !gone.has(kept)) || addedIds.has(id)) return false;
      addedIds.add(id);
      addedProvided.add(id);
    }
    const providedAfter = (target: string): boolean => {
      if (addedProvided.has(target)) return true;
      const provider = this.provided.get(target);
      return provider !== undefined && !gone.has(provider);
    };
    // Claims of added resources: what they require exists, and nobody else holds the token.
    const addedHolders = new Map<string, string | undefined>();
    for (const resource of added) {
      for (const claim of claimsOf(resource)) {
        if (claim.requires !== undefined && !providedAfter(claim.requires.target)) return false;
        let taken = addedHolders.has(claim.token);
        let holder = addedHolders.get(claim.token);
        if (!taken) {
          const kept = this.holders.get(claim.token);
          if (kept !== undefined && !gone.has(kept.resource)) {
            taken = true;
            holder = kept.owner;
          }
        }
        if (taken && (claim.owner === undefined || holder !== claim.owner)) return false;
        addedHolders.set(claim.token, claim.owner);
        for (const target of claim.provides ?? []) addedProvided.add(target);
      }
    }
    const holdsAll = (resource: MeshResource): boolean => needsOf(resource).every(providedAfter);
    for (const resource of added) if (!holdsAll(resource)) return false;
    // What kept resources need and a removed resource provided.
    for (const resource of removed) {
      for (const target of providesOf(resource)) {
        if (providedAfter(target)) continue;
        for (const dependent of this.dependents.get(target) ?? []) if (!gone.has(dependent)) return false;
      }
    }
    return true;
  }

  private rebuild(items: readonly LocatedResource[]): void {
    this.ids.clear();
    this.provided.clear();
    this.holders.clear();
    this.dependents.clear();
    this.resources = new Set();
    for (const item of items) {
      this.add(item.resource);
      this.resources.add(item.resource);
    }
  }

  private add(resource: MeshResource): void {
    this.ids.set(idOf(resource), resource);
    for (const target of providesOf(resource)) this.provided.set(target, resource);
    for (const claim of claimsOf(resource)) this.holders.set(claim.token, { owner: claim.owner, resource });
    for (const target of needsOf(resource)) {
      let dependents = this.dependents.get(target);
      if (dependents === undefined) this.dependents.set(target, (dependents = new Set()));
      dependents.add(resource);
    }
  }

  private remove(resource: MeshResource): void {
    const id = idOf(resource);
    if (this.ids.get(id) === resource) this.ids.delete(id);
    for (const target of providesOf(resource)) if (this.provided.get(target) === resource) this.provided.delete(target);
    for (const claim of claimsOf(resource)) if (this.holders.get(claim.token)?.resource === resource) this.holders.delete(claim.token);
    for (const target of needsOf(resource)) this.dependents.get(target)?.delete(resource);
  }
}
