import t from 'tap';
import { DEFAULT_OUTBOUND, nodeShapeKey, readEnvoyNode, type XdsNode, type XdsStructValue } from '@dubbo-mesh/envoy-xds';

const text = (value: string): XdsStructValue => ({ kind: 'string_value', string_value: value });
const node = (fields: Record<string, XdsStructValue>, extra: Partial<XdsNode> = {}): XdsNode => ({
  id: 'n1',
  cluster: 'orders',
  metadata: { fields },
  ...extra,
});

t.test('a node without a role is a proxyless client; its service defaults to node.cluster', async (t) => {
  const read = readEnvoyNode(node({}));
  t.ok(read.valid);
  if (!read.valid) return;
  t.equal(read.node.kind, 'proxyless');
  t.same(read.node.wire, { id: 'n1', service: 'orders', namespace: 'default', labels: {}, role: 'PROXY' });
  t.same(read.node.outbound, DEFAULT_OUTBOUND);
  t.equal(nodeShapeKey(read.node), 'proxyless');
});

t.test('an Envoy sidecar with identity, labels, outbound and inbound', async (t) => {
  const read = readEnvoyNode(
    node({
      DUBBO_MESH_ROLE: text('proxy'),
      DUBBO_MESH_SERVICE: text('users'),
      DUBBO_MESH_NAMESPACE: text('shop'),
      DUBBO_MESH_LABELS: { kind: 'struct_value', struct_value: { fields: { version: text('v2') } } },
      DUBBO_MESH_OUTBOUND: text('127.0.0.1:20001'),
      DUBBO_MESH_INBOUND: text('0.0.0.0:20891'),
      DUBBO_MESH_INBOUND_TARGET: text('[::1]:20880'),
    }),
  );
  t.ok(read.valid);
  if (!read.valid) return;
  t.equal(read.node.kind, 'envoy-sidecar');
  t.same(read.node.wire, { id: 'n1', service: 'users', namespace: 'shop', labels: { version: 'v2' }, role: 'PROXY' });
  t.same(read.node.outbound, { host: '127.0.0.1', port: 20001 });
  t.same(read.node.inbound, { listen: { host: '0.0.0.0', port: 20891 }, target: { host: '::1', port: 20880 } });
  t.equal(nodeShapeKey(read.node), 'sidecar 127.0.0.1:20001 0.0.0.0:20891>::1:20880');
});

t.test('bad nodes are refused naming the field', async (t) => {
  const cases: Array<[XdsNode | null, RegExp]> = [
    [null, /^node\.id: required/],
    [node({}, { id: '' }), /^node\.id: required/],
    [node({ DUBBO_MESH_ROLE: text('gateway') }), /^node\.metadata\.DUBBO_MESH_ROLE: must be 'proxy' .* got 'gateway'/],
    [node({ DUBBO_MESH_ROLE: { kind: 'number_value', number_value: 1 } }), /^node\.metadata\.DUBBO_MESH_ROLE: must be a string/],
    [node({ DUBBO_MESH_OUTBOUND: text('nowhere') }), /^node\.metadata\.DUBBO_MESH_OUTBOUND: must be host:port, got 'nowhere'/],
    [node({ DUBBO_MESH_OUTBOUND: text('127.0.0.1:70000') }), /^node\.metadata\.DUBBO_MESH_OUTBOUND: must be host:port/],
    [node({ DUBBO_MESH_INBOUND: text('0.0.0.0:20891') }), /^node\.metadata: DUBBO_MESH_INBOUND and DUBBO_MESH_INBOUND_TARGET go together/],
    [
      node({ DUBBO_MESH_INBOUND: text('0.0.0.0:20891'), DUBBO_MESH_INBOUND_TARGET: text('x') }),
      /^node\.metadata\.DUBBO_MESH_INBOUND_TARGET: must be host:port, got 'x'/,
    ],
    [node({ DUBBO_MESH_LABELS: text('a=b') }), /^node\.metadata\.DUBBO_MESH_LABELS: must be a map of strings/],
    [
      node({ DUBBO_MESH_LABELS: { kind: 'struct_value', struct_value: { fields: { a: { kind: 'bool_value', bool_value: true } } } } }),
      /^node\.metadata\.DUBBO_MESH_LABELS\.a: must be a string/,
    ],
  ];
  for (const [input, expected] of cases) {
    const read = readEnvoyNode(input);
    t.notOk(read.valid, String(expected));
    if (!read.valid) t.match(read.error, expected);
  }
});
