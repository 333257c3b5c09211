import t from 'tap';
import { DEFAULT_OUTBOUND, nodeShapeKey, readEnvoyNode } from '@dubbo-mesh/envoy-xds';
import { xdsNode } from './fixtures/xds-node.js';

// Every node is encoded in a real request with Envoy's protos and decoded again: what a server reads.

t.test('a node without a role is a proxyless client; its service defaults to node.cluster', async (t) => {
  const read = readEnvoyNode(xdsNode('n1', 'orders'));
  t.ok(read.valid);
  if (!read.valid) return;
  t.equal(read.node.kind, 'proxyless');
  t.same(read.node.wire, { id: 'n1', service: 'orders', namespace: 'default', labels: {}, role: 'PROXY' });
  t.same(read.node.outbound, DEFAULT_OUTBOUND);
  t.equal(nodeShapeKey(read.node), 'proxyless');
});

t.test('an Envoy sidecar with identity, labels, outbound and inbound', async (t) => {
  const read = readEnvoyNode(
    xdsNode('n1', 'orders', {
      DUBBO_MESH_ROLE: 'proxy',
      DUBBO_MESH_SERVICE: 'users',
      DUBBO_MESH_NAMESPACE: 'shop',
      DUBBO_MESH_LABELS: { version: 'v2' },
      DUBBO_MESH_OUTBOUND: '127.0.0.1:20001',
      DUBBO_MESH_INBOUND: '0.0.0.0:20891',
      DUBBO_MESH_INBOUND_TARGET: '[::1]:20880',
    }),
  );
  t.ok(read.valid, read.valid ? '' : read.error);
  if (!read.valid) return;
  t.equal(read.node.kind, 'envoy-sidecar');
  t.same(read.node.wire, { id: 'n1', service: 'users', namespace: 'shop', labels: { version: 'v2' }, role: 'PROXY' });
  t.same(read.node.outbound, { host: '127.0.0.1', port: 20001 });
  t.same(read.node.inbound, { listen: { host: '0.0.0.0', port: 20891 }, target: { host: '::1', port: 20880 } });
  t.equal(nodeShapeKey(read.node), 'sidecar 127.0.0.1:20001 0.0.0.0:20891>::1:20880');
});

t.test('a null metadata value reads as absent', async (t) => {
  const read = readEnvoyNode(xdsNode('n1', 'orders', { DUBBO_MESH_ROLE: null }));
  t.ok(read.valid);
  if (read.valid) t.equal(read.node.kind, 'proxyless');
});

t.test('bad nodes are refused naming the field', async (t) => {
  t.match(readEnvoyNode(null), { valid: false, error: /^node\.id: required/ });
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['', {}, /^node\.id: required/],
    ['n1', { DUBBO_MESH_ROLE: 'gateway' }, /^node\.metadata\.DUBBO_MESH_ROLE: must be 'proxy' .* got 'gateway'/],
    ['n1', { DUBBO_MESH_ROLE: 1 }, /^node\.metadata\.DUBBO_MESH_ROLE: must be a string/],
    ['n1', { DUBBO_MESH_OUTBOUND: 'nowhere' }, /^node\.metadata\.DUBBO_MESH_OUTBOUND: must be host:port, got 'nowhere'/],
    ['n1', { DUBBO_MESH_OUTBOUND: '127.0.0.1:70000' }, /^node\.metadata\.DUBBO_MESH_OUTBOUND: must be host:port/],
    ['n1', { DUBBO_MESH_INBOUND: '0.0.0.0:20891' }, /^node\.metadata: DUBBO_MESH_INBOUND and DUBBO_MESH_INBOUND_TARGET go together/],
    ['n1', { DUBBO_MESH_INBOUND: '0.0.0.0:20891', DUBBO_MESH_INBOUND_TARGET: 'x' }, /^node\.metadata\.DUBBO_MESH_INBOUND_TARGET: must be host:port, got 'x'/],
    ['n1', { DUBBO_MESH_LABELS: 'a=b' }, /^node\.metadata\.DUBBO_MESH_LABELS: must be a map of strings/],
    ['n1', { DUBBO_MESH_LABELS: { a: true } }, /^node\.metadata\.DUBBO_MESH_LABELS\.a: must be a string/],
  ];
  for (const [id, metadata, expected] of cases) {
    const read = readEnvoyNode(xdsNode(id, 'orders', metadata));
    t.notOk(read.valid, String(expected));
    if (!read.valid) t.match(read.error, expected);
  }
});
