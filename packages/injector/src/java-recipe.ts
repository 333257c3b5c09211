// The Java recipe (issue #12): JVM properties that make an unchanged Java Dubbo application
// send every reference to its sidecar's outbound listener and stop doing the mesh's work
// itself (registry, router chain, load balancing, retries), plus, in `migration` mode, the
// environment that makes a provider still in a registry register its sidecar's inbound address.
// The property list is data, so the docs and the tests read the same source as the injector.

import { DEFAULT_OUTBOUND_PORT, RESOLVE_CONFIG_MAP, RESOLVE_FILE_KEY, RESOLVE_MOUNT_PATH } from '@dubbo-mesh/kubernetes/conventions';
import type { EnvVar, PodContainer, PodVolume, VolumeMount } from './admission-review.js';

/** The recipe's modes: `consumer` (calls go through the sidecar), `migration` (also register the sidecar's inbound address), `off`. */
export const JAVA_RECIPE_MODES = ['consumer', 'migration', 'off'] as const;
/** One of {@link JAVA_RECIPE_MODES}. */
export type JavaRecipeMode = (typeof JAVA_RECIPE_MODES)[number];

/** One JVM system property of the recipe, with why it is there and which Dubbo versions honour it. */
export interface JavaRecipeProperty {
  /** The property name, as `-D<name>=<value>` sets it. */
  readonly name: string;
  readonly value: string;
  /** Why the mesh sets it. */
  readonly why: string;
  /** Which Dubbo versions read it. */
  readonly versions: string;
}

/** The resolve file's path in the application's containers. */
export const RESOLVE_FILE_PATH = `${RESOLVE_MOUNT_PATH}/${RESOLVE_FILE_KEY}`;

/**
 * The recipe's JVM properties, in the order they are put into `JAVA_TOOL_OPTIONS`, each with
 * what Dubbo's source does with it and in which versions (read from apache/dubbo 2.7.x, 3.1,
 * 3.2 and 3.3; docs/kubernetes.md prints this table).
 * Not set on purpose: `dubbo.consumer.cluster` — for a single direct URL Dubbo 2.7 builds no
 * cluster at all and 3.x always wraps it in a failover cluster whatever `cluster` says, so
 * `failfast` would change nothing; `retries=0` is what stops the SDK retrying on top of the mesh.
 */
export const JAVA_RECIPE_PROPERTIES: readonly JavaRecipeProperty[] = Object.freeze([
  {
    name: 'dubbo.resolve.file',
    value: RESOLVE_FILE_PATH,
    why: `every reference is resolved to the sidecar's outbound listener 127.0.0.1:${DEFAULT_OUTBOUND_PORT} by the resolve file the control plane keeps current: a direct URL, so no registry subscription, no router chain and no load balancing in the SDK (it replaces a url the application set; a missing file stops the application, hence the non-optional volume)`,
    versions:
      'every 2.7 and 3.x; keys are exact interface names in 2.7 and 3.0.0–3.0.1 (one line per interface), patterns from 3.0.2 (`*` matches every interface)',
  },
  {
    name: 'dubbo.consumer.check',
    value: 'false',
    why: 'references are created while the sidecar or a provider is not there yet (check also makes the first connect fail the reference)',
    versions: "every 2.7 and 3.x, for references that set no check (in 2.7 a check set on the application's own consumer config wins)",
  },
  {
    name: 'dubbo.reference.check',
    value: 'false',
    why: 'the same for references that set no check, through the reference defaults',
    versions: '3.1.4 and later (2.7 and 3.0 ignore it)',
  },
  {
    name: 'dubbo.consumer.retries',
    value: '0',
    why: 'the SDK does not retry on top of the mesh: 3.x wraps even a direct URL in a failover cluster with 2 retries by default',
    versions: 'every 3.x for references that set no retries (2.7 has no cluster for a single direct URL: no retries to stop)',
  },
  {
    name: 'dubbo.reference.retries',
    value: '0',
    why: 'the same for references that set no retries, through the reference defaults',
    versions: '3.1.4 and later (2.7 and 3.0 ignore it)',
  },
]);

/** One environment variable of the recipe's `migration` mode. */
export interface JavaRecipeEnvironmentVariable {
  readonly name: string;
  /** What it is set to. */
  readonly value: string;
  readonly why: string;
  readonly versions: string;
}

/** Migration mode: the address a provider registers in its registry, read by Dubbo from the environment (before `-D`). */
export const DUBBO_IP_TO_REGISTRY = 'DUBBO_IP_TO_REGISTRY';
/**
 * The `dubbo` protocol's own twin of `DUBBO_PORT_TO_REGISTRY` (Dubbo reads `<PROTOCOL>_` + key
 * first): the generic one would also re-point the application's other protocols (triple, rest),
 * which the sidecar does not carry, at the sidecar's inbound port.
 */
export const DUBBO_PROTOCOL_PORT_TO_REGISTRY = 'DUBBO_DUBBO_PORT_TO_REGISTRY';

/** The environment the `migration` mode adds, as data for the docs and tests. */
export const JAVA_RECIPE_MIGRATION_ENV: readonly JavaRecipeEnvironmentVariable[] = Object.freeze([
  {
    name: DUBBO_IP_TO_REGISTRY,
    value: "the pod's IP (downward API status.podIP)",
    why: "the provider registers the pod's address (the one the sidecar's inbound listener is on), not one it guessed",
    versions: 'every 2.7 and 3.x (application-level instances too)',
  },
  {
    name: DUBBO_PROTOCOL_PORT_TO_REGISTRY,
    value: "the sidecar's inbound port (20891 unless dubbo-mesh.io/inbound-port says otherwise)",
    why: "registry consumers call the provider through its sidecar, which applies the mesh's rules on the way in",
    versions:
      "2.7.0–2.7.11, 3.0.0–3.0.3 and 3.0.5 and later (3.1, 3.2, 3.3). NOT 2.7.12–2.7.23 and 3.0.4: they also bind the registered port (apache/dubbo#8726), which is the sidecar's, so the application cannot start",
  },
]);

/**
 * The warning on every pod the `migration` mode is applied to: the versions
 * {@link JAVA_RECIPE_MIGRATION_ENV} names as not honouring it cannot be told apart at admission.
 * ASCII and short: the API server cuts a warning longer than 256 characters.
 */
export const JAVA_RECIPE_MIGRATION_WARNING =
  'Java recipe migration: Dubbo 2.7.12-2.7.23 and 3.0.4 also bind the registered port (apache/dubbo#8726), so such an application cannot start beside the sidecar; use dubbo-mesh.io/java-recipe: consumer for them';

/** The environment variable the JVM reads its extra options from, before the command line's. */
export const JAVA_TOOL_OPTIONS = 'JAVA_TOOL_OPTIONS';
/**
 * Where an application's own `JAVA_TOOL_OPTIONS` goes when it comes from a `valueFrom` (a
 * ConfigMap, a Secret): the recipe cannot read that value at admission, so it moves the source
 * to this variable, just before, and refers to it as `$(…)`, which the kubelet expands.
 */
export const APP_JAVA_TOOL_OPTIONS = 'DUBBO_MESH_APP_JAVA_TOOL_OPTIONS';
/** The pod volume of the resolve file (named as its ConfigMap). */
export const RESOLVE_VOLUME_NAME = RESOLVE_CONFIG_MAP;

/** `JAVA_TOOL_OPTIONS`' text for the recipe: `-Dname=value` for each of {@link JAVA_RECIPE_PROPERTIES}. */
export function javaRecipeOptions(): string {
  return JAVA_RECIPE_PROPERTIES.map((property) => `-D${property.name}=${property.value}`).join(' ');
}

/**
 * The resolve file's volume: the ConfigMap, not optional, so the kubelet waits until the
 * control plane wrote it rather than starting an application whose references would resolve
 * nowhere. The control plane writes the ConfigMap in every namespace with a pod whose volumes
 * name it.
 */
export function resolveVolume(): PodVolume {
  return { name: RESOLVE_VOLUME_NAME, configMap: { name: RESOLVE_CONFIG_MAP } };
}

/** The resolve file's mount in an application container: read-only. */
export function resolveVolumeMount(): VolumeMount {
  return { name: RESOLVE_VOLUME_NAME, mountPath: RESOLVE_MOUNT_PATH, readOnly: true };
}

/**
 * Whether `volume` is the recipe's volume, or one that serves as well (the whole ConfigMap, not
 * optional), so a pod that already has it keeps it rather than getting a second one.
 */
export function isResolveVolume(volume: PodVolume): boolean {
  const configMap = volume.configMap as { name?: unknown; optional?: unknown; items?: unknown } | undefined;
  return (
    volume.name === RESOLVE_VOLUME_NAME &&
    Object.keys(volume).length === 2 &&
    configMap?.name === RESOLVE_CONFIG_MAP &&
    configMap.optional !== true &&
    configMap.items === undefined
  );
}

/** Why the recipe cannot be applied to `container` as it is (a conflicting mount, an optional `JAVA_TOOL_OPTIONS` source), or undefined. */
export function javaRecipeConflict(container: PodContainer): string | undefined {
  const mount = (container.volumeMounts ?? []).find((m) => m.mountPath === RESOLVE_MOUNT_PATH || m.mountPath === `${RESOLVE_MOUNT_PATH}/`);
  if (mount !== undefined) return `container ${container.name} already mounts ${mount.name} at ${RESOLVE_MOUNT_PATH}`;
  const options = lastEnv(container, JAVA_TOOL_OPTIONS);
  if (options?.valueFrom !== undefined && isOptionalSource(options.valueFrom)) {
    // When an optional source is missing the kubelet leaves the variable unset and `$(…)` is
    // then kept literally, which the JVM refuses as an unknown option: the app would not start.
    return `container ${container.name} takes ${JAVA_TOOL_OPTIONS} from an optional source the injector cannot read`;
  }
  if (container.env?.some((env) => env.name === APP_JAVA_TOOL_OPTIONS) === true) return `container ${container.name} already sets ${APP_JAVA_TOOL_OPTIONS}`;
  return undefined;
}

/**
 * Applies the recipe to `container` (a copy the caller owns) in `mode`: mounts the resolve
 * file and prepends {@link javaRecipeOptions} to `JAVA_TOOL_OPTIONS`. Prepended, because the JVM
 * takes the last of two `-D` for one property: the application's own options, after ours,
 * still win. Its own variable is changed in place (its position matters: later variables may
 * refer to it); a `valueFrom` one keeps its source under {@link APP_JAVA_TOOL_OPTIONS}, just
 * before, referred to as `$(…)`. `migration` also sets {@link DUBBO_IP_TO_REGISTRY} (the pod's
 * IP from the downward API) and {@link DUBBO_PROTOCOL_PORT_TO_REGISTRY} (`inboundPort`), replacing
 * values the container had (the mode's point). Call {@link javaRecipeConflict} first.
 * @returns warnings for the review (a replaced variable, an `envFrom` that may be shadowed).
 */
export function applyJavaRecipe(container: PodContainer, mode: Exclude<JavaRecipeMode, 'off'>, inboundPort: number): string[] {
  const warnings: string[] = [];
  container.volumeMounts = [...(container.volumeMounts ?? []), resolveVolumeMount()];
  const env = [...(container.env ?? [])];
  const ours = javaRecipeOptions();
  const index = env.findLastIndex((entry) => entry.name === JAVA_TOOL_OPTIONS);
  if (index < 0) {
    env.push({ name: JAVA_TOOL_OPTIONS, value: ours });
    if ((container.envFrom ?? []).length > 0) {
      warnings.push(
        `container ${container.name}: a ${JAVA_TOOL_OPTIONS} from its envFrom is overridden by the Java recipe's; set it in env instead to keep it`,
      );
    }
  } else {
    const existing = env[index]!;
    if (existing.valueFrom !== undefined) {
      env.splice(
        index,
        1,
        { name: APP_JAVA_TOOL_OPTIONS, valueFrom: existing.valueFrom },
        { name: JAVA_TOOL_OPTIONS, value: `${ours} $(${APP_JAVA_TOOL_OPTIONS})` },
      );
    } else {
      const own = existing.value ?? '';
      env[index] = { ...existing, value: own.trim() === '' ? ours : `${ours} ${own}` };
    }
  }
  if (mode === 'migration') {
    setEnv(env, { name: DUBBO_IP_TO_REGISTRY, valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }, container.name, warnings);
    setEnv(env, { name: DUBBO_PROTOCOL_PORT_TO_REGISTRY, value: String(inboundPort) }, container.name, warnings);
  }
  container.env = env;
  return warnings;
}

/** Sets `variable` in `env`: in place of the container's own (with a warning) or appended. */
function setEnv(env: EnvVar[], variable: EnvVar, containerName: string, warnings: string[]): void {
  const index = env.findLastIndex((entry) => entry.name === variable.name);
  if (index < 0) {
    env.push(variable);
    return;
  }
  warnings.push(`container ${containerName}: its ${variable.name} is replaced by the Java recipe's migration mode`);
  env[index] = variable;
}

function lastEnv(container: PodContainer, name: string): EnvVar | undefined {
  return (container.env ?? []).findLast((entry) => entry.name === name);
}

/** Whether a `valueFrom` may leave the variable unset (an optional ConfigMap or Secret key). */
function isOptionalSource(valueFrom: Record<string, unknown>): boolean {
  for (const key of ['configMapKeyRef', 'secretKeyRef']) {
    const ref = valueFrom[key] as { optional?: unknown } | undefined;
    if (ref?.optional === true) return true;
  }
  return false;
}
