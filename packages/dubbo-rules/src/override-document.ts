import { isObject, list, map, object, oneOf, SchemaNode, string, type CheckContext, type OpenApiSchema } from '@dubbo-mesh/schema';
import { addressMatchNode, type AddressMatch } from './address-match.js';
import { paramMatchesNode, type ParamMatch } from './param-match.js';
import { boolean, canonicalHeader, headerFields, type RuleHeader } from './rule-header.js';
import type { OverrideParameters } from './rule-model.js';
import { scalarText, stringMatchNode, type StringMatch } from './string-match.js';

/** The config versions an override rule may have (Dubbo reads `match` only from `v3.0` ones). */
export const OVERRIDE_CONFIG_VERSIONS = ['v2.7', 'v3.0'] as const;

/** Which proxy an override item configures: the consumer's view of providers, or the provider itself. */
export type OverrideSide = 'consumer' | 'provider';

/**
 * Parameters Dubbo removes from an override before applying it (`AbstractConfigurator`'s
 * condition keys): they say where the override applies, they are never set.
 */
export const OVERRIDE_CONDITION_KEYS: readonly string[] = Object.freeze([
  'category',
  'check',
  'dynamic',
  'enabled',
  'group',
  'version',
  'application',
  'side',
  'configVersion',
  'compatible_config',
  'interfaces',
]);

/** Dubbo's `ListStringMatch`: one of the matches holds. */
export interface ListStringMatch {
  readonly oneof: readonly StringMatch[];
}

/**
 * Dubbo's `ConditionMatch` (a `v3.0` item's `match`): every field given must hold. `address` is
 * matched against the consumer's IP (`side: consumer`) or the provider's host (`side: provider`),
 * `providerAddress` against the provider's `ip:port`, `service` against the Dubbo service key
 * (`group/interface:version`), `app` against the application of the side, `param` against the
 * provider's parameters (labels).
 */
export interface OverrideConditionMatch {
  readonly address?: AddressMatch;
  readonly providerAddress?: AddressMatch;
  readonly service?: ListStringMatch;
  readonly app?: ListStringMatch;
  readonly param?: readonly ParamMatch[];
}

/** One item of `configs` (Dubbo's `ConfigItem`). */
export interface OverrideConfigItem {
  /** Absent: Dubbo applies the item on no side. */
  readonly side?: OverrideSide;
  /** `general` (or absent): the document's `enabled` counts; any other type (`weight`, `balancing`, `disabled`): the item's. */
  readonly type?: string;
  readonly enabled?: boolean;
  /** `side: consumer`: consumer IPs; `side: provider`: provider `ip[:port]`s; empty or `0.0.0.0`: any. */
  readonly addresses: readonly string[];
  /** Provider `ip:port`, `ip`, `0.0.0.0`, `0.0.0.0:*`, `0.0.0.0:<port>`; empty: any (for `side: provider`, `addresses`). */
  readonly providerAddresses: readonly string[];
  /** Application scope only: `group/interface:version` or `*`; empty: any. */
  readonly services: readonly string[];
  /** Service scope only: the application of the side (consumer or provider); empty: any. */
  readonly applications: readonly string[];
  /** What the item sets, as Dubbo URL parameters (at least one). */
  readonly parameters: OverrideParameters;
  /** `v3.0` only. */
  readonly match?: OverrideConditionMatch;
}

/** An override rule (`<key>.configurators`), checked. */
export interface OverrideRuleDocument extends RuleHeader {
  readonly kind: 'override';
  readonly configs: readonly OverrideConfigItem[];
}

const LIST_STRING_MATCH = object<ListStringMatch>({ oneof: { node: list(stringMatchNode), required: true } });

const CONDITION_MATCH = object<OverrideConditionMatch>({
  address: { node: addressMatchNode },
  providerAddress: { node: addressMatchNode },
  service: { node: LIST_STRING_MATCH },
  app: { node: LIST_STRING_MATCH },
  param: { node: paramMatchesNode },
});

class ParametersNode extends SchemaNode<OverrideParameters> {
  private readonly inner = map(scalarText());

  check(value: unknown, context: CheckContext): OverrideParameters | undefined {
    if (isObject(value) && Object.keys(value).length === 0) {
      // Dubbo: "Invalid configurator rule, please specify at least one parameter you want to change".
      context.fail('must set at least one parameter (timeout, weight, disabled, …)');
      return undefined;
    }
    return this.inner.check(value, context);
  }

  toOpenApi(): OpenApiSchema {
    return this.inner.toOpenApi();
  }
}

const PARAMETERS = new ParametersNode();

const CONFIG_ITEM = object<OverrideConfigItem>({
  side: { node: oneOf<OverrideSide>(['consumer', 'provider']) },
  type: { node: string() },
  enabled: { node: boolean() },
  addresses: { node: list(string()), default: [] },
  providerAddresses: { node: list(string()), default: [] },
  services: { node: list(string()), default: [] },
  applications: { node: list(string()), default: [] },
  parameters: { node: PARAMETERS, required: true },
  match: { node: CONDITION_MATCH },
});

/**
 * A whole override rule document as dubbo-admin writes it: the header (`configVersion` v2.7 or
 * v3.0, absent meaning v2.7; `scope` service or application; `key`; `enabled`) and `configs`.
 * Every error with its field path (`configs[0].parameters: must set at least one parameter …`);
 * what Dubbo reads but ignores is a warning at its path.
 */
export const overrideRuleNode: SchemaNode<OverrideRuleDocument> = object<Omit<OverrideRuleDocument, 'kind'>>({
  ...headerFields(OVERRIDE_CONFIG_VERSIONS, true),
  // Dubbo's ConfigParser takes a rule with no configVersion as one of 2.7.
  configVersion: { node: oneOf(OVERRIDE_CONFIG_VERSIONS), default: 'v2.7' },
  configs: { node: list(CONFIG_ITEM), required: true, fallback: [] },
}).refine((document, context): OverrideRuleDocument | undefined => {
  const v3 = document.configVersion === 'v3.0';
  document.configs.forEach((item, index) => {
    const at = ['configs', index] as const;
    if (item.side === undefined) context.warn('has no side: Dubbo applies such an item nowhere (side: consumer or provider)', ...at);
    if (item.enabled !== undefined && (item.type === undefined || item.type === 'general')) {
      context.warn(`ignored: Dubbo reads an item's enabled only when its type is not general (the document's enabled counts)`, ...at, 'enabled');
    }
    if (document.scope === 'service' && item.services.length > 0)
      context.warn('ignored: read only in application scope (the key names the service)', ...at, 'services');
    if (document.scope === 'application' && item.applications.length > 0)
      context.warn('ignored: read only in service scope (the key names the application)', ...at, 'applications');
    if (!v3 && item.match !== undefined) context.warn('ignored: match is read only by configVersion v3.0 rules', ...at, 'match');
    for (const key of Object.keys(item.parameters)) {
      if (OVERRIDE_CONDITION_KEYS.includes(key)) context.warn('ignored: Dubbo removes this parameter before applying an override', ...at, 'parameters', key);
    }
  });
  // An absent or empty key was reported at `key` already (the header's fallback is '').
  if (document.key === '') return undefined;
  return canonicalHeader({ ...document, kind: 'override' as const }, context);
});
