import { isIP } from 'node:net';
import type { DubboServiceConfig, EndpointConfig } from '@dubbo-mesh/config';
import { fieldPath, lbMetadata, resourceLabel, uint32, type ProtoObject, type Translation } from './translate-common.js';

/** Whether an endpoint carries every label of a subset (none: every endpoint). */
function inSubset(endpoint: EndpointConfig, labels: Readonly<Record<string, string>> | undefined): boolean {
  if (labels === undefined) return true;
  for (const key in labels) if (endpoint.labels[key] !== labels[key]) return false;
  return true;
}

/**
 * The ClusterLoadAssignment of a service (or of one subset of it: `subsetLabels`): its
 * endpoints as IP literals and ports, weighted, with their labels as `envoy.lb` metadata (what
 * a sidecar's subset load balancer matches), all HEALTHY — a snapshot lists only ready
 * endpoints (the Kubernetes source leaves out those not ready or terminating), and the mesh's
 * own ejections are per proxy — in one locality of weight 1 (gRPC clients drop a locality
 * without a weight).
 *
 * Left out, and reported: a host name (Envoy's EDS and gRPC take IP literals only), weight 0
 * (Envoy needs at least 1; our proxy never picks it either), a repeated address (gRPC refuses
 * the whole assignment). Per-endpoint service keys are reported once per service: Envoy
 * sends any key of the service to any of its endpoints. For gRPC clients (`grpc`), endpoints
 * of different weights are reported: their round robin ignores endpoint weights.
 */
export function clusterLoadAssignment(
  clusterName: string,
  service: DubboServiceConfig,
  subsetLabels?: Readonly<Record<string, string>>,
  grpc = false,
): Translation<ProtoObject> {
  const label = resourceLabel('DubboService', service.metadata);
  const untranslated: string[] = [];
  const lbEndpoints: ProtoObject[] = [];
  const seen = new Set<string>();
  // Lines about endpoints are the service's, whichever subset: only the whole service's assignment reports them.
  const report = subsetLabels === undefined;
  service.endpoints.forEach((endpoint, i) => {
    if (!inSubset(endpoint, subsetLabels)) return;
    const path = fieldPath('spec', 'endpoints', i);
    if (isIP(endpoint.host) === 0) {
      if (report) untranslated.push(`${label}: ${path}.address: ${endpoint.address}: Envoy's EDS takes IP addresses only; the endpoint is not sent`);
      return;
    }
    if (endpoint.weight < 1) {
      if (report)
        untranslated.push(`${label}: ${path}.weight: 0: Envoy needs a weight of at least 1; the endpoint is not sent (it takes no calls, as in dubbo-mesh)`);
      return;
    }
    const address = `${isIP(endpoint.host) === 6 ? `[${endpoint.host.toLowerCase()}]` : endpoint.host}:${endpoint.port}`;
    if (seen.has(address)) {
      if (report) untranslated.push(`${label}: ${path}.address: ${endpoint.address} is listed twice; sent once`);
      return;
    }
    seen.add(address);
    lbEndpoints.push({
      endpoint: { address: { socket_address: { address: endpoint.host, port_value: endpoint.port } } },
      health_status: 'HEALTHY',
      load_balancing_weight: uint32(endpoint.weight),
      metadata: lbMetadata(endpoint.labels),
    });
  });
  if (report && grpc && new Set(lbEndpoints.map((e) => (e.load_balancing_weight as { value: number }).value)).size > 1) {
    untranslated.push(`${label}: spec.endpoints[].weight: gRPC clients' round robin ignores endpoint weights; each endpoint takes an equal share of calls`);
  }
  if (report && service.endpoints.some((endpoint) => endpoint.interfaces !== undefined)) {
    untranslated.push(
      `${label}: spec.endpoints[].interfaces: Envoy cannot tell which endpoints provide which service key; any key of the service goes to any of its endpoints`,
    );
  }
  const endpoints =
    lbEndpoints.length === 0 ? [] : [{ locality: { region: '', zone: '', sub_zone: '' }, load_balancing_weight: uint32(1), lb_endpoints: lbEndpoints }];
  return { value: { cluster_name: clusterName, endpoints }, untranslated };
}
