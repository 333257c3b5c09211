import { parseArgs } from 'node:util';
import t from 'tap';
import { PROXY_FLAGS } from '@dubbo-mesh/sidecar/flags';
import { sidecarInboundPort } from '@dubbo-mesh/kubernetes';
import {
  applicationPort,
  EXCLUDED_LABELS,
  PLUGIN_MODULE_ROOT,
  proxyArgs,
  proxyLabels,
  serviceFromLabels,
  SIDECAR_ADMIN_PORT_NAME,
  sidecarContainer,
  type SidecarTemplateInput,
} from '../dist/sidecar-template.js';
import { podProblems } from './fixtures/validate-pod.js';

const input = (overrides: Partial<SidecarTemplateInput> = {}): SidecarTemplateInput => ({
  image: 'dubbo-mesh:0.1.0',
  controlPlane: 'dubbo-mesh-control-plane.dubbo-mesh.svc:15010',
  service: 'user-provider',
  labels: { app: 'user-provider', version: 'v1', 'pod-template-hash': '7c9f6d8b5' },
  appPort: 20880,
  inboundPort: 20891,
  adminPort: 15001,
  outboundPort: 20881,
  logLevel: 'info',
  drainTimeout: '5s',
  resources: { cpuRequest: '50m', memoryRequest: '64Mi', memoryLimit: '256Mi' },
  native: true,
  preStopDelaySeconds: 5,
  pluginVolume: undefined,
  ...overrides,
});

/** The args parsed as `dubbo-mesh proxy` parses them: strictly against PROXY_FLAGS, so an unknown flag throws. */
function parseProxyArgs(args: string[]): Record<string, unknown> {
  t.equal(args[0], 'proxy');
  const options = Object.fromEntries(PROXY_FLAGS.map((flag) => [flag.name, { type: flag.type, multiple: flag.multiple ?? false }]));
  return parseArgs({ args: args.slice(1), options, strict: true, allowPositionals: false }).values;
}

t.test('the strict parser refuses a flag the proxy does not have, so the check below can fail', async (t) => {
  t.throws(() => parseProxyArgs(['proxy', '--node', 'x', '--inbound-port', '1']), /Unknown option/);
});

t.test('every flag of the command line is one of PROXY_FLAGS, with the values the contract names', async (t) => {
  const args = proxyArgs(input());
  const values = parseProxyArgs(args);
  t.same(values, {
    node: '$(POD_NAME).$(POD_NAMESPACE)',
    namespace: '$(POD_NAMESPACE)',
    'control-plane': 'dubbo-mesh-control-plane.dubbo-mesh.svc:15010',
    service: 'user-provider',
    labels: 'app=user-provider,version=v1',
    outbound: '127.0.0.1:20881',
    inbound: '0.0.0.0:20891',
    'inbound-target': '127.0.0.1:20880',
    admin: '0.0.0.0:15001',
    'log-level': 'info',
    'drain-timeout': '5s',
  });
  for (const arg of args.filter((arg) => arg.startsWith('--')))
    t.ok(
      PROXY_FLAGS.some((flag) => `--${flag.name}` === arg),
      `${arg} is a proxy flag`,
    );
  const other = parseProxyArgs(proxyArgs(input({ service: undefined, labels: {}, inboundPort: 30000, adminPort: 30001, appPort: 9000, logLevel: 'debug' })));
  t.equal(other.service, undefined, 'no --service without a service');
  t.equal(other.labels, undefined, 'no --labels without labels');
  t.equal(other.inbound, '0.0.0.0:30000');
  t.equal(other.admin, '0.0.0.0:30001');
  t.equal(other['inbound-target'], '127.0.0.1:9000');
  t.equal(other['log-level'], 'debug');
});

t.test('--labels: sorted k=v, without the labels that change every rollout or the flag cannot carry', async (t) => {
  t.same(EXCLUDED_LABELS, ['pod-template-hash', 'controller-revision-hash', 'dubbo-mesh.io/inject']);
  t.equal(
    proxyLabels({
      version: 'v1',
      'app.kubernetes.io/name': 'shop',
      'pod-template-hash': 'abc',
      'controller-revision-hash': 'web-5d8',
      'dubbo-mesh.io/inject': 'true',
      odd: 'a,b',
      eq: 'a=b',
      app: 'web',
    }),
    'app=web,app.kubernetes.io/name=shop,version=v1',
  );
  t.equal(proxyLabels({ 'pod-template-hash': 'abc' }), undefined);
});

t.test('the service is the app label, else app.kubernetes.io/name, else none', async (t) => {
  t.equal(serviceFromLabels({ app: 'a', 'app.kubernetes.io/name': 'b' }), 'a');
  t.equal(serviceFromLabels({ 'app.kubernetes.io/name': 'b' }), 'b');
  t.equal(serviceFromLabels({ version: 'v1' }), undefined);
});

t.test("the application's port: the annotation, else the container port named dubbo, else 20880", async (t) => {
  const pod = (ports: unknown[]) =>
    ({
      spec: {
        containers: [
          { name: 'side', ports: [{ name: 'dubbo', containerPort: 1, protocol: 'UDP' }] },
          { name: 'app', ports },
        ],
      },
    }) as never;
  t.equal(applicationPort(pod([{ name: 'dubbo', containerPort: 20990 }]), undefined), 20990);
  t.equal(applicationPort(pod([{ name: 'dubbo', containerPort: 20990 }]), 21000), 21000, 'the annotation wins');
  t.equal(applicationPort(pod([{ name: 'http', containerPort: 8080 }]), undefined), 20880);
  t.equal(applicationPort(pod([]), undefined), 20880);
});

t.test('the native sidecar: restartPolicy Always, no preStop; env, ports, probes, security and resources', async (t) => {
  const container = sidecarContainer(input());
  t.equal(container.name, 'dubbo-mesh-proxy');
  t.equal(container.image, 'dubbo-mesh:0.1.0');
  t.equal(container.restartPolicy, 'Always');
  t.equal(container.lifecycle, undefined);
  t.same(container.env, [
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
  ]);
  t.same(container.ports, [
    { name: 'dubbo-mesh-in', containerPort: 20891, protocol: 'TCP' },
    { name: SIDECAR_ADMIN_PORT_NAME, containerPort: 15001, protocol: 'TCP' },
  ]);
  t.ok(SIDECAR_ADMIN_PORT_NAME.length <= 15, 'a port name is at most 15 characters');
  t.same(container.startupProbe, { tcpSocket: { port: 15001 }, periodSeconds: 1, timeoutSeconds: 1, failureThreshold: 120 });
  t.same(container.readinessProbe, { httpGet: { path: '/ready', port: 15001 }, periodSeconds: 5, timeoutSeconds: 1, failureThreshold: 3 });
  t.same(container.securityContext, {
    runAsNonRoot: true,
    runAsUser: 1000,
    runAsGroup: 1000,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  });
  t.same(container.resources, { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } });
  t.same(sidecarContainer(input({ resources: { cpuLimit: '1' } })).resources, { limits: { cpu: '1' } });
  t.same(sidecarContainer(input({ resources: {} })).resources, {});
  // The control plane finds the inbound port on the pod the way it reads it (endpoint-mapping.ts).
  const moved = sidecarContainer(input({ inboundPort: 30000 }));
  t.equal(sidecarInboundPort({ spec: { initContainers: [moved], containers: [] } }), 30000);
});

t.test('the plain container: no restartPolicy, a preStop wait so the app drains with its sidecar', async (t) => {
  const container = sidecarContainer(input({ native: false, preStopDelaySeconds: 7 }));
  t.equal(container.restartPolicy, undefined);
  t.same(container.lifecycle, { preStop: { exec: { command: ['sleep', '7'] } } });
  t.equal(sidecarContainer(input({ native: false, preStopDelaySeconds: 0 })).lifecycle, undefined, 'no wait asked: no hook');
});

t.test('a pod with the sidecar, native or plain, is a valid Pod, and the validation can fail', async (t) => {
  const pod = (container: unknown, native: boolean) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { generateName: 'web-' },
    spec: native
      ? { initContainers: [container], containers: [{ name: 'app', image: 'web:1' }] }
      : { containers: [{ name: 'app', image: 'web:1' }, container] },
  });
  t.same(podProblems(pod(sidecarContainer(input()), true)), []);
  t.same(podProblems(pod(sidecarContainer(input({ native: false })), false)), []);
  const broken = sidecarContainer(input());
  broken.ports![0]!.containerPort = '20891' as never;
  broken.ports![1]!.name = 'dubbo-mesh-admin';
  const problems = podProblems(pod(broken, true));
  t.match(problems.join('\n'), /containerPort must be integer/);
  t.match(problems.join('\n'), /port name dubbo-mesh-admin is not an IANA service name/);
  t.match(podProblems(pod(sidecarContainer(input()), false)).join('\n'), /restartPolicy Always is only allowed/);
});

t.test('a plugin volume: mounted read-only at the module root, whole, and --plugin-module-root names it, native or plain', async (t) => {
  t.equal(PLUGIN_MODULE_ROOT, '/etc/dubbo-mesh/plugins');
  for (const native of [true, false]) {
    const container = sidecarContainer(input({ native, pluginVolume: 'plugins' }));
    t.same(container.volumeMounts, [{ name: 'plugins', mountPath: '/etc/dubbo-mesh/plugins', readOnly: true }], `native ${native}: the mount`);
    t.equal(parseProxyArgs(container.args as string[])['plugin-module-root'], '/etc/dubbo-mesh/plugins', `native ${native}: the flag`);
  }
  const without = sidecarContainer(input());
  t.equal(without.volumeMounts, undefined, 'no plugin volume: no mount');
  t.notOk((without.args as string[]).includes('--plugin-module-root'), 'no plugin volume: no root (any file, as before)');
  const pod = (native: boolean) => {
    const sidecar = sidecarContainer(input({ native, pluginVolume: 'plugins' }));
    const app = { name: 'app', image: 'web:1' };
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { generateName: 'web-' },
      spec: {
        ...(native ? { initContainers: [sidecar], containers: [app] } : { containers: [app, sidecar] }),
        volumes: [{ name: 'plugins', configMap: { name: 'auth-plugin' } }],
      },
    };
  };
  t.same(podProblems(pod(true)), []);
  t.same(podProblems(pod(false)), []);
  const missing = pod(true);
  missing.spec.volumes = [];
  t.match(podProblems(missing), [/mounts missing volume plugins/], 'the check can fail');
});
