// Which pods get a sidecar (SPEC "Injector"). The webhook's selectors already send only pods
// labelled `dubbo-mesh.io/inject: "true"` or from namespaces labelled `enabled`, but the handler
// decides again from what it can see, so a webhook configured wider (or a test calling the
// handler) never injects a pod it should not.

import { INJECT_LABEL, INJECTED_STATUS_ANNOTATION, SIDECAR_CONTAINER } from '@dubbo-mesh/kubernetes/conventions';
import type { PodObject } from './admission-review.js';
import type { InjectorConfig } from './injector-config.js';

/** The label the mesh's own objects carry (`deploy/`): their pods never get a sidecar. */
export const PART_OF_LABEL = 'app.kubernetes.io/part-of';
/** {@link PART_OF_LABEL}'s value on the mesh's own objects. */
export const PART_OF_MESH = 'dubbo-mesh';

/** Whether a pod is injected, and why not; `warning` when the user should hear about a skip. */
export type InjectionDecision = { readonly inject: true } | { readonly inject: false; readonly reason: string; readonly warning?: string };

/**
 * Whether `pod` (in `namespace`) gets a sidecar. Skipped: pods labelled {@link INJECT_LABEL}
 * `"false"` (or any value but `"true"`, with a warning: a typo must not be read as a yes),
 * pods already injected (the sidecar container or the status annotation: injecting again
 * changes nothing), `hostNetwork` pods (the sidecar's ports would be the node's, shared by every
 * such pod on it), the mesh's own pods (install namespace, or labelled part-of dubbo-mesh),
 * Windows pods (with a warning), and pods with no containers.
 */
export function injectionDecision(pod: PodObject, namespace: string, config: InjectorConfig): InjectionDecision {
  const labels = pod.metadata?.labels ?? {};
  const label = labels[INJECT_LABEL];
  if (label === 'false') return { inject: false, reason: `the pod is labelled ${INJECT_LABEL}: "false"` };
  if (label !== undefined && label !== 'true') {
    const reason = `the pod's label ${INJECT_LABEL} is ${JSON.stringify(label)}, not "true" or "false"`;
    return { inject: false, reason, warning: `no dubbo-mesh sidecar: ${reason}` };
  }
  const containers = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
  if (containers.some((container) => container.name === SIDECAR_CONTAINER))
    return { inject: false, reason: `the pod already has a ${SIDECAR_CONTAINER} container` };
  if (pod.metadata?.annotations?.[INJECTED_STATUS_ANNOTATION] !== undefined) {
    return { inject: false, reason: `the pod already carries the ${INJECTED_STATUS_ANNOTATION} annotation` };
  }
  if (namespace === config.installNamespace) return { inject: false, reason: `the pod is in the mesh's own namespace ${config.installNamespace}` };
  if (labels[PART_OF_LABEL] === PART_OF_MESH) return { inject: false, reason: `the pod is labelled ${PART_OF_LABEL}: ${PART_OF_MESH}` };
  if (pod.spec.hostNetwork === true) {
    const reason = "the pod uses the host's network (hostNetwork), where the sidecar's ports would be the node's";
    return { inject: false, reason, warning: label === 'true' ? `no dubbo-mesh sidecar: ${reason}` : undefined };
  }
  const windows = windowsSource(pod);
  if (windows !== undefined) {
    // The image is Linux, and the API server refuses runAsUser, runAsGroup, seccompProfile and
    // capabilities on a Windows pod's containers: injecting would stop the pod from being created.
    const reason = `the pod runs on Windows (${windows}), where the sidecar's Linux image cannot run`;
    return { inject: false, reason, warning: `no dubbo-mesh sidecar: ${reason}` };
  }
  if (pod.spec.containers.length === 0) return { inject: false, reason: 'the pod has no containers' };
  return { inject: true };
}

/** The node selector label that pins a pod to an OS. */
const OS_LABEL = 'kubernetes.io/os';

/** Where `pod` says it runs on Windows (`spec.os.name`, or a node selector), else undefined. */
function windowsSource(pod: PodObject): string | undefined {
  if (pod.spec.os?.name === 'windows') return 'spec.os.name: windows';
  if (pod.spec.nodeSelector?.[OS_LABEL] === 'windows') return `nodeSelector ${OS_LABEL}: windows`;
  return undefined;
}
