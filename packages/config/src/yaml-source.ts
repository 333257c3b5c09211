import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { LineCounter, parseAllDocuments, type Document } from 'yaml';
import { assembleMeshConfig, checkCrossReferences, originsOf, type LocatedResource, type MeshConfig } from './mesh-config.js';
import { validateResource, type FieldPath, type ValidationIssue } from './validate.js';
import { kindDefinition } from './kind-registry.js';
import type { MeshResource } from './types.js';
import { DEFAULT_NAMESPACE } from './defaults.js';
import { bareRuleResource, isBareRuleDocument } from './kinds/dubbo-rule.js';

/** What parsing YAML text gives: the valid resources and every error, each naming file and line. */
export interface ParsedYaml {
  readonly resources: LocatedResource[];
  readonly errors: string[];
  /**
   * Resources that failed validation, as far as they could be read (each with its `issues`):
   * only for reporting their cross-references together with their field errors.
   */
  readonly partial?: LocatedResource[];
  /** Documents that name a resource but failed validation, each with its own errors (positions included). */
  readonly rejected?: RejectedDocument[];
}

/** A document of a file that names a resource (`kind`, `namespace/name`) but is not a valid one. */
export interface RejectedDocument {
  readonly kind: string;
  /** `namespace/name`. */
  readonly name: string;
  /** The file. */
  readonly origin: string;
  readonly errors: readonly string[];
}

/** A position inside one chunk of a file (1-based line and column, relative to the chunk). */
interface Position {
  readonly line: number;
  readonly col: number;
}

/** One YAML document of a chunk, parsed and validated once, with positions relative to its chunk. */
type ChunkDocument =
  | { readonly ok: true; readonly resource: MeshResource; readonly raw: unknown; readonly position: (path: FieldPath) => Position | undefined }
  | {
      readonly ok: false;
      readonly errors: ReadonlyArray<{ readonly at: Position | undefined; readonly message: string }>;
      readonly partial?: { readonly resource: MeshResource; readonly raw: unknown; readonly issues: readonly ValidationIssue[] };
      readonly position: (path: FieldPath) => Position | undefined;
      /** The resource the document names, when it names one (kind and `namespace/name`). */
      readonly names?: { readonly kind: string; readonly name: string };
    };

/** What one chunk of a file (its text from one `---` to the next) parses to, wherever it sits in the file. */
interface ParsedChunk {
  readonly documents: readonly ChunkDocument[];
  /** Whether the chunk has a document with content (not only separators and comments). */
  readonly hasContent: boolean;
  /** Whether the chunk has a comment (a file of comments only is empty on purpose). */
  readonly hasComment: boolean;
}

/** A chunk of a file's text and the line it starts on. */
interface Chunk {
  readonly text: string;
  readonly startLine: number;
}

const DOCUMENT_START = /^---(?:[ \t\r\n]|$)/;

/**
 * Split YAML text into chunks, each starting at a document marker (`---` at the start of a
 * line, with the directives just above it). YAML forbids that marker inside any content, so
 * each chunk parses on its own exactly as it does inside the whole stream; a change to one
 * document of a big file then parses one chunk, not the file.
 */
function splitDocuments(text: string): Chunk[] {
  const chunks: Chunk[] = [];
  let chunkStart = 0;
  let chunkLine = 1;
  let directiveStart = -1;
  let directiveLine = 0;
  let line = 1;
  for (let at = 0; at < text.length; line++) {
    const newline = text.indexOf('\n', at);
    const next = newline === -1 ? text.length : newline + 1;
    const first = text.charCodeAt(at);
    if (first === 0x25 /* % */) {
      if (directiveStart < 0) {
        directiveStart = at;
        directiveLine = line;
      }
    } else if (first === 0x2d /* - */ && DOCUMENT_START.test(text.slice(at, at + 4))) {
      const boundary = directiveStart >= 0 ? directiveStart : at;
      if (boundary > chunkStart) chunks.push({ text: text.slice(chunkStart, boundary), startLine: chunkLine });
      chunkStart = boundary;
      chunkLine = directiveStart >= 0 ? directiveLine : line;
      directiveStart = -1;
    } else if (first !== 0x23 /* # */) {
      directiveStart = -1;
    }
    at = next;
  }
  if (chunkStart < text.length || chunks.length === 0) chunks.push({ text: text.slice(chunkStart), startLine: chunkLine });
  return chunks;
}

/**
 * One line for a YAML error: yaml's message is its first line, which ends with
 * " at line L, column C:" before a picture of the line; the position is already in front.
 */
function yamlErrorMessage(message: string): string {
  return message
    .split('\n')[0]!
    .replace(/ at line \d+, column \d+:?$/, '')
    .replace(/:$/, '');
}

function documentPositions(document: Document, lines: LineCounter): (path: FieldPath) => Position | undefined {
  return (fieldPath) => {
    for (let depth = fieldPath.length; depth >= 0; depth--) {
      const node = document.getIn(fieldPath.slice(0, depth), true) as { range?: [number, number, number] } | undefined;
      if (node?.range !== undefined) return lines.linePos(node.range[0]);
    }
    return undefined;
  };
}

/** A document with nothing in it: between two separators, or a separator alone. */
function isEmptyDocument(document: Document): boolean {
  const contents = document.contents as { value?: unknown; source?: string } | null;
  return contents === null || (contents.value === null && contents.source === '');
}

/**
 * Positions in the `index`th document of a chunk, found by parsing the chunk again when first
 * asked. Only an error message asks, so a valid resource does not keep its YAML syntax tree
 * alive: with thousands of resources that tree is most of the heap, and the garbage
 * collector's pauses grow with it.
 */
function lazyPositions(text: string, index: number): (path: FieldPath) => Position | undefined {
  let positions: ((path: FieldPath) => Position | undefined) | undefined;
  return (fieldPath) => {
    if (positions === undefined) {
      const lines = new LineCounter();
      const documents = parseAllDocuments(text, { lineCounter: lines, uniqueKeys: true });
      const document = Array.isArray(documents) ? documents[index] : undefined;
      positions = document === undefined ? () => undefined : documentPositions(document, lines);
    }
    return positions(fieldPath);
  };
}

/** Positions of a bare rule document: the resource's `spec.x` is the document's `x`. */
function underSpec(position: (path: FieldPath) => Position | undefined): (path: FieldPath) => Position | undefined {
  return (fieldPath) => position(fieldPath[0] === 'spec' ? fieldPath.slice(1) : fieldPath);
}

/** Parse one chunk of `file` (its name names the DubboRules of bare rule documents: the cache of chunks is per file). */
function parseChunk(text: string, file: string): ParsedChunk {
  const lines = new LineCounter();
  const parsed = parseAllDocuments(text, { lineCounter: lines, uniqueKeys: true });
  const documents: ChunkDocument[] = [];
  let hasContent = false;
  const list = Array.isArray(parsed) ? parsed : [];
  for (const [index, document] of list.entries()) {
    const position = documentPositions(document, lines);
    if (document.errors.length > 0) {
      hasContent = true;
      documents.push({ ok: false, position, errors: document.errors.map((error) => ({ at: error.linePos?.[0], message: yamlErrorMessage(error.message) })) });
      continue;
    }
    if (isEmptyDocument(document)) continue;
    hasContent = true;
    let raw: unknown;
    try {
      raw = document.toJS({ maxAliasCount: 100 });
    } catch (error) {
      // An alias bomb (or any document yaml cannot turn into data) is this document's error, not the file reader's.
      documents.push({ ok: false, position, errors: [{ at: lines.linePos(document.range[0]), message: yamlErrorMessage((error as Error).message) }] });
      continue;
    }
    // A rule document alone (`configVersion`, no `kind`) stands for a DubboRule: its fields sit under `spec`.
    const bare = isBareRuleDocument(raw);
    if (bare) raw = bareRuleResource(raw as Record<string, unknown>, DEFAULT_NAMESPACE, file);
    const at = bare ? underSpec(position) : position;
    const result = validateResource(raw);
    if (result.valid) {
      const lazy = lazyPositions(text, index);
      documents.push({ ok: true, resource: result.result, raw, position: bare ? underSpec(lazy) : lazy });
      continue;
    }
    const names = namesOf(raw);
    documents.push({
      ok: false,
      position: at,
      ...(names === undefined ? {} : { names }),
      errors: result.issues.map((issue, i) => ({ at: at(issue.path), message: result.errors[i]! })),
      ...(result.partial === undefined ? {} : { partial: { resource: result.partial, raw, issues: result.issues } }),
    });
  }
  return { documents, hasContent, hasComment: /^[ \t]*#/m.test(text) };
}

/** The kind and `namespace/name` a raw document names, when it names a known kind and a name. */
function namesOf(raw: unknown): { kind: string; name: string } | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const { kind, metadata } = raw as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
  if (typeof kind !== 'string' || kindDefinition(kind) === undefined || typeof metadata?.name !== 'string') return undefined;
  return { kind, name: `${typeof metadata.namespace === 'string' ? metadata.namespace : DEFAULT_NAMESPACE}/${metadata.name}` };
}

/** Adds a chunk's documents to a file's result, with positions moved to where the chunk sits. */
function addChunk(
  out: { resources: LocatedResource[]; errors: string[]; partial: LocatedResource[]; rejected: RejectedDocument[] },
  chunk: ParsedChunk,
  file: string,
  startLine: number,
): void {
  const where = (at: Position | undefined) => (at === undefined ? `${file}: ` : `${file}:${at.line + startLine - 1}:${at.col}: `);
  for (const document of chunk.documents) {
    const locate = (fieldPath: FieldPath) => where(document.position(fieldPath));
    if (document.ok) {
      out.resources.push({ resource: document.resource, raw: document.raw, locate, origin: file });
      continue;
    }
    const errors = document.errors.map((error) => `${where(error.at)}${error.message}`);
    out.errors.push(...errors);
    if (document.partial !== undefined) out.partial.push({ ...document.partial, locate, origin: file });
    if (document.names !== undefined) out.rejected.push({ ...document.names, origin: file, errors });
  }
}

/** The error of a file with no document and no comment: a file caught while being rewritten looks exactly like this. */
function emptyFileError(file: string): string {
  return `${file}: empty file (no YAML document): refused, the last valid state stays; to clear a file on purpose delete it or leave only a comment in it`;
}

/**
 * Parse and validate the YAML documents of one file's text. A text with no document and no
 * comment (empty or whitespace only) is an error, "empty file": a file read while it is
 * being rewritten looks like that, and publishing it would drop every service it had.
 */
export function parseMeshYaml(text: string, file: string): ParsedYaml {
  const out = { resources: [] as LocatedResource[], errors: [] as string[], partial: [] as LocatedResource[], rejected: [] as RejectedDocument[] };
  let hasContent = false;
  let hasComment = false;
  for (const chunk of splitDocuments(text)) {
    const parsed = parseChunk(chunk.text, file);
    hasContent ||= parsed.hasContent;
    hasComment ||= parsed.hasComment;
    addChunk(out, parsed, file, chunk.startLine);
  }
  if (!hasContent && !hasComment) out.errors.push(emptyFileError(file));
  return out;
}

/** Options of {@link MeshYamlCache.parse}. */
export interface IncrementalParseOptions {
  /** Milliseconds of parsing after which the event loop is let run (default 10). */
  readonly sliceMs?: number;
  /** The clock slices are measured with (default `performance.now`). */
  readonly now?: () => number;
}

/**
 * Parses mesh YAML files again and again, reusing every document whose text did not change:
 * a change to one of five thousand documents in one file parses and validates one document,
 * and the resources of the others are the same objects as before (so what is built from them
 * downstream can be reused too). Long work is cut into slices with the event loop let run in
 * between, so a large file never blocks a server for long.
 */
export class MeshYamlCache {
  /** Parsed chunks by file, then by chunk text. */
  private readonly files = new Map<string, Map<string, ParsedChunk>>();

  /** Parse one file's text (see {@link parseMeshYaml} for what it gives). */
  async parse(text: string, file: string, options: IncrementalParseOptions = {}): Promise<ParsedYaml> {
    const now = options.now ?? (() => performance.now());
    const sliceMs = options.sliceMs ?? 10;
    const previous = this.files.get(file) ?? new Map<string, ParsedChunk>();
    const current = new Map<string, ParsedChunk>();
    const out = { resources: [] as LocatedResource[], errors: [] as string[], partial: [] as LocatedResource[], rejected: [] as RejectedDocument[] };
    let hasContent = false;
    let hasComment = false;
    let sliceStart = now();
    for (const chunk of splitDocuments(text)) {
      // Even reusing thousands of chunks takes a while (each is looked up by its text).
      if (now() - sliceStart >= sliceMs) {
        await yieldToEventLoop();
        sliceStart = now();
      }
      const parsed = current.get(chunk.text) ?? previous.get(chunk.text) ?? parseChunk(chunk.text, file);
      current.set(chunk.text, parsed);
      hasContent ||= parsed.hasContent;
      hasComment ||= parsed.hasComment;
      addChunk(out, parsed, file, chunk.startLine);
    }
    this.files.set(file, current);
    if (!hasContent && !hasComment) out.errors.push(emptyFileError(file));
    return out;
  }

  /** Forget a file (it is gone). */
  forget(file: string): void {
    this.files.delete(file);
  }
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

/** The one-line error of a path that cannot be read. */
export function cannotReadError(what: string, error: unknown): string {
  return `${what}: cannot read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`;
}

/**
 * Read and validate the mesh YAML at the given paths (files or folders), without checking
 * cross-references: every resource that is valid on its own, every error (each naming its
 * file, line and field), and the resources that failed validation as far as they could be
 * read (`partial`). `parse` may be a caching parser.
 */
export async function loadMeshResources(
  paths: readonly string[],
  parse: FileParser = parseMeshFile,
): Promise<{ resources: LocatedResource[]; errors: string[]; files: string[]; partial: LocatedResource[] }> {
  const errors: string[] = [];
  const resources: LocatedResource[] = [];
  const partial: LocatedResource[] = [];
  const files: string[] = [];
  for (const configPath of paths) {
    let names: string[];
    try {
      names = await configFiles(configPath);
    } catch (error) {
      errors.push(cannotReadError(configPath, error));
      continue;
    }
    for (const file of names) {
      let parsed: ParsedYaml;
      try {
        parsed = await parse(file);
      } catch (error) {
        errors.push(cannotReadError(file, error));
        continue;
      }
      files.push(file);
      resources.push(...parsed.resources);
      errors.push(...parsed.errors);
      partial.push(...(parsed.partial ?? []));
    }
  }
  return { resources, errors, files, partial };
}

/**
 * Load, validate and assemble the mesh YAML at the given paths (files or folders). Every
 * error names its file, line and field, and every error is reported at once: a field error
 * does not hide the cross-reference errors of the same files. With any error the result is
 * invalid as a whole, so a half-valid change never replaces a good config.
 */
export async function loadMeshConfig(
  paths: readonly string[],
): Promise<{ valid: true; result: MeshConfig; files: string[] } | { valid: false; errors: string[]; origins: string[] }> {
  const { resources, errors, files, partial } = await loadMeshResources(paths);
  if (errors.length > 0) {
    const crossReferences = checkCrossReferences([...resources, ...partial]);
    return { valid: false, errors: [...errors, ...crossReferences.errors], origins: originsOf([...partial, ...crossReferences.offending]) };
  }
  const assembled = assembleMeshConfig(resources);
  return assembled.valid ? { valid: true, result: assembled.result, files } : assembled;
}
