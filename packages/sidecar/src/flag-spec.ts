// The flags of `dubbo-mesh proxy` and `dubbo-mesh gateway` as data: the command line parses
// them, and the injector will generate a sidecar container's args (or env) from the same
// table. This module imports nothing, so reading the table (`@dubbo-mesh/sidecar/flags`)
// loads neither the proxy nor gRPC.

/** One flag of a command: what the parser needs, and what a person or a generator reads. */
export interface FlagSpec {
  /** The flag without its dashes: `inbound-target`. */
  readonly name: string;
  /** How it parses: `boolean` takes no value. */
  readonly type: 'string' | 'boolean';
  /** Whether it may be given more than once (its env twin then takes a comma-separated list). */
  readonly multiple?: boolean;
  /** The value when neither the flag nor its env twin is given. */
  readonly default?: string;
  /** Whether the command refuses to start without it. */
  readonly required?: boolean;
  /** One line for a person. */
  readonly description: string;
  /** The environment-variable twin: `DUBBO_MESH_INBOUND_TARGET`. */
  readonly env: string;
}

/** The environment-variable twin of a flag: `--inbound-target` → `DUBBO_MESH_INBOUND_TARGET`. */
export function envName(flag: string): string {
  return `DUBBO_MESH_${flag.replaceAll('-', '_').toUpperCase()}`;
}

/** A flag table with each flag's env twin filled in, frozen. */
export function defineFlags(flags: ReadonlyArray<Omit<FlagSpec, 'env'>>): readonly FlagSpec[] {
  return Object.freeze(flags.map((flag) => Object.freeze({ ...flag, env: envName(flag.name) })));
}

/** The value of `--outbound` that turns the outbound listener off (a provider-side sidecar). */
export const NO_LISTENER = 'none';

/** The values `--log-level` takes: pino's levels, most verbose first, and `silent`. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** Flags both the proxy and the gateway take. */
const COMMON: ReadonlyArray<Omit<FlagSpec, 'env'>> = [
  { name: 'node', type: 'string', required: true, description: "this node's id, as the control plane, the admin API and the logs name it" },
  { name: 'control-plane', type: 'string', description: "take the config from the control plane's gRPC address HOST:PORT (this or --static)" },
  {
    name: 'static',
    type: 'string',
    description:
      'take the config from a mesh YAML file or folder, watched: an invalid change is refused and the last valid config stays (this or --control-plane)',
  },
  {
    name: 'admin',
    type: 'string',
    default: '127.0.0.1:15001',
    description: "the admin API's address HOST:PORT (/ready, /stats, /clusters, /config_dump, /metrics)",
  },
  { name: 'access-log', type: 'boolean', description: 'log one JSON line per call' },
  {
    name: 'plugin-module-root',
    type: 'string',
    description: 'load in-process DubboPlugin modules only from inside this folder (unset: any file the proxy can read; see docs/plugins.md)',
  },
  { name: 'drain-timeout', type: 'string', default: '5s', description: 'on SIGTERM, how long calls in flight may take to finish before the proxy closes' },
  { name: 'log-level', type: 'string', default: 'info', description: `the least severe log level written: ${LOG_LEVELS.join(', ')}` },
  // Limits against hostile or broken consumers (docs/operations.md).
  {
    name: 'idle-timeout',
    type: 'string',
    default: '1h',
    description: 'close a consumer connection with no call in flight and nothing read for this long (0: never)',
  },
  { name: 'frame-timeout', type: 'string', default: '30s', description: 'close a consumer connection that takes longer than this to complete a frame' },
  {
    name: 'max-requests-per-connection',
    type: 'string',
    default: '1024',
    description: 'calls in flight on one consumer connection before the proxy stops reading it',
  },
  {
    name: 'max-buffered-frame-bytes',
    type: 'string',
    default: '64MiB',
    description: 'cap on incomplete frames over all consumer connections (a size like 64MiB, 512KiB or 1048576)',
  },
];

/** Every flag of `dubbo-mesh proxy`. */
export const PROXY_FLAGS: readonly FlagSpec[] = defineFlags([
  ...COMMON,
  { name: 'service', type: 'string', description: 'the mesh service this node belongs to, sent to the control plane' },
  { name: 'namespace', type: 'string', default: 'default', description: 'the namespace of this node, sent to the control plane' },
  { name: 'labels', type: 'string', description: 'labels k=v,k=v of this node, sent to the control plane' },
  {
    name: 'outbound',
    type: 'string',
    default: '127.0.0.1:20881',
    description: `where the local application sends its calls, HOST:PORT, or ${NO_LISTENER} for no outbound listener`,
  },
  { name: 'inbound', type: 'string', description: 'where other proxies send calls for the local application, HOST:PORT' },
  {
    name: 'inbound-target',
    type: 'string',
    description: "the local application's Dubbo address that inbound calls go to (127.0.0.1:20880 when --inbound is given)",
  },
]);

/** Every flag of `dubbo-mesh gateway`. */
export const GATEWAY_FLAGS: readonly FlagSpec[] = defineFlags([
  ...COMMON,
  { name: 'listen', type: 'string', default: '0.0.0.0:20880', description: 'the one address every provider of the cluster is reached at, HOST:PORT' },
]);

/** The flags of the proxy (`proxy`) or the gateway (`gateway`). */
export function sidecarFlags(role: 'proxy' | 'gateway'): readonly FlagSpec[] {
  return role === 'proxy' ? PROXY_FLAGS : GATEWAY_FLAGS;
}
