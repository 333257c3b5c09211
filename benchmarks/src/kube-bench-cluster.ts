// The cluster of the Kubernetes benchmark: which Services, Pods and EndpointSlices exist (a
// plan both the fake API server's process and the benchmark compute from the same flags), and
// the objects as a real cluster holds them — Pods as the API server returns them (spec,
// status, owner, managed fields), EndpointSlices as the EndpointSlice controller writes them
// (at most 100 endpoints each, conditions, targetRef), one DubboService per Service.

/** The namespace every object of the benchmark is in. */
export const NAMESPACE = 'default';
/** The Dubbo port of every Service and Pod. */
export const DUBBO_PORT = 20880;
/** The inbound port of every Pod's `dubbo-mesh-proxy` sidecar: where the mesh reaches its endpoints. */
export const SIDECAR_PORT = 20891;
/** The EndpointSlice controller's limit (`--max-endpoints-per-slice`, default 100). */
export const MAX_ENDPOINTS_PER_SLICE = 100;
/** The Service of the Deployment the rolling restart replaces. */
export const ROLLING_SERVICE = 'rolling-app';
/** The label that ties an EndpointSlice to its Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

/** A Pod of the plan. */
export interface PlannedPod {
  readonly name: string;
  readonly ip: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly ready: boolean;
}

/** A Service of the plan, with its Deployment's pods. */
export interface PlannedService {
  readonly name: string;
  /** Its ReplicaSet's `pod-template-hash`. */
  readonly hash: string;
  readonly pods: readonly PlannedPod[];
}

/** What the plan is made from (the benchmark's flags). */
export interface PlanOptions {
  readonly services: number;
  readonly pods: number;
  readonly rolling: number;
  /** Readiness flips: every odd one of the first `flips` services starts with its first pod not ready, so each flip (false, true, false, …) is a new state. */
  readonly flips: number;
}

/** A plain JSON object as the API server holds it. */
export type KubeJson = { apiVersion: string; kind: string; metadata: Record<string, unknown> & { name: string; namespace?: string } } & Record<string, unknown>;

// The characters Kubernetes uses for generated name suffixes (no vowels, no look-alikes).
const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';

/** A deterministic generated-name suffix of `length` characters for `seed`. */
export function suffix(seed: string, length: number): string {
  let hash = 2166136261;
  for (let i = 0; i < seed.length; i++) hash = Math.imul(hash ^ seed.charCodeAt(i), 16777619) >>> 0;
  let out = '';
  for (let i = 0; i < length; i++) {
    hash = Math.imul(hash ^ (hash >>> 13), 2654435761) >>> 0;
    out += ALPHABET[hash % ALPHABET.length];
  }
  return out;
}

/** The IPv4 address of the `n`th pod of a range (10.R.x.y; `range` 1… for the seeded pods, 200 for new ones). */
export function podIp(range: number, n: number): string {
  return `10.${range + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`;
}

/** A pod of Deployment `service` with template hash `hash`. */
export function plannedPod(service: string, hash: string, ip: string, index: number, ready: boolean): PlannedPod {
  return {
    name: `${service}-${hash}-${suffix(`${service}/${hash}/${index}`, 5)}`,
    ip,
    labels: { app: service, version: `v${index % 2}`, 'pod-template-hash': hash },
    ready,
  };
}

/**
 * The cluster: `services` Services `app-N` with the pods spread evenly (5 each by default),
 * and the Deployment of the rolling restart, `rolling-app`, with `rolling` pods.
 */
export function clusterPlan(options: PlanOptions): PlannedService[] {
  const plan: PlannedService[] = [];
  let n = 0;
  for (let s = 0; s < options.services; s++) {
    const name = `app-${s}`;
    const hash = suffix(name, 10);
    const count = Math.floor(options.pods / options.services) + (s < options.pods % options.services ? 1 : 0);
    const pods = Array.from({ length: count }, (_, i) => plannedPod(name, hash, podIp(1, n++), i, !(i === 0 && s < options.flips && s % 2 === 1)));
    plan.push({ name, hash, pods });
  }
  const hash = suffix(ROLLING_SERVICE, 10);
  plan.push({
    name: ROLLING_SERVICE,
    hash,
    pods: Array.from({ length: options.rolling }, (_, i) => plannedPod(ROLLING_SERVICE, hash, podIp(1, n++), i, true)),
  });
  return plan;
}

/** The interface a benchmark service provides. */
export function interfaceOf(service: string): string {
  return `com.example.${service.replace(/-/g, '')}.Service`;
}

/** A ClusterIP Service with one port named dubbo, selecting its Deployment's pods. */
export function serviceObject(name: string, index: number): KubeJson {
  const clusterIp = `10.96.${(index >> 8) & 255}.${index & 255}`;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: NAMESPACE, labels: { app: name } },
    spec: {
      type: 'ClusterIP',
      clusterIP: clusterIp,
      clusterIPs: [clusterIp],
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      internalTrafficPolicy: 'Cluster',
      sessionAffinity: 'None',
      selector: { app: name },
      ports: [{ name: 'dubbo', port: DUBBO_PORT, targetPort: DUBBO_PORT, protocol: 'TCP' }],
    },
    status: { loadBalancer: {} },
  };
}

/** The DubboService of a Service: its interface, endpoints from the Service's EndpointSlices. */
export function dubboServiceObject(name: string): KubeJson {
  return { apiVersion: 'dubbo-mesh.io/v1alpha1', kind: 'DubboService', metadata: { name, namespace: NAMESPACE }, spec: { interfaces: [interfaceOf(name)] } };
}

/**
 * A Pod as the API server returns it: the app container and the mesh's native sidecar, the
 * service account volume, tolerations, owner, managed fields; with `status`, a running pod
 * whose readiness is `ready` (a POST drops the status: it is the kubelet's, written later).
 */
export function podObject(service: PlannedService, pod: PlannedPod, withStatus: boolean): KubeJson {
  const node = `node-${suffix(pod.name, 3)}`;
  const started = '2026-12-01T08:00:00Z';
  const object: KubeJson = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: pod.name,
      generateName: `${service.name}-${service.hash}-`,
      namespace: NAMESPACE,
      labels: { ...pod.labels },
      annotations: { 'kubectl.kubernetes.io/restartedAt': started, 'dubbo-mesh.io/inject': 'true' },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: `${service.name}-${service.hash}`,
          uid: `${suffix(service.hash, 8)}-0000-4000-8000-${suffix(service.name, 12)}`,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
      managedFields: [
        {
          manager: 'kube-controller-manager',
          operation: 'Update',
          apiVersion: 'v1',
          time: started,
          fieldsType: 'FieldsV1',
          fieldsV1: {
            'f:metadata': { 'f:generateName': {}, 'f:labels': { '.': {}, 'f:app': {}, 'f:pod-template-hash': {}, 'f:version': {} }, 'f:ownerReferences': {} },
            'f:spec': { 'f:containers': {}, 'f:initContainers': {}, 'f:serviceAccountName': {}, 'f:terminationGracePeriodSeconds': {} },
          },
        },
        {
          manager: 'kubelet',
          operation: 'Update',
          apiVersion: 'v1',
          time: started,
          fieldsType: 'FieldsV1',
          subresource: 'status',
          fieldsV1: { 'f:status': { 'f:conditions': {}, 'f:containerStatuses': {}, 'f:podIP': {}, 'f:podIPs': {}, 'f:startTime': {} } },
        },
      ],
    },
    spec: {
      containers: [
        {
          name: 'app',
          image: `registry.example.com/${service.name}:1.4.2`,
          ports: [{ name: 'dubbo', containerPort: DUBBO_PORT, protocol: 'TCP' }],
          env: [
            { name: 'DUBBO_IP_TO_REGISTRY', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'status.podIP' } } },
            { name: 'JAVA_TOOL_OPTIONS', value: '-XX:MaxRAMPercentage=75' },
            { name: 'SPRING_PROFILES_ACTIVE', value: 'production' },
          ],
          resources: { requests: { cpu: '500m', memory: '1Gi' }, limits: { memory: '1Gi' } },
          readinessProbe: { tcpSocket: { port: DUBBO_PORT }, periodSeconds: 5, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 },
          volumeMounts: [{ name: 'kube-api-access', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true }],
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
          imagePullPolicy: 'IfNotPresent',
        },
      ],
      initContainers: [
        {
          name: 'dubbo-mesh-proxy',
          image: 'registry.example.com/dubbo-mesh:0.1.0',
          restartPolicy: 'Always',
          args: ['proxy', '--control-plane', 'dubbo-mesh-control-plane.dubbo-mesh:15010', '--inbound', `0.0.0.0:${SIDECAR_PORT}`],
          ports: [{ name: 'dubbo-mesh-in', containerPort: SIDECAR_PORT, protocol: 'TCP' }],
          resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
          imagePullPolicy: 'IfNotPresent',
        },
      ],
      volumes: [
        {
          name: 'kube-api-access',
          projected: {
            defaultMode: 420,
            sources: [
              { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
              { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
              { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
            ],
          },
        },
      ],
      nodeName: node,
      serviceAccountName: 'default',
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      schedulerName: 'default-scheduler',
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
      priority: 0,
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
    },
  };
  if (withStatus) object.status = podStatus(pod, node);
  return object;
}

/** A running pod's status as the kubelet writes it: its IP and readiness. */
export function podStatus(pod: PlannedPod, node = `node-${suffix(pod.name, 3)}`): Record<string, unknown> {
  const started = '2026-12-01T08:00:00Z';
  const condition = (type: string, status: boolean) => ({ type, status: status ? 'True' : 'False', lastProbeTime: null, lastTransitionTime: started });
  const containerStatus = (name: string, image: string) => ({
    name,
    image,
    imageID: `${image}@sha256:${suffix(image, 20)}`,
    containerID: `containerd://${suffix(`${pod.name}/${name}`, 24)}`,
    ready: pod.ready,
    started: true,
    restartCount: 0,
    state: { running: { startedAt: started } },
  });
  return {
    phase: 'Running',
    conditions: [
      condition('PodReadyToStartContainers', true),
      condition('Initialized', true),
      condition('Ready', pod.ready),
      condition('ContainersReady', pod.ready),
      condition('PodScheduled', true),
    ],
    hostIP: `192.168.${(pod.ip.length * 7) % 250}.${node.length}`,
    podIP: pod.ip,
    podIPs: [{ ip: pod.ip }],
    startTime: started,
    qosClass: 'Burstable',
    initContainerStatuses: [containerStatus('dubbo-mesh-proxy', 'registry.example.com/dubbo-mesh:0.1.0')],
    containerStatuses: [containerStatus('app', 'registry.example.com/app:1.4.2')],
  };
}

/** One endpoint of a slice as the EndpointSlice controller writes it. */
export interface SliceEndpointState {
  readonly pod: PlannedPod;
  readonly ready: boolean;
  readonly terminating: boolean;
}

/** An endpoint of an EndpointSlice (`ready` only when serving and not terminating, as the controller sets it). */
export function sliceEndpoint(state: SliceEndpointState): Record<string, unknown> {
  return {
    addresses: [state.pod.ip],
    conditions: { ready: state.ready && !state.terminating, serving: state.ready, terminating: state.terminating },
    targetRef: { kind: 'Pod', namespace: NAMESPACE, name: state.pod.name },
    nodeName: `node-${suffix(state.pod.name, 3)}`,
    zone: `zone-${suffix(state.pod.name, 1)}`,
  };
}

/** The EndpointSlices of a Service, as the controller makes them: ≤ 100 endpoints each. */
export function sliceObjects(service: PlannedService): KubeJson[] {
  const slices: KubeJson[] = [];
  for (let at = 0, i = 0; at < Math.max(1, service.pods.length); at += MAX_ENDPOINTS_PER_SLICE, i++) {
    const endpoints = service.pods.slice(at, at + MAX_ENDPOINTS_PER_SLICE).map((pod) => sliceEndpoint({ pod, ready: pod.ready, terminating: false }));
    slices.push({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: {
        name: `${service.name}-${suffix(`${service.name}/slice/${i}`, 5)}`,
        namespace: NAMESPACE,
        generateName: `${service.name}-`,
        labels: { [SERVICE_NAME_LABEL]: service.name, 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' },
        ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: service.name, uid: suffix(service.name, 16), controller: true, blockOwnerDeletion: true }],
      },
      addressType: 'IPv4',
      ports: [{ name: 'dubbo', port: DUBBO_PORT, protocol: 'TCP' }],
      endpoints,
    });
  }
  return slices;
}
