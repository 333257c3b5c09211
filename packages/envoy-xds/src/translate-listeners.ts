import { isIP } from 'node:net';
import { DEFAULT_CONNECTION_POOL } from '@dubbo-mesh/config';
import { FILTER_TYPE_URLS } from './envoy-protos.js';
import type { EnvoyNode, HostPort } from './envoy-node.js';
import { ADS_CONFIG_SOURCE, ANY_STRING, duration, type ProtoObject } from './translate-common.js';
import { DUBBO_OUTBOUND } from './translate-dubbo-routes.js';

/** The name of a sidecar's inbound listener, its inline routes and its one cluster (the local application). */
export const DUBBO_INBOUND = 'dubbo_inbound';

/** The name Envoy knows the Dubbo network filter by. */
export const DUBBO_PROXY_FILTER = 'envoy.filters.network.dubbo_proxy';

/** The name Envoy knows dubbo_proxy's router filter by (the last Dubbo filter). */
export const DUBBO_ROUTER_FILTER = 'envoy.filters.dubbo.router';

function socketAddress(address: HostPort): ProtoObject {
  return { socket_address: { address: address.host, port_value: address.port } };
}

/** A listener with one dubbo_proxy filter whose routes are `routes` (`drds` or `multiple_route_config`). */
function dubboListener(name: string, address: HostPort, routes: ProtoObject): ProtoObject {
  return {
    name,
    address: socketAddress(address),
    filter_chains: [
      {
        filters: [
          {
            name: DUBBO_PROXY_FILTER,
            typed_config: {
              '@type': FILTER_TYPE_URLS.dubboProxy,
              stat_prefix: name,
              protocol_type: 'Dubbo',
              serialization_type: 'Hessian2',
              ...routes,
              dubbo_filters: [{ name: DUBBO_ROUTER_FILTER }],
            },
          },
        ],
      },
    ],
  };
}

/** What a sidecar's listeners are, by its node: the listeners, the inbound cluster if any, and what could not be sent. */
export interface SidecarListeners {
  readonly listeners: ProtoObject[];
  /** The STATIC (or, for a host name, STRICT_DNS) cluster of the local application, when the node has an inbound listener. */
  readonly inboundCluster: ProtoObject | undefined;
  readonly untranslated: string[];
}

/**
 * An Envoy sidecar's listeners: `dubbo_outbound` on the node's outbound address, whose routes
 * come over ADS (`drds`: a route change never drains a connection), and, when the node names
 * an inbound address and target, `dubbo_inbound`, which sends every call (inline routes, any
 * interface and method) to the local application, the one endpoint of cluster `dubbo_inbound`.
 * A listen address must be an IP literal (Envoy binds it, it resolves nothing): a host name is
 * reported and its listener not sent.
 */
export function sidecarListeners(node: EnvoyNode): SidecarListeners {
  const untranslated: string[] = [];
  const listeners: ProtoObject[] = [];
  if (isIP(node.outbound.host) === 0) {
    untranslated.push(
      `node.metadata.DUBBO_MESH_OUTBOUND: '${node.outbound.host}' is not an IP address, which an Envoy listener needs; ${DUBBO_OUTBOUND} is not sent`,
    );
  } else {
    listeners.push(dubboListener(DUBBO_OUTBOUND, node.outbound, { drds: { config_source: ADS_CONFIG_SOURCE, route_config_name: DUBBO_OUTBOUND } }));
  }
  let inboundCluster: ProtoObject | undefined;
  if (node.inbound !== undefined) {
    if (isIP(node.inbound.listen.host) === 0) {
      untranslated.push(
        `node.metadata.DUBBO_MESH_INBOUND: '${node.inbound.listen.host}' is not an IP address, which an Envoy listener needs; ${DUBBO_INBOUND} is not sent`,
      );
    } else {
      const routes = {
        name: DUBBO_INBOUND,
        route_config: [{ name: DUBBO_INBOUND, interface: '*', routes: [{ match: { method: { name: ANY_STRING } }, route: { cluster: DUBBO_INBOUND } }] }],
      };
      listeners.push(dubboListener(DUBBO_INBOUND, node.inbound.listen, { multiple_route_config: routes }));
      const target = node.inbound.target;
      inboundCluster = {
        name: DUBBO_INBOUND,
        type: isIP(target.host) === 0 ? 'STRICT_DNS' : 'STATIC',
        connect_timeout: duration(DEFAULT_CONNECTION_POOL.connectTimeoutMs),
        load_assignment: { cluster_name: DUBBO_INBOUND, endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress(target) } }] }] },
      };
    }
  }
  return { listeners, inboundCluster, untranslated };
}
