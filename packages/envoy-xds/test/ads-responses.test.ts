import { createHash } from 'node:crypto';
import t from 'tap';
import {
  AdsResponses,
  AdsSubscription,
  HOLDS_NOTHING,
  PreEncodedXdsResponse,
  TYPE_URLS,
  adsServiceDefinition,
  diffResources,
  encodeAny,
  type EnvoyResource,
  type EnvoyTypeResources,
  type XdsDeltaDiscoveryResponse,
  type XdsDiscoveryResponse,
} from '@dubbo-mesh/envoy-xds';

const { clusterLoadAssignment: EDS, cluster: CDS, listener: LDS } = TYPE_URLS;

function cla(name: string, port: number): EnvoyResource {
  const any = encodeAny(EDS, {
    cluster_name: name,
    endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '10.0.0.1', port_value: port } } } }] }],
  });
  return { name, version: createHash('sha256').update(any).digest('hex').slice(0, 12), any };
}

function typed(typeUrl: string, resources: EnvoyResource[]): EnvoyTypeResources {
  return { typeUrl, version: resources.map((r) => `${r.name}@${r.version}`).join(',') || 'none', byName: new Map(resources.map((r) => [r.name, r])) };
}

const sotw = adsServiceDefinition().StreamAggregatedResources!;
const delta = adsServiceDefinition().DeltaAggregatedResources!;

t.test('subscriptions: the legacy wildcard of LDS/CDS, explicit *, names replaced (SotW) or changed (delta)', async (t) => {
  const legacy = AdsSubscription.stateOfTheWorld(undefined, CDS, []);
  t.ok(legacy.wildcard && legacy.legacy, 'an empty first CDS request is a wildcard');
  t.equal(AdsSubscription.stateOfTheWorld(legacy, CDS, []), legacy, 'and stays one while requests name nothing');
  const named = AdsSubscription.stateOfTheWorld(legacy, CDS, ['a']);
  t.notOk(named.wildcard, 'naming something ends the legacy wildcard');
  t.same(named.list, ['a']);
  t.notOk(AdsSubscription.stateOfTheWorld(named, CDS, []).wildcard, 'after which an empty list is nothing');
  t.notOk(AdsSubscription.stateOfTheWorld(undefined, EDS, []).wildcard, 'EDS is asked for by name');
  const star = AdsSubscription.stateOfTheWorld(undefined, EDS, ['*', 'x']);
  t.ok(star.wildcard && star.covers('anything'));
  t.same(star.list, ['*', 'x']);
  const again = AdsSubscription.stateOfTheWorld(named, CDS, ['a']);
  t.equal(again, named, 'an ACK repeating the names keeps the subscription object');
  t.equal(
    AdsSubscription.stateOfTheWorld(undefined, EDS, ['b', 'a']).key,
    AdsSubscription.stateOfTheWorld(undefined, EDS, ['a', 'b']).key,
    'equal sets, equal keys',
  );
  const many = Array.from({ length: 500 }, (_, i) => `service-${i}.default`);
  t.equal(AdsSubscription.stateOfTheWorld(undefined, EDS, many).key, AdsSubscription.stateOfTheWorld(undefined, EDS, [...many].reverse()).key, 'also hashed');
  t.not(AdsSubscription.stateOfTheWorld(undefined, EDS, many).key, AdsSubscription.stateOfTheWorld(undefined, EDS, many.slice(1)).key);

  const d = AdsSubscription.delta(undefined, LDS, [], []);
  t.ok(d.wildcard && d.legacy, 'delta: subscribing to nothing first on LDS is a wildcard');
  const d2 = AdsSubscription.delta(d, LDS, ['extra'], []);
  t.ok(d2.wildcard && d2.covers('extra') && !d2.legacy, 'naming a resource keeps the wildcard (only unsubscribing * ends it)');
  const d3 = AdsSubscription.delta(d2, LDS, [], ['*']);
  t.notOk(d3.wildcard);
  t.same(d3.list, ['extra']);
  t.same(AdsSubscription.delta(d3, LDS, [], ['extra']).list, [], 'unsubscribed');
  t.notOk(AdsSubscription.delta(undefined, EDS, [], []).wildcard, 'EDS has no legacy wildcard');
});

t.test('the diff from what a client holds: changed, removed, and names that do not exist told once', async (t) => {
  const a1 = cla('a', 1);
  const a2 = cla('a', 2);
  const b = cla('b', 3);
  const before = typed(EDS, [a1, b]);
  const after = typed(EDS, [a2]);
  const sub = AdsSubscription.stateOfTheWorld(undefined, EDS, ['a', 'b', 'ghost']);
  const fresh = diffResources(after, sub, HOLDS_NOTHING);
  t.same(
    fresh.changed.map((r) => r.name),
    ['a'],
  );
  t.same(fresh.removed, ['b', 'ghost'], 'holding nothing: every absent name asked for');
  const fromView = diffResources(after, sub, { kind: 'view', resources: before, subscription: sub });
  t.same(
    fromView.changed.map((r) => r.version),
    [a2.version],
  );
  t.same(fromView.removed, ['b'], 'b held and gone; ghost was already known absent');
  const fromVersions = diffResources(after, sub, { kind: 'versions', versions: new Map([['a', a2.version]]) });
  t.same(fromVersions.changed, [], 'a reconnecting client holding a at its version');
  t.same(fromVersions.removed, ['b', 'ghost']);
  const same = diffResources(before, sub, { kind: 'view', resources: before, subscription: sub });
  t.same([same.changed, same.removed], [[], []], 'nothing when nothing changed');
});

t.test('responses are encoded once for every stream that needs the same, and decode with Envoy protos', async (t) => {
  const responses = new AdsResponses();
  const a1 = cla('a', 1);
  const before = typed(EDS, [a1, cla('b', 2)]);
  const after = typed(EDS, [cla('a', 5), before.byName.get('b')!]);
  const held = AdsSubscription.stateOfTheWorld(undefined, EDS, ['a', 'b']);
  // A thousand streams, each with its own (equal) subscription object, holding the same.
  const got = new Set(
    Array.from({ length: 1000 }, () => {
      const subscription = AdsSubscription.stateOfTheWorld(undefined, EDS, ['b', 'a']);
      return responses.response('sotw-changed', after, subscription, { kind: 'view', resources: before, subscription: held });
    }),
  );
  t.equal(got.size, 1, 'one response object (one diff, one encoding) for a thousand streams');
  const [shared] = [...got];
  t.equal(shared!.resources, 1);
  const decoded = sotw.responseDeserialize(sotw.responseSerialize(new PreEncodedXdsResponse(shared!.bytes, '42'))) as XdsDiscoveryResponse;
  t.equal(decoded.nonce, '42');
  t.equal(decoded.version_info, after.version);
  t.equal(decoded.type_url, EDS);
  t.same(
    decoded.resources.map((r) => r.cluster_name),
    ['a'],
    'only what changed (EDS)',
  );

  const whole = responses.response('sotw-whole', typed(CDS, []), AdsSubscription.stateOfTheWorld(undefined, CDS, []), HOLDS_NOTHING);
  t.equal(whole.resources, 0);
  t.notOk(whole.changes, 'nothing to tell a client that holds nothing of an empty type (sent anyway as its first)');

  const d = responses.response('delta', after, AdsSubscription.delta(undefined, EDS, ['a', 'ghost'], []), HOLDS_NOTHING);
  const deltaDecoded = delta.responseDeserialize(delta.responseSerialize(new PreEncodedXdsResponse(d.bytes, '7'))) as XdsDeltaDiscoveryResponse;
  t.equal(deltaDecoded.nonce, '7');
  t.equal(deltaDecoded.system_version_info, after.version);
  t.same(deltaDecoded.removed_resources, ['ghost']);
  t.equal(deltaDecoded.resources.length, 1);
  t.equal(deltaDecoded.resources[0]!.name, 'a');
  t.equal(deltaDecoded.resources[0]!.version, after.byName.get('a')!.version);
  t.match(deltaDecoded.resources[0]!.resource, { '@type': EDS, cluster_name: 'a' });
  t.not(d.content, shared!.content);
  t.equal(responses.response('delta', after, AdsSubscription.delta(undefined, EDS, ['ghost', 'a'], []), HOLDS_NOTHING), d, 'cached: the same object');
});
