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
  return kindDefinitions().filter((definition) => (definition as { customResource?: false }).customResource !== false);
}

const asList = <T extends KubernetesObject>(value: unknown): KubernetesListObject<T> => value as KubernetesListObject<T>;

/**
 * What the source informs on, each with its watch path and its list call: the built-in kinds
 * through their typed APIs, the mesh's custom resources through the custom objects API. With a
 * namespace, namespaced kinds are followed in it only (IngressClasses are cluster-scoped and
 * always followed).
 */
export function informedTypes(kubeConfig: KubeConfig, namespace: string | undefined): InformedType[] {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const discovery = kubeConfig.makeApiClient(DiscoveryV1Api);
  const networking = kubeConfig.makeApiClient(NetworkingV1Api);
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const scoped = (prefix: string, plural: string) =>
    namespace === undefined ? `${prefix}/${plural}` : `${prefix}/namespaces/${encodeURIComponent(namespace)}/${plural}`;
  const types: InformedType[] = [
    {
      kind: 'Service',
      path: scoped('/api/v1', 'services'),
      list: async () => asList(namespace === undefined ? await core.listServiceForAllNamespaces() : await core.listNamespacedService({ namespace })),
    },
    {
      kind: 'EndpointSlice',
      path: scoped('/apis/discovery.k8s.io/v1', 'endpointslices'),
      list: async () =>
        asList(namespace === undefined ? await discovery.listEndpointSliceForAllNamespaces() : await discovery.listNamespacedEndpointSlice({ namespace })),
    },
    {
      kind: 'Pod',
      path: scoped('/api/v1', 'pods'),
      list: async () => asList(namespace === undefined ? await core.listPodForAllNamespaces() : await core.listNamespacedPod({ namespace })),
    },
    {
      kind: 'Ingress',
      path: scoped('/apis/networking.k8s.io/v1', 'ingresses'),
      list: async () =>
        asList(namespace === undefined ? await networking.listIngressForAllNamespaces() : await networking.listNamespacedIngress({ namespace })),
    },
    {
      kind: 'IngressClass',
      path: '/apis/networking.k8s.io/v1/ingressclasses',
      list: async () => asList(await networking.listIngressClass()),
    },
  ];
  for (const definition of customResourceKinds()) {
    const plural = definition.names.plural;
    const group = API_GROUP;
    const version = API_GROUP_VERSION;
    types.push({
      kind: definition.kind,
      path: scoped(`/apis/${group}/${version}`, plural),
      list: async () =>
        asList(
          namespace === undefined
            ? await custom.listCustomObjectForAllNamespaces({ group, version, plural })
            : await custom.listNamespacedCustomObject({ group, version, namespace, plural }),
        ),
    });
  }
  return types;
}
