import type { CheckContext } from './check-context.js';
import type { OpenApiSchema } from './open-api.js';

/**
 * One node of a schema: it checks a raw value (recording every issue in the context with its
 * field path, and giving the normalised value, or undefined when the value is unusable) and
 * emits its Kubernetes structural OpenAPI v3 schema. Both come from the same definition, so a
 * file and a custom resource are held to the same rules.
 */
export abstract class SchemaNode<T> {
  /** Check `value` at `context.path`; undefined when it is unusable (an issue was recorded). */
  abstract check(value: unknown, context: CheckContext): T | undefined;

  /** The OpenAPI v3 schema of this node, structural as Kubernetes requires. */
  abstract toOpenApi(): OpenApiSchema;

  /**
   * A rule the schema cannot express (a regex that compiles, weights not all 0) or a
   * normalisation (an address split into host and port): `fn` runs on a value that passed
   * this node and gives the final value, or undefined after recording an issue.
   */
  refine<U>(fn: (value: T, context: CheckContext) => U | undefined): SchemaNode<U> {
    return new RefinedNode(this, fn);
  }
}

class RefinedNode<T, U> extends SchemaNode<U> {
  constructor(
    private readonly inner: SchemaNode<T>,
    private readonly fn: (value: T, context: CheckContext) => U | undefined,
  ) {
    super();
  }

  check(value: unknown, context: CheckContext): U | undefined {
    const checked = this.inner.check(value, context);
    return checked === undefined ? undefined : this.fn(checked, context);
  }

  toOpenApi(): OpenApiSchema {
    // What the refinement adds is beyond OpenAPI: the CRD accepts more, the file validation stays the authority.
    return this.inner.toOpenApi();
  }
}
