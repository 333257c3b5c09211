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

/** Labels of one endpoint: every provider's non-volatile parameters; a key whose values differ between them gets them all, sorted, comma-joined. */
function labelsOf(providers: readonly RegistryProvider[]): Record<string, string> {
  const values = new Map<string, Set<string>>();
  for (const provider of providers) {
    const parameters =
      provider.application !== '' && provider.parameters.application === undefined
        ? { ...provider.parameters, application: provider.application }
        : provider.parameters;
    for (const [key, value] of Object.entries(parameters)) {
      if (isVolatileParameter(key) || key === REGISTRY_LABEL) continue;
      let set = values.get(key);
      if (set === undefined) values.set(key, (set = new Set()));
      set.add(value);
    }
  }
  const labels: Record<string, string> = {};
  for (const key of [...values.keys(), REGISTRY_LABEL].sort(compare))
    labels[key] = key === REGISTRY_LABEL ? REGISTRY_LABEL_VALUE : [...values.get(key)!].sort(compare).join(',');
  return labels;
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
  // name → address → key → provider
  const byName = new Map<string, { applications: Set<string>; paths: Set<string>; addresses: Map<string, Map<string, KeyedProvider>> }>();
  for (const provider of providers) {
    const name = serviceNameOf(provider.application) || serviceNameOf(provider.interface);
    if (name === '') continue;
    let service = byName.get(name);
    if (service === undefined) byName.set(name, (service = { applications: new Set(), paths: new Set(), addresses: new Map() }));
    service.applications.add(provider.application || provider.interface);
    service.paths.add(provider.path);
    const address = providerAddress(provider.host, provider.port);
    let keys = service.addresses.get(address);
    if (keys === undefined) service.addresses.set(address, (keys = new Map()));
    const key = keyOf(provider);
    const held = keys.get(key);
    if (held !== undefined && !preferred(provider, held.provider)) continue;
    keys.set(key, { key, pattern: { interface: provider.interface, group: provider.group, version: provider.version }, provider });
  }

  let nextWarmUpStepAt: number | undefined;
  const services: ImportedService[] = [];
  for (const name of [...byName.keys()].sort(compare)) {
    const service = byName.get(name)!;
    const allKeys = new Map<string, KeyedProvider['pattern']>();
    const endpoints: Array<{ address: string; keys: string[]; labels: Record<string, string>; weight: number }> = [];
    for (const address of [...service.addresses.keys()].sort(compare)) {
      const keyed = [...service.addresses.get(address)!.values()].sort((a, b) => compare(a.key, b.key));
      for (const { key, pattern } of keyed) allKeys.set(key, pattern);
      let weight = 0;
      for (const { provider } of keyed) {
        const warm = warmUpWeight(provider.parameters, options.now);
        weight = Math.max(weight, warm.weight);
        if (warm.nextStepAt !== undefined && (nextWarmUpStepAt === undefined || warm.nextStepAt < nextWarmUpStepAt)) nextWarmUpStepAt = warm.nextStepAt;
      }
      endpoints.push({
        address,
        keys: keyed.map(({ key }) => key),
        labels: labelsOf(keyed.map(({ provider }) => provider)),
        weight,
      });
    }
    const sortedKeys = [...allKeys.keys()].sort(compare);
    const sameKeys = endpoints.every((endpoint) => endpoint.keys.length === sortedKeys.length);
    const pattern = (key: string) => {
      const { interface: iface, group, version } = allKeys.get(key)!;
      return { interface: iface, group, version };
    };
    const paths = [...service.paths].sort(compare);
    const shownPaths = paths.slice(0, MAX_ORIGIN_PATHS).join(',') + (paths.length > MAX_ORIGIN_PATHS ? ` (+${paths.length - MAX_ORIGIN_PATHS} more)` : '');
    services.push({
      name,
      namespace: options.namespace,
      applications: [...service.applications].sort(compare),
      paths,
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
    });
  }
  return { services, nextWarmUpStepAt };
}

/** A service whose resource failed validation (never expected: reported, not thrown). */
export interface InvalidImportedService {
  readonly name: string;
  readonly origin: string;
  readonly errors: readonly string[];
}

/**
 * Validated resources by content: an imported service whose resource is what it was keeps its
 * `LocatedResource` and `raw` objects, so the control plane re-encodes nothing and a rebuild
 * that changes nothing publishes nothing.
 */
export class ImportedResourceCache {
  private entries = new Map<string, { json: string; origin: string; located: LocatedResource | undefined; errors: readonly string[] }>();

  /** The located resources of `services` (in their order), and those that failed validation. */
  resolve(services: readonly ImportedService[]): { resources: LocatedResource[]; invalid: InvalidImportedService[] } {
    const next = new Map<string, { json: string; origin: string; located: LocatedResource | undefined; errors: readonly string[] }>();
    const resources: LocatedResource[] = [];
    const invalid: InvalidImportedService[] = [];
    for (const service of services) {
      const key = `${service.namespace}/${service.name}`;
      const json = JSON.stringify(service.raw);
      const held = this.entries.get(key);
      let entry = held;
      if (held === undefined || held.json !== json) {
        const result = validateResource(service.raw);
        entry = result.valid
          ? { json, origin: service.origin, located: { resource: result.result, raw: service.raw, origin: service.origin, mergeable: true }, errors: [] }
          : { json, origin: service.origin, located: undefined, errors: result.errors };
      } else if (held.origin !== service.origin) {
        // Same content from other paths: the same raw object (nothing to re-encode), the new origin.
        entry = { ...held, origin: service.origin, located: held.located === undefined ? undefined : { ...held.located, origin: service.origin } };
      }
      next.set(key, entry!);
      if (entry!.located !== undefined) resources.push(entry!.located);
      else invalid.push({ name: service.name, origin: service.origin, errors: entry!.errors });
    }
    this.entries = next;
    return { resources, invalid };
  }
}
