// `deploy/` (kubectl apply -k deploy/) checked offline: every object against the Kubernetes
// API's schemas (kubernetes-models), the RBAC against what the Kubernetes source's code informs
// on and writes, the containers' args against the commands' own flag tables, and the webhook's
// selectors against SPEC's injection rule. No API server runs here.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import { API_GROUP, checkCrossReferences, validateResource, type LocatedResource } from '@dubbo-mesh/config';
import {
  CRD_MANIFEST_PATH,
  INGRESS_CLASS,
  INGRESS_CONTROLLER,
  INJECT_LABEL,
  RESOLVE_CONFIG_MAP,
  customResourceKinds,
  informedTypes,
} from '@dubbo-mesh/kubernetes';
import { GATEWAY_FLAGS, type FlagSpec } from '@dubbo-mesh/sidecar/flags';
import { parseManifest, readKustomization, readManifest, podTemplate, type Container, type KubeObject, type ManifestObject } from './support/manifests.js';
import { unknownFieldErrors, validateKubernetesObject } from './support/kubernetes-schemas.js';
import { untraced } from './support/untraced.js';
import { grantKey, serviceAccountGrants } from './support/rbac-grants.js';
import { matchesLabelSelector, type LabelSelector } from './support/label-selector.js';
import { CustomResourceValidator } from './support/crd-schemas.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const deployDir = path.join(root, 'deploy');
const cli = path.join(root, 'packages/cli/bin/dubbo-mesh.js');

// The names every helper of the install agrees on (the issue's contract).
const NAMESPACE = 'dubbo-mesh';
const IMAGE = 'dubbo-mesh:0.1.0';
const CONTROL_PLANE = 'dubbo-mesh-control-plane';
const INJECTOR = 'dubbo-mesh-injector';
const GATEWAY = 'dubbo-mesh-gateway';
const CONTROL_PLANE_ADDRESS = `${CONTROL_PLANE}.${NAMESPACE}.svc:15010`;

/** Kinds that live outside any namespace; every other object of the install is in dubbo-mesh. */
const CLUSTER_SCOPED = new Set(['Namespace', 'CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding', 'MutatingWebhookConfiguration', 'IngressClass']);

async function loadDeploy(): Promise<{ files: string[]; objects: ManifestObject[] }> {
  const { resources } = await readKustomization(deployDir);
  const objects: ManifestObject[] = [];
  for (const file of resources) objects.push(...(await readManifest(path.join(deployDir, file), root)));
  return { files: [...resources], objects };
}

const { files, objects: manifests } = await loadDeploy();
const objects = manifests.map((m) => m.object);

function find(kind: string, name: string): KubeObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (found === undefined) throw new Error(`deploy/ has no ${kind} ${name}`);
  return found;
}

function onlyContainer(deployment: KubeObject): Container {
  const containers = podTemplate(deployment)!.spec.containers;
  if (containers.length !== 1) throw new Error(`${deployment.metadata.name}: expected one container, found ${containers.length}`);
  return containers[0]!;
}

/** The value following `--flag` in some args. */
function flagValue(args: readonly string[], flag: string): string | undefined {
  const index = args.indexOf(`--${flag}`);
  return index === -1 ? undefined : args[index + 1];
}

/** Problems with `args` (after the command name) for a command whose flags are `specs`: unknown flags, missing or unwanted values, repeats. */
function flagProblems(args: readonly string[], specs: readonly Pick<FlagSpec, 'name' | 'type' | 'multiple'>[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const token = args[i]!;
    const spec = token.startsWith('--') ? specs.find((s) => s.name === token.slice(2)) : undefined;
    if (spec === undefined) {
      problems.push(`${token}: not a flag of the command`);
      continue;
    }
    if (seen.has(spec.name) && spec.multiple !== true) problems.push(`${token}: given twice`);
    seen.add(spec.name);
    if (spec.type === 'string') {
      const value = args[i + 1];
      if (value === undefined || value.startsWith('--')) problems.push(`${token}: needs a value`);
      else i++;
    }
  }
  return problems;
}

/** The flags a command's `--help` synopsis names: `[--grpc 127.0.0.1:15010]` → grpc (string), `[--kubernetes]` → kubernetes (boolean). */
function synopsisFlags(command: string): Array<Pick<FlagSpec, 'name' | 'type' | 'multiple'>> {
  const help = spawnSync(...untraced(process.execPath, [cli, command, '--help']), { encoding: 'utf8' });
  if (help.status !== 0) throw new Error(`dubbo-mesh ${command} --help: exit ${help.status}: ${help.stderr}`);
  const usage = help.stdout.split('\n')[0]!;
  return [...usage.matchAll(/--([a-z][a-z-]*)( [^\]|)\s]+)?(\]\.\.\.)?/g)].map((m) => ({
    name: m[1]!,
    type: m[2] === undefined ? 'boolean' : 'string',
    multiple: m[3] !== undefined,
  }));
}

/** The port of a `host:port` flag value. */
function portOf(address: string | undefined): number | undefined {
  const match = address === undefined ? null : /:(\d+)$/.exec(address);
  return match === null ? undefined : Number(match[1]);
}

t.test('the checks can fail: a broken object, an unknown field and an unknown kind are refused', async (t) => {
  const deployment = structuredClone(find('Deployment', CONTROL_PLANE));
  const where = 'broken Deployment';
  delete (deployment.spec as Record<string, unknown>).selector;
  await t.rejects(validateKubernetesObject(deployment, where), /must have required property selector/, 'a missing required field');
  const typed = structuredClone(find('Deployment', CONTROL_PLANE));
  (typed.spec as Record<string, unknown>).replicas = 'two';
  await t.rejects(validateKubernetesObject(typed, where), /replicas must be integer/, 'a wrong type');
  const misspelt = structuredClone(find('Deployment', CONTROL_PLANE));
  const container = podTemplate(misspelt)!.spec.containers[0]!;
  container.readinesProbe = container.readinessProbe;
  delete container.readinessProbe;
  const unknown = unknownFieldErrors([{ object: misspelt, where }], root);
  t.equal(unknown.length, 1, 'one unknown field');
  t.match(unknown[0], /broken Deployment: .*'"readinesProbe"' does not exist in type 'IContainer'/);
  await t.rejects(
    validateKubernetesObject({ apiVersion: 'apps/v1', kind: 'Deploymnet', metadata: { name: 'x' } }, where),
    /no Kubernetes schema for apps\/v1 Deploymnet/,
  );
});

t.test('kustomization.yaml lists every file of deploy/, the namespace first', async (t) => {
  const onDisk = (await readdir(deployDir)).filter((file) => file !== 'kustomization.yaml').sort();
  t.same([...files].sort(), onDisk, 'every file listed, and every listed file exists');
  t.equal(files[0], 'namespace.yaml');
  t.same(
    objects.filter((o) => o.kind === 'Namespace').map((o) => o.metadata.name),
    [NAMESPACE],
  );
  const ids = objects.map((o) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`);
  t.same(
    ids.filter((id, i) => ids.indexOf(id) !== i),
    [],
    'no object twice',
  );
  for (const { object, where } of manifests) {
    if (CLUSTER_SCOPED.has(object.kind)) t.equal(object.metadata.namespace, undefined, `${where}: cluster-scoped`);
    else t.equal(object.metadata.namespace, NAMESPACE, `${where}: in ${NAMESPACE}`);
  }
});

t.test('every object is valid against the Kubernetes API schemas, with no field they do not define', async (t) => {
  for (const { object, where } of manifests) await t.resolves(validateKubernetesObject(object, where), where);
  t.same(unknownFieldErrors(manifests, root), []);
});

t.test(`the CRDs installed are ${CRD_MANIFEST_PATH}: one per custom resource kind, and nowhere else`, async (t) => {
  t.ok(files.includes(path.basename(CRD_MANIFEST_PATH)) && path.dirname(CRD_MANIFEST_PATH) === 'deploy');
  const crds = manifests.filter((m) => m.object.kind === 'CustomResourceDefinition');
  t.same(new Set(crds.map((m) => m.file)), new Set([CRD_MANIFEST_PATH]), `only ${CRD_MANIFEST_PATH} holds CRDs (a test keeps it current)`);
  t.same(
    crds.map((m) => m.object.metadata.name).sort(),
    customResourceKinds()
      .map((d) => `${d.names.plural}.${API_GROUP}`)
      .sort(),
  );
});

t.test('the control plane: 2 replicas spread over nodes, its args, probes on its admin API, a PDB', async (t) => {
  const deployment = find('Deployment', CONTROL_PLANE);
  const pod = podTemplate(deployment)!;
  const container = onlyContainer(deployment);
  t.equal((deployment.spec as { replicas: number }).replicas, 2);
  t.equal(pod.spec.serviceAccountName, CONTROL_PLANE);
  t.same(container.args, ['control-plane', '--kubernetes', '--grpc', '0.0.0.0:15010', '--admin', '0.0.0.0:15000']);
  t.same(
    container.env?.map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]),
    [
      ['POD_NAME', 'metadata.name'],
      ['POD_NAMESPACE', 'metadata.namespace'],
    ],
  );
  const anti = (
    pod.spec.affinity as {
      podAntiAffinity: { preferredDuringSchedulingIgnoredDuringExecution: Array<{ podAffinityTerm: { topologyKey: string; labelSelector: LabelSelector } }> };
    }
  ).podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution;
  t.equal(anti.length, 1);
  t.equal(anti[0]!.podAffinityTerm.topologyKey, 'kubernetes.io/hostname');
  t.ok(matchesLabelSelector(anti[0]!.podAffinityTerm.labelSelector, pod.metadata!.labels!), 'away from its own replicas');
  t.match(container, {
    livenessProbe: { httpGet: { path: '/healthz', port: 'admin' } },
    readinessProbe: { httpGet: { path: '/readyz', port: 'admin' } },
    startupProbe: { httpGet: { path: '/healthz', port: 'admin' } },
  });
  const service = find('Service', CONTROL_PLANE);
  t.same(
    (service.spec as { ports: Array<{ name: string; port: number }> }).ports.map((p) => [p.name, p.port]),
    [
      ['grpc', 15010],
      ['admin', 15000],
    ],
  );
  t.equal(
    CONTROL_PLANE_ADDRESS,
    `${service.metadata.name}.${service.metadata.namespace}.svc:${portOf(flagValue(container.args!, 'grpc'))}`,
    'the address proxies are given',
  );
});

t.test('the injector: 2 replicas, its args, ready on its admin API, Service 443 → 9443', async (t) => {
  const deployment = find('Deployment', INJECTOR);
  const container = onlyContainer(deployment);
  t.equal((deployment.spec as { replicas: number }).replicas, 2);
  t.equal(podTemplate(deployment)!.spec.serviceAccountName, INJECTOR);
  t.same(container.args, ['injector', '--control-plane', CONTROL_PLANE_ADDRESS, '--listen', '0.0.0.0:9443', '--admin', '0.0.0.0:15002']);
  t.same(
    container.env?.map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]),
    [
      ['POD_NAME', 'metadata.name'],
      ['POD_NAMESPACE', 'metadata.namespace'],
    ],
  );
  t.match(container, { readinessProbe: { httpGet: { path: '/ready', port: 'admin' } } });
  const service = find('Service', INJECTOR);
  t.same((service.spec as { ports: unknown[] }).ports, [{ name: 'https', port: 443, targetPort: 'https', appProtocol: 'https' }]);
});

t.test('the gateway: its args, a LoadBalancer Service on 20880, no API access', async (t) => {
  const deployment = find('Deployment', GATEWAY);
  const pod = podTemplate(deployment)!;
  const container = onlyContainer(deployment);
  t.same(container.args, [
    'gateway',
    '--node',
    '$(POD_NAME).$(POD_NAMESPACE)',
    '--control-plane',
    CONTROL_PLANE_ADDRESS,
    '--listen',
    '0.0.0.0:20880',
    '--admin',
    '0.0.0.0:15001',
  ]);
  t.match(container, { readinessProbe: { httpGet: { path: '/ready', port: 'admin' } } });
  const service = find('Service', GATEWAY);
  t.equal((service.spec as { type: string }).type, 'LoadBalancer');
  t.same((service.spec as { ports: unknown[] }).ports, [{ name: 'dubbo', port: 20880, targetPort: 'dubbo' }]);
  t.equal(pod.spec.serviceAccountName, GATEWAY);
  t.equal(pod.spec.automountServiceAccountToken, false, 'no token in the pod');
  t.equal(find('ServiceAccount', GATEWAY).automountServiceAccountToken, false, 'nor from its service account');
  t.same(serviceAccountGrants(objects, NAMESPACE, GATEWAY), [], 'no RBAC');
});

t.test('every workload: a Service and a PDB that select its pods, ports and probes that match its listen flags', async (t) => {
  const deployments = objects.filter((o) => o.kind === 'Deployment');
  t.same(deployments.map((d) => d.metadata.name).sort(), [CONTROL_PLANE, GATEWAY, INJECTOR]);
  for (const deployment of deployments) {
    const name = deployment.metadata.name;
    const pod = podTemplate(deployment)!;
    const labels = pod.metadata!.labels!;
    const spec = deployment.spec as { replicas: number; selector: LabelSelector };
    t.ok(matchesLabelSelector(spec.selector, labels), `${name}: its selector selects its template`);
    t.equal(labels['app.kubernetes.io/part-of'], 'dubbo-mesh', `${name}: labelled part of the mesh (the injector skips such pods)`);
    const pdb = find('PodDisruptionBudget', name);
    t.ok(matchesLabelSelector((pdb.spec as { selector: LabelSelector }).selector, labels), `${name}: its PDB selects its pods`);
    t.ok((pdb.spec as { minAvailable: number }).minAvailable < spec.replicas, `${name}: the PDB lets a node drain`);
    t.equal(spec.replicas, 2, `${name}: 2 replicas`);
    const container = onlyContainer(deployment);
    const ports = container.ports ?? [];
    // Every address the command listens on is a declared container port, and nothing else is.
    const listened = ['grpc', 'admin', 'listen'].flatMap((flag) => {
      const port = portOf(flagValue(container.args!, flag));
      return port === undefined ? [] : [port];
    });
    t.same(ports.map((p) => p.containerPort).sort(), listened.sort(), `${name}: container ports are the ports it listens on`);
    for (const flag of ['grpc', 'admin', 'listen']) {
      const address = flagValue(container.args!, flag);
      if (address !== undefined) t.match(address, /^0\.0\.0\.0:\d+$/, `${name}: --${flag} reachable from the kubelet and other pods`);
    }
    const admin = portOf(flagValue(container.args!, 'admin'));
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe'] as const) {
      const value = container[probe] as { httpGet?: { port: string }; tcpSocket?: { port: string } } | undefined;
      if (value === undefined) continue;
      const port = (value.httpGet ?? value.tcpSocket)!.port;
      t.equal(ports.find((p) => p.name === port)?.containerPort, admin, `${name}: ${probe} on the admin port`);
    }
    t.ok(container.readinessProbe !== undefined && container.livenessProbe !== undefined, `${name}: readiness and liveness probes`);
    // $(VAR) in args is expanded by the kubelet only for variables the container defines.
    for (const arg of container.args!)
      for (const [, variable] of arg.matchAll(/\$\(([A-Z_]+)\)/g))
        t.ok(
          container.env?.some((e) => e.name === variable),
          `${name}: $(${variable}) is defined`,
        );
    const service = find('Service', name);
    const serviceSpec = service.spec as { selector: Record<string, string>; ports: Array<{ targetPort: string }> };
    t.ok(matchesLabelSelector({ matchLabels: serviceSpec.selector }, labels), `${name}: its Service selects its pods`);
    for (const port of serviceSpec.ports)
      t.ok(
        ports.some((p) => p.name === port.targetPort),
        `${name}: Service targetPort ${port.targetPort} is a named container port`,
      );
  }
});

t.test('every pod runs as uid 1000, non-root, read-only, without capabilities or privilege escalation (restricted)', async (t) => {
  t.equal(find('Namespace', NAMESPACE).metadata.labels?.['pod-security.kubernetes.io/enforce'], 'restricted', 'and the namespace enforces it');
  for (const deployment of objects.filter((o) => o.kind === 'Deployment')) {
    const name = deployment.metadata.name;
    const pod = podTemplate(deployment)!.spec;
    t.same(pod.securityContext, { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } }, `${name}: pod`);
    t.equal(pod.initContainers, undefined, `${name}: no init containers`);
    t.equal(pod.volumes, undefined, `${name}: no volumes`);
    t.equal(pod.hostNetwork, undefined, `${name}: not on the host network`);
    for (const container of pod.containers) {
      t.equal(container.image, IMAGE, `${name}/${container.name}: the image`);
      t.same(
        container.securityContext,
        {
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          runAsNonRoot: true,
          runAsUser: 1000,
          runAsGroup: 1000,
          capabilities: { drop: ['ALL'] },
          seccompProfile: { type: 'RuntimeDefault' },
        },
        `${name}/${container.name}: container`,
      );
      t.ok(
        container.resources?.requests?.cpu && container.resources.requests.memory && container.resources.limits?.memory,
        `${name}/${container.name}: CPU and memory requests, a memory limit`,
      );
    }
  }
});

t.test('the gateway takes only flags of `dubbo-mesh gateway` (GATEWAY_FLAGS)', async (t) => {
  const [command, ...args] = onlyContainer(find('Deployment', GATEWAY)).args!;
  t.equal(command, 'gateway');
  t.same(flagProblems(args, GATEWAY_FLAGS), []);
  t.same(
    flagProblems(['--node', 'n', '--listne', '0.0.0.0:1'], GATEWAY_FLAGS),
    ['--listne: not a flag of the command', '0.0.0.0:1: not a flag of the command'],
    'a misspelt flag is found',
  );
  for (const spec of GATEWAY_FLAGS.filter((s) => s.required === true)) t.ok(args.includes(`--${spec.name}`), `the required --${spec.name}`);
});

t.test('the control plane starts with its args: they parse, and it goes on to the Kubernetes API', async (t) => {
  const [command, ...args] = onlyContainer(find('Deployment', CONTROL_PLANE)).args!;
  t.equal(command, 'control-plane');
  const flags = synopsisFlags('control-plane');
  t.ok(
    flags.some((f) => f.name === 'kubernetes' && f.type === 'boolean'),
    'the synopsis is read',
  );
  t.same(flagProblems(args, flags), [], 'every flag is in `dubbo-mesh control-plane --help`');
  // The command itself, with the manifest's args and env: an unreachable API server is the
  // first thing it trips on (flags and addresses are checked before, and nothing is bound).
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-deploy-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const kubeconfig = path.join(dir, 'kubeconfig');
  await writeFile(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'none', cluster: { server: 'https://127.0.0.1:1' } }],
      users: [{ name: 'none', user: {} }],
      contexts: [{ name: 'none', context: { cluster: 'none', user: 'none' } }],
      'current-context': 'none',
    }),
  );
  const run = spawnSync(...untraced(process.execPath, [cli, command!, ...args]), {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, KUBECONFIG: kubeconfig, POD_NAME: `${CONTROL_PLANE}-0`, POD_NAMESPACE: NAMESPACE },
  });
  t.equal(run.status, 1, run.stderr);
  t.match(run.stderr, /^dubbo-mesh control-plane: --kubernetes: cannot reach the Kubernetes API server at https:\/\/127\.0\.0\.1:1/m);
});

t.test('the injector takes only flags of `dubbo-mesh injector`', async (t) => {
  const [command, ...args] = onlyContainer(find('Deployment', INJECTOR)).args!;
  t.equal(command, 'injector');
  const flags = synopsisFlags('injector');
  t.ok(flags.length > 0, '`dubbo-mesh injector --help` names its flags');
  t.same(flagProblems(args, flags), []);
});

/** An informed type's cluster-wide path, `/apis/GROUP/VERSION/PLURAL` or `/api/v1/PLURAL`, as the group and resource RBAC names. */
function groupResource(apiPath: string): { group: string; resource: string } {
  const core = /^\/api\/v1\/([a-z]+)$/.exec(apiPath);
  if (core !== null) return { group: '', resource: core[1]! };
  const named = /^\/apis\/([^/]+)\/[^/]+\/([a-z]+)$/.exec(apiPath);
  if (named !== null) return { group: named[1]!, resource: named[2]! };
  throw new Error(`not a cluster-wide list path: ${apiPath}`);
}

t.test('the control plane may read exactly what its Kubernetes source informs on, and write only statuses, the resolve ConfigMap and its Lease', async (t) => {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
    currentContext: 'c',
  });
  // What the source lists and watches in every namespace (the install passes no --kube-namespace).
  const informed = informedTypes(kubeConfig, undefined).map((type) => groupResource(type.path));
  t.ok(informed.length >= 8, 'the informed types are read from the code');
  const expected = [
    ...informed.flatMap(({ group, resource }) => ['get', 'list', 'watch'].map((verb) => ({ group, resource, verb, name: '*' }))),
    // The status writers: the Accepted condition of each custom resource, and the gateway's
    // address in the Ingresses it serves.
    ...customResourceKinds().flatMap((d) => ['patch', 'update'].map((verb) => ({ group: API_GROUP, resource: `${d.names.plural}/status`, verb, name: '*' }))),
    ...['patch', 'update'].map((verb) => ({ group: 'networking.k8s.io', resource: 'ingresses/status', verb, name: '*' })),
    // The Java recipe's resolve file, in every namespace with injected pods; a create is
    // authorized before the object has a name, so it cannot be limited to one.
    ...['get', 'update'].map((verb) => ({ group: '', resource: 'configmaps', verb, name: RESOLVE_CONFIG_MAP })),
    { group: '', resource: 'configmaps', verb: 'create', name: '*' },
  ].map((grant) => `cluster: ${grantKey(grant)}`);
  const lease = [
    ...['get', 'update'].map((verb) => ({ group: 'coordination.k8s.io', resource: 'leases', verb, name: CONTROL_PLANE })),
    { group: 'coordination.k8s.io', resource: 'leases', verb: 'create', name: '*' },
  ].map((grant) => `ns/${NAMESPACE}: ${grantKey(grant)}`);
  t.same(serviceAccountGrants(objects, NAMESPACE, CONTROL_PLANE), [...expected, ...lease].sort());
});

t.test('the injector may write its Secret, its Lease and its webhook configuration, nothing else', async (t) => {
  const expected = [
    ...['get', 'update'].map((verb) => `ns/${NAMESPACE}: ${grantKey({ group: '', resource: 'secrets', verb, name: `${INJECTOR}-tls` })}`),
    `ns/${NAMESPACE}: ${grantKey({ group: '', resource: 'secrets', verb: 'create', name: '*' })}`,
    ...['get', 'update'].map((verb) => `ns/${NAMESPACE}: ${grantKey({ group: 'coordination.k8s.io', resource: 'leases', verb, name: INJECTOR })}`),
    `ns/${NAMESPACE}: ${grantKey({ group: 'coordination.k8s.io', resource: 'leases', verb: 'create', name: '*' })}`,
    ...['get', 'patch'].map(
      (verb) => `cluster: ${grantKey({ group: 'admissionregistration.k8s.io', resource: 'mutatingwebhookconfigurations', verb, name: INJECTOR })}`,
    ),
  ];
  t.same(serviceAccountGrants(objects, NAMESPACE, INJECTOR), expected.sort());
  t.same(
    objects.filter((o) => o.kind === 'ServiceAccount').map((o) => o.metadata.name),
    [CONTROL_PLANE, INJECTOR, GATEWAY],
    'one service account per component',
  );
});

interface Webhook {
  name: string;
  namespaceSelector?: LabelSelector;
  objectSelector?: LabelSelector;
  [field: string]: unknown;
}

t.test('the webhook sends each pod SPEC injects into exactly once, and no other pod', async (t) => {
  const configuration = find('MutatingWebhookConfiguration', INJECTOR);
  const webhooks = configuration.webhooks as Webhook[];
  t.equal(webhooks.length, 2);
  const namespaces: Array<Record<string, string>> = [{ [INJECT_LABEL]: 'enabled' }, {}, { [INJECT_LABEL]: 'disabled' }, { [INJECT_LABEL]: 'true' }];
  const podLabels: Array<Record<string, string>> = [{}, { [INJECT_LABEL]: 'true' }, { [INJECT_LABEL]: 'false' }, { [INJECT_LABEL]: 'yes' }, { app: 'x' }];
  for (const name of ['shop', 'kube-system', NAMESPACE])
    for (const namespaceLabels of namespaces)
      for (const labels of podLabels) {
        const withName = { ...namespaceLabels, 'kubernetes.io/metadata.name': name };
        const sentTo = webhooks
          .filter((w) => matchesLabelSelector(w.namespaceSelector, withName) && matchesLabelSelector(w.objectSelector, labels))
          .map((w) => w.name);
        // SPEC: pods labelled "true", or in a namespace labelled enabled, except pods labelled "false"; never the system's.
        const wanted =
          name !== 'kube-system' &&
          name !== NAMESPACE &&
          labels[INJECT_LABEL] !== 'false' &&
          (labels[INJECT_LABEL] === 'true' || namespaceLabels[INJECT_LABEL] === 'enabled');
        t.equal(
          sentTo.length,
          wanted ? 1 : 0,
          `namespace ${name} ${JSON.stringify(namespaceLabels)}, pod ${JSON.stringify(labels)}: sent to ${JSON.stringify(sentTo)}`,
        );
      }
  for (const webhook of webhooks) {
    t.match(webhook.name, /^[a-z0-9-]+(\.[a-z0-9-]+){2,}$/, 'a fully qualified webhook name');
    t.same(
      webhook.rules,
      [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }],
      `${webhook.name}: pod creations`,
    );
    t.same(
      webhook.clientConfig,
      { service: { name: INJECTOR, namespace: NAMESPACE, path: '/inject', port: 443 } },
      `${webhook.name}: no caBundle (the leader patches it)`,
    );
    t.match(
      webhook,
      { admissionReviewVersions: ['v1'], sideEffects: 'None', timeoutSeconds: 10, failurePolicy: 'Ignore', reinvocationPolicy: 'IfNeeded' },
      `${webhook.name}: fields`,
    );
  }
  // The Service the webhook calls reaches the injector's HTTPS listener.
  const service = find('Service', INJECTOR);
  const container = onlyContainer(find('Deployment', INJECTOR));
  const target = (service.spec as { ports: Array<{ port: number; targetPort: string }> }).ports.find((p) => p.port === 443)!.targetPort;
  t.equal(container.ports?.find((p) => p.name === target)?.containerPort, portOf(flagValue(container.args!, 'listen')), 'port 443 → --listen');
});

t.test(`IngressClass ${INGRESS_CLASS} is served by the gateway`, async (t) => {
  t.same(find('IngressClass', INGRESS_CLASS).spec, { controller: INGRESS_CONTROLLER });
});

t.test('kubectl kustomize builds exactly these objects', async (t) => {
  const built = spawnSync('kubectl', ['kustomize', deployDir], { encoding: 'utf8' });
  if (built.error !== undefined) {
    t.skip('kubectl is not installed: kustomize itself is not run');
    return;
  }
  t.equal(built.status, 0, built.stderr);
  const ids = (list: KubeObject[]) => list.map((o) => `${o.kind} ${o.metadata.namespace ?? ''}/${o.metadata.name}`).sort();
  t.same(ids(parseManifest(built.stdout, 'kubectl kustomize').map((m) => m.object)), ids(objects));
});

// examples/kubernetes: the path a user follows (its README), and the demo's mesh files, which
// are custom resources too.
const examplesDir = path.join(root, 'examples/kubernetes');
const demoExamplesDir = path.join(root, 'packages/demo/examples');
const crds = new CustomResourceValidator(objects.filter((o) => o.kind === 'CustomResourceDefinition'));

async function loadExamples(): Promise<{ files: string[]; objects: ManifestObject[] }> {
  const { resources } = await readKustomization(examplesDir);
  const loaded: ManifestObject[] = [];
  for (const file of resources) loaded.push(...(await readManifest(path.join(examplesDir, file), root)));
  return { files: [...resources], objects: loaded };
}

async function yamlFilesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && /\.ya?ml$/.test(e.name))
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

const examples = await loadExamples();
const isCustomResource = (object: KubeObject) => object.apiVersion.startsWith(`${API_GROUP}/`);

/** The errors the control plane's own validation finds in one custom resource, on its own. */
function fieldErrors(raw: KubeObject): readonly string[] {
  const result = validateResource(raw);
  return result.valid ? [] : result.errors;
}

/** The errors the control plane finds in a set of custom resources: each one's, and their cross-references. */
function meshErrors(resources: readonly KubeObject[]): string[] {
  const located: LocatedResource[] = [];
  for (const raw of resources) {
    const result = validateResource(raw);
    if (result.valid) located.push({ resource: result.result, raw });
  }
  return [...resources.flatMap(fieldErrors), ...checkCrossReferences(located).errors];
}

t.test('examples/kubernetes: kustomization.yaml lists every manifest, the namespace first', async (t) => {
  const onDisk = (await readdir(examplesDir)).filter((file) => /\.ya?ml$/.test(file) && file !== 'kustomization.yaml').sort();
  t.same([...examples.files].sort(), onDisk);
  t.equal(examples.files[0], 'namespace.yaml');
  t.ok((await readdir(examplesDir)).includes('README.md'), 'with the README that walks through it');
});

t.test('examples/kubernetes: every Kubernetes object is valid against the API schemas', async (t) => {
  const builtIn = examples.objects.filter((m) => !isCustomResource(m.object));
  t.same(builtIn.map((m) => m.object.kind).sort(), ['Deployment', 'Deployment', 'Deployment', 'Namespace', 'Service']);
  for (const { object, where } of builtIn) await t.resolves(validateKubernetesObject(object, where), where);
  t.same(unknownFieldErrors(builtIn, root), []);
});

t.test('every custom resource example is accepted by its CRD schema and by the control plane; broken ones are refused by both', async (t) => {
  const demo: ManifestObject[] = [];
  for (const file of await yamlFilesUnder(demoExamplesDir)) demo.push(...(await readManifest(file, root)));
  const resources = [...examples.objects, ...demo].filter((m) => isCustomResource(m.object));
  t.ok(demo.length > 0 && resources.length > demo.length, 'the demo files and the example are read');
  for (const { object, where } of resources) {
    t.ok(crds.defines(object), `${where}: has a CRD`);
    t.same(crds.errors(object), [], `${where}: the CRD schema accepts it`);
    t.same(fieldErrors(object), [], `${where}: file validation accepts it`);
  }
  const example = examples.objects.filter((m) => isCustomResource(m.object)).map((m) => m.object);
  t.same(meshErrors(example), [], "the example's resources hold together (the route's subsets exist)");

  const route = example.find((o) => o.kind === 'DubboRoute')!;
  type RouteSpec = { hosts?: string[]; routes: Array<{ destinations: Array<Record<string, unknown>> }> };
  const broken: Array<[string, (spec: RouteSpec) => void]> = [
    ['a weight that is not a number', (spec) => (spec.routes[0]!.destinations[0]!.weight = 'ninety')],
    ['a misspelt field', (spec) => (spec.routes[0]!.destinations[0]!.wieght = 90)],
    ['no hosts', (spec) => delete spec.hosts],
    ['no destinations', (spec) => (spec.routes[0]!.destinations = [])],
  ];
  for (const [what, breakIt] of broken) {
    const copy = structuredClone(route);
    breakIt(copy.spec as RouteSpec);
    t.not(crds.errors(copy).length, 0, `${what}: refused by the CRD schema`);
    t.not(fieldErrors(copy).length, 0, `${what}: refused by the control plane`);
  }
  const subsetTypo = structuredClone(example);
  const typoRoute = subsetTypo.find((o) => o.kind === 'DubboRoute')!;
  (typoRoute.spec as { routes: Array<{ destinations: Array<{ subset: string }> }> }).routes[0]!.destinations[1]!.subset = 'v9';
  t.match(meshErrors(subsetTypo), [/subset "v9"/], 'a route to a subset no policy defines is refused');
});

t.test('the example: an injected namespace, one Service over both versions, subsets by version, a 90/10 canary', async (t) => {
  const get = (kind: string, name: string) => examples.objects.find((m) => m.object.kind === kind && m.object.metadata.name === name)!.object;
  const namespace = get('Namespace', 'dubbo-demo');
  t.equal(namespace.metadata.labels?.[INJECT_LABEL], 'enabled');
  for (const { object, where } of examples.objects)
    if (object.kind !== 'Namespace') t.equal(object.metadata.namespace, 'dubbo-demo', `${where}: in dubbo-demo`);
  const service = get('Service', 'user-provider');
  const serviceSpec = service.spec as { selector: Record<string, string>; ports: Array<{ name: string; targetPort: string }> };
  t.same(
    serviceSpec.ports.map((p) => p.name),
    ['dubbo'],
    'the port the control plane takes endpoints from',
  );
  const pods = Object.fromEntries(examples.objects.filter((m) => m.object.kind === 'Deployment').map((m) => [m.object.metadata.name, podTemplate(m.object)!]));
  t.same(Object.keys(pods).sort(), ['user-consumer', 'user-provider-v1', 'user-provider-v2']);
  for (const version of ['v1', 'v2']) {
    const pod = pods[`user-provider-${version}`]!;
    t.match(pod.metadata!.labels, { app: 'user-provider', version }, `${version}: labels`);
    t.ok(matchesLabelSelector({ matchLabels: serviceSpec.selector }, pod.metadata!.labels!), `${version}: behind the Service`);
    t.same(pod.spec.containers[0]!.ports, [{ name: 'dubbo', containerPort: 20880 }], `${version}: its Dubbo port is named dubbo`);
  }
  t.notOk(matchesLabelSelector({ matchLabels: serviceSpec.selector }, pods['user-consumer']!.metadata!.labels!), 'the consumer is not a provider');
  t.ok(get('DubboService', service.metadata.name), 'a DubboService named as the Service takes its endpoints from it');
  const policy = get('DubboPolicy', 'user-provider').spec as { subsets: Array<{ name: string; labels: Record<string, string> }> };
  const providers = Object.keys(pods).filter((name) => matchesLabelSelector({ matchLabels: serviceSpec.selector }, pods[name]!.metadata!.labels!));
  for (const subset of policy.subsets)
    t.same(
      providers.filter((name) => matchesLabelSelector({ matchLabels: subset.labels }, pods[name]!.metadata!.labels!)),
      [`user-provider-${subset.name}`],
      `subset ${subset.name} selects that version's pods among the Service's`,
    );
  const route = get('DubboRoute', 'user-canary').spec as { routes: Array<{ destinations: Array<{ subset: string; weight: number }> }> };
  t.same(
    route.routes[0]!.destinations.map((d) => [d.subset, d.weight]),
    [
      ['v1', 90],
      ['v2', 10],
    ],
  );
});
