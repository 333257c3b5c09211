// The registry of the registry-bridge benchmark: applications with interfaces and instances,
// each provider written as Java Dubbo 2.7 writes it (research notes §1): the URL, its
// parameters sorted as `URL.toFullString` sorts them, encoded once with URLEncoder as the node
// *name* under `/dubbo/<interface>/providers`, an ephemeral node holding Curator's default
// payload; and the mesh config whose services the export registers.
import { encodeNodeName, formatDubboUrl, type ZooKeeperSession } from '@dubbo-mesh/registry-bridge';

/** Where providers are registered (Dubbo's default root). */
export const REGISTRY_ROOT = '/dubbo';
/** The port every provider instance serves Dubbo on. */
export const PROVIDER_PORT = 20880;
/** The version every interface is exported with (`<dubbo:service version="1.0.0">`). */
export const SERVICE_VERSION = '1.0.0';
/** Curator's default node payload: the local IP's bytes (never read by the import). */
const CURATOR_DEFAULT_DATA = Buffer.from('127.0.0.1');
/**
 * Every provider was exported this long ago: past Dubbo's ten-minute warm-up, so the import
 * publishes no warm-up steps (each a snapshot) while changes are being timed.
 */
const EXPORTED_AGO_MS = 60 * 60 * 1000;

/** How the registry is laid out. */
export interface RegistryPlan {
  readonly applications: number;
  readonly interfacesPerApplication: number;
  /** Instances of each application, each providing every interface of its application. */
  readonly instancesPerApplication: number;
}

/** The Dubbo application `a` (also its imported DubboService's name: already a Kubernetes name). */
export function applicationName(a: number): string {
  return `shop-app-${a}`;
}

/** Interface `j` of application `a`. */
export function interfaceName(a: number, j: number): string {
  return `com.example.shop.app${a}.api.Service${j}`;
}

/** The host of instance `i` of application `a` (instances ≥ 200 are the benchmark's added ones). */
export function instanceHost(a: number, i: number): string {
  return `10.${(a >> 8) & 255}.${a & 255}.${i + 1}`;
}

/**
 * The provider URL of interface `j` of application `a` on `host`, as a Dubbo 2.7.23 provider
 * registers it (the parameters of the 2.7.7 node in the research notes, the release updated).
 */
export function providerUrl(a: number, j: number, host: string, pid: number): string {
  const iface = interfaceName(a, j);
  return formatDubboUrl({
    protocol: 'dubbo',
    host,
    port: PROVIDER_PORT,
    path: iface,
    parameters: {
      anyhost: 'true',
      application: applicationName(a),
      deprecated: 'false',
      dubbo: '2.0.2',
      dynamic: 'true',
      generic: 'false',
      interface: iface,
      methods: 'create,get,list,remove,update',
      pid: String(pid),
      release: '2.7.23',
      revision: SERVICE_VERSION,
      side: 'provider',
      threads: '200',
      timestamp: String(Date.now() - EXPORTED_AGO_MS),
      version: SERVICE_VERSION,
    },
  });
}

/** The providers folder of an interface. */
export function providersFolder(iface: string): string {
  return `${REGISTRY_ROOT}/${encodeNodeName(iface)}/providers`;
}

/** The node of a provider URL: `/dubbo/<URL.encode(interface)>/providers/<URL.encode(url)>`. */
export function providerNodePath(iface: string, url: string): string {
  return `${providersFolder(iface)}/${encodeNodeName(url)}`;
}

/** One provider node to register. */
export interface PlannedProvider {
  readonly application: number;
  readonly iface: number;
  readonly host: string;
  readonly path: string;
}

/** Every provider of the plan, instance by instance (an instance registers its interfaces together, as a JVM does). */
export function plannedProviders(plan: RegistryPlan): PlannedProvider[] {
  const providers: PlannedProvider[] = [];
  for (let a = 0; a < plan.applications; a++) {
    for (let i = 0; i < plan.instancesPerApplication; i++) {
      const host = instanceHost(a, i);
      const pid = 1000 + ((a * 7 + i) % 30000);
      for (let j = 0; j < plan.interfacesPerApplication; j++)
        providers.push({ application: a, iface: j, host, path: providerNodePath(interfaceName(a, j), providerUrl(a, j, host, pid)) });
    }
  }
  return providers;
}

/** Run `task` over `items`, at most `concurrency` at once (one ZooKeeper connection pipelines them). */
export async function runPool<T>(items: readonly T[], concurrency: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await task(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/** Register providers as Dubbo's Curator client does: persistent parents, then the ephemeral node; `concurrency` writes in flight. */
export async function registerProviders(session: ZooKeeperSession, providers: readonly PlannedProvider[], concurrency: number): Promise<void> {
  const folders = [...new Set(providers.map((provider) => provider.path.slice(0, provider.path.lastIndexOf('/'))))];
  await runPool(folders, concurrency, (folder) => session.mkdirp(folder));
  await runPool(providers, concurrency, async (provider) => {
    await session.create(provider.path, CURATOR_DEFAULT_DATA, 'ephemeral');
  });
}

/** Register one provider node (its folder exists). */
export async function registerProvider(session: ZooKeeperSession, provider: PlannedProvider): Promise<void> {
  await session.create(provider.path, CURATOR_DEFAULT_DATA, 'ephemeral');
}

/** The mesh service `s` of the export phase: its name, interface and endpoint. */
export function exportedService(s: number): { name: string; iface: string; address: string } {
  return { name: `mesh-svc-${s}`, iface: `com.example.mesh.svc${s}.api.OrderService`, address: `10.200.${(s >> 8) & 255}.${s & 255}:${PROVIDER_PORT}` };
}

/** The mesh config of the export phase: `services` DubboServices in one file, one versioned interface and one endpoint each. */
export function exportConfigYaml(services: number): string {
  const documents: string[] = [];
  for (let s = 0; s < services; s++) {
    const { name, iface, address } = exportedService(s);
    documents.push(
      [
        'apiVersion: dubbo-mesh.io/v1alpha1',
        'kind: DubboService',
        `metadata: {name: ${name}, namespace: default}`,
        'spec:',
        `  interfaces: [{interface: ${iface}, version: ${SERVICE_VERSION}}]`,
        `  endpoints: [{address: ${address}}]`,
        '',
      ].join('\n'),
    );
  }
  return documents.join('---\n');
}
