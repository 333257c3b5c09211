import { assembleMeshConfig, type LocatedResource, type MeshConfig } from './mesh-config.js';
import type { DubboPolicyConfig, DubboRouteConfig, DubboServiceConfig, MeshResource } from './types.js';

/** `namespace/name`. */
function key(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** `Kind namespace/name`: what must be unique. */
function idOf(resource: MeshResource): string {
  return `${resource.kind} ${key(resource.metadata.namespace, resource.metadata.name)}`;
}

/** The exact service keys a service claims (no two services may claim one). */
function claimsOf(service: DubboServiceConfig): string[] {
  return service.interfaces.map((p) => `${service.metadata.namespace}|${p.interface}|${p.group ?? '*'}|${p.version ?? '*'}`);
}

/** The services (`namespace/name`) a route's destinations name. */
function routeTargets(route: DubboRouteConfig): Set<string> {
  const targets = new Set<string>();
  for (const rule of route.routes) for (const destination of rule.destinations) targets.add(key(route.metadata.namespace, destination.service));
  return targets;
}

/**
 * The cross-reference index of the last valid set of resources, kept between changes: a new
 * set is checked by looking only at the resources that were added or removed (a changed
 * resource is both) and at what refers to them, instead of at every resource. A set that
 * fails, or one that changed in most of its resources, is checked in full by
 * {@link assembleMeshConfig}, which also gives every error message; so the index only ever
 * decides faster, never differently (a test holds it to that on random changes).
 *
 * Resources are told apart by identity: a source that keeps unchanged resources as the same
 * objects (the YAML cache does) makes a change cost what changed.
 */
export class CrossReferenceIndex {
  private resources = new Set<MeshResource>();
  private readonly ids = new Map<string, MeshResource>();
  private readonly services = new Map<string, DubboServiceConfig>();
  /** Exact service key → the name of the service that claims it. */
  private readonly claims = new Map<string, string>();
  /** Service (`namespace/name`) → its policy. */
  private readonly policies = new Map<string, DubboPolicyConfig>();
  /** Service (`namespace/name`) → the routes with a destination on it. */
  private readonly routesByService = new Map<string, Set<DubboRouteConfig>>();

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
    const incremental = this.resources.size > 0 && current.size === items.length && added.length + removed.length <= items.length / 2
      && items.every((item) => item.issues === undefined);
    if (incremental && this.holds(added, removed)) {
      this.apply(added, removed);
      this.resources = current;
      this.checks.incremental += 1;
      return { valid: true, result: configOf(items) };
    }
    this.checks.full += 1;
    const full = assembleMeshConfig(items);
    if (full.valid) this.rebuild(items);
    return full;
  }

  /** Whether the set with `added` and without `removed` holds, looking only at what they touch. */
  private holds(added: readonly MeshResource[], removed: readonly MeshResource[]): boolean {
    const removedIds = new Set(removed.map(idOf));
    const addedIds = new Set<string>();
    const addedServices = new Map<string, DubboServiceConfig>();
    const addedPolicies = new Map<string, DubboPolicyConfig>();
    for (const resource of added) {
      const id = idOf(resource);
      if ((this.ids.has(id) && !removedIds.has(id)) || addedIds.has(id)) return false;
      addedIds.add(id);
      if (resource.kind === 'DubboService') addedServices.set(key(resource.metadata.namespace, resource.metadata.name), resource);
    }
    const serviceAfter = (service: string): DubboServiceConfig | undefined => {
      const kept = this.services.get(service);
      return addedServices.get(service) ?? (kept !== undefined && !removedIds.has(idOf(kept)) ? kept : undefined);
    };
    const policyAfter = (service: string): DubboPolicyConfig | undefined => {
      const kept = this.policies.get(service);
      return addedPolicies.get(service) ?? (kept !== undefined && !removedIds.has(idOf(kept)) ? kept : undefined);
    };
    // Service keys: those of removed services are free again; added ones must be free.
    const released = new Set<string>();
    for (const resource of removed) if (resource.kind === 'DubboService') for (const claim of claimsOf(resource)) released.add(claim);
    const addedClaims = new Map<string, string>();
    for (const service of addedServices.values()) {
      for (const claim of claimsOf(service)) {
        const owner = addedClaims.get(claim) ?? (released.has(claim) ? undefined : this.claims.get(claim));
        if (owner !== undefined && owner !== service.metadata.name) return false;
        addedClaims.set(claim, service.metadata.name);
      }
    }
    // Policies: on a service that exists, one per service.
    for (const resource of added) {
      if (resource.kind !== 'DubboPolicy') continue;
      const service = key(resource.metadata.namespace, resource.service);
      const kept = this.policies.get(service);
      if (serviceAfter(service) === undefined || addedPolicies.has(service) || (kept !== undefined && !removedIds.has(idOf(kept)))) return false;
      addedPolicies.set(service, resource);
    }
    const routeHolds = (route: DubboRouteConfig): boolean => route.routes.every((rule) => rule.destinations.every((destination) => {
      const service = key(route.metadata.namespace, destination.service);
      if (serviceAfter(service) === undefined) return false;
      return destination.subset === undefined || (policyAfter(service)?.subsets.some((s) => s.name === destination.subset) ?? false);
    }));
    for (const resource of added) if (resource.kind === 'DubboRoute' && !routeHolds(resource)) return false;
    // What refers to a removed service or a changed policy: kept policies and routes.
    const touched = new Set<string>();
    for (const resource of [...removed, ...added]) {
      if (resource.kind === 'DubboService') touched.add(key(resource.metadata.namespace, resource.metadata.name));
      else if (resource.kind === 'DubboPolicy') touched.add(key(resource.metadata.namespace, resource.service));
    }
    for (const service of touched) {
      const kept = this.policies.get(service);
      if (kept !== undefined && !removedIds.has(idOf(kept)) && serviceAfter(service) === undefined) return false;
      for (const route of this.routesByService.get(service) ?? []) {
        if (!removedIds.has(idOf(route)) && !routeHolds(route)) return false;
      }
    }
    return true;
  }

  private apply(added: readonly MeshResource[], removed: readonly MeshResource[]): void {
    for (const resource of removed) this.remove(resource);
    for (const resource of added) this.add(resource);
  }

  private rebuild(items: readonly LocatedResource[]): void {
    this.ids.clear();
    this.services.clear();
    this.claims.clear();
    this.policies.clear();
    this.routesByService.clear();
    this.resources = new Set();
    for (const item of items) {
      this.add(item.resource);
      this.resources.add(item.resource);
    }
  }

  private add(resource: MeshResource): void {
    this.ids.set(idOf(resource), resource);
    if (resource.kind === 'DubboService') {
      this.services.set(key(resource.metadata.namespace, resource.metadata.name), resource);
      for (const claim of claimsOf(resource)) this.claims.set(claim, resource.metadata.name);
    } else if (resource.kind === 'DubboPolicy') {
      this.policies.set(key(resource.metadata.namespace, resource.service), resource);
    } else {
      for (const service of routeTargets(resource)) {
        let routes = this.routesByService.get(service);
        if (routes === undefined) this.routesByService.set(service, (routes = new Set()));
        routes.add(resource);
      }
    }
  }

  private remove(resource: MeshResource): void {
    const id = idOf(resource);
    if (this.ids.get(id) === resource) this.ids.delete(id);
    if (resource.kind === 'DubboService') {
      const service = key(resource.metadata.namespace, resource.metadata.name);
      if (this.services.get(service) === resource) this.services.delete(service);
      for (const claim of claimsOf(resource)) if (this.claims.get(claim) === resource.metadata.name) this.claims.delete(claim);
    } else if (resource.kind === 'DubboPolicy') {
      const service = key(resource.metadata.namespace, resource.service);
      if (this.policies.get(service) === resource) this.policies.delete(service);
    } else {
      for (const service of routeTargets(resource)) this.routesByService.get(service)?.delete(resource);
    }
  }
}

/** The assembled config of a valid set, in the order of its items. */
function configOf(items: readonly LocatedResource[]): MeshConfig {
  const services: DubboServiceConfig[] = [];
  const routes: DubboRouteConfig[] = [];
  const policies: DubboPolicyConfig[] = [];
  for (const { resource } of items) {
    if (resource.kind === 'DubboService') services.push(resource);
    else if (resource.kind === 'DubboRoute') routes.push(resource);
    else policies.push(resource);
  }
  return Object.freeze({ services: Object.freeze(services), routes: Object.freeze(routes), policies: Object.freeze(policies) });
}
