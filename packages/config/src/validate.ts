import {
  CheckContext,
  anything,
  constant,
  describe,
  formatPath,
  isObject,
  oneOf,
  type CheckOptions,
  type SchemaNode,
  type ValidationIssue,
} from '@dubbo-mesh/schema';
import { DEFAULT_NAMESPACE } from './defaults.js';
import { kindDefinition, kindNames } from './kind-registry.js';
import { METADATA } from './kinds/common-nodes.js';
import { API_VERSION, type MeshResource, type ResourceMeta } from './types.js';

export { formatPath, type CheckOptions, type FieldPath, type ValidationIssue } from '@dubbo-mesh/schema';
export { parseAddress, sameServiceKeyPattern } from './kinds/dubbo-service.js';

/** Every error collected, or the validated value (CONVENTIONS 7). */
export type ValidationResult<T> =
  | {
      readonly valid: true;
      readonly result: T;
      /** With `unknownFields: 'warn'`: each field that was ignored, as `Kind ns/name: path: message`. */
      readonly warnings?: readonly string[];
    }
  | {
      readonly valid: false;
      readonly errors: readonly string[];
      readonly issues: readonly ValidationIssue[];
      /**
       * The value as far as it could be read (fields with an issue fall back to defaults), when
       * its kind and spec could be read at all. Never to be used as config: it lets the
       * cross-references of a file be checked, and reported, together with its field errors.
       */
      readonly partial?: T;
      readonly warnings?: readonly string[];
    };

/** The `Kind namespace/name` a message starts with, read as far as the raw value allows. */
export function resourceLabel(raw: unknown): string {
  const value = isObject(raw) ? raw : {};
  const meta = isObject(value.metadata) ? value.metadata : {};
  const kind = typeof value.kind === 'string' ? value.kind : 'resource';
  const namespace = typeof meta.namespace === 'string' ? meta.namespace : DEFAULT_NAMESPACE;
  const name = typeof meta.name === 'string' ? meta.name : '(unnamed)';
  return `${kind} ${namespace}/${name}`;
}

/** The fields of every resource, around its kind's spec (what a CRD's root schema describes too). */
export const ENVELOPE_FIELDS = ['apiVersion', 'kind', 'metadata', 'spec', 'status'] as const;
const ENVELOPE: Readonly<Record<(typeof ENVELOPE_FIELDS)[number], SchemaNode<unknown>>> = {
  apiVersion: constant(API_VERSION),
  kind: oneOf(kindNames),
  metadata: METADATA,
  spec: anything(), // checked by the kind's own schema, once the kind is known
  status: anything(), // written by the cluster (CRD status), never read: any value, as Kubernetes allows
};
const EXPECTED = ENVELOPE_FIELDS.join(', ');

function at<T>(context: CheckContext, field: string, node: SchemaNode<T>, value: unknown): T | undefined {
  if (value === undefined) {
    context.fail('is required', field);
    return undefined;
  }
  context.path.push(field);
  const checked = node.check(value, context);
  context.path.pop();
  return checked;
}

/**
 * Validate one raw resource (parsed YAML, a Kubernetes object, or a resource from the control
 * plane), collecting every error with its field path; on success the resource is normalised
 * (defaults from the one table in `defaults.ts`) and deeply frozen. Kubernetes' own metadata
 * fields are accepted. With `unknownFields: 'warn'` (a proxy reading what a newer control plane
 * sent) a field this version does not know is ignored with a warning instead of refused.
 */
export function validateResource(raw: unknown, options: CheckOptions = {}): ValidationResult<MeshResource> {
  const context = new CheckContext(options);
  let resource: MeshResource | undefined;
  if (!isObject(raw)) context.fail(`must be an object, got ${describe(raw)}`);
  else {
    for (const key of Object.keys(raw)) {
      if ((ENVELOPE_FIELDS as readonly string[]).includes(key)) continue;
      if (context.unknownFields === 'warn') context.warn(`unknown field, ignored (expected one of: ${EXPECTED})`, key);
      else context.fail(`unknown field (expected one of: ${EXPECTED})`, key);
    }
    at(context, 'apiVersion', ENVELOPE.apiVersion, raw.apiVersion);
    const kind = at(context, 'kind', ENVELOPE.kind, raw.kind) as string | undefined;
    const metadata = (at(context, 'metadata', ENVELOPE.metadata, raw.metadata) ?? { name: '', namespace: DEFAULT_NAMESPACE }) as ResourceMeta;
    if (raw.status !== undefined) at(context, 'status', ENVELOPE.status, raw.status);
    const definition = kind === undefined ? undefined : kindDefinition(kind);
    if (definition !== undefined) {
      const spec = at(context, 'spec', definition.spec, raw.spec);
      if (spec !== undefined) resource = { kind: definition.kind, metadata, ...spec } as MeshResource;
    }
  }
  const label = context.issues.length + context.warnings.length > 0 ? resourceLabel(raw) : '';
  const warnings =
    context.warnings.length === 0 ? undefined : context.warnings.map((issue) => `${label}: ${formatPath(issue.path) || '(root)'}: ${issue.message}`);
  if (context.issues.length > 0 || resource === undefined) {
    const errors = context.issues.map((issue) => `${label}: ${formatPath(issue.path) || '(root)'}: ${issue.message}`);
    const invalid = { valid: false as const, issues: context.issues, errors, ...(warnings === undefined ? {} : { warnings }) };
    return resource === undefined ? invalid : { ...invalid, partial: deepFreeze(resource) };
  }
  return warnings === undefined ? { valid: true, result: deepFreeze(resource) } : { valid: true, result: deepFreeze(resource), warnings };
}

/** Freeze an object graph (validated config is immutable). */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
