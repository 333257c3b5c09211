/**
 * Dubbo URLs as its ZooKeeper registry stores them: `protocol://host:port/path?k=v&…`, each
 * provider a node whose *name* is the whole URL encoded once with Java's `URLEncoder` (form
 * encoding: a space is `+`), parameters sorted by name (Dubbo keeps them in a TreeMap).
 */

/** A parsed Dubbo URL. */
export interface DubboUrl {
  readonly protocol: string;
  readonly host: string;
  /** 0 when the URL has none (`empty://host/path?…`). */
  readonly port: number;
  /** The path without its leading `/` (the interface name for a provider). */
  readonly path: string;
  readonly parameters: Readonly<Record<string, string>>;
}

/** The parameter every URL the bridge exports carries, so that its import never reads it back as a registry provider. */
export const MESH_MARKER_PARAMETER = 'meshed-by';
/** The value of {@link MESH_MARKER_PARAMETER}. */
export const MESH_MARKER_VALUE = 'dubbo-mesh';
/** The label on every endpoint the bridge imports (the export leaves such endpoints out: they are in the registry already). */
export const REGISTRY_LABEL = 'dubbo-mesh.io/registry';
/** The value of {@link REGISTRY_LABEL}. */
export const REGISTRY_LABEL_VALUE = 'zookeeper';

/** Characters Java's URLEncoder leaves as they are; every other byte but the space is `%XX`. */
const UNRESERVED = /^[A-Za-z0-9.\-*_]$/;

/** `URLEncoder.encode(text, "UTF-8")`, as Java writes a registry node's name. */
export function encodeNodeName(text: string): string {
  let out = '';
  for (const char of text) {
    if (UNRESERVED.test(char)) out += char;
    else if (char === ' ') out += '+';
    else for (const byte of Buffer.from(char, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * `URLDecoder.decode(name, "UTF-8")`: `+` is a space, `%XX` sequences are UTF-8 bytes. Throws a
 * `URIError` on a malformed escape (Java throws too), so a bad node name is reported, not guessed.
 */
export function decodeNodeName(name: string): string {
  if (!name.includes('%') && !name.includes('+')) return name;
  const bytes: number[] = [];
  let out = '';
  const flush = () => {
    if (bytes.length === 0) return;
    out += new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes));
    bytes.length = 0;
  };
  for (let i = 0; i < name.length; i++) {
    const char = name[i]!;
    if (char === '%') {
      const hex = name.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new URIError(`illegal escape at ${i}: ${JSON.stringify(name.slice(i, i + 3))}`);
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
      continue;
    }
    flush();
    out += char === '+' ? ' ' : char;
  }
  try {
    flush();
  } catch (error) {
    throw new URIError(`not UTF-8: ${(error as Error).message}`);
  }
  return out;
}

const URL_SHAPE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(?:[^@/?]*@)?(\[[0-9A-Fa-f:.]+\]|[^:/?[\]]*)(?::(\d{1,5}))?(?:\/([^?]*))?(?:\?(.*))?$/s;

/**
 * Parse a decoded Dubbo URL; undefined when it is not `protocol://host[:port][/path][?query]`
 * or its port is out of range. Parameters without `=` get their own name as value (Dubbo's
 * reading); a repeated parameter keeps its last value.
 */
export function parseDubboUrl(text: string): DubboUrl | undefined {
  const match = URL_SHAPE.exec(text);
  if (match === null) return undefined;
  const port = match[3] === undefined ? 0 : Number(match[3]);
  if (port > 65535) return undefined;
  const rawHost = match[2]!;
  const host = rawHost.startsWith('[') ? rawHost.slice(1, -1) : rawHost;
  const parameters: Record<string, string> = {};
  for (const pair of (match[5] ?? '').split('&')) {
    if (pair === '') continue;
    const at = pair.indexOf('=');
    const key = at < 0 ? pair : pair.slice(0, at);
    if (key === '') continue;
    parameters[key] = at < 0 ? key : pair.slice(at + 1);
  }
  return { protocol: match[1]!, host, port, path: match[4] ?? '', parameters };
}

/** A URL as Java Dubbo's `toFullString` writes it: parameters sorted by name, empty values kept (`release=`). */
export function formatDubboUrl(url: DubboUrl): string {
  const host = url.host.includes(':') ? `[${url.host}]` : url.host;
  const keys = Object.keys(url.parameters)
    .filter((key) => key !== '')
    .sort();
  const query = keys.map((key) => `${key}=${url.parameters[key]}`).join('&');
  return `${url.protocol}://${host}${url.port === 0 ? '' : `:${url.port}`}/${url.path}${query === '' ? '' : `?${query}`}`;
}
