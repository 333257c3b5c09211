import { anything, object, string, map, type SchemaNode, type StringRule } from '@dubbo-mesh/schema';
import { DEFAULT_NAMESPACE } from '../defaults.js';
import type { ResourceMeta, StringMatch } from '../types.js';

/** A Kubernetes-style name (RFC 1123 subdomain, as Kubernetes checks a resource's own name). */
export const NAME: StringRule = { pattern: /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, says: 'is not a valid name (lower case letters, digits, - and .)' };

/** Labels: a map of strings. */
export const LABELS: SchemaNode<Record<string, string>> = map(string({ allowEmpty: true }));

/**
 * Fields of Kubernetes' ObjectMeta that a file, a custom resource and a resource on the wire may
 * carry (`kubectl get -o yaml` writes them): accepted as they are, the API server owns them.
 */
const KUBERNETES_METADATA = [
  'labels',
  'annotations',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'generateName',
  'selfLink',
  'managedFields',
  'ownerReferences',
  'finalizers',
] as const;

/** `metadata`: name and namespace checked (namespace defaults), Kubernetes' own fields accepted. */
export const METADATA: SchemaNode<ResourceMeta> = object<{ name: string; namespace: string }>({
  name: { node: string({ rule: NAME }), required: true, fallback: '' },
  namespace: { node: string({ rule: NAME }), default: DEFAULT_NAMESPACE },
  ...Object.fromEntries(KUBERNETES_METADATA.map((field) => [field, { node: anything(), omit: true }])),
});

/** A regular expression, which must compile (beyond OpenAPI: the CRD takes any string). */
const REGEX = string({ allowEmpty: true }).refine((text, context) => {
  try {
    new RegExp(text);
  } catch (error) {
    context.fail(`is not a valid regular expression: ${(error as Error).message}`);
    return undefined;
  }
  return text;
});

/** The fields of a string match. */
export const STRING_MATCH_FIELDS = {
  exact: { node: string({ allowEmpty: true }) },
  prefix: { node: string({ allowEmpty: true }) },
  regex: { node: REGEX },
} as const;

/** `{exact: …} | {prefix: …} | {regex: …}` */
export const STRING_MATCH: SchemaNode<StringMatch> = object<StringMatch>(STRING_MATCH_FIELDS, { exactlyOneOf: ['exact', 'prefix', 'regex'] });
