import type { Snapshot } from '@dubbo-mesh/control-plane';
import { DEFAULT_OUTBOUND_PORT, RESOLVE_CONFIG_MAP, RESOLVE_FILE_KEY } from './annotations.js';

/** Where every resolved reference goes: the sidecar's outbound listener on the pod's loopback. */
export const RESOLVE_TARGET = `dubbo://127.0.0.1:${DEFAULT_OUTBOUND_PORT}`;

/**
 * The key that matches every interface in Dubbo 3.0.2 and later: their resolve file is a
 * `RegexProperties` (an exact key first, else each key as a Java regex, a leading `*` read as
 * `.*`, tried in reverse lexicographic order, so `*` is the last resort). Dubbo 2.7 reads a
 * plain `Properties`, where this key is never asked for and does nothing.
 */
export const RESOLVE_WILDCARD = '*';

/** A Java binary name (`org.example.UserService`, `org.example.Outer$Inner`): dot-separated identifiers. */
const JAVA_NAME = /^[\p{L}_$][\p{L}\p{N}_$]*(?:\.[\p{L}_$][\p{L}\p{N}_$]*)*$/u;

/**
 * Whether a mesh interface name can be a key of the resolve file: a Java class name. Others
 * (a non-Java service's name, say `user-service` or `a+b`) are left out: no Java reference asks
 * for them, and Dubbo 3 tries every key as a regex, so one that is not a valid regex
 * (`PatternSyntaxException`) would break the lookup of every interface that has no line of
 * its own. A Java name is always a valid regex (`.` and `$` are its only metacharacters,
 * and with one target for every line, what `.` also matches goes to the sidecar anyway).
 */
export function isResolvableInterface(name: string): boolean {
  return JAVA_NAME.test(name);
}

/**
 * The interface names of every mesh service in a snapshot that can be resolve-file keys
 * ({@link isResolvableInterface}), distinct and sorted (by UTF-16 code unit, so the order does
 * not depend on a locale). Only the interface: the resolve file's key is the interface name,
 * whatever the group and version of a reference.
 */
export function resolveInterfaces(snapshot: Pick<Snapshot, 'mappings'>): string[] {
  const names = new Set<string>();
  for (const mapping of snapshot.mappings) if (isResolvableInterface(mapping.interface)) names.add(mapping.interface);
  return [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** `\uXXXX`, upper-case hex, as `java.util.Properties.store` writes it. */
function unicodeEscape(code: number): string {
  return `\\u${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * Escape one key or value for a `.properties` file as `java.util.Properties.store` does: a
 * backslash doubled; tab, newline, carriage return and form feed as `\t` `\n` `\r` `\f`;
 * `#` and `!` (and in a key `=` and `:`) behind a backslash; a space behind a backslash in a
 * key, or leading a value; every other character outside printable ASCII as `\uXXXX` — Latin-1
 * ones too, because `Properties.load(InputStream)` reads ISO-8859-1 while the ConfigMap's file
 * is UTF-8, so only ASCII reads the same either way. A character beyond the BMP becomes two
 * `\uXXXX` (its UTF-16 surrogates), which is how Java holds it.
 */
function escapeProperties(text: string, isKey: boolean): string {
  // A value's `:` and `=` are plain characters: only the first unescaped separator of a line ends its key.
  let out = '';
  for (let i = 0; i < text.length; i += 1) {
    const char = text[i]!;
    const code = text.charCodeAt(i);
    if (char === '\\') out += '\\\\';
    else if (char === ' ') out += isKey || i === 0 ? '\\ ' : ' ';
    else if (char === '\t') out += '\\t';
    else if (char === '\n') out += '\\n';
    else if (char === '\r') out += '\\r';
    else if (char === '\f') out += '\\f';
    else if (char === '#' || char === '!' || (isKey && (char === '=' || char === ':'))) out += `\\${char}`;
    else if (code < 0x20 || code > 0x7e) out += unicodeEscape(code);
    else out += char;
  }
  return out;
}

/** A `.properties` key, escaped so `Properties.load` reads back exactly `key`. */
export function escapePropertiesKey(key: string): string {
  return escapeProperties(key, true);
}

/**
 * A `.properties` value, escaped so `Properties.load` reads back exactly `value`. Unlike
 * `Properties.store`, `:` and `=` stay as they are: in a value they are plain characters (only
 * the first unescaped separator of a line ends its key), and `dubbo://127.0.0.1:20881` reads
 * better than `dubbo\://127.0.0.1\:20881`. `#` and `!` are escaped (harmless, and a comment
 * marker never starts a value anyway).
 */
export function escapePropertiesValue(value: string): string {
  return escapeProperties(value, false);
}

/** The comment lines at the top of the file: who writes it, and which Dubbo reads which line. */
export const RESOLVE_FILE_HEADER: readonly string[] = [
  `# Written by dubbo-mesh (ConfigMap ${RESOLVE_CONFIG_MAP}, key ${RESOLVE_FILE_KEY}): do not edit, the control plane rewrites it.`,
  '# Read by Dubbo through -Ddubbo.resolve.file=<this file>: each reference is sent straight to the URL of its line,',
  `# ${RESOLVE_TARGET}, the sidecar, with no registry, router chain or load balancer in the application.`,
  `# Dubbo 3.0.2 and later (3.1, 3.2, 3.3) match keys as patterns: an exact key first, else "${RESOLVE_WILDCARD}" sends any reference to the sidecar.`,
  '# Dubbo 2.7 (and 3.0.0, 3.0.1) look up the exact interface name: one line per interface of every mesh service;',
  '# a reference to an interface not listed keeps its registry.',
];

/**
 * The resolve file for a set of interface names: the header, the wildcard line, then one
 * line per interface (in the order given: {@link resolveInterfaces} sorts them), each to
 * {@link RESOLVE_TARGET}, in `java.util.Properties` syntax, ending with a newline.
 */
export function resolveFileText(interfaces: Iterable<string>): string {
  const value = escapePropertiesValue(RESOLVE_TARGET);
  const lines = [...RESOLVE_FILE_HEADER, `${escapePropertiesKey(RESOLVE_WILDCARD)}=${value}`];
  for (const name of interfaces) lines.push(`${escapePropertiesKey(name)}=${value}`);
  return `${lines.join('\n')}\n`;
}

/** The resolve file for a published snapshot (every interface of every mesh service). */
export function resolveFileOf(snapshot: Pick<Snapshot, 'mappings'>): string {
  return resolveFileText(resolveInterfaces(snapshot));
}
