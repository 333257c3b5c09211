import type { ControlPlaneExtension } from '@dubbo-mesh/control-plane';
import { EnvoyAds } from './ads-server.js';
import type { ResourcesFor } from './envoy-resources.js';

/** What the `envoy-xds` extension is made from. */
export interface EnvoyXdsExtensionOptions {
  /** A node's Envoy resources from a snapshot (default: the translator, `EnvoyTranslator`). */
  readonly resourcesFor?: ResourcesFor;
}

/** The control plane application's extension serving Envoy's xDS: the extension, and its {@link EnvoyAds} (for its counters). */
export interface EnvoyXdsExtension extends ControlPlaneExtension {
  readonly ads: EnvoyAds;
}

/**
 * A control plane extension (`envoy-xds`) that serves Envoy's Aggregated Discovery Service on
 * the control plane's gRPC port, for Envoy sidecars and proxyless gRPC clients, from the same
 * snapshots as the mesh's own proxies.
 */
export function envoyXdsExtension(options: EnvoyXdsExtensionOptions = {}): EnvoyXdsExtension {
  const ads = new EnvoyAds({ resourcesFor: options.resourcesFor });
  return { name: 'envoy-xds', services: [ads], ads };
}
