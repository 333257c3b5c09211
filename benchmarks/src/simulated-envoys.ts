// Simulated Envoy sidecars for the xDS benchmark: each on an ADS stream of its own (one gRPC
// channel, so one TCP connection, each), asking what an Envoy sidecar asks — LDS and CDS
// wildcard, the `dubbo_outbound` Dubbo routes (drds) its listener names, and EDS for every
// cluster CDS gave — in state-of-the-world or delta requests, and ACKing every response at
// once. A response is read only as far as its version, nonce, type and resource names (the
// bytes arrive in full): what is measured is the control plane and the transport.
import * as grpc from '@grpc/grpc-js';
import { adsClientConstructor } from '@dubbo-mesh/envoy-xds';
import { fields } from './protobuf-fields.js';

/** Which ADS method the simulated sidecars use. */
export type AdsMode = 'sotw' | 'delta';

export const TYPE = Object.freeze({
  listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  endpoints: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  dubboRoutes: 'type.googleapis.com/envoy.extensions.filters.network.dubbo_proxy.v3.MultipleRouteConfiguration',
});

/** One simulated sidecar: what it holds, and counters over its life. */
export interface SimulatedEnvoy {
  readonly id: string;
  /** The version of each type it last ACKed. */
  readonly versions: Map<string, string>;
  /** Bytes of every response, summed, and per type. */
  totalBytes: number;
  readonly bytesByType: Map<string, number>;
  responses: number;
  /** Called after each response is ACKed. */
  onResponse?: (typeUrl: string, version: string, bytes: number) => void;
}

/** A set of connected simulated sidecars. */
export interface SimulatedEnvoys {
  readonly sims: SimulatedEnvoy[];
  streamsEnded(): number;
  close(): void;
}

/** What a simulated sidecar reads of a response (SotW and delta number these fields alike but for resources). */
interface ReadResponse {
  version: string;
  typeUrl: string;
  nonce: string;
  /** Resource names: SotW from each Any's message field 1 (`name`, `cluster_name`); delta from each Resource's `name`. */
  names: string[];
}

function readResponse(bytes: Buffer, mode: AdsMode, wantNames: boolean): ReadResponse {
  const read: ReadResponse = { version: '', typeUrl: '', nonce: '', names: [] };
  for (const field of fields(bytes)) {
    const text = () => bytes.toString('utf8', field.start, field.end);
    if (field.number === 1) read.version = text();
    else if (field.number === 4) read.typeUrl = text();
    else if (field.number === 5) read.nonce = text();
    else if (field.number === 2 && wantNames) {
      if (mode === 'delta') {
        const name = fields(bytes, field.start, field.end).find((f) => f.number === 3);
        if (name !== undefined) read.names.push(bytes.toString('utf8', name.start, name.end));
      } else {
        const value = fields(bytes, field.start, field.end).find((f) => f.number === 2);
        const name = value === undefined ? undefined : fields(bytes, value.start, value.end).find((f) => f.number === 1);
        if (name !== undefined) read.names.push(bytes.toString('utf8', name.start, name.end));
      }
    }
  }
  return read;
}

/** The node of an Envoy sidecar, as its bootstrap (envoy/envoy-sidecar.yaml) sets it. */
function envoyNode(id: string): object {
  return {
    id,
    cluster: 'bench',
    metadata: { fields: { DUBBO_MESH_ROLE: { stringValue: 'proxy' }, DUBBO_MESH_NAMESPACE: { stringValue: 'default' } } },
  };
}

/**
 * Open `count` ADS streams to `address`, all at once; resolves when every one holds listeners,
 * clusters, Dubbo routes and endpoints. Clusters' names are read once per CDS version and
 * shared (every sidecar gets the same).
 */
export async function connectSimulatedEnvoys(address: string, count: number, mode: AdsMode, clients: grpc.Client[] = []): Promise<SimulatedEnvoys> {
  const service = adsClientConstructor().service;
  const methodName = mode === 'sotw' ? 'StreamAggregatedResources' : 'DeltaAggregatedResources';
  const method = service[methodName]!;
  const Client = grpc.makeGenericClientConstructor(
    { [methodName]: { ...method, responseDeserialize: (bytes: Buffer) => bytes } },
    'AggregatedDiscoveryService',
  );
  const sims: SimulatedEnvoy[] = [];
  let ended = 0;
  /** Cluster names by CDS version: read from the first response of that version only. */
  const clusterNames = new Map<string, string[]>();
  await Promise.all(
    Array.from(
      { length: count },
      (_, i) =>
        new Promise<void>((resolve, reject) => {
          const client = new Client(address, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': 1024 * 1024 * 1024 });
          clients.push(client);
          const sim: SimulatedEnvoy = { id: `envoy-${i}`, versions: new Map(), totalBytes: 0, bytesByType: new Map(), responses: 0 };
          sims.push(sim);
          const node = envoyNode(sim.id);
          const stream = (client as unknown as Record<string, () => grpc.ClientDuplexStream<object, Buffer>>)[methodName]!.call(client);
          /** Names subscribed per type (EDS and drds; LDS and CDS are wildcard). */
          const subscribed = new Map<string, readonly string[]>();
          /** The last nonce of each type (a SotW subscription change carries it, or it would read as a first request). */
          const nonces = new Map<string, string>();
          let first = true;
          const request = (typeUrl: string, names: readonly string[], nonce: string, version: string) => {
            const withNode = first ? { node } : {};
            first = false;
            if (mode === 'sotw') stream.write({ ...withNode, type_url: typeUrl, resource_names: names, response_nonce: nonce, version_info: version });
            else if (nonce !== '') stream.write({ ...withNode, type_url: typeUrl, response_nonce: nonce });
            else {
              // A subscription change: only the names not subscribed yet (delta's ACKs carry none).
              const before = new Set(subscribed.get(typeUrl) ?? []);
              stream.write({ ...withNode, type_url: typeUrl, resource_names_subscribe: names.filter((n) => !before.has(n)) });
            }
            subscribed.set(typeUrl, names);
          };
          stream.on('data', (bytes: Buffer) => {
            const isCluster = bytes.includes('envoy.config.cluster.v3.Cluster');
            const peek = readResponse(bytes, mode, false);
            let names: string[] | undefined;
            if (isCluster && peek.typeUrl === TYPE.cluster) {
              names = clusterNames.get(peek.version);
              if (names === undefined) clusterNames.set(peek.version, (names = readResponse(bytes, mode, true).names));
            }
            sim.totalBytes += bytes.length;
            sim.bytesByType.set(peek.typeUrl, (sim.bytesByType.get(peek.typeUrl) ?? 0) + bytes.length);
            sim.responses += 1;
            sim.versions.set(peek.typeUrl, peek.version);
            nonces.set(peek.typeUrl, peek.nonce);
            // ACK (delta: the nonce alone), then ask for what the response names.
            request(peek.typeUrl, subscribed.get(peek.typeUrl) ?? [], peek.nonce, peek.version);
            if (peek.typeUrl === TYPE.listener && !subscribed.has(TYPE.dubboRoutes)) request(TYPE.dubboRoutes, ['dubbo_outbound'], '', '');
            if (names !== undefined && names !== subscribed.get(TYPE.endpoints)) {
              request(TYPE.endpoints, names, mode === 'sotw' ? (nonces.get(TYPE.endpoints) ?? '') : '', sim.versions.get(TYPE.endpoints) ?? '');
            }
            sim.onResponse?.(peek.typeUrl, peek.version, bytes.length);
            if (sim.versions.has(TYPE.listener) && sim.versions.has(TYPE.cluster) && sim.versions.has(TYPE.endpoints) && sim.versions.has(TYPE.dubboRoutes))
              resolve();
          });
          // A stream refused before it holds everything fails the run (a benchmark must not wait forever).
          stream.on('error', (error: Error) => reject(new Error(`${sim.id}: ${error.message}`)));
          stream.on('close', () => (ended += 1));
          request(TYPE.listener, [], '', '');
          request(TYPE.cluster, [], '', '');
        }),
    ),
  );
  return {
    sims,
    streamsEnded: () => ended,
    close: () => {
      for (const client of clients) client.close();
    },
  };
}
