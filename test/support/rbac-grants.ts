// RBAC rules flattened into single grants, so two sets of rules compare as sets whatever way
// they are grouped into rules.
import type { KubeObject } from './manifests.js';

/** A policy rule of a Role or ClusterRole. */
export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs: string[];
  nonResourceURLs?: string[];
}

/** One verb on one resource of one group, for some names or (`*`) any name. */
export interface Grant {
  readonly group: string;
  readonly resource: string;
  readonly verb: string;
  readonly name: string;
}

/** A grant as one comparable string: `verb group/resource[name]` (the core group is written `core`). */
export function grantKey(grant: Grant): string {
  return `${grant.verb} ${grant.group === '' ? 'core' : grant.group}/${grant.resource}[${grant.name}]`;
}

/** Every grant of some rules, as sorted keys, each once; a rule with no resourceNames grants every name (`*`). */
export function grantsOf(rules: readonly PolicyRule[]): string[] {
  const keys = new Set<string>();
  for (const rule of rules) {
    if (rule.nonResourceURLs !== undefined) throw new Error('nonResourceURLs are not expected in these roles');
    for (const group of rule.apiGroups ?? [])
      for (const resource of rule.resources ?? [])
        for (const verb of rule.verbs) for (const name of rule.resourceNames ?? ['*']) keys.add(grantKey({ group, resource, verb, name }));
  }
  return [...keys].sort();
}

/**
 * The grants a service account has through the bindings among `objects`: ClusterRoleBindings
 * (cluster-wide) and RoleBindings (in their namespace) whose subjects name it. Keys are
 * prefixed `cluster: ` or `ns/NAMESPACE: `.
 */
export function serviceAccountGrants(objects: readonly KubeObject[], namespace: string, name: string): string[] {
  const roles = new Map(
    objects.filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole').map((o) => [`${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`, o]),
  );
  const keys: string[] = [];
  for (const binding of objects.filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding')) {
    const subjects = (binding.subjects ?? []) as Array<{ kind: string; name: string; namespace?: string }>;
    if (!subjects.some((s) => s.kind === 'ServiceAccount' && s.name === name && s.namespace === namespace)) continue;
    const ref = binding.roleRef as { kind: string; name: string };
    const roleNamespace = ref.kind === 'Role' ? (binding.metadata.namespace ?? '') : '';
    const role = roles.get(`${ref.kind}/${roleNamespace}/${ref.name}`);
    if (role === undefined) throw new Error(`${binding.kind} ${binding.metadata.name}: ${ref.kind} ${ref.name} is not defined`);
    const scope = binding.kind === 'ClusterRoleBinding' ? 'cluster' : `ns/${binding.metadata.namespace ?? ''}`;
    keys.push(...grantsOf((role.rules ?? []) as PolicyRule[]).map((key) => `${scope}: ${key}`));
  }
  return [...new Set(keys)].sort();
}
