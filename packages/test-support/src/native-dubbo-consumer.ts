// A native Dubbo consumer in ZooKeeper mode: apache-dubbo-js, unmodified, finding its providers
// in `/dubbo/<interface>/providers` as a consumer that never moved to the mesh does. It keeps
// the URLs whose `version` equals its setting and re-reads the folder 2 s after a watch fires.
import { createRequire } from 'node:module';
import dubboJs from 'apache-dubbo-js';
import { closeDirectlyDubbo } from './dubbo-js-client.js';
import { USER_SERVICE } from './user-service.js';

type Call = (...args: unknown[]) => Promise<{ res: unknown; err: Error | null }>;
interface DubboJsRegistry {
  _client?: { removeAllListeners(): void; close(): void; connectionManager: { queue(...args: unknown[]): void } };
  _checkTimer?: NodeJS.Timeout;
}
const { Dubbo, zk, setting, java } = dubboJs as unknown as {
  Dubbo: { from(options: object): { ready(): Promise<void>; service: { users: Record<string, Call> } } };
  zk: (options: { url: string }) => (props: object) => DubboJsRegistry;
  setting: { match(iface: string, setting: { version: string; group?: string }): unknown };
  java: { long(value: number): unknown; String(value: string): unknown };
};

// apache-dubbo-js has no close(): its ZooKeeper client and socket workers would keep a test
// process alive. Its socket workers are made by one factory, wrapped here to keep hold of them.
const SocketWorker = (createRequire(import.meta.url)('apache-dubbo-js/es7/socket-worker.js') as { default: { from(url: string): unknown } }).default;
const live = new Set<{ workers: unknown[]; closed: boolean }>();
let current: { workers: unknown[]; closed: boolean } | undefined;
const originalFrom = SocketWorker.from.bind(SocketWorker);
SocketWorker.from = (url: string) => {
  const worker = originalFrom(url);
  // Workers belong to the consumer being built, or (made later by a watch) to every open one:
  // one that starts after its consumer closed is closed at once.
  const owners = current !== undefined ? [current] : [...live];
  for (const owner of owners) {
    owner.workers.push(worker);
    if (owner.closed) setImmediate(() => closeDirectlyDubbo({ _socketWorker: worker }));
  }
  return worker;
};

/** A native consumer of UserService. */
export interface NativeUserConsumer {
  /** `getUser(id)` as the consumer calls it: `{res, err}`, never a throw. */
  getUser(id: number): Promise<{ res: unknown; err: Error | null }>;
  /** Close its ZooKeeper client and connections (apache-dubbo-js has no close of its own). */
  close(): void;
}

/**
 * Start apache-dubbo-js in ZooKeeper mode for UserService `version` (and `group`), resolved once
 * it found at least one provider (`dubbo.ready()`).
 */
export async function startNativeUserConsumer(options: {
  zookeeper: string;
  version: string;
  group?: string;
  application?: string;
}): Promise<NativeUserConsumer> {
  const owner = { workers: [] as unknown[], closed: false };
  live.add(owner);
  let registry: DubboJsRegistry | undefined;
  const connect = zk({ url: options.zookeeper });
  current = owner;
  let dubbo: ReturnType<typeof Dubbo.from>;
  try {
    dubbo = Dubbo.from({
      application: { name: options.application ?? 'native-consumer' },
      register: (props: object) => (registry = connect(props)),
      dubboInvokeTimeout: 10,
      dubboSetting: setting.match(USER_SERVICE, { version: options.version, ...(options.group === undefined ? {} : { group: options.group }) }),
      service: {
        users: (client: { proxyService(options: object): Record<string, Call> }) =>
          client.proxyService({ dubboInterface: USER_SERVICE, methods: { getUser: (id: number) => [java.long(id)] } }),
      },
    });
  } finally {
    current = undefined;
  }
  const close = () => {
    if (owner.closed) return;
    owner.closed = true;
    live.delete(owner);
    const client = registry?._client;
    client?.removeAllListeners();
    client?.close();
    // A read in flight when the client closed would be retried with backoff for minutes: later attempts are dropped.
    if (client !== undefined) client.connectionManager.queue = () => undefined;
    clearInterval(registry?._checkTimer);
    for (const worker of owner.workers) closeDirectlyDubbo({ _socketWorker: worker });
  };
  try {
    await dubbo.ready();
  } catch (error) {
    close();
    throw error;
  }
  const users = dubbo.service.users;
  return { getUser: (id) => users.getUser!(id), close };
}
