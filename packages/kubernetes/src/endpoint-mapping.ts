import { DEFAULT_INBOUND_PORT, SIDECAR_CONTAINER, SIDECAR_INBOUND_PORT_NAME, WEIGHT_ANNOTATION } from './annotations.js';
import { array, record, stringMap, text, type KubeObject } from './kube-objects.js';

/** What endpoint mapping reads: the informers' stores. */
export interface ClusterObjects {
  service(namespace: string, name: string): KubeObject | undefined;
  /** The EndpointSlices of a Service (by their `kubernetes.io/service-name` label). */
  slicesOf(namespace: string, serviceName: string): readonly KubeObject[];
  pod(namespace: string, name: string): KubeObject | undefined;
}

/** An endpoint as a DubboService's `spec.endpoints` takes it. */
export interface RawEndpoint {
  address: string;
  labels: Record<string, string>;
  weight?: number;
}

/** Which port of a Service's endpoints is the Dubbo port. */
export type PortChoice =
  /** The EndpointSlice port with this name (`dubbo`; an Ingress backend's port name); else `fallbackPort` when given. */
  | { readonly name: string; readonly fallbackPort?: number; readonly onlyPortFallback?: boolean }
  /** An Ingress backend's Service port number: the Service's port with that number, by its name in the slices. */
  | { readonly servicePort: number };

/** A Service's endpoints, and what they were made from. */
export interface MappedEndpoints {
  readonly endpoints: RawEndpoint[];
  /** `namespace/name` of every Pod read (an event on one of them changes the result). */
  readonly pods: string[];
  /** Why endpoints are missing or a value was ignored, for `GET /api/v1/sources`. */
  readonly notes: string[];
}

/** `host:port`, with an IPv6 host in brackets. */
function formatAddress(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** The port a pod's sidecar listens on for inbound calls, or undefined when the pod has no sidecar. */
export function sidecarInboundPort(pod: KubeObject | undefined): number | undefined {
  const spec = record(pod?.spec);
  if (spec === undefined) return undefined;
  // Native sidecars are init containers with restartPolicy Always; plain ones are containers.
  const container = [...array(spec.containers), ...array(spec.initContainers)].map(record).find((c) => c?.name === SIDECAR_CONTAINER);
  if (container === undefined) return undefined;
  for (const port of array(container.ports).map(record)) {
    if (port?.name === SIDECAR_INBOUND_PORT_NAME && typeof port.containerPort === 'number') return port.containerPort;
  }
  const args = array(container.args).map(text);
  const flag = args.findIndex((arg) => arg === '--inbound' || arg?.startsWith('--inbound=') === true);
  const fromArgs = flag < 0 ? undefined : args[flag]!.includes('=') ? args[flag]!.slice(args[flag]!.indexOf('=') + 1) : args[flag + 1];
  const fromEnv = array(container.env)
    .map(record)
    .find((env) => env?.name === 'DUBBO_MESH_INBOUND');
  const address = fromArgs ?? text(fromEnv?.value);
  const port = address === undefined ? undefined : Number(/:(\d{1,5})$/.exec(address)?.[1]);
  return port !== undefined && Number.isInteger(port) && port > 0 && port <= 65535 ? port : DEFAULT_INBOUND_PORT;
}

/** The weight a Pod's annotation gives, or undefined (default) with a note when it is not an integer 0…1,000,000. */
function podWeight(pod: KubeObject | undefined, notes: string[], podName: string): number | undefined {
  const raw = pod?.metadata?.annotations?.[WEIGHT_ANNOTATION];
  if (raw === undefined) return undefined;
  if (/^\d{1,7}$/.test(raw.trim()) && Number(raw) <= 1_000_000) return Number(raw);
  notes.push(`Pod ${podName}: annotation ${WEIGHT_ANNOTATION}: ${JSON.stringify(raw)} is not an integer from 0 to 1000000; the default weight is used`);
  return undefined;
}

/** The number of the slice port `choice` picks, or undefined. */
function slicePort(slice: KubeObject, choice: PortChoice, service: KubeObject | undefined): number | undefined {
  const ports = array((slice as { ports?: unknown }).ports).map(record);
  let name: string | undefined;
  if ('servicePort' in choice) {
    const servicePort = array(record(service?.spec)?.ports)
      .map(record)
      .find((port) => port?.port === choice.servicePort);
    if (servicePort === undefined) return undefined;
    name = text(servicePort.name) ?? '';
  } else name = choice.name;
  const found = ports.find((port) => (text(port?.name) ?? '') === name);
  if (typeof found?.port === 'number') return found.port;
  if ('servicePort' in choice) return undefined;
  if (choice.fallbackPort !== undefined) return choice.fallbackPort;
  if (choice.onlyPortFallback === true && ports.length === 1 && typeof ports[0]?.port === 'number') return ports[0].port;
  return undefined;
}

/**
 * The ready endpoints of a Service (SPEC "Kubernetes"): from its EndpointSlices, leaving out at
 * once every endpoint that is not ready or is terminating; on the port `choice` picks; each
 * labelled with its Pod's labels and weighted by its Pod's `dubbo-mesh.io/weight`; a Pod with
 * the `dubbo-mesh-proxy` sidecar is reached on the sidecar's inbound port. Sorted by address and
 * each address once (an endpoint moving between slices can show in two for a moment), so the
 * same cluster state always maps to the same list, whatever order its events came in.
 */
export function serviceEndpoints(objects: ClusterObjects, namespace: string, serviceName: string, choice: PortChoice): MappedEndpoints {
  const notes: string[] = [];
  const pods: string[] = [];
  const byAddress = new Map<string, RawEndpoint>();
  const service = objects.service(namespace, serviceName);
  if (service === undefined) notes.push(`no Service ${namespace}/${serviceName}: no endpoints`);
  // A dual-stack Service has a slice per address family for the same pods: one family only
  // (IPv4 when it has any), or every pod would be two endpoints. FQDN slices name no pod address.
  const all = objects.slicesOf(namespace, serviceName).filter((slice) => (slice as { addressType?: unknown }).addressType !== 'FQDN');
  const hasIPv4 = all.some((slice) => (slice as { addressType?: unknown }).addressType !== 'IPv6');
  const slices = hasIPv4 ? all.filter((slice) => (slice as { addressType?: unknown }).addressType !== 'IPv6') : all;
  for (const slice of slices) {
    const port = slicePort(slice, choice, service);
    if (port === undefined) {
      const wanted =
        'servicePort' in choice
          ? `the port of Service port ${choice.servicePort}`
          : `port named ${JSON.stringify(choice.name)}${choice.fallbackPort === undefined ? '' : ` (or spec.port)`}`;
      notes.push(`EndpointSlice ${namespace}/${slice.metadata?.name ?? ''}: has no ${wanted}; its endpoints are left out`);
      continue;
    }
    for (const endpoint of array((slice as { endpoints?: unknown }).endpoints).map(record)) {
      if (endpoint === undefined) continue;
      const conditions = record(endpoint.conditions) ?? {};
      // Kubernetes: an absent `ready` means ready; terminating endpoints leave at once.
      if (conditions.ready === false || conditions.terminating === true) continue;
      const ip = text(array(endpoint.addresses)[0]);
      if (ip === undefined) continue;
      const target = record(endpoint.targetRef);
      let pod: KubeObject | undefined;
      let podName = '';
      if (target?.kind === 'Pod' && typeof target.name === 'string') {
        const podNamespace = text(target.namespace) ?? namespace;
        podName = `${podNamespace}/${target.name}`;
        pods.push(podName);
        pod = objects.pod(podNamespace, target.name);
      }
      if (pod?.metadata?.deletionTimestamp !== undefined && pod.metadata.deletionTimestamp !== null) continue; // terminating, before its slice says so
      const address = formatAddress(ip, sidecarInboundPort(pod) ?? port);
      const weight = podWeight(pod, notes, podName);
      const mapped: RawEndpoint = { address, labels: stringMap(pod?.metadata?.labels) };
      if (weight !== undefined) mapped.weight = weight;
      byAddress.set(address, mapped);
    }
  }
  const endpoints = [...byAddress.values()].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  return { endpoints, pods, notes };
}
