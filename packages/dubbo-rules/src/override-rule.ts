import { compileAddressMatch, type AddressMatcher } from './address-match.js';
import { OVERRIDE_CONDITION_KEYS, overrideRuleNode, type OverrideConfigItem, type OverrideRuleDocument, type OverrideSide } from './override-document.js';
import { compileParamMatches, type ParamMatcher, type ParameterLookup } from './param-match.js';
import { registerRuleKind } from './rule-document.js';
import { parseServiceRuleKey } from './rule-key.js';
import type { OverrideConsumer, OverrideParameters, OverrideRule, OverrideService, RuleEndpoint } from './rule-model.js';
import { compileStringMatch, type StringMatcher } from './string-match.js';

const ANY_HOST = '0.0.0.0';
const ANY = '*';

/**
 * A service as Dubbo keys it (`URL.getServiceKey`): `group/interface:version`, the group and
 * version only when not empty.
 */
export function dubboServiceKey(service: OverrideService): string {
  return `${service.group === '' ? '' : `${service.group}/`}${service.interface}${service.version === '' ? '' : `:${service.version}`}`;
}

/** A service as an override names it, read as Dubbo's `ConfigParser.appendService`: `group/interface:version`, `*`. */
function serviceOfText(text: string): OverrideService {
  let rest = text;
  let group = '';
  let version = '';
  const slash = rest.indexOf('/');
  if (slash > 0) {
    group = rest.slice(0, slash);
    rest = rest.slice(slash + 1);
  }
  const colon = rest.indexOf(':');
  if (colon > 0) {
    version = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  return { interface: rest, group, version };
}

/**
 * The service a service-scope rule's key names. The canonical key is `interface:version:group`;
 * Dubbo itself reads the key as `group/interface:version` (its tests write `testgroup/servicekey:1.0.0`),
 * which canonicalizes to `group/interface:version:`: both are read here.
 */
function serviceOfKey(key: string): OverrideService {
  const parsed = parseServiceRuleKey(key);
  if (parsed === undefined) return serviceOfText(key);
  const slash = parsed.interface.indexOf('/');
  if (slash > 0 && parsed.group === '')
    return { interface: parsed.interface.slice(slash + 1), group: parsed.interface.slice(0, slash), version: parsed.version };
  return parsed;
}

/** The host of an override address (`10.0.0.1:20880` → `10.0.0.1`, `[fe80::1]:1` → `fe80::1`), as Dubbo's override URL reads it. */
function hostOf(address: string): string {
  if (address.startsWith('[')) {
    const end = address.indexOf(']');
    return end > 0 ? address.slice(1, end) : address;
  }
  const colon = address.indexOf(':');
  return colon >= 0 && colon === address.lastIndexOf(':') ? address.slice(0, colon) : address;
}

/** Compiled `ConditionMatch`. */
interface CompiledMatch {
  readonly address: AddressMatcher | undefined;
  readonly providerAddress: AddressMatcher | undefined;
  readonly service: readonly StringMatcher[] | undefined;
  readonly app: readonly StringMatcher[] | undefined;
  readonly param: ParamMatcher | undefined;
}

/** One override URL Dubbo's ConfigParser makes of an item: per address, and per application or service. */
interface Entry {
  /** `configs[0] (address 0.0.0.0, application shop-web)`. */
  readonly label: string;
  readonly side: OverrideSide | undefined;
  readonly enabled: boolean;
  readonly host: string;
  /** The application it is limited to (`*` or undefined: any). */
  readonly application: string | undefined;
  /** The Dubbo service key it is limited to, or `*`. */
  readonly serviceKey: string;
  readonly providerAddresses: readonly string[];
  readonly priority: number;
  /** v2.7 only: `~key` parameters, conditions on the URL's `key`. */
  readonly tildeConditions: ReadonlyArray<readonly [string, string]>;
  readonly match: CompiledMatch | undefined;
  readonly parameters: OverrideParameters;
}

function compileMatch(item: OverrideConfigItem): CompiledMatch | undefined {
  const match = item.match;
  if (match === undefined) return undefined;
  return {
    address: match.address === undefined ? undefined : compileAddressMatch(match.address),
    providerAddress: match.providerAddress === undefined ? undefined : compileAddressMatch(match.providerAddress),
    service: match.service?.oneof.map(compileStringMatch),
    app: match.app?.oneof.map(compileStringMatch),
    param: match.param === undefined ? undefined : compileParamMatches(match.param),
  };
}

/** The URL parameters an override condition reads, for one side, service and provider. */
function urlParameters(side: OverrideSide, consumer: OverrideConsumer, service: OverrideService, endpoint: RuleEndpoint): ParameterLookup {
  return (key) => {
    switch (key) {
      case 'application':
        return side === 'consumer' ? consumer.application : endpoint.application;
      case 'side':
        return side;
      case 'interface':
        return service.interface;
      case 'group':
        return service.group === '' ? undefined : service.group;
      case 'version':
        return service.version === '' ? undefined : service.version;
      default:
        return Object.hasOwn(endpoint.labels, key) ? endpoint.labels[key] : undefined;
    }
  };
}

/**
 * A compiled override rule: Dubbo 3.3's configurators (ConfigParser → OverrideConfigurator).
 *
 * Each item becomes one entry per address (none: `0.0.0.0`), and in service scope per
 * application (none: any), in application scope per service (none: `*`); entries are applied
 * in Dubbo's order (by address, so `0.0.0.0` before a specific host, then by the `priority`
 * parameter, then as written), a later one over an earlier one. An entry applies to the
 * `side` it names when (AbstractConfigurator):
 * - its address is `0.0.0.0` or the host of that side (the consumer's IP; the provider's host)
 *   — the port of an address is not compared;
 * - `providerAddresses` (for `side: provider` when absent: the addresses) holds the provider's
 *   `ip:port`, its IP, `0.0.0.0`, `0.0.0.0:*` or `0.0.0.0:<its port>`;
 * - its application (service scope: from `applications`; application scope: the key) is `*` or
 *   the application of the side (the consumer's application; the provider's);
 * - its service (service scope: the key; application scope: from `services`) is `*` or the service;
 * - v3.0: `match` holds; v2.7: each `~key` parameter is `*` or the URL's `key`.
 * The parameters it sets are the item's, less {@link OVERRIDE_CONDITION_KEYS} (and `~key`s in v2.7).
 *
 * Enabled: an item with no `type` or `type: general` follows the document's `enabled` (its own
 * `enabled` is ignored, as in Dubbo); an item of another type follows its own (absent: off).
 */
class CompiledOverrideRule implements OverrideRule {
  readonly kind = 'override' as const;
  private readonly entries: readonly Entry[];

  constructor(document: OverrideRuleDocument) {
    const v3 = document.configVersion === 'v3.0';
    const keyService = document.scope === 'service' ? dubboServiceKey(serviceOfKey(document.key)) : undefined;
    const entries: Entry[] = [];
    document.configs.forEach((item, index) => {
      const enabled = item.type === undefined || item.type === 'general' ? document.enabled : item.enabled === true;
      const parameters: Record<string, string> = {};
      const tildeConditions: Array<readonly [string, string]> = [];
      for (const [key, value] of Object.entries(item.parameters)) {
        if (!v3 && key.startsWith('~')) tildeConditions.push([key.slice(1), value]);
        else if (!OVERRIDE_CONDITION_KEYS.includes(key)) parameters[key] = value;
      }
      const priority = Number.parseInt(item.parameters.priority ?? '0', 10);
      const addresses = item.addresses.length > 0 ? item.addresses : [ANY_HOST];
      const providerAddresses = item.providerAddresses.length > 0 ? item.providerAddresses : item.side === 'provider' ? addresses : [];
      const match = v3 ? compileMatch(item) : undefined;
      const frozen = Object.freeze(parameters);
      // Service scope: one URL per application; application scope: one per service.
      const scoped: Array<{ application: string | undefined; serviceKey: string; label: string }> =
        document.scope === 'service'
          ? (item.applications.length > 0 ? item.applications : [undefined]).map((application) => ({
              application,
              serviceKey: keyService!,
              label: application === undefined ? '' : `, application ${application}`,
            }))
          : (item.services.length > 0 ? item.services : [ANY]).map((text) => ({
              application: document.key,
              serviceKey: text === ANY ? ANY : dubboServiceKey(serviceOfText(text)),
              label: text === ANY ? '' : `, service ${text}`,
            }));
      for (const address of addresses) {
        for (const scope of scoped) {
          entries.push({
            label: `configs[${index}] (address ${address}${scope.label})`,
            side: item.side,
            enabled,
            host: hostOf(address),
            application: scope.application,
            serviceKey: scope.serviceKey,
            providerAddresses,
            priority: Number.isNaN(priority) ? 0 : priority,
            tildeConditions,
            match,
            parameters: frozen,
          });
        }
      }
    });
    // Configurator.compareTo: by host (as text), then priority; the sort is stable.
    this.entries = entries
      .map((entry, order) => ({ entry, order }))
      .sort((a, b) => (a.entry.host < b.entry.host ? -1 : a.entry.host > b.entry.host ? 1 : a.entry.priority - b.entry.priority || a.order - b.order))
      .map(({ entry }) => entry);
  }

  parametersFor(side: OverrideSide, consumer: OverrideConsumer, service: OverrideService, endpoint: RuleEndpoint): OverrideParameters | undefined {
    let out: Record<string, string> | undefined;
    let only: OverrideParameters | undefined;
    for (const entry of this.entries) {
      if (this.whyNot(entry, side, consumer, service, endpoint) !== undefined) continue;
      if (out === undefined && only === undefined) {
        only = entry.parameters;
        continue;
      }
      out ??= { ...only };
      Object.assign(out, entry.parameters);
    }
    return out === undefined ? only : Object.freeze(out);
  }

  explainFor(side: OverrideSide, consumer: OverrideConsumer, service: OverrideService, endpoint: RuleEndpoint): readonly string[] {
    return this.entries.map((entry) => {
      const why = this.whyNot(entry, side, consumer, service, endpoint);
      if (why !== undefined) return `${entry.label}: not applied: ${why}`;
      const set = Object.entries(entry.parameters)
        .map(([key, value]) => `${key}=${value}`)
        .join(', ');
      return `${entry.label}: applied: sets ${set === '' ? 'nothing (only condition keys)' : set}`;
    });
  }

  /** Why an entry does not apply; undefined when it does. */
  private whyNot(entry: Entry, side: OverrideSide, consumer: OverrideConsumer, service: OverrideService, endpoint: RuleEndpoint): string | undefined {
    if (!entry.enabled) return 'disabled';
    if (entry.side !== side) return entry.side === undefined ? 'it names no side' : `it is for side ${entry.side}`;
    const host = side === 'consumer' ? consumer.host : endpoint.host;
    if (entry.host !== ANY_HOST && entry.host !== host) return `the ${side} host ${host} is not ${entry.host}`;
    if (entry.providerAddresses.length > 0) {
      const anyPort = `${ANY_HOST}:${endpoint.port}`;
      const held = entry.providerAddresses.some(
        (address) => address === endpoint.address || address === ANY_HOST || address === `${ANY_HOST}:*` || address === anyPort || address === endpoint.host,
      );
      if (!held) return `the provider ${endpoint.address} is not one of providerAddresses ${entry.providerAddresses.join(', ')}`;
    }
    const application = side === 'consumer' ? consumer.application : endpoint.application;
    if (entry.application !== undefined && entry.application !== ANY && entry.application !== application) {
      return `the ${side} application ${application === undefined ? '(unknown)' : JSON.stringify(application)} is not ${JSON.stringify(entry.application)}`;
    }
    const serviceKey = dubboServiceKey(service);
    if (entry.serviceKey !== ANY && entry.serviceKey !== serviceKey) return `the service ${serviceKey} is not ${entry.serviceKey}`;
    const parameters = urlParameters(side, consumer, service, endpoint);
    for (const [key, value] of entry.tildeConditions) {
      if (value !== ANY && value !== parameters(key)) return `~${key}: ${key} is not ${JSON.stringify(value)}`;
    }
    const match = entry.match;
    if (match !== undefined) {
      if (match.address !== undefined && !match.address(host)) return `match.address does not hold for ${host}`;
      if (match.providerAddress !== undefined && !match.providerAddress(endpoint.address)) return `match.providerAddress does not hold for ${endpoint.address}`;
      if (match.service !== undefined && !match.service.some((test) => test(serviceKey))) return `match.service does not hold for ${serviceKey}`;
      if (match.app !== undefined && !match.app.some((test) => test(application)))
        return `match.app does not hold for ${application === undefined ? '(unknown)' : application}`;
      const mismatch = match.param?.firstMismatch(parameters);
      if (mismatch !== undefined) return `match.param: ${mismatch}`;
    }
    return undefined;
  }
}

/** Compile a valid override rule (one {@link overrideRuleNode} gave) into Dubbo 3.3's configurators. */
export function compileOverrideRule(document: OverrideRuleDocument): OverrideRule {
  return new CompiledOverrideRule(document);
}

registerRuleKind<OverrideRuleDocument>({ kind: 'override', field: 'configs', node: overrideRuleNode, compile: compileOverrideRule });
