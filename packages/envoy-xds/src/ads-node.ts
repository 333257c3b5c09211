import { readEnvoyNode } from './envoy-node.js';
import type { XdsNode, XdsStructValue } from './envoy-protos.js';

/** protobufjs's own `google.protobuf.Struct` types name their fields in camelCase, whatever `keepCase` says. */
const SNAKE_CASE: Readonly<Record<string, string>> = Object.freeze({
  nullValue: 'null_value',
  numberValue: 'number_value',
  stringValue: 'string_value',
  boolValue: 'bool_value',
  structValue: 'struct_value',
  listValue: 'list_value',
});

function snakeValue(value: XdsStructValue): XdsStructValue {
  const raw = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(raw)) out[SNAKE_CASE[key] ?? key] = field;
  if (typeof raw.kind === 'string') out.kind = SNAKE_CASE[raw.kind] ?? raw.kind;
  const struct = out.struct_value as { fields?: Record<string, XdsStructValue> } | undefined;
  if (struct?.fields !== undefined) out.struct_value = { fields: snakeFields(struct.fields) };
  const list = out.list_value as { values?: XdsStructValue[] } | undefined;
  if (list?.values !== undefined) out.list_value = { values: list.values.map(snakeValue) };
  return out as XdsStructValue;
}

function snakeFields(fields: Record<string, XdsStructValue>): Record<string, XdsStructValue> {
  return Object.fromEntries(Object.entries(fields).map(([key, value]) => [key, snakeValue(value)]));
}

/**
 * Read a request's node as {@link readEnvoyNode} does, from the node as the wire gives it:
 * `@grpc/proto-loader` decodes `node.metadata` (a `google.protobuf.Struct`) with protobufjs's
 * built-in Struct types, whose fields are camelCase (`stringValue`, `kind: 'stringValue'`),
 * while `readEnvoyNode` reads the .proto's names (`string_value`). The node is read as it
 * comes, and, when that fails, with the metadata's names in snake_case.
 */
export function readWireEnvoyNode(node: XdsNode | null): ReturnType<typeof readEnvoyNode> {
  const direct = readEnvoyNode(node);
  if (direct.valid || node?.metadata?.fields === undefined) return direct;
  return readEnvoyNode({ ...node, metadata: { fields: snakeFields(node.metadata.fields) } });
}
