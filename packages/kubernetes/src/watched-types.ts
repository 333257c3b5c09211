import { API_GROUP, API_GROUP_VERSION, kindDefinitions, type KindDefinition } from '@dubbo-mesh/config';
import {
  CoreV1Api,
  CustomObjectsApi,
  DiscoveryV1Api,
  NetworkingV1Api,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
} from '@kubernetes/client-node';
import type { InformedType } from './resilient-informer.js';

/** The Kubernetes kinds the source follows besides the mesh's own custom resources. */
export const WATCHED_KINDS = ['Service', 'EndpointSlice', 'Pod', 'Ingress', 'IngressClass'] as const;
/** One of {@link WATCHED_KINDS}. */
export type WatchedKind = (typeof WATCHED_KINDS)[number];

/** The mesh kinds served as custom resources (kinds with no CRD, such as DubboIngress, are made by the source, never read). */
export function customResourceKinds(): KindDefinition[] {
  return kindDefinitions().filter((definition) => definition.customResource !== false);
}

const asList = <T extends KubernetesObject>(value: unknown): KubernetesListObject<T> => value as KubernetesListObject<T>;

/**
 * What the source informs on, each with its watch path and its list call: the built-in kinds
 * through their typed APIs, the mesh's custom resources through the custom objects API. With a
 * namespace, namespaced kinds are followed in it only (IngressClasses are cluster-scoped and
 * always followed).
 */
export function informedTypes(kubeConfig: KubeConfig, namespace: string | undefined): Array<InformedType & { probe(): Promise<unknown> }> {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const discovery = kubeConfig.makeApiClient(DiscoveryV1Api);
  const networking = kubeConfig.makeApiClient(NetworkingV1Api);
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const scoped = (prefix: string, plural: string) =>
    namespace === undefined ? `${prefix}/${plural}` : `${prefix}/namespaces/${encodeURIComponent(namespace)}/${plural}`;
  // `limit` set: the start-up probe (one item is enough to prove access); unset: the whole list.
  type Limit = { limit?: number };
  const types: Array<InformedType & { probe(): Promise<unknown> }> = [];
  const add = (kind: string, path: string, list: (limit: Limit) => Promise<unknown>) =>
    types.push({ kind, path, list: async () => asList(await list({})), probe: () => list({ limit: 1 }) });
  add('Service', scoped('/api/v1', 'services'), (l) =>
    namespace === undefined ? core.listServiceForAllNamespaces(l) : core.listNamespacedService({ namespace, ...l }),
  );
  add('EndpointSlice', scoped('/apis/discovery.k8s.io/v1', 'endpointslices'), (l) =>
    namespace === undefined ? discovery.listEndpointSliceForAllNamespaces(l) : discovery.listNamespacedEndpointSlice({ namespace, ...l }),
  );
  add('Pod', scoped('/api/v1', 'pods'), (l) => (namespace === undefined ? core.listPodForAllNamespaces(l) : core.listNamespacedPod({ namespace, ...l })));
  add('Ingress', scoped('/apis/networking.k8s.io/v1', 'ingresses'), (l) =>
    namespace === undefined ? networking.listIngressForAllNamespaces(l) : networking.listNamespacedIngress({ namespace, ...l }),
  );
  add('IngressClass', '/apis/networking.k8s.io/v1/ingressclasses', (l) => networking.listIngressClass(l));
  // The mesh's custom resources first: a missing CRD is the likeliest start-up failure, and the probe says so first.
  const builtIn = types.splice(0);
  for (const definition of customResourceKinds()) {
    const plural = definition.names.plural;
    const group = API_GROUP;
    const version = API_GROUP_VERSION;
    add(definition.kind, scoped(`/apis/${group}/${version}`, plural), (l) =>
      namespace === undefined
        ? custom.listCustomObjectForAllNamespaces({ group, version, plural, ...l })
        : custom.listNamespacedCustomObject({ group, version, namespace, plural, ...l }),
    );
  }
  types.push(...builtIn);
  return types;
}
