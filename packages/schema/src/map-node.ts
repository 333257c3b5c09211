import { describe, isObject, type CheckContext } from './check-context.js';
import type { OpenApiSchema } from './open-api.js';
import { SchemaNode } from './schema-node.js';

class MapNode<T> extends SchemaNode<Record<string, T>> {
  constructor(private readonly value: SchemaNode<T>) {
    super();
  }

  check(value: unknown, context: CheckContext): Record<string, T> | undefined {
    if (!isObject(value)) {
      context.fail(`must be an object, got ${describe(value)}`);
      return undefined;
    }
    const out: Record<string, T> = {};
    const path = context.path;
    for (const key of Object.keys(value)) {
      path.push(key);
      const checked = this.value.check(value[key], context);
      path.pop();
      if (checked !== undefined) out[key] = checked;
    }
    return out;
  }

  toOpenApi(): OpenApiSchema {
    return { type: 'object', additionalProperties: this.value.toOpenApi() };
  }
}

/** An object of any keys whose values all follow one schema (labels, attachments). */
export function map<T>(value: SchemaNode<T>): SchemaNode<Record<string, T>> {
  return new MapNode(value);
}
