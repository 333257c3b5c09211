import * as grpc from '@grpc/grpc-js';
import t from 'tap';
import { startControlPlaneAdmin } from '@dubbo-mesh/control-plane';
import { TYPE_URLS, type XdsDiscoveryResponse } from '@dubbo-mesh/envoy-xds';
import { RawAds, namesOf, nextEvent, routeYaml, serviceYaml, startMesh, xdsNode } from './fixtures/raw-ads.js';

const { listener: LDS, cluster: CDS, clusterLoadAssignment: EDS, dubboRoutes: DRDS, routeConfiguration: RDS } = TYPE_URLS;

/** Ports of a CLA in a response. */
function ports(response: XdsDiscoveryResponse, name: string): number[] {
  const cla = response.resources.find((r) => r.cluster_name === name) as
    { endpoints: Array<{ lb_endpoints: Array<{ endpoint: { address: { socket_address: { port_value: number } } } }> }> } | undefined;
  return cla === undefined ? [] : cla.endpoints.flatMap((l) => l.lb_endpoints.map((e) => e.endpoint.address.socket_address.port_value));
}

t.test('an Envoy sidecar: wildcard LDS/CDS, EDS and drds by name, ACKs per type, one endpoint change sends one CLA', async (t) => {
  const mesh = await startMesh(t, { 'a.yaml': serviceYaml('a', [20001]), 'b.yaml': serviceYaml('b', [20002]) });
  const first = mesh.controlPlane.snapshot!.version;
  const ads = new RawAds(t, mesh.port, 'sotw');
  const opened = nextEvent(mesh.controlPlane, 'stream-open', 'envoy-1');
  ads.send({ node: xdsNode('envoy-1', true), type_url: LDS });
  await opened;
  const lds = await ads.next();
  t.equal(lds.type_url, LDS);
  t.equal(lds.nonce, '1', 'a nonce per response');
  t.same(namesOf(lds), ['dubbo_outbound'], 'the empty first request is a wildcard: every listener');
  ads.send({ type_url: CDS });
  const cds = await ads.next();
  t.same(namesOf(cds).sort(), ['a.default', 'b.default'], 'every cluster');
  t.equal(cds.nonce, '2');
  t.not(cds.version_info, lds.version_info, 'a version per type');
  const acked = nextEvent(mesh.controlPlane, 'ack', 'envoy-1');
  ads.send({ type_url: LDS, version_info: lds.version_info, response_nonce: lds.nonce });
  ads.send({ type_url: CDS, version_info: cds.version_info, response_nonce: cds.nonce });
  t.equal((await acked)[1] as string, first, 'the ack event once every subscribed type ACKed the snapshot');
  ads.send({ type_url: EDS, resource_names: ['a.default', 'missing.default'] });
  const eds = await ads.next();
  t.same(namesOf(eds), ['a.default'], 'EDS by name: only what is subscribed, a missing name is just absent');
  t.same(ports(eds, 'a.default'), [20001]);
  t.equal(mesh.proxy('envoy-1').ackedVersion, first, 'a type subscribed later does not take the ACK back');
  ads.send({ type_url: EDS, resource_names: ['a.default', 'missing.default'], version_info: eds.version_info, response_nonce: eds.nonce });

  const status = mesh.proxy('envoy-1');
  t.equal(status.api, 'envoy-ads');
  t.equal(status.kind, 'envoy-sidecar');
  t.equal(status.node.role, 'PROXY');
  t.equal(status.ackedVersion, first);
  t.equal(status.sentVersion, first);
  t.same(status.resources![LDS]!.subscribed, ['*']);
  t.same(status.resources![EDS]!.subscribed, ['a.default', 'missing.default']);
  t.equal(status.resources![CDS]!.ackedVersion, cds.version_info);
  t.equal(status.resources![EDS]!.sentNonce, eds.nonce);

  // drds by name, as dubbo_proxy asks for it.
  ads.send({ type_url: DRDS, resource_names: ['dubbo_outbound'] });
  const drds = await ads.next();
  t.same(namesOf(drds), ['dubbo_outbound']);
  ads.send({ type_url: DRDS, resource_names: ['dubbo_outbound'], version_info: drds.version_info, response_nonce: drds.nonce });

  // One endpoint change: one response, for EDS, with the one CLA that changed.
  const cdsNonce = status.resources![CDS]!.sentNonce;
  const ldsNonce = status.resources![LDS]!.sentNonce;
  const second = await mesh.write('a.yaml', serviceYaml('a', [20001, 20003]));
  const change = await ads.next();
  t.equal(change.type_url, EDS);
  t.same(namesOf(change), ['a.default'], 'only the CLA that changed (EDS responses need not repeat the others)');
  t.same(ports(change, 'a.default'), [20001, 20003]);
  t.equal(status.resources![CDS]!.sentNonce, cdsNonce, 'nothing sent for CDS: nothing changed for it');
  t.equal(status.resources![LDS]!.sentNonce, ldsNonce, 'nor for LDS');
  const ack2 = nextEvent(mesh.controlPlane, 'ack', 'envoy-1');
  ads.send({ type_url: EDS, resource_names: ['a.default', 'missing.default'], version_info: change.version_info, response_nonce: change.nonce });
  t.equal((await ack2)[1] as string, second.version);
  t.equal(mesh.controlPlane.lastConvergence?.version, second.version);
  t.ok(mesh.controlPlane.lastConvergence?.convergedMs !== undefined, 'the push converged: every proxy ACKed it');

  // A new name subscribed: its CLA comes (by name), with no other change.
  ads.send({ type_url: EDS, resource_names: ['a.default', 'b.default'], version_info: change.version_info, response_nonce: change.nonce });
  const added = await ads.next();
  t.same(namesOf(added), ['b.default'], 'the newly subscribed CLA');
  ads.send({ type_url: EDS, resource_names: ['a.default', 'b.default'], version_info: added.version_info, response_nonce: added.nonce });

  // A cluster removed: CDS (whole state) goes out without it.
  const third = await mesh.write('b.yaml', serviceYaml('a2', [20004]));
  const removed = await ads.next();
  t.equal(removed.type_url, CDS);
  t.same(namesOf(removed).sort(), ['a.default', 'a2.default'], 'the whole state of clusters, without b');
  ads.send({ type_url: CDS, version_info: removed.version_info, response_nonce: removed.nonce });
  const more = await ads.next();
  t.equal(more.type_url, DRDS, 'then the routes that changed with it (after the CDS ACK: one response per type in flight)');
  const ack3 = nextEvent(mesh.controlPlane, 'ack', 'envoy-1');
  ads.send({ type_url: DRDS, resource_names: ['dubbo_outbound'], version_info: more.version_info, response_nonce: more.nonce });
  t.equal((await ack3)[1] as string, third.version);
  t.equal(ads.pending, 0, 'nothing else was sent');
});

t.test('stale nonces are ignored; a NACK is recorded, not resent, and a newer version is sent', async (t) => {
  const mesh = await startMesh(t, { 'a.yaml': serviceYaml('a', [20001]) });
  const admin = await startControlPlaneAdmin(mesh.controlPlane, '127.0.0.1', 0);
  t.teardown(() => admin.server.close());
  const ads = new RawAds(t, mesh.port, 'sotw');
  ads.send({ node: xdsNode('envoy-2', true), type_url: CDS });
  const cds = await ads.next();
  ads.send({ type_url: CDS, version_info: cds.version_info, response_nonce: cds.nonce });
  ads.send({ type_url: EDS, resource_names: ['a.default'] });
  const eds = await ads.next();
  const acked = nextEvent(mesh.controlPlane, 'ack', 'envoy-2');
  ads.send({ type_url: EDS, resource_names: ['a.default'], version_info: eds.version_info, response_nonce: eds.nonce });
  await acked;
  const good = mesh.controlPlane.snapshot!.version;

  const bad = await mesh.write('a.yaml', serviceYaml('a', [20009]));
  const rejected = await ads.next();
  t.equal(rejected.type_url, EDS);
  // An answer to an older response (with an error, even): stale, ignored — no NACK recorded.
  const stale = nextEvent(mesh.controlPlane, 'stale', 'envoy-2');
  ads.send({
    type_url: EDS,
    resource_names: ['a.default'],
    version_info: eds.version_info,
    response_nonce: eds.nonce,
    error_detail: { code: 3, message: 'late' },
  });
  await stale;
  t.equal(mesh.proxy('envoy-2').lastNack, undefined, 'a stale request records nothing');
  ads.send({ type_url: EDS, resource_names: ['a.default'], version_info: eds.version_info, response_nonce: '', error_detail: null });
  await nextEvent(mesh.controlPlane, 'stale', 'envoy-2');
  t.pass('an empty nonce once the type was answered is stale too');

  const nacked = nextEvent(mesh.controlPlane, 'nack', 'envoy-2');
  ads.send({
    type_url: EDS,
    resource_names: ['a.default'],
    version_info: eds.version_info,
    response_nonce: rejected.nonce,
    error_detail: { code: 3, message: 'endpoint 127.0.0.1:20009 refused' },
  });
  const [, nackVersion, errors] = await nacked;
  t.equal(nackVersion, bad.version, 'the NACK names the snapshot the response came from');
  t.same(errors, ['endpoint 127.0.0.1:20009 refused']);
  const status = mesh.proxy('envoy-2');
  t.match(status.lastNack, { version: bad.version, typeUrl: EDS, message: `${EDS}: endpoint 127.0.0.1:20009 refused` });
  t.equal(status.resources![EDS]!.lastNack, status.lastNack, 'recorded on its type too');
  t.equal(status.ackedVersion, good, 'the proxy keeps its last good snapshot');
  t.equal(status.resources![EDS]!.ackedVersion, eds.version_info);
  const listed = (await (await fetch(`http://127.0.0.1:${admin.port}/api/v1/proxies`)).json()) as Array<Record<string, unknown>>;
  t.match(listed[0], {
    node: { id: 'envoy-2', role: 'PROXY' },
    api: 'envoy-ads',
    kind: 'envoy-sidecar',
    ackedVersion: good,
    sentVersion: bad.version,
    lastNack: { version: bad.version, typeUrl: EDS, errors: ['endpoint 127.0.0.1:20009 refused'] },
    resources: {
      [EDS]: { subscribed: ['a.default'], subscribedCount: 1, ackedVersion: eds.version_info, lastNack: { version: bad.version } },
      [CDS]: { subscribed: ['*'], ackedVersion: cds.version_info, lastNack: null },
    },
    untranslated: [],
  });

  // A snapshot that changes only routes: the rejected CLA is not sent again.
  const edsNonce = status.resources![EDS]!.sentNonce;
  const routed = await mesh.write('r.yaml', routeYaml('r1', 'a'));
  t.equal(status.resources![EDS]!.sentNonce, edsNonce, 'the rejected version is not resent');
  t.same(status.untranslated, ['DubboRoute default/r1: spec.routes: the test translator translates no route rules'], "the node's untranslated list");
  t.equal(status.settledVersion, routed.version, 'nothing more to send for it: it holds its last good');
  t.equal(mesh.controlPlane.lastConvergence?.version, routed.version);
  t.ok(mesh.controlPlane.lastConvergence?.convergedMs !== undefined, 'so the push converged');

  // A newer endpoint version is sent, from what the proxy holds.
  const fixed = await mesh.write('a.yaml', serviceYaml('a', [20001, 20002]));
  const newer = await ads.next();
  t.equal(newer.type_url, EDS);
  t.same(ports(newer, 'a.default'), [20001, 20002]);
  t.equal(status.sentVersion, fixed.version);
  const acked2 = nextEvent(mesh.controlPlane, 'ack', 'envoy-2');
  ads.send({ type_url: EDS, resource_names: ['a.default'], version_info: newer.version_info, response_nonce: newer.nonce });
  t.equal((await acked2)[1] as string, fixed.version);
  t.equal(status.lastNack?.version, bad.version, 'the last NACK stays listed');
});

t.test('a proxyless client subscribes by name; a reconnecting client holding the version is not sent it again', async (t) => {
  const mesh = await startMesh(t, { 'a.yaml': serviceYaml('a', [20001]), 'b.yaml': serviceYaml('b', [20002]) });
  const ads = new RawAds(t, mesh.port, 'sotw');
  ads.send({ node: xdsNode('grpc-1', false), type_url: LDS, resource_names: ['a.default'] });
  const lds = await ads.next();
  t.same(namesOf(lds), ['a.default'], 'only the listener named');
  t.equal(
    (lds.resources[0] as { api_listener: { api_listener: { rds: { route_config_name: string } } } }).api_listener.api_listener.rds.route_config_name,
    'a.default',
  );
  t.equal(mesh.proxy('grpc-1').kind, 'proxyless');
  ads.send({ type_url: LDS, resource_names: ['a.default'], version_info: lds.version_info, response_nonce: lds.nonce });
  ads.send({ type_url: RDS, resource_names: ['a.default'] });
  t.same(namesOf(await ads.next()), ['a.default']);

  // A listener that does not exist: LDS is whole-state, so a response without it tells the client.
  ads.send({ type_url: LDS, resource_names: ['a.default', 'nope.default'], version_info: lds.version_info, response_nonce: lds.nonce });
  const absent = await ads.next();
  t.equal(absent.type_url, LDS);
  t.same(namesOf(absent), ['a.default'], 'the whole subscribed state: the missing one is absent');

  // Reconnect, holding the current wildcard CDS version: nothing to send for it.
  const other = new RawAds(t, mesh.port, 'sotw');
  other.send({ node: xdsNode('grpc-2', false), type_url: CDS });
  const cds = await other.next();
  other.close();
  const again = new RawAds(t, mesh.port, 'sotw');
  again.send({ node: xdsNode('grpc-2', false), type_url: CDS, version_info: cds.version_info });
  again.send({ type_url: EDS, resource_names: ['b.default'] });
  const next = await again.next();
  t.equal(next.type_url, EDS, 'the first response is EDS: CDS was not resent');
  t.equal(next.nonce, '1');
});

t.test('an invalid node or a request without a type ends the stream with INVALID_ARGUMENT naming the field', async (t) => {
  const mesh = await startMesh(t, { 'a.yaml': serviceYaml('a', [20001]) });
  const bad = new RawAds(t, mesh.port, 'sotw');
  bad.send({ node: xdsNode('x', false, { DUBBO_MESH_ROLE: 'gateway' }), type_url: LDS });
  const status = await bad.ended;
  t.equal(status.code, grpc.status.INVALID_ARGUMENT);
  t.match(status.details, /^node\.metadata\.DUBBO_MESH_ROLE: must be 'proxy'/);
  const none = new RawAds(t, mesh.port, 'delta');
  none.send({ type_url: LDS });
  t.match(await none.ended, { code: grpc.status.INVALID_ARGUMENT, details: /^node\.id: required/ });
  const typeless = new RawAds(t, mesh.port, 'sotw');
  typeless.send({ node: xdsNode('y', true) });
  t.match(await typeless.ended, { code: grpc.status.INVALID_ARGUMENT, details: /^type_url: required/ });
  t.same(mesh.controlPlane.proxies(), [], 'none of them is a connected proxy');
});
