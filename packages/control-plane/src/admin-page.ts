import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AdminPageError } from './errors.js';

/**
 * The folder of the admin page's files: `web/` beside this package's `src/` and `dist/`,
 * found from this module's own location so the page is served whatever the working
 * directory of the process is.
 */
export const ADMIN_PAGE_DIRECTORY = fileURLToPath(new URL('../web/', import.meta.url));

/** The URL prefix of the page's assets (scripts, styles); the page itself is `/`. */
export const ADMIN_PAGE_ASSET_PREFIX = '/ui/';

/** Content types of the files the page is made of; a file of any other type in the folder is not served. */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/**
 * The page's scripts come from this origin only and nothing is inlined, so even a bug that put
 * a resource name into markup could not run it. `img-src data:` is for the empty favicon.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** One file of the page, read once at start. */
interface PageFile {
  readonly body: Buffer;
  readonly contentType: string;
  readonly etag: string;
}

/** Options of {@link registerAdminPage}. */
export interface AdminPageOptions {
  /** Where the page's files are; default {@link ADMIN_PAGE_DIRECTORY}. */
  directory?: string;
}

/**
 * Serve the control plane's read-only web page on an admin fastify instance (before it
 * listens): `GET /` is `index.html`, and each other file of the folder is
 * `GET /ui/<name>`. Every file is read once, here, and the routes are the exact names found,
 * so there is no path to traverse: anything else under `/ui/` is fastify's 404. Responses
 * carry an ETag and `Cache-Control: no-cache` (a browser revalidates, so an upgraded control
 * plane is never shown with an old script). The page reads the JSON APIs; it adds none.
 * Rejects naming the folder when it cannot be read (a broken install).
 */
export async function registerAdminPage(server: FastifyInstance, options: AdminPageOptions = {}): Promise<void> {
  const directory = options.directory ?? ADMIN_PAGE_DIRECTORY;
  const files = await readPageFiles(directory);
  const index = files.get('index.html');
  if (index === undefined) throw new AdminPageError(`admin page: ${path.join(directory, 'index.html')} is missing`);
  server.get('/', (request, reply) => sendPageFile(request, reply, index));
  for (const [name, file] of files) {
    if (name === 'index.html') continue;
    server.get(`${ADMIN_PAGE_ASSET_PREFIX}${name}`, (request, reply) => sendPageFile(request, reply, file));
  }
}

async function readPageFiles(directory: string): Promise<Map<string, PageFile>> {
  let entries;
  try {
    entries = await readdir(directory, { withFileTypes: true });
  } catch (error) {
    throw new AdminPageError(`admin page: cannot read ${directory}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error });
  }
  const files = new Map<string, PageFile>();
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const contentType = CONTENT_TYPES[path.extname(entry.name)];
    if (!entry.isFile() || contentType === undefined || entry.name.startsWith('.')) continue;
    const body = await readFile(path.join(directory, entry.name));
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    files.set(entry.name, { body, contentType, etag });
  }
  return files;
}

function sendPageFile(request: FastifyRequest, reply: FastifyReply, file: PageFile): FastifyReply {
  reply.header('cache-control', 'no-cache').header('etag', file.etag).header('x-content-type-options', 'nosniff');
  if (file.contentType.startsWith('text/html')) {
    reply.header('content-security-policy', CONTENT_SECURITY_POLICY).header('referrer-policy', 'no-referrer');
  }
  if (matchesEtag(request.headers['if-none-match'], file.etag)) return reply.code(304).send();
  return reply.type(file.contentType).send(file.body);
}

/** Whether an If-None-Match header (`*`, or a list of tags, weak or strong) names `etag`. */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.split(',').some((tag) => {
    const trimmed = tag.trim();
    return trimmed === '*' || (trimmed.startsWith('W/') ? trimmed.slice(2) : trimmed) === etag;
  });
}
