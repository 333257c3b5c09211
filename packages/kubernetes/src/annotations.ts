/** The annotations and names the Kubernetes source reads (SPEC "Kubernetes"). */

/** On a Pod: its endpoints' weight, an integer 0…1,000,000 (Dubbo's default is 100). */
export const WEIGHT_ANNOTATION = 'dubbo-mesh.io/weight';
/** On a Service: `IFACE[:VERSION[:GROUP]],…` makes it a mesh service with no custom resource. */
export const INTERFACES_ANNOTATION = 'dubbo-mesh.io/interfaces';
/** The sidecar's container name: a pod that has it is reached on the sidecar's inbound port. */
export const SIDECAR_CONTAINER = 'dubbo-mesh-proxy';
/** The sidecar container's port name for its inbound listener (else its `--inbound` flag, else {@link DEFAULT_INBOUND_PORT}). */
export const SIDECAR_INBOUND_PORT_NAME = 'dubbo-mesh-in';
/** The sidecar's default inbound port (SPEC: `--inbound 0.0.0.0:20891`). */
export const DEFAULT_INBOUND_PORT = 20891;
/** The Service port (and EndpointSlice port) name of an application's Dubbo port. */
export const DUBBO_PORT_NAME = 'dubbo';
/** The label an EndpointSlice names its Service by. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
/** The IngressClass controller the mesh's gateway serves. */
export const INGRESS_CONTROLLER = 'dubbo-mesh.io/gateway';
/** The legacy Ingress class annotation, and the class name it must have. */
export const LEGACY_INGRESS_CLASS_ANNOTATION = 'kubernetes.io/ingress.class';
export const INGRESS_CLASS = 'dubbo';
/** An IngressClass that is the cluster's default takes Ingresses that name no class. */
export const DEFAULT_INGRESS_CLASS_ANNOTATION = 'ingressclass.kubernetes.io/is-default-class';

// The conventions the injector and the control plane share (`@dubbo-mesh/kubernetes/conventions`
// is this module: it imports nothing, so the injector's admission path loads no Kubernetes client).

/** On a Pod or Namespace: `"true"` (pod) or `enabled` (namespace) asks for the sidecar; `"false"` on a pod refuses it. */
export const INJECT_LABEL = 'dubbo-mesh.io/inject';
/** On an injected Pod: what the injector added (JSON), so injecting again changes nothing. */
export const INJECTED_STATUS_ANNOTATION = 'dubbo-mesh.io/injected';
/** The sidecar's outbound port on 127.0.0.1, where the application sends its calls (SPEC). */
export const DEFAULT_OUTBOUND_PORT = 20881;
/** The sidecar's admin port (`/ready`, `/metrics`), reachable by the kubelet on the pod's address. */
export const DEFAULT_SIDECAR_ADMIN_PORT = 15001;
/** The application's Dubbo port when its container names none `dubbo` and no annotation says otherwise. */
export const DEFAULT_APPLICATION_PORT = 20880;
/** The ConfigMap the control plane keeps in each namespace with injected pods: Dubbo's resolve file for the Java recipe. */
export const RESOLVE_CONFIG_MAP = 'dubbo-mesh-resolve';
/** The ConfigMap's key, and the file name it is mounted as. */
export const RESOLVE_FILE_KEY = 'dubbo-resolve.properties';
/** Where the resolve file's folder is mounted in the application's containers. */
export const RESOLVE_MOUNT_PATH = '/etc/dubbo-mesh/resolve';
