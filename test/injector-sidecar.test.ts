// The sidecar the injector writes into a pod is a real one: its command line, taken from the
// webhook's JSON Patch with the downward-API values filled in and `$(VAR)` expanded as the
// kubelet does, starts `dubbo-mesh proxy` against a local control plane, becomes ready on the
// readiness probe's path, carries calls both ways (the app's calls out; other proxies' calls in,
// to the app's `dubbo` port), reports the pod's identity, and drains on SIGTERM.
//
// Only the listen addresses are changed (to 127.0.0.1:0): a test never binds fixed ports.
// Their injected values are checked against the contract first.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { defaultInjectorConfig, reviewAdmission, type PodContainer, type PodObject } from '@dubbo-mesh/injector';
import { USER_SERVICE, eventually, makeUser, startTestProvider, userServiceMeshYaml, userValue } from '@dubbo-mesh/test-support';
import { startChild } from '../packages/cli/test/fixtures/child.js';
import { applyJsonPatch, type PatchOperation } from '../packages/injector/test/fixtures/apply-json-patch.js';
import { deploymentPod, reviewOf } from '../packages/injector/test/fixtures/reviews.js';
import { userClient } from '../packages/proxy/test/fixtures/consumer.js';

/** What the downward API gives the pod the ReplicaSet named from its generateName. */
const DOWNWARD: Record<string, string> = {
  'metadata.name': 'user-provider-7c9f6d8b5-x2x7k',
  'metadata.namespace': 'shop',
  'status.podIP': '127.0.0.1',
};

/** The container's environment as the kubelet builds it: literal values and fieldRefs, in order. */
function containerEnv(container: PodContainer): Record<string, string> {
  const env: Record<string, string> = {};
  for (const variable of container.env ?? []) {
    const fieldPath = (variable.valueFrom as { fieldRef?: { fieldPath: string } } | undefined)?.fieldRef?.fieldPath;
    if (fieldPath !== undefined) {
      const value = DOWNWARD[fieldPath];
      if (value === undefined) throw new Error(`the test has no downward-API value for ${fieldPath}`);
      env[variable.name] = value;
    } else if (variable.value !== undefined) env[variable.name] = expand(variable.value, env);
  }
  return env;
}

/** The kubelet's `$(VAR)` expansion: a defined variable is replaced, `$$` is a `$`, anything else stays. */
function expand(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) => (name === undefined ? '$' : (env[name] ?? match)));
}

t.test("the injected sidecar's own command line runs, becomes ready, carries calls both ways and drains", async (t) => {
  const provider = await startTestProvider({
    host: '127.0.0.1',
    port: 0,
    services: { [USER_SERVICE]: { getUser: ([id]) => userValue({ ...makeUser(id as number), name: 'app' }), existUser: () => true } },
  });
  t.teardown(() => provider.close());
  const dir = await mkdtemp(join(tmpdir(), 'dubbo-mesh-injector-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const meshFile = join(dir, 'mesh.yaml');
  await writeFile(meshFile, userServiceMeshYaml(provider.port));
  const controlPlane = startChild(['control-plane', '--config', meshFile, '--grpc', '127.0.0.1:0', '--admin', '127.0.0.1:0']);
  t.teardown(() => controlPlane.process.kill('SIGKILL'));
  const cpReady = await controlPlane.waitFor((line) => line.msg === 'control plane ready');

  // The pod as its ReplicaSet creates it; its `dubbo` port is where the application listens.
  const pod = deploymentPod();
  const app = pod.spec.containers.find((container) => container.name === 'app')!;
  app.ports = app.ports!.map((port) => (port.name === 'dubbo' ? { ...port, containerPort: provider.port } : port));
  const outcome = reviewAdmission(reviewOf(pod), defaultInjectorConfig({ controlPlane: cpReady.grpc as string }));
  t.equal(outcome.decision.injected, true, outcome.decision.reason);
  const response = (outcome.review as unknown as { response: { patch: string } }).response;
  const patch = JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as PatchOperation[];
  const injected = applyJsonPatch(pod, patch) as PodObject;
  const sidecar = injected.spec.initContainers?.[0];
  t.equal(sidecar?.name, 'dubbo-mesh-proxy', 'the native sidecar is the first init container');
  t.equal(sidecar?.restartPolicy, 'Always');

  const env = containerEnv(sidecar!);
  const args = [...(sidecar!.command ?? []), ...(sidecar!.args ?? [])].map((arg) => expand(arg, env));
  t.equal(args[0], 'proxy', "the image's entrypoint is dubbo-mesh: the args start with the command");
  const injectedListeners: Record<string, string> = {};
  for (const flag of ['outbound', 'inbound', 'admin']) {
    const at = args.indexOf(`--${flag}`);
    t.ok(at > 0, `--${flag} is injected`);
    injectedListeners[flag] = args[at + 1]!;
    args[at + 1] = '127.0.0.1:0';
  }
  t.same(injectedListeners, { outbound: '127.0.0.1:20881', inbound: '0.0.0.0:20891', admin: '0.0.0.0:15001' }, 'the listeners SPEC fixes');
  t.equal(args[args.indexOf('--inbound-target') + 1], `127.0.0.1:${provider.port}`, "inbound goes to the app's port named dubbo");
  t.equal(args[args.indexOf('--node') + 1], 'user-provider-7c9f6d8b5-x2x7k.shop', 'the node id from the downward API');

  const proxy = startChild(args);
  t.teardown(() => proxy.process.kill('SIGKILL'));
  const listening = await proxy.waitFor((line) => line.msg === 'proxy listening; waiting for its first snapshot from the control plane');
  await proxy.waitFor((line) => line.msg === 'proxy ready');

  // The kubelet's readiness probe: the path and port name the injected container gives.
  const probe = sidecar!.readinessProbe as { httpGet: { path: string; port: number } };
  t.equal(probe.httpGet.port, 15001, 'the probe is on the admin port');
  const admin = listening.admin as string;
  t.equal((await fetch(`http://${admin}${probe.httpGet.path}`)).status, 200, 'ready on the readiness probe path');

  const listeners = listening.listeners as { outbound: { port: number }; inbound: { port: number } };
  const outbound = userClient(`127.0.0.1:${listeners.outbound.port}`);
  t.teardown(() => outbound.close());
  const out = await outbound.getUser(7);
  t.equal(out.err, null, 'a call from the app through its sidecar');
  t.equal((out.res as { name: string }).name, 'app');
  const inbound = userClient(`127.0.0.1:${listeners.inbound.port}`);
  t.teardown(() => inbound.close());
  const into = await inbound.getUser(8);
  t.equal(into.err, null, "a call from another proxy through the sidecar's inbound listener to the app");
  t.equal((into.res as { id: number }).id, 8);

  // The control plane knows the pod by the identity the sidecar was given.
  const cpAdmin = `http://${cpReady.admin as string}`;
  type Node = { id: string; service?: string; namespace?: string; labels?: Record<string, string> };
  let node: Node | undefined;
  await eventually(async () => {
    const proxies = (await (await fetch(`${cpAdmin}/api/v1/proxies`)).json()) as Array<{ node: Node }>;
    node = proxies.find((entry) => entry.node.id === 'user-provider-7c9f6d8b5-x2x7k.shop')?.node;
    return node !== undefined;
  }, 'the sidecar listed by the control plane');
  t.equal(node!.service, 'user-provider', 'its service from the app label');
  t.equal(node!.namespace, 'shop');
  t.same(node!.labels, { app: 'user-provider', version: 'v1' }, 'its labels, without pod-template-hash and the inject label');

  proxy.process.kill('SIGTERM');
  t.equal(await proxy.exited, 0, 'SIGTERM drains and exits 0');
});
