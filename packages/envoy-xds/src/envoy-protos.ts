import { createRequire } from 'node:module';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PreEncodedResponse } from '@dubbo-mesh/discovery';

/** Envoy's resource type URLs, as xDS names them (`type_url` of responses and of each `Any`). */
export const TYPE_URLS = Object.freeze({
  listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  routeConfiguration: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  clusterLoadAssignment: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  /** What `dubbo_proxy`'s `drds` fetches: the Dubbo routes of one listener. */
  dubboRoutes: 'type.googleapis.com/envoy.extensions.filters.network.dubbo_proxy.v3.MultipleRouteConfiguration',
});

/** One of {@link TYPE_URLS}. */
export type EnvoyTypeUrl = (typeof TYPE_URLS)[keyof typeof TYPE_URLS];

/** Type URLs of the typed configs the resources embed (filters), for building them. */
export const FILTER_TYPE_URLS = Object.freeze({
  dubboProxy: 'type.googleapis.com/envoy.extensions.filters.network.dubbo_proxy.v3.DubboProxy',
  httpConnectionManager: 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  httpRouter: 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
});

/** The fully qualified name of the Aggregated Discovery Service. */
export const ADS_SERVICE_NAME = 'envoy.service.discovery.v3.AggregatedDiscoveryService';

/** The .proto files loaded: ADS and every resource and filter config the view sends. */
const PROTO_FILES = [
  'envoy/service/discovery/v3/ads.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/network/dubbo_proxy/v3/dubbo_proxy.proto',
  'envoy/extensions/filters/network/dubbo_proxy/v3/route.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
];

/**
 * proto-loader options: field names as in the .proto (`version_info`), enums as their names,
 * 64-bit integers as strings, defaults filled in, oneofs named, and `Any` read and written as
 * `{ '@type': typeUrl, ...fields }` (`json`), so a resource is a plain object on both sides.
 */
export const ENVOY_PROTO_OPTIONS: protoLoader.Options = Object.freeze({
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  json: true,
});

/**
 * Where Envoy's v3 API protos are: `@grpc/grpc-js-xds` ships them (with xds, googleapis and
 * protoc-gen-validate, which they import) under `deps/`. They are read from there, never
 * copied into this repository.
 */
export function envoyProtoIncludeDirs(): string[] {
  const require = createRequire(import.meta.url);
  const deps = path.join(path.dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
  return ['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((folder) => path.join(deps, folder));
}

let definition: protoLoader.PackageDefinition | undefined;

/** Envoy's protos as one package definition, loaded once (about a quarter of a second) on first use. */
export function envoyPackageDefinition(): protoLoader.PackageDefinition {
  definition ??= protoLoader.loadSync(PROTO_FILES, { ...ENVOY_PROTO_OPTIONS, includeDirs: envoyProtoIncludeDirs() });
  return definition;
}

let adsClient: grpc.ServiceClientConstructor | undefined;

/** The ADS client constructor (for tests and benchmarks: a raw ADS client built only from Envoy's protos); its `.service` is the service definition. */
export function adsClientConstructor(): grpc.ServiceClientConstructor {
  if (adsClient === undefined) {
    let current: unknown = grpc.loadPackageDefinition(envoyPackageDefinition());
    for (const part of ADS_SERVICE_NAME.split('.')) current = (current as Record<string, unknown>)[part];
    adsClient = current as grpc.ServiceClientConstructor;
  }
  return adsClient;
}

/**
 * A response whose every field but the nonce was encoded once and is shared by every stream
 * that needs the same answer; the nonce (field 5 of both `DiscoveryResponse` and
 * `DeltaDiscoveryResponse`) is appended per stream: protobuf lets fields come in any order.
 */
export class PreEncodedXdsResponse extends PreEncodedResponse {
  constructor(shared: Buffer, nonce: string) {
    super(shared, nonce, 0x2a);
  }
}

/** ADS's two methods: both bidirectional streams. */
const ADS_METHODS = ['StreamAggregatedResources', 'DeltaAggregatedResources'] as const;

let adsService: grpc.ServiceDefinition | undefined;

/**
 * The ADS service definition for a server: both methods also take {@link PreEncodedXdsResponse}s.
 * Envoy's protos are loaded on the first message, not here: a control plane registers the
 * service at start, and one that no Envoy or gRPC client ever talks to pays nothing for them.
 */
export function adsServiceDefinition(): grpc.ServiceDefinition {
  if (adsService === undefined) {
    const loaded = (name: string) => adsClientConstructor().service[name]!;
    const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
    for (const name of ADS_METHODS) {
      out[name] = {
        path: `/${ADS_SERVICE_NAME}/${name}`,
        originalName: name.charAt(0).toLowerCase() + name.slice(1),
        requestStream: true,
        responseStream: true,
        requestSerialize: (value: unknown) => loaded(name).requestSerialize(value),
        requestDeserialize: (bytes: Buffer) => loaded(name).requestDeserialize(bytes),
        responseSerialize: (value: unknown) => (value instanceof PreEncodedXdsResponse ? value.encode() : loaded(name).responseSerialize(value)),
        responseDeserialize: (bytes: Buffer) => loaded(name).responseDeserialize(bytes),
      };
    }
    adsService = out;
  }
  return adsService;
}

/** A state-of-the-world response as proto-loader reads and writes it (`Any` as `{ '@type', ...fields }`). */
export interface XdsDiscoveryResponse {
  version_info: string;
  resources: Array<Record<string, unknown>>;
  type_url: string;
  nonce: string;
  control_plane?: unknown;
}

/** One resource of a delta response. */
export interface XdsResource {
  name: string;
  version: string;
  resource: Record<string, unknown> | null;
  aliases?: string[];
}

/** A delta response as proto-loader reads and writes it. */
export interface XdsDeltaDiscoveryResponse {
  system_version_info: string;
  resources: XdsResource[];
  type_url: string;
  removed_resources: string[];
  nonce: string;
}

/** The node of a request as proto-loader reads it (only what the view reads). */
export interface XdsNode {
  id: string;
  cluster: string;
  /** `google.protobuf.Struct` as proto-loader gives it: `{ fields: { KEY: { kind, stringValue, structValue, … } } }`. */
  metadata: { fields?: Record<string, XdsStructValue> } | null;
  user_agent_name?: string;
}

/**
 * A `google.protobuf.Value` as proto-loader gives it. Its fields are camelCase whatever
 * `keepCase` says (protobufjs takes the well-known types from its own bundled definitions):
 * `kind` names the field set (`stringValue`, `structValue`, …).
 */
export interface XdsStructValue {
  kind?: string;
  stringValue?: string;
  numberValue?: number;
  boolValue?: boolean;
  nullValue?: string;
  structValue?: { fields?: Record<string, XdsStructValue> };
  listValue?: { values?: XdsStructValue[] };
}

/** `google.rpc.Status` of a NACK. */
export interface XdsErrorDetail {
  code: number;
  message: string;
}

/** A state-of-the-world request. */
export interface XdsDiscoveryRequest {
  version_info: string;
  node: XdsNode | null;
  resource_names: string[];
  type_url: string;
  response_nonce: string;
  error_detail: XdsErrorDetail | null;
}

/** A delta request. */
export interface XdsDeltaDiscoveryRequest {
  node: XdsNode | null;
  type_url: string;
  resource_names_subscribe: string[];
  resource_names_unsubscribe: string[];
  initial_resource_versions: Record<string, string>;
  response_nonce: string;
  error_detail: XdsErrorDetail | null;
}

/**
 * One resource encoded as the `Any` a response carries, with its name and version: the bytes
 * of the `Any` message (`type_url` and `value`). State-of-the-world responses put them as
 * `resources` entries; delta responses wrap them in a `Resource`.
 */
export function encodeAny(typeUrl: string, resource: Record<string, unknown>): Buffer {
  // A response with one resource is field 2 (tag 0x12), its length, then the Any's bytes: the
  // Any is what follows the tag and the length.
  const serialize = adsServiceDefinition().StreamAggregatedResources!.responseSerialize;
  // (protobufjs writes a field given as '' too: only the resource is given.)
  const bytes = serialize({ resources: [{ '@type': typeUrl, ...resource }] });
  if (bytes[0] !== 0x12) throw new Error(`encodeAny: unexpected first field tag ${bytes[0]}`);
  let offset = 1;
  while ((bytes[offset]! & 0x80) !== 0) offset += 1;
  return Buffer.from(bytes.subarray(offset + 1)); // a copy: a slice would keep the serializer's (pooled) buffer alive
}

/**
 * Decode a resource's `Any` bytes back into the object proto-loader gives (`{ '@type', … }`)
 * with Envoy's protos: what a client reads, for tests and tools.
 */
export function decodeAny(any: Buffer): Record<string, unknown> {
  const deserialize = adsServiceDefinition().StreamAggregatedResources!.responseDeserialize;
  const response = deserialize(Buffer.concat([Buffer.from([0x12]), varint(any.length), any])) as XdsDiscoveryResponse;
  return response.resources[0]!;
}

/** A protobuf varint. */
export function varint(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}
