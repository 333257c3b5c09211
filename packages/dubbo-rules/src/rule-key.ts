import type { RuleKind, RuleScope } from './rule-model.js';

/** A service a service-scope rule names: `interface:version:group`, empty parts kept. */
export interface ServiceRuleKey {
  readonly interface: string;
  readonly version: string;
  readonly group: string;
}

/** The suffix of each kind's node in Dubbo's config center (`<key>.condition-router`). */
export const CONFIG_CENTER_SUFFIXES: Readonly<Record<RuleKind, string>> = Object.freeze({
  condition: '.condition-router',
  tag: '.tag-router',
  override: '.configurators',
});

/**
 * A service key as Dubbo's config center writes it (`URL.getColonSeparatedKey`):
 * `interface:version:group`, empty parts kept (`com.Foo::`, `com.Foo:1.0.0:`).
 */
export function formatServiceRuleKey(key: ServiceRuleKey): string {
  return `${key.interface}:${key.version}:${key.group}`;
}

/**
 * Read a service-scope key: `interface`, `interface:version` or `interface:version:group`
 * (dubbo-admin writes each), or Dubbo's service-key form `group/interface:version` (its
 * override tests write that); undefined when it has more parts or no interface.
 */
export function parseServiceRuleKey(text: string): ServiceRuleKey | undefined {
  const slash = text.indexOf('/');
  if (slash >= 0) {
    const group = text.slice(0, slash);
    const rest = text.slice(slash + 1);
    const colon = rest.indexOf(':');
    const iface = colon < 0 ? rest : rest.slice(0, colon);
    const version = colon < 0 ? '' : rest.slice(colon + 1);
    if (group === '' || iface === '' || /[\s/:]/.test(group + iface + version)) return undefined;
    return Object.freeze({ interface: iface, version, group });
  }
  const parts = text.split(':');
  if (parts.length > 3 || parts[0] === '' || parts.some((part) => /\s/.test(part))) return undefined;
  return Object.freeze({ interface: parts[0]!, version: parts[1] ?? '', group: parts[2] ?? '' });
}

/**
 * The key a rule is stored and looked up under: for `service` scope the canonical
 * `interface:version:group`, for `application` scope the application name.
 */
export function canonicalRuleKey(scope: RuleScope, key: string): string | undefined {
  if (scope === 'application') return key === '' || /[\s:]/.test(key) ? undefined : key;
  const service = parseServiceRuleKey(key);
  return service === undefined ? undefined : formatServiceRuleKey(service);
}

/** A config-center node name read as a rule's kind, scope and canonical key. */
export interface ConfigCenterRuleName {
  readonly kind: RuleKind;
  readonly scope: RuleScope;
  readonly key: string;
}

/**
 * What a config-center node name holds (`com.Foo:1.0.0:.condition-router`,
 * `user-app.tag-router`, `user-app.configurators`); undefined for a node that holds no rule
 * (other suffixes, an empty key). A key with a `:` is a service key, any other an application:
 * Dubbo names service rules `interface:version:group`, so even `com.Foo` alone is `com.Foo::`.
 * Tag rules are always keyed by the provider application.
 */
export function parseConfigCenterName(name: string): ConfigCenterRuleName | undefined {
  for (const kind of Object.keys(CONFIG_CENTER_SUFFIXES) as RuleKind[]) {
    const suffix = CONFIG_CENTER_SUFFIXES[kind];
    if (!name.endsWith(suffix)) continue;
    const raw = name.slice(0, -suffix.length);
    const scope: RuleScope = kind !== 'tag' && raw.includes(':') ? 'service' : 'application';
    const key = canonicalRuleKey(scope, raw);
    return key === undefined ? undefined : Object.freeze({ kind, scope, key });
  }
  return undefined;
}

/** The config-center node name of a rule (`com.Foo:1.0.0:.condition-router`). */
export function configCenterName(kind: RuleKind, key: string): string {
  return `${key}${CONFIG_CENTER_SUFFIXES[kind]}`;
}

/** FNV-1a, 32 bits, as 8 hex digits: enough to keep two keys that read alike apart. */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(16).padStart(8, '0');
}

/**
 * A resource name for a rule that has none of its own (a config-center node, a rule file):
 * `condition-com.foo-1.0.0-<hash>`, a valid Kubernetes name whatever the key holds (`:` and
 * capitals are not), the same for the same kind and key, different for different keys. With
 * `origin` (a rule file) the name is also that file's: two files holding a rule for one key
 * make two resources, and the one-rule-per-key check names both.
 */
export function ruleResourceName(kind: RuleKind, key: string, origin = ''): string {
  const readable = key
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '')
    .slice(0, 200);
  return `${kind}-${readable === '' ? 'rule' : readable}-${fnv1a(origin === '' ? `${kind} ${key}` : `${kind} ${key} ${origin}`)}`.replace(
    /[-.]{2,}/g,
    (run) => run[0]!,
  );
}
