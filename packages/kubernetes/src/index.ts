/** @dubbo-mesh/kubernetes: the control plane's Kubernetes source, and the writers of CR and Ingress statuses. */
export * from './annotations.js';
export * from './backoff.js';
export * from './clock.js';
export * from './endpoint-mapping.js';
export * from './ingress-mapping.js';
export * from './kube-objects.js';
export * from './kubernetes-source.js';
export * from './resilient-informer.js';
export * from './resource-mapping.js';
export * from './watched-types.js';
export * from './crd-manifest.js';
export * from './api-server-probe.js';
export * from './errors.js';
export * from './ingress-status-writer.js';
export * from './kubernetes-extension.js';
export * from './leadership.js';
export * from './status-writer.js';
