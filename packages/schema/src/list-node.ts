import { describe, type CheckContext } from './check-context.js';
import type { OpenApiSchema } from './open-api.js';
import { SchemaNode } from './schema-node.js';

/** Options of {@link list}. */
export interface ListOptions<T> {
  /** At least this many items, with this message (`must have at least one route`). */
  readonly minItems?: { readonly count: number; readonly message: string };
  /**
   * Items are named by this (required, string) field, and a name may appear once: a duplicate is
   * an error at its name field. In the CRD the list is `x-kubernetes-list-type: map` keyed by it.
   */
  readonly uniqueBy?: { readonly field: keyof T & string; readonly message: (name: string) => string };
}

class ListNode<T> extends SchemaNode<T[]> {
  constructor(
    private readonly item: SchemaNode<T>,
    private readonly options: ListOptions<T>,
  ) {
    super();
  }

  check(value: unknown, context: CheckContext): T[] | undefined {
    if (!Array.isArray(value)) {
      context.fail(`must be a list, got ${describe(value)}`);
      return undefined;
    }
    const { minItems, uniqueBy } = this.options;
    if (minItems !== undefined && value.length < minItems.count) context.fail(minItems.message);
    const out: T[] = [];
    const seen = uniqueBy === undefined ? undefined : new Set<unknown>();
    const path = context.path;
    for (let i = 0; i < value.length; i++) {
      path.push(i);
      const checked = this.item.check(value[i], context);
      if (checked !== undefined) {
        if (seen !== undefined) {
          const name = (checked as T)[uniqueBy!.field];
          if (seen.has(name)) context.fail(uniqueBy!.message(String(name)), uniqueBy!.field);
          seen.add(name);
        }
        out.push(checked);
      }
      path.pop();
    }
    return out;
  }

  toOpenApi(): OpenApiSchema {
    const schema: OpenApiSchema = { type: 'array', items: this.item.toOpenApi() };
    if (this.options.minItems !== undefined) schema.minItems = this.options.minItems.count;
    if (this.options.uniqueBy !== undefined) {
      schema['x-kubernetes-list-type'] = 'map';
      schema['x-kubernetes-list-map-keys'] = [this.options.uniqueBy.field];
    }
    return schema;
  }
}

/** A list of items; an item that fails its check is left out of the value (its issues stay). */
export function list<T>(item: SchemaNode<T>, options: ListOptions<T> = {}): SchemaNode<T[]> {
  return new ListNode(item, options);
}
