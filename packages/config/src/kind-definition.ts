import type { FieldPath, SchemaNode } from '@dubbo-mesh/schema';
import type { MeshConfig } from './mesh-config.js';
import type { MeshResource, ResourceMeta } from './types.js';

/** The names of a kind's CustomResourceDefinition. */
export interface CrdNames {
  /** `dubboservices`: the resource's URL segment, and with the group the CRD's name. */
  readonly plural: string;
  readonly singular: string;
  /** `kubectl get ds` */
  readonly shortNames: readonly string[];
}

/**
 * Something a resource needs to exist in the mesh: another resource (`DubboService ns/name`,
 * see {@link resourceTarget}) or what one provides (a policy's subset).
 */
export interface CrossReference {
  /** The field that refers. */
  readonly path: FieldPath;
  /** What must be provided. */
  readonly target: string;
  /** The error when it is not. */
  readonly missing: string;
  /** Checked only when this reference holds (a subset only once its service exists; no second error). */
  readonly after?: CrossReference;
}

/**
 * Something only one resource in the mesh may hold: an exact service key, the one policy of a
 * service. A claim may need a reference to hold first, and provides targets others refer to.
 */
export interface CrossReferenceClaim {
  readonly path: FieldPath;
  readonly token: string;
  /**
   * Who holds it: a second claim by the same owner is no conflict (one service naming its own
   * key twice). Undefined: exclusive, any second claim conflicts.
   */
  readonly owner?: string;
  /** The error when another holds it, given who. */
  conflict(holder: string): string;
  /** Checked first; when it fails, its error is reported and the claim is not made. */
  readonly requires?: CrossReference;
  /** Targets available to others while this claim holds (a policy's subsets). */
  readonly provides?: readonly string[];
}

/**
 * A column `kubectl get` prints for a kind (a CRD's `additionalPrinterColumns`). The API
 * server shows the first value `jsonPath` finds; an array value is printed as JSON.
 */
export interface PrinterColumn {
  readonly name: string;
  readonly type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  /** A JSONPath from the resource's root, starting with `.`. */
  readonly jsonPath: string;
  readonly description?: string;
  /** 0 (default): shown by `kubectl get`; more: only with `-o wide`. */
  readonly priority?: number;
}

/** The spec of a resource of kind `R`: everything but kind and metadata. */
export type SpecOf<R extends MeshResource> = Omit<R, 'kind' | 'metadata'>;

/**
 * One kind of mesh configuration, in one module: its schema (from which file validation and
 * the CRD's OpenAPI schema both come, defaults and normalisation included), its
 * cross-references, and its CRD names. Registered in the kind registry; validation,
 * cross-reference checks and CRDs iterate the registry, so adding a kind edits no switch.
 */
export interface KindDefinition<R extends MeshResource = MeshResource> {
  readonly kind: R['kind'];
  readonly names: CrdNames;
  /** Where an assembled {@link MeshConfig} keeps resources of this kind. */
  readonly configKey: keyof MeshConfig;
  readonly spec: SchemaNode<SpecOf<R>>;
  /**
   * `false`: the kind has no CustomResourceDefinition (Kubernetes users write something else
   * that a source turns into it, as Ingresses into DubboIngress); files and the discovery API
   * still carry it. Absent: the kind is a custom resource.
   */
  readonly customResource?: false;
  /** The kind's own columns for `kubectl get`, before the `Accepted` and `Age` every CRD shows. */
  readonly printerColumns?: readonly PrinterColumn[];
  /** What a resource claims (each once in the mesh). */
  claims?(resource: R): readonly CrossReferenceClaim[];
  /** What a resource refers to (must exist). */
  references?(resource: R): readonly CrossReference[];
}

/** The target naming a resource itself: `Kind namespace/name` (every resource provides its own). */
export function resourceTarget(kind: string, namespace: string, name: string): string {
  return `${kind} ${namespace}/${name}`;
}

/** The target naming a resource itself, from its metadata. */
export function targetOf(kind: string, metadata: ResourceMeta): string {
  return resourceTarget(kind, metadata.namespace, metadata.name);
}
