import t from 'tap';
import { validateResource } from '@dubbo-mesh/config';
import {
  ImportedResourceCache,
  REGISTRY_LABEL,
  decodeNodeName,
  encodeNodeName,
  importedServices,
  instanceProviders,
  parseServiceInstance,
  readMetadataInfo,
  readProviderNode,
  serviceNameOf,
  type RegistryProvider,
} from '@dubbo-mesh/registry-bridge';
import {
  DEMO_PROVIDER_REMOTE_METADATA,
  DUBBO_2_7_7_NODE,
  DUBBO_3_0_8_NODE,
  DUBBO_3_1_4_INSTANCE,
  DUBBO_3_2_0_NODE,
  DUBBO_3_3_TRI_NODE,
  DUBBO_TEST_FIXTURE_NODE,
  SAMPLES_BASIC_URL,
} from './fixtures/import-registry.js';

const NOW = Date.parse('2030-01-01T00:00:00Z');
const FOLDER = '/dubbo/x/providers';

function provider(name: string, folder = FOLDER): RegistryProvider {
  const node = readProviderNode(name, folder);
  if (node.provider === undefined) throw new Error(`skipped: ${node.skipped}`);
  return node.provider;
}

/** A provider URL (decoded) as its node. */
function url(text: string, folder = FOLDER): RegistryProvider {
  return provider(encodeNodeName(text), folder);
}

t.test('the fixtures are Java URLEncoder output: decoding and encoding again gives the same name', async (t) => {
  for (const node of [DUBBO_2_7_7_NODE, DUBBO_3_0_8_NODE, DUBBO_3_2_0_NODE, DUBBO_3_3_TRI_NODE, DUBBO_TEST_FIXTURE_NODE]) {
    t.equal(encodeNodeName(decodeNodeName(node)), node);
  }
});

t.test('a Dubbo 2.7.7 provider: one DubboService per application, exact key, labels without volatile parameters', async (t) => {
  const { services, nextWarmUpStepAt } = importedServices([provider(DUBBO_2_7_7_NODE, '/dubbo/com.funnycode.DemoService/providers')], {
    namespace: 'legacy',
    now: NOW,
  });
  t.equal(nextWarmUpStepAt, undefined, 'exported in 2020: warm');
  t.equal(services.length, 1);
  const service = services[0]!;
  t.equal(service.name, 'demoprovider', 'application demoProvider, lower-cased');
  t.same(service.applications, ['demoProvider']);
  t.equal(service.origin, 'zookeeper:/dubbo/com.funnycode.DemoService/providers#demoprovider');
  t.strictSame(service.raw, {
    apiVersion: 'dubbo-mesh.io/v1alpha1',
    kind: 'DubboService',
    metadata: { name: 'demoprovider', namespace: 'legacy' },
    spec: {
      interfaces: [{ interface: 'com.funnycode.DemoService', group: 'tc', version: '1.0.0' }],
      endpoints: [
        {
          address: '127.0.0.1:12345',
          labels: { application: 'demoProvider', [REGISTRY_LABEL]: 'zookeeper', group: 'tc', release: '2.7.7', version: '1.0.0' },
          weight: 100,
        },
      ],
    },
  });
  const validated = validateResource(service.raw);
  t.ok(validated.valid, 'valid for the DubboService schema');
});

t.test('Dubbo 3 URLs: no group or version is the empty string (exact), never left out', async (t) => {
  const { services } = importedServices([provider(DUBBO_3_0_8_NODE), provider(DUBBO_3_2_0_NODE)], { namespace: 'default', now: NOW });
  t.same(
    services.map((service) => service.name),
    ['dubbo-demo-api-provider', 'first-dubbo-provider'],
  );
  const spec = services[1]!.raw.spec as { interfaces: unknown[]; endpoints: Array<{ labels: Record<string, string> }> };
  t.strictSame(spec.interfaces, [{ interface: 'org.apache.dubbo.samples.api.GreetingsService', group: '', version: '' }]);
  t.strictSame(spec.endpoints[0]!.labels, {
    application: 'first-dubbo-provider',
    [REGISTRY_LABEL]: 'zookeeper',
    environment: 'product',
    'prefer.serialization': 'fastjson2,hessian2',
    release: '3.2.0-beta.6-SNAPSHOT',
  });
});

t.test('node names: every skip has its reason, nothing throws', async (t) => {
  const cases: Array<[string, string]> = [
    ['dubbo%3A%2F%2F1.2.3.4%3A20880%2Fa.B%3Fx%3D%ZZ', 'undecodable'],
    ['dubbo%3A%2F%2F1.2.3.4%3A20880%2Fa.B%3Fx%3D%C3', 'undecodable'],
    ['not-a-url-at-all', 'not-a-url'],
    [encodeNodeName('empty://10.0.0.1/a.B?category=providers'), 'empty'],
    [DUBBO_3_3_TRI_NODE, 'protocol'],
    [encodeNodeName('dubbo://1.2.3.4:20880/a.B?application=x&meshed-by=dubbo-mesh'), 'meshed-by'],
    [encodeNodeName('dubbo://1.2.3.4:20880/a.B?application=x&enabled=false'), 'disabled'],
    [encodeNodeName('dubbo://1.2.3.4:20880/a.B?application=x&disabled=true'), 'disabled'],
    [encodeNodeName('dubbo://1.2.3.4:20880/a.B?application=x&category=consumers'), 'not-a-provider'],
    [encodeNodeName('dubbo://1.2.3.4/a.B?application=x'), 'bad-address'],
  ];
  for (const [name, reason] of cases) t.equal(readProviderNode(name, FOLDER).skipped, reason, `${name} → ${reason}`);
  t.ok(readProviderNode(encodeNodeName('dubbo://1.2.3.4:20880/a.B?enabled=true&disabled=false'), FOLDER).provider, 'enabled=true, disabled=false: imported');
});

t.test('a provider without application is named after its interface (Dubbo’s own test fixture)', async (t) => {
  const { services } = importedServices([provider(DUBBO_TEST_FIXTURE_NODE)], { namespace: 'default', now: NOW });
  t.equal(services[0]!.name, 'org.apache.dubbo.demo.demoservice');
  t.same((services[0]!.raw.spec as { endpoints: Array<{ labels: unknown }> }).endpoints[0]!.labels, { [REGISTRY_LABEL]: 'zookeeper', timeout: '3000' });
});

t.test('names are sanitised to Kubernetes names; two applications that sanitise alike share one service', async (t) => {
  t.equal(serviceNameOf('Demo_Provider '), 'demo-provider');
  t.equal(serviceNameOf('--.a.--'), 'a');
  t.equal(serviceNameOf('___'), '');
  t.equal(serviceNameOf('x'.repeat(300)).length, 253);
  const { services } = importedServices(
    [url('dubbo://10.0.0.1:20880/a.A?application=Demo_Provider&interface=a.A'), url('dubbo://10.0.0.2:20880/a.A?application=demo-provider&interface=a.A')],
    { namespace: 'default', now: NOW },
  );
  t.equal(services.length, 1);
  t.same(services[0]!.applications, ['Demo_Provider', 'demo-provider']);
});

t.test('endpoints that provide different keys each list theirs; an address with two versions labels both', async (t) => {
  const providers = [
    url('dubbo://10.0.0.1:20880/a.A?application=app&interface=a.A&version=1.0.0'),
    url('dubbo://10.0.0.1:20880/a.B?application=app&interface=a.B&version=2.0.0'),
    url('dubbo://10.0.0.2:20880/a.A?application=app&interface=a.A&version=1.0.0'),
  ];
  const spec = importedServices(providers, { namespace: 'default', now: NOW }).services[0]!.raw.spec as {
    interfaces: unknown[];
    endpoints: Array<{ address: string; interfaces?: unknown[]; labels: Record<string, string> }>;
  };
  t.strictSame(spec.interfaces, [
    { interface: 'a.A', group: '', version: '1.0.0' },
    { interface: 'a.B', group: '', version: '2.0.0' },
  ]);
  t.strictSame(spec.endpoints[0]!.interfaces, spec.interfaces);
  t.strictSame(spec.endpoints[1]!.interfaces, [{ interface: 'a.A', group: '', version: '1.0.0' }]);
  t.equal(spec.endpoints[0]!.labels.version, '1.0.0,2.0.0');
  const result = validateResource(importedServices(providers, { namespace: 'default', now: NOW }).services[0]!.raw);
  t.ok(result.valid, 'per-endpoint interfaces are keys of the service');

  const same = importedServices(providers.slice(0, 1).concat(url('dubbo://10.0.0.2:20880/a.A?application=app&interface=a.A&version=1.0.0')), {
    namespace: 'default',
    now: NOW,
  }).services[0]!.raw.spec as { endpoints: Array<{ interfaces?: unknown }> };
  t.ok(
    same.endpoints.every((endpoint) => endpoint.interfaces === undefined),
    'all endpoints provide the same keys: none lists its own',
  );
});

t.test('an application seen in both register modes gives each address once; the URL is preferred', async (t) => {
  const instance = parseServiceInstance(Buffer.from(JSON.stringify(DUBBO_3_1_4_INSTANCE)))!;
  const info = readMetadataInfo({
    app: 'first-dubbo-provider',
    revision: 'r1',
    services: {
      'org.apache.dubbo.samples.api.GreetingsService:dubbo': {
        name: 'org.apache.dubbo.samples.api.GreetingsService',
        protocol: 'dubbo',
        port: 20880,
        path: 'org.apache.dubbo.samples.api.GreetingsService',
        params: { application: 'first-dubbo-provider', side: 'provider', release: '3.1.4' },
      },
    },
  })!;
  const appLevel = instanceProviders('first-dubbo-provider', instance, info, '/services/first-dubbo-provider').providers;
  const interfaceLevel = url(
    'dubbo://30.221.146.35:20880/org.apache.dubbo.samples.api.GreetingsService?application=first-dubbo-provider&interface=org.apache.dubbo.samples.api.GreetingsService&release=3.1.4&side=provider&timestamp=1674960780000',
    '/dubbo/org.apache.dubbo.samples.api.GreetingsService/providers',
  );
  const forward = importedServices([...appLevel, interfaceLevel], { namespace: 'default', now: NOW });
  const backward = importedServices([interfaceLevel, ...appLevel], { namespace: 'default', now: NOW });
  t.strictSame(forward, backward, 'order-free');
  const service = forward.services[0]!;
  const spec = service.raw.spec as { endpoints: unknown[] };
  t.equal(spec.endpoints.length, 1, 'one endpoint for the address');
  t.same(service.paths, ['/dubbo/org.apache.dubbo.samples.api.GreetingsService/providers', '/services/first-dubbo-provider']);
});

t.test('application-level: a revision’s services, the port rule, other protocols skipped', async (t) => {
  const instance = parseServiceInstance(Buffer.from(JSON.stringify(DUBBO_3_1_4_INSTANCE)))!;
  t.equal(instance.address, '30.221.146.35');
  t.equal(instance.metadata['dubbo.metadata.storage-type'], 'local');
  const info = readMetadataInfo(JSON.parse(JSON.stringify(DEMO_PROVIDER_REMOTE_METADATA)))!;
  t.equal(info.services.length, 2);
  const { providers, skipped } = instanceProviders('demo-provider', instance, info, '/services/demo-provider');
  t.same(skipped, ['protocol'], 'the rest service');
  t.equal(providers.length, 1);
  t.equal(providers[0]!.port, 20880, 'no service port: the dubbo endpoint');
  t.equal(providers[0]!.group, '');
  t.equal(providers[0]!.version, '');
  const withPort = readMetadataInfo({ services: { k: { name: 'a.A', protocol: 'dubbo', port: 20999, params: {} } } })!;
  t.equal(instanceProviders('x', instance, withPort, '/services/x').providers[0]!.port, 20999, "the service's own port first");
  const noEndpoints = { ...instance, metadata: { timestamp: '5' } };
  const fromInstance = instanceProviders(
    'x',
    noEndpoints,
    readMetadataInfo({ services: { k: { name: 'a.A', protocol: 'dubbo', params: {} } } })!,
    '/services/x',
  );
  t.equal(fromInstance.providers[0]!.port, 20880, "else the instance's port");
  t.equal(fromInstance.providers[0]!.parameters.timestamp, '5', "warm-up reads the instance's timestamp");
  t.same(
    readMetadataInfo({ services: { 'g1/a.B:1.0.0:dubbo': {} } })!.services[0],
    { name: 'a.B', group: 'g1', version: '1.0.0', protocol: 'dubbo', port: 0, params: {} },
    'a bare key',
  );
  t.equal(parseServiceInstance(Buffer.from('not json')), undefined);
  t.equal(parseServiceInstance(Buffer.from('{"address":"1.2.3.4"}')), undefined, 'no port');
  t.equal(instanceProviders('x', instance, readMetadataInfo({ services: { k: { name: 'a.A', params: { 'meshed-by': 'dubbo-mesh' } } } })!, '/s').meshed, true);
});

t.test('same providers in any order → deep-equal output', async (t) => {
  const providers = Array.from({ length: 30 }, (_, i) =>
    url(`dubbo://10.0.${i % 3}.${i}:20880/a.I${i % 4}?application=app${i % 5}&interface=a.I${i % 4}&version=${i % 2}.0&weight=${10 + i}`),
  );
  const a = importedServices(providers, { namespace: 'default', now: NOW });
  const b = importedServices([...providers].reverse(), { namespace: 'default', now: NOW });
  t.strictSame(a, b);
  t.equal(a.services.length, 5);
});

t.test('the resource cache keeps the same objects for unchanged content', async (t) => {
  const cache = new ImportedResourceCache();
  const one = [url('dubbo://10.0.0.1:20880/a.A?application=a&interface=a.A'), url('dubbo://10.0.0.1:20880/b.B?application=b&interface=b.B')];
  const first = cache.resolve(importedServices(one, { namespace: 'default', now: NOW }).services);
  t.equal(first.resources.length, 2);
  t.equal(first.resources[0]!.mergeable, true);
  t.equal(first.resources[0]!.origin, 'zookeeper:/dubbo/x/providers#a');
  t.equal(first.resources[0]!.resource.kind, 'DubboService');
  const again = cache.resolve(importedServices([...one].reverse(), { namespace: 'default', now: NOW }).services);
  t.equal(again.resources[0], first.resources[0], 'same LocatedResource');
  t.equal(again.resources[0]!.raw, first.resources[0]!.raw, 'same raw');
  const changed = cache.resolve(
    importedServices([one[0]!, url('dubbo://10.0.0.2:20880/b.B?application=b&interface=b.B')], { namespace: 'default', now: NOW }).services,
  );
  t.equal(changed.resources[0], first.resources[0], 'the untouched application keeps its object');
  t.not(changed.resources[1], first.resources[1], 'the changed one is new');
  const moved = cache.resolve(
    importedServices([url('dubbo://10.0.0.1:20880/a.A?application=a&interface=a.A', '/dubbo/y/providers'), one[1]!], { namespace: 'default', now: NOW })
      .services,
  );
  t.not(moved.resources[0], first.resources[0]);
  t.equal(moved.resources[0]!.raw, first.resources[0]!.raw, 'same content from another path: same raw');
  t.equal(moved.resources[0]!.origin, 'zookeeper:/dubbo/y/providers#a');
});

t.test('the sample basic provider (PEERS.md) with a weight and a restarted twin at the same address', async (t) => {
  const old = url(SAMPLES_BASIC_URL.replace('timestamp=1618918522655', 'timestamp=1618918000000').replace('pid=6', 'pid=5') + '&weight=7');
  const current = url(SAMPLES_BASIC_URL + '&weight=40');
  const spec = importedServices([old, current], { namespace: 'default', now: NOW }).services[0]!.raw.spec as {
    endpoints: Array<{ weight: number; labels: Record<string, string> }>;
  };
  t.equal(spec.endpoints.length, 1);
  t.equal(spec.endpoints[0]!.weight, 40, 'the newer export is the live one');
  t.equal(spec.endpoints[0]!.labels.weight, '40');
  t.equal(spec.endpoints[0]!.labels.default, 'true');
});
