import { customResourceDefinitions } from '@dubbo-mesh/config';
import { stringify } from 'yaml';

/** Where the manifest lives in the repository, and the command that writes it. */
export const CRD_MANIFEST_PATH = 'deploy/crds.yaml';
export const CRD_MANIFEST_COMMAND = 'npm run crds';

/**
 * The CustomResourceDefinitions of every mesh kind that is a custom resource, as one YAML stream
 * for `kubectl apply -f`: generated from the kind definitions file validation uses, so the two
 * cannot drift (a test compares the file in the repository with this).
 */
export function crdManifest(): string {
  const header = `# The dubbo-mesh CustomResourceDefinitions. Generated from the kind definitions by \`${CRD_MANIFEST_COMMAND}\`: do not edit.\n`;
  return (
    header +
    customResourceDefinitions()
      .map((crd) => `---\n${stringify(crd, { lineWidth: 0 })}`)
      .join('')
  );
}
