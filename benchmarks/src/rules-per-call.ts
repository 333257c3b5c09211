// Per-call cost of Dubbo's governance rules in the proxy: what an active request does for a
// call once its route is decided — the narrowings of the rules in force, one after another,
// then the load balancer's pick among what they kept — against the same pick with no rule
// (the baseline, measured in the same run). The service has 100 endpoints; the rules are
// ten condition rule documents (one for the call's service key with four conditions, one for
// the consumer's application with an `arguments[0]` range and an attachment condition, eight
// for other applications) and the provider application's tag rule (two tags). Everything
// that does not depend on the call is cached by the rules (`NarrowingRule.narrow`); what a
// call pays is its when-parts, a cache lookup per condition, and the picker's pick.
//
//   npm run bench:rules            (or: node benchmarks/dist/rules-per-call.js [--json])
import { assembleMeshConfig, validateResource, type MeshConfig } from '@dubbo-mesh/config';
import { encodeRequestBody, peekRequest } from '@dubbo-mesh/protocol';
import {
  ActiveFilterCall,
  ClusterManager,
  FilterChain,
  GovernanceRules,
  ProxyStats,
  RoutingTable,
  nodeIdentity,
  type ClusterMember,
  type EndpointNarrowing,
} from '@dubbo-mesh/proxy';
import type { PickContext } from '@dubbo-mesh/load-balancer';
import { USER_SERVICE } from '@dubbo-mesh/test-support';
import { timeOperation, type OperationTime } from './micro-timing.js';

const ENDPOINTS = 100;
const BATCH = 1000;
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 300);
const WARMUP = 50_000;
const json = process.argv.includes('--json');

function resource(kind: string, name: string, spec: object): object {
  return { apiVersion: 'dubbo-mesh.io/v1alpha1', kind, metadata: { name }, spec };
}

function config(withRules: boolean): MeshConfig {
  const endpoints = Array.from({ length: ENDPOINTS }, (_, i) => ({
    address: `10.0.${Math.floor(i / 250)}.${(i % 250) + 1}:20880`,
    labels: { application: 'user-app', region: i % 2 === 0 ? 'hangzhou' : 'beijing', zone: i % 3 === 0 ? 'a' : 'b', release: '3.2.0' },
  }));
  const rules = !withRules
    ? []
    : [
        resource('DubboRule', 'user-service', {
          configVersion: 'v3.0',
          scope: 'service',
          key: `${USER_SERVICE}:1.0.0`,
          force: false,
          conditions: [
            'method = find*,list*,get*,is* => region = hangzhou,beijing',
            'method = create*,update* => region = hangzhou',
            'host = 192.168.0.* => false',
            'application != batch => release = 3.*',
          ],
        }),
        resource('DubboRule', 'bench-consumer', {
          configVersion: 'v3.0',
          scope: 'application',
          key: 'bench-consumer',
          force: false,
          conditions: ['arguments[0] = 1~100000 => zone = a,b', 'attachments[vip] = true => zone = a'],
        }),
        ...Array.from({ length: 8 }, (_, i) =>
          resource('DubboRule', `other-${i}`, {
            configVersion: 'v3.0',
            scope: 'application',
            key: `other-app-${i}`,
            force: true,
            conditions: ['=> region = hangzhou'],
          }),
        ),
        resource('DubboRule', 'user-app-tags', {
          configVersion: 'v3.0',
          key: 'user-app',
          force: false,
          tags: [
            { name: 'gray', addresses: ['10.0.0.1', '10.0.0.2'] },
            { name: 'blue', match: [{ key: 'zone', value: { exact: 'c' } }] },
          ],
        }),
      ];
  const located = [resource('DubboService', 'user-provider', { interfaces: [{ interface: USER_SERVICE, version: '1.0.0' }], endpoints }), ...rules].map(
    (raw) => {
      const checked = validateResource(raw);
      if (!checked.valid) throw new Error(checked.errors.join('\n'));
      return { resource: checked.result, raw };
    },
  );
  const assembled = assembleMeshConfig(located);
  if (!assembled.valid) throw new Error(assembled.errors.join('\n'));
  return assembled.result;
}

/** Per-operation time, from SAMPLES batches of BATCH calls each. */
const measure = (operation: () => unknown): OperationTime => timeOperation(operation, { batch: BATCH, samples: SAMPLES, warmup: WARMUP });

const node = nodeIdentity('bench', 'bench-consumer', 'default', {}, '10.1.0.9');
const body = encodeRequestBody({
  path: USER_SERVICE,
  version: '1.0.0',
  method: 'getUser',
  parameterTypes: ['long'],
  arguments: [42],
  attachments: { path: USER_SERVICE, interface: USER_SERVICE, version: '1.0.0', timeout: 3000, application: 'bench-consumer' },
});

/** The route decision, cluster and narrowings of the call, as a proxy with this config has them. */
function prepare(withRules: boolean) {
  const mesh = config(withRules);
  const table = new RoutingTable(mesh, withRules ? 'rules' : 'plain');
  const governance = GovernanceRules.compile(mesh, node);
  const clusters = new ClusterManager({ maxPayload: 8 << 20, heartbeatIntervalMs: 60_000, stats: new ProxyStats(), removedEndpointGraceMs: 1000 });
  clusters.apply(table, governance);
  const decision = table.route(peekRequest(body))!;
  const chain = governance === undefined ? undefined : new FilterChain([], [...governance.narrowings]);
  const narrowings: readonly EndpointNarrowing[] = chain?.select(decision)?.narrowings ?? [];
  const cluster = clusters.withOverrides(clusters.clusterOf(decision.destinations[0]!)!, decision.serviceKey);
  return { governance, decision, narrowings, cluster, clusters };
}

const context: PickContext = { exclude: undefined, hashKey: undefined };
const source = { remoteAddress: '127.0.0.1:40000' };
let sink: unknown;

const plain = prepare(false);
const ruled = prepare(true);
if (ruled.narrowings.length !== 3) throw new Error(`expected 3 rule narrowings for the call (service, application, tag), got ${ruled.narrowings.length}`);

// Without rules a call takes the plain pick (no filter call is made: the proxy keeps no chain).
const baseline = measure(() => {
  const peek = peekRequest(body);
  sink = plain.cluster.pick(context, plain.clusters.epoch) as ClusterMember;
  return peek;
});
// With rules: the call as filters and narrowings see it, each narrowing, then the pick among the kept set.
let kept = 0;
const withRules = measure(() => {
  const peek = peekRequest(body);
  const call = new ActiveFilterCall(peek, ruled.decision, true, node, source);
  let members: readonly ClusterMember[] = ruled.cluster.members;
  for (const narrowing of ruled.narrowings) members = narrowing.narrow(call, members, ruled.cluster.name);
  kept = members.length;
  sink = ruled.cluster.pickAmong(members, context, ruled.clusters.epoch);
});
void sink;
const counters = ruled.governance!.countersByRule();
const result = {
  endpoints: ENDPOINTS,
  ruleDocuments: 11,
  narrowingsPerCall: ruled.narrowings.length,
  endpointsKept: kept,
  baseline,
  withRules,
  addedNsPerCall: withRules.medianNs - baseline.medianNs,
  effects: Object.fromEntries(Object.entries(counters).map(([name, c]) => [name, Object.fromEntries(Object.entries(c).filter(([, n]) => n > 0))])),
};
if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
else {
  process.stdout.write(
    `rules per call: ${ENDPOINTS} endpoints, 11 rule documents (${ruled.narrowings.length} narrowings for this call, ${kept} endpoints kept)\n` +
      `  baseline (peek + pick, no rule):  median ${baseline.medianNs.toFixed(0)} ns, p99 ${baseline.p99Ns.toFixed(0)} ns\n` +
      `  with the rules:                   median ${withRules.medianNs.toFixed(0)} ns, p99 ${withRules.p99Ns.toFixed(0)} ns\n` +
      `  added per call:                   ${(result.addedNsPerCall / 1000).toFixed(2)} µs\n`,
  );
}
