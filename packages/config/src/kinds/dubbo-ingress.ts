import { integer, list, object, string } from '@dubbo-mesh/schema';
import type { CrossReferenceClaim, KindDefinition, SpecOf } from '../kind-definition.js';
import type { DubboIngressConfig, IngressRuleConfig } from '../types.js';
import { NAME } from './common-nodes.js';
import { ENDPOINT } from './dubbo-service.js';

/** The claim token of a target application: one per mesh, whatever the namespace. */
export function targetApplicationToken(host: string): string {
  return `target-application ${host}`;
}

const RULE = object<IngressRuleConfig>({
  // Any non-empty name: Dubbo application names are not DNS names (a file may hold `UserApp`).
  host: { node: string(), required: true, fallback: '' },
  service: { node: string({ rule: NAME }), required: true, fallback: '' },
  port: { node: integer(1, 65535) },
  endpoints: { node: list(ENDPOINT), default: [] },
});

/**
 * DubboIngress: calls by target application (the `target-application` attachment), each rule a
 * host and the endpoints behind it. The Kubernetes source makes it from Ingresses of class
 * `dubbo`; files may hold it too (a gateway outside Kubernetes). It has no CRD. A host is a
 * Dubbo application name, global to the mesh: each rule claims its host in every namespace.
 */
export const dubboIngressKind: KindDefinition<DubboIngressConfig> = {
  kind: 'DubboIngress',
  names: { plural: 'dubboingresses', singular: 'dubboingress', shortNames: [] },
  configKey: 'ingresses',
  customResource: false,
  spec: object<SpecOf<DubboIngressConfig>>({
    rules: { node: list(RULE, { minItems: { count: 1, message: 'must have at least one rule' } }), required: true, fallback: [] },
  }),
  claims(ingress) {
    const { namespace, name } = ingress.metadata;
    return ingress.rules.map((rule, i): CrossReferenceClaim => ({
      path: ['spec', 'rules', i, 'host'],
      token: targetApplicationToken(rule.host),
      // One owner per rule: two rules of one resource naming one host conflict too.
      owner: `DubboIngress ${namespace}/${name} (spec.rules[${i}])`,
      conflict: (holder) => `target-application ${JSON.stringify(rule.host)} is already served by ${holder}`,
    }));
  },
};
