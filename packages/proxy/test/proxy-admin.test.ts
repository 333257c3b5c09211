// What a proxy tells its operator: messages that name the real cause, /clusters that matches
// what the load balancer does, and metrics a Prometheus scrape understands.
import net from 'node:net';
import t from 'tap';
import { FrameDecoder, decodeErrorMessage, encodeRequest, encodeRequestBody, type Frame } from '@dubbo-mesh/protocol';
import { DubboProxy, startProxyAdmin } from '@dubbo-mesh/proxy';
import { FakeClock, USER_SERVICE, startTestProvider, eventually } from '@dubbo-mesh/test-support';
import { buildConfig } from './fixtures/mesh.js';

const request = encodeRequest(
  1n,
  encodeRequestBody({ path: USER_SERVICE, version: '1.0.0', method: 'getUser', parameterTypes: ['long'], arguments: [{ $class: 'long', $: 1 }] }),
);

t.test('a timeout whose retry the budget refused says so, not just "(1 attempt)"', async (t) => {
  const clock = new FakeClock();
  const provider = await startTestProvider({ services: { [USER_SERVICE]: { getUser: () => new Promise(() => {}) } } }); // never answers
  const proxy = new DubboProxy({
    node: 'p',
    role: 'proxy',
    outbound: { host: '127.0.0.1', port: 0 },
    clock,
    retryBudget: { percent: 0, minRetriesPerSecond: 0 },
  });
  await proxy.start();
  proxy.applySnapshot(
    buildConfig([
      {
        apiVersion: 'dubbo-mesh.io/v1alpha1',
        kind: 'DubboService',
        metadata: { name: 's' },
        spec: { interfaces: [USER_SERVICE], endpoints: [{ address: provider.address }] },
      },
      {
        apiVersion: 'dubbo-mesh.io/v1alpha1',
        kind: 'DubboRoute',
        metadata: { name: 'r' },
        spec: { hosts: [USER_SERVICE], routes: [{ destinations: [{ service: 's' }], timeout: '100ms', retries: { attempts: 2, retryOn: ['timeout'] } }] },
      },
    ]),
    'v1',
  );
  const socket = net.connect(proxy.addresses().outbound!.port, '127.0.0.1');
  const frames: Frame[] = [];
  const decoder = new FrameDecoder();
  socket.on('data', (chunk: Buffer) => {
    decoder.push(chunk);
    for (let frame = decoder.next(); frame !== undefined; frame = decoder.next()) frames.push(frame);
  });
  t.teardown(async () => {
    socket.destroy();
    await proxy.destroy();
    await provider.close();
  });
  socket.write(request);
  await eventually(() => provider.requestCount === 1, 'the call to reach the provider');
  clock.advance(100);
  await eventually(() => frames.length === 1, 'the local reply');
  t.equal(frames[0]!.header.status, 31);
  t.match(
    decodeErrorMessage(frames[0]!.body),
    /within 100 ms \(1 attempt; not retried: the retry budget is spent \(retries may add 0% to calls, plus 0 a second\)\)$/,
  );
  t.equal(proxy.stats.counters.upstream_rq_retry_budget_exhausted, 1);
});

t.test('/clusters shows an ejected endpoint that the ejection cap keeps serving as available', async (t) => {
  const proxy = new DubboProxy({ node: 'p', role: 'proxy', outbound: { host: '127.0.0.1', port: 0 } });
  proxy.applySnapshot(
    buildConfig([
      {
        apiVersion: 'dubbo-mesh.io/v1alpha1',
        kind: 'DubboService',
        metadata: { name: 's' },
        spec: { interfaces: [USER_SERVICE], endpoints: [{ address: '127.0.0.1:1' }, { address: '127.0.0.1:2' }] },
      },
      {
        apiVersion: 'dubbo-mesh.io/v1alpha1',
        kind: 'DubboPolicy',
        metadata: { name: 's' },
        spec: { service: 's', outlierDetection: { consecutiveErrors: 1, interval: '10s', baseEjectionTime: '30s', maxEjectionPercent: 50 } },
      },
    ]),
    'v1',
  );
  const admin = await startProxyAdmin(proxy, '127.0.0.1', 0, 'p');
  t.teardown(async () => {
    await admin.server.close();
    await proxy.destroy();
  });
  const cluster = proxy.clusters.cluster('default/s', undefined)!;
  // Both fail: the first to be ejected is ejected; the cap (50% of 2) keeps the second serving.
  for (const member of cluster.members) member.upstream.recordFailure(cluster.outlierDetection);
  const body = (await (await fetch(`http://127.0.0.1:${admin.port}/clusters`)).json()) as {
    endpoints: Array<{ address: string; available: boolean; ejected: boolean; ejectedButServing: boolean }>;
    clusters: Array<{ name: string; members: Array<{ address: string; serving: boolean }> }>;
  };
  const served = cluster.availableMembers().map((m) => m.id);
  t.equal(served.length, 1, 'the load balancer picks from one of the two');
  t.same(
    body.endpoints.map((e) => [e.address, e.ejected, e.available, e.ejectedButServing]).sort(),
    [
      ['127.0.0.1:1', true, served.includes('127.0.0.1:1'), served.includes('127.0.0.1:1')],
      ['127.0.0.1:2', true, served.includes('127.0.0.1:2'), served.includes('127.0.0.1:2')],
    ],
    'both ejected; the one that still serves is shown available',
  );
  t.same(
    body.clusters[0]!.members.filter((m) => m.serving).map((m) => m.address),
    served,
  );
});

t.test('/metrics: every metric has # HELP and # TYPE; process metrics under their standard names', async (t) => {
  const proxy = new DubboProxy({ node: 'p', role: 'proxy', outbound: { host: '127.0.0.1', port: 0 } });
  const admin = await startProxyAdmin(proxy, '127.0.0.1', 0, 'p');
  t.teardown(async () => {
    await admin.server.close();
    await proxy.destroy();
  });
  const text = await (await fetch(`http://127.0.0.1:${admin.port}/metrics`)).text();
  const names = new Set(
    text
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('#'))
      .map((line) => line.split(/[{ ]/)[0]!.replace(/_(bucket|sum|count)$/, '')),
  );
  const missing = [...names].filter((name) => !text.includes(`# HELP ${name} `) || !text.includes(`# TYPE ${name} `));
  t.same(missing, [], 'no metric without HELP and TYPE');
  t.match(text, /^process_cpu_seconds_total \d/m, 'process_cpu_seconds_total');
  t.match(text, /^nodejs_heap_size_used_bytes \d/m, 'nodejs_heap_size_used_bytes');
  t.notMatch(text, /dubbo_mesh_process_|dubbo_mesh_nodejs_/, 'not under a prefix of ours');
  t.match(text, /^dubbo_mesh_downstream_cx_buffer_limit_total\{node="p"\} 0$/m, 'the new counters are there');
});
