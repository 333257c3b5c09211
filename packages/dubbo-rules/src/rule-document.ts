import { describe, isObject, SchemaNode, type CheckContext, type OpenApiSchema } from '@dubbo-mesh/schema';
import type { RuleHeader } from './rule-header.js';
import type { CompiledRule, RuleKind } from './rule-model.js';

/** A valid rule document of any kind, as its kind's node gives it. */
export interface RuleDocument extends RuleHeader {
  readonly kind: RuleKind;
}

/**
 * One kind of rule, in its own module: the field that marks a document as this kind
 * (`conditions`, `tags`, `configs`), the node that checks a whole document of it, and what
 * compiles a valid one. Registered once; {@link ruleDocumentNode} and {@link compileRule}
 * dispatch through the registry, so a kind is added without editing a switch.
 */
export interface RuleKindDefinition<D extends RuleDocument = RuleDocument> {
  readonly kind: D['kind'];
  /** The body field only a document of this kind has. */
  readonly field: string;
  readonly node: SchemaNode<D>;
  compile(document: D): CompiledRule;
}

const definitions = new Map<RuleKind, RuleKindDefinition>();

/** Make a rule kind known to {@link ruleDocumentNode} and {@link compileRule}. */
export function registerRuleKind<D extends RuleDocument>(definition: RuleKindDefinition<D>): void {
  definitions.set(definition.kind, definition as unknown as RuleKindDefinition);
}

/** Every registered rule kind. */
export function ruleKindDefinitions(): RuleKindDefinition[] {
  return [...definitions.values()];
}

/** The fields that mark each kind, for messages: `conditions (condition), tags (tag), configs (override)`. */
function markers(): string {
  return [...definitions.values()].map((d) => `${d.field} (${d.kind} rule)`).join(', ');
}

class RuleDocumentNode extends SchemaNode<RuleDocument> {
  check(value: unknown, context: CheckContext): RuleDocument | undefined {
    if (!isObject(value)) {
      context.fail(`must be a rule document (an object), got ${describe(value)}`);
      return undefined;
    }
    const present = [...definitions.values()].filter((d) => value[d.field] !== undefined);
    if (present.length !== 1) {
      context.fail(
        present.length === 0
          ? `is no rule: it must have one of ${markers()}`
          : `mixes rule kinds: it has ${present.map((d) => d.field).join(' and ')}, a document holds one rule (${markers()})`,
      );
      return undefined;
    }
    return present[0]!.node.check(value, context);
  }

  toOpenApi(): OpenApiSchema {
    // Each kind's own fields are checked by its node; a structural schema cannot say "one of
    // three object shapes" with types, so the CRD keeps the document and types the header's
    // strings only (flags such as `enabled` may be the text "true", as a config center holds them).
    return {
      type: 'object',
      'x-kubernetes-preserve-unknown-fields': true,
      required: ['configVersion', 'key'],
      properties: {
        configVersion: { type: 'string' },
        scope: { type: 'string', enum: ['service', 'application'] },
        key: { type: 'string', minLength: 1 },
      },
    };
  }
}

/**
 * A whole rule document of any registered kind, as dubbo-admin writes it: its kind is told by
 * its body field, and that kind's node checks it (every error with its field path).
 */
export const ruleDocumentNode: SchemaNode<RuleDocument> = new RuleDocumentNode();

/** Compile a valid rule document (one {@link ruleDocumentNode} gave). */
export function compileRule(document: RuleDocument): CompiledRule {
  const definition = definitions.get(document.kind);
  if (definition === undefined) throw new TypeError(`no rule kind ${JSON.stringify(document.kind)} is registered`);
  return definition.compile(document);
}
