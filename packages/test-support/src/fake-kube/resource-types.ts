// The resource types the fake Kubernetes API server serves, and how each one behaves where
// the real API server's per-type strategies differ (pkg/registry/*/strategy.go).

/** A resource type the fake API server serves: where it lives on the wire and which of the real server's per-type behaviours it has. */
export interface FakeKubeResourceType {
  /** API group; `''` is the core group (`/api/v1`). */
  group: string;
  version: string;
  /** The lower-case plural in paths (`services`, `dubboroutes`). */
  plural: string;
  kind: string;
  namespaced: boolean;
  /** Whether `/status` is a subresource: writes to the main resource then ignore `status`, writes to `/status` change only `status`. */
  statusSubresource?: boolean;
  /**
   * Served by the API server itself rather than a CRD. Built-in types' list items carry no
   * `apiVersion`/`kind` (a CRD's list items do) and a POST may leave `apiVersion`/`kind` out.
   * Default false: a type given to `addType` is a custom resource.
   */
  builtIn?: boolean;
  /** A DELETE answers with the deleted object (the store's `ReturnDeletedObject`, pods and services) instead of a `Status` of `Success`. */
  deleteReturnsObject?: boolean;
  /** A PUT of a missing object creates it (`AllowCreateOnUpdate`: services, leases). Otherwise it answers 404. */
  createOnUpdate?: boolean;
  /** A PUT without `metadata.resourceVersion` is refused with 422 (`AllowUnconditionalUpdate` false: leases and every custom resource). */
  requireResourceVersionOnUpdate?: boolean;
  /** Whether objects carry `metadata.generation` (1 on create, +1 when anything but metadata and a status subresource changes). Default true; services, namespaces and leases have none. */
  tracksGeneration?: boolean;
}

/**
 * The types served out of the box: core/v1 services, pods, namespaces; discovery.k8s.io/v1
 * endpointslices; networking.k8s.io/v1 ingresses, ingressclasses (cluster-scoped);
 * coordination.k8s.io/v1 leases. Flags as the real strategies set them (Kubernetes 1.34).
 */
export const FAKE_KUBE_BUILTIN_TYPES: readonly FakeKubeResourceType[] = Object.freeze([
  {
    group: '',
    version: 'v1',
    plural: 'services',
    kind: 'Service',
    namespaced: true,
    statusSubresource: true,
    builtIn: true,
    deleteReturnsObject: true,
    createOnUpdate: true,
    tracksGeneration: false,
  },
  { group: '', version: 'v1', plural: 'pods', kind: 'Pod', namespaced: true, statusSubresource: true, builtIn: true, deleteReturnsObject: true },
  { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false, statusSubresource: true, builtIn: true, tracksGeneration: false },
  { group: 'discovery.k8s.io', version: 'v1', plural: 'endpointslices', kind: 'EndpointSlice', namespaced: true, builtIn: true },
  { group: 'networking.k8s.io', version: 'v1', plural: 'ingresses', kind: 'Ingress', namespaced: true, statusSubresource: true, builtIn: true },
  { group: 'networking.k8s.io', version: 'v1', plural: 'ingressclasses', kind: 'IngressClass', namespaced: false, builtIn: true },
  {
    group: 'coordination.k8s.io',
    version: 'v1',
    plural: 'leases',
    kind: 'Lease',
    namespaced: true,
    builtIn: true,
    createOnUpdate: true,
    requireResourceVersionOnUpdate: true,
    tracksGeneration: false,
  },
]);

/** `v1` for the core group, `GROUP/VERSION` otherwise. */
export function apiVersionOf(type: FakeKubeResourceType): string {
  return type.group === '' ? type.version : `${type.group}/${type.version}`;
}

/** Splits an `apiVersion` into group and version (`v1` → core). */
export function parseApiVersion(apiVersion: string): { group: string; version: string } {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

/** The resource as the server names it in messages: `pods`, `leases.coordination.k8s.io`. */
export function qualifiedResource(type: FakeKubeResourceType): string {
  return type.group === '' ? type.plural : `${type.plural}.${type.group}`;
}

/** A key for one type: group, version and plural. */
export function typeKey(type: FakeKubeResourceType): string {
  return `${type.group}/${type.version}/${type.plural}`;
}

/**
 * A type's custom-resource defaults filled in: a type given to `addType` without the flags
 * behaves as a CRD-served resource does (PUT needs a resourceVersion, a DELETE answers a
 * `Status`, no create on PUT).
 */
export function completeType(type: FakeKubeResourceType): Required<FakeKubeResourceType> {
  const builtIn = type.builtIn ?? false;
  return Object.freeze({
    group: type.group,
    version: type.version,
    plural: type.plural,
    kind: type.kind,
    namespaced: type.namespaced,
    statusSubresource: type.statusSubresource ?? false,
    builtIn,
    deleteReturnsObject: type.deleteReturnsObject ?? false,
    createOnUpdate: type.createOnUpdate ?? false,
    requireResourceVersionOnUpdate: type.requireResourceVersionOnUpdate ?? !builtIn,
    tracksGeneration: type.tracksGeneration ?? true,
  });
}
