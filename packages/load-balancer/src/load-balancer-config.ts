import { SchemaNode, describe, isObject, type CheckContext, type OpenApiSchema } from '@dubbo-mesh/schema';
import type { LoadBalancerFactory } from './picker.js';

/** A checked `loadBalancer`: the policy and the fields its algorithm reads (with their defaults). */
export interface CheckedLoadBalancerConfig {
  readonly policy: string;
  readonly [field: string]: unknown;
}

/**
 * The schema of a policy's `loadBalancer` over the algorithms registered when it checks: `policy`
 * names one of them, and every other field belongs to one or more of them, checked by the
 * schema that algorithm registered. A field of another algorithm is an error
 * (`is only for policy consistent-hash`).
 */
export class LoadBalancerConfigNode extends SchemaNode<CheckedLoadBalancerConfig> {
  /** What {@link owners} found for the registry as it was last seen (it changes only on registration). */
  private seen: { factories: readonly LoadBalancerFactory[]; owners: Map<string, string[]>; expected: string } | undefined;

  /**
   * `factories` gives the registered load balancers; it must return the same array until one
   * is registered, so what is derived from it is computed once per registration, not per check.
   */
  constructor(
    private readonly factories: () => readonly LoadBalancerFactory[],
    private readonly defaultPolicy: string,
  ) {
    super();
  }

  private registered(): { factories: readonly LoadBalancerFactory[]; owners: Map<string, string[]>; expected: string } {
    const factories = this.factories();
    if (this.seen?.factories !== factories) {
      const owners = this.owners(factories);
      this.seen = { factories, owners, expected: ['policy', ...owners.keys()].join(', ') };
    }
    return this.seen;
  }

  /** Every field name and the algorithms that own it, in registration order. */
  private owners(factories: readonly LoadBalancerFactory[]): Map<string, string[]> {
    const owners = new Map<string, string[]>();
    for (const factory of factories) {
      for (const field of Object.keys(factory.config?.fields ?? {})) {
        let names = owners.get(field);
        if (names === undefined) owners.set(field, (names = []));
        names.push(factory.name);
      }
    }
    return owners;
  }

  check(value: unknown, context: CheckContext): CheckedLoadBalancerConfig | undefined {
    if (!isObject(value)) {
      context.fail(`must be an object, got ${describe(value)}`);
      return undefined;
    }
    const { factories, owners, expected } = this.registered();
    for (const key of Object.keys(value)) {
      if (key === 'policy' || owners.has(key)) continue;
      if (context.unknownFields === 'warn') context.warn(`unknown field, ignored (expected one of: ${expected})`, key);
      else context.fail(`unknown field (expected one of: ${expected})`, key);
    }
    const policy = value.policy === undefined ? this.defaultPolicy : value.policy;
    const factory = factories.find((candidate) => candidate.name === policy);
    if (factory === undefined) {
      context.fail(`must be one of ${factories.map((f) => f.name).join(', ')}, got ${describe(policy)}`, 'policy');
      return undefined;
    }
    const out: Record<string, unknown> = { policy: factory.name };
    if (owners.size > 0) {
      for (const [field, names] of owners) {
        if (value[field] !== undefined && !names.includes(factory.name)) context.fail(`is only for policy ${names.join(' or ')}`, field);
      }
    }
    const path = context.path;
    const fields = factory.config?.fields;
    if (fields === undefined) return out as CheckedLoadBalancerConfig;
    for (const field in fields) {
      const spec = fields[field]!;
      let checked: unknown;
      if (value[field] !== undefined) {
        path.push(field);
        checked = spec.node.check(value[field], context);
        path.pop();
      }
      checked ??= spec.default;
      if (checked !== undefined) out[spec.as ?? field] = checked;
    }
    return out as CheckedLoadBalancerConfig;
  }

  toOpenApi(): OpenApiSchema {
    const { factories, owners } = this.registered();
    const properties: Record<string, OpenApiSchema> = { policy: { type: 'string', enum: factories.map((f) => f.name) } };
    const rules: Array<{ rule: string; message: string }> = [];
    for (const [field, names] of owners) {
      const factory = factories.find((f) => f.name === names[0])!;
      properties[field] = factory.config!.fields[field]!.node.toOpenApi();
      // The one rule here OpenAPI cannot say: a field goes with its algorithm.
      const allowed = names.map((name) => `'${name}'`).join(', ');
      const policy = names.includes(this.defaultPolicy)
        ? `(!has(self.policy) || self.policy in [${allowed}])`
        : `(has(self.policy) && self.policy in [${allowed}])`;
      rules.push({ rule: `!has(self.${field}) || ${policy}`, message: `${field} is only for policy ${names.join(' or ')}` });
    }
    const schema: OpenApiSchema = { type: 'object', properties };
    if (rules.length > 0) schema['x-kubernetes-validations'] = rules;
    return schema;
  }
}
