import t from 'tap';
import {
  APP_JAVA_TOOL_OPTIONS,
  applyJavaRecipe,
  DUBBO_IP_TO_REGISTRY,
  DUBBO_PROTOCOL_PORT_TO_REGISTRY,
  isResolveVolume,
  JAVA_RECIPE_MIGRATION_ENV,
  JAVA_RECIPE_PROPERTIES,
  JAVA_TOOL_OPTIONS,
  javaRecipeConflict,
  javaRecipeOptions,
  RESOLVE_FILE_PATH,
  resolveVolume,
  resolveVolumeMount,
} from '../dist/java-recipe.js';
import type { PodContainer } from '../dist/admission-review.js';

const OURS = javaRecipeOptions();

t.test('the options are the property table, one -Dname=value each, with nothing the JVM would split', async (t) => {
  t.equal(RESOLVE_FILE_PATH, '/etc/dubbo-mesh/resolve/dubbo-resolve.properties');
  t.same(
    JAVA_RECIPE_PROPERTIES.map((p) => `${p.name}=${p.value}`),
    [
      'dubbo.resolve.file=/etc/dubbo-mesh/resolve/dubbo-resolve.properties',
      'dubbo.consumer.check=false',
      'dubbo.reference.check=false',
      'dubbo.consumer.retries=0',
      'dubbo.reference.retries=0',
    ],
  );
  t.equal(OURS.split(' ').length, JAVA_RECIPE_PROPERTIES.length);
  for (const property of JAVA_RECIPE_PROPERTIES) {
    t.match(OURS, `-D${property.name}=${property.value}`);
    t.notMatch(property.value, /[\s"'$]/, `${property.name}'s value needs no quoting`);
    t.ok(property.why.length > 0 && property.versions.length > 0, `${property.name} says why and which versions`);
  }
  t.notMatch(OURS, /cluster/, 'no cluster property: Dubbo ignores it for a direct URL');
  t.same(
    JAVA_RECIPE_MIGRATION_ENV.map((v) => v.name),
    ['DUBBO_IP_TO_REGISTRY', 'DUBBO_DUBBO_PORT_TO_REGISTRY'],
  );
});

t.test('the volume is the ConfigMap, not optional, mounted read-only', async (t) => {
  t.same(resolveVolume(), { name: 'dubbo-mesh-resolve', configMap: { name: 'dubbo-mesh-resolve' } });
  t.same(resolveVolumeMount(), { name: 'dubbo-mesh-resolve', mountPath: '/etc/dubbo-mesh/resolve', readOnly: true });
  t.ok(isResolveVolume(resolveVolume()));
  t.notOk(isResolveVolume({ name: 'dubbo-mesh-resolve', emptyDir: {} }));
  t.notOk(isResolveVolume({ name: 'dubbo-mesh-resolve', configMap: { name: 'dubbo-mesh-resolve', optional: true } }));
});

t.test('a container without env gets one; the mount is appended', async (t) => {
  const container: PodContainer = { name: 'app', volumeMounts: [{ name: 'data', mountPath: '/data' }] };
  t.same(applyJavaRecipe(container, 'consumer', 20891), []);
  t.same(container.env, [{ name: JAVA_TOOL_OPTIONS, value: OURS }]);
  t.same(container.volumeMounts, [{ name: 'data', mountPath: '/data' }, resolveVolumeMount()]);
});

t.test("the application's own options come after ours, in place, so its own -D still win", async (t) => {
  const container: PodContainer = {
    name: 'app',
    env: [
      { name: 'A', value: '1' },
      { name: JAVA_TOOL_OPTIONS, value: '-Xmx512m -Ddubbo.consumer.retries=2' },
      { name: 'B', value: '$(JAVA_TOOL_OPTIONS)' },
    ],
  };
  applyJavaRecipe(container, 'consumer', 20891);
  t.same(container.env, [
    { name: 'A', value: '1' },
    { name: JAVA_TOOL_OPTIONS, value: `${OURS} -Xmx512m -Ddubbo.consumer.retries=2` },
    { name: 'B', value: '$(JAVA_TOOL_OPTIONS)' },
  ]);
  const blank: PodContainer = { name: 'app', env: [{ name: JAVA_TOOL_OPTIONS, value: '  ' }] };
  applyJavaRecipe(blank, 'consumer', 20891);
  t.same(blank.env, [{ name: JAVA_TOOL_OPTIONS, value: OURS }]);
});

t.test('options from a ConfigMap or Secret keep their source under another name, referred to as $(…)', async (t) => {
  const valueFrom = { configMapKeyRef: { name: 'jvm', key: 'options' } };
  const container: PodContainer = {
    name: 'app',
    env: [
      { name: 'A', value: '1' },
      { name: JAVA_TOOL_OPTIONS, valueFrom },
    ],
  };
  t.equal(javaRecipeConflict(container), undefined);
  applyJavaRecipe(container, 'consumer', 20891);
  t.same(container.env, [
    { name: 'A', value: '1' },
    { name: APP_JAVA_TOOL_OPTIONS, valueFrom },
    { name: JAVA_TOOL_OPTIONS, value: `${OURS} $(${APP_JAVA_TOOL_OPTIONS})` },
  ]);
  // What the kubelet makes of it: $(VAR) expanded from the variables defined before it.
  const resolved = new Map<string, string>();
  for (const env of container.env!) {
    const value =
      env.valueFrom !== undefined ? '-Xmx1g' : (env.value ?? '').replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (all, name) => resolved.get(name) ?? all);
    resolved.set(env.name, value);
  }
  t.equal(resolved.get(JAVA_TOOL_OPTIONS), `${OURS} -Xmx1g`);
});

t.test('conflicts: an optional options source, a mount at the path, our variable already there', async (t) => {
  const optional: PodContainer = { name: 'app', env: [{ name: JAVA_TOOL_OPTIONS, valueFrom: { secretKeyRef: { name: 's', key: 'k', optional: true } } }] };
  t.match(javaRecipeConflict(optional), /optional source/);
  const mounted: PodContainer = { name: 'app', volumeMounts: [{ name: 'cfg', mountPath: '/etc/dubbo-mesh/resolve' }] };
  t.match(javaRecipeConflict(mounted), /already mounts cfg at \/etc\/dubbo-mesh\/resolve/);
  const ours: PodContainer = { name: 'app', env: [{ name: APP_JAVA_TOOL_OPTIONS, value: 'x' }] };
  t.match(javaRecipeConflict(ours), /already sets DUBBO_MESH_APP_JAVA_TOOL_OPTIONS/);
  t.equal(javaRecipeConflict({ name: 'app' }), undefined);
});

t.test('envFrom may hold options the recipe shadows: a warning says so', async (t) => {
  const container: PodContainer = { name: 'app', envFrom: [{ configMapRef: { name: 'settings' } }] };
  const warnings = applyJavaRecipe(container, 'consumer', 20891);
  t.match(warnings.join('\n'), /container app: a JAVA_TOOL_OPTIONS from its envFrom is overridden/);
});

t.test("migration mode: the pod IP and the inbound port for the registry, replacing the container's own", async (t) => {
  const container: PodContainer = { name: 'app' };
  t.same(applyJavaRecipe(container, 'migration', 30000), []);
  t.same(container.env, [
    { name: JAVA_TOOL_OPTIONS, value: OURS },
    { name: DUBBO_IP_TO_REGISTRY, valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
    { name: DUBBO_PROTOCOL_PORT_TO_REGISTRY, value: '30000' },
  ]);
  const own: PodContainer = {
    name: 'app',
    env: [
      { name: DUBBO_IP_TO_REGISTRY, value: '10.0.0.1' },
      { name: 'X', value: 'y' },
    ],
  };
  const warnings = applyJavaRecipe(own, 'migration', 20891);
  t.same(own.env?.[0], { name: DUBBO_IP_TO_REGISTRY, valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } });
  t.match(warnings.join('\n'), /container app: its DUBBO_IP_TO_REGISTRY is replaced/);
  const consumer: PodContainer = { name: 'app' };
  applyJavaRecipe(consumer, 'consumer', 20891);
  t.notOk(
    consumer.env?.some((env) => env.name.includes('TO_REGISTRY')),
    'consumer mode leaves registration alone',
  );
});
