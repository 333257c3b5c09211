// The fake API server's HTTP surface: the REST paths client-node's generated APIs and its
// Watch call (/api/v1/..., /apis/GROUP/VERSION/..., namespaced and cluster-scoped, /status),
// answered with the status codes, bodies and content types the real server uses.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { coreVersions, groupList, resourceList, versionInfo } from './discovery.js';
import {
  badRequest,
  expired,
  FakeKubeStatusError,
  internalError,
  methodNotAllowed,
  notFound,
  resourceNotFound,
  statusError,
  unsupportedMediaType,
  type FakeKubeStatus,
} from './errors.js';
import type { FakeKubeObject } from './fake-kube-object.js';
import { parseFieldSelector } from './field-selector.js';
import { parseLabelSelector } from './label-selector.js';
import type { ObjectStore } from './object-store.js';
import { parseResourceVersion, type ObjectWriter, type Subresource } from './object-writer.js';
import { apiVersionOf, typeKey, type FakeKubeResourceType } from './resource-types.js';
import { WatchStream, type FakeKubeClock } from './watch-stream.js';

type Type = Required<FakeKubeResourceType>;

/** One request as the server answered it. */
export interface FakeKubeRequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
  status: number;
}

/** How a watch from a compacted resourceVersion is refused: a 200 stream with one ERROR event (the watch cache's way), or an HTTP 410. */
export type TooOldMode = 'event' | 'http';

/** What the handler needs of the server around it. */
export interface HandlerContext {
  readonly store: ObjectStore;
  readonly writer: ObjectWriter;
  readonly clock: FakeKubeClock;
  readonly tooOldMode: TooOldMode;
  readonly serverAddress: string;
  types(): readonly Type[];
  /** An injected failure's status code for this request, if one matches (and is used up). */
  takeInjectedFailure(method: string, path: string, watch: boolean): number | undefined;
  record(entry: FakeKubeRequestRecord): void;
  addWatch(stream: WatchStream): void;
}

const JSON_HEADERS = { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' };

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  response.writeHead(status, { ...JSON_HEADERS, 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}

// What the server's mux answers for a path no API group serves: plain text, not a Status.
function sendPageNotFound(response: ServerResponse): void {
  response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
  response.end('404 page not found\n');
}

/** The object as the server writes it: type meta first for built-in types (Go struct order), as stored for custom resources. */
export function wireObject(type: Type, object: FakeKubeObject): Record<string, unknown> {
  if (!type.builtIn) return object;
  const { kind, apiVersion, ...rest } = object;
  return { kind, apiVersion, ...rest };
}

// Built-in types' list items carry no apiVersion/kind (the typed list's items are bare
// structs); a CRD's list items are whole unstructured objects and keep them.
function listItem(type: Type, object: FakeKubeObject): Record<string, unknown> {
  if (!type.builtIn) return object;
  const { kind: _kind, apiVersion: _apiVersion, ...rest } = object;
  return rest;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function mediaType(request: IncomingMessage): string | undefined {
  const header = request.headers['content-type'];
  return header === undefined ? undefined : header.split(';')[0]!.trim().toLowerCase();
}

function parseJsonBody(text: string): unknown {
  if (text.trim() === '') throw badRequest('the request body is empty: an object is required');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw badRequest(`couldn't get version/kind; json parse error: ${(error as Error).message}`);
  }
}

function objectBody(request: IncomingMessage, text: string): unknown {
  const type = mediaType(request);
  if (type !== undefined && type !== 'application/json' && !type.endsWith('+json')) {
    throw unsupportedMediaType(
      `the body of the request was in an unknown format - accepted media types include: application/json (the fake API server takes JSON only)`,
    );
  }
  return parseJsonBody(text);
}

interface Route {
  type: Type;
  namespace: string | undefined;
  name: string | undefined;
  subresource: Subresource;
}

/** Serves one request. Every failure is a `Status` with `Content-Type: application/json`, except paths outside every API group (the mux's plain-text 404). */
export async function handleRequest(context: HandlerContext, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://fake-kube-api-server');
  const method = (request.method ?? 'GET').toUpperCase();
  const query = Object.fromEntries(url.searchParams.entries());
  const watch = query.watch === 'true' || query.watch === '1';
  const record = (status: number) => context.record({ method, path: url.pathname, query, status });
  try {
    const text = await readBody(request);
    const injected = context.takeInjectedFailure(method, url.pathname, watch);
    if (injected !== undefined) throw statusError(injected);
    const segments = url.pathname
      .split('/')
      .filter((segment) => segment !== '')
      .map((segment) => decodeURIComponent(segment));
    const types = context.types();
    const served = (group: string, version: string) => types.some((type) => type.group === group && type.version === version);
    let group: string;
    let version: string;
    let rest: string[];
    if (segments[0] === 'version' && segments.length === 1) {
      sendJson(response, 200, versionInfo());
      return record(200);
    } else if (segments[0] === 'api') {
      if (segments.length === 1) {
        sendJson(response, 200, coreVersions(context.serverAddress));
        return record(200);
      }
      [group, version, rest] = ['', segments[1]!, segments.slice(2)];
    } else if (segments[0] === 'apis') {
      if (segments.length === 1) {
        sendJson(response, 200, groupList(types));
        return record(200);
      }
      [group, version, rest] = [segments[1]!, segments[2] ?? '', segments.slice(3)];
    } else {
      sendPageNotFound(response);
      return record(404);
    }
    if (!served(group, version)) {
      sendPageNotFound(response);
      return record(404);
    }
    if (rest.length === 0) {
      if (method !== 'GET') throw methodNotAllowed();
      sendJson(response, 200, resourceList(group, version, types));
      return record(200);
    }
    const route = resolve(types, group, version, rest);
    const status = await serve(context, route, method, query, watch, text, request, response);
    record(status);
  } catch (error) {
    const failure = error instanceof FakeKubeStatusError ? error : internalError(error instanceof Error ? error.message : String(error));
    if (response.headersSent) {
      response.destroy();
      return;
    }
    sendJson(response, failure.httpStatus, failure.status);
    record(failure.httpStatus);
  }
}

function resolve(types: readonly Type[], group: string, version: string, rest: string[]): Route {
  const find = (plural: string | undefined) => types.find((type) => type.group === group && type.version === version && type.plural === plural);
  let namespace: string | undefined;
  let parts: string[];
  const namespacedType = rest[0] === 'namespaces' && rest.length >= 3 ? find(rest[2]) : undefined;
  if (namespacedType?.namespaced) {
    namespace = rest[1];
    parts = rest.slice(2);
  } else {
    parts = rest;
  }
  const [plural, name, subresource, ...extra] = parts;
  const type = find(plural);
  if (type === undefined || extra.length > 0) throw resourceNotFound();
  // A namespaced type's object paths need the namespace; only its collection may span all namespaces.
  if (type.namespaced && namespace === undefined && name !== undefined) throw resourceNotFound();
  if (subresource !== undefined && (subresource !== 'status' || !type.statusSubresource)) throw resourceNotFound();
  return { type, namespace, name, subresource: subresource === 'status' ? 'status' : 'main' };
}

async function serve(
  context: HandlerContext,
  route: Route,
  method: string,
  query: Record<string, string>,
  watch: boolean,
  text: string,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<number> {
  const { type, namespace, name, subresource } = route;
  if (name === undefined) {
    if (method === 'GET') return watch ? startWatch(context, type, namespace, query, response) : list(context, type, namespace, query, response);
    if (method === 'POST') {
      if (type.namespaced && namespace === undefined) throw methodNotAllowed();
      const created = context.writer.create(type, objectBody(request, text), { viaHttp: true, ...(namespace === undefined ? {} : { namespace }) });
      sendJson(response, 201, wireObject(type, created));
      return 201;
    }
    if (method === 'DELETE') throw statusError(405, 'the fake API server does not implement deletecollection');
    throw methodNotAllowed();
  }
  switch (method) {
    case 'GET': {
      const object = context.store.get(type, namespace, name);
      if (object === undefined) throw notFound(type, name);
      sendJson(response, 200, wireObject(type, object));
      return 200;
    }
    case 'PUT': {
      const { object, created } = context.writer.update(type, namespace, name, objectBody(request, text), { viaHttp: true, subresource });
      sendJson(response, created ? 201 : 200, wireObject(type, object));
      return created ? 201 : 200;
    }
    case 'PATCH': {
      const patched = context.writer.patch(type, namespace, name, mediaType(request) ?? '', parseJsonBody(text), { viaHttp: true, subresource });
      sendJson(response, 200, wireObject(type, patched));
      return 200;
    }
    case 'DELETE': {
      if (subresource === 'status') throw methodNotAllowed();
      const options = text.trim() === '' ? {} : parseJsonBody(text);
      const preconditions =
        typeof options === 'object' && options !== null
          ? (options as { preconditions?: { uid?: unknown; resourceVersion?: unknown } }).preconditions
          : undefined;
      const deleted = context.writer.delete(type, namespace, name, preconditions);
      sendJson(response, 200, type.deleteReturnsObject ? wireObject(type, deleted) : deleteSuccess(type, deleted));
      return 200;
    }
    default:
      throw methodNotAllowed();
  }
}

// What a DELETE answers for types whose store does not return the deleted object.
function deleteSuccess(type: Type, deleted: FakeKubeObject): FakeKubeStatus {
  const details: NonNullable<FakeKubeStatus['details']> = { name: deleted.metadata.name };
  if (type.group !== '') details.group = type.group;
  details.kind = type.plural;
  if (deleted.metadata.uid !== undefined) details.uid = deleted.metadata.uid;
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details };
}

function list(context: HandlerContext, type: Type, namespace: string | undefined, query: Record<string, string>, response: ServerResponse): number {
  const labels = parseLabelSelector(query.labelSelector ?? '');
  const fields = parseFieldSelector(query.fieldSelector ?? '', type.builtIn);
  const items = context.store
    .list(type, namespace)
    .filter((object) => labels.matches(object.metadata.labels) && fields.matches(object))
    .map((object) => listItem(type, object));
  // A CRD's list (unstructured) also carries an empty `continue`, a built-in type's does not.
  const metadata = type.builtIn
    ? { resourceVersion: String(context.store.currentRevision()) }
    : { continue: '', resourceVersion: String(context.store.currentRevision()) };
  sendJson(response, 200, { kind: `${type.kind}List`, apiVersion: apiVersionOf(type), metadata, items });
  return 200;
}

function startWatch(context: HandlerContext, type: Type, namespace: string | undefined, query: Record<string, string>, response: ServerResponse): number {
  const labelSelector = parseLabelSelector(query.labelSelector ?? '');
  const fieldSelector = parseFieldSelector(query.fieldSelector ?? '', type.builtIn);
  const from =
    query.resourceVersion === undefined || query.resourceVersion === '' || query.resourceVersion === '0'
      ? undefined
      : parseResourceVersion(query.resourceVersion);
  let timeoutSeconds: number | undefined;
  if (query.timeoutSeconds !== undefined) {
    timeoutSeconds = Number(query.timeoutSeconds);
    if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 0) throw badRequest(`invalid timeoutSeconds: ${JSON.stringify(query.timeoutSeconds)}`);
  }
  const oldest = context.store.oldestResumable();
  const tooOld = from !== undefined && from < oldest ? expired(`too old resource version: ${from} (${oldest})`) : undefined;
  if (tooOld !== undefined && context.tooOldMode === 'http') throw tooOld;
  // Headers go out at once: a watch with nothing to say yet must still be seen as open.
  response.writeHead(200, { ...JSON_HEADERS, 'Transfer-Encoding': 'chunked' });
  response.flushHeaders();
  const stream = new WatchStream(
    response,
    { type, namespace, labelSelector, fieldSelector, allowBookmarks: query.allowWatchBookmarks === 'true' },
    context.clock,
    timeoutSeconds,
  );
  if (tooOld !== undefined) {
    // The watch cache's way: the watch is accepted, its one event is the 410, then it ends.
    stream.send('ERROR', tooOld.status);
    stream.end();
    return 200;
  }
  context.addWatch(stream);
  // Replay, then subscribe: both synchronous, so no change can fall between them.
  if (from === undefined) {
    for (const object of context.store.list(type, namespace)) if (stream.selects(object)) stream.send('ADDED', wireObject(type, object));
  } else {
    for (const event of context.store.changesSince(typeKey(type), from)) stream.onEvent(wireEvent(type, event));
  }
  const unsubscribe = context.store.subscribe({ typeKey: stream.typeKey, onEvent: (event) => stream.onEvent(wireEvent(type, event)) });
  stream.onClose(unsubscribe);
  return 200;
}

function wireEvent<T extends { object: FakeKubeObject; previous?: FakeKubeObject }>(type: Type, event: T): T {
  return { ...event, object: wireObject(type, event.object) as FakeKubeObject };
}
