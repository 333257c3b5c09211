import t, { type Test } from 'tap';
import { sidecarInboundPort } from '@dubbo-mesh/kubernetes';
import { reviewAdmission, type AdmissionOutcome } from '../dist/admission.js';
import { BadAdmissionReviewError } from '../dist/errors.js';
import { defaultInjectorConfig, type InjectorConfig } from '../dist/injector-config.js';
import { JAVA_TOOL_OPTIONS, javaRecipeOptions } from '../dist/java-recipe.js';
import { readPodAnnotations } from '../dist/pod-annotations.js';
import { injectPod } from '../dist/pod-injection.js';
import type { PodObject } from '../dist/admission-review.js';
import { applyJsonPatch, type PatchOperation } from './fixtures/apply-json-patch.js';
import { deploymentPod, reviewOf, simplePod, type TestReview } from './fixtures/reviews.js';
import { podProblems } from './fixtures/validate-pod.js';

const config = defaultInjectorConfig();

interface Response {
  uid: string;
  allowed: boolean;
  patchType?: string;
  patch?: string;
  status?: { code: number; reason?: string; message: string };
  warnings?: string[];
}

function responseOf(outcome: AdmissionOutcome): Response {
  return (outcome.review as unknown as { response: Response }).response;
}

function patchOf(outcome: AdmissionOutcome): PatchOperation[] {
  const response = responseOf(outcome);
  if (response.patch === undefined) return [];
  t.equal(response.patchType, 'JSONPatch');
  return JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8'));
}

/** Reviews `pod`, applies the patch, and checks the injected pod: valid, and not injected again. */
function injected(t: Test, pod: PodObject, options: { config?: InjectorConfig; namespace?: string } = {}): PodObject {
  const outcome = reviewAdmission(reviewOf(pod, { namespace: options.namespace }), options.config ?? config);
  t.equal(outcome.decision.injected, true, outcome.decision.reason);
  const result = applyJsonPatch(pod, patchOf(outcome)) as PodObject;
  t.same(podProblems(result), [], 'the injected pod is a valid Pod');
  const again = reviewAdmission(reviewOf(result, { namespace: options.namespace }), options.config ?? config);
  t.equal(responseOf(again).patch, undefined, 'reviewing the injected pod again changes nothing');
  t.equal(responseOf(again).allowed, true);
  return result;
}

t.test('the response copies apiVersion, kind and uid; allowed with a base64 JSON Patch', async (t) => {
  const review = reviewOf(deploymentPod(), { uid: 'c0ffee00-1111-2222-3333-444455556666' });
  const outcome = reviewAdmission(review, config);
  t.equal((outcome.review as { apiVersion: string }).apiVersion, 'admission.k8s.io/v1');
  t.equal((outcome.review as { kind: string }).kind, 'AdmissionReview');
  const response = responseOf(outcome);
  t.equal(response.uid, 'c0ffee00-1111-2222-3333-444455556666');
  t.equal(response.allowed, true);
  t.equal(response.patchType, 'JSONPatch');
  t.match(response.patch, /^[A-Za-z0-9+/]+=*$/);
  t.equal(response.warnings, undefined, 'no warnings: no warnings field');
  t.same(outcome.decision, { injected: true, reason: 'injected (native sidecar, Java recipe consumer)', warnings: [] });
  t.same(Object.keys(outcome.review).sort(), ['apiVersion', 'kind', 'response']);
});

t.test("a Deployment's pod: the native sidecar first, the recipe in its containers, the status annotation", async (t) => {
  const pod = deploymentPod();
  const result = injected(t, pod);
  t.same(pod, deploymentPod(), 'the request object is left alone');
  const init = result.spec.initContainers!;
  t.same(
    init.map((c) => c.name),
    ['dubbo-mesh-proxy', 'wait-for-db'],
    "first, so the app's own init containers can call through it",
  );
  const sidecar = init[0]!;
  t.equal(sidecar.restartPolicy, 'Always');
  const args = sidecar.args as string[];
  t.equal(args[args.indexOf('--node') + 1], '$(POD_NAME).$(POD_NAMESPACE)', 'the node id from the downward API, not the missing name');
  t.equal(args[args.indexOf('--service') + 1], 'user-provider');
  t.equal(args[args.indexOf('--labels') + 1], 'app=user-provider,version=v1', 'no pod-template-hash');
  t.equal(args[args.indexOf('--inbound-target') + 1], '127.0.0.1:20880', 'the container port named dubbo');
  t.equal(sidecarInboundPort(result as never), 20891, 'the control plane finds the inbound port');
  const app = result.spec.containers[0]!;
  t.equal(app.env?.find((e) => e.name === JAVA_TOOL_OPTIONS)?.value, `${javaRecipeOptions()} -Xmx512m -XX:+UseG1GC`);
  t.same(app.env?.[1], { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } }, 'other env untouched');
  t.same(app.volumeMounts?.at(-1), { name: 'dubbo-mesh-resolve', mountPath: '/etc/dubbo-mesh/resolve', readOnly: true });
  t.same(result.spec.volumes?.at(-1), { name: 'dubbo-mesh-resolve', configMap: { name: 'dubbo-mesh-resolve' } });
  t.same(JSON.parse(result.metadata!.annotations!['dubbo-mesh.io/injected']!), {
    version: 1,
    container: 'dubbo-mesh-proxy',
    mode: 'native',
    image: 'dubbo-mesh:0.1.0',
    recipe: 'consumer',
    javaContainers: ['app', 'log-shipper'],
    volumes: ['dubbo-mesh-resolve'],
  });
  t.equal(result.metadata!.annotations!['kubectl.kubernetes.io/restartedAt'], '2025-01-20T10:00:00Z');
  t.same(result.metadata!.ownerReferences, pod.metadata!.ownerReferences);
  t.equal(result.metadata!.name, undefined);
});

t.test('plain-container mode: the sidecar last, with the preStop wait', async (t) => {
  const result = injected(t, deploymentPod(), { config: defaultInjectorConfig({ nativeSidecar: false }) });
  t.same(
    result.spec.containers.map((c) => c.name),
    ['app', 'log-shipper', 'dubbo-mesh-proxy'],
  );
  t.same(
    result.spec.initContainers!.map((c) => c.name),
    ['wait-for-db'],
  );
  t.same(result.spec.containers[2]!.lifecycle, { preStop: { exec: { command: ['sleep', '5'] } } });
  t.match(JSON.parse(result.metadata!.annotations!['dubbo-mesh.io/injected']!), { mode: 'container' });
});

t.test('a pod of a namespace that asks for injection, without the label, with no annotations, init containers or env', async (t) => {
  const pod = simplePod();
  const result = injected(t, pod);
  t.same(result.spec.initContainers!.length, 1);
  t.same(result.spec.containers[0]!.env, [{ name: JAVA_TOOL_OPTIONS, value: javaRecipeOptions() }]);
  t.ok(result.metadata!.annotations!['dubbo-mesh.io/injected']);
  const outcome = reviewAdmission(reviewOf(pod), config);
  const paths = patchOf(outcome).map((op) => `${op.op} ${op.path}`);
  t.same(paths.sort(), [
    'add /metadata/annotations',
    'add /spec/containers/0/env',
    'add /spec/containers/0/volumeMounts',
    'add /spec/initContainers',
    'add /spec/volumes',
  ]);
});

t.test('migration mode and annotations: the ports, the image, the containers that get the recipe', async (t) => {
  const pod = deploymentPod();
  pod.metadata!.annotations = {
    ...pod.metadata!.annotations,
    'dubbo-mesh.io/java-recipe': 'migration',
    'dubbo-mesh.io/java-containers': 'app',
    'dubbo-mesh.io/inbound-port': '30000',
    'dubbo-mesh.io/app-port': '20990',
    'dubbo-mesh.io/proxy-image': 'registry.example.com/dubbo-mesh:0.2.0',
    'dubbo-mesh.io/proxy-memory-limit': '128Mi',
    'dubbo-mesh.io/log-level': 'debug',
    'dubbo-mesh.io/service': 'users',
  };
  const result = injected(t, pod);
  const sidecar = result.spec.initContainers![0]!;
  const args = sidecar.args as string[];
  t.equal(sidecar.image, 'registry.example.com/dubbo-mesh:0.2.0');
  t.equal(args[args.indexOf('--inbound') + 1], '0.0.0.0:30000');
  t.equal(args[args.indexOf('--inbound-target') + 1], '127.0.0.1:20990', 'the annotation wins over the port named dubbo');
  t.equal(args[args.indexOf('--log-level') + 1], 'debug');
  t.equal(args[args.indexOf('--service') + 1], 'users');
  t.same(sidecar.resources, { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '128Mi' } });
  t.equal(sidecarInboundPort(result as never), 30000);
  const [app, shipper] = result.spec.containers;
  t.same(app!.env!.slice(-2), [
    { name: 'DUBBO_IP_TO_REGISTRY', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
    { name: 'DUBBO_DUBBO_PORT_TO_REGISTRY', value: '30000' },
  ]);
  t.equal(shipper!.env, undefined, 'a container not named keeps no recipe');
  t.equal(shipper!.volumeMounts!.length, 1);
});

t.test('each pod injected in migration mode is warned about the Dubbo versions that cannot start beside the sidecar', async (t) => {
  const warning =
    /^Java recipe migration: Dubbo 2.7.12-2.7.23 and 3.0.4 also bind the registered port \(apache\/dubbo#8726\), .*use dubbo-mesh.io\/java-recipe: consumer for them$/;
  const byAnnotation = reviewAdmission(reviewOf(simplePod({ annotations: { 'dubbo-mesh.io/java-recipe': 'migration' } })), config);
  t.equal(byAnnotation.decision.injected, true);
  t.match(responseOf(byAnnotation).warnings, [warning]);
  t.ok(Buffer.byteLength(responseOf(byAnnotation).warnings![0]!) <= 256, 'the API server keeps it whole');
  const byConfig = reviewAdmission(reviewOf(deploymentPod()), defaultInjectorConfig({ javaRecipe: 'migration' }));
  t.equal(responseOf(byConfig).warnings?.filter((w) => warning.test(w)).length, 1, 'once per pod, not per container');
  t.equal(responseOf(reviewAdmission(reviewOf(simplePod()), config)).warnings, undefined, 'not in consumer mode');
  const noContainer = simplePod({
    annotations: { 'dubbo-mesh.io/java-recipe': 'migration' },
    spec: {
      containers: [{ name: 'app', image: 'a:1', volumeMounts: [{ name: 'x', mountPath: '/etc/dubbo-mesh/resolve' }] }],
      volumes: [{ name: 'x', emptyDir: {} }],
    },
  });
  const noRecipe = responseOf(reviewAdmission(reviewOf(noContainer), config)).warnings ?? [];
  t.match(noRecipe, [/^no Java recipe in container app/]);
  t.equal(noRecipe.filter((w) => warning.test(w)).length, 0, 'not when no container got the recipe');
});

t.test('JAVA_TOOL_OPTIONS from a ConfigMap stays its source; an optional one leaves that container out, with a warning', async (t) => {
  const pod = simplePod({
    spec: {
      containers: [
        { name: 'app', image: 'a:1', env: [{ name: JAVA_TOOL_OPTIONS, valueFrom: { configMapKeyRef: { name: 'jvm', key: 'opts' } } }] },
        { name: 'worker', image: 'w:1', env: [{ name: JAVA_TOOL_OPTIONS, valueFrom: { configMapKeyRef: { name: 'jvm', key: 'w', optional: true } } }] },
      ],
    },
  });
  const outcome = reviewAdmission(reviewOf(pod), config);
  t.match(responseOf(outcome).warnings, [/no Java recipe in container worker: .*optional source/]);
  const result = injected(t, pod);
  t.same(result.spec.containers[0]!.env, [
    { name: 'DUBBO_MESH_APP_JAVA_TOOL_OPTIONS', valueFrom: { configMapKeyRef: { name: 'jvm', key: 'opts' } } },
    { name: JAVA_TOOL_OPTIONS, value: `${javaRecipeOptions()} $(DUBBO_MESH_APP_JAVA_TOOL_OPTIONS)` },
  ]);
  t.same(result.spec.containers[1]!.env, pod.spec.containers[1]!.env);
  t.match(JSON.parse(result.metadata!.annotations!['dubbo-mesh.io/injected']!), { javaContainers: ['app'] });
});

t.test('not injected, allowed with no patch: opt-out, hostNetwork, already injected, the mesh namespace, updates', async (t) => {
  const cases: Array<[string, TestReview, RegExp]> = [
    ['opt-out', reviewOf(simplePod({ labels: { 'dubbo-mesh.io/inject': 'false' } })), /labelled dubbo-mesh.io\/inject: "false"/],
    ['hostNetwork', reviewOf(simplePod({ spec: { hostNetwork: true } })), /hostNetwork/],
    ['already injected', reviewOf(simplePod({ spec: { initContainers: [{ name: 'dubbo-mesh-proxy', image: 'x' }] } })), /already has/],
    ['mesh namespace', reviewOf(simplePod(), { namespace: 'dubbo-mesh' }), /own namespace/],
    ['update', reviewOf(simplePod(), { operation: 'UPDATE' }), /operation UPDATE: only a pod's own CREATE is injected/],
    ['delete', { ...reviewOf(null, { operation: 'DELETE' }) }, /operation DELETE/],
    ['windows', reviewOf(simplePod({ spec: { os: { name: 'windows' } } })), /runs on Windows/],
    [
      'job in plain mode',
      reviewOf(simplePod({ annotations: { 'dubbo-mesh.io/native-sidecar': 'false' }, spec: { restartPolicy: 'Never' } })),
      /restartPolicy Never/,
    ],
  ];
  for (const [name, review, reason] of cases) {
    const outcome = reviewAdmission(review, config);
    const response = responseOf(outcome);
    t.equal(response.allowed, true, name);
    t.equal(response.patch, undefined, name);
    t.equal(response.patchType, undefined, name);
    t.equal(outcome.decision.injected, false, name);
    t.match(outcome.decision.reason, reason, name);
  }
  const job = reviewAdmission(reviewOf(simplePod({ spec: { restartPolicy: 'Never' } })), config);
  t.equal(job.decision.injected, true, 'a Job pod gets a native sidecar, which ends with it');
});

t.test('any review but a CREATE of the Pod itself is allowed unchanged, whatever its object: kubectl debug, exec, drain, status', async (t) => {
  const base = reviewOf(simplePod()).request;
  const review = (request: Record<string, unknown>) => ({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { ...base, ...request } });
  const podWithDebugger = { ...simplePod(), spec: { ...simplePod().spec, ephemeralContainers: [{ name: 'debugger', image: 'busybox' }] } };
  const cases: Array<[string, unknown, RegExp]> = [
    [
      'kubectl debug: UPDATE pods/ephemeralcontainers',
      review({ operation: 'UPDATE', subResource: 'ephemeralcontainers', name: 'web', object: podWithDebugger, oldObject: simplePod() }),
      /^operation UPDATE on subresource ephemeralcontainers: only a pod's own CREATE is injected$/,
    ],
    [
      'kubectl exec: CONNECT pods/exec',
      review({
        operation: 'CONNECT',
        subResource: 'exec',
        name: 'web',
        kind: { group: '', version: 'v1', kind: 'PodExecOptions' },
        object: { kind: 'PodExecOptions', apiVersion: 'v1', stdin: true, command: ['sh'] },
      }),
      /operation CONNECT on subresource exec/,
    ],
    [
      'kubectl drain: CREATE pods/eviction',
      review({
        operation: 'CREATE',
        subResource: 'eviction',
        name: 'web',
        kind: { group: 'policy', version: 'v1', kind: 'Eviction' },
        object: { kind: 'Eviction', apiVersion: 'policy/v1', metadata: { name: 'web', namespace: 'shop' } },
      }),
      /operation CREATE on subresource eviction/,
    ],
    [
      'the scheduler: CREATE pods/binding',
      review({ operation: 'CREATE', subResource: 'binding', object: { kind: 'Binding', target: { name: 'node-1' } } }),
      /binding/,
    ],
    ['the kubelet: UPDATE pods/status', review({ operation: 'UPDATE', subResource: 'status', object: { spec: 'not read' } }), /status/],
    ['an UPDATE of a Deployment', review({ operation: 'UPDATE', kind: { group: 'apps', version: 'v1', kind: 'Deployment' }, object: {} }), /UPDATE/],
    ['an unknown operation', review({ operation: 'PATCH', object: null }), /^operation PATCH: /],
    ['no operation', review({ operation: undefined }), /^no operation: /],
  ];
  for (const [name, body, reason] of cases) {
    const outcome = reviewAdmission(body, config);
    const response = responseOf(outcome);
    t.equal(response.allowed, true, name);
    t.equal(response.patch, undefined, name);
    t.equal(response.status, undefined, name);
    t.equal(response.uid, base.uid, `${name}: the uid copied`);
    t.same(outcome.decision.warnings, [], name);
    t.match(outcome.decision.reason, reason, name);
  }
});

t.test('an invalid annotation refuses the pod with 400 and a message naming it, or with fail-open admits it with a warning', async (t) => {
  const pod = deploymentPod();
  pod.metadata!.annotations = { 'dubbo-mesh.io/java-recipe': 'sometimes', 'dubbo-mesh.io/proxy-cpu-limit': 'fast' };
  const refused = reviewAdmission(reviewOf(pod), config);
  const response = responseOf(refused);
  t.equal(response.allowed, false);
  t.equal(response.patch, undefined);
  t.equal(response.status?.code, 400);
  t.equal(response.status?.reason, 'BadRequest');
  t.match(
    response.status?.message,
    /^dubbo-mesh: pod shop\/user-provider-7c9f6d8b5-…: annotation dubbo-mesh.io\/proxy-cpu-limit: .*; annotation dubbo-mesh.io\/java-recipe: "sometimes" is not one of consumer, migration, off$/,
  );
  t.equal(refused.decision.injected, false);
  t.match(refused.decision.reason, /^refused: /);

  const open = reviewAdmission(reviewOf(pod), defaultInjectorConfig({ failOpen: true }));
  const openResponse = responseOf(open);
  t.equal(openResponse.allowed, true);
  t.equal(openResponse.patch, undefined);
  t.equal(openResponse.status, undefined);
  t.match(openResponse.warnings, [
    /^no dubbo-mesh sidecar: annotation dubbo-mesh.io\/proxy-cpu-limit/,
    /^no dubbo-mesh sidecar: annotation dubbo-mesh.io\/java-recipe/,
  ]);
  t.same(open.decision.warnings, openResponse.warnings);
});

t.test('plugin-volume: the proxy mounts the volume read-only and keeps modules inside it, native or plain; re-admission changes nothing', async (t) => {
  const withPlugins = (annotations: Record<string, string>) => {
    const pod = deploymentPod();
    pod.metadata!.annotations = { ...pod.metadata!.annotations, 'dubbo-mesh.io/plugin-volume': 'plugins', ...annotations };
    pod.spec.volumes = [...pod.spec.volumes!, { name: 'plugins', configMap: { name: 'auth-plugin' } }];
    return pod;
  };
  const cases: Array<[string, Record<string, string>, InjectorConfig, boolean]> = [
    ['native by default', {}, config, true],
    ['plain by the annotation', { 'dubbo-mesh.io/native-sidecar': 'false' }, config, false],
    ['plain by the injector', {}, defaultInjectorConfig({ nativeSidecar: false }), false],
    ['native by the annotation over the injector', { 'dubbo-mesh.io/native-sidecar': 'true' }, defaultInjectorConfig({ nativeSidecar: false }), true],
  ];
  for (const [name, annotations, injectorConfig, native] of cases) {
    await t.test(name, async (t) => {
      const pod = withPlugins(annotations);
      // `injected` applies the patch, validates the pod and reviews the injected pod again.
      const result = injected(t, pod, { config: injectorConfig });
      const sidecar = (native ? result.spec.initContainers! : result.spec.containers).find((c) => c.name === 'dubbo-mesh-proxy')!;
      t.equal(sidecar.restartPolicy, native ? 'Always' : undefined);
      t.same(sidecar.volumeMounts, [{ name: 'plugins', mountPath: '/etc/dubbo-mesh/plugins', readOnly: true }]);
      const args = sidecar.args as string[];
      t.equal(args.filter((arg) => arg === '--plugin-module-root').length, 1);
      t.equal(args[args.indexOf('--plugin-module-root') + 1], '/etc/dubbo-mesh/plugins');
      t.same(
        result.spec.volumes,
        pod.spec.volumes!.concat({ name: 'dubbo-mesh-resolve', configMap: { name: 'dubbo-mesh-resolve' } }),
        "the volume is the pod's own, left as it is",
      );
      for (const container of [...result.spec.initContainers!, ...result.spec.containers].filter((c) => c.name !== 'dubbo-mesh-proxy'))
        t.notOk(
          container.volumeMounts?.some((mount) => mount.name === 'plugins'),
          `${container.name} does not get the plugin volume`,
        );
      t.match(JSON.parse(result.metadata!.annotations!['dubbo-mesh.io/injected']!), { volumes: ['dubbo-mesh-resolve', 'plugins'] });
    });
  }
  const plain = injected(t, deploymentPod());
  const sidecar = plain.spec.initContainers![0]!;
  t.equal(sidecar.volumeMounts, undefined, 'without the annotation: no mount');
  t.notOk((sidecar.args as string[]).includes('--plugin-module-root'), 'without the annotation: no root');
});

t.test('plugin-volume naming no volume of the pod, or empty: refused with 400, or with fail-open admitted without a sidecar', async (t) => {
  for (const [value, message] of [
    [
      'plugins',
      /^dubbo-mesh: pod shop\/user-provider-7c9f6d8b5-…: annotation dubbo-mesh.io\/plugin-volume: "plugins" names no volume of the pod \(its volumes: kube-api-access-x7k2p\)$/,
    ],
    [
      '',
      /^dubbo-mesh: pod shop\/user-provider-7c9f6d8b5-…: annotation dubbo-mesh.io\/plugin-volume: takes the name of a volume of the pod holding plugin modules/,
    ],
  ] as const) {
    const pod = deploymentPod();
    pod.metadata!.annotations = { 'dubbo-mesh.io/plugin-volume': value };
    const refused = responseOf(reviewAdmission(reviewOf(pod), config));
    t.equal(refused.allowed, false, JSON.stringify(value));
    t.equal(refused.patch, undefined);
    t.same(refused.status && { code: refused.status.code, reason: refused.status.reason }, { code: 400, reason: 'BadRequest' });
    t.match(refused.status?.message, message);
    const open = reviewAdmission(reviewOf(pod), defaultInjectorConfig({ failOpen: true }));
    t.equal(responseOf(open).allowed, true);
    t.equal(responseOf(open).patch, undefined, 'fail-open: no sidecar');
    t.match(responseOf(open).warnings, [/^no dubbo-mesh sidecar: annotation dubbo-mesh.io\/plugin-volume: /]);
    t.equal(open.decision.injected, false);
  }
});

t.test('a pod using a default port of the sidecar, with no annotations: allowed without a sidecar, the warning names the annotation', async (t) => {
  for (const [port, annotation] of [
    [20881, /so set dubbo-mesh.io\/java-recipe: off and dubbo-mesh.io\/outbound-port$/],
    [15001, /set dubbo-mesh.io\/admin-port to a free port$/],
    [20891, /set dubbo-mesh.io\/inbound-port to a free port$/],
  ] as const) {
    const pod = simplePod({ spec: { containers: [{ name: 'app', image: 'a:1', ports: [{ name: 'other', containerPort: port }] }] } });
    const outcome = reviewAdmission(reviewOf(pod), config);
    const response = responseOf(outcome);
    t.equal(response.allowed, true, `${port}: allowed`);
    t.equal(response.patch, undefined, `${port}: no sidecar`);
    t.equal(response.status, undefined);
    t.equal(response.warnings?.length, 1);
    t.match(response.warnings?.[0], new RegExp(`^no dubbo-mesh sidecar: container app uses port ${port}, the sidecar's `));
    t.match(response.warnings?.[0], annotation);
    t.ok(Buffer.byteLength(response.warnings![0]!) <= 256, 'short enough that the API server keeps it whole');
    t.same(outcome.decision, { injected: false, reason: response.warnings![0]!.replace('no dubbo-mesh sidecar: ', ''), warnings: response.warnings });
  }
  const annotated = simplePod({
    annotations: { 'dubbo-mesh.io/admin-port': '15090' },
    spec: { containers: [{ name: 'app', image: 'a:1', ports: [{ containerPort: 15090 }] }] },
  });
  t.equal(responseOf(reviewAdmission(reviewOf(annotated), config)).allowed, false, 'a clash the annotations made is refused');
});

t.test('warnings travel in the response (an unknown annotation) while the pod is injected', async (t) => {
  const outcome = reviewAdmission(reviewOf(simplePod({ annotations: { 'dubbo-mesh.io/proxy-img': 'x:1' } })), config);
  t.equal(outcome.decision.injected, true);
  t.match(responseOf(outcome).warnings, [/unknown annotation dubbo-mesh.io\/proxy-img/]);
});

t.test('for many pods and configurations, the patch gives exactly the injected pod, valid, and idempotent', async (t) => {
  const pods: Array<[string, () => PodObject]> = [
    ['deployment', deploymentPod],
    ['simple', () => simplePod()],
    ['no metadata labels', () => ({ apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'x-' }, spec: { containers: [{ name: 'c', image: 'i' }] } })],
    ['no metadata at all', () => ({ spec: { containers: [{ name: 'c', image: 'i' }] } }) as PodObject],
    [
      'several containers, env and mounts',
      () =>
        simplePod({
          labels: { 'app.kubernetes.io/name': 'orders', 'controller-revision-hash': 'orders-6d5f' },
          annotations: { 'dubbo-mesh.io/java-containers': 'b,c' },
          spec: {
            volumes: [{ name: 'v', emptyDir: {} }],
            initContainers: [
              { name: 'i1', image: 'i' },
              { name: 'i2', image: 'i' },
            ],
            containers: [
              { name: 'a', image: 'a', ports: [{ name: 'dubbo', containerPort: 20990 }] },
              { name: 'b', image: 'b', env: [{ name: 'X', value: '1' }], volumeMounts: [{ name: 'v', mountPath: '/v' }] },
              {
                name: 'c',
                image: 'c',
                env: [
                  { name: 'JAVA_TOOL_OPTIONS', value: '-Dx=1' },
                  { name: 'Y', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
                ],
              },
            ],
          },
        }),
    ],
    ['a resolve volume already there', () => simplePod({ spec: { volumes: [{ name: 'dubbo-mesh-resolve', configMap: { name: 'dubbo-mesh-resolve' } }] } })],
    ['a foreign volume with our name', () => simplePod({ spec: { volumes: [{ name: 'dubbo-mesh-resolve', emptyDir: {} }] } })],
    ['odd keys', () => simplePod({ annotations: { 'a/b~c': 'x', '~': 'y' }, labels: { 'example.com/tier': 'gold' } })],
    [
      'a plugin volume',
      () =>
        simplePod({
          annotations: { 'dubbo-mesh.io/plugin-volume': 'plugins' },
          spec: { volumes: [{ name: 'plugins', configMap: { name: 'auth-plugin' } }] },
        }),
    ],
  ];
  const configs: Array<[string, InjectorConfig]> = [
    ['default', config],
    ['plain', defaultInjectorConfig({ nativeSidecar: false })],
    ['migration', defaultInjectorConfig({ javaRecipe: 'migration' })],
    ['recipe off', defaultInjectorConfig({ javaRecipe: 'off', resources: { cpuLimit: '2', memoryLimit: undefined } })],
  ];
  for (const [podName, make] of pods) {
    for (const [configName, injectorConfig] of configs) {
      await t.test(`${podName}, ${configName}`, async (t) => {
        const pod = make();
        const reading = readPodAnnotations(pod, injectorConfig);
        if (!reading.valid) throw new Error(reading.errors.join('; '));
        const expected = injectPod(pod, reading.settings, injectorConfig);
        if (!expected.injected) throw new Error(expected.reason);
        const result = injected(t, pod, { config: injectorConfig });
        t.same(result, expected.pod, 'the patch applied gives exactly the injected pod');
        t.same(pod, make(), 'the original is unchanged');
      });
    }
  }
});

t.test('bad bodies throw BadAdmissionReviewError naming the field', async (t) => {
  const valid = () => reviewOf(simplePod());
  const cases: Array<[string, unknown, string, RegExp]> = [
    ['null', null, '', /the body is null, not a JSON object/],
    ['a string', '{"apiVersion"', '', /not a JSON object/],
    ['an array', [], '', /an array/],
    ['v1beta1', { ...valid(), apiVersion: 'admission.k8s.io/v1beta1' }, 'apiVersion', /"admission.k8s.io\/v1beta1", not admission.k8s.io\/v1/],
    ['wrong kind', { ...valid(), kind: 'TokenReview' }, 'kind', /not AdmissionReview/],
    ['no request', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, 'request', /missing/],
    ['no uid', { ...valid(), request: { ...valid().request, uid: undefined } }, 'request.uid', /missing/],
    ['numeric uid', { ...valid(), request: { ...valid().request, uid: 7 } }, 'request.uid', /number 7/],
    [
      'a Deployment',
      { ...valid(), request: { ...valid().request, kind: { group: 'apps', version: 'v1', kind: 'Deployment' } } },
      'request.kind',
      /apps\/v1\/Deployment, not a Pod/,
    ],
    [
      'an object not a pod',
      { ...valid(), request: { ...valid().request, object: { kind: 'Service', spec: {} } } },
      'request.object.kind',
      /"Service", not Pod/,
    ],
    ['an update without uid', { ...valid(), request: { ...valid().request, operation: 'UPDATE', uid: undefined } }, 'request.uid', /missing/],
    [
      'a subresource review of another apiVersion',
      { ...valid(), apiVersion: 'admission.k8s.io/v1beta1', request: { ...valid().request, subResource: 'exec' } },
      'apiVersion',
      /not admission.k8s.io\/v1/,
    ],
    ['no object', { ...valid(), request: { ...valid().request, object: undefined } }, 'request.object', /missing/],
    ['no spec', { ...valid(), request: { ...valid().request, object: { metadata: {} } } }, 'request.object.spec', /missing/],
    [
      'containers not an array',
      { ...valid(), request: { ...valid().request, object: { spec: { containers: {} } } } },
      'request.object.spec.containers',
      /an object, not an array/,
    ],
    [
      'a container without name',
      { ...valid(), request: { ...valid().request, object: { spec: { containers: [{ image: 'x' }] } } } },
      'request.object.spec.containers[0].name',
      /missing/,
    ],
    [
      'env not an array',
      { ...valid(), request: { ...valid().request, object: { spec: { containers: [{ name: 'a', env: 'X=1' }] } } } },
      'request.object.spec.containers[0].env',
      /not an array/,
    ],
    [
      'a numeric label',
      { ...valid(), request: { ...valid().request, object: { metadata: { labels: { a: 1 } }, spec: { containers: [] } } } },
      'request.object.metadata.labels["a"]',
      /number 1, not a string/,
    ],
    [
      'os not an object',
      { ...valid(), request: { ...valid().request, object: { spec: { containers: [], os: 'windows' } } } },
      'request.object.spec.os',
      /"windows", not an object/,
    ],
    [
      'a numeric os name',
      { ...valid(), request: { ...valid().request, object: { spec: { containers: [], os: { name: 1 } } } } },
      'request.object.spec.os.name',
      /number 1, not a string/,
    ],
    [
      'a boolean node selector',
      { ...valid(), request: { ...valid().request, object: { spec: { containers: [], nodeSelector: { 'kubernetes.io/os': true } } } } },
      'request.object.spec.nodeSelector["kubernetes.io/os"]',
      /boolean true, not a string/,
    ],
    [
      'a string port',
      { ...valid(), request: { ...valid().request, object: { spec: { containers: [{ name: 'a', ports: [{ containerPort: '80' }] }] } } } },
      'request.object.spec.containers[0].ports[0].containerPort',
      /not a number/,
    ],
  ];
  for (const [name, body, field, message] of cases) {
    try {
      reviewAdmission(body, config);
      t.fail(`${name}: accepted`);
    } catch (error) {
      t.ok(error instanceof BadAdmissionReviewError, name);
      t.equal((error as BadAdmissionReviewError).code, 'DM_ERR_BAD_ADMISSION_REVIEW', name);
      t.equal((error as BadAdmissionReviewError).field, field, name);
      t.match((error as Error).message, message, name);
      t.notMatch((error as Error).message, /\n/, `${name}: one line`);
    }
  }
});

/** Every path to a value in `value`, as arrays of keys. */
function paths(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  if (typeof value !== 'object' || value === null) return [prefix];
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
  return [prefix, ...entries.flatMap(([key, child]) => paths(child, [...prefix, key]))];
}

t.test('any field of a real review removed or of the wrong type: an outcome or BadAdmissionReviewError, nothing else', async (t) => {
  const base = reviewOf(deploymentPod());
  const replacements: unknown[] = [undefined, null, 1, 'x', true, [], {}, [1], [{}]];
  let outcomes = 0;
  let refusals = 0;
  for (const path of paths(base).slice(1)) {
    for (const replacement of replacements) {
      const body = structuredClone(base) as unknown as Record<string | number, unknown>;
      let parent = body;
      for (const key of path.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
      const last = path.at(-1)!;
      if (replacement === undefined) {
        if (Array.isArray(parent)) parent.splice(last as number, 1);
        else delete parent[last];
      } else parent[last] = replacement;
      try {
        const outcome = reviewAdmission(body, config);
        if (typeof responseOf(outcome).allowed !== 'boolean') t.fail(`${path.join('.')} = ${JSON.stringify(replacement)}: no allowed`);
        // The parse checks every field the injection reads: nothing gets as far as a TypeError there.
        if (outcome.decision.reason.startsWith('the injector failed')) t.fail(`${path.join('.')} = ${JSON.stringify(replacement)}: ${outcome.decision.reason}`);
        outcomes++;
      } catch (error) {
        if (!(error instanceof BadAdmissionReviewError)) {
          t.fail(`${path.join('.')} = ${JSON.stringify(replacement)}: ${String(error)}`);
          return;
        }
        refusals++;
      }
    }
  }
  t.ok(outcomes > 100 && refusals > 100, `${outcomes} outcomes, ${refusals} refusals`);
});
