import type { OpenApiSchema } from '@dubbo-mesh/schema';
import type { KindDefinition, PrinterColumn } from './kind-definition.js';
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

/**
 * The columns every CRD ends with: whether the control plane accepted the resource (the
 * `Accepted` condition its leader writes into the status) and its age. With its own columns a
 * CRD loses kubectl's default `Age`, so it is listed here.
 */
export const COMMON_PRINTER_COLUMNS: readonly PrinterColumn[] = Object.freeze([
  {
    name: 'Accepted',
    type: 'string',
    jsonPath: '.status.conditions[?(@.type=="Accepted")].status',
    description: 'Whether the control plane accepted the resource (True) or refused it (False)',
  },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
]);

/** One `additionalPrinterColumns` entry. */
export interface CustomResourceColumn {
  name: string;
  type: PrinterColumn['type'];
  jsonPath: string;
  description?: string;
  priority?: number;
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
      additionalPrinterColumns: CustomResourceColumn[];
    }>;
  };
}

/**
 * The whole `apiextensions.k8s.io/v1` CustomResourceDefinition of a registered kind. Throws
 * for an unknown kind, and for a kind that is no custom resource (`customResource: false`).
 */
export function customResourceDefinition(kind: string): CustomResourceDefinition {
  const definition = kindDefinition(kind);
  if (definition === undefined)
    throw new Error(
      `unknown kind ${JSON.stringify(kind)}; known: ${kindDefinitions()
        .map((d) => d.kind)
        .join(', ')}`,
    );
  if (definition.customResource === false) throw new Error(`kind ${kind} has no CustomResourceDefinition: a source makes it from other objects`);
  const { plural, singular, shortNames } = definition.names;
  const columns = [...(definition.printerColumns ?? []), ...COMMON_PRINTER_COLUMNS].map((column) => ({ ...column }));
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
          additionalPrinterColumns: columns,
        },
      ],
    },
  };
}

/** The CustomResourceDefinitions of every registered kind that is a custom resource. */
export function customResourceDefinitions(): CustomResourceDefinition[] {
  return kindDefinitions()
    .filter((definition) => definition.customResource !== false)
    .map((definition) => customResourceDefinition(definition.kind));
}
