import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { CRD_MANIFEST_COMMAND, CRD_MANIFEST_PATH, crdManifest } from '../dist/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

t.test(`${CRD_MANIFEST_PATH} is what the kind definitions generate (run \`${CRD_MANIFEST_COMMAND}\` after changing a kind)`, async (t) => {
  const file = await readFile(path.join(root, CRD_MANIFEST_PATH), 'utf8');
  t.equal(file, crdManifest());
});

t.test('the manifest is one CRD per custom resource kind, each with a status subresource and printer columns', async (t) => {
  const documents = parseAllDocuments(crdManifest()).map(
    (d) => d.toJS() as { kind: string; metadata: { name: string }; spec: { versions: Array<Record<string, unknown>> } },
  );
  t.same(
    documents.map((d) => d.metadata.name),
    ['dubboservices.dubbo-mesh.io', 'dubboroutes.dubbo-mesh.io', 'dubbopolicies.dubbo-mesh.io', 'dubborules.dubbo-mesh.io', 'dubboplugins.dubbo-mesh.io'],
  );
  for (const crd of documents) {
    t.equal(crd.kind, 'CustomResourceDefinition');
    t.same(crd.spec.versions[0]!.subresources, { status: {} }, `${crd.metadata.name}: status subresource`);
    const columns = (crd.spec.versions[0]!.additionalPrinterColumns as Array<{ name: string }>).map((c) => c.name);
    t.ok(columns.includes('Accepted') && columns.includes('Age'), `${crd.metadata.name}: Accepted and Age columns`);
  }
  const routes = documents.find((d) => d.metadata.name === 'dubboroutes.dubbo-mesh.io')!;
  const columns = routes.spec.versions[0]!.additionalPrinterColumns as Array<{ name: string; jsonPath: string }>;
  t.ok(
    columns.some((c) => c.jsonPath === '.spec.hosts'),
    'kubectl get dubboroutes shows hosts',
  );
  t.ok(
    columns.some((c) => c.jsonPath.includes('destinations')),
    'and destinations',
  );
});
