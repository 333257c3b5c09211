import t from 'tap';
import { TYPE_URLS, type XdsDeltaDiscoveryResponse } from '@dubbo-mesh/envoy-xds';
import { RawAds, nextEvent, serviceYaml, startMesh, xdsNode } from './fixtures/raw-ads.js';

const { cluster: CDS, clusterLoadAssignment: EDS, listener: LDS } = TYPE_URLS;

const names = (response: XdsDeltaDiscoveryResponse) => response.resources.map((r) => r.name).sort();
/** Ports of a CLA in a delta response. */
function ports(response: XdsDeltaDiscoveryResponse, name: string): number[] {
  const cla = response.resources.find((r) => r.name === name)?.resource as
    { endpoints: Array<{ lb_endpoints: Array<{ endpoint: { address: { socket_address: { port_value: number } } } }> }> } | undefined;
  return cla === undefined ? [] : cla.endpoints.flatMap((l) => l.lb_endpoints.map((e) => e.endpoint.address.socket_address.port_value));
}

t.test('delta: wildcard CDS, EDS by name, what changed and what was removed, unsubscribe', async (t) => {
  const mesh = await startMesh(t, { 'a.yaml': serviceYaml('a', [20001]), 'b.yaml': serviceYaml('b', [20002]) });
  const ads = new RawAds(t, mesh.port, 'delta');
  ads.send({ node: xdsNode('envoy-d', true), type_url: CDS });
  const cds = await ads.next();
  t.equal(cds.type_url, CDS);
  t.same(names(cds), ['a.default', 'b.default'], 'subscribing to nothing first is a wildcard: every cluster');
  t.ok(
    cds.resources.every((r) => r.version !== '' && (r.resource as { '@type': string })['@type'] === CDS),
    'each resource with its version and its Any',
  );
  t.same(cds.removed_resources, []);
  t.equal(mesh.proxy('envoy-d').api, 'envoy-ads-delta');
  ads.send({ type_url: CDS, response_nonce: cds.nonce });
  ads.send({ type_url: EDS, resource_names_subscribe: ['a.default', 'ghost.default'] });
  const eds = await ads.next();
  t.same(names(eds), ['a.default']);
  t.same(eds.removed_resources, ['ghost.default'], 'a name asked for that does not exist is said to be removed');
  const acked = nextEvent(mesh.controlPlane, 'ack', 'envoy-d');
  ads.send({ type_url: EDS, response_nonce: eds.nonce });
  t.equal((await acked)[1], mesh.controlPlane.snapshot!.version);
  t.same(mesh.proxy('envoy-d').resources![EDS]!.subscribed, ['a.default', 'ghost.default']);

  // One endpoint change: only that CLA.
  const changed = await mesh.write('a.yaml', serviceYaml('a', [20001, 20005]));
  const update = await ads.next();
  t.equal(update.type_url, EDS, 'no CDS response: no cluster changed');
  t.same(names(update), ['a.default']);
  t.same(ports(update, 'a.default'), [20001, 20005]);
  t.same(update.removed_resources, [], 'the missing name is not repeated');
  t.equal(update.system_version_info, mesh.proxy('envoy-d').resources![EDS]!.sentVersion);
  const acked2 = nextEvent(mesh.controlPlane, 'ack', 'envoy-d');
  ads.send({ type_url: EDS, response_nonce: update.nonce });
  t.equal((await acked2)[1], changed.version);

  // Subscribe to b, then b goes: CDS and EDS both say it was removed.
  ads.send({ type_url: EDS, resource_names_subscribe: ['b.default'] });
  const b = await ads.next();
  t.same(names(b), ['b.default'], 'only the newly subscribed CLA');
  ads.send({ type_url: EDS, response_nonce: b.nonce });
  await mesh.write('b.yaml', serviceYaml('c', [20003]));
  const gone = [await ads.next(), await ads.next()].sort((x, y) => x.type_url.localeCompare(y.type_url));
  t.equal(gone[0]!.type_url, CDS);
  t.same(names(gone[0]!), ['c.default'], 'the new cluster');
  t.same(gone[0]!.removed_resources, ['b.default'], 'and the one removed');
  t.equal(gone[1]!.type_url, EDS);
  t.same(names(gone[1]!), []);
  t.same(gone[1]!.removed_resources, ['b.default'], 'its CLA removed too (it was subscribed)');
  const ackedGone = nextEvent(mesh.controlPlane, 'ack', 'envoy-d');
  ads.send({ type_url: CDS, response_nonce: gone[0]!.nonce });
  ads.send({ type_url: EDS, response_nonce: gone[1]!.nonce });
  await ackedGone;

  // Unsubscribed: a's changes no longer come (and a request with no nonce is not stale).
  ads.send({ type_url: EDS, resource_names_unsubscribe: ['a.default'] });
  const edsNonce = () => mesh.proxy('envoy-d').resources![EDS]!.sentNonce;
  const before = edsNonce();
  const acked3 = nextEvent(mesh.controlPlane, 'ack', 'envoy-d');
  const third = await mesh.write('a.yaml', serviceYaml('a', [20007]));
  t.equal((await acked3)[1], third.version, 'the node is on the new snapshot with nothing sent');
  t.equal(edsNonce(), before, 'nothing sent for EDS');
  t.same(mesh.proxy('envoy-d').resources![EDS]!.subscribed, ['ghost.default', 'b.default'], 'a removed resource stays subscribed');
  t.equal(ads.pending, 0);
});

t.test('delta: a reconnect with initial_resource_versions gets only what differs; explicit wildcard and its removal', async (t) => {
  const mesh = await startMesh(t, { 'a.yaml': serviceYaml('a', [20001]), 'b.yaml': serviceYaml('b', [20002]) });
  const first = new RawAds(t, mesh.port, 'delta');
  first.send({ node: xdsNode('envoy-r', true), type_url: CDS });
  const all = await first.next();
  first.close();
  const versions = Object.fromEntries(all.resources.map((r) => [r.name, r.version]));
  const again = new RawAds(t, mesh.port, 'delta');
  again.send({
    node: xdsNode('envoy-r', true),
    type_url: CDS,
    initial_resource_versions: { 'a.default': versions['a.default']!, 'b.default': 'an-older-one', 'old.default': 'x' },
  });
  const resumed = await again.next();
  t.same(names(resumed), ['b.default'], 'only the cluster whose version differs');
  t.same(resumed.removed_resources, ['old.default'], 'and the one the client has that is gone');

  // Explicit '*' on a named type, then unsubscribing it.
  again.send({ type_url: EDS, resource_names_subscribe: ['*'] });
  const wildcard = await again.next();
  t.same(names(wildcard), ['a.default', 'b.default'], "'*' subscribes to every CLA");
  t.same(mesh.proxy('envoy-r').resources![EDS]!.subscribed, ['*']);
  const ackedBoth = nextEvent(mesh.controlPlane, 'ack', 'envoy-r');
  again.send({ type_url: EDS, response_nonce: wildcard.nonce, resource_names_subscribe: ['a.default'], resource_names_unsubscribe: ['*'] });
  again.send({ type_url: CDS, response_nonce: resumed.nonce });
  await ackedBoth;
  const acked = nextEvent(mesh.controlPlane, 'ack', 'envoy-r');
  const changed = await mesh.write('b.yaml', serviceYaml('b', [20009]));
  t.equal((await acked)[1], changed.version);
  t.same(mesh.proxy('envoy-r').resources![EDS]!.subscribed, ['a.default'], "after unsubscribing '*', only a");
  t.equal(again.pending, 0, "b's endpoint change is not sent: b is no longer subscribed");
});

t.test('delta: stale nonces, a NACK recorded and not resent, a newer version sent', async (t) => {
  const mesh = await startMesh(t, { 'a.yaml': serviceYaml('a', [20001]) });
  const ads = new RawAds(t, mesh.port, 'delta');
  ads.send({ node: xdsNode('grpc-d', false), type_url: LDS, resource_names_subscribe: ['a.default'] });
  const lds = await ads.next();
  t.same(names(lds), ['a.default']);
  ads.send({ type_url: LDS, response_nonce: lds.nonce });
  ads.send({ type_url: EDS, resource_names_subscribe: ['a.default'] });
  const eds = await ads.next();
  ads.send({ type_url: EDS, response_nonce: eds.nonce });

  const bad = await mesh.write('a.yaml', serviceYaml('a', [20008]));
  const rejected = await ads.next();
  t.equal(rejected.type_url, EDS);
  // A stale nonce: its NACK is ignored, its subscription change applies.
  const stale = nextEvent(mesh.controlPlane, 'stale', 'grpc-d');
  ads.send({ type_url: EDS, response_nonce: eds.nonce, error_detail: { code: 3, message: 'late' }, resource_names_subscribe: ['z.default'] });
  await stale;
  t.equal(mesh.proxy('grpc-d').lastNack, undefined, 'no NACK recorded from a stale request');
  t.same(mesh.proxy('grpc-d').resources![EDS]!.subscribed, ['a.default', 'z.default'], 'its subscription change applied');
  const nacked = nextEvent(mesh.controlPlane, 'nack', 'grpc-d');
  ads.send({ type_url: EDS, response_nonce: rejected.nonce, error_detail: { code: 3, message: 'no thanks' } });
  t.equal((await nacked)[1], bad.version);
  const status = mesh.proxy('grpc-d');
  t.match(status.lastNack, { version: bad.version, typeUrl: EDS, errors: ['no thanks'] });
  // After the NACK, the stream tells of z (absent) — but not the rejected CLA again.
  const absent = await ads.next();
  t.same(names(absent), ['a.default'], 'the pending subscription answered from the last good (a differs from it)');
  t.same(absent.removed_resources, ['z.default']);
  ads.send({ type_url: EDS, response_nonce: absent.nonce, error_detail: { code: 3, message: 'still no' } });
  await nextEvent(mesh.controlPlane, 'nack', 'grpc-d');
  const nonce = status.resources![EDS]!.sentNonce;
  await mesh.write('b.yaml', serviceYaml('b', [20002]));
  t.equal(status.resources![EDS]!.sentNonce, nonce, 'the rejected version is not resent on a snapshot that does not change it');

  const fixed = await mesh.write('a.yaml', serviceYaml('a', [20001, 20002]));
  const newer = await ads.next();
  t.equal(newer.type_url, EDS);
  t.same(ports(newer, 'a.default'), [20001, 20002], 'a newer version is sent');
  const acked = nextEvent(mesh.controlPlane, 'ack', 'grpc-d');
  ads.send({ type_url: EDS, response_nonce: newer.nonce });
  t.equal((await acked)[1], fixed.version);
});
