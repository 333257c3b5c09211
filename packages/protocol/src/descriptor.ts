import { BadDescriptorError } from './errors.js';

const PRIMITIVES: Readonly<Record<string, string>> = {
  Z: 'boolean',
  B: 'byte',
  C: 'char',
  S: 'short',
  I: 'int',
  J: 'long',
  F: 'float',
  D: 'double',
  V: 'void',
};

const countCache = new Map<string, number>();
const COUNT_CACHE_LIMIT = 4096;

/**
 * Parse a JVM parameter descriptor (`Ljava/lang/String;[IJ`) into Java type names
 * (`java.lang.String`, `int[]`, `long`). Throws BadDescriptorError.
 */
export function parseParameterDescriptor(descriptor: string): string[] {
  const types: string[] = [];
  let index = 0;
  while (index < descriptor.length) {
    let dimensions = 0;
    while (descriptor[index] === '[') {
      dimensions += 1;
      index += 1;
    }
    const kind = descriptor[index];
    let name: string;
    if (kind === undefined) throw new BadDescriptorError(descriptor, 'array of nothing at the end');
    if (kind === 'L') {
      const semicolon = descriptor.indexOf(';', index);
      if (semicolon < 0) throw new BadDescriptorError(descriptor, `class name at ${index} has no closing ';'`);
      if (semicolon === index + 1) throw new BadDescriptorError(descriptor, `empty class name at ${index}`);
      name = descriptor.slice(index + 1, semicolon).replaceAll('/', '.');
      index = semicolon + 1;
    } else {
      const primitive = PRIMITIVES[kind];
      if (primitive === undefined || kind === 'V') throw new BadDescriptorError(descriptor, `unknown type character '${kind}' at ${index}`);
      name = primitive;
      index += 1;
    }
    types.push(name + '[]'.repeat(dimensions));
  }
  return types;
}

/**
 * How many parameters the ASCII descriptor in `bytes[start, end)` names, read from the bytes
 * without building a string (the proxy's hot path). Throws BadDescriptorError.
 */
export function countParametersInBytes(bytes: Buffer, start: number, end: number): number {
  let count = 0;
  let index = start;
  while (index < end) {
    while (bytes[index] === 0x5b /* [ */) index += 1;
    const kind = bytes[index];
    if (kind === 0x4c /* L */) {
      const semicolon = bytes.indexOf(0x3b /* ; */, index);
      if (semicolon < 0 || semicolon >= end || semicolon === index + 1) return countParameters(bytes.toString('latin1', start, end));
      index = semicolon + 1;
    } else if (kind !== undefined && index < end && PRIMITIVE_BYTES.has(kind)) {
      index += 1;
    } else {
      // Let the string parser name the fault.
      return countParameters(bytes.toString('latin1', start, end));
    }
    count += 1;
  }
  return count;
}

const PRIMITIVE_BYTES: ReadonlySet<number> = new Set([...'ZBCSIJFD'].map((c) => c.charCodeAt(0)));

/** How many parameters a descriptor names; cached, since a service has few descriptors. */
export function countParameters(descriptor: string): number {
  const cached = countCache.get(descriptor);
  if (cached !== undefined) return cached;
  const count = parseParameterDescriptor(descriptor).length;
  if (countCache.size >= COUNT_CACHE_LIMIT) countCache.clear();
  countCache.set(descriptor, count);
  return count;
}

const DESCRIPTOR_OF: Readonly<Record<string, string>> = {
  boolean: 'Z',
  byte: 'B',
  char: 'C',
  short: 'S',
  int: 'I',
  long: 'J',
  float: 'F',
  double: 'D',
};

/** The descriptor of Java type names: `['java.lang.String', 'long']` → `Ljava/lang/String;J`. */
export function toParameterDescriptor(javaTypes: readonly string[]): string {
  let out = '';
  for (const type of javaTypes) {
    let base = type;
    while (base.endsWith('[]')) {
      out += '[';
      base = base.slice(0, -2);
    }
    out += DESCRIPTOR_OF[base] ?? `L${base.replaceAll('.', '/')};`;
  }
  return out;
}
