// JSON Patch (RFC 6902), what `application/json-patch+json` carries: client-node 1.4.0's
// generated patch methods send this media type unless told otherwise.

/** Why a JSON patch could not be applied: `malformed` (400 on the wire) or a failed operation (422). */
export class JsonPatchError extends Error {
  constructor(
    message: string,
    readonly malformed: boolean,
  ) {
    super(message);
    this.name = 'JsonPatchError';
  }
}

interface Operation {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  from?: string;
  value?: unknown;
}

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new JsonPatchError(`invalid JSON pointer "${pointer}"`, true);
  return pointer
    .slice(1)
    .split('/')
    .map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'));
}

type Container = Record<string, unknown> | unknown[];

function isContainer(value: unknown): value is Container {
  return typeof value === 'object' && value !== null;
}

// The parent container and last token of a path, failing when the parent is missing.
function locate(document: unknown, tokens: string[], path: string): { parent: Container; key: string } {
  let current: unknown = document;
  for (const token of tokens.slice(0, -1)) {
    if (Array.isArray(current)) current = current[Number(token)];
    else if (isContainer(current)) current = (current as Record<string, unknown>)[token];
    else current = undefined;
    if (!isContainer(current)) throw new JsonPatchError(`doc is missing path: "${path}"`, false);
  }
  if (!isContainer(current)) throw new JsonPatchError(`doc is missing path: "${path}"`, false);
  return { parent: current, key: tokens[tokens.length - 1]! };
}

function arrayIndex(array: unknown[], key: string, path: string, forInsert: boolean): number {
  if (forInsert && key === '-') return array.length;
  if (!/^(0|[1-9]\d*)$/.test(key)) throw new JsonPatchError(`invalid array index "${key}" in "${path}"`, false);
  const index = Number(key);
  if (index > array.length || (!forInsert && index === array.length)) throw new JsonPatchError(`array index out of bounds in "${path}"`, false);
  return index;
}

function get(document: unknown, path: string): unknown {
  let current = document;
  for (const token of parsePointer(path)) {
    if (Array.isArray(current)) current = current[arrayIndex(current, token, path, false)];
    else if (isContainer(current) && Object.prototype.hasOwnProperty.call(current, token)) current = (current as Record<string, unknown>)[token];
    else throw new JsonPatchError(`doc is missing path: "${path}"`, false);
  }
  return current;
}

function add(document: unknown, path: string, value: unknown): unknown {
  const tokens = parsePointer(path);
  if (tokens.length === 0) return value;
  const { parent, key } = locate(document, tokens, path);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, path, true), 0, value);
  else parent[key] = value;
  return document;
}

function remove(document: unknown, path: string): unknown {
  const tokens = parsePointer(path);
  if (tokens.length === 0) throw new JsonPatchError('cannot remove the whole document', false);
  const { parent, key } = locate(document, tokens, path);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, key, path, false), 1);
  else if (Object.prototype.hasOwnProperty.call(parent, key)) delete parent[key];
  else throw new JsonPatchError(`Unable to remove nonexistent key: ${key}: missing value`, false);
  return document;
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (isContainer(value))
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
    );
  return value;
}

/** Applies an RFC 6902 patch to a copy of `target`; throws a JsonPatchError when the patch is malformed or an operation fails. */
export function applyJsonPatch(target: unknown, patch: unknown): unknown {
  if (!Array.isArray(patch)) throw new JsonPatchError('a JSON patch must be an array of operations', true);
  let document = structuredClone(target);
  for (const raw of patch) {
    if (!isContainer(raw) || Array.isArray(raw) || typeof raw.path !== 'string' || typeof raw.op !== 'string') {
      throw new JsonPatchError(`malformed JSON patch operation: ${JSON.stringify(raw)}`, true);
    }
    const operation = raw as unknown as Operation;
    switch (operation.op) {
      case 'add':
        document = add(document, operation.path, structuredClone(operation.value));
        break;
      case 'remove':
        document = remove(document, operation.path);
        break;
      case 'replace':
        get(document, operation.path);
        document =
          parsePointer(operation.path).length === 0
            ? structuredClone(operation.value)
            : add(remove(document, operation.path), operation.path, structuredClone(operation.value));
        break;
      case 'move': {
        if (typeof operation.from !== 'string') throw new JsonPatchError('move needs "from"', true);
        const value = get(document, operation.from);
        document = add(remove(document, operation.from), operation.path, value);
        break;
      }
      case 'copy': {
        if (typeof operation.from !== 'string') throw new JsonPatchError('copy needs "from"', true);
        document = add(document, operation.path, structuredClone(get(document, operation.from)));
        break;
      }
      case 'test':
        if (!deepEqual(get(document, operation.path), operation.value)) throw new JsonPatchError(`testing value ${operation.path} failed: test failed`, false);
        break;
      default:
        throw new JsonPatchError(`Unexpected kind: ${String((operation as { op: unknown }).op)}`, true);
    }
  }
  return document;
}
