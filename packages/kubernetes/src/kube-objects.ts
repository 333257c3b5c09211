// Readers of the few fields the source uses. Objects come from two places — a list through the
// typed API (deserialized into client-node's model classes) and a watch (plain JSON) — with the
// same field names, so plain property reads serve both; nothing here trusts a field's type.

/** Any object from the API server, as far as this package reads it. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deletionTimestamp?: unknown;
  };
  spec?: unknown;
  status?: unknown;
}

/** A record, or undefined. */
export function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** An array, or empty. */
export function array(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** A string, or undefined. */
export function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** A string map (labels, annotations), without non-string values. */
export function stringMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, entry] of Object.entries(record(value) ?? {})) if (typeof entry === 'string') out[key] = entry;
  return out;
}

/** `namespace/name` of an object (`/name` for cluster-scoped). */
export function objectKey(object: KubeObject): string {
  return `${object.metadata?.namespace ?? ''}/${object.metadata?.name ?? ''}`;
}

/** `Kind namespace/name`, as messages name a resource. */
export function objectLabel(kind: string, namespace: string, name: string): string {
  return `${kind} ${namespace}/${name}`;
}
