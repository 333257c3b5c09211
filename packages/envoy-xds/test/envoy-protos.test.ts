import t from 'tap';
import {
  FILTER_TYPE_URLS,
  adsClientConstructor,
  TYPE_URLS,
  adsServiceDefinition,
  decodeAny,
  encodeAny,
  PreEncodedXdsResponse,
  type XdsDiscoveryResponse,
} from '@dubbo-mesh/envoy-xds';

t.test('a resource encodes as an Any and decodes back with Envoy protos', async (t) => {
  const listener = {
    name: 'dubbo_outbound',
    address: { socket_address: { address: '127.0.0.1', port_value: 20881 } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.dubbo_proxy',
            typed_config: {
              '@type': FILTER_TYPE_URLS.dubboProxy,
              stat_prefix: 'outbound',
              drds: { config_source: { ads: {} }, route_config_name: 'dubbo_outbound' },
            },
          },
        ],
      },
    ],
  };
  const any = encodeAny(TYPE_URLS.listener, listener);
  const back = decodeAny(any) as {
    '@type': string;
    name: string;
    address: { socket_address: { port_value: number } };
    filter_chains: Array<{ filters: Array<{ typed_config: { drds: { route_config_name: string } } }> }>;
  };
  t.equal(back['@type'], TYPE_URLS.listener);
  t.equal(back.name, 'dubbo_outbound');
  t.equal(back.address.socket_address.port_value, 20881);
  t.equal(back.filter_chains[0]!.filters[0]!.typed_config.drds.route_config_name, 'dubbo_outbound');
});

t.test('a pre-encoded response is the shared bytes and the nonce, as the whole message would be', async (t) => {
  const method = adsServiceDefinition().StreamAggregatedResources!;
  const any = encodeAny(TYPE_URLS.cluster, { name: 'c1', type: 'EDS' });
  const shared = Buffer.concat([
    method.responseSerialize({ version_info: 'v1', type_url: TYPE_URLS.cluster, resources: [] }),
    Buffer.from([0x12, any.length]),
    any,
  ]);
  const bytes = method.responseSerialize(new PreEncodedXdsResponse(shared, '7'));
  const decoded = method.responseDeserialize(bytes) as XdsDiscoveryResponse;
  t.equal(decoded.version_info, 'v1');
  t.equal(decoded.nonce, '7');
  t.equal(decoded.type_url, TYPE_URLS.cluster);
  t.equal(decoded.resources.length, 1);
  t.equal(decoded.resources[0]!.name, 'c1');
  t.throws(() => new PreEncodedXdsResponse(shared, 'x'.repeat(128)).encode(), RangeError);
});

t.test('the server definition (protos loaded on the first message) names the methods as Envoy protos do', async (t) => {
  const lazy = adsServiceDefinition();
  const loaded = adsClientConstructor().service;
  for (const name of ['StreamAggregatedResources', 'DeltaAggregatedResources']) {
    t.equal(lazy[name]!.path, loaded[name]!.path);
    t.equal(lazy[name]!.requestStream, loaded[name]!.requestStream);
    t.equal(lazy[name]!.responseStream, loaded[name]!.responseStream);
  }
  t.same(Object.keys(lazy).sort(), Object.keys(loaded).sort());
});
