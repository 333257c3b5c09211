// Validating Kubernetes objects offline against the API's own schemas, as published by
// kubernetes-models (generated from the Kubernetes OpenAPI specification): no API server runs
// here. Two checks, because the models' runtime validation accepts fields no schema names
// (JSON Schema's default) while the API server refuses them (kubectl's strict field
// validation): the classes' `validate()` checks types, required fields and formats, and the
// models' TypeScript interfaces refuse unknown fields (an object literal's excess properties).
import path from 'node:path';
import ts from 'typescript';
import type { KubeObject } from './manifests.js';

/** What `kubernetes-models/<apiVersion>/<Kind>` exports: a model class that validates itself. */
interface ModelClass {
  new (data: unknown): { validate(): void };
}

/** The module of a kind: `apps/v1` + `Deployment` → `kubernetes-models/apps/v1/Deployment`; core `v1` → `kubernetes-models/v1/…`. */
export function modelModule(apiVersion: string, kind: string): string {
  return `kubernetes-models/${apiVersion}/${kind}`;
}

/**
 * Validate one object with its kubernetes-models class; throws (naming `where`, the fields and
 * the rule) when it is invalid, or when no model exists for its apiVersion and kind (a kind the
 * API server would not know).
 */
export async function validateKubernetesObject(object: KubeObject, where: string): Promise<void> {
  let model: ModelClass | undefined;
  try {
    model = ((await import(modelModule(object.apiVersion, object.kind))) as Record<string, ModelClass>)[object.kind];
  } catch {
    model = undefined;
  }
  if (model === undefined) throw new Error(`${where}: no Kubernetes schema for ${object.apiVersion} ${object.kind}`);
  try {
    new model(object).validate();
  } catch (error) {
    throw new Error(`${where}: ${(error as Error).message}`);
  }
}

/**
 * The fields of `objects` that their kinds' schemas do not define, one message per field
 * (`where: … 'field' does not exist in type …`): the objects are type-checked against the
 * kubernetes-models interfaces in one TypeScript program. `root` is a folder whose
 * node_modules has kubernetes-models.
 */
export function unknownFieldErrors(objects: ReadonlyArray<{ object: KubeObject; where: string }>, root: string): string[] {
  const file = path.join(root, '__kubernetes_manifests__.mts');
  // One object per line, so a diagnostic's line says which object it is about.
  const imports = objects.map(({ object }, i) => `import type { I${object.kind} as T${i} } from '${modelModule(object.apiVersion, object.kind)}';`);
  const declarations = objects.map(({ object }, i) => `export const o${i}: T${i} = ${JSON.stringify(object)};`);
  const source = [...imports, ...declarations].join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, language, ...rest) =>
    path.resolve(name) === file ? ts.createSourceFile(name, source, language, true) : getSourceFile(name, language, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => path.resolve(name) === file || fileExists(name);
  const readFile = host.readFile.bind(host);
  host.readFile = (name) => (path.resolve(name) === file ? source : readFile(name));
  const program = ts.createProgram([file], options, host);
  const sourceFile = program.getSourceFile(file)!;
  return [...program.getSemanticDiagnostics(sourceFile), ...program.getSyntacticDiagnostics(sourceFile)].map((diagnostic) => {
    const line = diagnostic.start === undefined ? -1 : sourceFile.getLineAndCharacterOfPosition(diagnostic.start).line;
    const index = line - imports.length;
    const where = line < imports.length ? `import of ${objects[line]?.where ?? '?'}` : (objects[index]?.where ?? '?');
    // The innermost message names the field; the chain above it repeats the object's path of types.
    let chain: ts.DiagnosticMessageChain | string = diagnostic.messageText;
    while (typeof chain !== 'string' && chain.next !== undefined && chain.next.length > 0) chain = chain.next[0]!;
    return `${where}: ${typeof chain === 'string' ? chain : chain.messageText}`;
  });
}
