import { RegistryBridgeFlagError } from './errors.js';
import type { ExportMode } from './exported-nodes.js';
export { RegistryBridgeFlagError } from './errors.js';

/** Where exports go: nowhere, or as the export sink writes them (each endpoint's own address, or one address, a gateway's, for every provider). */
export type BridgeExportMode = { readonly kind: 'none' } | ExportMode;

/** What the bridge is started with, read from `--zookeeper*` and `--registry-namespace`. */
export interface RegistryBridgeSettings {
  /** `host:port[,host:port]`. */
  readonly connect: string;
  /** Default `/dubbo`. */
  readonly root: string;
  readonly exportMode: BridgeExportMode;
  /** The namespace imported services are put in. Default `default`. */
  readonly namespace: string;
}

/** The flags' raw values (strings as given; undefined when absent). */
export interface RegistryBridgeFlagValues {
  readonly zookeeper?: string;
  readonly zookeeperRoot?: string;
  readonly zookeeperExport?: string;
  readonly registryNamespace?: string;
}

const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*):(\d{1,5})$/;
const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

function hostPort(flag: string, value: string): { host: string; port: number } {
  const match = HOST_PORT.exec(value);
  const port = match === null ? NaN : Number(match[2]);
  if (match === null || port < 1 || port > 65535) throw new RegistryBridgeFlagError(flag, `--${flag}: ${JSON.stringify(value)} is not host:port`);
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
}

/**
 * The bridge's settings from its flags, or undefined without `--zookeeper`. A bad value, or a
 * bridge flag without `--zookeeper`, is a {@link RegistryBridgeFlagError} naming the flag.
 */
export function registryBridgeSettings(values: RegistryBridgeFlagValues): RegistryBridgeSettings | undefined {
  if (values.zookeeper === undefined) {
    const stray = (
      [
        ['zookeeper-root', values.zookeeperRoot],
        ['zookeeper-export', values.zookeeperExport],
        ['registry-namespace', values.registryNamespace],
      ] as const
    ).find(([, value]) => value !== undefined);
    if (stray !== undefined) throw new RegistryBridgeFlagError(stray[0], `--${stray[0]} needs --zookeeper`);
    return undefined;
  }
  const servers = values.zookeeper.split(',').map((server) => server.trim());
  if (servers.some((server) => server === ''))
    throw new RegistryBridgeFlagError('zookeeper', `--zookeeper: ${JSON.stringify(values.zookeeper)} is not host:port[,host:port]`);
  for (const server of servers) hostPort('zookeeper', server);

  const root = values.zookeeperRoot ?? '/dubbo';
  if (!/^\/[^/\s]+(\/[^/\s]+)*$/.test(root))
    throw new RegistryBridgeFlagError(
      'zookeeper-root',
      `--zookeeper-root: ${JSON.stringify(root)} is not a ZooKeeper path like /dubbo (a leading /, no trailing /)`,
    );

  const exportValue = values.zookeeperExport ?? 'none';
  let exportMode: BridgeExportMode;
  if (exportValue === 'none') exportMode = { kind: 'none' };
  else if (exportValue === 'endpoints') exportMode = { kind: 'endpoints' };
  else {
    if (!HOST_PORT.test(exportValue))
      throw new RegistryBridgeFlagError(
        'zookeeper-export',
        `--zookeeper-export: ${JSON.stringify(exportValue)} is not none, endpoints or host:port (a gateway's address)`,
      );
    exportMode = { kind: 'address', ...hostPort('zookeeper-export', exportValue) };
  }

  const namespace = values.registryNamespace ?? 'default';
  if (!NAME.test(namespace) || namespace.length > 63)
    throw new RegistryBridgeFlagError(
      'registry-namespace',
      `--registry-namespace: ${JSON.stringify(namespace)} is not a namespace name (lower case letters, digits, - and .)`,
    );
  return { connect: servers.join(','), root, exportMode, namespace };
}
