import { describe, list, object, oneOf, SchemaNode, string, type CheckContext, type OpenApiSchema } from '@dubbo-mesh/schema';
import { ipExpressionNode } from './address-match.js';
import { paramMatchesNode, type ParamMatch } from './param-match.js';
import { canonicalHeader, headerFields, type RuleHeader } from './rule-header.js';

/** The config versions a tag rule may have (Dubbo reads `match` only from `v3.0` ones). */
export const TAG_CONFIG_VERSIONS = ['v2.7', 'v3.0'] as const;

/**
 * One tag of a tag rule (Dubbo's `Tag`): the endpoints in it are those whose address one of
 * `addresses` matches, or, in a `v3.0` rule for a tag with no addresses, those whose
 * parameters (labels) every `match` holds for.
 */
export interface TagDefinition {
  readonly name: string;
  /** IP expressions (`10.0.0.1`, `10.0.0.1:20880`, `10.0.0.0/8`, `10.0.*.*`, `0.0.0.0:20880`); empty: none. */
  readonly addresses: readonly string[];
  /** Read by `v3.0` rules when `addresses` is empty (Dubbo ignores it otherwise). */
  readonly match?: readonly ParamMatch[];
}

/** A tag rule (`<providerApplication>.tag-router`), checked, its key the provider application. */
export interface TagRuleDocument extends RuleHeader {
  readonly kind: 'tag';
  readonly tags: readonly TagDefinition[];
}

class OrNullNode<T> extends SchemaNode<T> {
  constructor(
    private readonly inner: SchemaNode<T>,
    private readonly whenNull: T | undefined,
  ) {
    super();
  }

  check(value: unknown, context: CheckContext): T | undefined {
    // Dubbo's own rules write `addresses: ~` or `addresses: null` for a tag with none.
    return value === null ? this.whenNull : this.inner.check(value, context);
  }

  toOpenApi(): OpenApiSchema {
    return this.inner.toOpenApi();
  }
}

const TAG = object<TagDefinition>({
  name: { node: string(), required: true },
  addresses: { node: new OrNullNode(list(ipExpressionNode), []), default: [] },
  match: { node: new OrNullNode<ParamMatch[]>(paramMatchesNode, undefined) },
});

const TAGS = list(TAG, {
  minItems: { count: 1, message: 'must have at least one tag (Dubbo takes a tag rule with no tags as invalid)' },
  uniqueBy: { field: 'name', message: (name) => `tag ${JSON.stringify(name)} is defined twice` },
});

/**
 * A whole tag rule document as dubbo-admin writes it: the header (`configVersion` v2.7 or v3.0,
 * absent meaning v2.7 as Dubbo reads an unversioned rule; `key` the provider application;
 * `force`, `enabled`, `runtime`, `priority`) and `tags`. Every error with its field path
 * (`tags[1].addresses[0]: "10.0.0" is not an IP expression (…)`).
 */
export const tagRuleNode: SchemaNode<TagRuleDocument> = object<Omit<TagRuleDocument, 'kind'>>({
  ...headerFields(TAG_CONFIG_VERSIONS, false),
  // Dubbo's own tag rules often have no configVersion (its TagRule.yml): a rule before 3.0.
  configVersion: { node: oneOf(TAG_CONFIG_VERSIONS), default: 'v2.7' },
  tags: { node: TAGS, required: true, fallback: [] },
}).refine((document, context): TagRuleDocument | undefined => {
  let usable = true;
  if (document.scope !== 'application') {
    // Dubbo never reads a tag rule's scope: it is always keyed by the provider application.
    context.warn(`ignored: a tag rule is keyed by the provider application, got ${describe(document.scope)}`, 'scope');
  }
  const v3 = document.configVersion === 'v3.0';
  document.tags.forEach((tag, index) => {
    if (v3 && tag.addresses.length === 0 && tag.match === undefined) {
      // Dubbo 3.0 fails on such a tag (a null match list) and drops the whole rule.
      context.fail('a v3.0 tag needs addresses or match', 'tags', index);
      usable = false;
    }
    if (!v3 && tag.match !== undefined) context.warn('ignored: match is read only by configVersion v3.0 rules', 'tags', index, 'match');
  });
  // An absent or empty key was reported at `key` already (the header's fallback is '').
  if (document.key === '') return undefined;
  const header = canonicalHeader({ ...document, scope: 'application' as const, kind: 'tag' as const }, context);
  return usable ? header : undefined;
});
