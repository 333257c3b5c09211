/* global document, window, fetch, AbortController, URLSearchParams */
/**
 * The control plane's page: polls the admin JSON APIs every couple of seconds and renders
 * each section from what they answered. Read-only: it only sends GETs.
 *
 * A section is rendered again only when its data changed (so a reader's selection or scroll
 * inside it is not disturbed). When the control plane does not answer at all, the page says
 * so and keeps showing what it answered last, marked as such. `?refresh=MS` (100–60000)
 * changes the interval, default 2000.
 */
import { h, replaceChildren } from './dom.js';
import {
  renderMappings,
  renderOverview,
  renderPlugins,
  renderPolicies,
  renderProxies,
  renderRefusal,
  renderRoutes,
  renderRules,
  renderServices,
  renderSources,
} from './sections.js';

/** The JSON APIs the page reads, by the name the sections use; paths relative to the page. */
const APIS = {
  readyz: 'readyz',
  services: 'api/v1/services',
  routes: 'api/v1/routes',
  policies: 'api/v1/policies',
  rules: 'api/v1/rules',
  plugins: 'api/v1/plugins',
  mappings: 'api/v1/mappings',
  proxies: 'api/v1/proxies',
  sources: 'api/v1/sources',
};

/** Each section: its element id, the APIs it reads, and how it renders. */
const SECTIONS = [
  { id: 'overview', reads: ['readyz', 'services', 'routes', 'policies', 'rules', 'plugins', 'mappings', 'proxies'], render: renderOverview },
  { id: 'refusal', reads: ['readyz'], render: renderRefusal },
  { id: 'sources', reads: ['sources'], render: renderSources },
  { id: 'proxies', reads: ['readyz', 'proxies'], render: renderProxies },
  { id: 'services', reads: ['services', 'policies'], render: renderServices },
  { id: 'routes', reads: ['routes'], render: renderRoutes },
  { id: 'policies', reads: ['policies'], render: renderPolicies },
  { id: 'rules', reads: ['rules'], render: renderRules },
  { id: 'plugins', reads: ['plugins'], render: renderPlugins },
  { id: 'mappings', reads: ['mappings'], render: renderMappings },
];

const DEFAULT_REFRESH_MS = 2000;

function refreshInterval() {
  const asked = Number(new URLSearchParams(window.location.search).get('refresh'));
  return Number.isFinite(asked) && asked >= 100 && asked <= 60_000 ? asked : DEFAULT_REFRESH_MS;
}

const refreshMs = refreshInterval();
/** A request not answered within this is counted as no answer (never shorter than 5 s). */
const requestTimeoutMs = Math.max(5000, refreshMs);

/** GET one API: `{kind: 'ok', data}`, `{kind: 'unavailable', …}` or `{kind: 'unreachable', …}`. */
async function load(name, path) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), requestTimeoutMs);
  try {
    const response = await fetch(new URL(path, document.baseURI), { signal: controller.signal, cache: 'no-store', headers: { accept: 'application/json' } });
    let data;
    try {
      data = await response.json();
    } catch {
      data = undefined;
    }
    // /readyz answers 503 with its JSON before the first snapshot: that is data, not a failure.
    const answered = response.ok || (name === 'readyz' && response.status === 503);
    if (!answered || data === undefined) return { kind: 'unavailable', path, status: response.status, statusText: response.statusText };
    return { kind: 'ok', data };
  } catch (error) {
    return { kind: 'unreachable', path, reason: controller.signal.aborted ? `no answer within ${requestTimeoutMs / 1000} s` : String(error?.message ?? error) };
  } finally {
    clearTimeout(timer);
  }
}

/** What each section last rendered, to skip rendering it again with the same data. */
const rendered = new Map();
let lastAnswerAt;
let unreachableSince;

function renderSection(section, results) {
  const inputs = Object.fromEntries(section.reads.map((name) => [name, results[name]]));
  const key = JSON.stringify(inputs);
  if (rendered.get(section.id) === key) return;
  rendered.set(section.id, key);
  const content = document.querySelector(`#${section.id} .content`);
  try {
    replaceChildren(content, section.render(inputs));
  } catch (error) {
    // One section whose data has an unexpected shape must not take the others down.
    replaceChildren(content, h('p', { class: 'unavailable' }, `This section could not be shown: ${String(error?.message ?? error)}`));
  }
}

function renderStatus(now, reason) {
  const status = document.getElementById('status');
  const every = `every ${refreshMs / 1000} s`;
  if (unreachableSince === undefined) {
    status.dataset.state = 'ok';
    replaceChildren(status, 'Refreshed ', h('time', { datetime: now.toISOString() }, now.toLocaleTimeString()), ` (${every})`);
    document.body.classList.remove('stale');
    return;
  }
  status.dataset.state = 'unreachable';
  replaceChildren(
    status,
    h('strong', {}, 'Control plane unreachable'),
    ` since ${unreachableSince.toLocaleTimeString()} (${reason}); `,
    lastAnswerAt === undefined ? 'nothing received yet' : `showing what it answered at ${lastAnswerAt.toLocaleTimeString()}`,
    `; retrying ${every}.`,
  );
  document.body.classList.add('stale');
}

async function refresh() {
  const names = Object.keys(APIS);
  const answers = await Promise.all(names.map((name) => load(name, APIS[name])));
  const results = Object.fromEntries(names.map((name, i) => [name, answers[i]]));
  const now = new Date();
  if (answers.every((result) => result.kind === 'unreachable')) {
    unreachableSince ??= now;
    renderStatus(now, answers[0].reason);
    return;
  }
  unreachableSince = undefined;
  lastAnswerAt = now;
  for (const section of SECTIONS) renderSection(section, results);
  renderStatus(now);
}

async function loop() {
  try {
    await refresh();
  } catch (error) {
    // A bug here must not stop the refreshing: say it and go on.
    const status = document.getElementById('status');
    status.dataset.state = 'unreachable';
    replaceChildren(status, `Refresh failed: ${String(error?.message ?? error)}`);
  }
  setTimeout(loop, refreshMs);
}

loop();
