/**
 * The part of OpenAPI v3 (as Kubernetes' `apiextensions.k8s.io/v1` JSONSchemaProps takes it)
 * that schema nodes emit.
 */
export interface OpenApiSchema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  description?: string;
  properties?: Record<string, OpenApiSchema>;
  required?: string[];
  additionalProperties?: OpenApiSchema | boolean;
  items?: OpenApiSchema;
  enum?: unknown[];
  pattern?: string;
  minLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  oneOf?: OpenApiSchema[];
  anyOf?: OpenApiSchema[];
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-validations'?: Array<{ rule: string; message: string }>;
}

/** Keywords Kubernetes forbids inside `oneOf`/`anyOf`/`allOf`/`not` of a structural schema. */
const FORBIDDEN_IN_JUNCTORS = ['type', 'description', 'default', 'additionalProperties', 'nullable'] as const;

/**
 * The places where a schema breaks Kubernetes' structural-schema rules: every node (the root,
 * each property, each `additionalProperties` value and each list item) has a `type`, unless it
 * is marked `x-kubernetes-preserve-unknown-fields` or `x-kubernetes-int-or-string`; a junctor
 * (`oneOf`, `anyOf`) only constrains, it sets no type, description or additionalProperties;
 * `properties` and `additionalProperties` are never both set; a list of type `map` names its
 * keys and they are required fields of its items. Empty when the schema is structural.
 */
export function structuralSchemaProblems(schema: OpenApiSchema, path = '(root)'): string[] {
  const problems: string[] = [];
  const untypedAllowed = schema['x-kubernetes-preserve-unknown-fields'] === true || schema['x-kubernetes-int-or-string'] === true;
  if (schema.type === undefined && !untypedAllowed) problems.push(`${path}: has no type`);
  if (schema.properties !== undefined && schema.additionalProperties !== undefined) problems.push(`${path}: has both properties and additionalProperties`);
  if (schema.additionalProperties === false)
    problems.push(`${path}: additionalProperties: false is not allowed (Kubernetes prunes or rejects unknown fields itself)`);
  for (const junctor of ['oneOf', 'anyOf'] as const) {
    (schema[junctor] ?? []).forEach((branch, i) => {
      for (const keyword of FORBIDDEN_IN_JUNCTORS) {
        if (keyword in branch) problems.push(`${path}.${junctor}[${i}]: sets ${keyword} inside a junctor`);
      }
    });
  }
  for (const [name, child] of Object.entries(schema.properties ?? {})) problems.push(...structuralSchemaProblems(child, `${path}.${name}`));
  if (typeof schema.additionalProperties === 'object') problems.push(...structuralSchemaProblems(schema.additionalProperties, `${path}.*`));
  if (schema.items !== undefined) problems.push(...structuralSchemaProblems(schema.items, `${path}[]`));
  if (schema.type === 'array' && schema.items === undefined) problems.push(`${path}: a list with no items schema`);
  if (schema['x-kubernetes-list-type'] === 'map') {
    const keys = schema['x-kubernetes-list-map-keys'] ?? [];
    if (keys.length === 0) problems.push(`${path}: a list of type map names no keys`);
    for (const key of keys)
      if (!(schema.items?.required ?? []).includes(key)) problems.push(`${path}: list map key ${key} is not a required field of its items`);
  }
  return problems;
}
