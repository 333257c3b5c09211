// What must be sent again although the client held it: a name it dropped and asks for again,
// the endpoints of a cluster that changed (Envoy warms the cluster until they come), and
// everything to a client that connects again after a NACK.
import t from 'tap';
import { TYPE_URLS, type XdsDeltaDiscoveryResponse } from '@dubbo-mesh/envoy-xds';
import { RawAds, namesOf, nextEvent, serviceYaml, startMesh, xdsNode } from './fixtures/raw-ads.js';

const { cluster: CDS, clusterLoadAssignment: EDS } = TYPE_URLS;

const policyYaml = (service: string, connectTimeout: string) => `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboPolicy
metadata: {name: ${service}}
spec:
  service: ${service}
  connectionPool: {connectTimeout: ${connectTimeout}}
`;

t.test('state of the world: a name dropped and asked for again is sent again', async (t) => {
  const mesh = await startMesh(t, { 'a.yaml': serviceYaml('a', [20001]), 'b.yaml': serviceYaml('b', [20002]) });
  const ads = new RawAds(t, mesh.port, 'sotw');
  ads.send({ node: xdsNode('envoy-1', true), type_url: EDS, resource_names: ['a.default', 'b.default'] });
  const both = await ads.next();
  t.same(namesOf(both).sort(), ['a.default', 'b.default']);
  ads.send({ type_url: EDS, resource_names: ['a.default', 'b.default'], version_info: both.version_info, response_nonce: both.nonce });
  // Drop b (a request with the latest nonce and fewer names), then ask for it again.
  ads.send({ type_url: EDS, resource_names: ['a.default'], version_info: both.version_info, response_nonce: both.nonce });
  ads.send({ type_url: EDS, resource_names: ['a.default', 'b.default'], version_info: both.version_info, response_nonce: both.nonce });
  const again = await ads.next();
  t.same(namesOf(again), ['b.default'], 'b is sent again (xDS: newly requested resources are sent even when unchanged)');
});

t.test('delta: a name unsubscribed and subscribed again is sent again', async (t) => {
  const mesh = await startMesh(t, { 'a.yaml': serviceYaml('a', [20001]), 'b.yaml': serviceYaml('b', [20002]) });
  const ads = new RawAds(t, mesh.port, 'delta');
  ads.send({ node: xdsNode('envoy-1', true), type_url: EDS, resource_names_subscribe: ['a.default', 'b.default'] });
  const both = await ads.next();
  t.same(both.resources.map((r) => r.name).sort(), ['a.default', 'b.default']);
  ads.send({ type_url: EDS, response_nonce: both.nonce });
  ads.send({ type_url: EDS, resource_names_unsubscribe: ['b.default'] });
  ads.send({ type_url: EDS, resource_names_subscribe: ['b.default'] });
  const again: XdsDeltaDiscoveryResponse = await ads.next();
  t.same(
    again.resources.map((r) => r.name),
    ['b.default'],
    'b is sent again',
  );
});

t.test('a cluster that changed has its unchanged endpoints sent again, after it', async (t) => {
  const mesh = await startMesh(t, { 'a.yaml': serviceYaml('a', [20001]), 'b.yaml': serviceYaml('b', [20002]) });
  const ads = new RawAds(t, mesh.port, 'sotw');
  ads.send({ node: xdsNode('envoy-1', true), type_url: CDS });
  const cds = await ads.next();
  ads.send({ type_url: CDS, version_info: cds.version_info, response_nonce: cds.nonce });
  ads.send({ type_url: EDS, resource_names: ['a.default', 'b.default'] });
  const eds = await ads.next();
  t.same(namesOf(eds).sort(), ['a.default', 'b.default']);
  ads.send({ type_url: EDS, resource_names: ['a.default', 'b.default'], version_info: eds.version_info, response_nonce: eds.nonce });
  await nextEvent(mesh.controlPlane, 'ack', 'envoy-1');

  // A policy changes a's cluster, not its endpoints.
  await mesh.write('a-policy.yaml', policyYaml('a', '5s'));
  const changedCds = await ads.next();
  t.equal(changedCds.type_url, CDS, 'the clusters first');
  const resent = await ads.next();
  t.equal(resent.type_url, EDS, 'then the endpoints');
  t.same(namesOf(resent), ['a.default'], "the changed cluster's endpoints only, unchanged as they are");
  t.equal(resent.version_info, eds.version_info, 'the same endpoints version');
});

t.test('a client that connects again after a NACK is sent what is current', async (t) => {
  const mesh = await startMesh(t, { 'a.yaml': serviceYaml('a', [20001]) });
  const first = new RawAds(t, mesh.port, 'sotw');
  first.send({ node: xdsNode('envoy-1', true), type_url: CDS });
  const cds = await first.next();
  const nacked = nextEvent(mesh.controlPlane, 'nack', 'envoy-1');
  first.send({ type_url: CDS, response_nonce: cds.nonce, error_detail: { code: 3, message: 'refused' } });
  await nacked;
  const closed = nextEvent(mesh.controlPlane, 'stream-closed', 'envoy-1');
  first.close();
  await closed;
  // The same node id, restarted: it holds nothing and is sent the clusters.
  const second = new RawAds(t, mesh.port, 'sotw');
  second.send({ node: xdsNode('envoy-1', true), type_url: CDS });
  const again = await second.next();
  t.same(namesOf(again), ['a.default'], 'the clusters, though the node refused them on its last stream');
});
