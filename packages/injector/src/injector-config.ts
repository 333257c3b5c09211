import { LOG_LEVELS } from '@dubbo-mesh/sidecar/flags';
import { InvalidInjectorConfigError } from './errors.js';
import { JAVA_RECIPE_MODES, type JavaRecipeMode } from './java-recipe.js';
import { isWholeQuantity, parseQuantity, resourceQuantityProblem } from './kubernetes-quantity.js';

/** A `--log-level` value of the proxy. */
export type ProxyLogLevel = (typeof LOG_LEVELS)[number];

/** The sidecar's CPU and memory (Kubernetes quantities); an absent one is not set on the container. */
export interface SidecarResources {
  readonly cpuRequest?: string;
  readonly cpuLimit?: string;
  readonly memoryRequest?: string;
  readonly memoryLimit?: string;
}

/**
 * What the injector injects, as the `dubbo-mesh injector` flags set it; per-pod annotations
 * override some of it (pod-annotations.ts). Built by {@link defaultInjectorConfig}, which
 * validates it once and freezes it.
 */
export interface InjectorConfig {
  /** The control plane's gRPC address HOST:PORT the sidecars connect to (`--control-plane`). */
  readonly controlPlane: string;
  /** The sidecar's image (`--image`). */
  readonly image: string;
  /** Inject a native sidecar (an init container with `restartPolicy: Always`, Kubernetes ≥ 1.29) rather than a plain container (`--native-sidecar`). */
  readonly nativeSidecar: boolean;
  /** The Java recipe for pods that do not choose one by annotation (`--java-recipe`). */
  readonly javaRecipe: JavaRecipeMode;
  /** An invalid annotation admits the pod without a sidecar, with a warning, instead of refusing it (`--fail-open`). */
  readonly failOpen: boolean;
  /** The sidecars' `--log-level` when a pod does not choose one. */
  readonly proxyLogLevel: ProxyLogLevel;
  /** The sidecar's resources when a pod does not choose them. */
  readonly resources: SidecarResources;
  /** The sidecar's `--drain-timeout`: on SIGTERM, how long calls in flight may take to finish. */
  readonly drainTimeout: string;
  /**
   * For a plain-container sidecar, how long its preStop hook waits before the proxy gets SIGTERM:
   * all containers are stopped at once, so the wait keeps the sidecar serving the application's
   * own calls while the application drains (sidecar-template.ts).
   */
  readonly preStopDelaySeconds: number;
  /** The mesh's own namespace: its pods (control plane, injector, gateway) never get a sidecar. */
  readonly installNamespace: string;
}

/** The image `deploy/` builds and installs. */
export const DEFAULT_IMAGE = 'dubbo-mesh:0.1.0';
/** The namespace `deploy/` installs the mesh in. */
export const INSTALL_NAMESPACE = 'dubbo-mesh';
/** The control plane's Service in the install namespace, on its gRPC port. */
export const DEFAULT_CONTROL_PLANE = 'dubbo-mesh-control-plane.dubbo-mesh.svc:15010';
/**
 * The sidecar's default resources: a request small enough for every pod, and a memory limit so
 * a leak cannot take the node's memory. No CPU limit: throttling a proxy adds latency to every call.
 */
export const DEFAULT_SIDECAR_RESOURCES: SidecarResources = Object.freeze({ cpuRequest: '50m', memoryRequest: '64Mi', memoryLimit: '256Mi' });

/** A duration as the proxy's flags take it (`500ms`, `5s`, `1.5m`, `1h`). */
const DURATION = /^[0-9]+(?:\.[0-9]+)?(?:ms|s|m|h)$/;
/** `host:port` with a DNS name, an IPv4 address or a bracketed IPv6 address. */
const HOST_PORT = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):([0-9]{1,5})$/;
/** A DNS-1123 label, as a namespace name is. */
const DNS_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * The injector's configuration: `partial` over the defaults (image {@link DEFAULT_IMAGE}, native
 * sidecar on, Java recipe `consumer`, fail-closed, log level `info`, {@link DEFAULT_SIDECAR_RESOURCES},
 * drain `5s`, preStop wait 5 s, install namespace {@link INSTALL_NAMESPACE}, control plane
 * {@link DEFAULT_CONTROL_PLANE}). `partial.resources` is merged over the default resources; a
 * key given as `undefined` removes that default (no memory limit). Validated, then frozen.
 * @throws InvalidInjectorConfigError naming the first invalid option.
 */
export function defaultInjectorConfig(partial: Partial<InjectorConfig> = {}): InjectorConfig {
  const resources = Object.fromEntries(
    Object.entries({ ...DEFAULT_SIDECAR_RESOURCES, ...partial.resources }).filter(([, value]) => value !== undefined),
  ) as SidecarResources;
  const config: InjectorConfig = {
    controlPlane: partial.controlPlane ?? DEFAULT_CONTROL_PLANE,
    image: partial.image ?? DEFAULT_IMAGE,
    nativeSidecar: partial.nativeSidecar ?? true,
    javaRecipe: partial.javaRecipe ?? 'consumer',
    failOpen: partial.failOpen ?? false,
    proxyLogLevel: partial.proxyLogLevel ?? 'info',
    resources: Object.freeze(resources),
    drainTimeout: partial.drainTimeout ?? '5s',
    preStopDelaySeconds: partial.preStopDelaySeconds ?? 5,
    installNamespace: partial.installNamespace ?? INSTALL_NAMESPACE,
  };
  validate(config);
  return Object.freeze(config);
}

function validate(config: InjectorConfig): void {
  const port = HOST_PORT.exec(config.controlPlane)?.[1];
  if (port === undefined || Number(port) < 1 || Number(port) > 65535) {
    throw new InvalidInjectorConfigError('controlPlane', `${JSON.stringify(config.controlPlane)} is not HOST:PORT`);
  }
  const imageProblem = imageReferenceProblem(config.image);
  if (imageProblem !== undefined) throw new InvalidInjectorConfigError('image', imageProblem);
  if (!JAVA_RECIPE_MODES.includes(config.javaRecipe)) {
    throw new InvalidInjectorConfigError('javaRecipe', `${JSON.stringify(config.javaRecipe)} is not one of ${JAVA_RECIPE_MODES.join(', ')}`);
  }
  if (!(LOG_LEVELS as readonly string[]).includes(config.proxyLogLevel)) {
    throw new InvalidInjectorConfigError('proxyLogLevel', `${JSON.stringify(config.proxyLogLevel)} is not one of ${LOG_LEVELS.join(', ')}`);
  }
  for (const [key, value] of Object.entries(config.resources)) {
    const problem = typeof value === 'string' ? sidecarResourceProblem(key.startsWith('memory') ? 'memory' : 'cpu', value) : 'is not a string';
    if (problem !== undefined) throw new InvalidInjectorConfigError(`resources.${key}`, problem);
  }
  const limitProblem = requestOverLimit(config.resources);
  if (limitProblem !== undefined) throw new InvalidInjectorConfigError(`resources.${limitProblem}Request`, `is more than resources.${limitProblem}Limit`);
  if (!DURATION.test(config.drainTimeout)) {
    throw new InvalidInjectorConfigError('drainTimeout', `${JSON.stringify(config.drainTimeout)} is not a duration like 5s or 500ms`);
  }
  if (!Number.isInteger(config.preStopDelaySeconds) || config.preStopDelaySeconds < 0) {
    throw new InvalidInjectorConfigError('preStopDelaySeconds', `${String(config.preStopDelaySeconds)} is not a whole number of seconds ≥ 0`);
  }
  if (!DNS_LABEL.test(config.installNamespace)) {
    throw new InvalidInjectorConfigError('installNamespace', `${JSON.stringify(config.installNamespace)} is not a namespace name`);
  }
}

/** The least memory the sidecar may be given (request or limit): less is a typo, not a setting a proxy runs in. */
export const MIN_SIDECAR_MEMORY = '16Mi';

/**
 * Why `text` is not a CPU or memory amount for the sidecar, or undefined. Memory must be a
 * whole number of bytes (`500m` is half a byte, a typo for `500Mi`, which the API server would
 * take) and at least {@link MIN_SIDECAR_MEMORY}.
 */
export function sidecarResourceProblem(resource: 'cpu' | 'memory', text: string): string | undefined {
  const problem = resourceQuantityProblem(text);
  if (problem !== undefined || resource === 'cpu') return problem;
  if (isWholeQuantity(text) !== true) {
    return `${JSON.stringify(text)} is not a whole number of bytes${text.endsWith('m') ? ` (m is a thousandth; ${text.slice(0, -1)}Mi is mebibytes)` : ''}`;
  }
  if (parseQuantity(text)! < parseQuantity(MIN_SIDECAR_MEMORY)!) return `${JSON.stringify(text)} is less than the sidecar's minimum of ${MIN_SIDECAR_MEMORY}`;
  return undefined;
}

/** `cpu` or `memory` when that request is more than its limit (the API server refuses such a container), else undefined. */
export function requestOverLimit(resources: SidecarResources): 'cpu' | 'memory' | undefined {
  for (const resource of ['cpu', 'memory'] as const) {
    const request = resources[`${resource}Request`];
    const limit = resources[`${resource}Limit`];
    if (request !== undefined && limit !== undefined && parseQuantity(request)! > parseQuantity(limit)!) return resource;
  }
  return undefined;
}

/**
 * Why `image` is not a container image reference (`[registry[:port]/]name[:tag][@digest]`), or
 * undefined. Loose on purpose: the registry is the judge of names; this refuses what could not be
 * one (empty, spaces, upper case in the path) before it reaches a pod.
 */
export function imageReferenceProblem(image: string): string | undefined {
  const reference =
    /^(?:[A-Za-z0-9.-]+(?::[0-9]+)?\/)?[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@[a-z0-9]+:[a-fA-F0-9]{32,})?$/;
  return reference.test(image) ? undefined : `${JSON.stringify(image)} is not an image reference like registry.example.com/dubbo-mesh:0.1.0`;
}
