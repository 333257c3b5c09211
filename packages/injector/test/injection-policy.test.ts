import t from 'tap';
import { injectionDecision } from '../dist/injection-policy.js';
import { defaultInjectorConfig } from '../dist/injector-config.js';
import { deploymentPod, simplePod } from './fixtures/reviews.js';

const config = defaultInjectorConfig();

t.test('pods labelled true, and pods with no label (sent from an enabled namespace), are injected', async (t) => {
  t.same(injectionDecision(simplePod({ labels: { 'dubbo-mesh.io/inject': 'true' } }), 'shop', config), { inject: true });
  t.same(injectionDecision(simplePod(), 'shop', config), { inject: true });
  t.same(injectionDecision(deploymentPod(), 'shop', config), { inject: true });
});

t.test('opt-out, and any other label value, is not injected; a typo is a warning', async (t) => {
  const out = injectionDecision(simplePod({ labels: { 'dubbo-mesh.io/inject': 'false' } }), 'shop', config);
  t.same(out, { inject: false, reason: 'the pod is labelled dubbo-mesh.io/inject: "false"' });
  const typo = injectionDecision(simplePod({ labels: { 'dubbo-mesh.io/inject': 'yes' } }), 'shop', config);
  t.equal(typo.inject, false);
  t.match(!typo.inject && typo.warning, /label dubbo-mesh.io\/inject is "yes", not "true" or "false"/);
});

t.test('a pod with the sidecar container, native or plain, or the status annotation, is not injected again', async (t) => {
  const native = simplePod({ spec: { initContainers: [{ name: 'dubbo-mesh-proxy' }] } });
  t.match(injectionDecision(native, 'shop', config), { inject: false, reason: /already has a dubbo-mesh-proxy container/ });
  const plain = simplePod({ spec: { containers: [{ name: 'app' }, { name: 'dubbo-mesh-proxy' }] } });
  t.match(injectionDecision(plain, 'shop', config), { inject: false, reason: /already has a dubbo-mesh-proxy container/ });
  const annotated = simplePod({ annotations: { 'dubbo-mesh.io/injected': '{}' } });
  t.match(injectionDecision(annotated, 'shop', config), { inject: false, reason: /already carries the dubbo-mesh.io\/injected annotation/ });
});

t.test("hostNetwork pods, the mesh's own pods and pods without containers are not injected", async (t) => {
  const host = injectionDecision(simplePod({ spec: { hostNetwork: true } }), 'shop', config);
  t.match(host, { inject: false, reason: /hostNetwork/ });
  t.equal(!host.inject && host.warning, undefined, 'no warning for a pod that did not ask by label');
  const asked = injectionDecision(simplePod({ labels: { 'dubbo-mesh.io/inject': 'true' }, spec: { hostNetwork: true } }), 'shop', config);
  t.match(!asked.inject && asked.warning, /no dubbo-mesh sidecar: .*hostNetwork/, 'a pod that asked hears why not');
  t.same(injectionDecision(simplePod({ spec: { hostNetwork: false } }), 'shop', config), { inject: true });
  t.match(injectionDecision(simplePod(), 'dubbo-mesh', config), { inject: false, reason: /mesh's own namespace dubbo-mesh/ });
  t.same(injectionDecision(simplePod(), 'dubbo-mesh', defaultInjectorConfig({ installNamespace: 'mesh-system' })), { inject: true });
  t.match(injectionDecision(simplePod({ labels: { 'app.kubernetes.io/part-of': 'dubbo-mesh' } }), 'shop', config), { inject: false, reason: /part-of/ });
  t.match(injectionDecision(simplePod({ spec: { containers: [] } }), 'shop', config), { inject: false, reason: /no containers/ });
});

t.test('Windows pods, by spec.os or node selector, are not injected, with a warning', async (t) => {
  const byOs = injectionDecision(simplePod({ spec: { os: { name: 'windows' } } }), 'shop', config);
  t.same(byOs, {
    inject: false,
    reason: "the pod runs on Windows (spec.os.name: windows), where the sidecar's Linux image cannot run",
    warning: "no dubbo-mesh sidecar: the pod runs on Windows (spec.os.name: windows), where the sidecar's Linux image cannot run",
  });
  const bySelector = injectionDecision(simplePod({ spec: { nodeSelector: { 'kubernetes.io/os': 'windows' } } }), 'shop', config);
  t.match(bySelector, { inject: false, warning: /Windows \(nodeSelector kubernetes.io\/os: windows\)/ });
  t.same(injectionDecision(simplePod({ spec: { os: { name: 'linux' }, nodeSelector: { 'kubernetes.io/os': 'linux' } } }), 'shop', config), { inject: true });
  t.same(injectionDecision(simplePod({ spec: { nodeSelector: { disk: 'ssd' } } }), 'shop', config), { inject: true });
});
