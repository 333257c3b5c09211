import type { KindDefinition } from './kind-definition.js';
import { dubboIngressKind } from './kinds/dubbo-ingress.js';
import { dubboPolicyKind } from './kinds/dubbo-policy.js';
import { dubboRouteKind } from './kinds/dubbo-route.js';
import { dubboPluginKind } from './kinds/dubbo-plugin.js';
import { dubboRuleKind } from './kinds/dubbo-rule.js';
import { dubboServiceKind } from './kinds/dubbo-service.js';
import type { MeshResource } from './types.js';

const registry = new Map<string, KindDefinition>();
/** The names, kept as one array between registrations: validation reads it per resource. */
let names: readonly string[] = [];

/** Make a kind known to validation, cross-reference checks and CRD generation. */
export function registerKind<R extends MeshResource>(definition: KindDefinition<R>): void {
  registry.set(definition.kind, definition as unknown as KindDefinition);
  names = Object.freeze([...registry.keys()]);
}

/** The definition of a kind, or undefined when no such kind is registered. */
export function kindDefinition(kind: string): KindDefinition | undefined {
  return registry.get(kind);
}

/** Every registered kind, in registration order. */
export function kindDefinitions(): KindDefinition[] {
  return [...registry.values()];
}

/** The names of the registered kinds, in registration order. */
export function kindNames(): readonly string[] {
  return names;
}

for (const definition of [dubboServiceKind, dubboRouteKind, dubboPolicyKind, dubboIngressKind, dubboRuleKind, dubboPluginKind] as const)
  registerKind(definition as KindDefinition<MeshResource>);
