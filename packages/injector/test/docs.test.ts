// docs/kubernetes.md says what the injector does: every annotation it reads, every flag it
// takes and every property and variable of the Java recipe is named there, so a new one cannot
// land undocumented.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { INJECTOR_FLAGS, JAVA_RECIPE_MIGRATION_ENV, JAVA_RECIPE_PROPERTIES, POD_ANNOTATIONS } from '../dist/index.js';

const docs = readFileSync(new URL('../../../docs/kubernetes.md', import.meta.url), 'utf8');

t.test('every pod annotation the injector reads is documented', async (t) => {
  for (const annotation of Object.values(POD_ANNOTATIONS)) {
    // The table abbreviates the cpu/memory limit rows as `…-cpu-limit`.
    const short = annotation.replace(/^dubbo-mesh\.io\/proxy(-(cpu|memory)-limit)$/, '…$1');
    t.ok(docs.includes(`\`${annotation}\``) || docs.includes(`\`${short}\``), annotation);
  }
});

t.test('every flag of dubbo-mesh injector is documented with its env twin', async (t) => {
  for (const flag of INJECTOR_FLAGS) {
    t.ok(docs.includes(`\`--${flag.name}`), `--${flag.name}`);
    t.ok(docs.includes(`\`${flag.env}\``), flag.env);
  }
});

t.test('every JVM property and environment variable of the Java recipe is documented', async (t) => {
  for (const property of JAVA_RECIPE_PROPERTIES) t.ok(docs.includes(`\`-D${property.name}\` | \`${property.value}\``), property.name);
  for (const variable of JAVA_RECIPE_MIGRATION_ENV) t.ok(docs.includes(`\`${variable.name}\``), variable.name);
});
