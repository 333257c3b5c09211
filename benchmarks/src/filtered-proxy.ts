// A one-hop outbound proxy for `bench:proxy --proxy-filter`: the same DubboProxy the command
// line runs, started in-process with a static config and one trivial filter (or none), so
// the cost of a filter is measured against the same launcher without one.
//
//   node filtered-proxy.js <none|sync|async> <provider port>
//
// Prints `{"msg":"proxy ready","listeners":{"outbound":{"port":…}}}` once listening, as the
// command line does.
import { assembleMeshConfig, validateResource } from '@dubbo-mesh/config';
import { DubboProxy, type ProxyFilter } from '@dubbo-mesh/proxy';
import { USER_SERVICE } from '@dubbo-mesh/test-support';

const [mode, providerPort] = process.argv.slice(2);
if (mode !== 'none' && mode !== 'sync' && mode !== 'async') throw new Error(`filter mode must be none, sync or async, got ${mode}`);

/** The trivial filters measured: each reads one attachment and lets the call go on. */
const filters: Record<string, ProxyFilter[]> = {
  none: [],
  sync: [
    {
      name: 'bench-sync',
      onRequest: (call) => {
        call.attachment('timeout');
      },
    },
  ],
  async: [
    {
      name: 'bench-async',
      onRequest: async (call) => {
        call.attachment('timeout');
      },
    },
  ],
};

const resources = [
  {
    apiVersion: 'dubbo-mesh.io/v1alpha1',
    kind: 'DubboService',
    metadata: { name: 'user-provider' },
    spec: { interfaces: [USER_SERVICE], endpoints: [{ address: `127.0.0.1:${providerPort}` }] },
  },
  {
    apiVersion: 'dubbo-mesh.io/v1alpha1',
    kind: 'DubboPolicy',
    metadata: { name: 'user-provider' },
    spec: { service: 'user-provider', connectionPool: { maxConnections: 4, maxRequests: 100000, maxPendingRequests: 100000 } },
  },
].map((raw) => {
  const checked = validateResource(raw);
  if (!checked.valid) throw new Error(checked.errors.join('\n'));
  return { resource: checked.result };
});
const assembled = assembleMeshConfig(resources);
if (!assembled.valid) throw new Error(assembled.errors.join('\n'));

const proxy = new DubboProxy({ node: `bench-${mode}`, role: 'proxy', outbound: { host: '127.0.0.1', port: 0 }, filters: filters[mode] });
proxy.applySnapshot(assembled.result, 'bench');
await proxy.start();
process.stdout.write(`${JSON.stringify({ msg: 'proxy ready', listeners: proxy.addresses() })}\n`);
process.on('SIGTERM', () => void proxy.destroy().then(() => process.exit(0)));
