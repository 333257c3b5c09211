// A TCP forwarder that can cut the network between a client and its server, as a partition
// does: existing connections are dropped and new ones are accepted but never answered, so the
// server sees its client vanish (a ZooKeeper session then expires) and the client sees nothing.
import net from 'node:net';

/** A forwarder on 127.0.0.1:0 to one target. */
export interface TcpPartition {
  /** `127.0.0.1:PORT`: give this to the client instead of the server's address. */
  readonly address: string;
  readonly port: number;
  /** Whether the network is cut now. */
  readonly isCut: boolean;
  /** Connections forwarded so far (a test can wait for the client to come back). */
  readonly forwarded: number;
  /** Drop every connection; hold new ones silent until {@link heal}. */
  cut(): void;
  /**
   * Stop forwarding without closing anything: every byte is dropped both ways and new
   * connections are held silent (a network that loses packets, no reset: only a read timeout
   * notices). {@link heal} closes the silenced connections.
   */
  silence(): void;
  /** Forward again: held connections are dropped (the client makes new ones), new ones pass. */
  heal(): void;
  close(): Promise<void>;
}

/** Start a forwarder to `target`. */
export async function startTcpPartition(target: { readonly host: string; readonly port: number }): Promise<TcpPartition> {
  const pairs = new Set<net.Socket>();
  /** Client sockets of forwarded connections, with their upstream. */
  const links = new Map<net.Socket, net.Socket>();
  const held = new Set<net.Socket>();
  let cut = false;
  let forwarded = 0;
  const server = net.createServer((client) => {
    client.on('error', () => client.destroy());
    if (cut) {
      // Accepted, never answered: what a client sees across a partition.
      held.add(client);
      client.on('close', () => held.delete(client));
      client.on('data', () => undefined);
      return;
    }
    forwarded += 1;
    const upstream = net.connect(target.port, target.host);
    upstream.on('error', () => {
      upstream.destroy();
      client.destroy();
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
    links.set(client, upstream);
    client.on('close', () => links.delete(client));
    pairs.add(client);
    pairs.add(upstream);
    client.on('close', () => pairs.delete(client));
    upstream.on('close', () => pairs.delete(upstream));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    address: `127.0.0.1:${port}`,
    port,
    get isCut() {
      return cut;
    },
    get forwarded() {
      return forwarded;
    },
    cut() {
      cut = true;
      for (const socket of [...pairs]) socket.destroy();
    },
    silence() {
      cut = true;
      for (const [client, upstream] of links) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.on('data', () => undefined);
        upstream.on('data', () => undefined);
        held.add(client);
        client.on('close', () => held.delete(client));
      }
    },
    heal() {
      cut = false;
      for (const socket of [...held]) socket.destroy();
    },
    close: async () => {
      for (const socket of [...pairs, ...held]) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
