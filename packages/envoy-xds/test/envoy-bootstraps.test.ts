// The bootstraps in envoy/ as Envoy and gRPC read them: the sidecar's against Envoy's own
// Bootstrap message (every field known, every enum a value), its node against what the
// control plane reads from a node.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';
import t from 'tap';
import { parse } from 'yaml';
import { envoyProtoIncludeDirs, readEnvoyNode, type XdsNode } from '@dubbo-mesh/envoy-xds';
import { checkShape } from './fixtures/proto-shape.js';
import { xdsNode } from './fixtures/xds-node.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const definition = protoLoader.loadSync(['envoy/config/bootstrap/v3/bootstrap.proto', 'envoy/extensions/upstreams/http/v3/http_protocol_options.proto'], {
  keepCase: true,
  includeDirs: envoyProtoIncludeDirs(),
});

function asXdsNode(node: { id: string; cluster?: string; metadata?: Record<string, unknown> }): XdsNode {
  return xdsNode(node.id, node.cluster ?? '', node.metadata ?? {});
}

t.test('the Envoy sidecar bootstrap is a valid Envoy Bootstrap whose node is an Envoy sidecar with an inbound listener', async (t) => {
  const bootstrap = parse(await readFile(path.join(root, 'envoy/envoy-sidecar.yaml'), 'utf8')) as {
    node: { id: string; cluster: string; metadata: Record<string, unknown> };
  };
  t.same(checkShape(definition, 'envoy.config.bootstrap.v3.Bootstrap', bootstrap), []);
  const read = readEnvoyNode(asXdsNode(bootstrap.node));
  t.ok(read.valid, read.valid ? '' : read.error);
  if (!read.valid) return;
  t.equal(read.node.kind, 'envoy-sidecar');
  t.same(read.node.outbound, { host: '127.0.0.1', port: 20881 });
  t.same(read.node.inbound, { listen: { host: '0.0.0.0', port: 20891 }, target: { host: '127.0.0.1', port: 20880 } });
  t.equal(read.node.wire.service, 'orders');
  t.same(read.node.wire.labels, { version: 'v1' });
});

t.test('the shape check finds a misspelt field and a wrong enum (it can fail)', async (t) => {
  const bootstrap = parse(await readFile(path.join(root, 'envoy/envoy-sidecar.yaml'), 'utf8')) as {
    dynamic_resources: Record<string, unknown> & { ads_config: Record<string, unknown> };
  };
  bootstrap.dynamic_resources.lds_confg = bootstrap.dynamic_resources.lds_config;
  bootstrap.dynamic_resources.ads_config.api_type = 'GRPCX';
  const problems = checkShape(definition, 'envoy.config.bootstrap.v3.Bootstrap', bootstrap);
  t.match(problems, [/ads_config\.api_type: GRPCX is not one of ApiType/, /lds_confg: no such field/]);
});

t.test('the gRPC bootstrap names one xDS v3 server and a node without a role (a proxyless client)', async (t) => {
  const bootstrap = JSON.parse(await readFile(path.join(root, 'envoy/grpc-bootstrap.json'), 'utf8')) as {
    xds_servers: Array<{ server_uri: string; channel_creds: Array<{ type: string }>; server_features: string[] }>;
    node: { id: string; cluster: string; metadata: Record<string, unknown> };
  };
  t.equal(bootstrap.xds_servers.length, 1);
  t.match(bootstrap.xds_servers[0]!.server_uri, /:15010$/);
  t.same(bootstrap.xds_servers[0]!.server_features, ['xds_v3']);
  const read = readEnvoyNode(asXdsNode(bootstrap.node));
  t.ok(read.valid);
  if (read.valid) t.equal(read.node.kind, 'proxyless');
});
