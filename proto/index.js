// PROTO_ROOT is this package's own folder, found from this file rather than from the
// working directory, so the .proto files load however and wherever dubbo-mesh is started.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The folder the .proto files are under (the import root of `dubbo_mesh/...` paths). */
export const PROTO_ROOT = path.dirname(fileURLToPath(import.meta.url));
