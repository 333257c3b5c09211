import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { LineCounter, parseAllDocuments, type Document } from 'yaml';
import { assembleMeshConfig, type LocatedResource, type MeshConfig } from './mesh-config.js';
import { validateResource, type FieldPath } from './validate.js';

/** What parsing YAML text gives: the valid resources and every error, each naming file and line. */
export interface ParsedYaml {
  readonly resources: LocatedResource[];
  readonly errors: string[];
}

function locator(file: string, document: Document, lines: LineCounter): (path: FieldPath) => string {
  return (fieldPath) => {
    for (let depth = fieldPath.length; depth >= 0; depth--) {
      const node = document.getIn(fieldPath.slice(0, depth), true) as { range?: [number, number, number] } | undefined;
      if (node?.range !== undefined) {
        const { line, col } = lines.linePos(node.range[0]);
        return `${file}:${line}:${col}: `;
      }
    }
    return `${file}: `;
  };
}

/** Parse and validate the YAML documents of one file's text. */
export function parseMeshYaml(text: string, file: string): ParsedYaml {
  const lines = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter: lines, uniqueKeys: true });
  const resources: LocatedResource[] = [];
  const errors: string[] = [];
  const list = Array.isArray(documents) ? documents : [];
  if (!Array.isArray(documents)) errors.push(`${file}: not a YAML stream`);
  for (const document of list) {
    if (document.errors.length > 0) {
      for (const error of document.errors) {
        const at = error.linePos?.[0];
        errors.push(`${file}${at ? `:${at.line}:${at.col}` : ''}: ${error.message.split('\n')[0]}`);
      }
      continue;
    }
    if (document.contents === null) continue; // an empty document between separators
    const locate = locator(file, document, lines);
    const raw: unknown = document.toJS({ maxAliasCount: 100 });
    const result = validateResource(raw);
    if (result.valid) resources.push({ resource: result.result, locate, raw });
    else result.issues.forEach((issue, i) => errors.push(`${locate(issue.path)}${result.errors[i]}`));
  }
  return { resources, errors };
}

/** Files a config path names: the file itself, or the `.yaml`/`.yml` files of a folder (sorted). */
export async function configFiles(configPath: string): Promise<string[]> {
  const info = await stat(configPath);
  if (!info.isDirectory()) return [configPath];
  const names = (await readdir(configPath)).filter((name) => /\.ya?ml$/.test(name)).sort();
  return names.map((name) => path.join(configPath, name));
}

/** Reads and parses one file (read errors throw). */
export type FileParser = (file: string) => Promise<ParsedYaml>;

/** The plain parser: read the file, parse it. */
export const parseMeshFile: FileParser = async (file) => parseMeshYaml(await readFile(file, 'utf8'), file);

/**
 * Read and validate the mesh YAML at the given paths (files or folders), without checking
 * cross-references: every resource that is valid on its own, and every error, each naming
 * its file, line and field. `parse` may be a caching parser (the control plane's file source).
 */
export async function loadMeshResources(paths: readonly string[], parse: FileParser = parseMeshFile): Promise<{ resources: LocatedResource[]; errors: string[]; files: string[] }> {
  const errors: string[] = [];
  const resources: LocatedResource[] = [];
  const files: string[] = [];
  const cannotRead = (what: string, error: unknown) => errors.push(`${what}: cannot read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  for (const configPath of paths) {
    let names: string[];
    try {
      names = await configFiles(configPath);
    } catch (error) {
      cannotRead(configPath, error);
      continue;
    }
    for (const file of names) {
      let parsed: ParsedYaml;
      try {
        parsed = await parse(file);
      } catch (error) {
        cannotRead(file, error);
        continue;
      }
      files.push(file);
      resources.push(...parsed.resources);
      errors.push(...parsed.errors);
    }
  }
  return { resources, errors, files };
}

/**
 * Load, validate and assemble the mesh YAML at the given paths (files or folders). Every
 * error names its file, line and field; with any error the result is invalid as a whole, so
 * a half-valid change never replaces a good config.
 */
export async function loadMeshConfig(paths: readonly string[]): Promise<{ valid: true; result: MeshConfig; files: string[] } | { valid: false; errors: string[] }> {
  const { resources, errors, files } = await loadMeshResources(paths);
  if (errors.length > 0) return { valid: false, errors };
  const assembled = assembleMeshConfig(resources);
  return assembled.valid ? { valid: true, result: assembled.result, files } : assembled;
}
