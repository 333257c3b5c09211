import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { ZooKeeperOperationError, ZooKeeperUnavailableError, type ZooKeeperFailure } from './errors.js';

/**
 * The parts of node-zookeeper-client (CommonJS, no types) this file uses; nothing else in the
 * bridge touches the library.
 */
interface ZkStat {
  readonly version: number;
  readonly cversion: number;
  readonly ephemeralOwner: Buffer;
  readonly numChildren: number;
}
interface ZkException extends Error {
  readonly code: number;
  getName?(): string;
}
type ZkCallback<T> = (error: ZkException | null | undefined, result: T, stat: ZkStat) => void;
interface ZkClient {
  connect(): void;
  close(): void;
  getSessionId(): Buffer;
  getSessionTimeout(): number;
  on(event: 'connected' | 'disconnected' | 'expired' | 'authenticationFailed', listener: () => void): void;
  removeAllListeners(): void;
  getChildren(path: string, watcher: ((event: unknown) => void) | undefined, callback: ZkCallback<string[]>): void;
  getData(path: string, watcher: ((event: unknown) => void) | undefined, callback: ZkCallback<Buffer | undefined>): void;
  exists(path: string, watcher: ((event: unknown) => void) | undefined, callback: (error: ZkException | null | undefined, stat: ZkStat | null) => void): void;
  create(path: string, data: Buffer | undefined, mode: number, callback: (error: ZkException | null | undefined, path: string) => void): void;
  mkdirp(path: string, callback: (error: ZkException | null | undefined) => void): void;
  setData(path: string, data: Buffer, version: number, callback: (error: ZkException | null | undefined, stat: ZkStat) => void): void;
  remove(path: string, version: number, callback: (error: ZkException | null | undefined) => void): void;
}
interface ZkModule {
  createClient(connect: string, options: { sessionTimeout: number; spinDelay: number; retries: number }): ZkClient;
  readonly CreateMode: { readonly PERSISTENT: number; readonly EPHEMERAL: number; readonly EPHEMERAL_SEQUENTIAL: number };
  readonly Exception: Record<string, number>;
}

const zookeeper = createRequire(import.meta.url)('node-zookeeper-client') as ZkModule;

/** Where a session stands. `disconnected`: the connection is lost, the session may live on. */
export type ZooKeeperState = 'connecting' | 'connected' | 'disconnected' | 'closed';

/** A node's stat, as the bridge needs it. */
export interface ZooKeeperStat {
  readonly version: number;
  readonly cversion: number;
  /** The session that owns an ephemeral node, hex; `0` for a persistent node. */
  readonly ephemeralOwner: string;
  readonly numChildren: number;
}

/** How a session is made. */
export interface ZooKeeperSessionOptions {
  /** `host:port[,host:port]` (`--zookeeper`). */
  readonly connect: string;
  /** Asked of the server, which bounds it to 2–20 ticks. Default 30 s. */
  readonly sessionTimeoutMs?: number;
  /** How long the first connection may take before start fails. Default 10 s. */
  readonly connectTimeoutMs?: number;
  /** Wait between connection attempts. Default 1 s. */
  readonly spinDelayMs?: number;
  readonly log?: (level: 'info' | 'warn', message: string, fields: Record<string, unknown>) => void;
}

/** The session's events. */
export interface ZooKeeperSessionEvents {
  /** A connection is up: the first, or again with the same session (watches are kept). */
  connected: [];
  /** The connection is lost; the session may still be alive: keep what you have. */
  disconnected: [];
  /** The session expired: its ephemeral nodes and watches are gone. A new session is being made. */
  expired: [];
  /** A new session began (the first, or after an expiry): re-create ephemerals, re-set watches, re-list. */
  'session-started': [];
}

const FAILURES: ReadonlyArray<[string, ZooKeeperFailure]> = [
  ['NO_NODE', 'NO_NODE'],
  ['NODE_EXISTS', 'NODE_EXISTS'],
  ['BAD_VERSION', 'BAD_VERSION'],
  ['NOT_EMPTY', 'NOT_EMPTY'],
  ['CONNECTION_LOSS', 'CONNECTION_LOSS'],
  ['SESSION_EXPIRED', 'SESSION_EXPIRED'],
];

function failureOf(error: ZkException): ZooKeeperFailure {
  for (const [name, failure] of FAILURES) if (error.code === zookeeper.Exception[name]) return failure;
  return 'OTHER';
}

function statOf(stat: ZkStat): ZooKeeperStat {
  return {
    version: stat.version,
    cversion: stat.cversion,
    ephemeralOwner: BigInt(`0x${stat.ephemeralOwner.toString('hex')}`).toString(16),
    numChildren: stat.numChildren,
  };
}

/**
 * Close a client, whatever its state. The library's close() writes a goodbye to its socket and
 * throws when it has none yet (still connecting): then the socket, if any, is simply dropped.
 */
function closeClient(client: ZkClient): void {
  const manager = (client as unknown as { connectionManager?: { socket?: { destroy(): void }; connect(): void; findNextServer(callback: unknown): void } })
    .connectionManager;
  try {
    client.close();
  } catch {
    // Still connecting: no further attempt may start (it would reconnect for ever), and a socket being opened is dropped.
    if (manager !== undefined) {
      manager.connect = () => undefined;
      manager.findNextServer = () => undefined;
      manager.socket?.destroy();
    }
  }
}

/** The part of the library's connection manager {@link guardStream} changes. */
interface StreamManager {
  pendingBuffer: Buffer | null;
  socket?: { destroy(): void };
  onSocketData(buffer: Buffer): void;
  onSocketClosed(hasError: boolean): void;
}

/**
 * Two flaws of node-zookeeper-client 1.1.3's stream handling, mended per client:
 * - it keeps the bytes of a reply cut short by a lost connection (`pendingBuffer`) and reads
 *   the next connection's bytes after them, so the first reply on the new connection is
 *   garbage. Dropped with the socket here, as a new connection starts a new stream;
 * - a reply it cannot read (such garbage, or a corrupt stream) throws out of the socket's
 *   data handler: an uncaught exception that would end the process. Caught here: the
 *   connection is dropped (the library reconnects, as after any loss) and counted.
 */
function guardStream(client: ZkClient, onCorrupt: (error: unknown) => void): void {
  const manager = (client as unknown as { connectionManager?: StreamManager }).connectionManager;
  if (manager === undefined || typeof manager.onSocketData !== 'function' || typeof manager.onSocketClosed !== 'function') return;
  const onSocketData = manager.onSocketData;
  const onSocketClosed = manager.onSocketClosed;
  manager.onSocketClosed = function (this: StreamManager, hasError: boolean) {
    this.pendingBuffer = null;
    onSocketClosed.call(this, hasError);
  };
  manager.onSocketData = function (this: StreamManager, buffer: Buffer) {
    try {
      onSocketData.call(this, buffer);
    } catch (error) {
      this.pendingBuffer = null;
      onCorrupt(error);
      this.socket?.destroy();
    }
  };
}

/** An operation sent and not answered yet, and how to give up on it. */
interface PendingOperation {
  readonly client: ZkClient;
  abandon(failure: ZooKeeperFailure, why: string): void;
}

const MODES = {
  persistent: zookeeper.CreateMode.PERSISTENT,
  ephemeral: zookeeper.CreateMode.EPHEMERAL,
  'ephemeral-sequential': zookeeper.CreateMode.EPHEMERAL_SEQUENTIAL,
};

/**
 * One ZooKeeper session that outlives expiries: the only user of node-zookeeper-client in the
 * bridge. The library keeps a session across reconnects (and re-sets its watches) but dies
 * with it; this makes a new client after an expiry and says so (`session-started`), so the
 * import re-lists and the export re-creates its nodes. Operations go to the client of the
 * moment; while disconnected they wait for the connection (the library queues them).
 */
export class ZooKeeperSession extends EventEmitter<ZooKeeperSessionEvents> {
  private client: ZkClient | undefined;
  private currentState: ZooKeeperState = 'connecting';
  private currentSessionId: string | undefined;
  private closed = false;
  /** Set while a new client (after an expiry) waits for its handshake (see {@link connectClient}). */
  private handshakeTimer: ReturnType<typeof setTimeout> | undefined;
  /** Ends a start in progress (see {@link close}). */
  private cancelStart: (() => void) | undefined;
  /** Asks the server something now and then (see {@link watchLiveness}). */
  private livenessTimer: ReturnType<typeof setInterval> | undefined;
  /** Operations sent and not answered yet. */
  private readonly pending = new Set<PendingOperation>();
  /** Set while disconnected: fires when the session must be taken as lost. */
  private lostTimer: ReturnType<typeof setTimeout> | undefined;
  /** Operations sent, for the benchmark and `/api/v1/sources`. */
  readonly counters = { reads: 0, writes: 0, sessions: 0, expiries: 0, silentConnections: 0, corruptReplies: 0 };

  constructor(private readonly options: ZooKeeperSessionOptions) {
    super();
  }

  /** Where the session stands. */
  get state(): ZooKeeperState {
    return this.currentState;
  }

  /** The session's id (hex), compared with {@link ZooKeeperStat.ephemeralOwner} to tell one's own nodes. */
  get sessionId(): string | undefined {
    return this.currentSessionId;
  }

  /** The negotiated session timeout, once connected. */
  get sessionTimeoutMs(): number | undefined {
    return this.client?.getSessionTimeout();
  }

  /**
   * Make the first session. Rejects with a one-line {@link ZooKeeperUnavailableError} when no
   * server answers within the connect timeout.
   */
  async start(): Promise<void> {
    const timeoutMs = this.options.connectTimeoutMs ?? 10_000;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('session-started', onStarted);
        this.closed = true;
        this.client?.removeAllListeners();
        if (this.client !== undefined) closeClient(this.client);
        this.client = undefined;
        this.currentState = 'closed';
        reject(new ZooKeeperUnavailableError(this.options.connect, `no ZooKeeper server answered at ${this.options.connect} within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      const onStarted = () => {
        clearTimeout(timer);
        this.cancelStart = undefined;
        resolve();
      };
      // Closed while starting (a control plane stopped during its start): the start ends at once.
      this.cancelStart = () => {
        clearTimeout(timer);
        this.off('session-started', onStarted);
        reject(new ZooKeeperUnavailableError(this.options.connect, `closed before a ZooKeeper server answered at ${this.options.connect}`));
      };
      this.once('session-started', onStarted);
      this.connectClient();
    });
  }

  private connectClient(): void {
    const client = zookeeper.createClient(this.options.connect, {
      sessionTimeout: this.options.sessionTimeoutMs ?? 30_000,
      spinDelay: this.options.spinDelayMs ?? 1000,
      retries: 0,
    });
    guardStream(client, (error) => {
      this.counters.corruptReplies += 1;
      this.options.log?.('warn', 'ZooKeeper sent a reply that cannot be read; the connection is dropped and made again', {
        connect: this.options.connect,
        error: error instanceof Error ? error.message : String(error),
      });
    });
    this.client = client;
    this.currentState = 'connecting';
    // The library stops its connect timer once TCP is up: a server that accepts and never
    // answers the handshake (a JVM starting under load) would hold a new client for ever. A
    // client with no session yet that has not got one within the session timeout is replaced.
    clearTimeout(this.handshakeTimer);
    if (this.currentSessionId !== undefined) {
      this.handshakeTimer = setTimeout(
        () => {
          if (client !== this.client || this.closed || this.currentState === 'connected') return;
          this.options.log?.('warn', 'no ZooKeeper handshake within the session timeout: a new client', { zookeeper: this.options.connect });
          client.removeAllListeners();
          closeClient(client);
          this.abandon(client, 'CONNECTION_LOSS', 'the client got no handshake');
          this.connectClient();
        },
        Math.max(1000, this.options.sessionTimeoutMs ?? 30_000),
      );
    }
    client.on('connected', () => {
      if (client !== this.client) return;
      const id = client.getSessionId().toString('hex');
      const sessionId = BigInt(`0x${id}`).toString(16);
      const fresh = sessionId !== this.currentSessionId;
      this.currentSessionId = sessionId;
      this.currentState = 'connected';
      clearTimeout(this.lostTimer);
      clearTimeout(this.handshakeTimer);
      if (fresh) {
        this.counters.sessions += 1;
        this.options.log?.('info', 'ZooKeeper session started', { zookeeper: this.options.connect, session: sessionId, timeoutMs: client.getSessionTimeout() });
      } else this.options.log?.('info', 'ZooKeeper connection restored (same session)', { zookeeper: this.options.connect, session: sessionId });
      this.watchLiveness(client);
      this.emit('connected');
      if (fresh) this.emit('session-started');
    });
    client.on('disconnected', () => {
      if (client !== this.client || this.closed) return;
      this.currentState = 'disconnected';
      this.options.log?.('warn', 'ZooKeeper connection lost; the session may live on', { zookeeper: this.options.connect, session: this.currentSessionId });
      // Away longer than the session timeout: the session is over whatever the client hears
      // (Curator's rule, which Dubbo runs on). A server restarted empty never says "expired":
      // it refuses a client that has seen a newer zxid, forever; only a new client gets in.
      clearTimeout(this.lostTimer);
      this.lostTimer = setTimeout(() => this.expire(client, 'disconnected longer than the session timeout'), client.getSessionTimeout());
      this.emit('disconnected');
    });
    client.on('expired', () => this.expire(client, 'the server expired it'));
    client.on('authenticationFailed', () => {
      if (client !== this.client) return;
      this.options.log?.('warn', 'ZooKeeper refused the authentication', { zookeeper: this.options.connect });
    });
    client.connect();
  }

  /**
   * Ask the server something every third of the session timeout, and drop the connection when
   * no answer comes within two thirds of it (the Java client's read timeout). The library has
   * no read timeout of its own: across a silent network loss it would wait on a dead socket
   * while the server expires the session. Dropped, the library reconnects with the same
   * session (to another server of the ensemble, if any), or the session is taken as lost.
   */
  private watchLiveness(client: ZkClient): void {
    clearInterval(this.livenessTimer);
    const timeoutMs = client.getSessionTimeout();
    let asking = false;
    this.livenessTimer = setInterval(
      () => {
        if (client !== this.client || this.currentState !== 'connected' || asking) return;
        asking = true;
        const deadline = setTimeout(
          () => {
            if (client !== this.client || this.closed) return;
            this.counters.silentConnections += 1;
            this.options.log?.('warn', 'ZooKeeper did not answer within two thirds of the session timeout: reconnecting', {
              zookeeper: this.options.connect,
              session: this.currentSessionId,
              timeoutMs,
            });
            (client as unknown as { connectionManager?: { socket?: { destroy(): void } } }).connectionManager?.socket?.destroy();
          },
          (timeoutMs * 2) / 3,
        );
        client.exists('/', undefined, () => {
          asking = false;
          clearTimeout(deadline);
        });
      },
      Math.max(50, timeoutMs / 3),
    );
    this.livenessTimer.unref();
  }

  /** The session of `client` is over: a new client, a new session. */
  private expire(client: ZkClient, why: string): void {
    if (client !== this.client || this.closed) return;
    clearTimeout(this.lostTimer);
    clearInterval(this.livenessTimer);
    this.counters.expiries += 1;
    this.options.log?.('warn', 'ZooKeeper session expired: starting a new one', { zookeeper: this.options.connect, session: this.currentSessionId, why });
    client.removeAllListeners();
    closeClient(client);
    this.abandon(client, 'SESSION_EXPIRED', `the session was lost (${why})`);
    this.currentState = 'disconnected';
    this.emit('expired');
    if (!this.closed) this.connectClient();
  }

  private current(operation: string, path: string): ZkClient {
    if (this.client === undefined || this.closed) throw new ZooKeeperOperationError('CONNECTION_LOSS', operation, path, 'the session is closed');
    return this.client;
  }

  private fail(operation: string, path: string, error: ZkException): ZooKeeperOperationError {
    const failure = failureOf(error);
    return new ZooKeeperOperationError(failure, operation, path, error.getName?.() ?? error.message, { cause: error });
  }

  /**
   * Send one operation on the client of the moment, tracked until it settles: the library
   * never calls back an operation still queued on a client that is given up (a session taken
   * as lost while disconnected), so {@link expire} and {@link close} reject those themselves,
   * and a caller (an export pass, a metadata read) never waits forever.
   */
  private track<T>(
    operation: string,
    path: string,
    counter: 'reads' | 'writes',
    run: (client: ZkClient, resolve: (value: T) => void, fail: (error: ZkException) => void) => void,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const client = this.current(operation, path);
      this.counters[counter] += 1;
      let settled = false;
      const entry: PendingOperation = {
        client,
        abandon: (failure, why) => {
          if (settled) return;
          settled = true;
          this.pending.delete(entry);
          reject(new ZooKeeperOperationError(failure, operation, path, why));
        },
      };
      this.pending.add(entry);
      run(
        client,
        (value) => {
          if (settled) return;
          settled = true;
          this.pending.delete(entry);
          resolve(value);
        },
        (error) => {
          if (settled) return;
          settled = true;
          this.pending.delete(entry);
          reject(this.fail(operation, path, error));
        },
      );
    });
  }

  /** Reject every operation still waiting on `client` (undefined: on any client). */
  private abandon(client: ZkClient | undefined, failure: ZooKeeperFailure, why: string): void {
    for (const entry of [...this.pending]) if (client === undefined || entry.client === client) entry.abandon(failure, why);
  }

  /** A node's children; undefined when the node does not exist (watch it with {@link exists}). The watcher fires once. */
  getChildren(path: string, watcher?: () => void): Promise<{ children: string[]; stat: ZooKeeperStat } | undefined> {
    return this.track('getChildren', path, 'reads', (client, resolve, fail) =>
      client.getChildren(path, watcher === undefined ? undefined : () => watcher(), (error, children, stat) => {
        if (!error) resolve({ children, stat: statOf(stat) });
        else if (failureOf(error) === 'NO_NODE') resolve(undefined);
        else fail(error);
      }),
    );
  }

  /** A node's data and stat; undefined when it does not exist. The watcher fires once. */
  getData(path: string, watcher?: () => void): Promise<{ data: Buffer | undefined; stat: ZooKeeperStat } | undefined> {
    return this.track('getData', path, 'reads', (client, resolve, fail) =>
      client.getData(path, watcher === undefined ? undefined : () => watcher(), (error, data, stat) => {
        if (!error) resolve({ data: data ?? undefined, stat: statOf(stat) });
        else if (failureOf(error) === 'NO_NODE') resolve(undefined);
        else fail(error);
      }),
    );
  }

  /** A node's stat, undefined when it does not exist; the watcher fires once on its creation, change or deletion. */
  exists(path: string, watcher?: () => void): Promise<ZooKeeperStat | undefined> {
    return this.track('exists', path, 'reads', (client, resolve, fail) =>
      client.exists(path, watcher === undefined ? undefined : () => watcher(), (error, stat) => {
        if (error) fail(error);
        else resolve(stat === null || stat === undefined ? undefined : statOf(stat));
      }),
    );
  }

  /** Create a node; resolves with its path (with the sequence number for a sequential node). */
  create(path: string, data: Buffer | undefined, mode: 'persistent' | 'ephemeral' | 'ephemeral-sequential'): Promise<string> {
    return this.track('create', path, 'writes', (client, resolve, fail) =>
      client.create(path, data, MODES[mode], (error, created) => {
        if (error) fail(error);
        else resolve(created);
      }),
    );
  }

  /** Create a node and its missing parents, persistent; an existing node is fine. */
  mkdirp(path: string): Promise<void> {
    return this.track('mkdirp', path, 'writes', (client, resolve, fail) =>
      client.mkdirp(path, (error) => {
        if (error && failureOf(error) !== 'NODE_EXISTS') fail(error);
        else resolve();
      }),
    );
  }

  /** Write a node's data if its version is `version` (-1: any). */
  setData(path: string, data: Buffer, version: number): Promise<ZooKeeperStat> {
    return this.track('setData', path, 'writes', (client, resolve, fail) =>
      client.setData(path, data, version, (error, stat) => {
        if (error) fail(error);
        else resolve(statOf(stat));
      }),
    );
  }

  /** Delete a node (at `version`, -1: any); false when it was not there. */
  remove(path: string, version = -1): Promise<boolean> {
    return this.track('remove', path, 'writes', (client, resolve, fail) =>
      client.remove(path, version, (error) => {
        if (!error) resolve(true);
        else if (failureOf(error) === 'NO_NODE') resolve(false);
        else fail(error);
      }),
    );
  }

  /** End the session: its ephemeral nodes go at once. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.currentState = 'closed';
    clearTimeout(this.lostTimer);
    clearTimeout(this.handshakeTimer);
    clearInterval(this.livenessTimer);
    this.cancelStart?.();
    this.cancelStart = undefined;
    const client = this.client;
    this.client = undefined;
    if (client === undefined) return;
    client.removeAllListeners();
    closeClient(client);
    this.abandon(undefined, 'CONNECTION_LOSS', 'the session is closed');
  }
}
