import { createHash } from 'node:crypto';
import type { DubboServiceConfig, EndpointConfig, MeshConfig, ServiceKeyPattern } from '@dubbo-mesh/config';
import { encodeNodeName, formatDubboUrl, MESH_MARKER_PARAMETER, MESH_MARKER_VALUE, REGISTRY_LABEL, type DubboUrl } from './dubbo-url.js';

/**
 * Which address the export registers (`--zookeeper-export`): each mesh endpoint's own
 * (`endpoints`), or one address for every provider (`HOST:PORT`, a gateway's).
 */
export type ExportMode = { readonly kind: 'endpoints' } | { readonly kind: 'address'; readonly host: string; readonly port: number };

/**
 * The ZooKeeper nodes an export wants, by path. Deterministic: two control planes given the
 * same config compute the same paths and the same bytes, so the one that takes over finds
 * (and waits for) exactly the nodes the other one wrote.
 */
export interface ExportedNodes {
  /**
   * Ephemeral nodes, path → data (UTF-8): the interface-level provider URLs (no data, as
   * Dubbo reads none) and the application-level `/services/<app>/<host:port>` instances.
   */
  readonly ephemerals: ReadonlyMap<string, string>;
  /** Persistent nodes created when missing and never rewritten: `/dubbo/metadata/<app>/<revision>` (content-addressed). */
  readonly persistents: ReadonlyMap<string, string>;
  /** `/dubbo/mapping/<interface>` → the applications it must list (appended to, never removed from). */
  readonly mappings: ReadonlyMap<string, readonly string[]>;
}

/** Nothing exported (not leading, or no mesh service to export). */
export const NO_EXPORTED_NODES: ExportedNodes = Object.freeze({ ephemerals: new Map(), persistents: new Map(), mappings: new Map() });

/** Where Dubbo 3 keeps application-level instances (`ZookeeperServiceDiscovery.DEFAULT_GROUP`: not under the registry root). */
export const INSTANCES_ROOT = '/services';
/** The payload class Dubbo's Curator service discovery writes and reads back. */
export const ZOOKEEPER_INSTANCE_CLASS = 'org.apache.dubbo.registry.zookeeper.ZookeeperInstance';
/** The protocol every export registers: the mesh speaks Dubbo 2 (`dubbo://`). */
export const EXPORT_PROTOCOL = 'dubbo';
/** Dubbo's default provider weight: a weight of 100 is left out of the URL, as Java leaves it. */
const DEFAULT_DUBBO_WEIGHT = 100;

/**
 * The parameters every exported provider URL carries, as a Java 2.7/3.x provider writes them.
 * No `timestamp` or `pid` (node names must not depend on the writer: see {@link ExportedNodes}),
 * no `release` (an empty value reads back as its own name in Dubbo 2.7's parser), no `methods`
 * (a mesh config does not list them).
 */
const FIXED_PARAMETERS: Readonly<Record<string, string>> = {
  anyhost: 'true',
  deprecated: 'false',
  dubbo: '2.0.2',
  dynamic: 'true',
  generic: 'false',
  side: 'provider',
  [MESH_MARKER_PARAMETER]: MESH_MARKER_VALUE,
};

/** The registry root as a path: `/dubbo` for `dubbo` or `/dubbo/`. */
export function normalizeRoot(root: string): string {
  const trimmed = root.replace(/\/+$/, '');
  return trimmed.startsWith('/') ? trimmed : `/${trimmed}`;
}

/** One application instance to export: an application at an address, and the service keys it provides there. */
interface ExportedInstance {
  readonly application: string;
  readonly host: string;
  readonly port: number;
  readonly weight: number;
  readonly keys: ServiceKeyPattern[];
}

function samePattern(a: ServiceKeyPattern, b: ServiceKeyPattern): boolean {
  return a.interface === b.interface && a.group === b.group && a.version === b.version;
}

function addKeys(into: ServiceKeyPattern[], keys: readonly ServiceKeyPattern[]): void {
  for (const key of keys) if (!into.some((have) => samePattern(have, key))) into.push(key);
}

/** The endpoints of a service the mesh serves (imported ones are in the registry already). */
function meshEndpoints(service: DubboServiceConfig): EndpointConfig[] {
  return service.endpoints.filter((endpoint) => endpoint.labels[REGISTRY_LABEL] === undefined);
}

/** The application instances a config exports, merged by application and address (a name in two namespaces is one Dubbo application). */
function exportedInstances(config: MeshConfig, mode: ExportMode): ExportedInstance[] {
  const instances = new Map<string, ExportedInstance>();
  const add = (application: string, host: string, port: number, weight: number, keys: readonly ServiceKeyPattern[]) => {
    const id = `${application}\n${host}\n${port}`;
    let instance = instances.get(id);
    if (instance === undefined) {
      instance = { application, host, port, weight, keys: [] };
      instances.set(id, instance);
    }
    addKeys(instance.keys, keys);
  };
  for (const service of config.services) {
    const endpoints = meshEndpoints(service);
    if (endpoints.length === 0) continue;
    const application = service.metadata.name;
    if (mode.kind === 'endpoints') {
      for (const endpoint of endpoints) add(application, endpoint.host, endpoint.port, endpoint.weight, endpoint.interfaces ?? service.interfaces);
    } else {
      // One address for the service: the keys any of its mesh endpoints provides, in the service's order.
      const keys: ServiceKeyPattern[] = [];
      for (const endpoint of endpoints) addKeys(keys, endpoint.interfaces ?? service.interfaces);
      add(
        application,
        mode.host,
        mode.port,
        DEFAULT_DUBBO_WEIGHT,
        service.interfaces.filter((own) => keys.some((key) => samePattern(own, key))),
      );
    }
  }
  return [...instances.values()];
}

/**
 * The provider URL Java Dubbo would register for one service key of an instance (parameters
 * sorted when formatted). `group` and `version` only when the pattern has a non-empty one: an
 * absent one ("any" in the mesh) cannot be said in a Dubbo URL, so the provider is registered
 * without, which Dubbo consumers with no group or version match.
 */
export function exportedProviderUrl(application: string, host: string, port: number, key: ServiceKeyPattern, weight = DEFAULT_DUBBO_WEIGHT): DubboUrl {
  const parameters: Record<string, string> = { ...FIXED_PARAMETERS, application, interface: key.interface };
  if (key.group !== undefined && key.group !== '') parameters.group = key.group;
  if (key.version !== undefined && key.version !== '') parameters.version = key.version;
  if (weight !== DEFAULT_DUBBO_WEIGHT) parameters.weight = String(weight);
  return { protocol: EXPORT_PROTOCOL, host, port, path: key.interface, parameters };
}

/** `/<root>/<interface>/providers/<URLEncoder(url)>`, as Dubbo's `ZookeeperRegistry.toUrlPath`. */
export function providerNodePath(root: string, url: DubboUrl): string {
  return `${normalizeRoot(root)}/${encodeNodeName(url.parameters.interface ?? url.path)}/providers/${encodeNodeName(formatDubboUrl(url))}`;
}

/** Java's `Map.toString` of a sorted map: `{k1=v1, k2=v2}` (part of the revision digest). */
function javaMapString(map: Readonly<Record<string, string>>): string {
  return `{${Object.keys(map)
    .sort()
    .map((key) => `${key}=${map[key]}`)
    .join(', ')}}`;
}

/** `[group/]interface[:version]:protocol`: the key of a service in Dubbo's MetadataInfo. */
function matchKey(key: ServiceKeyPattern): string {
  const group = key.group === undefined || key.group === '' ? '' : `${key.group}/`;
  const version = key.version === undefined || key.version === '' ? '' : `:${key.version}`;
  return `${group}${key.interface}${version}:${EXPORT_PROTOCOL}`;
}

/** What one application at one address exports: its MetadataInfo JSON and revision. */
function metadataInfo(instance: ExportedInstance): { revision: string; content: string } {
  const services = instance.keys
    .map((key) => {
      const url = exportedProviderUrl(instance.application, instance.host, instance.port, key, instance.weight);
      const params = Object.fromEntries(
        Object.keys(url.parameters)
          .sort()
          .map((name) => [name, url.parameters[name]!]),
      );
      return { matchKey: matchKey(key), key, params };
    })
    .sort((a, b) => (a.matchKey < b.matchKey ? -1 : a.matchKey > b.matchKey ? 1 : 0));
  // Dubbo's own revision (MetadataInfo.calAndGetRevision): md5 of the app and each service's
  // match key, port, path and sorted parameters. Consumers only compare it; Java's algorithm is
  // kept so that the same content always gets the same revision.
  const digest = createHash('md5').update(instance.application);
  for (const service of services) digest.update(`${service.matchKey}${instance.port}${service.key.interface}${javaMapString(service.params)}`);
  const revision = digest.digest('hex');
  const serviceInfos: Record<string, unknown> = {};
  for (const service of services)
    serviceInfos[service.matchKey] = {
      name: service.key.interface,
      ...(service.key.group === undefined || service.key.group === '' ? {} : { group: service.key.group }),
      ...(service.key.version === undefined || service.key.version === '' ? {} : { version: service.key.version }),
      protocol: EXPORT_PROTOCOL,
      port: instance.port,
      path: service.key.interface,
      params: service.params,
    };
  return { revision, content: JSON.stringify({ app: instance.application, revision, services: serviceInfos }) };
}

/**
 * The Curator ServiceInstance JSON Dubbo 3 writes at `/services/<app>/<host:port>`
 * (compatible mode: no `enabled`), with `storage-type: remote` (the metadata is in ZooKeeper;
 * the mesh serves no MetadataService) and the mesh marker, so the importer skips it.
 * `registrationTimeUTC` is 0: the content must not depend on the writer or the time (no Dubbo
 * consumer reads it), and no `timestamp` (Dubbo's warm-up would apply to the mesh's endpoints).
 */
function instanceJson(instance: ExportedInstance, revision: string): string {
  const id = `${instance.host}:${instance.port}`;
  const metadata = {
    'dubbo.endpoints': JSON.stringify([{ port: instance.port, protocol: EXPORT_PROTOCOL }]),
    'dubbo.metadata.revision': revision,
    'dubbo.metadata.storage-type': 'remote',
    [MESH_MARKER_PARAMETER]: MESH_MARKER_VALUE,
  };
  return JSON.stringify({
    name: instance.application,
    id,
    address: instance.host,
    port: instance.port,
    sslPort: null,
    payload: { '@class': ZOOKEEPER_INSTANCE_CLASS, id, name: instance.application, metadata },
    registrationTimeUTC: 0,
    serviceType: 'DYNAMIC',
    uriSpec: null,
  });
}

/**
 * The ZooKeeper nodes that register a mesh config's services for native Dubbo consumers
 * (pure). For each DubboService with endpoints the mesh serves (those without the
 * `dubbo-mesh.io/registry` label; a service with none is skipped, its providers are in the
 * registry already), for each of its service keys and each address (each endpoint's, limited
 * to the keys the endpoint provides, or the one address of `mode`):
 * - the interface-level provider URL `/<root>/<interface>/providers/<URL>` (ephemeral),
 *   `application` = the service's name, with the mesh marker;
 * - the interface → application mapping `/<root>/mapping/<interface>`;
 * - the Dubbo 3 application-level instance `/services/<app>/<host:port>` (ephemeral) and its
 *   metadata `/<root>/metadata/<app>/<revision>` (persistent).
 */
export function exportedNodes(config: MeshConfig, mode: ExportMode, root = '/dubbo'): ExportedNodes {
  const base = normalizeRoot(root);
  const ephemerals = new Map<string, string>();
  const persistents = new Map<string, string>();
  const mappings = new Map<string, string[]>();
  for (const instance of exportedInstances(config, mode)) {
    if (instance.keys.length === 0) continue;
    for (const key of instance.keys) {
      ephemerals.set(providerNodePath(base, exportedProviderUrl(instance.application, instance.host, instance.port, key, instance.weight)), '');
      const mapping = `${base}/mapping/${key.interface}`;
      const apps = mappings.get(mapping) ?? [];
      if (!apps.includes(instance.application)) apps.push(instance.application);
      mappings.set(mapping, apps);
    }
    const { revision, content } = metadataInfo(instance);
    persistents.set(`${base}/metadata/${instance.application}/${revision}`, content);
    ephemerals.set(`${INSTANCES_ROOT}/${instance.application}/${instance.host}:${instance.port}`, instanceJson(instance, revision));
  }
  return { ephemerals, persistents, mappings };
}
