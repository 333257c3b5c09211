import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_ROOT } from '@dubbo-mesh/proto';

/** Where the discovery API's .proto lives: the `@dubbo-mesh/proto` package, found from here, not from the working directory. */
export { PROTO_ROOT };
export const PROTO_FILE = 'dubbo_mesh/discovery/v1/discovery.proto';
/** The fully qualified gRPC service name. */
export const SERVICE_NAME = 'dubbo_mesh.discovery.v1.SnapshotDiscoveryService';

/** `Role` as the wire carries it (proto-loader with `enums: String`). */
export type WireRole = 'ROLE_UNSPECIFIED' | 'PROXY' | 'GATEWAY';

export interface WireNode {
  id: string;
  service: string;
  namespace: string;
  labels: Record<string, string>;
  role: WireRole;
}

export interface WireErrorDetail {
  code: number;
  message: string;
  errors: string[];
}

export interface DiscoveryRequest {
  node: WireNode | null;
  version_info: string;
  response_nonce: string;
  error_detail: WireErrorDetail | null;
}

export interface WireResource {
  kind: string;
  namespace: string;
  name: string;
  json: string;
  /** A digest of `json`. */
  version: string;
}

export interface WireMapping {
  interface: string;
  group: string;
  version: string;
  service: string;
}

export interface DiscoveryResponse {
  version_info: string;
  nonce: string;
  resources: WireResource[];
  mappings: WireMapping[];
}

export interface DeltaDiscoveryRequest {
  node: WireNode | null;
  initial_resource_versions: Record<string, string>;
  response_nonce: string;
  error_detail: WireErrorDetail | null;
  version_info: string;
}

export interface DeltaDiscoveryResponse {
  version_info: string;
  nonce: string;
  resources: WireResource[];
  removed_resources: string[];
}

export type SnapshotStream = grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>;
export type DeltaStream = grpc.ClientDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;
export type ServerSnapshotStream = grpc.ServerDuplexStream<DiscoveryRequest | DeltaDiscoveryRequest, never>;

export interface SnapshotDiscoveryClient extends grpc.Client {
  StreamSnapshots(options?: grpc.CallOptions): SnapshotStream;
  DeltaSnapshots(options?: grpc.CallOptions): DeltaStream;
}

/** The key of a resource in delta streams: `Kind/namespace/name`. */
export function resourceKey(resource: Pick<WireResource, 'kind' | 'namespace' | 'name'>): string {
  return `${resource.kind}/${resource.namespace}/${resource.name}`;
}

let loaded: grpc.GrpcObject | undefined;

/** The discovery package loaded from proto/ (fields keep their proto names; defaults filled in). */
export function discoveryPackage(): grpc.GrpcObject {
  if (loaded === undefined) {
    const definition = protoLoader.loadSync(PROTO_FILE, {
      includeDirs: [PROTO_ROOT],
      keepCase: true,
      enums: String,
      defaults: true,
      arrays: true,
      objects: true,
      oneofs: true,
    });
    loaded = grpc.loadPackageDefinition(definition);
  }
  return loaded;
}

function serviceConstructor(): grpc.ServiceClientConstructor {
  let current: unknown = discoveryPackage();
  for (const part of SERVICE_NAME.split('.')) current = (current as Record<string, unknown>)[part];
  return current as grpc.ServiceClientConstructor;
}

/** The service definition, for `server.addService`. */
export function discoveryServiceDefinition(): grpc.ServiceDefinition {
  return serviceConstructor().service;
}

/**
 * A response whose snapshot part (version, resources, mappings) was encoded once and is
 * shared by every stream; only the nonce (field 2) is encoded per stream. Protobuf lets the
 * fields of a message come in any order, so the message is the shared bytes followed by the
 * nonce field: a push to a thousand proxies encodes the snapshot once, not a thousand times.
 */
export class PreEncodedResponse {
  constructor(
    readonly shared: Buffer,
    readonly nonce: string,
    /** The nonce field's tag byte: field 2 here; xDS responses carry it in field 5 (`0x2a`). */
    readonly nonceTag = 0x12,
  ) {}

  encode(): Buffer {
    const nonce = Buffer.from(this.nonce, 'utf8');
    if (nonce.length > 127) throw new RangeError('nonce longer than 127 bytes');
    return Buffer.concat([this.shared, Buffer.from([this.nonceTag, nonce.length]), nonce]);
  }
}

/** Encode the part of a state-of-the-world response every stream shares (no nonce). */
export function encodeSharedResponse(response: Omit<DiscoveryResponse, 'nonce'>): Buffer {
  return discoveryServiceDefinition().StreamSnapshots!.responseSerialize({ ...response, nonce: '' });
}

/** Encode the part of a delta response every stream with the same starting point shares (no nonce). */
export function encodeSharedDeltaResponse(response: Omit<DeltaDiscoveryResponse, 'nonce'>): Buffer {
  return discoveryServiceDefinition().DeltaSnapshots!.responseSerialize({ ...response, nonce: '' });
}

/** The service definition, taking {@link PreEncodedResponse}s as responses of both methods too. */
export function preEncodingServiceDefinition(): grpc.ServiceDefinition {
  const definition = discoveryServiceDefinition();
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const name of ['StreamSnapshots', 'DeltaSnapshots']) {
    const method = definition[name]!;
    out[name] = { ...method, responseSerialize: (value: unknown) => (value instanceof PreEncodedResponse ? value.encode() : method.responseSerialize(value)) };
  }
  return out;
}

/** A client of the discovery service at `address` (`host:port`, plaintext). */
export function createDiscoveryClient(address: string, options: grpc.ChannelOptions = {}): SnapshotDiscoveryClient {
  const Client = serviceConstructor();
  return new Client(address, grpc.credentials.createInsecure(), options) as unknown as SnapshotDiscoveryClient;
}
