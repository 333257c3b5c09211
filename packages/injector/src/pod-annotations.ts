// Per-pod annotations (`dubbo-mesh.io/…`) that override the injector's configuration for one
// pod. Labels select pods (the webhook's selectors read them too); annotations only the handler
// reads. Every value is checked here, all errors collected, each naming its annotation and the
// values it accepts, so a refused pod's message says what to fix.

import {
  DEFAULT_INBOUND_PORT,
  DEFAULT_OUTBOUND_PORT,
  DEFAULT_SIDECAR_ADMIN_PORT,
  INJECTED_STATUS_ANNOTATION,
  WEIGHT_ANNOTATION,
} from '@dubbo-mesh/kubernetes/conventions';
import { LOG_LEVELS } from '@dubbo-mesh/sidecar/flags';
import type { PodObject } from './admission-review.js';
import {
  imageReferenceProblem,
  requestOverLimit,
  sidecarResourceProblem,
  type InjectorConfig,
  type ProxyLogLevel,
  type SidecarResources,
} from './injector-config.js';
import { JAVA_RECIPE_MODES, type JavaRecipeMode } from './java-recipe.js';
import { applicationPort, SIDECAR_USER_ID } from './sidecar-template.js';

/** The per-pod annotations the injector reads. */
export const POD_ANNOTATIONS = Object.freeze({
  /** The sidecar's image. */
  proxyImage: 'dubbo-mesh.io/proxy-image',
  /** The sidecar's CPU request (a Kubernetes quantity). */
  proxyCpuRequest: 'dubbo-mesh.io/proxy-cpu-request',
  /** The sidecar's CPU limit. */
  proxyCpuLimit: 'dubbo-mesh.io/proxy-cpu-limit',
  /** The sidecar's memory request. */
  proxyMemoryRequest: 'dubbo-mesh.io/proxy-memory-request',
  /** The sidecar's memory limit. */
  proxyMemoryLimit: 'dubbo-mesh.io/proxy-memory-limit',
  /** The application's Dubbo port, where inbound calls go (wins over a container port named `dubbo`). */
  appPort: 'dubbo-mesh.io/app-port',
  /** The sidecar's inbound port. */
  inboundPort: 'dubbo-mesh.io/inbound-port',
  /** The sidecar's admin port (probed by the kubelet). */
  adminPort: 'dubbo-mesh.io/admin-port',
  /** The sidecar's outbound port on 127.0.0.1 (only with the Java recipe off). */
  outboundPort: 'dubbo-mesh.io/outbound-port',
  /** The sidecar's log level. */
  logLevel: 'dubbo-mesh.io/log-level',
  /** `true`: a native sidecar (init container with restartPolicy Always); `false`: a plain container. */
  nativeSidecar: 'dubbo-mesh.io/native-sidecar',
  /** The Java recipe: `consumer`, `migration` or `off`. */
  javaRecipe: 'dubbo-mesh.io/java-recipe',
  /** The containers that get the Java recipe, comma-separated (default: every application container). */
  javaContainers: 'dubbo-mesh.io/java-containers',
  /** The mesh service name the sidecar reports (default: the pod's `app`, else `app.kubernetes.io/name` label). */
  service: 'dubbo-mesh.io/service',
  /** A volume of the pod mounted read-only in the sidecar at `/etc/dubbo-mesh/plugins`, the only folder in-process plugin modules load from. */
  pluginVolume: 'dubbo-mesh.io/plugin-volume',
});

/** Annotations under `dubbo-mesh.io/` that are not the injector's but are known (no "unknown annotation" warning). */
const OTHER_KNOWN_ANNOTATIONS = new Set<string>([WEIGHT_ANNOTATION, INJECTED_STATUS_ANNOTATION]);

/** What one pod gets: the configuration with its annotations applied. */
export interface PodInjectionSettings {
  readonly image: string;
  readonly resources: SidecarResources;
  /** The application port the annotation names; undefined: the container port named `dubbo`, else the default. */
  readonly appPort: number | undefined;
  readonly inboundPort: number;
  readonly adminPort: number;
  readonly outboundPort: number;
  readonly logLevel: ProxyLogLevel;
  readonly nativeSidecar: boolean;
  readonly javaRecipe: JavaRecipeMode;
  /** The containers named by the annotation; undefined: every application container. */
  readonly javaContainers: readonly string[] | undefined;
  /** The service the annotation names; undefined: from the labels. */
  readonly service: string | undefined;
  /** The pod volume holding in-process plugin modules; undefined: none mounted, and no `--plugin-module-root`. */
  readonly pluginVolume: string | undefined;
}

/** The annotations read: the settings, the clashes of the sidecar's default ports, or every error; warnings either way (an unknown `dubbo-mesh.io/` annotation). */
export type AnnotationReading =
  | { readonly valid: true; readonly settings: PodInjectionSettings; readonly clashes?: undefined; readonly warnings: string[] }
  /**
   * Valid, but a default port of the sidecar is one the pod uses (a port it declares): the pod is
   * admitted without a sidecar, and each clash (one line) names the annotation that moves that port.
   */
  | { readonly valid: true; readonly settings?: undefined; readonly clashes: string[]; readonly warnings: string[] }
  | { readonly valid: false; readonly errors: string[]; readonly warnings: string[] };

/** A Kubernetes label value (what the `app` label could hold): what `--service` is given from a label. */
const LABEL_VALUE = /^(?:[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)$/;
/** A container name (DNS-1123 label). */
const CONTAINER_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

const PORT_ANNOTATIONS = ['appPort', 'inboundPort', 'adminPort', 'outboundPort'] as const;
/** The lowest port a process without CAP_NET_BIND_SERVICE may bind (Linux's default `ip_unprivileged_port_start`). */
const UNPRIVILEGED_PORT_START = 1024;

/**
 * The settings for `pod`: `config` with the pod's annotations applied, every annotation checked
 * (each error names the annotation and what it accepts), and the sidecar's ports checked
 * against each other, the application's Dubbo port and the ports the pod's containers declare
 * (a clash an annotation made is an error; a clash with a default port is a `clashes` reading).
 */
export function readPodAnnotations(pod: PodObject, config: InjectorConfig): AnnotationReading {
  const annotations = pod.metadata?.annotations ?? {};
  const errors: string[] = [];
  const warnings: string[] = [];
  const known = new Set<string>(Object.values(POD_ANNOTATIONS));
  for (const key of Object.keys(annotations)) {
    if (key.startsWith('dubbo-mesh.io/') && !known.has(key) && !OTHER_KNOWN_ANNOTATIONS.has(key)) {
      // Short: the API server may cut a warning longer than 256 characters.
      warnings.push(`unknown annotation ${key} is ignored (a typo? docs/kubernetes.md lists the injector's annotations)`);
    }
  }
  const get = (key: keyof typeof POD_ANNOTATIONS): string | undefined => annotations[POD_ANNOTATIONS[key]];
  const refuse = (key: keyof typeof POD_ANNOTATIONS, problem: string) => errors.push(`annotation ${POD_ANNOTATIONS[key]}: ${problem}`);

  let image = config.image;
  const imageValue = get('proxyImage');
  if (imageValue !== undefined) {
    const problem = imageReferenceProblem(imageValue);
    if (problem === undefined) image = imageValue;
    else refuse('proxyImage', problem);
  }

  const resources: { -readonly [K in keyof SidecarResources]: SidecarResources[K] } = { ...config.resources };
  const resourceKeys = {
    proxyCpuRequest: 'cpuRequest',
    proxyCpuLimit: 'cpuLimit',
    proxyMemoryRequest: 'memoryRequest',
    proxyMemoryLimit: 'memoryLimit',
  } as const;
  const resourcesAnnotated = new Set<keyof SidecarResources>();
  let resourcesValid = true;
  for (const [annotation, key] of Object.entries(resourceKeys) as Array<[keyof typeof resourceKeys, keyof SidecarResources]>) {
    const value = get(annotation);
    if (value === undefined) continue;
    const problem = sidecarResourceProblem(annotation.startsWith('proxyCpu') ? 'cpu' : 'memory', value);
    if (problem === undefined) {
      resources[key] = value;
      resourcesAnnotated.add(key);
    } else {
      refuse(annotation, `${problem}: it takes ${annotation.startsWith('proxyCpu') ? 'CPU like 100m or 0.5' : 'memory like 128Mi or 1Gi'}`);
      resourcesValid = false;
    }
  }
  if (resourcesValid) {
    for (const resource of ['cpu', 'memory'] as const) {
      const requestKey = `${resource}Request` as const;
      const limitKey = `${resource}Limit` as const;
      if (requestOverLimit({ [requestKey]: resources[requestKey], [limitKey]: resources[limitKey] }) === undefined) continue;
      // A limit below the default request lowers the request too, as Kubernetes itself does for
      // a container that has a limit and no request; a request set above the limit is an error.
      if (resourcesAnnotated.has(limitKey) && !resourcesAnnotated.has(requestKey)) resources[requestKey] = resources[limitKey];
      else {
        const annotation = resource === 'cpu' ? 'proxyCpuRequest' : 'proxyMemoryRequest';
        const limitAnnotation = resource === 'cpu' ? POD_ANNOTATIONS.proxyCpuLimit : POD_ANNOTATIONS.proxyMemoryLimit;
        refuse(
          annotation,
          `${resources[requestKey]} is more than the ${resource} limit ${resources[limitKey]} (${resourcesAnnotated.has(limitKey) ? limitAnnotation : `the injector's default; raise it with ${limitAnnotation}`})`,
        );
      }
    }
  }

  const ports: Record<(typeof PORT_ANNOTATIONS)[number], number | undefined> = {
    appPort: undefined,
    inboundPort: DEFAULT_INBOUND_PORT,
    adminPort: DEFAULT_SIDECAR_ADMIN_PORT,
    outboundPort: DEFAULT_OUTBOUND_PORT,
  };
  const portsAnnotated = new Set<string>();
  for (const key of PORT_ANNOTATIONS) {
    const value = get(key);
    if (value === undefined) continue;
    // The application binds its own port, so any port will do; the sidecar's are bound by a
    // non-root user with every capability dropped, which the kernel may refuse a port below 1024.
    const lowest = key === 'appPort' ? 1 : UNPRIVILEGED_PORT_START;
    if (!/^[0-9]{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 65535) {
      refuse(key, `${JSON.stringify(value)} is not a port: it takes a number from ${lowest} to 65535`);
    } else if (Number(value) < lowest) {
      refuse(
        key,
        `${value} is a privileged port the sidecar (user ${SIDECAR_USER_ID}, no capabilities) may not bind: it takes a number from ${lowest} to 65535`,
      );
    } else {
      ports[key] = Number(value);
      portsAnnotated.add(key);
    }
  }

  let logLevel = config.proxyLogLevel;
  const logLevelValue = get('logLevel');
  if (logLevelValue !== undefined) {
    if ((LOG_LEVELS as readonly string[]).includes(logLevelValue)) logLevel = logLevelValue as ProxyLogLevel;
    else refuse('logLevel', `${JSON.stringify(logLevelValue)} is not one of ${LOG_LEVELS.join(', ')}`);
  }

  let nativeSidecar = config.nativeSidecar;
  const nativeValue = get('nativeSidecar');
  if (nativeValue !== undefined) {
    if (nativeValue === 'true' || nativeValue === 'false') nativeSidecar = nativeValue === 'true';
    else refuse('nativeSidecar', `${JSON.stringify(nativeValue)} is not one of true, false`);
  }

  let javaRecipe = config.javaRecipe;
  const recipeValue = get('javaRecipe');
  if (recipeValue !== undefined) {
    if ((JAVA_RECIPE_MODES as readonly string[]).includes(recipeValue)) javaRecipe = recipeValue as JavaRecipeMode;
    else refuse('javaRecipe', `${JSON.stringify(recipeValue)} is not one of ${JAVA_RECIPE_MODES.join(', ')}`);
  }

  let javaContainers: string[] | undefined;
  const containersValue = get('javaContainers');
  if (containersValue !== undefined) {
    const names = containersValue
      .split(',')
      .map((name) => name.trim())
      .filter((name) => name !== '');
    const applicationNames = pod.spec.containers.map((container) => container.name);
    const unknown = names.filter((name) => !CONTAINER_NAME.test(name) || !applicationNames.includes(name));
    if (names.length === 0) refuse('javaContainers', `takes a comma-separated list of container names (${applicationNames.join(', ')})`);
    else if (unknown.length > 0) {
      refuse(
        'javaContainers',
        `${unknown.map((name) => JSON.stringify(name)).join(', ')} names no container of the pod (its containers: ${applicationNames.join(', ')})`,
      );
    } else javaContainers = [...new Set(names)];
  }

  let service: string | undefined;
  const serviceValue = get('service');
  if (serviceValue !== undefined) {
    if (LABEL_VALUE.test(serviceValue)) service = serviceValue;
    else
      refuse(
        'service',
        `${JSON.stringify(serviceValue)} is not a service name (letters, digits, -, _ and ., up to 63, starting and ending with a letter or digit)`,
      );
  }

  let pluginVolume: string | undefined;
  const pluginVolumeValue = get('pluginVolume');
  if (pluginVolumeValue !== undefined) {
    // Only a volume the pod declares: a mount of any other name is refused by the API server
    // after the patch, with a message about a container the user never wrote.
    const volumeNames = (pod.spec.volumes ?? []).map((volume) => volume.name);
    const theirs = volumeNames.length === 0 ? 'the pod has no volumes' : `its volumes: ${volumeNames.join(', ')}`;
    if (pluginVolumeValue === '') refuse('pluginVolume', `takes the name of a volume of the pod holding plugin modules (${theirs})`);
    else if (!volumeNames.includes(pluginVolumeValue)) refuse('pluginVolume', `${JSON.stringify(pluginVolumeValue)} names no volume of the pod (${theirs})`);
    else pluginVolume = pluginVolumeValue;
  }

  // The resolve file the control plane writes for the namespace names 127.0.0.1:20881, so the
  // recipe and a different outbound port cannot go together.
  if (portsAnnotated.has('outboundPort') && javaRecipe !== 'off') {
    refuse(
      'outboundPort',
      `is only allowed with ${POD_ANNOTATIONS.javaRecipe}: off, because the namespace's resolve file sends Java calls to 127.0.0.1:${DEFAULT_OUTBOUND_PORT}`,
    );
  }
  const conflicts = portConflicts(pod, ports, portsAnnotated, javaRecipe);
  errors.push(...conflicts.errors);

  if (errors.length > 0) return { valid: false, errors, warnings };
  if (conflicts.clashes.length > 0) return { valid: true, clashes: conflicts.clashes, warnings };
  return {
    valid: true,
    warnings,
    settings: {
      image,
      resources: Object.freeze(resources),
      appPort: ports.appPort,
      inboundPort: ports.inboundPort!,
      adminPort: ports.adminPort!,
      outboundPort: ports.outboundPort!,
      logLevel,
      nativeSidecar,
      javaRecipe,
      javaContainers,
      service,
      pluginVolume,
    },
  };
}

/** What the sidecar's ports clash with: `errors` (an annotated port: the pod is refused) and `clashes` (a default port: no sidecar). */
interface PortConflicts {
  readonly errors: string[];
  readonly clashes: string[];
}

/**
 * The sidecar's ports must differ from each other, from the application's Dubbo port and from
 * every port the pod's containers declare (they share one network namespace: a second listener
 * on a port fails to bind, and the sidecar or the application would crash-loop). A clash the
 * pod's annotations made is an error naming the annotation; a clash with a port the user never
 * chose (the sidecar's default) is not the pod's fault: the pod is admitted without a sidecar,
 * and the clash says which annotation moves the sidecar's port.
 */
function portConflicts(
  pod: PodObject,
  ports: Record<(typeof PORT_ANNOTATIONS)[number], number | undefined>,
  annotated: ReadonlySet<string>,
  javaRecipe: JavaRecipeMode,
): PortConflicts {
  const errors: string[] = [];
  const clashes: string[] = [];
  const sidecarPorts = (['inboundPort', 'adminPort', 'outboundPort'] as const).map((key) => ({ key, port: ports[key]! }));
  // Two defaults never clash: only a pair with an annotated port can.
  for (let i = 0; i < sidecarPorts.length; i++) {
    for (let j = i + 1; j < sidecarPorts.length; j++) {
      if (sidecarPorts[i]!.port === sidecarPorts[j]!.port) {
        errors.push(
          `annotations ${POD_ANNOTATIONS[sidecarPorts[i]!.key]} and ${POD_ANNOTATIONS[sidecarPorts[j]!.key]}: the sidecar's ports must differ, both are ${sidecarPorts[i]!.port}`,
        );
      }
    }
  }
  // The port the sidecar sends inbound calls to (sidecar-template.ts), annotated or not. A port
  // a container declares is checked with the declared ports below.
  const appPort = applicationPort(pod, ports.appPort);
  const declared = (port: number) =>
    [...(pod.spec.initContainers ?? []), ...pod.spec.containers].some((container) =>
      (container.ports ?? []).some((entry) => entry.containerPort === port && (entry.protocol ?? 'TCP') === 'TCP'),
    );
  for (const { key, port } of sidecarPorts) {
    if (port !== appPort) continue;
    if (ports.appPort !== undefined) {
      errors.push(`annotation ${POD_ANNOTATIONS.appPort}: ${port} is also the sidecar's ${describePort(key)} (${POD_ANNOTATIONS[key]})`);
    } else if (!declared(port)) {
      // Only an annotated sidecar port can be the default application port here: the defaults differ.
      errors.push(`annotation ${POD_ANNOTATIONS[key]}: ${port} is also the application's Dubbo port (the default; ${POD_ANNOTATIONS.appPort} names another)`);
    }
  }
  for (const container of [...(pod.spec.initContainers ?? []), ...pod.spec.containers]) {
    for (const entry of container.ports ?? []) {
      if ((entry.protocol ?? 'TCP') !== 'TCP') continue;
      const clash = sidecarPorts.find(({ port }) => port === entry.containerPort);
      if (clash === undefined) continue;
      if (annotated.has(clash.key)) {
        const whose = `container ${container.name}'s port${entry.name === undefined ? '' : ` ${entry.name}`}`;
        errors.push(`annotation ${POD_ANNOTATIONS[clash.key]}: port ${clash.port} is also ${whose}: set ${POD_ANNOTATIONS[clash.key]} to a free port`);
      } else if (clash.key === 'outboundPort' && javaRecipe !== 'off') {
        // A warning: at most 256 characters with a container name of 63, the longest there is.
        clashes.push(
          `container ${container.name} uses port ${clash.port}, the sidecar's outbound port: the Java recipe's resolve file names ${DEFAULT_OUTBOUND_PORT}, so set ${POD_ANNOTATIONS.javaRecipe}: off and ${POD_ANNOTATIONS.outboundPort}`,
        );
      } else {
        clashes.push(
          `container ${container.name} uses port ${clash.port}, the sidecar's default ${describePort(clash.key)}: set ${POD_ANNOTATIONS[clash.key]} to a free port`,
        );
      }
    }
  }
  return { errors, clashes };
}

function describePort(key: 'inboundPort' | 'adminPort' | 'outboundPort'): string {
  return key === 'inboundPort' ? 'inbound port' : key === 'adminPort' ? 'admin port' : 'outbound port';
}
