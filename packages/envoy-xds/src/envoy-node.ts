import type { WireNode } from '@dubbo-mesh/discovery';
import type { XdsNode, XdsStructValue } from './envoy-protos.js';

/**
 * Node metadata keys an Envoy sidecar's bootstrap sets (`node.metadata`), as constants:
 * the bootstrap in `envoy/` and the docs name the same.
 */
export const NODE_METADATA = Object.freeze({
  /** `proxy`: an Envoy sidecar (it gets a `dubbo_proxy` listener). Absent: a proxyless gRPC client. */
  role: 'DUBBO_MESH_ROLE',
  /** The node's mesh service (default: `node.cluster`). */
  service: 'DUBBO_MESH_SERVICE',
  /** The node's namespace (default `default`). */
  namespace: 'DUBBO_MESH_NAMESPACE',
  /** The node's labels: a struct of strings. */
  labels: 'DUBBO_MESH_LABELS',
  /** Where the outbound listener listens, `host:port` (default {@link DEFAULT_OUTBOUND}). */
  outbound: 'DUBBO_MESH_OUTBOUND',
  /** Where the inbound listener listens, `host:port`; with {@link NODE_METADATA.inboundTarget}. */
  inbound: 'DUBBO_MESH_INBOUND',
  /** The application's Dubbo port the inbound listener forwards to, `host:port`. */
  inboundTarget: 'DUBBO_MESH_INBOUND_TARGET',
});

/** The role value of an Envoy sidecar. */
export const SIDECAR_ROLE = 'proxy';

/** Where an Envoy sidecar's outbound listener listens unless its node says otherwise: the SDK's local sidecar address (SPEC). */
export const DEFAULT_OUTBOUND = Object.freeze({ host: '127.0.0.1', port: 20881 });

/** A `host:port`. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** An xDS node as this view serves it. */
export interface EnvoyNode {
  readonly id: string;
  /** An Envoy sidecar (`DUBBO_MESH_ROLE: proxy`) or a proxyless gRPC client (no role). */
  readonly kind: 'envoy-sidecar' | 'proxyless';
  /** The node as the control plane's hooks and admin API know nodes (role `PROXY`). */
  readonly wire: WireNode;
  /** Where a sidecar's outbound listener listens. */
  readonly outbound: HostPort;
  /** A sidecar's inbound listener, when its node names one: where it listens and the application it forwards to. */
  readonly inbound?: { readonly listen: HostPort; readonly target: HostPort };
}

/** A string value of a struct field; undefined when absent; an error text when not a string. */
function stringField(fields: Record<string, XdsStructValue>, key: string): string | undefined | { error: string } {
  const value = fields[key];
  if (value === undefined || value.kind === 'nullValue') return undefined;
  if (value.kind !== 'stringValue' || typeof value.stringValue !== 'string') return { error: `node.metadata.${key}: must be a string` };
  return value.stringValue;
}

/** `host:port` (IPv6 hosts in brackets), or undefined. */
function parseHostPort(text: string): HostPort | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(text);
  if (match === null) return undefined;
  const port = Number(match[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: match[1] ?? match[2]!, port };
}

/**
 * Read a request's node: its kind, identity and listeners. Identity is read as for the mesh's
 * own proxies (a service, a namespace, labels), from `node.metadata`, the service defaulting
 * to `node.cluster`. Every problem is named by its field, as a NACK or a refused stream says it.
 */
export function readEnvoyNode(node: XdsNode | null): { valid: true; node: EnvoyNode } | { valid: false; error: string } {
  if (node === null || node.id === '') return { valid: false, error: 'node.id: required on the first request of a stream' };
  const fields = node.metadata?.fields ?? {};
  const texts: Record<string, string | undefined> = {};
  for (const key of [
    NODE_METADATA.role,
    NODE_METADATA.service,
    NODE_METADATA.namespace,
    NODE_METADATA.outbound,
    NODE_METADATA.inbound,
    NODE_METADATA.inboundTarget,
  ]) {
    const value = stringField(fields, key);
    if (typeof value === 'object') return { valid: false, error: value.error };
    texts[key] = value;
  }
  const role = texts[NODE_METADATA.role];
  if (role !== undefined && role !== SIDECAR_ROLE) {
    return {
      valid: false,
      error: `node.metadata.${NODE_METADATA.role}: must be '${SIDECAR_ROLE}' (an Envoy sidecar) or absent (a proxyless gRPC client), got '${role}'`,
    };
  }
  const labels: Record<string, string> = {};
  const labelValue = fields[NODE_METADATA.labels];
  if (labelValue !== undefined && labelValue.kind !== 'nullValue') {
    if (labelValue.kind !== 'structValue') return { valid: false, error: `node.metadata.${NODE_METADATA.labels}: must be a map of strings` };
    for (const [key, value] of Object.entries(labelValue.structValue?.fields ?? {})) {
      if (value.kind !== 'stringValue') return { valid: false, error: `node.metadata.${NODE_METADATA.labels}.${key}: must be a string` };
      labels[key] = value.stringValue ?? '';
    }
  }
  let outbound: HostPort = DEFAULT_OUTBOUND;
  const outboundText = texts[NODE_METADATA.outbound];
  if (outboundText !== undefined) {
    const parsed = parseHostPort(outboundText);
    if (parsed === undefined) return { valid: false, error: `node.metadata.${NODE_METADATA.outbound}: must be host:port, got '${outboundText}'` };
    outbound = parsed;
  }
  let inbound: EnvoyNode['inbound'];
  const inboundText = texts[NODE_METADATA.inbound];
  const targetText = texts[NODE_METADATA.inboundTarget];
  if ((inboundText === undefined) !== (targetText === undefined)) {
    return { valid: false, error: `node.metadata: ${NODE_METADATA.inbound} and ${NODE_METADATA.inboundTarget} go together (set both or neither)` };
  }
  if (inboundText !== undefined && targetText !== undefined) {
    const listen = parseHostPort(inboundText);
    if (listen === undefined) return { valid: false, error: `node.metadata.${NODE_METADATA.inbound}: must be host:port, got '${inboundText}'` };
    const target = parseHostPort(targetText);
    if (target === undefined) return { valid: false, error: `node.metadata.${NODE_METADATA.inboundTarget}: must be host:port, got '${targetText}'` };
    inbound = { listen, target };
  }
  const wire: WireNode = {
    id: node.id,
    service: texts[NODE_METADATA.service] ?? node.cluster ?? '',
    namespace: texts[NODE_METADATA.namespace] ?? 'default',
    labels,
    role: 'PROXY',
  };
  return {
    valid: true,
    node: Object.freeze({
      id: node.id,
      kind: role === SIDECAR_ROLE ? 'envoy-sidecar' : 'proxyless',
      wire,
      outbound,
      ...(inbound === undefined ? {} : { inbound }),
    }),
  };
}

/** A key of what a node's resources depend on besides the snapshot: nodes with equal keys get the same resources. */
export function nodeShapeKey(node: EnvoyNode): string {
  if (node.kind === 'proxyless') return 'proxyless';
  const inbound =
    node.inbound === undefined ? '' : ` ${node.inbound.listen.host}:${node.inbound.listen.port}>${node.inbound.target.host}:${node.inbound.target.port}`;
  return `sidecar ${node.outbound.host}:${node.outbound.port}${inbound}`;
}
