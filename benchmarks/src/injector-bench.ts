// The injector under the load the issue sets: 500 admission reviews a second over HTTPS for
// 20 s, p99 ≤ 20 ms. The server is the real `dubbo-mesh injector` (its own process, TLS from
// files made by the injector's CA code, the package's admission handler); this process is an
// open-loop client: keep-alive connections, each review sent at its scheduled time whatever
// the answers before it did, and its latency counted from when it was sent (so a server that
// falls behind is charged for the queue in front of the connections, not hidden by a client
// that waits; the client's own lateness, on a loaded machine, is reported apart, and the
// latency from the scheduled time too). The review is a
// Deployment's pod as the API server sends it (generateName, owner reference, an init
// container, two containers, the service account volume the API server adds).
//
//   npm run bench:injector -- [--rate 500] [--duration 20s] [--warmup 3s] [--connections 8] [--p99-target 20ms] [--json]
//
// Exit 0 when the rate was held (≥ 98 % of it answered within the run), every answer was a 200
// review, and p99 met the target; 1 when not.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createCertificateAuthority, issueServingCertificate, serviceDnsNames } from '@dubbo-mesh/injector';
import { spawnLineChild, type LineChild } from './line-child.js';
import { cpuSeconds } from './processes.js';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '500' },
    duration: { type: 'string', default: '20s' },
    warmup: { type: 'string', default: '3s' },
    connections: { type: 'string', default: '8' },
    'p99-target': { type: 'string', default: '20ms' },
    json: { type: 'boolean', default: false },
  },
});
const ms = (text: string) => (text.endsWith('ms') ? Number(text.slice(0, -2)) : Number(text.replace(/s$/, '')) * 1000);
const rate = Number(values.rate);
const durationMs = ms(values.duration!);
const warmupMs = ms(values.warmup!);
const connections = Number(values.connections);
const p99TargetMs = ms(values['p99-target']!);
for (const [name, value] of Object.entries({ rate, durationMs, warmupMs, connections, p99TargetMs })) {
  if (!Number.isFinite(value) || value < 0 || (name !== 'warmupMs' && value === 0)) {
    process.stderr.write(`injector-bench: --${name.replace(/Ms$/, '').replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: not a positive number\n`);
    process.exit(2);
  }
}

const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.resolve(here, '../../packages/cli/bin/dubbo-mesh.js');
const SERVER_NAME = 'dubbo-mesh-injector.dubbo-mesh.svc';

/** A Deployment's pod as the API server sends it to a mutating webhook; `UID` is replaced per review. */
function podReview(): string {
  const labels = { app: 'orders', version: 'v2', 'pod-template-hash': '7d9f8b6c4', 'dubbo-mesh.io/inject': 'true', 'app.kubernetes.io/name': 'orders' };
  const env = [
    { name: 'JAVA_TOOL_OPTIONS', value: '-XX:MaxRAMPercentage=75' },
    { name: 'SPRING_PROFILES_ACTIVE', value: 'prod' },
    { name: 'DUBBO_REGISTRY_ADDRESS', value: 'zookeeper://zk.infra:2181' },
    { name: 'POD_IP', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'status.podIP' } } },
    { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'orders-db', key: 'password' } } },
  ];
  const serviceAccountMount = { name: 'kube-api-access-x7k2p', readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' };
  const pod = {
    kind: 'Pod',
    apiVersion: 'v1',
    metadata: {
      generateName: 'orders-7d9f8b6c4-',
      namespace: 'shop',
      labels,
      annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8080', 'kubectl.kubernetes.io/restartedAt': '2026-11-30T09:12:44Z' },
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'ReplicaSet',
          name: 'orders-7d9f8b6c4',
          uid: '5b0e3f0e-8a57-4a57-9c6e-0f2d8e2d1c11',
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
      managedFields: [
        {
          manager: 'kube-controller-manager',
          operation: 'Update',
          apiVersion: 'v1',
          time: '2026-12-01T10:00:00Z',
          fieldsType: 'FieldsV1',
          fieldsV1: { 'f:metadata': {} },
        },
      ],
    },
    spec: {
      volumes: [
        { name: 'config', configMap: { name: 'orders-config', defaultMode: 420 } },
        {
          name: 'kube-api-access-x7k2p',
          projected: {
            sources: [
              { serviceAccountToken: { expirationSeconds: 3607, path: 'token' } },
              { configMap: { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
              { downwardAPI: { items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }] } },
            ],
            defaultMode: 420,
          },
        },
      ],
      initContainers: [
        {
          name: 'migrate',
          image: 'example/orders-migrate:2.4.1',
          args: ['--wait-for-db'],
          resources: { requests: { cpu: '50m', memory: '64Mi' } },
          volumeMounts: [serviceAccountMount],
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
          imagePullPolicy: 'IfNotPresent',
        },
      ],
      containers: [
        {
          name: 'orders',
          image: 'example/orders:2.4.1',
          ports: [
            { name: 'dubbo', containerPort: 20880, protocol: 'TCP' },
            { name: 'http', containerPort: 8080, protocol: 'TCP' },
          ],
          env,
          resources: { requests: { cpu: '500m', memory: '1Gi' }, limits: { memory: '1Gi' } },
          volumeMounts: [{ name: 'config', mountPath: '/app/config' }, serviceAccountMount],
          readinessProbe: {
            httpGet: { path: '/actuator/health/readiness', port: 8080, scheme: 'HTTP' },
            periodSeconds: 5,
            timeoutSeconds: 1,
            successThreshold: 1,
            failureThreshold: 3,
          },
          livenessProbe: {
            httpGet: { path: '/actuator/health/liveness', port: 8080, scheme: 'HTTP' },
            periodSeconds: 10,
            timeoutSeconds: 1,
            successThreshold: 1,
            failureThreshold: 3,
          },
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
          imagePullPolicy: 'IfNotPresent',
          securityContext: { runAsNonRoot: true, allowPrivilegeEscalation: false },
        },
        {
          name: 'log-shipper',
          image: 'fluent/fluent-bit:3.1',
          resources: { requests: { cpu: '10m', memory: '32Mi' } },
          volumeMounts: [serviceAccountMount],
          terminationMessagePath: '/dev/termination-log',
          terminationMessagePolicy: 'File',
          imagePullPolicy: 'IfNotPresent',
        },
      ],
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: 'ClusterFirst',
      serviceAccountName: 'orders',
      serviceAccount: 'orders',
      securityContext: { fsGroup: 1000 },
      affinity: {
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [
            { weight: 100, podAffinityTerm: { labelSelector: { matchLabels: { app: 'orders' } }, topologyKey: 'kubernetes.io/hostname' } },
          ],
        },
      },
      schedulerName: 'default-scheduler',
      tolerations: [
        { key: 'node.kubernetes.io/not-ready', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
        { key: 'node.kubernetes.io/unreachable', operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 },
      ],
      priority: 0,
      enableServiceLinks: true,
      preemptionPolicy: 'PreemptLowerPriority',
    },
    status: {},
  };
  return JSON.stringify({
    kind: 'AdmissionReview',
    apiVersion: 'admission.k8s.io/v1',
    request: {
      uid: 'UID',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      requestResource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'shop',
      operation: 'CREATE',
      userInfo: {
        username: 'system:serviceaccount:kube-system:replicaset-controller',
        uid: '2d4b6c8e-0000-4000-8000-000000000001',
        groups: ['system:serviceaccounts', 'system:serviceaccounts:kube-system', 'system:authenticated'],
      },
      object: pod,
      oldObject: null,
      dryRun: false,
      options: { kind: 'CreateOptions', apiVersion: 'meta.k8s.io/v1' },
    },
  });
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

interface Outcome {
  sent: number;
  ok: number;
  errors: number;
  firstError: string | undefined;
  latencies: Float64Array;
  /** The same answers, from each review's scheduled time (the client's lateness included). */
  fromSchedule: Float64Array;
  /** From the first measured review's scheduled time to the last measured answer. */
  spanMs: number;
  /** How late the client itself sent, at most (a loaded client, not the server). */
  maxSendLagMs: number;
}

/** Open-loop load: review i is scheduled at start + i/rate; the first `warmup` reviews are not measured. */
function runLoad(port: number, ca: string, body: string): Promise<Outcome> {
  const [before, after] = body.split('"UID"') as [string, string];
  const agent = new https.Agent({ keepAlive: true, maxSockets: connections, ca, servername: SERVER_NAME });
  const intervalMs = 1000 / rate;
  const warmupCount = Math.round((warmupMs / 1000) * rate);
  const total = warmupCount + Math.round((durationMs / 1000) * rate);
  const latencies = new Float64Array(total - warmupCount);
  const fromSchedule = new Float64Array(total - warmupCount);
  let recorded = 0;
  let ok = 0;
  let errors = 0;
  let firstError: string | undefined;
  let settled = 0;
  let next = 0;
  let maxSendLagMs = 0;
  let lastAnswerAt = 0;
  const start = performance.now() + 50;
  const measuredFrom = start + warmupCount * intervalMs;
  return new Promise((resolve) => {
    const finish = () => {
      if (settled < total) return;
      agent.destroy();
      resolve({
        sent: total - warmupCount,
        ok,
        errors,
        firstError,
        latencies: latencies.slice(0, recorded),
        fromSchedule: fromSchedule.slice(0, recorded),
        spanMs: lastAnswerAt - measuredFrom,
        maxSendLagMs,
      });
    };
    const send = (index: number, scheduledAt: number) => {
      const measured = index >= warmupCount;
      const sentAt = performance.now();
      const payload = Buffer.from(`${before}"review-${index}"${after}`);
      const fail = (why: string) => {
        if (measured) {
          errors += 1;
          firstError ??= why;
        }
        settled += 1;
        finish();
      };
      const request = https.request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/inject',
          agent,
          timeout: 10_000,
          headers: { 'content-type': 'application/json', 'content-length': payload.length },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            const now = performance.now();
            const text = Buffer.concat(chunks).toString('utf8');
            if (response.statusCode !== 200 || !text.includes(`"review-${index}"`)) return fail(`HTTP ${response.statusCode}: ${text.slice(0, 200)}`);
            if (measured) {
              ok += 1;
              fromSchedule[recorded] = now - scheduledAt;
              latencies[recorded++] = now - sentAt;
              lastAnswerAt = Math.max(lastAnswerAt, now);
            }
            settled += 1;
            finish();
          });
          response.on('error', (error) => fail(error.message));
        },
      );
      request.on('timeout', () => request.destroy(new Error('no answer in 10 s (the API server would give up)')));
      request.on('error', (error) => fail(error.message));
      request.end(payload);
    };
    const tick = () => {
      const now = performance.now();
      while (next < total && start + next * intervalMs <= now) {
        const scheduledAt = start + next * intervalMs;
        if (next >= warmupCount) maxSendLagMs = Math.max(maxSendLagMs, now - scheduledAt);
        send(next, scheduledAt);
        next += 1;
      }
      if (next < total) setTimeout(tick, Math.max(0, start + next * intervalMs - performance.now()));
    };
    setTimeout(tick, Math.max(0, start - performance.now()));
  });
}

async function main(): Promise<number> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-injector-bench-'));
  let server: LineChild | undefined;
  try {
    const now = new Date();
    const ca = await createCertificateAuthority({ now });
    const serving = await issueServingCertificate(ca, { dnsNames: serviceDnsNames('dubbo-mesh-injector', 'dubbo-mesh'), now });
    await writeFile(path.join(dir, 'tls.crt'), serving.cert);
    await writeFile(path.join(dir, 'tls.key'), serving.key);
    server = spawnLineChild([
      cli,
      'injector',
      '--control-plane',
      'dubbo-mesh-control-plane.dubbo-mesh.svc:15010',
      '--tls-cert',
      path.join(dir, 'tls.crt'),
      '--tls-key',
      path.join(dir, 'tls.key'),
      '--listen',
      '127.0.0.1:0',
      '--admin',
      '127.0.0.1:0',
      // What a deployment runs with: decisions at debug are not written, refusals and warnings are.
      '--log-level',
      'info',
    ]);
    const ready = await server.waitFor((record) => record.msg === 'injector ready', 'the injector to be ready', 60_000);
    const port = Number(String(ready.listen).split(':').pop());
    const body = podReview();
    const cpuBefore = cpuSeconds(server.process.pid!);
    const outcome = await runLoad(port, ca.cert, body);
    const serverCpu = cpuSeconds(server.process.pid!) - cpuBefore;
    const sorted = outcome.latencies.slice().sort();
    const sortedFromSchedule = outcome.fromSchedule.slice().sort();
    const achievedRate = outcome.ok / (outcome.spanMs / 1000);
    const result = {
      rate,
      durationS: durationMs / 1000,
      connections,
      reviewBytes: Buffer.byteLength(body),
      sent: outcome.sent,
      ok: outcome.ok,
      errors: outcome.errors,
      achievedRate: Math.round(achievedRate * 10) / 10,
      p50Ms: Math.round(percentile(sorted, 0.5) * 100) / 100,
      p99Ms: Math.round(percentile(sorted, 0.99) * 100) / 100,
      maxMs: Math.round((sorted.at(-1) ?? NaN) * 100) / 100,
      p99TargetMs,
      p99FromScheduleMs: Math.round(percentile(sortedFromSchedule, 0.99) * 100) / 100,
      serverCpuMsPerReview: Math.round(((serverCpu * 1000) / (outcome.sent + (warmupMs / 1000) * rate)) * 1000) / 1000,
      clientMaxSendLagMs: Math.round(outcome.maxSendLagMs * 100) / 100,
    };
    const held = outcome.errors === 0 && achievedRate >= 0.98 * rate;
    const fast = result.p99Ms <= p99TargetMs;
    if (!values.json) {
      process.stdout.write(
        [
          `injector: ${rate} reviews/s for ${durationMs / 1000} s over ${connections} keep-alive HTTPS connections (open loop, ${result.reviewBytes}-byte Deployment pod review)`,
          `  answered ${result.ok}/${result.sent} (${result.errors} errors${outcome.firstError === undefined ? '' : `, first: ${outcome.firstError}`}), achieved ${result.achievedRate} reviews/s`,
          `  latency from the send: p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms (target ≤ ${p99TargetMs} ms), max ${result.maxMs} ms`,
          `  the client sent at most ${result.clientMaxSendLagMs} ms late (p99 from the scheduled time ${result.p99FromScheduleMs} ms); server CPU ${result.serverCpuMsPerReview} ms per review`,
          `  ${held ? 'rate held' : 'RATE NOT HELD'}; ${fast ? 'p99 within target' : 'P99 OVER TARGET'}`,
          '',
        ].join('\n'),
      );
    }
    process.stdout.write(`${JSON.stringify({ ...result, held, p99WithinTarget: fast })}\n`);
    return held && fast ? 0 : 1;
  } finally {
    server?.process.kill('SIGTERM');
    if (server !== undefined) await server.exited;
    await rm(dir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
