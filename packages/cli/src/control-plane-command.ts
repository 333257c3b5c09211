import {
  AdminPageError,
  ConfigUnreadableError,
  ControlPlaneListenError,
  SourceUnavailableError,
  StartConfigInvalidError,
  startControlPlaneApp,
  type ControlPlaneExtension,
} from '@dubbo-mesh/control-plane';
// The settings alone: the bridge itself (its ZooKeeper client) is loaded only with --zookeeper.
import { envoyXdsExtension } from '@dubbo-mesh/envoy-xds';
import { RegistryBridgeFlagError, registryBridgeSettings, type RegistryBridgeSettings } from '@dubbo-mesh/registry-bridge/settings';
import { UsageError, addressFlag, defineFlags, logLevelFlag, parseFlags } from './flags.js';
import { createLogger } from './logging.js';
import { StartUpError, fileFailure, listenFailure } from './start-up-failure.js';

const FLAGS = defineFlags([
  { name: 'config', type: 'string', multiple: true, description: 'a mesh YAML file or a folder of them, watched (repeatable)' },
  { name: 'kubernetes', type: 'boolean', description: 'read the mesh custom resources, Services, EndpointSlices, Pods and Ingresses from the Kubernetes API' },
  { name: 'kube-namespace', type: 'string', description: 'with --kubernetes, follow this namespace only (default: every namespace)' },
  {
    name: 'kube-gateway-service',
    type: 'string',
    description:
      "with --kubernetes, the gateway's Service (in POD_NAMESPACE) whose address is written into the Ingresses it serves (default dubbo-mesh-gateway)",
  },
  {
    name: 'zookeeper',
    type: 'string',
    description:
      'bridge the Dubbo registry in ZooKeeper HOST:PORT[,HOST:PORT]: import its providers into the mesh (and export mesh services with --zookeeper-export)',
  },
  { name: 'zookeeper-root', type: 'string', description: "with --zookeeper, the registry's root path (default /dubbo)" },
  {
    name: 'zookeeper-export',
    type: 'string',
    description:
      "with --zookeeper, register mesh services in the registry: none (default), endpoints (each endpoint's address) or HOST:PORT (one address, a gateway's)",
  },
  { name: 'registry-namespace', type: 'string', description: 'with --zookeeper, the namespace imported services are put in (default default)' },
  { name: 'grpc', type: 'string', default: '127.0.0.1:15010', description: "the discovery API's address HOST:PORT" },
  { name: 'admin', type: 'string', default: '127.0.0.1:15000', description: "the admin API's address HOST:PORT" },
  { name: 'log-level', type: 'string', default: 'info', description: 'the least severe log level written' },
]);

/**
 * `dubbo-mesh control-plane`: the flags as `startControlPlaneApp`'s options, its typed
 * start-up failures as one line naming the flag, and a stop on SIGTERM/SIGINT (exit 0).
 */
export async function runControlPlaneCommand(argv: readonly string[]): Promise<number> {
  const values = parseFlags('control-plane', argv, FLAGS);
  let bridge: RegistryBridgeSettings | undefined;
  try {
    bridge = registryBridgeSettings({
      zookeeper: values.zookeeper as string | undefined,
      zookeeperRoot: values['zookeeper-root'] as string | undefined,
      zookeeperExport: values['zookeeper-export'] as string | undefined,
      registryNamespace: values['registry-namespace'] as string | undefined,
    });
  } catch (error) {
    if (error instanceof RegistryBridgeFlagError) throw new UsageError(`dubbo-mesh control-plane: ${error.message}`);
    throw error;
  }
  const kubernetes = values.kubernetes === true;
  const kubeNamespace = values['kube-namespace'] as string | undefined;
  const gatewayService = values['kube-gateway-service'] as string | undefined;
  if (!kubernetes && (kubeNamespace !== undefined || gatewayService !== undefined))
    throw new UsageError(`dubbo-mesh control-plane: --${kubeNamespace !== undefined ? 'kube-namespace' : 'kube-gateway-service'} needs --kubernetes`);
  const configPaths = (values.config as string[] | undefined) ?? [];
  if (configPaths.length === 0 && !kubernetes && bridge === undefined)
    throw new UsageError('dubbo-mesh control-plane: give at least one --config PATH (a mesh YAML file or a folder of them), --kubernetes or --zookeeper');
  const grpc = addressFlag('control-plane', 'grpc', values.grpc as string);
  const admin = addressFlag('control-plane', 'admin', values.admin as string);
  const level = logLevelFlag('control-plane', values['log-level'] as string);
  const logger = createLogger(level, { role: 'control-plane' });

  let app;
  const extensions: ControlPlaneExtension[] = [];
  try {
    const log = (level: 'info' | 'warn', message: string, fields: Record<string, unknown>) => logger[level](fields, message);
    // Loaded only with --kubernetes: the Kubernetes client is a large part of a start's time.
    const kube = kubernetes
      ? await (await import('@dubbo-mesh/kubernetes')).createKubernetesExtension({ namespace: kubeNamespace, gatewayService, log })
      : undefined;
    // With --kubernetes too, the replica leading the Lease also writes the exports; alone, a ZooKeeper lock elects one.
    const registry =
      bridge === undefined
        ? undefined
        : await (await import('@dubbo-mesh/registry-bridge')).createRegistryBridgeExtension({ settings: bridge, leadership: kube?.elector, log });
    // Envoy's xDS on the same port, from the same snapshots: Envoy sidecars and proxyless gRPC clients (docs/envoy.md).
    extensions.push(...[kube, registry].filter((extension) => extension !== undefined), envoyXdsExtension());
    app = await startControlPlaneApp({ configPaths, grpc, admin, logger, extensions });
  } catch (error) {
    if (error instanceof SourceUnavailableError) throw new StartUpError(`dubbo-mesh control-plane: --${error.flag}: ${error.message}`);
    if (error instanceof ConfigUnreadableError) throw fileFailure('control-plane', 'config', error.path, error.cause);
    if (error instanceof AdminPageError)
      throw new StartUpError(`dubbo-mesh control-plane: the admin API cannot serve its web page (is the installation complete?): ${error.message}`);
    // A failed start closes what the extensions opened (a ZooKeeper session, a Kubernetes elector).
    await Promise.all(extensions.map((extension) => extension.stop?.().catch(() => undefined)));
    if (error instanceof ControlPlaneListenError) throw listenFailure('control-plane', error.listener, error.address, error.cause);
    if (error instanceof StartConfigInvalidError) {
      const count = `${error.errors.length} error${error.errors.length === 1 ? '' : 's'}`;
      const where = configPaths.length > 0 ? `--config ${configPaths.join(' --config ')}` : kubernetes ? '--kubernetes' : '--zookeeper';
      throw new StartUpError(`dubbo-mesh control-plane: ${where}: invalid configuration (${count})`, error.errors);
    }
    throw error;
  }
  const running = app;
  return new Promise<number>((resolve) => {
    const shutdown = async (signal: string) => {
      await running.stop(signal);
      resolve(0);
    };
    process.once('SIGTERM', () => void shutdown('SIGTERM'));
    process.once('SIGINT', () => void shutdown('SIGINT'));
  });
}
