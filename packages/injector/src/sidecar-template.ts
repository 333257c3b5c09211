// The sidecar container the injector adds: `dubbo-mesh proxy` with its flags generated from the
// proxy's own flag table (PROXY_FLAGS), so a renamed or removed flag fails here, at build and in
// the unit test, not in a pod that crash-loops. The pod's identity comes from the downward API
// at run time: a Deployment's pod has only a `generateName` when it is reviewed.

import { DEFAULT_APPLICATION_PORT, DUBBO_PORT_NAME, INJECT_LABEL, SIDECAR_CONTAINER, SIDECAR_INBOUND_PORT_NAME } from '@dubbo-mesh/kubernetes/conventions';
import { PROXY_FLAGS } from '@dubbo-mesh/sidecar/flags';
import type { PodContainer, PodObject } from './admission-review.js';
import type { ProxyLogLevel, SidecarResources } from './injector-config.js';

/**
 * The version of what the injector adds (the container, the recipe), recorded in the status
 * annotation. Raise it when the injected shape changes, so an operator can tell which pods
 * need a restart to get the new one.
 */
export const SIDECAR_TEMPLATE_VERSION = 1;

/**
 * The sidecar's admin port name. Not `dubbo-mesh-admin`: a port name is an IANA service name,
 * at most 15 characters, and the API server refuses a pod with a longer one.
 */
export const SIDECAR_ADMIN_PORT_NAME = 'dubbo-mesh-adm';

/**
 * Where the sidecar mounts the pod's plugin volume (`dubbo-mesh.io/plugin-volume`), read-only,
 * and the proxy's `--plugin-module-root`: a DubboPlugin's `module` must be a file under it.
 */
export const PLUGIN_MODULE_ROOT = '/etc/dubbo-mesh/plugins';

/** The user and group the sidecar runs as: the image's non-root user (`node`, 1000:1000). */
export const SIDECAR_USER_ID = 1000;

/**
 * The labels left out of `--labels`: the controllers' revision hashes change on every rollout
 * (and say nothing a route selects on), and the inject label is the mesh's own switch.
 */
export const EXCLUDED_LABELS: readonly string[] = Object.freeze(['pod-template-hash', 'controller-revision-hash', INJECT_LABEL]);

/** What one sidecar is made from. */
export interface SidecarTemplateInput {
  readonly image: string;
  /** The control plane's gRPC address HOST:PORT. */
  readonly controlPlane: string;
  /** The mesh service (`--service`); omitted when undefined. */
  readonly service: string | undefined;
  /** The pod's labels; {@link proxyLabels} chooses which go into `--labels`. */
  readonly labels: Readonly<Record<string, string>>;
  readonly appPort: number;
  readonly inboundPort: number;
  readonly adminPort: number;
  readonly outboundPort: number;
  readonly logLevel: ProxyLogLevel;
  readonly drainTimeout: string;
  readonly resources: SidecarResources;
  /** A native sidecar (an init container with `restartPolicy: Always`) or a plain container. */
  readonly native: boolean;
  /** Plain container: seconds the preStop hook waits before the proxy gets SIGTERM. */
  readonly preStopDelaySeconds: number;
  /** The pod volume mounted at {@link PLUGIN_MODULE_ROOT} (and `--plugin-module-root`); undefined: neither. */
  readonly pluginVolume: string | undefined;
}

const PROXY_FLAG_NAMES = new Set(PROXY_FLAGS.map((flag) => flag.name));

/** `--name value`, refusing a flag the proxy does not have (a bug in this file, caught by its test). */
function flag(name: string, value: string): [string, string] {
  if (!PROXY_FLAG_NAMES.has(name)) throw new Error(`dubbo-mesh proxy has no flag --${name}`);
  return [`--${name}`, value];
}

/**
 * `--labels` from the pod's labels: `k=v,k=v`, sorted by key, leaving out {@link EXCLUDED_LABELS}
 * and any label the flag cannot carry (a `,` or `=`, or a `$` the kubelet would read as a
 * variable reference; valid label values have none of them, but the review's object is not
 * validated yet). Undefined when none is left.
 */
export function proxyLabels(labels: Readonly<Record<string, string>>): string | undefined {
  const pairs = Object.entries(labels)
    .filter(([key, value]) => !EXCLUDED_LABELS.includes(key) && !/[,=]/.test(value) && !/[,=]/.test(key) && !value.includes('$'))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `${key}=${value}`);
  return pairs.length === 0 ? undefined : pairs.join(',');
}

/**
 * The proxy's command line (after the image's `dubbo-mesh` entrypoint). `$(POD_NAME)` and
 * `$(POD_NAMESPACE)` are expanded by the kubelet from the container's env (the downward API).
 */
export function proxyArgs(input: SidecarTemplateInput): string[] {
  const labels = proxyLabels(input.labels);
  return [
    'proxy',
    ...flag('node', '$(POD_NAME).$(POD_NAMESPACE)'),
    ...flag('namespace', '$(POD_NAMESPACE)'),
    ...flag('control-plane', input.controlPlane),
    ...(input.service === undefined ? [] : flag('service', input.service)),
    ...(labels === undefined ? [] : flag('labels', labels)),
    ...flag('outbound', `127.0.0.1:${input.outboundPort}`),
    ...flag('inbound', `0.0.0.0:${input.inboundPort}`),
    ...flag('inbound-target', `127.0.0.1:${input.appPort}`),
    // On the pod's address, not loopback: the kubelet probes it.
    ...flag('admin', `0.0.0.0:${input.adminPort}`),
    ...flag('log-level', input.logLevel),
    ...flag('drain-timeout', input.drainTimeout),
    // The mounted folder, so a DubboPlugin cannot make the proxy load a file from elsewhere
    // (its image, a service account token's folder): the pod's owner chose what is in it.
    ...(input.pluginVolume === undefined ? [] : flag('plugin-module-root', PLUGIN_MODULE_ROOT)),
  ];
}

/** The service a pod's sidecar reports: `app`, else `app.kubernetes.io/name`, else none. */
export function serviceFromLabels(labels: Readonly<Record<string, string>>): string | undefined {
  return labels.app || labels['app.kubernetes.io/name'] || undefined;
}

/**
 * The application's Dubbo port: the annotation's (`annotated`) when given — an explicit
 * per-pod choice wins over a convention, and it is the way out when the port named `dubbo` is
 * not where the application listens for Dubbo; else the first TCP container port named `dubbo`
 * of the application containers; else {@link DEFAULT_APPLICATION_PORT}.
 */
export function applicationPort(pod: PodObject, annotated: number | undefined): number {
  if (annotated !== undefined) return annotated;
  for (const container of pod.spec.containers) {
    if (container.name === SIDECAR_CONTAINER) continue;
    for (const port of container.ports ?? []) {
      if (port.name === DUBBO_PORT_NAME && (port.protocol ?? 'TCP') === 'TCP' && typeof port.containerPort === 'number') return port.containerPort;
    }
  }
  return DEFAULT_APPLICATION_PORT;
}

/** The container's `resources` from the settings: requests and limits that are set. */
function containerResources(resources: SidecarResources): Record<string, Record<string, string>> {
  const requests: Record<string, string> = {};
  const limits: Record<string, string> = {};
  if (resources.cpuRequest !== undefined) requests.cpu = resources.cpuRequest;
  if (resources.memoryRequest !== undefined) requests.memory = resources.memoryRequest;
  if (resources.cpuLimit !== undefined) limits.cpu = resources.cpuLimit;
  if (resources.memoryLimit !== undefined) limits.memory = resources.memoryLimit;
  return { ...(Object.keys(requests).length > 0 ? { requests } : {}), ...(Object.keys(limits).length > 0 ? { limits } : {}) };
}

/** The sidecar container `dubbo-mesh-proxy`. */
export function sidecarContainer(input: SidecarTemplateInput): PodContainer {
  const container: PodContainer = {
    name: SIDECAR_CONTAINER,
    image: input.image,
    args: proxyArgs(input),
    ports: [
      { name: SIDECAR_INBOUND_PORT_NAME, containerPort: input.inboundPort, protocol: 'TCP' },
      { name: SIDECAR_ADMIN_PORT_NAME, containerPort: input.adminPort, protocol: 'TCP' },
    ],
    env: [
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
    ],
    // The whole volume, not a subPath: only a whole ConfigMap volume gets the kubelet's updates
    // (a symlink swap the proxy follows, reloading the module).
    ...(input.pluginVolume === undefined ? {} : { volumeMounts: [{ name: input.pluginVolume, mountPath: PLUGIN_MODULE_ROOT, readOnly: true }] }),
    resources: containerResources(input.resources),
    securityContext: {
      runAsNonRoot: true,
      runAsUser: SIDECAR_USER_ID,
      runAsGroup: SIDECAR_USER_ID,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    // The proxy binds its listeners before its admin API: once the admin port accepts, the
    // listeners are there. For a native sidecar the kubelet starts the next init container and
    // the application only after this probe succeeded, so the application's first calls find
    // their sidecar listening.
    startupProbe: { tcpSocket: { port: input.adminPort }, periodSeconds: 1, timeoutSeconds: 1, failureThreshold: 120 },
    // Ready once the first snapshot from the control plane is in force (the admin's /ready).
    readinessProbe: { httpGet: { path: '/ready', port: input.adminPort }, periodSeconds: 5, timeoutSeconds: 1, failureThreshold: 3 },
    // A crash's last lines (a bad flag is one line naming it) show in `kubectl describe pod`.
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
  if (input.native) {
    // A native sidecar starts before the pod's other init containers (so they can call through
    // it) and is stopped by the kubelet only after every application container has exited,
    // so it serves the application's calls for the whole of the application's drain. A preStop
    // wait would then only delay the pod's end and eat its grace period: there is none, and
    // SIGTERM goes straight to the proxy, which drains its calls in flight (--drain-timeout).
    container.restartPolicy = 'Always';
  } else {
    // A plain container is stopped at the same moment as the application. The wait keeps the
    // sidecar serving while the application drains (its calls out, the calls still coming in),
    // then SIGTERM makes the proxy drain what is in flight. `sleep` is in the image (Node's
    // Debian slim base); the preStop `sleep` action needs Kubernetes ≥ 1.30, later than the
    // clusters that need a plain container at all.
    if (input.preStopDelaySeconds > 0) container.lifecycle = { preStop: { exec: { command: ['sleep', String(input.preStopDelaySeconds)] } } };
  }
  return container;
}
