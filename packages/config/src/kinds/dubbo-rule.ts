import { canonicalRuleKey, ruleDocumentNode, ruleKindDefinitions, ruleResourceName, type RuleDocument } from '@dubbo-mesh/dubbo-rules';
import type { CrossReferenceClaim, KindDefinition, SpecOf } from '../kind-definition.js';
import { API_VERSION, type DubboRuleConfig } from '../types.js';

/** The claim token of a rule's key: one rule document of each kind per key, mesh-wide (as one config-center node). */
export function ruleKeyToken(rule: Pick<RuleDocument, 'kind' | 'key'>): string {
  return `dubbo-rule ${rule.kind} ${rule.key}`;
}

/**
 * DubboRule: one Dubbo governance rule (condition, tag or override), its `spec` the rule
 * document exactly as dubbo-admin writes it. The document is checked by its kind's node in
 * `@dubbo-mesh/dubbo-rules`; the resource carries it as `rule`. A rule applies mesh-wide by its
 * key, whatever the resource's namespace, so each key holds one rule of each kind.
 */
export const dubboRuleKind: KindDefinition<DubboRuleConfig> = {
  kind: 'DubboRule',
  names: { plural: 'dubborules', singular: 'dubborule', shortNames: ['drule'] },
  configKey: 'rules',
  // `spec` is the document; the resource keeps it under `rule` (its own `kind` is the rule's kind).
  spec: ruleDocumentNode.refine((rule): SpecOf<DubboRuleConfig> => ({ rule })),
  printerColumns: [
    { name: 'Key', type: 'string', jsonPath: '.spec.key', description: 'The service key (interface:version:group) or application the rule is for' },
    { name: 'Config-Version', type: 'string', jsonPath: '.spec.configVersion', priority: 1 },
  ],
  claims(resource) {
    const { namespace, name } = resource.metadata;
    const rule = resource.rule;
    const claim: CrossReferenceClaim = {
      path: ['spec', 'key'],
      token: ruleKeyToken(rule),
      owner: `DubboRule ${namespace}/${name}`,
      conflict: (holder) => `a ${rule.kind} rule for ${JSON.stringify(rule.key)} is already given by ${holder} (one rule document per key)`,
    };
    return [claim];
  },
};

/**
 * A rule document written alone (a rule file in a `--config` folder, a config-center node):
 * a YAML document with `configVersion` and no `kind`, as dubbo-admin writes it. Undefined for
 * anything else.
 */
export function isBareRuleDocument(raw: unknown): raw is Record<string, unknown> {
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw) && 'configVersion' in raw && !('kind' in raw);
}

/**
 * A bare rule document as the DubboRule resource it stands for, named after its kind and key
 * (`ruleResourceName`; and its file, when given), in `namespace`: what validation, the
 * snapshot and proxies then see.
 * Field paths of the resource are the document's under `spec`.
 */
export function bareRuleResource(document: Record<string, unknown>, namespace: string, origin?: string): Record<string, unknown> {
  const kind = ruleKindDefinitions().find((definition) => document[definition.field] !== undefined)?.kind ?? 'condition';
  const rawKey = typeof document.key === 'string' ? document.key : '';
  const scope = document.scope === 'application' || kind === 'tag' ? 'application' : 'service';
  const key = canonicalRuleKey(scope, rawKey) ?? rawKey;
  return { apiVersion: API_VERSION, kind: 'DubboRule', metadata: { name: ruleResourceName(kind, key, origin), namespace }, spec: document };
}
