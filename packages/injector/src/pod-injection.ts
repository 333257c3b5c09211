// The injection itself, on a copy of the pod: the sidecar, the Java recipe and the status
// annotation. The webhook's patch is the diff of the pod before and after (json-patch.ts), so
// this code only has to make the pod it wants.

import { INJECTED_STATUS_ANNOTATION, SIDECAR_CONTAINER } from '@dubbo-mesh/kubernetes/conventions';
import type { PodObject } from './admission-review.js';
import type { InjectorConfig } from './injector-config.js';
import {
  applyJavaRecipe,
  isResolveVolume,
  JAVA_RECIPE_MIGRATION_WARNING,
  javaRecipeConflict,
  RESOLVE_VOLUME_NAME,
  resolveVolume,
  type JavaRecipeMode,
} from './java-recipe.js';
import type { PodInjectionSettings } from './pod-annotations.js';
import { applicationPort, serviceFromLabels, sidecarContainer, SIDECAR_TEMPLATE_VERSION } from './sidecar-template.js';

/** What the injector added to a pod, kept as JSON in its {@link INJECTED_STATUS_ANNOTATION} annotation. */
export interface InjectedStatus {
  /** {@link SIDECAR_TEMPLATE_VERSION} of the injector that injected the pod. */
  readonly version: number;
  /** The sidecar container's name. */
  readonly container: string;
  /** `native`: the first init container, restartPolicy Always; `container`: the last container. */
  readonly mode: 'native' | 'container';
  readonly image: string;
  /** The Java recipe applied (`off` when no container got it). */
  readonly recipe: JavaRecipeMode;
  /** The containers that got the Java recipe. */
  readonly javaContainers: readonly string[];
  /** The pod volumes the injector added or relies on. */
  readonly volumes: readonly string[];
}

/** The injected pod, or why the pod is left as it is. */
export type InjectionResult =
  | { readonly injected: true; readonly pod: PodObject; readonly status: InjectedStatus; readonly warnings: string[] }
  | { readonly injected: false; readonly reason: string; readonly warnings: string[] };

/**
 * `pod` with its sidecar (a copy; `pod` is left alone), made with `settings` (the pod's
 * annotations over `config`). A plain-container sidecar is not added to a pod whose
 * restartPolicy is not Always (a Job's): it would never exit, and the Job would never end.
 */
export function injectPod(pod: PodObject, settings: PodInjectionSettings, config: InjectorConfig): InjectionResult {
  const warnings: string[] = [];
  const restartPolicy = pod.spec.restartPolicy ?? 'Always';
  if (!settings.nativeSidecar && restartPolicy !== 'Always') {
    const reason = `a plain-container sidecar would keep a pod with restartPolicy ${restartPolicy} running forever; use a native sidecar (Kubernetes ≥ 1.29)`;
    return { injected: false, reason, warnings: [`no dubbo-mesh sidecar: ${reason}`] };
  }
  const injected = structuredClone(pod);
  const labels = injected.metadata?.labels ?? {};
  const sidecar = sidecarContainer({
    image: settings.image,
    controlPlane: config.controlPlane,
    service: settings.service ?? serviceFromLabels(labels),
    labels,
    appPort: applicationPort(pod, settings.appPort),
    inboundPort: settings.inboundPort,
    adminPort: settings.adminPort,
    outboundPort: settings.outboundPort,
    logLevel: settings.logLevel,
    drainTimeout: config.drainTimeout,
    resources: settings.resources,
    native: settings.nativeSidecar,
    preStopDelaySeconds: config.preStopDelaySeconds,
    pluginVolume: settings.pluginVolume,
  });

  const javaContainers: string[] = [];
  const volumes: string[] = [];
  if (settings.javaRecipe !== 'off') {
    const existing = (injected.spec.volumes ?? []).find((volume) => volume.name === RESOLVE_VOLUME_NAME);
    if (existing !== undefined && !isResolveVolume(existing)) {
      warnings.push(`no Java recipe: the pod already has a volume named ${RESOLVE_VOLUME_NAME} that is not the mesh's resolve file`);
    } else {
      const names = settings.javaContainers ?? injected.spec.containers.map((container) => container.name);
      for (const container of injected.spec.containers) {
        if (!names.includes(container.name)) continue;
        const conflict = javaRecipeConflict(container);
        if (conflict !== undefined) {
          warnings.push(`no Java recipe in container ${container.name}: ${conflict}`);
          continue;
        }
        warnings.push(...applyJavaRecipe(container, settings.javaRecipe, settings.inboundPort));
        javaContainers.push(container.name);
      }
      if (javaContainers.length > 0) {
        if (existing === undefined) injected.spec.volumes = [...(injected.spec.volumes ?? []), resolveVolume()];
        volumes.push(RESOLVE_VOLUME_NAME);
        if (settings.javaRecipe === 'migration') warnings.push(JAVA_RECIPE_MIGRATION_WARNING);
      }
    }
  }

  if (settings.nativeSidecar) injected.spec.initContainers = [sidecar, ...(injected.spec.initContainers ?? [])];
  else injected.spec.containers = [...injected.spec.containers, sidecar];

  // The pod's own volume, not added: the sidecar relies on it.
  if (settings.pluginVolume !== undefined) volumes.push(settings.pluginVolume);

  const status: InjectedStatus = {
    version: SIDECAR_TEMPLATE_VERSION,
    container: SIDECAR_CONTAINER,
    mode: settings.nativeSidecar ? 'native' : 'container',
    image: settings.image,
    recipe: javaContainers.length > 0 ? settings.javaRecipe : 'off',
    javaContainers,
    volumes,
  };
  const metadata = (injected.metadata ??= {});
  metadata.annotations = { ...metadata.annotations, [INJECTED_STATUS_ANNOTATION]: JSON.stringify(status) };
  return { injected: true, pod: injected, status, warnings };
}
