import { object, SchemaNode, string } from '@dubbo-mesh/schema';
import { withOneOf } from './string-match.js';

/**
 * IP expressions as Dubbo's `NetUtils.matchIpExpression` reads them (tag rule `addresses`, the
 * `cird` of a 3.0 `AddressMatch`): `*` or `*.*.*.*` (any host); a CIDR `10.0.0.0/8` or
 * `fe80::/64` (the port is not looked at); an IP with an optional port `10.0.0.1`,
 * `10.0.0.1:20880`, `[fe80::1]:20880`; segments that are `*` or a range `a-b`
 * (`10.0.*.1-100`, IPv6 `234e:0:4567:0:0:0:3d:*` with all 8 groups, hex ranges).
 *
 * Dubbo resolves a host name with DNS; rules here are pure, so an endpoint whose host is not an
 * IP literal matches only `*`, and a pattern must be an IP expression (a host name in a pattern
 * is refused when the rule is checked: on Dubbo it fails at every call for IPv4 hosts anyway).
 */

/** An IP address as Java's `InetAddress.getHostAddress()` prints it, and its value. */
interface ParsedIp {
  readonly family: 4 | 6;
  /** IPv4 `10.0.0.1`; IPv6 `fe80:0:0:0:0:0:0:1` (8 groups, lower-case hex, no leading zeros). */
  readonly text: string;
  readonly segments: readonly string[];
  readonly value: bigint;
}

function parseIpv4(text: string): ParsedIp | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  const segments: string[] = [];
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    value = (value << 8n) | BigInt(n);
    segments.push(String(n));
  }
  return { family: 4, text: segments.join('.'), segments, value };
}

function parseIpv6(text: string): ParsedIp | undefined {
  const zone = text.indexOf('%');
  const address = zone >= 0 ? text.slice(0, zone) : text;
  if (!address.includes(':')) return undefined;
  let groups: string[];
  let head = address;
  const lastColon = address.lastIndexOf(':');
  if (address.slice(lastColon + 1).includes('.')) {
    // An IPv4 tail (`::ffff:10.0.0.1`) is the last two groups.
    const v4 = parseIpv4(address.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    head = `${address.slice(0, lastColon + 1)}${(v4.value >> 16n).toString(16)}:${(v4.value & 0xffffn).toString(16)}`;
  }
  const double = head.indexOf('::');
  if (double >= 0) {
    if (head.indexOf('::', double + 1) >= 0) return undefined;
    const left = head.slice(0, double) === '' ? [] : head.slice(0, double).split(':');
    const right = head.slice(double + 2) === '' ? [] : head.slice(double + 2).split(':');
    const missing = 8 - left.length - right.length;
    if (missing < 1) return undefined;
    groups = [...left, ...Array<string>(missing).fill('0'), ...right];
  } else {
    groups = head.split(':');
  }
  if (groups.length !== 8) return undefined;
  let value = 0n;
  const segments: string[] = [];
  for (const group of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return undefined;
    const n = parseInt(group, 16);
    value = (value << 16n) | BigInt(n);
    segments.push(n.toString(16));
  }
  if (value >> 32n === 0xffffn) {
    // Java reads an IPv4-mapped address as the IPv4 address.
    return parseIpv4([24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.'));
  }
  return { family: 6, text: segments.join(':'), segments, value };
}

/** An IP literal (`10.0.0.1`, `fe80::1`, `[fe80::1]`) read as Java reads it; undefined for anything else. */
function parseIp(text: string): ParsedIp | undefined {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  return parseIpv4(bare) ?? parseIpv6(bare);
}

type Segment =
  { readonly kind: 'any' } | { readonly kind: 'text'; readonly text: string } | { readonly kind: 'range'; readonly min: number; readonly max: number };

/** How a pattern reads for hosts of one family (Dubbo splits the port off by the host's family). */
interface FamilyPattern {
  /** The host part as written. */
  readonly host: string;
  readonly port: string | undefined;
  /** Set when the host part has no `*` or `-`: the address it names. */
  readonly literal: ParsedIp | undefined;
  readonly segments: readonly Segment[];
}

/** A checked IP expression, ready to match hosts. */
export type IpExpression =
  | { readonly kind: 'any'; readonly text: string }
  | { readonly kind: 'cidr'; readonly text: string; readonly start: bigint; readonly end: bigint }
  | { readonly kind: 'pattern'; readonly text: string; readonly v4: FamilyPattern | undefined; readonly v6: FamilyPattern | undefined };

function splitPort(pattern: string, ipv4: boolean): { host: string; port: string | undefined } {
  if (pattern.startsWith('[')) {
    const end = pattern.indexOf(']:');
    if (end >= 0) return { host: pattern.slice(1, end), port: pattern.slice(end + 2) };
    if (pattern.endsWith(']')) return { host: pattern.slice(1, -1), port: undefined };
  }
  if (ipv4 && pattern.includes(':')) {
    const end = pattern.indexOf(':');
    return { host: pattern.slice(0, end), port: pattern.slice(end + 1) };
  }
  return { host: pattern, port: undefined };
}

const hasExpression = (text: string): boolean => text.includes('*') || text.includes('-');

/** The pattern as Dubbo's `matchIpRange` reads it for hosts of `family`; undefined where Dubbo throws or cannot resolve it. */
function familyPattern(pattern: string, family: 4 | 6): FamilyPattern | undefined {
  const { host, port } = splitPort(pattern, family === 4);
  if (port !== undefined && !/^\d+$/.test(port)) return undefined;
  const mask = host.split(family === 4 ? '.' : ':');
  if (family === 4 && mask.length !== 4) return undefined;
  if (family === 6 && mask.length !== 8 && (hasExpression(host) || !host.includes('::'))) return undefined;
  if (!hasExpression(host)) {
    const literal = parseIp(host);
    return literal === undefined || literal.family !== family ? undefined : { host, port, literal, segments: [] };
  }
  const segments: Segment[] = [];
  for (const part of mask) {
    if (part === '*') segments.push({ kind: 'any' });
    else if (part.includes('-')) {
      const bounds = part.split('-');
      const digits = family === 4 ? /^\d+$/ : /^[0-9a-fA-F]+$/;
      if (bounds.length !== 2 || !digits.test(bounds[0]!) || !digits.test(bounds[1]!)) return undefined;
      segments.push({ kind: 'range', min: parseInt(bounds[0]!, family === 4 ? 10 : 16), max: parseInt(bounds[1]!, family === 4 ? 10 : 16) });
    } else segments.push({ kind: 'text', text: part });
  }
  return { host, port, literal: undefined, segments };
}

/**
 * Check an IP expression: the expression ready to match, or a message saying why it is none
 * (`"10.0.0" is not an IP expression (…)`).
 */
export function parseIpExpression(text: string): IpExpression | string {
  const pattern = text.trim();
  if (pattern === '*' || pattern === '*.*.*.*') return { kind: 'any', text };
  if (pattern.includes('/')) {
    const slash = pattern.indexOf('/');
    const network = parseIp(pattern.slice(0, slash));
    const prefixText = pattern.slice(slash + 1);
    if (network === undefined) return `${JSON.stringify(text)} is not a CIDR: ${JSON.stringify(pattern.slice(0, slash))} is not an IP address`;
    const bits = network.family === 4 ? 32 : 128;
    if (!/^\d+$/.test(prefixText) || Number(prefixText) > bits) return `${JSON.stringify(text)} is not a CIDR: the prefix length must be 0 to ${bits}`;
    const hostBits = BigInt(bits - Number(prefixText));
    const start = (network.value >> hostBits) << hostBits;
    return { kind: 'cidr', text, start, end: start + (1n << hostBits) - 1n };
  }
  const v4 = familyPattern(pattern, 4);
  const v6 = familyPattern(pattern, 6);
  if (v4 === undefined && v6 === undefined) {
    return `${JSON.stringify(text)} is not an IP expression (an IP with an optional :port, [IPv6]:port, a CIDR such as 10.0.0.0/8, * for any, segments * or a-b such as 10.0.*.1-9)`;
  }
  return { kind: 'pattern', text, v4, v6 };
}

function matchSegments(pattern: FamilyPattern, host: ParsedIp): boolean {
  const radix = host.family === 4 ? 10 : 16;
  const segments = pattern.segments;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const part = host.segments[i];
    if (part === undefined) return false;
    if (segment.kind === 'any') continue;
    if (segment.kind === 'range') {
      const n = parseInt(part, radix);
      if (n < segment.min || n > segment.max) return false;
      continue;
    }
    // Dubbo compares segments as text, and lets `00`, `000`, `0000` stand for a 0 segment.
    if (segment.text === part || (part === '0' && /^0{1,4}$/.test(segment.text))) continue;
    return false;
  }
  return true;
}

/**
 * Whether `host` (and `port`) match the expression, as `NetUtils.matchIpExpression(pattern,
 * host, port)`; undefined when it cannot be told because `host` is not an IP literal (Dubbo
 * would resolve it; its `AddressMatch` then tries its other fields).
 */
export function matchIpExpression(expression: IpExpression, host: string, port: number): boolean | undefined {
  if (expression.kind === 'any') return true;
  const ip = parseIp(host);
  if (ip === undefined) return undefined;
  if (expression.kind === 'cidr') return ip.value >= expression.start && ip.value <= expression.end;
  const pattern = ip.family === 4 ? expression.v4 : expression.v6;
  if (pattern === undefined) return false;
  if (pattern.port !== undefined && pattern.port !== String(port)) return false;
  if (pattern.host === ip.text) return true;
  if (pattern.literal !== undefined) return pattern.literal.value === ip.value;
  return matchSegments(pattern, ip);
}

/** An IP expression field: checked when the rule is, kept as written. */
export const ipExpressionNode: SchemaNode<string> = string().refine((text, context) => {
  const parsed = parseIpExpression(text);
  if (typeof parsed === 'string') {
    context.fail(parsed);
    return undefined;
  }
  return text;
});

/**
 * Dubbo's `AddressMatch` (3.0 override rules' `match.address` and `match.providerAddress`):
 * `cird` (Dubbo's spelling: an IP expression, or the value itself), `wildcard` (`*` or
 * `0.0.0.0` for any, else a glob with one `*`), `exact`. Tried in that order.
 */
export interface AddressMatch {
  readonly wildcard?: string;
  readonly cird?: string;
  readonly exact?: string;
}

/** An {@link AddressMatch}: at least one of its fields; `cird` an IP expression. */
export const addressMatchNode: SchemaNode<AddressMatch> = withOneOf(
  ['cird', 'wildcard', 'exact'],
  object<AddressMatch>({
    wildcard: { node: string() },
    cird: { node: ipExpressionNode },
    exact: { node: string() },
  }).refine((match: AddressMatch) => (match.wildcard === undefined && match.cird === undefined && match.exact === undefined ? undefined : match)),
);

/** Dubbo's `UrlUtils.isMatchGlobPattern`: `*` anything; the last `*` splits prefix and suffix. */
export function globMatches(pattern: string, value: string | undefined): boolean {
  if (pattern === '*') return true;
  if (value === undefined || value === '') return pattern === '';
  if (pattern === '') return false;
  const star = pattern.lastIndexOf('*');
  if (star < 0) return value === pattern;
  return value.startsWith(pattern.slice(0, star)) && value.endsWith(pattern.slice(star + 1));
}

/** A compiled {@link AddressMatch}: whether an address (`10.0.0.1`, or `10.0.0.1:20880` for a provider) matches. */
export type AddressMatcher = (input: string | undefined) => boolean;

/** Compile a valid {@link AddressMatch}. */
export function compileAddressMatch(match: AddressMatch): AddressMatcher {
  const cird = match.cird === undefined ? undefined : parseIpExpression(match.cird);
  const { wildcard, exact } = match;
  return (input) => {
    if (input === undefined) return false;
    if (cird !== undefined && typeof cird !== 'string') {
      if (input === match.cird) return true;
      // Dubbo passes the value as the host with port 0; a value that is no IP (an `ip:port`)
      // cannot be resolved, and Dubbo then goes on to `wildcard` and `exact`.
      const matched = matchIpExpression(cird, input, 0);
      if (matched !== undefined) return matched;
    }
    if (wildcard !== undefined) return wildcard === '0.0.0.0' || wildcard === '*' || globMatches(wildcard, input);
    if (exact !== undefined) return input === exact;
    return false;
  };
}
