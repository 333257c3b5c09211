import { describe, integer, oneOf, SchemaNode, string, type CheckContext, type FieldSpec, type OpenApiSchema } from '@dubbo-mesh/schema';
import { canonicalRuleKey } from './rule-key.js';
import type { RuleScope } from './rule-model.js';

/** The fields every Dubbo rule document has (Dubbo's `AbstractRouterRule` and `ConfiguratorConfig`). */
export interface RuleHeader {
  /** `v2.7`, `v3.0`, `v3.1` (condition rules only). */
  readonly configVersion: string;
  readonly scope: RuleScope;
  /** Canonical: `interface:version:group` for service scope, the application name otherwise. */
  readonly key: string;
  /** Default true. `false`: the rule does nothing. */
  readonly enabled: boolean;
  /** Default false: when nothing is left, the rule is ignored for the call; `true`: no provider. */
  readonly force: boolean;
  /** Dubbo's `runtime` (re-evaluate per call); accepted and kept, every call is evaluated here. Default true. */
  readonly runtime: boolean;
  /** Dubbo's `priority`; accepted and kept (one rule per key, nothing to order). Default 0. */
  readonly priority: number;
}

class BooleanNode extends SchemaNode<boolean> {
  check(value: unknown, context: CheckContext): boolean | undefined {
    // Dubbo reads these with Boolean.parseBoolean on text too: a config center may hold "true".
    if (typeof value === 'boolean') return value;
    if (value === 'true' || value === 'false') return value === 'true';
    context.fail(`must be true or false, got ${describe(value)}`);
    return undefined;
  }

  toOpenApi(): OpenApiSchema {
    return { type: 'boolean' };
  }
}

/** `true` or `false` (also given as the text `"true"` / `"false"`, as a config center may hold them). */
export function boolean(): SchemaNode<boolean> {
  return new BooleanNode();
}

/** `service` or `application`. */
export const SCOPE: SchemaNode<RuleScope> = oneOf<RuleScope>(['service', 'application']);

/**
 * The header fields, to spread into a kind's document node. `configVersions` are those the
 * kind accepts; `scopeRequired` is false for tag rules (always an application). The key is
 * checked as a string here and made canonical by {@link canonicalHeader} once the scope is known.
 */
export function headerFields(configVersions: readonly string[], scopeRequired: boolean): Record<keyof RuleHeader, FieldSpec> {
  return {
    configVersion: { node: oneOf(configVersions), required: true, fallback: configVersions[0] },
    scope: scopeRequired ? { node: SCOPE, required: true, fallback: 'service' } : { node: SCOPE, default: 'application' },
    key: { node: string(), required: true, fallback: '' },
    enabled: { node: boolean(), default: true },
    force: { node: boolean(), default: false },
    runtime: { node: boolean(), default: true },
    priority: { node: integer(-2147483648, 2147483647), default: 0 },
  };
}

/**
 * The header with its key canonical for its scope (`com.Foo:1.0.0` → `com.Foo:1.0.0:`);
 * records an issue at `key` and gives undefined when the key cannot be one of that scope.
 */
export function canonicalHeader<H extends RuleHeader>(header: H, context: CheckContext): H | undefined {
  // A missing key was already reported ("is required"): once is enough.
  if (header.key === '') return undefined;
  const key = canonicalRuleKey(header.scope, header.key);
  if (key === undefined) {
    context.fail(
      header.scope === 'service'
        ? `${JSON.stringify(header.key)} is not a service key (interface, interface:version or interface:version:group)`
        : `${JSON.stringify(header.key)} is not an application name (no spaces or colons)`,
      'key',
    );
    return undefined;
  }
  return key === header.key ? header : { ...header, key };
}
