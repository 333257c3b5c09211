// Custom resources checked against their CustomResourceDefinition's openAPIV3Schema, as the API
// server checks them on create (structural schema, strict field validation), with ajv.
import { Ajv, type ValidateFunction } from 'ajv';
import type { KubeObject } from './manifests.js';

/** The part of an OpenAPI v3 schema in a CRD that this module rewrites. */
interface Schema {
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema | boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  [keyword: string]: unknown;
}

/**
 * The schema as the API server applies it: with strict field validation (kubectl's default) a
 * field that no `properties` names is refused, which plain JSON Schema allows; so
 * `additionalProperties: false` goes wherever Kubernetes would prune or refuse unknown fields.
 */
export function asApiServerSchema(schema: Schema): Schema {
  const copy: Schema = { ...schema };
  if (schema.properties !== undefined) {
    copy.properties = Object.fromEntries(Object.entries(schema.properties).map(([name, child]) => [name, asApiServerSchema(child)]));
    if (schema['x-kubernetes-preserve-unknown-fields'] !== true && schema.additionalProperties === undefined) copy.additionalProperties = false;
  }
  if (typeof schema.additionalProperties === 'object') copy.additionalProperties = asApiServerSchema(schema.additionalProperties);
  if (schema.items !== undefined) copy.items = asApiServerSchema(schema.items);
  return copy;
}

/** Validates custom resources by their `apiVersion` and `kind` against a set of CRDs. */
export class CustomResourceValidator {
  private readonly validators = new Map<string, ValidateFunction>();

  /** `crds`: CustomResourceDefinition objects (apiextensions.k8s.io/v1), every served version. */
  constructor(crds: readonly KubeObject[]) {
    const ajv = new Ajv({ strict: false, allErrors: true });
    for (const crd of crds) {
      if (crd.kind !== 'CustomResourceDefinition') throw new Error(`${crd.kind} ${crd.metadata.name} is not a CustomResourceDefinition`);
      const spec = crd.spec as {
        group: string;
        names: { kind: string };
        versions: Array<{ name: string; served: boolean; schema: { openAPIV3Schema: Schema } }>;
      };
      for (const version of spec.versions.filter((v) => v.served))
        this.validators.set(`${spec.group}/${version.name} ${spec.names.kind}`, ajv.compile(asApiServerSchema(version.schema.openAPIV3Schema)));
    }
  }

  /** Whether a CRD defines the object's apiVersion and kind. */
  defines(object: Pick<KubeObject, 'apiVersion' | 'kind'>): boolean {
    return this.validators.has(`${object.apiVersion} ${object.kind}`);
  }

  /** The schema errors of one custom resource (`/spec/…: message`), none when the API server would accept it. */
  errors(object: KubeObject): string[] {
    const validate = this.validators.get(`${object.apiVersion} ${object.kind}`);
    if (validate === undefined) return [`no CustomResourceDefinition for ${object.apiVersion} ${object.kind}`];
    if (validate(object)) return [];
    return (validate.errors ?? []).map(
      (error) => `${error.instancePath || '/'}: ${error.message ?? error.keyword}${error.params ? ` ${JSON.stringify(error.params)}` : ''}`,
    );
  }
}
