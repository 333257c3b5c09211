// The webhook answers with an RFC 6902 JSON Patch made by diffing the pod before and after
// injection, so the injection itself is plain code on a copy of the pod and the patch is right
// by construction, whatever the injection changed. Kubernetes applies it with
// evanphx/json-patch: `add` needs the parent to exist (a missing `metadata.annotations` or
// `spec.initContainers` is added whole, never into), an array index may be the array's length
// (append), and keys escape `~` as `~0` and `/` as `~1` (`dubbo-mesh.io~1injected`).

/** One RFC 6902 operation; the diff uses only these three. */
export type JsonPatchOperation =
  | { readonly op: 'add'; readonly path: string; readonly value: unknown }
  | { readonly op: 'replace'; readonly path: string; readonly value: unknown }
  | { readonly op: 'remove'; readonly path: string };

/** An object key or array index as one JSON Pointer (RFC 6901) token: `~` → `~0`, then `/` → `~1`. */
export function escapePointerToken(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1');
}

/**
 * Above this many cells (before length × after length) an array is replaced whole rather than
 * aligned: the alignment's table would cost more than the patch saves. A pod's arrays are tens
 * of entries; this only bounds a hostile or unusual object.
 */
const MAX_ALIGNMENT_CELLS = 1_000_000;

/**
 * The JSON Patch that turns `before` into `after` (both JSON values: what `JSON.parse` gives;
 * a property whose value is `undefined` counts as absent). Objects are diffed key by key; arrays
 * are aligned on their longest common subsequence of elements, an element being known by its
 * `name` when it has one (containers, env, volumes, ports) and otherwise by its whole value,
 * so elements inserted at the front, in the middle or at the end become `add`s at their
 * indexes and a changed container is patched inside. Removals come first, from the highest
 * index down, then the walk over `after` in order, so each index in the patch is the index at
 * the moment the operation applies. Values in the patch are shared with `after`, not copied.
 */
export function createJsonPatch(before: unknown, after: unknown): JsonPatchOperation[] {
  const operations: JsonPatchOperation[] = [];
  diffValues(before, after, '', operations);
  return operations;
}

function diffValues(before: unknown, after: unknown, path: string, operations: JsonPatchOperation[]): void {
  if (isPlainObject(before) && isPlainObject(after)) diffObjects(before, after, path, operations);
  else if (Array.isArray(before) && Array.isArray(after)) diffArrays(before, after, path, operations);
  else if (!jsonEqual(before, after)) operations.push({ op: 'replace', path, value: after });
}

function diffObjects(before: Record<string, unknown>, after: Record<string, unknown>, path: string, operations: JsonPatchOperation[]): void {
  for (const [key, value] of Object.entries(before)) {
    if (value !== undefined && after[key] === undefined) operations.push({ op: 'remove', path: `${path}/${escapePointerToken(key)}` });
  }
  for (const [key, value] of Object.entries(after)) {
    if (value === undefined) continue;
    const child = `${path}/${escapePointerToken(key)}`;
    if (!Object.hasOwn(before, key) || before[key] === undefined) operations.push({ op: 'add', path: child, value });
    else diffValues(before[key], value, child, operations);
  }
}

function diffArrays(before: readonly unknown[], after: readonly unknown[], path: string, operations: JsonPatchOperation[]): void {
  if (before.length === 0 && after.length === 0) return;
  if ((before.length + 1) * (after.length + 1) > MAX_ALIGNMENT_CELLS) {
    if (!jsonEqual(before, after)) operations.push({ op: 'replace', path, value: after });
    return;
  }
  const matchOfAfter = alignArrays(before.map(identity), after.map(identity));
  const kept = new Set(matchOfAfter.filter((index) => index >= 0));
  if (kept.size === 0 && before.length > 0 && after.length > 0) {
    operations.push({ op: 'replace', path, value: after }); // nothing in common: one op, not one per element
    return;
  }
  for (let index = before.length - 1; index >= 0; index--) if (!kept.has(index)) operations.push({ op: 'remove', path: `${path}/${index}` });
  // After the removals the array is the kept elements in order; walking `after`, everything
  // before index j already equals after[0..j-1], so a kept element is at j when its turn comes.
  after.forEach((value, index) => {
    const match = matchOfAfter[index]!;
    if (match < 0) operations.push({ op: 'add', path: `${path}/${index}`, value });
    else diffValues(before[match], value, `${path}/${index}`, operations);
  });
}

/** For each element of `after`, the index in `before` it is aligned with (a longest common subsequence of keys), or -1. */
function alignArrays(before: readonly string[], after: readonly string[]): number[] {
  const width = after.length + 1;
  // lengths[i * width + j] = LCS length of before[i..] and after[j..].
  const lengths = new Uint32Array((before.length + 1) * width);
  for (let i = before.length - 1; i >= 0; i--) {
    for (let j = after.length - 1; j >= 0; j--) {
      lengths[i * width + j] =
        before[i] === after[j] ? lengths[(i + 1) * width + j + 1]! + 1 : Math.max(lengths[(i + 1) * width + j]!, lengths[i * width + j + 1]!);
    }
  }
  const match = new Array<number>(after.length).fill(-1);
  let i = 0;
  let j = 0;
  while (i < before.length && j < after.length) {
    if (before[i] === after[j]) match[j++] = i++;
    else if (lengths[(i + 1) * width + j]! >= lengths[i * width + j + 1]!) i++;
    else j++;
  }
  return match;
}

/** What an array element is known by: its `name` when it is an object with a string name, else its whole value. */
function identity(value: unknown): string {
  if (isPlainObject(value) && typeof value.name === 'string') return `name:${value.name}`;
  return `value:${canonicalJson(value)}`;
}

/** Whether two JSON values are equal (key order ignored, `undefined` properties absent). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((value, index) => jsonEqual(value, b[index]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const keysA = Object.keys(a).filter((key) => a[key] !== undefined);
    const keysB = Object.keys(b).filter((key) => b[key] !== undefined);
    return keysA.length === keysB.length && keysA.every((key) => Object.hasOwn(b, key) && jsonEqual(a[key], b[key]));
  }
  return false;
}

/** JSON with object keys sorted, so equal values have equal text. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isPlainObject(value)) {
    const keys = Object.keys(value)
      .filter((key) => value[key] !== undefined)
      .sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
