import { request as httpRequest } from 'node:http';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import t, { type Test } from 'tap';
import type { Page } from 'playwright-core';
import { ControlPlane, startControlPlaneAdmin, type DiscoveryService, type PluginStatus, type Refusal, type RuleStatus } from '@dubbo-mesh/control-plane';
import type { MeshConfig } from '@dubbo-mesh/config';
import { DiscoveryClient } from '@dubbo-mesh/discovery';
import { DubboProxy } from '@dubbo-mesh/proxy';
import { launchChromium, waitForText } from '@dubbo-mesh/test-support';
import { ADMIN_PAGE_DIRECTORY, registerAdminPage } from '../src/admin-page.js';
import { JsonDiscovery, TYPE, jsonClient } from './fixtures/json-discovery.js';

/** Set to 1 to write the page's screenshot for the docs (docs/images/admin-page.png). */
const SCREENSHOT_ENV = 'DUBBO_MESH_SCREENSHOT';
const SCREENSHOT_PATH = fileURLToPath(new URL('../../../docs/images/admin-page.png', import.meta.url));

const services = `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: user-provider}
spec:
  port: 20880
  interfaces: [org.example.UserService]
  endpoints:
    - {address: 127.0.0.1:20891, labels: {version: v1}, weight: 100}
    - {address: 127.0.0.1:20892, labels: {version: v1}, weight: 100}
    - {address: 127.0.0.1:20893, labels: {version: v2}, weight: 50}
---
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboPolicy
metadata: {name: user-provider}
spec:
  service: user-provider
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
  loadBalancer: {policy: round-robin}
`;
const route = (v1: number, v2: number, v2Subset = 'v2') => `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboRoute
metadata: {name: user-canary}
spec:
  hosts: [org.example.UserService]
  routes:
    - name: split
      destinations:
        - {service: user-provider, subset: v1, weight: ${v1}}
        - {service: user-provider, subset: ${v2Subset}, weight: ${v2}}
`;
/** A bare Dubbo condition rule document, as dubbo-admin writes it (a rule file in the config folder). */
const conditionRule = (key: string, scope = 'service') => `configVersion: v3.0
scope: ${scope}
key: ${JSON.stringify(key)}
force: true
conditions:
  - method = find* => host = 10.0.0.1
`;

// A real browser on a loaded 2-core machine is slow to start and to render: the file's
// deadline (tap's default is 120 s) is a failure detector, so it is generous.
t.setTimeout(300_000);

// One browser for the file: launching Chromium is the slow part on a small machine.
const browser = await launchChromium(t);

/** A temp folder holding `files`, removed in teardown. */
async function folder(t: Test, files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-page-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return dir;
}

/**
 * A control plane on a temp folder of `files` (and on a second folder, `dir2`, a source of its
 * own, when `files2` is given), its admin API, and the page's URL (refreshing every 200 ms).
 */
async function startMesh(t: Test, files: Record<string, string>, files2?: Record<string, string>, services?: readonly DiscoveryService[]) {
  const dir = await folder(t, files);
  const dir2 = files2 === undefined ? undefined : await folder(t, files2);
  const controlPlane = new ControlPlane({ configPaths: dir2 === undefined ? [dir] : [dir, dir2], fileSource: { settleMs: 20 }, services });
  t.teardown(() => controlPlane.stop());
  const grpcPort = await controlPlane.start('127.0.0.1', 0);
  const admin = await startControlPlaneAdmin(controlPlane, '127.0.0.1', 0);
  let adminClosed: Promise<void> | undefined;
  const closeAdmin = () => (adminClosed ??= admin.server.close());
  t.teardown(closeAdmin);
  return { dir, dir2, controlPlane, grpcPort, admin, closeAdmin, base: `http://127.0.0.1:${admin.port}`, url: `http://127.0.0.1:${admin.port}/?refresh=200` };
}

/** A discovery client named `id` whose snapshots go to `apply`; resolves once it answered its first snapshot (ACK or NACK). */
async function connect(t: Test, grpcPort: number, id: string, apply: (config: MeshConfig, version: string) => void): Promise<DiscoveryClient> {
  const client = new DiscoveryClient({
    address: `127.0.0.1:${grpcPort}`,
    node: { id, role: 'proxy', service: 'web', labels: { app: 'web' } },
    apply,
    initialBackoffMs: 10,
  });
  t.teardown(() => client.close());
  const answered = new Promise<void>((resolve) => {
    client.once('ack', () => resolve());
    client.once('nack', () => resolve());
  });
  client.start();
  await answered;
  return client;
}

/** A new page on `url`, and the script errors it raises (each test checks there were none). */
async function openPage(t: Test, url: string): Promise<{ page: Page; pageErrors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  t.teardown(() => page.close());
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(url);
  return { page, pageErrors };
}

t.test('an operator sees services, endpoints, route weights, Dubbo rules, proxies with their versions, a NACK, and a refusal come and go', async (t) => {
  const mesh = await startMesh(t, { 'services.yaml': services, 'routes.yaml': route(90, 10), 'rules.yaml': conditionRule('org.example.UserService:1.0.0') });
  const first = mesh.controlPlane.snapshot!.version;
  const proxy = new DubboProxy({ node: 'consumer-1', role: 'proxy', outbound: { host: '127.0.0.1', port: 0 } });
  await proxy.start();
  t.teardown(() => proxy.stop(200).then(() => undefined));
  await connect(t, mesh.grpcPort, 'consumer-1', (config, version) => proxy.applySnapshot(config, version));
  await connect(t, mesh.grpcPort, 'billing-1', () => {
    throw new Error('cannot apply: this test proxy rejects every snapshot');
  });

  const { page, pageErrors } = await openPage(t, mesh.url);
  await waitForText(page, '#status', /^Refreshed /, 'the time of the last refresh');
  const service = await waitForText(page, '#services article[data-service="default/user-provider"]', 'default/user-provider', 'the service');
  for (const address of ['127.0.0.1:20891', '127.0.0.1:20892', '127.0.0.1:20893']) t.match(service, address, `endpoint ${address} is listed`);
  t.match(
    await page.locator('#services tr[data-address="127.0.0.1:20893"]').textContent(),
    /version=v2\s*50\s*v2\s*not reported to the control plane/,
    'its labels, weight, subset, and no invented health',
  );
  t.match(await page.locator('#services .note').textContent(), /are not\s+reported\s+to\s+the\s+control\s+plane/, 'the page says why there is no health state');
  const rule = await waitForText(page, '#routes tr[data-rule="split"]', 'weight 90', 'the route rule');
  t.match(rule, /user-provider\/v1 weight 90/);
  t.match(rule, /user-provider\/v2 weight 10/);
  t.match(await page.locator('#policies').textContent(), /policy: round-robin/);
  t.match(await page.locator('#mappings').textContent(), /org\.example\.UserService\s*any\s*any\s*default\/user-provider/);
  await waitForText(page, '#overview', first, 'the version in force');

  // The rule file as GET /api/v1/rules lists it: the page shows that entry, in force.
  const [listed, ...more] = (await (await fetch(`${mesh.base}/api/v1/rules`)).json()) as RuleStatus[];
  t.same(more, [], 'one rule');
  t.match(listed, { kind: 'condition', key: 'org.example.UserService:1.0.0:', state: 'in-force', origin: path.join(mesh.dir, 'rules.yaml') });
  const dubboRule = await waitForText(page, `#rules tr[data-resource="${listed!.resource}"]`, 'in force', 'the Dubbo rule in force');
  t.match(dubboRule, /^condition v3\.0\s*service\s*org\.example\.UserService:1\.0\.0:\s*in force/, 'its kind, version, scope, key and state');
  t.match(dubboRule, `in force${listed!.source}${listed!.origin}${listed!.resource}`, 'its source, origin (the file) and resource');
  t.match(await page.locator('#overview').textContent(), '1 Dubbo rule ·', 'counted in the overview, none refused');

  const consumer = await waitForText(
    page,
    '#proxies tr[data-node="consumer-1"]',
    `${first} current`,
    "the proxy's ACKed version, equal to the control plane's",
  );
  t.match(consumer, /^consumer-1proxy/, 'its node id and role');
  t.match(consumer, /none$/, 'no NACK');
  const billing = await waitForText(page, '#proxies tr[data-node="billing-1"]', 'rejected', 'the NACK on its proxy row');
  t.match(billing, 'none yet', 'it has ACKed nothing');
  t.match(billing, `rejected ${first}`);
  t.match(billing, 'applying the snapshot failed: cannot apply: this test proxy rejects every snapshot', 'with its error');

  // The sources API is built alongside this page: until this control plane serves it, the section says so.
  const sources = await fetch(`${mesh.base}/api/v1/sources`);
  if (sources.status === 404) await waitForText(page, '#sources', 'Not available: GET /api/v1/sources answered 404', 'the sources section marked unavailable');
  else {
    for (const source of (await sources.json()) as Array<{ name: string }>) await waitForText(page, '#sources', source.name, `source ${source.name}`);
  }

  // A broken file: the refusal, with the file and the error, while the version stays.
  const routes = path.join(mesh.dir, 'routes.yaml');
  const refused = new Promise<Refusal>((resolve) => mesh.controlPlane.once('refused', resolve));
  await writeFile(routes, route(90, 10, 'v3'));
  await refused;
  const refusal = await waitForText(page, '#refusal', 'routes.yaml', 'the refusal naming the file');
  t.match(refusal, `from ${routes}`);
  t.match(refusal, 'spec.routes[0].destinations[1].subset: service user-provider has no subset "v3"', 'the error text');
  t.match(refusal, `Snapshot ${first} stays in force`);
  if (process.env[SCREENSHOT_ENV] === '1') {
    await mkdir(path.dirname(SCREENSHOT_PATH), { recursive: true });
    await page.screenshot({ path: SCREENSHOT_PATH, fullPage: true });
  }

  // Repaired with new weights: the refusal goes, the new version arrives and the proxy ACKs it.
  const published = new Promise<string>((resolve) => mesh.controlPlane.once('published', (snapshot) => resolve(snapshot.version)));
  await writeFile(routes, route(70, 30));
  const second = await published;
  t.not(second, first);
  await waitForText(page, '#refusal', 'None: the latest state of every source is in force.', 'the refusal gone');
  await waitForText(page, '#overview', `Snapshot in force: ${second}`, 'the new version');
  await waitForText(page, '#routes tr[data-rule="split"]', 'weight 70', 'the new weights');
  await waitForText(page, '#proxies tr[data-node="consumer-1"]', `${second} current`, 'the proxy on the new version');
  await waitForText(page, '#proxies tr[data-node="billing-1"]', `rejected ${second}`, 'the NACK of the new version');

  // The control plane goes away: the page says so and keeps what it showed last.
  await mesh.closeAdmin();
  await waitForText(page, '#status', /^Control plane unreachable since .*; showing what it answered at /, 'the unreachable control plane');
  t.match(await page.locator('#services').textContent(), '127.0.0.1:20891', 'the last answer stays on the page');
  t.same(pageErrors, [], 'no script error in the page');
});

t.test("a proxy on another discovery API (Envoy's ADS) shows its kind and API, what was not translated, and the type it rejected", async (t) => {
  const mesh = await startMesh(t, { 'services.yaml': services }, undefined, [new JsonDiscovery()]);
  const version = mesh.controlPlane.snapshot!.version;
  const json = jsonClient(mesh.grpcPort);
  t.teardown(() => json.close());
  const sent = json.nextVersion();
  json.call.write({ node: { id: 'envoy-1' } });
  await sent;
  const nacked = new Promise((resolve) => mesh.controlPlane.once('nack', resolve));
  json.call.write({ nack: version });
  await nacked;
  const { page, pageErrors } = await openPage(t, mesh.url);
  const row = await waitForText(page, '#proxies tr[data-node="envoy-1"]', 'rejected', 'the Envoy-shaped proxy with its NACK');
  t.match(row, /^envoy-1proxyproxyless over envoy-ads1 untranslated item/, 'its role, kind, API and how much was not translated');
  t.match(row, `rejected ${version} (${TYPE}) at`, 'the NACK names the type it rejected');
  t.match(row, `${TYPE}: no`);
  t.equal(
    await page.locator('#proxies tr[data-node="envoy-1"] .untranslated').getAttribute('title'),
    'DubboRoute default/r: spec.routes[0].retries: not here',
    'the untranslated lines on hover',
  );
  t.same(pageErrors, [], 'no script error in the page');
});

t.test('before any snapshot the page shows the refusal and empty sections, then the first version', async (t) => {
  const orphan = `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboRoute
metadata: {name: orphan}
spec:
  hosts: [org.example.UserService]
  routes: [{destinations: [{service: user-provider}]}]
`;
  const mesh = await startMesh(t, { 'routes.yaml': orphan });
  t.equal(mesh.controlPlane.snapshot, undefined);
  t.equal((await fetch(`${mesh.base}/readyz`)).status, 503);
  const { page, pageErrors } = await openPage(t, mesh.url);
  await waitForText(page, '#overview', 'No snapshot has been published yet', 'no version');
  const refusal = await waitForText(page, '#refusal', 'routes.yaml', 'the refusal');
  t.match(refusal, 'No snapshot has been published yet.');
  t.match(refusal, /DubboRoute default\/orphan: .*user-provider/);
  t.match(await page.locator('#services .content').textContent(), 'No services.');
  t.match(await page.locator('#routes .content').textContent(), 'No routes');
  t.match(await page.locator('#proxies .content').textContent(), 'No proxy is connected.');

  const published = new Promise<string>((resolve) => mesh.controlPlane.once('published', (snapshot) => resolve(snapshot.version)));
  await writeFile(path.join(mesh.dir, 'services.yaml'), services);
  const version = await published;
  await waitForText(page, '#overview', `Snapshot in force: ${version}`, 'the first version');
  await waitForText(page, '#refusal', 'None', 'no refusal');
  await waitForText(page, '#routes', 'default/orphan', 'the route');
  t.same(pageErrors, [], 'no script error in the page');
});

t.test('names, labels and errors are shown as text: markup in them is never parsed or run', async (t) => {
  const hostile = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">';
  const mesh = await startMesh(t, {
    'services.yaml': services
      .replace('labels: {version: v2}', `labels: {version: v2, note: '${hostile}'}`)
      .replace('loadBalancer:', 'healthCheck: {interval: 5s}\n  loadBalancer:'),
    'routes.yaml': route(90, 10),
  });
  await connect(t, mesh.grpcPort, 'hostile-1', () => {
    throw new Error(hostile);
  });
  const { page, pageErrors } = await openPage(t, mesh.url);
  const endpoint = await waitForText(page, '#services tr[data-address="127.0.0.1:20893"]', 'note=', 'the label');
  t.match(endpoint, `note=${hostile}`, 'the label value is text');
  t.match(
    await page.locator('#services article').textContent(),
    'health checked by each proxy (interval: 5s)',
    'a configured health check is named, not its results',
  );
  await waitForText(page, '#proxies tr[data-node="hostile-1"]', `applying the snapshot failed: ${hostile}`, 'the NACK error as text');

  const refused = new Promise<Refusal>((resolve) => mesh.controlPlane.once('refused', resolve));
  await writeFile(path.join(mesh.dir, 'routes.yaml'), route(90, 10).replace('hosts:', `'${hostile}': 1\n  hosts:`));
  await refused;
  await waitForText(page, '#refusal', `spec.${hostile}: unknown field`, 'the refusal error as text');

  const injected = await page.evaluate('({ scripts: document.querySelectorAll("main script, main img").length, pwned: window.__pwned ?? null })');
  t.same(injected, { scripts: 0, pwned: null }, 'no element was made from the data and nothing ran');
  t.same(pageErrors, [], 'no script error in the page');
});

t.test('Dubbo rules: a second rule for a key is refused with its error while the first stays; markup in a key is text', async (t) => {
  const hostile = '<svg/onload=window.__pwned=4>';
  const userRule = conditionRule('org.example.UserService:1.0.0');
  // Two folders, two sources: a conflict between them leaves the second one's rule refused, listed with its error.
  const mesh = await startMesh(t, { 'services.yaml': services, 'rules.yaml': userRule, 'hostile.yaml': conditionRule(hostile, 'application') }, {});
  const { page, pageErrors } = await openPage(t, mesh.url);
  const hostileRow = await waitForText(page, '#rules tbody', hostile, 'the application rule with markup in its key');
  t.match(hostileRow, `condition v3.0application${hostile}in force`, 'its key shown as text, in force');
  t.equal(await page.locator('#rules tr[data-state="in-force"]').count(), 2, 'both rules in force');

  const refused = new Promise<Refusal>((resolve) => mesh.controlPlane.once('refused', resolve));
  const conflict = path.join(mesh.dir2!, 'conflict.yaml');
  await writeFile(
    conflict,
    `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboRule
metadata: {name: user-rule}
spec:
${userRule.replace(/^/gm, '  ').trimEnd()}
`,
  );
  await refused;
  const [holder] = ((await (await fetch(`${mesh.base}/api/v1/rules`)).json()) as RuleStatus[]).filter(
    (rule) => rule.origin === path.join(mesh.dir, 'rules.yaml'),
  );
  const row = await waitForText(page, '#rules tr[data-state="refused"]', 'one rule document per key', 'the refused rule with its error');
  t.match(row, /^condition v3\.0\s*service\s*org\.example\.UserService:1\.0\.0:\s*refused/, 'its kind, scope, key and state');
  t.match(
    row,
    `${conflict}:7:8: DubboRule default/user-rule: spec.key: a condition rule for "org.example.UserService:1.0.0:" is already given by ${holder!.resource} (one rule document per key)`,
    'its error, naming the rule that holds the key',
  );
  t.match(row, `file:${mesh.dir2}${conflict}DubboRule default/user-rule`, 'its source, origin and resource');
  t.equal(await page.locator('#rules tr.refused').count(), 1, 'marked refused');
  t.match(await page.locator(`#rules tr[data-resource="${holder!.resource}"]`).textContent(), 'in force', 'the rule that holds the key stays in force');
  await waitForText(page, '#overview', '3 Dubbo rules (1 refused)', 'the refused rule counted in the overview');

  const injected = await page.evaluate('({ elements: document.querySelectorAll("main svg, main script, main img").length, pwned: window.__pwned ?? null })');
  t.same(injected, { elements: 0, pwned: null }, 'no element was made from the key and nothing ran');
  t.same(pageErrors, [], 'no script error in the page');
});

t.test('plugins: in the order proxies run them, a refused one with every error; markup in a tag or service is text', async (t) => {
  const hostile = '<img src=x onerror="window.__pwned = 5">';
  const plugin = (name: string, spec: string) => `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboPlugin
metadata: {name: ${name}}
spec:
${spec.trim().replace(/^/gm, '  ')}
`;
  const auth = plugin(
    'auth-login',
    `services: [org.example.*, '${hostile}']
phases: [request, response]
order: 10
tag: '${hostile}'
grpc: {address: 127.0.0.1:9500, timeout: 50ms}
failurePolicy: fail-open`,
  );
  const mesh = await startMesh(t, { 'services.yaml': services, 'auth.yaml': auth, 'enrich.yaml': plugin('enrich', 'module: /opt/plugins/enrich.mjs') }, {});
  const { page, pageErrors } = await openPage(t, mesh.url);
  await waitForText(page, '#plugins tbody', 'auth-login', 'the plugins');
  t.same(
    await page.locator('#plugins tbody tr').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-resource'))),
    ['DubboPlugin default/enrich', 'DubboPlugin default/auth-login'],
    'order 0 before order 10',
  );
  const row = (resource: string, state = 'in-force') => page.locator(`#plugins tr[data-resource="${resource}"][data-state="${state}"]`).textContent();
  t.match(
    await row('DubboPlugin default/enrich'),
    /^0DubboPlugin default\/enrich\s*every call\s*request\s*module \/opt\/plugins\/enrich\.mjs, timeout 200 ms\s*fail-closed\s*short-circuited for 10 s after 5 failures in a row\s*in force/,
    'a module plugin with the defaults: every call, request phase, 200 ms, fail-closed',
  );
  const auth1 = await row('DubboPlugin default/auth-login');
  t.match(auth1, `10DubboPlugin default/auth-loginorg.example.*, ${hostile}request, response`, 'its order, services (markup as text) and phases');
  t.match(auth1, `gRPC 127.0.0.1:9500, timeout 50 mstag ${hostile}fail-open`, 'its target, tag as text, and failure policy');
  t.match(auth1, `in forcefile:${mesh.dir}${path.join(mesh.dir, 'auth.yaml')}`, 'its state, source and origin');
  await waitForText(page, '#overview', '2 plugins ·', 'counted in the overview, none refused');

  // The same name in the second folder: refused there, with its error; the first stays in force.
  const conflict = path.join(mesh.dir2!, 'auth.yaml');
  let refused = new Promise<Refusal>((resolve) => mesh.controlPlane.once('refused', resolve));
  await writeFile(conflict, plugin('auth-login', 'module: /opt/plugins/other.mjs\norder: 10'));
  await refused;
  const loser = await waitForText(page, '#plugins tr[data-state="refused"]', 'is defined twice', 'the refused plugin with its error');
  t.match(loser, /^10DubboPlugin default\/auth-login\s*every call\s*request\s*module \/opt\/plugins\/other\.mjs/, 'what the refused plugin would be');
  t.match(loser, `refused${conflict}:3:18: DubboPlugin default/auth-login: metadata.name: is defined twice`, 'its error');
  t.match(loser, `file:${mesh.dir2}${conflict}`, 'its source and origin');
  t.match(await row('DubboPlugin default/auth-login'), 'in force', 'the first stays in force');
  await waitForText(page, '#overview', '3 plugins (1 refused)', 'the refused plugin counted in the overview');

  // An invalid edit of the plugin in force: every error, and its last valid version stays.
  await rm(conflict);
  await waitForText(page, '#overview', '2 plugins ·', 'the conflict gone');
  refused = new Promise<Refusal>((resolve) => mesh.controlPlane.once('refused', resolve));
  await writeFile(
    path.join(mesh.dir, 'auth.yaml'),
    auth.replace('phases: [request, response]', 'phases: [before]').replace('failurePolicy: fail-open', 'module: /x.mjs'),
  );
  await refused;
  const [, edit] = ((await (await fetch(`${mesh.base}/api/v1/plugins`)).json()) as PluginStatus[]).filter(
    (p) => p.resource === 'DubboPlugin default/auth-login',
  );
  t.equal(edit!.errors.length, 2);
  const broken = await waitForText(page, '#plugins tr[data-state="refused"]', 'Its last valid version stays in force', 'the refused edit');
  t.match(
    broken,
    `unknownDubboPlugin default/auth-loginunknownunknownunknownunknownrefused${edit!.errors.join('')}Its last valid version stays in force`,
    'every error',
  );
  t.match(await row('DubboPlugin default/auth-login'), `gRPC 127.0.0.1:9500`, 'the last valid version, in force');

  const injected = await page.evaluate('({ elements: document.querySelectorAll("main img, main script").length, pwned: window.__pwned ?? null })');
  t.same(injected, { elements: 0, pwned: null }, 'no element was made from a tag or service and nothing ran');
  t.same(pageErrors, [], 'no script error in the page');
});

t.test('sources: each with its state, last change, refusal and error, as GET /api/v1/sources gives them', async (t) => {
  // GET /api/v1/sources is built in parallel with this page; this fake admin API serves its
  // documented shape so the page's rendering of it is tested now. The other APIs are absent,
  // which their sections must survive.
  const server = Fastify();
  await registerAdminPage(server);
  const at = '2026-12-01T10:00:00.000Z';
  server.get('/readyz', async () => ({ ready: true, version: 'v-sources', lastRefusal: null }));
  server.get('/api/v1/sources', async () => [
    {
      name: '/etc/mesh',
      type: 'file',
      state: 'refused',
      lastChange: at,
      resources: 3,
      lastRefusal: { errors: ['/etc/mesh/a.yaml:3:1: <b>bad</b> field'], origins: ['/etc/mesh/a.yaml'], at },
      error: null,
    },
    {
      name: 'kubernetes',
      type: 'kubernetes',
      state: 'unreachable',
      lastChange: null,
      resources: 0,
      lastRefusal: null,
      error: 'connect ECONNREFUSED <i>10.0.0.1</i>:443',
    },
  ]);
  await server.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => server.close());
  const address = server.server.address() as { port: number };
  const { page, pageErrors } = await openPage(t, `http://127.0.0.1:${address.port}/?refresh=200`);
  const text = await waitForText(page, '#sources', 'kubernetes', 'the sources');
  t.match(text, /\/etc\/mesh\s*file\s*refused/);
  t.match(text, 'in /etc/mesh/a.yaml');
  t.match(text, '/etc/mesh/a.yaml:3:1: <b>bad</b> field', 'the refusal error, as text');
  t.match(
    text,
    /kubernetes\s*kubernetes\s*unreachable\s*never\s*0\s*none\s*connect ECONNREFUSED <i>10\.0\.0\.1<\/i>:443/,
    'a source with an error and no refusal',
  );
  t.equal(await page.locator('#sources b, #sources i').count(), 0, 'no element made from the data');
  t.match(await page.locator('#services').textContent(), 'Not available: GET /api/v1/services answered 404', 'a missing API marks its section only');
  t.match(await page.locator('#overview').textContent(), 'Snapshot in force: v-sources', 'the rest is shown');
  t.same(pageErrors, [], 'no script error in the page');
});

t.test('Dubbo rules a config center or Kubernetes refuses: unreadable documents, and whether the last valid version stays', async (t) => {
  // File sources refuse a whole change, so these shapes of GET /api/v1/rules (a refused edit of
  // a rule whose last valid version stays, an object that is no rule at all, a disabled rule)
  // come from other sources; this fake admin API serves them as RuleStatus documents them.
  const server = Fastify();
  await registerAdminPage(server);
  const header = { kind: 'tag', scope: 'application', configVersion: 'v3.0', enabled: true, source: 'zookeeper-rules' } as const;
  const rules: RuleStatus[] = [
    {
      ...header,
      resource: 'DubboRule default/tag-user-app',
      key: 'user-app',
      origin: 'zookeeper:/dubbo/config/dubbo/user-app.tag-router',
      state: 'in-force',
      errors: [],
      lastValidInForce: null,
    },
    {
      resource: '/dubbo/config/dubbo/user-app.tag-router',
      kind: null,
      scope: null,
      key: null,
      configVersion: null,
      enabled: null,
      source: 'zookeeper-rules',
      origin: 'zookeeper:/dubbo/config/dubbo/user-app.tag-router:4:3',
      state: 'refused',
      errors: ['zookeeper:/dubbo/config/dubbo/user-app.tag-router:4:3: tags[0].addresses: expected a list', 'tags[1]: <i>unknown</i> field'],
      lastValidInForce: true,
    },
    {
      resource: 'DubboRule mesh/broken',
      kind: null,
      scope: null,
      key: null,
      configVersion: null,
      enabled: null,
      source: 'kubernetes',
      origin: null,
      state: 'refused',
      errors: ['spec.configVersion: is required'],
      lastValidInForce: false,
    },
    {
      ...header,
      resource: 'DubboRule default/tag-billing',
      key: 'billing',
      enabled: false,
      origin: 'zookeeper:/dubbo/config/dubbo/billing.tag-router',
      state: 'disabled',
      errors: [],
      lastValidInForce: null,
    },
  ];
  server.get('/readyz', async () => ({ ready: true, version: 'v-rules', lastRefusal: null }));
  server.get('/api/v1/rules', async () => rules);
  await server.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => server.close());
  const address = server.server.address() as { port: number };
  const { page, pageErrors } = await openPage(t, `http://127.0.0.1:${address.port}/?refresh=200`);
  await waitForText(page, '#rules', 'DubboRule default/tag-billing', 'the rules');
  const row = (resource: string) => page.locator(`#rules tr[data-resource="${resource}"]`).textContent();
  t.match(await row('DubboRule default/tag-user-app'), /^tag v3\.0\s*application\s*user-app\s*in force\s*zookeeper-rules/);
  t.match(
    await row('/dubbo/config/dubbo/user-app.tag-router'),
    'unknownunknownunknownrefused' +
      'zookeeper:/dubbo/config/dubbo/user-app.tag-router:4:3: tags[0].addresses: expected a list' +
      'tags[1]: <i>unknown</i> field' +
      'Its last valid version stays in force (listed as well).' +
      'zookeeper-ruleszookeeper:/dubbo/config/dubbo/user-app.tag-router:4:3',
    'an unreadable node: every error, and its last valid version in force',
  );
  t.match(
    await row('DubboRule mesh/broken'),
    'refusedspec.configVersion: is requiredNo valid version of it is in force.kubernetesnot knownDubboRule mesh/broken',
    'a custom resource refused with nothing in force meanwhile',
  );
  t.match(await row('DubboRule default/tag-billing'), /^tag v3\.0\s*application\s*billing\s*disabled/, 'a disabled rule');
  t.equal(await page.locator('#rules tr.refused').count(), 2, 'both refused rows marked');
  t.equal(await page.locator('#rules i').count(), 0, 'no element made from an error');
  t.match(await page.locator('#overview').textContent(), '4 Dubbo rules (2 refused)');
  t.same(pageErrors, [], 'no script error in the page');
});

/** A raw GET (fetch would resolve `..` in the path before sending it). */
function rawGet(
  port: number,
  target: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: '127.0.0.1', port, path: target, headers }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body }));
    });
    request.on('error', reject);
    request.end();
  });
}

t.test('the page and its assets over HTTP: types, caching, 404 for anything else, the JSON APIs unchanged', async (t) => {
  const mesh = await startMesh(t, { 'services.yaml': services, 'routes.yaml': route(90, 10) });
  const port = mesh.admin.port;
  const page = await rawGet(port, '/');
  t.equal(page.status, 200);
  t.equal(page.headers['content-type'], 'text/html; charset=utf-8');
  t.equal(page.headers['cache-control'], 'no-cache');
  t.match(page.headers['content-security-policy'], "script-src 'self'");
  t.equal(page.headers['x-content-type-options'], 'nosniff');
  t.match(page.body, '<script type="module" src="ui/app.js"></script>');
  const etag = page.headers.etag as string;
  t.match(etag, /^"[\w-]+"$/);
  t.equal((await rawGet(port, '/', { 'if-none-match': etag })).status, 304, 'revalidation answers 304');
  t.equal((await rawGet(port, '/', { 'if-none-match': `"other", W/${etag}` })).status, 304, 'a weak tag in a list matches too');
  t.equal((await rawGet(port, '/', { 'if-none-match': '"other"' })).status, 200);

  for (const [name, type] of [
    ['app.js', 'text/javascript; charset=utf-8'],
    ['dom.js', 'text/javascript; charset=utf-8'],
    ['sections.js', 'text/javascript; charset=utf-8'],
    ['style.css', 'text/css; charset=utf-8'],
  ] as const) {
    const asset = await rawGet(port, `/ui/${name}`);
    t.equal(asset.status, 200, name);
    t.equal(asset.headers['content-type'], type, `${name}: ${type}`);
    t.ok(asset.headers.etag, `${name} has an ETag`);
  }
  for (const target of [
    '/ui/nope.js',
    '/ui/index.html',
    '/ui/',
    '/ui/../package.json',
    '/ui/%2e%2e/src/admin.ts',
    '/ui/..%2f..%2fpackage.json',
    '/index.html',
    '/ui/app.js/x',
  ]) {
    t.equal((await rawGet(port, target)).status, 404, `${target}: 404`);
  }

  const ready = await rawGet(port, '/readyz');
  t.equal(ready.status, 200);
  t.equal(ready.headers['content-type'], 'application/json; charset=utf-8');
  t.same(JSON.parse(ready.body), { ready: true, version: mesh.controlPlane.snapshot!.version, lastRefusal: null });
  t.same(JSON.parse((await rawGet(port, '/healthz')).body), { status: 'ok' });
  const servicesJson = JSON.parse((await rawGet(port, '/api/v1/services')).body) as Array<{ metadata: { name: string } }>;
  t.same(
    servicesJson.map((s) => s.metadata.name),
    ['user-provider'],
  );
  t.match((await rawGet(port, '/metrics')).headers['content-type'], /^text\/plain/);
  t.equal((await rawGet(port, '/api/v1/nope')).status, 404);
});

t.test('registerAdminPage rejects, naming the folder, when the files cannot be read', async (t) => {
  const missing = path.join(tmpdir(), 'dm-page-missing-folder');
  await t.rejects(registerAdminPage(Fastify(), { directory: missing }), {
    name: 'AdminPageError',
    code: 'DM_ERR_ADMIN_PAGE',
    message: `admin page: cannot read ${missing}: ENOENT`,
  });
  const empty = await mkdtemp(path.join(tmpdir(), 'dm-page-'));
  t.teardown(() => rm(empty, { recursive: true, force: true }));
  await t.rejects(registerAdminPage(Fastify(), { directory: empty }), {
    name: 'AdminPageError',
    code: 'DM_ERR_ADMIN_PAGE',
    message: `admin page: ${path.join(empty, 'index.html')} is missing`,
  });
  t.equal(path.basename(ADMIN_PAGE_DIRECTORY), 'web', 'the page comes from the package, not the working directory');
});
