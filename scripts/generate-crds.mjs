#!/usr/bin/env node
// Write deploy/crds.yaml from the kind definitions (`npm run crds`; the build runs first).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CRD_MANIFEST_PATH, crdManifest } from '@dubbo-mesh/kubernetes';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const file = path.join(root, CRD_MANIFEST_PATH);
mkdirSync(path.dirname(file), { recursive: true });
writeFileSync(file, crdManifest());
console.log(`wrote ${CRD_MANIFEST_PATH}`);
