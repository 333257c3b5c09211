// Simulated proxies for the control-plane benchmarks: each on a discovery stream of its own
// (one gRPC channel, so one TCP connection, each), decoding only the version and nonce of each
// response (the bytes arrive in full) and ACKing at once, so what is measured is the control
// plane and the transport, not a proxy's work on the snapshot.
import * as grpc from '@grpc/grpc-js';
import { discoveryServiceDefinition } from '@dubbo-mesh/discovery';
import { fields } from './protobuf-fields.js';

/** Which discovery stream the simulated proxies open: delta (what proxies use) or state of the world. */
export type DiscoveryMode = 'DeltaSnapshots' | 'StreamSnapshots';

/** One simulated proxy: what it last received, and counters over its life. */
export interface SimulatedProxy {
  /** Its node id (`sim-N`). */
  readonly id: string;
  /** The version it last received (and ACKed). */
  version: string;
  /** The size of the last response. */
  bytes: number;
  /** Every response's bytes, summed. */
  totalBytes: number;
  /** Responses received. */
  responses: number;
  /** `performance.now()` when the last response arrived. */
  receivedAt: number;
  /** Called after each response is ACKed, with its version. */
  onVersion?: (version: string) => void;
}

/** A set of connected simulated proxies. */
export interface SimulatedProxies {
  readonly sims: SimulatedProxy[];
  /** Streams that ended (a blocked control plane misses keepalive pings and the transport drops the stream). */
  streamsEnded(): number;
  /** Closes every channel. */
  close(): void;
}

/** Read field 1 (version) and 2 (nonce) of a DiscoveryResponse without decoding the rest. */
export function versionAndNonce(bytes: Buffer): { version: string; nonce: string } {
  let version = '';
  let nonce = '';
  for (const field of fields(bytes)) {
    if (field.number === 1) version = bytes.toString('utf8', field.start, field.end);
    else if (field.number === 2) nonce = bytes.toString('utf8', field.start, field.end);
  }
  return { version, nonce };
}

/**
 * Open `count` discovery streams to `address`, all at once; resolves when every one has its
 * first response. The channels are in `clients` as soon as they are made, so a caller can
 * close them even when this never resolves.
 */
export async function connectSimulatedProxies(address: string, count: number, mode: DiscoveryMode, clients: grpc.Client[] = []): Promise<SimulatedProxies> {
  const method = discoveryServiceDefinition()[mode]!;
  const Client = grpc.makeGenericClientConstructor(
    {
      [mode]: { ...method, responseDeserialize: (bytes: Buffer) => bytes },
    },
    'SnapshotDiscoveryService',
  );
  const sims: SimulatedProxy[] = [];
  let ended = 0;
  await Promise.all(
    Array.from(
      { length: count },
      (_, i) =>
        new Promise<void>((resolve) => {
          const client = new Client(address, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': 512 * 1024 * 1024 });
          clients.push(client);
          const sim: SimulatedProxy = { id: `sim-${i}`, version: '', bytes: 0, totalBytes: 0, responses: 0, receivedAt: 0 };
          sims.push(sim);
          const node = { id: sim.id, service: '', namespace: 'default', labels: {}, role: 'PROXY' };
          const stream = (client as unknown as Record<string, () => grpc.ClientDuplexStream<object, Buffer>>)[mode]!.call(client);
          stream.on('data', (bytes: Buffer) => {
            sim.receivedAt = performance.now();
            const { version, nonce } = versionAndNonce(bytes);
            sim.version = version;
            sim.bytes = bytes.length;
            sim.totalBytes += bytes.length;
            sim.responses += 1;
            stream.write({ node, version_info: version, response_nonce: nonce });
            sim.onVersion?.(version);
            resolve();
          });
          stream.on('error', () => {});
          stream.on('close', () => (ended += 1));
          stream.write({ node, version_info: '', response_nonce: '', initial_resource_versions: {} });
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
