// The shape of a Kubernetes object as the fake API server stores and serves it.

/** A Kubernetes object: type meta, object meta, and whatever else its type has (`spec`, `status`, `data`, …). */
export interface FakeKubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    generation?: number;
    uid?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}
