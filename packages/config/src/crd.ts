import type { OpenApiSchema } from '@dubbo-mesh/schema';
import type { KindDefinition } from './kind-definition.js';
import { kindDefinition, kindDefinitions } from './kind-registry.js';
import { API_VERSION } from './types.js';

/** The API group of every kind. */
export const API_GROUP = API_VERSION.slice(0, API_VERSION.indexOf('/'));
/** The API version (within the group) of every kind. */
export const API_GROUP_VERSION = API_VERSION.slice(API_VERSION.indexOf('/') + 1);

/**
 * The OpenAPI v3 schema of a kind's custom resource, from the same definition file validation
 * uses. `metadata` is only `type: object`: Kubernetes validates a resource's metadata itself
 * (and allows a CRD nothing more there). Where file validation checks what OpenAPI cannot say
 * (a regex that compiles, weights not all 0, a host:port, a duration longer than 0, an
 * interface given as a string or an object) the CRD accepts more; file validation, which the
 * control plane runs on every custom resource, stays the authority. The CRD never rejects what
 * a file accepts.
 */
export function kindOpenApiSchema(definition: KindDefinition): OpenApiSchema {
  return {
    type: 'object',
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: { type: 'object' },
      spec: definition.spec.toOpenApi(),
      status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
    },
    required: ['spec'],
  };
}

/** A CustomResourceDefinition, as `kubectl apply` takes it. */
export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string };
  spec: {
    group: string;
    names: { kind: string; listKind: string; plural: string; singular: string; shortNames: string[]; categories: string[] };
    scope: 'Namespaced';
    versions: Array<{
      name: string;
      served: true;
      storage: true;
      subresources: { status: Record<string, never> };
      schema: { openAPIV3Schema: OpenApiSchema };
    }>;
  };
}

/** The whole `apiextensions.k8s.io/v1` CustomResourceDefinition of a registered kind. */
export function customResourceDefinition(kind: string): CustomResourceDefinition {
  const definition = kindDefinition(kind);
  if (definition === undefined)
    throw new Error(
      `unknown kind ${JSON.stringify(kind)}; known: ${kindDefinitions()
        .map((d) => d.kind)
        .join(', ')}`,
    );
  const { plural, singular, shortNames } = definition.names;
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${API_GROUP}` },
    spec: {
      group: API_GROUP,
      names: { kind: definition.kind, listKind: `${definition.kind}List`, plural, singular, shortNames: [...shortNames], categories: ['dubbo-mesh'] },
      scope: 'Namespaced',
      versions: [
        {
          name: API_GROUP_VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          schema: { openAPIV3Schema: kindOpenApiSchema(definition) },
        },
      ],
    },
  };
}

/** The CustomResourceDefinitions of every registered kind. */
export function customResourceDefinitions(): CustomResourceDefinition[] {
  return kindDefinitions().map((definition) => customResourceDefinition(definition.kind));
}
