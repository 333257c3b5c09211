/**
 * Registry providers → mesh DubboServices (pure): one DubboService per Dubbo application, one
 * endpoint per provider address, the exact service keys the application registers. What the
 * import source emits; nothing here reads ZooKeeper or the clock.
 */
import { API_VERSION, parseAddress, validateResource, type LocatedResource } from '@dubbo-mesh/config';
import { REGISTRY_LABEL, REGISTRY_LABEL_VALUE } from './dubbo-url.js';
import { warmUpWeight } from './warm-up.js';

/** Which registration a provider was read from: a provider URL, or a Dubbo 3 application instance. */
export type RegistrationMode = 'interface' | 'application';

/** One provider of one service key at one address, as the registry says it (either mode). */
export interface RegistryProvider {
  /** The Dubbo application (the URL's `application`; the `/services/<app>` name); '' when none is named. */
  readonly application: string;
  readonly interface: string;
  /** '' when the provider registers no group (exact: "no group"). */
  readonly group: string;
  /** '' when the provider registers no version. */
  readonly version: string;
  readonly host: string;
  readonly port: number;
  /** The URL's (or the application-level service's) parameters: labels and weight come from them. */
  readonly parameters: Readonly<Record<string, string>>;
  /** The ZooKeeper path it was read from: its providers folder, or its instance node. */
  readonly path: string;
  readonly mode: RegistrationMode;
}

/**
 * URL parameters that describe a process or a registration rather than the provider (they
 * change with every restart, or are Dubbo's own bookkeeping), left out of endpoint labels so
 * that a restart does not make a new resource: the issue-13 contract's list, and what Dubbo
 * 3.2 itself stops registering (research notes §1, §8). `token` is a secret.
 */
export const VOLATILE_PARAMETERS: ReadonlySet<string> = new Set([
  'timestamp',
  'pid',
  'interface',
  'methods',
  'side',
  'dubbo',
  'anyhost',
  'dynamic',
  'generic',
  'deprecated',
  'category',
  'check',
  'register',
  'revision',
  'metadata-type',
  'service-name-mapping',
  'bind.ip',
  'bind.port',
  'threads',
  'threadpool',
  'threadname',
  'corethreads',
  'queues',
  'alive',
  'token',
  'background',
  'file-cache',
  'executor-management-mode',
  'ipv6',
  // Application-level metadata: the registry id of the writer, not the provider's.
  'REGISTRY_CLUSTER',
]);

/** Whether a URL parameter is left out of labels: {@link VOLATILE_PARAMETERS}, `qos.*`, and Dubbo's hidden `.`-keys. */
export function isVolatileParameter(key: string): boolean {
  return VOLATILE_PARAMETERS.has(key) || key.startsWith('qos.') || key.startsWith('.');
}

/** The Kubernetes name of an application's DubboService: lower case, `[^a-z0-9.-]` → `-`, trimmed; '' when nothing is left. */
export function serviceNameOf(application: string): string {
  const name = application
    .toLowerCase()
    .replace(/[^a-z0-9.-]/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '');
  return name.length <= 253 ? name : name.slice(0, 253).replace(/[-.]+$/, '');
}

/** `host:port`, an IPv6 host in brackets (what a DubboService endpoint address is). */
export function providerAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Whether a host and port make an endpoint address the DubboService schema accepts. */
export function isEndpointAddress(host: string, port: number): boolean {
  return host !== '' && parseAddress(providerAddress(host, port)) !== undefined;
}

/** One imported DubboService, before validation. */
export interface ImportedService {
  readonly name: string;
  readonly namespace: string;
  /** The resource as the wire carries it (`apiVersion`, `kind`, `metadata`, `spec`), keys in a fixed order. */
  readonly raw: Readonly<Record<string, unknown>>;
  /** Where it came from: `zookeeper:` and its ZooKeeper paths, `#` and its name (unique per resource). */
  readonly origin: string;
  /** The Dubbo applications it stands for (two names that sanitise alike share one service). */
  readonly applications: readonly string[];
  readonly paths: readonly string[];
}

/** What {@link importedServices} makes. */
export interface ImportedServices {
  /** Sorted by name. */
  readonly services: readonly ImportedService[];
  /** When some warming endpoint's weight next changes (wall clock, ms since the epoch); undefined when every one is warm. */
  readonly nextWarmUpStepAt: number | undefined;
}

/** How {@link importedServices} maps. */
export interface ImportedServicesOptions {
  /** `--registry-namespace`. */
  readonly namespace: string;
  /** Wall clock (ms since the epoch) for warm-up weights. */
  readonly now: number;
}

interface KeyedProvider {
  readonly key: string;
  readonly pattern: { interface: string; group: string; version: string };
  readonly provider: RegistryProvider;
}

const MAX_ORIGIN_PATHS = 3;

function keyOf(provider: RegistryProvider): string {
  return `${provider.interface}\u0000${provider.group}\u0000${provider.version}`;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function timestampOf(provider: RegistryProvider): number {
  const value = Number(provider.parameters.timestamp);
  return Number.isFinite(value) ? value : 0;
}

/**
 * Of two registrations of one key at one address, whether `a` is the one to keep: the URL over
 * the application instance (it has every parameter); the newer export (a restarted provider
 * whose old node has not expired yet); then any fixed order, so the output is order-free.
 */
function preferred(a: RegistryProvider, b: RegistryProvider): boolean {
  if (a.mode !== b.mode) return a.mode === 'interface';
  if (timestampOf(a) !== timestampOf(b)) return timestampOf(a) > timestampOf(b);
  if (a.path !== b.path) return a.path < b.path;
  return JSON.stringify(a.parameters) < JSON.stringify(b.parameters);
}

/** What is derived from one provider alone, computed once per provider object (providers are kept across listings). */
interface ProviderFacts {
  /** The DubboService it belongs to; '' when it cannot be named. */
  readonly name: string;
  readonly address: string;
  readonly key: string;
  /** Its non-volatile parameters (with `application` when only the registration names it). */
  readonly labels: ReadonlyArray<readonly [string, string]>;
}

const facts = new WeakMap<RegistryProvider, ProviderFacts>();
const names = new Map<string, string>();

function memoisedName(text: string): string {
  let name = names.get(text);
  if (name === undefined) {
    // Bounded: application and interface names are few, but a registry is not ours to trust.
    if (names.size > 100_000) names.clear();
    names.set(text, (name = serviceNameOf(text)));
  }
  return name;
}

function factsOf(provider: RegistryProvider): ProviderFacts {
  let known = facts.get(provider);
  if (known === undefined) {
    const labels: Array<[string, string]> = [];
    for (const [key, value] of Object.entries(provider.parameters)) if (!isVolatileParameter(key) && key !== REGISTRY_LABEL) labels.push([key, value]);
    if (provider.application !== '' && provider.parameters.application === undefined) labels.push(['application', provider.application]);
    known = {
      name: memoisedName(provider.application) || memoisedName(provider.interface),
      address: providerAddress(provider.host, provider.port),
      key: keyOf(provider),
      labels,
    };
    facts.set(provider, known);
  }
  return known;
}

/** The DubboService a provider belongs to: its application's, else its interface's; '' when neither makes a name. */
export function serviceNameOfProvider(provider: RegistryProvider): string {
  return factsOf(provider).name;
}

/** Labels of one endpoint: every provider's non-volatile parameters; a key whose values differ between them gets them all, sorted, comma-joined. */
function labelsOf(providers: readonly RegistryProvider[]): Record<string, string> {
  const values = new Map<string, Set<string>>();
  for (const provider of providers)
    for (const [key, value] of factsOf(provider).labels) {
      let set = values.get(key);
      if (set === undefined) values.set(key, (set = new Set()));
      set.add(value);
    }
  const labels: Record<string, string> = {};
  for (const key of [...values.keys(), REGISTRY_LABEL].sort(compare))
    labels[key] = key === REGISTRY_LABEL ? REGISTRY_LABEL_VALUE : [...values.get(key)!].sort(compare).join(',');
  return labels;
}

/** Providers by the DubboService they make ({@link serviceNameOfProvider}); those that make none are left out. */
export function groupByService(providers: Iterable<RegistryProvider>): Map<string, RegistryProvider[]> {
  const groups = new Map<string, RegistryProvider[]>();
  for (const provider of providers) {
    const name = factsOf(provider).name;
    if (name === '') continue;
    let group = groups.get(name);
    if (group === undefined) groups.set(name, (group = []));
    group.push(provider);
  }
  return groups;
}

/**
 * One DubboService from the providers of one name ({@link groupByService}); see
 * {@link importedServices}. `nextWarmUpStepAt`: when one of its endpoints' weight next changes.
 */
export function importedService(
  name: string,
  providers: readonly RegistryProvider[],
  options: ImportedServicesOptions,
): { service: ImportedService; nextWarmUpStepAt: number | undefined } {
  const applications = new Set<string>();
  const paths = new Set<string>();
  // address → key → provider
  const addresses = new Map<string, Map<string, KeyedProvider>>();
  for (const provider of providers) {
    const { address, key } = factsOf(provider);
    applications.add(provider.application || provider.interface);
    paths.add(provider.path);
    let keys = addresses.get(address);
    if (keys === undefined) addresses.set(address, (keys = new Map()));
    const held = keys.get(key);
    if (held !== undefined && !preferred(provider, held.provider)) continue;
    keys.set(key, { key, pattern: { interface: provider.interface, group: provider.group, version: provider.version }, provider });
  }

  let nextWarmUpStepAt: number | undefined;
  const allKeys = new Map<string, KeyedProvider['pattern']>();
  const endpoints: Array<{ address: string; keys: string[]; labels: Record<string, string>; weight: number }> = [];
  for (const address of [...addresses.keys()].sort(compare)) {
    const keyed = [...addresses.get(address)!.values()].sort((a, b) => compare(a.key, b.key));
    for (const { key, pattern } of keyed) allKeys.set(key, pattern);
    let weight = 0;
    for (const { provider } of keyed) {
      const warm = warmUpWeight(provider.parameters, options.now);
      weight = Math.max(weight, warm.weight);
      if (warm.nextStepAt !== undefined && (nextWarmUpStepAt === undefined || warm.nextStepAt < nextWarmUpStepAt)) nextWarmUpStepAt = warm.nextStepAt;
    }
    endpoints.push({ address, keys: keyed.map(({ key }) => key), labels: labelsOf(keyed.map(({ provider }) => provider)), weight });
  }
  const sortedKeys = [...allKeys.keys()].sort(compare);
  const sameKeys = endpoints.every((endpoint) => endpoint.keys.length === sortedKeys.length);
  const pattern = (key: string) => {
    const { interface: iface, group, version } = allKeys.get(key)!;
    return { interface: iface, group, version };
  };
  const sortedPaths = [...paths].sort(compare);
  const shownPaths =
    sortedPaths.slice(0, MAX_ORIGIN_PATHS).join(',') + (sortedPaths.length > MAX_ORIGIN_PATHS ? ` (+${sortedPaths.length - MAX_ORIGIN_PATHS} more)` : '');
  const service: ImportedService = {
    name,
    namespace: options.namespace,
    applications: [...applications].sort(compare),
    paths: sortedPaths,
    origin: `zookeeper:${shownPaths}#${name}`,
    raw: {
      apiVersion: API_VERSION,
      kind: 'DubboService',
      metadata: { name, namespace: options.namespace },
      spec: {
        interfaces: sortedKeys.map(pattern),
        endpoints: endpoints.map((endpoint) => ({
          address: endpoint.address,
          labels: endpoint.labels,
          weight: endpoint.weight,
          ...(sameKeys ? {} : { interfaces: endpoint.keys.map(pattern) }),
        })),
      },
    },
  };
  return { service, nextWarmUpStepAt };
}

/**
 * Map registry providers to DubboServices (the issue-13 contract):
 * - one per application, named {@link serviceNameOf} its `application` (a provider that names
 *   none: after its interface), in `namespace`;
 * - `interfaces`: the exact keys its providers register, `group`/`version` '' when absent;
 * - one endpoint per address; labels: the URL parameters minus {@link VOLATILE_PARAMETERS},
 *   plus `dubbo-mesh.io/registry: zookeeper`; weight: Dubbo's warm-up weight (the largest of
 *   the address's providers, when its services weigh differently);
 * - an endpoint lists its own `interfaces` only when the endpoints do not all provide the
 *   same keys;
 * - a key registered at one address both as a URL and as an application instance (Dubbo 3's
 *   register-mode `all`) counts once, with the URL's parameters.
 * The same providers at the same moment give deep-equal output, whatever their order.
 */
export function importedServices(providers: Iterable<RegistryProvider>, options: ImportedServicesOptions): ImportedServices {
  const groups = groupByService(providers);
  let nextWarmUpStepAt: number | undefined;
  const services: ImportedService[] = [];
  for (const name of [...groups.keys()].sort(compare)) {
    const built = importedService(name, groups.get(name)!, options);
    services.push(built.service);
    if (built.nextWarmUpStepAt !== undefined && (nextWarmUpStepAt === undefined || built.nextWarmUpStepAt < nextWarmUpStepAt))
      nextWarmUpStepAt = built.nextWarmUpStepAt;
  }
  return { services, nextWarmUpStepAt };
}

/**
 * {@link importedServices}, again and again: an application whose providers are the same
 * objects as at the last build (and whose next warm-up step has not come) keeps its
 * ImportedService, so one provider's change rebuilds one application, not ten thousand
 * providers' worth.
 */
export class ImportedServiceBuilder {
  private held = new Map<string, { members: Set<RegistryProvider>; service: ImportedService; nextWarmUpStepAt: number | undefined }>();

  /** What {@link importedServices} gives for these providers, reusing what did not change since the last call. */
  build(providers: Iterable<RegistryProvider>, options: ImportedServicesOptions): ImportedServices {
    const groups = groupByService(providers);
    const next = new Map<string, { members: Set<RegistryProvider>; service: ImportedService; nextWarmUpStepAt: number | undefined }>();
    let nextWarmUpStepAt: number | undefined;
    const services: ImportedService[] = [];
    for (const name of [...groups.keys()].sort(compare)) {
      const group = groups.get(name)!;
      const held = this.held.get(name);
      let entry = held;
      const reusable =
        held !== undefined &&
        held.service.namespace === options.namespace &&
        held.members.size === group.length &&
        group.every((provider) => held.members.has(provider)) &&
        (held.nextWarmUpStepAt === undefined || options.now < held.nextWarmUpStepAt);
      if (!reusable) {
        const built = importedService(name, group, options);
        entry = { members: new Set(group), service: built.service, nextWarmUpStepAt: built.nextWarmUpStepAt };
      }
      next.set(name, entry!);
      services.push(entry!.service);
      if (entry!.nextWarmUpStepAt !== undefined && (nextWarmUpStepAt === undefined || entry!.nextWarmUpStepAt < nextWarmUpStepAt))
        nextWarmUpStepAt = entry!.nextWarmUpStepAt;
    }
    this.held = next;
    return { services, nextWarmUpStepAt };
  }
}

/** A service whose resource failed validation (never expected: reported, not thrown). */
export interface InvalidImportedService {
  readonly name: string;
  readonly origin: string;
  readonly errors: readonly string[];
}

interface CacheEntry {
  /** The ImportedService it was made from: the same object again needs no comparison. */
  readonly service: ImportedService;
  readonly json: string;
  readonly origin: string;
  readonly located: LocatedResource | undefined;
  readonly errors: readonly string[];
}

/**
 * Validated resources by content: an imported service whose resource is what it was keeps its
 * `LocatedResource` and `raw` objects, so the control plane re-encodes nothing and a rebuild
 * that changes nothing publishes nothing.
 */
export class ImportedResourceCache {
  private entries = new Map<string, CacheEntry>();

  /** The located resources of `services` (in their order), and those that failed validation; forgets services not given. */
  resolve(services: readonly ImportedService[]): { resources: LocatedResource[]; invalid: InvalidImportedService[] } {
    const next = new Map<string, CacheEntry>();
    const resources: LocatedResource[] = [];
    const invalid: InvalidImportedService[] = [];
    for (const service of services) {
      const key = `${service.namespace}/${service.name}`;
      const held = this.entries.get(key);
      let entry = held;
      if (held === undefined || held.service !== service) {
        const json = JSON.stringify(service.raw);
        if (held === undefined || held.json !== json) {
          const result = validateResource(service.raw);
          entry = result.valid
            ? {
                service,
                json,
                origin: service.origin,
                located: { resource: result.result, raw: service.raw, origin: service.origin, mergeable: true },
                errors: [],
              }
            : { service, json, origin: service.origin, located: undefined, errors: result.errors };
        } else if (held.origin !== service.origin) {
          // Same content from other paths: the same raw object (nothing to re-encode), the new origin.
          entry = { ...held, service, origin: service.origin, located: held.located === undefined ? undefined : { ...held.located, origin: service.origin } };
        } else entry = { ...held, service };
      }
      next.set(key, entry!);
      if (entry!.located !== undefined) resources.push(entry!.located);
      else invalid.push({ name: service.name, origin: service.origin, errors: entry!.errors });
    }
    this.entries = next;
    return { resources, invalid };
  }
}
