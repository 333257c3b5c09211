// The Kubernetes benchmark's API server, in a process of its own: test-support's fake API
// server (real HTTP, list and watch semantics as client-node uses them) serving the mesh's
// CRDs, seeded here from the benchmark's flags (in-process creates, so seeding 10,000 pods
// takes seconds, not 10,000 requests). It writes a kubeconfig for the control plane, prints
// one JSON line `{"url", "seedMs", "objects", "podJsonBytes"}` on stdout, and runs until its
// stdin closes (the benchmark ended, however it ended) or a signal.
//
//   node dist/fake-cluster-process.js --services N --pods N --rolling N --flips N --kubeconfig PATH
import { parseArgs } from 'node:util';
import { kindDefinitions } from '@dubbo-mesh/config';
import { startFakeKubeApiServer, type FakeKubeObject } from '@dubbo-mesh/test-support/fake-kube';
import { clusterPlan, dubboServiceObject, podObject, serviceObject, sliceObjects } from './kube-bench-cluster.js';

const { values } = parseArgs({
  options: {
    services: { type: 'string', default: '2000' },
    pods: { type: 'string', default: '10000' },
    rolling: { type: 'string', default: '100' },
    flips: { type: 'string', default: '20' },
    kubeconfig: { type: 'string' },
  },
});
if (values.kubeconfig === undefined) throw new Error('--kubeconfig PATH is required');

const server = await startFakeKubeApiServer({
  types: kindDefinitions()
    .filter((d) => (d as { customResource?: false }).customResource !== false)
    .map((d) => ({ group: 'dubbo-mesh.io', version: 'v1alpha1', plural: d.names.plural, kind: d.kind, namespaced: true, statusSubresource: true })),
});
const stop = () => {
  void server.close().finally(() => process.exit(0));
};
process.stdin.on('end', stop);
process.stdin.resume();
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

const started = performance.now();
const plan = clusterPlan({ services: Number(values.services), pods: Number(values.pods), rolling: Number(values.rolling), flips: Number(values.flips) });
const objects: Record<string, number> = { Service: 0, DubboService: 0, Pod: 0, EndpointSlice: 0 };
const create = (object: object) => {
  server.create(object as FakeKubeObject);
  const kind = (object as { kind: string }).kind;
  objects[kind] = (objects[kind] ?? 0) + 1;
};
let podJsonBytes = 0;
for (const [index, service] of plan.entries()) {
  create(serviceObject(service.name, index));
  create(dubboServiceObject(service.name));
  for (const pod of service.pods) {
    const object = podObject(service, pod, true);
    podJsonBytes ||= JSON.stringify(object).length;
    create(object);
  }
  for (const slice of sliceObjects(service)) create(slice);
}
const seedMs = performance.now() - started;
await server.writeKubeConfig(values.kubeconfig);
process.stdout.write(`${JSON.stringify({ url: server.url, seedMs, objects, podJsonBytes })}\n`);
