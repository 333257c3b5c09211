/**
 * Dubbo 3 application-level registration data, read leniently (research notes §4–§6): the
 * Curator ServiceInstance JSON under `/services/<app>/<ip:port>`, and the application's
 * MetadataInfo (which services a revision names), whether read as JSON from
 * `/dubbo/metadata/<app>/<revision>` or decoded from a MetadataService answer (Hessian).
 */

/** Instance metadata key: the revision of the application's metadata (`"0"`: no services). */
export const REVISION_KEY = 'dubbo.metadata.revision';
/** Instance metadata key: `local` (ask the instance's MetadataService, the default) or `remote` (read the metadata report). */
export const STORAGE_TYPE_KEY = 'dubbo.metadata.storage-type';
/** Instance metadata key: `[{"port":N,"protocol":"p"}]` as a JSON string. */
export const ENDPOINTS_KEY = 'dubbo.endpoints';
/** Instance metadata key: the MetadataService's URL parameters (`port`, `protocol`, `version` …) as a JSON string. */
export const METADATA_SERVICE_PARAMS_KEY = 'dubbo.metadata-service.url-params';
/** `RevisionResolver.EMPTY_REVISION`: an application that exports nothing. */
export const EMPTY_REVISION = '0';

/** A `/services/<app>/<id>` node: Curator's ServiceInstance with Dubbo's `ZookeeperInstance` payload. */
export interface ServiceInstance {
  readonly name: string;
  readonly id: string;
  readonly address: string;
  readonly port: number;
  /** `payload.metadata`, every value a string. */
  readonly metadata: Readonly<Record<string, string>>;
}

/** One service of a revision (`MetadataInfo$ServiceInfo`). */
export interface MetadataServiceInfo {
  /** The interface. */
  readonly name: string;
  /** '' when none. */
  readonly group: string;
  /** '' when none. */
  readonly version: string;
  readonly protocol: string;
  /** 0 when not set (Java's -1): the port comes from `dubbo.endpoints` or the instance. */
  readonly port: number;
  readonly params: Readonly<Record<string, string>>;
}

/** What one revision of an application exports (`org.apache.dubbo.metadata.MetadataInfo`). */
export interface MetadataInfo {
  readonly app: string;
  readonly revision: string;
  readonly services: readonly MetadataServiceInfo[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value);
}

function text(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return undefined;
}

function stringMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  // hessian.js may decode a Java Map as a JS Map.
  const entries = value instanceof Map ? [...value.entries()] : isRecord(value) ? Object.entries(value) : [];
  for (const [key, raw] of entries) {
    const string = text(raw);
    if (typeof key === 'string' && string !== undefined) out[key] = string;
  }
  return out;
}

function integer(value: unknown): number {
  const number = typeof value === 'number' ? value : typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : NaN;
  return Number.isInteger(number) ? number : 0;
}

/** The ServiceInstance in a node's data; undefined when it is not one (not JSON, no address or port). */
export function parseServiceInstance(data: Buffer | undefined): ServiceInstance | undefined {
  if (data === undefined || data.length === 0) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(data.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isRecord(json)) return undefined;
  const address = text(json.address);
  const port = integer(json.port);
  if (address === undefined || address === '' || port <= 0 || port > 65535) return undefined;
  const payload = isRecord(json.payload) ? json.payload : {};
  return { name: text(json.name) ?? '', id: text(json.id) ?? '', address, port, metadata: stringMap(payload.metadata) };
}

/** `dubbo.endpoints`: the port of each protocol the instance serves; empty when absent or unreadable. */
export function instanceEndpoints(metadata: Readonly<Record<string, string>>): Array<{ port: number; protocol: string }> {
  const value = metadata[ENDPOINTS_KEY];
  if (value === undefined) return [];
  try {
    const parsed: unknown = JSON.parse(value);
    if (!Array.isArray(parsed)) return [];
    return parsed.flatMap((entry: unknown) =>
      isRecord(entry) && integer(entry.port) > 0 && typeof entry.protocol === 'string' ? [{ port: integer(entry.port), protocol: entry.protocol }] : [],
    );
  } catch {
    return [];
  }
}

/** `dubbo.metadata-service.url-params` as a string map; undefined when absent or unreadable. */
export function metadataServiceParams(metadata: Readonly<Record<string, string>>): Record<string, string> | undefined {
  const value = metadata[METADATA_SERVICE_PARAMS_KEY];
  if (value === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(value);
    return isRecord(parsed) ? stringMap(parsed) : undefined;
  } catch {
    return undefined;
  }
}

/** `{group}/{interface}:{version}:{protocol}` (a MetadataInfo services key), for a ServiceInfo that lacks its own fields. */
function parseMatchKey(key: string): { name: string; group: string; version: string; protocol: string } {
  const slash = key.indexOf('/');
  const group = slash < 0 ? '' : key.slice(0, slash);
  const parts = key.slice(slash + 1).split(':');
  const name = parts[0] ?? '';
  const protocol = parts.length > 1 ? parts[parts.length - 1]! : '';
  const version = parts.length > 2 ? parts.slice(1, -1).join(':') : '';
  return { name, group, version, protocol };
}

/**
 * A MetadataInfo as JSON gives it (remote metadata) or as hessian.js decodes it (a MetadataService
 * answer): `app`, `revision` and `services.*.{name, group, version, protocol, port, params}`;
 * other fields (fastjson2 may write more) are ignored. Undefined when it has no `services` map.
 */
export function readMetadataInfo(value: unknown): MetadataInfo | undefined {
  if (!isRecord(value)) return undefined;
  const rawServices = value.services instanceof Map ? Object.fromEntries(value.services) : value.services;
  if (rawServices !== undefined && rawServices !== null && !isRecord(rawServices)) return undefined;
  const services: MetadataServiceInfo[] = [];
  for (const [key, entry] of Object.entries(rawServices ?? {})) {
    const info: Record<string, unknown> = entry instanceof Map ? Object.fromEntries(entry) : isRecord(entry) ? entry : {};
    const fromKey = parseMatchKey(key);
    const name = text(info.name) ?? fromKey.name;
    if (name === '') continue;
    services.push({
      name,
      group: text(info.group) ?? (info.name === undefined ? fromKey.group : ''),
      version: text(info.version) ?? (info.name === undefined ? fromKey.version : ''),
      protocol: text(info.protocol) ?? fromKey.protocol,
      port: Math.max(0, integer(info.port)),
      params: stringMap(info.params),
    });
  }
  return { app: text(value.app) ?? '', revision: text(value.revision) ?? '', services };
}
