/**
 * A FAKE Kubernetes API server for tests: no kube-apiserver can run here, so this serves the
 * REST and watch semantics @kubernetes/client-node 1.4.0 relies on, and nothing more, over real
 * HTTP on 127.0.0.1. It is checked against recorded responses of real API servers
 * (test/fixtures/kube-recorded). What it does not do: authentication, admission, schema
 * validation (except a Lease's MicroTime fields), defaulting (no clusterIP, no pod status),
 * graceful deletion and finalizers, strategic merge patch, server-side apply,
 * deletecollection, pagination (`limit` is ignored: everything comes in one page, which the
 * API allows), protobuf, and `sendInitialEvents`.
 */
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { KubeConfig } from '@kubernetes/client-node';
import { FakeKubeUnknownTypeError, notFound } from './fake-kube/errors.js';
import type { FakeKubeObject } from './fake-kube/fake-kube-object.js';
import { handleRequest, type FakeKubeRequestRecord, type HandlerContext, type TooOldMode } from './fake-kube/http-handler.js';
import { fakeKubeConfig, fakeKubeConfigYaml } from './fake-kube/kubeconfig.js';
import { ObjectStore } from './fake-kube/object-store.js';
import { ObjectWriter, PatchType } from './fake-kube/object-writer.js';
import { completeType, FAKE_KUBE_BUILTIN_TYPES, parseApiVersion, typeKey, type FakeKubeResourceType } from './fake-kube/resource-types.js';
import type { FakeKubeClock, WatchStream } from './fake-kube/watch-stream.js';

export { FAKE_KUBE_BUILTIN_TYPES, type FakeKubeResourceType } from './fake-kube/resource-types.js';
export type { FakeKubeObject } from './fake-kube/fake-kube-object.js';
export {
  FakeKubeErrorCode,
  FakeKubeStatusError,
  FakeKubeUnknownTypeError,
  type FakeKubeErrorCodeValue,
  type FakeKubeStatus,
  type FakeKubeStatusCause,
} from './fake-kube/errors.js';
export type { FakeKubeClock } from './fake-kube/watch-stream.js';
export type { FakeKubeRequestRecord, TooOldMode } from './fake-kube/http-handler.js';
export { parseMicroTime, RFC3339_MICRO } from './fake-kube/micro-time.js';

/** Options of {@link startFakeKubeApiServer}. */
export interface FakeKubeApiServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (a free port, kept across stop/restart). */
  port?: number;
  /** Types served besides {@link FAKE_KUBE_BUILTIN_TYPES} (the mesh's CRDs). */
  types?: readonly FakeKubeResourceType[];
  /** Send a BOOKMARK this often to every watch that asked `allowWatchBookmarks=true`. Default: none sent unless `sendBookmarks()` is called. */
  bookmarkIntervalMs?: number;
  /** How a watch from a compacted resourceVersion is refused: `'event'` (default: 200 and one ERROR event with a 410 Status, as the watch cache does) or `'http'` (an HTTP 410 Status). */
  tooOldMode?: TooOldMode;
  /** Time for creationTimestamp, watch `timeoutSeconds` and the bookmark interval (test-support's FakeClock fits). Default: the real clock. */
  clock?: FakeKubeClock;
}

/** Which requests an injected failure hits: `path` is matched against the URL path (no query); `watch` restricts it to watches (true) or to the rest (false). */
export interface FakeKubeFailureMatch {
  method?: string;
  path: string | RegExp;
  watch?: boolean;
}

/** A running fake API server. State (objects, resourceVersion, history) survives `stop()`/`restart()`. */
export interface FakeKubeApiServer {
  /** `http://127.0.0.1:PORT`, the same across stop/restart. */
  readonly url: string;
  /** A client-node KubeConfig for this server (no auth, namespace `default`). */
  kubeConfig(): KubeConfig;
  /** Writes a kubeconfig YAML file for the KUBECONFIG of a child process. */
  writeKubeConfig(path: string): Promise<void>;
  /** Serves one more type (a CRD); a type without the flags behaves as a custom resource. */
  addType(type: FakeKubeResourceType): void;
  /** Creates an object as another client would (next resourceVersion, seen by watches). Fills uid, resourceVersion, creationTimestamp, generation 1 (types that track it) and namespace `default`; keeps a given `status`; throws a 409 FakeKubeStatusError if it exists. */
  create(object: FakeKubeObject): FakeKubeObject;
  /** Replaces an object (its `status` is ignored when the type has a status subresource); a set but stale `metadata.resourceVersion` throws a 409, none writes unconditionally. */
  replace(object: FakeKubeObject): FakeKubeObject;
  /** Applies an RFC 7386 merge patch to the object (its `status` is ignored when the type has a status subresource). */
  patch(apiVersion: string, kind: string, namespace: string | undefined, name: string, mergePatch: unknown): FakeKubeObject;
  /** Replaces the object's `status` and nothing else. */
  updateStatus(apiVersion: string, kind: string, namespace: string | undefined, name: string, status: unknown): FakeKubeObject;
  /** Deletes the object at once (no graceful deletion, no finalizers); throws a 404 FakeKubeStatusError if it is missing. */
  remove(apiVersion: string, kind: string, namespace: string | undefined, name: string): void;
  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): FakeKubeObject | undefined;
  /** The objects of a type, in one namespace or all, ordered by namespace and name. */
  list(apiVersion: string, kind: string, namespace?: string): FakeKubeObject[];
  /** The last resourceVersion handed out (what a list reports now). */
  resourceVersion(): string;
  /** Forgets the history: a watch from an older resourceVersion is refused with 410. */
  compact(): void;
  /** Ends every open watch stream cleanly (silenced ones too), as the API server's timeout does. */
  closeWatches(): void;
  /** Keeps the open watches open but never writes to them again (a half-dead connection); new watches are normal. */
  silenceWatches(): void;
  /** Sends a BOOKMARK at the current resourceVersion to every watch that asked `allowWatchBookmarks=true`. */
  sendBookmarks(): void;
  /** Answers the next `times` (default 1) requests that match with a `Status` of code `status`. A 410 on a watch is the HTTP form of "too old". */
  failNext(match: FakeKubeFailureMatch, status: number, times?: number): void;
  /** Watch streams open now (silenced ones included). */
  watchCount(): number;
  /** Every request answered, in order. */
  readonly requests: ReadonlyArray<FakeKubeRequestRecord>;
  /** Stops answering: closes the listener and destroys every connection; state is kept. */
  stop(): Promise<void>;
  /** Listens again at the same host:port. */
  restart(): Promise<void>;
  /** Stops for good. */
  close(): Promise<void>;
}

const REAL_CLOCK: FakeKubeClock = {
  now: () => Date.now(),
  setTimer: (callback, delayMs) => setTimeout(callback, delayMs),
  clearTimer: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

class FakeKubeApiServerImpl implements FakeKubeApiServer, HandlerContext {
  readonly store = new ObjectStore();
  readonly writer: ObjectWriter;
  readonly clock: FakeKubeClock;
  readonly tooOldMode: TooOldMode;
  private readonly served = new Map<string, Required<FakeKubeResourceType>>();
  private readonly watches = new Set<WatchStream>();
  private readonly failures: Array<{ match: FakeKubeFailureMatch; status: number; remaining: number }> = [];
  private readonly log: FakeKubeRequestRecord[] = [];
  private readonly sockets = new Set<Socket>();
  private server: http.Server | undefined;
  private bookmarkTimer: unknown;
  private closed = false;
  private port: number;

  constructor(
    private readonly host: string,
    port: number,
    options: FakeKubeApiServerOptions,
  ) {
    this.port = port;
    this.clock = options.clock ?? REAL_CLOCK;
    this.tooOldMode = options.tooOldMode ?? 'event';
    this.writer = new ObjectWriter(this.store, () => this.clock.now());
    for (const type of [...FAKE_KUBE_BUILTIN_TYPES, ...(options.types ?? [])]) this.addType(type);
    if (options.bookmarkIntervalMs !== undefined) this.scheduleBookmarks(options.bookmarkIntervalMs);
  }

  get url(): string {
    return `http://${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`;
  }

  get serverAddress(): string {
    return `${this.host}:${this.port}`;
  }

  get requests(): ReadonlyArray<FakeKubeRequestRecord> {
    return this.log;
  }

  types(): readonly Required<FakeKubeResourceType>[] {
    return [...this.served.values()];
  }

  async listen(): Promise<void> {
    const server = http.createServer((request, response) => {
      handleRequest(this, request, response).catch(() => response.destroy());
    });
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  kubeConfig(): KubeConfig {
    return fakeKubeConfig(this.url);
  }

  async writeKubeConfig(path: string): Promise<void> {
    await writeFile(path, fakeKubeConfigYaml(this.url));
  }

  addType(type: FakeKubeResourceType): void {
    const complete = completeType(type);
    const key = typeKey(complete);
    if (this.served.has(key)) throw new Error(`the fake API server already serves ${key}`);
    if (this.types().some((other) => other.group === complete.group && other.version === complete.version && other.kind === complete.kind)) {
      throw new Error(`the fake API server already serves kind ${complete.kind} in ${complete.group}/${complete.version}`);
    }
    this.served.set(key, complete);
  }

  private typeOf(apiVersion: string, kind: string): Required<FakeKubeResourceType> {
    const { group, version } = parseApiVersion(apiVersion);
    const type = this.types().find((candidate) => candidate.group === group && candidate.version === version && candidate.kind === kind);
    if (type === undefined) throw new FakeKubeUnknownTypeError(`the fake API server does not serve ${apiVersion} ${kind}: add it with addType()`);
    return type;
  }

  private namespaceOf(type: Required<FakeKubeResourceType>, namespace: string | undefined): string | undefined {
    return type.namespaced ? (namespace ?? 'default') : undefined;
  }

  create(object: FakeKubeObject): FakeKubeObject {
    return structuredClone(this.writer.create(this.typeOf(object.apiVersion, object.kind), object, { viaHttp: false }));
  }

  replace(object: FakeKubeObject): FakeKubeObject {
    const type = this.typeOf(object.apiVersion, object.kind);
    const namespace = this.namespaceOf(type, object.metadata.namespace);
    return structuredClone(this.writer.update(type, namespace, object.metadata.name, object, { viaHttp: false, subresource: 'main' }).object);
  }

  patch(apiVersion: string, kind: string, namespace: string | undefined, name: string, mergePatch: unknown): FakeKubeObject {
    const type = this.typeOf(apiVersion, kind);
    return structuredClone(
      this.writer.patch(type, this.namespaceOf(type, namespace), name, PatchType.MERGE, mergePatch, { viaHttp: false, subresource: 'main' }),
    );
  }

  updateStatus(apiVersion: string, kind: string, namespace: string | undefined, name: string, status: unknown): FakeKubeObject {
    const type = this.typeOf(apiVersion, kind);
    const current = this.store.get(type, this.namespaceOf(type, namespace), name);
    if (current === undefined) throw notFound(type, name);
    const body = { ...current, status };
    return structuredClone(this.writer.update(type, this.namespaceOf(type, namespace), name, body, { viaHttp: false, subresource: 'status' }).object);
  }

  remove(apiVersion: string, kind: string, namespace: string | undefined, name: string): void {
    const type = this.typeOf(apiVersion, kind);
    this.writer.delete(type, this.namespaceOf(type, namespace), name);
  }

  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): FakeKubeObject | undefined {
    const type = this.typeOf(apiVersion, kind);
    const object = this.store.get(type, this.namespaceOf(type, namespace), name);
    return object === undefined ? undefined : structuredClone(object);
  }

  list(apiVersion: string, kind: string, namespace?: string): FakeKubeObject[] {
    return this.store.list(this.typeOf(apiVersion, kind), namespace).map((object) => structuredClone(object));
  }

  resourceVersion(): string {
    return String(this.store.currentRevision());
  }

  compact(): void {
    this.store.compact();
  }

  closeWatches(): void {
    for (const watch of [...this.watches]) watch.end();
  }

  silenceWatches(): void {
    for (const watch of this.watches) watch.silence();
  }

  sendBookmarks(): void {
    for (const watch of this.watches) watch.bookmark(this.store.currentRevision());
  }

  failNext(match: FakeKubeFailureMatch, status: number, times = 1): void {
    this.failures.push({ match, status, remaining: times });
  }

  takeInjectedFailure(method: string, path: string, watch: boolean): number | undefined {
    const index = this.failures.findIndex(({ match }) => {
      if (match.method !== undefined && match.method.toUpperCase() !== method) return false;
      if (match.watch !== undefined && match.watch !== watch) return false;
      if (typeof match.path === 'string') return match.path === path;
      match.path.lastIndex = 0;
      return match.path.test(path);
    });
    if (index < 0) return undefined;
    const failure = this.failures[index]!;
    if (--failure.remaining <= 0) this.failures.splice(index, 1);
    return failure.status;
  }

  watchCount(): number {
    return this.watches.size;
  }

  record(entry: FakeKubeRequestRecord): void {
    this.log.push(entry);
  }

  addWatch(stream: WatchStream): void {
    this.watches.add(stream);
    stream.onClose(() => this.watches.delete(stream));
  }

  private scheduleBookmarks(intervalMs: number): void {
    this.bookmarkTimer = this.clock.setTimer(() => {
      if (this.closed) return;
      this.sendBookmarks();
      this.scheduleBookmarks(intervalMs);
    }, intervalMs);
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  async restart(): Promise<void> {
    if (this.closed) throw new Error('the fake API server is closed for good');
    if (this.server !== undefined) return;
    await this.listen();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.bookmarkTimer !== undefined) this.clock.clearTimer(this.bookmarkTimer);
    await this.stop();
  }
}

/** Starts a fake Kubernetes API server (see the module comment for what it does and does not do). */
export async function startFakeKubeApiServer(options: FakeKubeApiServerOptions = {}): Promise<FakeKubeApiServer> {
  const server = new FakeKubeApiServerImpl(options.host ?? '127.0.0.1', options.port ?? 0, options);
  await server.listen();
  return server;
}
