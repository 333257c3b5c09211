// Reading Kubernetes manifests as `kubectl apply` reads them: YAML streams of objects, and a
// kustomization's resource list.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';

/** A Kubernetes object as a manifest holds it. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** An object and where it was read: `file#index (Kind name)`, for messages. */
export interface ManifestObject {
  readonly object: KubeObject;
  readonly file: string;
  readonly where: string;
}

/**
 * Every object of a YAML stream, in order (empty documents, such as a leading comment, are
 * left out, as kubectl does). A syntax error, or a document that is not an object with
 * apiVersion, kind and metadata.name, throws naming the file.
 */
export function parseManifest(text: string, file: string): ManifestObject[] {
  const objects: ManifestObject[] = [];
  parseAllDocuments(text).forEach((document, index) => {
    if (document.errors.length > 0) throw new Error(`${file}: document ${index}: ${document.errors[0]!.message}`);
    const value = document.toJS() as unknown;
    if (value === null || value === undefined) return;
    const object = value as Partial<KubeObject>;
    if (typeof object !== 'object' || typeof object.apiVersion !== 'string' || typeof object.kind !== 'string' || typeof object.metadata?.name !== 'string')
      throw new Error(`${file}: document ${index} is not a Kubernetes object (apiVersion, kind and metadata.name)`);
    objects.push({ object: object as KubeObject, file, where: `${file}#${index} (${object.kind} ${object.metadata.name})` });
  });
  return objects;
}

/** The objects of one manifest file; `where` names the file relative to `root`. */
export async function readManifest(file: string, root: string): Promise<ManifestObject[]> {
  return parseManifest(await readFile(file, 'utf8'), path.relative(root, file));
}

/** A kustomization.yaml as far as these tests use it: its resources, in order. */
export interface Kustomization {
  readonly resources: readonly string[];
  readonly [field: string]: unknown;
}

/** Read `dir/kustomization.yaml`; its `resources` must be a list of file names. */
export async function readKustomization(dir: string): Promise<Kustomization> {
  const [document] = parseAllDocuments(await readFile(path.join(dir, 'kustomization.yaml'), 'utf8'));
  const value = document?.toJS() as { kind?: string; resources?: unknown } | undefined;
  if (value?.kind !== 'Kustomization' || !Array.isArray(value.resources) || !value.resources.every((r) => typeof r === 'string'))
    throw new Error(`${dir}/kustomization.yaml: not a Kustomization with a list of resources`);
  return value as Kustomization;
}

/** The pod template of a workload (Deployment), or undefined for other kinds. */
export function podTemplate(object: KubeObject): { metadata?: { labels?: Record<string, string> }; spec: PodSpec } | undefined {
  if (object.kind !== 'Deployment') return undefined;
  return (object.spec as { template: { metadata?: { labels?: Record<string, string> }; spec: PodSpec } }).template;
}

/** The parts of a pod spec these tests read. */
export interface PodSpec {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  securityContext?: Record<string, unknown>;
  containers: Container[];
  initContainers?: Container[];
  [field: string]: unknown;
}

/** The parts of a container these tests read. */
export interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>;
  ports?: Array<{ name?: string; containerPort: number }>;
  securityContext?: Record<string, unknown>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  [field: string]: unknown;
}
