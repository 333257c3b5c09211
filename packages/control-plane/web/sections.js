/**
 * One function per section of the page: from what the admin JSON APIs answered to DOM nodes
 * (built with dom.js, so every value is text). A result is `{kind: 'ok', data}`,
 * `{kind: 'unavailable', path, status, statusText}` (the API answered with an error status)
 * or `{kind: 'unreachable', path, reason}` (no answer).
 *
 * Resources are shown as the control plane serves them (as written in their source): a field
 * left out is shown as "default" rather than with a value guessed here, so the page never
 * disagrees with the configuration reference.
 */
import { h, table } from './dom.js';

/** `namespace/name` of a resource (namespace `default` when left out, as in files). */
export function resourceName(resource) {
  const metadata = resource?.metadata ?? {};
  return `${metadata.namespace ?? 'default'}/${metadata.name ?? '?'}`;
}

/** What a person reads for an API that did not answer with its data. */
export function unavailable(result) {
  const said = result.kind === 'unreachable' ? `no answer (${result.reason})` : `answered ${result.status}${result.statusText ? ` ${result.statusText}` : ''}`;
  const hint = result.status === 404 ? ' — this control plane does not serve it' : '';
  return h('p', { class: 'unavailable' }, `Not available: GET /${result.path} ${said}${hint}.`);
}

/** A `<time>` for an ISO timestamp, in the reader's local time (the ISO form on hover). */
export function time(iso) {
  if (typeof iso !== 'string' || iso === '') return h('span', { class: 'muted' }, 'never');
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return h('span', {}, iso);
  return h('time', { datetime: iso, title: iso }, date.toLocaleString());
}

/** `key=value` chips; "none" for no labels. */
function labels(map) {
  const entries = Object.entries(map ?? {});
  if (entries.length === 0) return h('span', { class: 'muted' }, 'none');
  return h(
    'span',
    { class: 'labels' },
    entries.map(([key, value]) => h('span', { class: 'label' }, `${key}=${value}`)),
  );
}

function code(text) {
  return h('code', {}, text);
}

function defaulted(value, render = (v) => String(v)) {
  return value === undefined || value === null
    ? h('span', { class: 'muted', title: 'left out: the default of docs/configuration.md applies' }, 'default')
    : render(value);
}

function plural(count, one, many = `${one}s`) {
  return `${count} ${count === 1 ? one : many}`;
}

/** `{a: 1, b: {c: 2}}` as `a: 1, b: {c: 2}`: compact, readable, and still plain text. */
function compact(value) {
  if (value === undefined || value === null) return '';
  if (typeof value !== 'object') return String(value);
  if (Array.isArray(value)) return `[${value.map(compact).join(', ')}]`;
  return Object.entries(value)
    .map(([key, inner]) => `${key}: ${typeof inner === 'object' && inner !== null && !Array.isArray(inner) ? `{${compact(inner)}}` : compact(inner)}`)
    .join(', ');
}

function errorList(errors) {
  return h(
    'ul',
    { class: 'errors' },
    (errors ?? []).map((error) => h('li', {}, code(error))),
  );
}

/** The top of the page: the snapshot in force and how many of everything there is. */
export function renderOverview({ readyz, services, routes, policies, rules, plugins, mappings, proxies }) {
  const nodes = [];
  if (readyz.kind !== 'ok') nodes.push(unavailable(readyz));
  else if (readyz.data.version === null || readyz.data.version === undefined) {
    nodes.push(
      h(
        'p',
        { class: 'warning', 'data-field': 'version' },
        'No snapshot has been published yet: a proxy that connects gets nothing until the sources give a valid configuration (see the refused change below).',
      ),
    );
  } else {
    nodes.push(h('p', { 'data-field': 'version' }, 'Snapshot in force: ', code(readyz.data.version)));
  }
  const counts = [];
  if (services.kind === 'ok') {
    const endpoints = services.data.reduce((sum, service) => sum + (service?.spec?.endpoints?.length ?? 0), 0);
    counts.push(plural(services.data.length, 'service'), plural(endpoints, 'endpoint'));
  }
  if (routes.kind === 'ok') counts.push(plural(routes.data.length, 'route'));
  if (policies.kind === 'ok') counts.push(plural(policies.data.length, 'policy', 'policies'));
  if (rules.kind === 'ok') {
    const refused = rules.data.filter((rule) => rule?.state === 'refused').length;
    counts.push(`${plural(rules.data.length, 'Dubbo rule')}${refused > 0 ? ` (${refused} refused)` : ''}`);
  }
  if (plugins?.kind === 'ok') {
    const refused = plugins.data.filter((plugin) => plugin?.state === 'refused').length;
    counts.push(`${plural(plugins.data.length, 'plugin')}${refused > 0 ? ` (${refused} refused)` : ''}`);
  }
  if (mappings.kind === 'ok') counts.push(plural(mappings.data.length, 'service key'));
  if (proxies.kind === 'ok') {
    const version = readyz.kind === 'ok' ? readyz.data.version : undefined;
    const current = proxies.data.filter((proxy) => version && proxy.ackedVersion === version).length;
    const nacked = proxies.data.filter((proxy) => proxy.lastNack).length;
    counts.push(
      `${plural(proxies.data.length, 'proxy', 'proxies')} connected (${current} on the snapshot in force${nacked > 0 ? `, ${nacked} with a NACK` : ''})`,
    );
  }
  if (counts.length > 0) nodes.push(h('p', { class: 'counts' }, counts.join(' · ')));
  return nodes;
}

/** The last change the control plane refused (from /readyz), or that there is none. */
export function renderRefusal({ readyz }) {
  if (readyz.kind !== 'ok') return unavailable(readyz);
  const refusal = readyz.data.lastRefusal;
  if (!refusal) return h('p', { class: 'ok' }, 'None: the latest state of every source is in force.');
  const version = readyz.data.version;
  return h(
    'div',
    { class: 'refusal' },
    h(
      'p',
      {},
      'Refused at ',
      time(refusal.at),
      refusal.source ? [' from ', code(refusal.source)] : '',
      '. ',
      version ? ['Snapshot ', code(version), ' stays in force.'] : 'No snapshot has been published yet.',
    ),
    (refusal.origins ?? []).length > 0
      ? h(
          'p',
          {},
          'Files: ',
          refusal.origins.map((origin, i) => [i > 0 ? ', ' : '', code(origin)]),
        )
      : null,
    errorList(refusal.errors),
  );
}

/** Every source with its state (GET /api/v1/sources). */
export function renderSources({ sources }) {
  if (sources.kind !== 'ok') return unavailable(sources);
  if (sources.data.length === 0) return h('p', { class: 'muted' }, 'No sources.');
  return table(
    'sources',
    ['Name', 'Type', 'State', 'Last change', 'Resources', 'Last refusal', 'Error'],
    sources.data.map((source) => [
      code(source.name),
      source.type,
      h('span', { class: `state state-${String(source.state).replace(/[^a-z-]/gi, '')}` }, source.state),
      time(source.lastChange),
      String(source.resources ?? ''),
      source.lastRefusal
        ? [
            h(
              'div',
              {},
              'at ',
              time(source.lastRefusal.at),
              (source.lastRefusal.origins ?? []).length > 0 ? [' in ', source.lastRefusal.origins.map((o, i) => [i > 0 ? ', ' : '', code(o)])] : '',
            ),
            errorList(source.lastRefusal.errors),
          ]
        : h('span', { class: 'muted' }, 'none'),
      source.error ? h('span', { class: 'error-text' }, source.error) : h('span', { class: 'muted' }, 'none'),
    ]),
  );
}

/** `envoy.config.cluster.v3.Cluster` of an xDS type URL: what a person reads. */
function typeName(typeUrl) {
  return String(typeUrl).replace(/^type\.googleapis\.com\//, '');
}

/** An xDS client's kind and API (`envoy-sidecar over envoy-ads-delta`), with how much could not be translated for it. */
function apiText(proxy) {
  const untranslated = proxy.untranslatedCount ?? proxy.untranslated?.length ?? 0;
  return [
    proxy.kind ? [code(proxy.kind), ' over '] : '',
    code(proxy.api),
    untranslated > 0 ? h('div', { class: 'untranslated', title: proxy.untranslated.join('\n') }, plural(untranslated, 'untranslated item')) : '',
  ];
}

/** Connected proxies: who, since when, which version they ACKed, and their last NACK (for xDS clients, of which type). */
export function renderProxies({ readyz, proxies }) {
  if (proxies.kind !== 'ok') return unavailable(proxies);
  if (proxies.data.length === 0) return h('p', { class: 'muted' }, 'No proxy is connected.');
  const version = readyz.kind === 'ok' ? readyz.data.version : undefined;
  return table(
    'proxies',
    ['Node', 'Role', 'Identity', 'Peer', 'Connected', 'Sent', 'ACKed', 'Last NACK'],
    proxies.data.map((proxy) => {
      const node = proxy.node ?? {};
      const acked = proxy.ackedVersion
        ? [
            code(proxy.ackedVersion),
            ' ',
            proxy.ackedVersion === version ? h('span', { class: 'badge ok' }, 'current') : h('span', { class: 'badge warn' }, 'behind'),
          ]
        : h('span', { class: 'muted' }, 'none yet');
      const nack = proxy.lastNack
        ? h(
            'div',
            { class: 'nack' },
            h(
              'div',
              {},
              'rejected ',
              code(proxy.lastNack.version),
              proxy.lastNack.typeUrl ? [' (', code(typeName(proxy.lastNack.typeUrl)), ')'] : '',
              ' at ',
              time(proxy.lastNack.at),
            ),
            h('div', {}, proxy.lastNack.message),
            errorList(proxy.lastNack.errors),
          )
        : h('span', { class: 'muted' }, 'none');
      return {
        attributes: { 'data-node': node.id },
        cells: [
          code(node.id ?? '?'),
          [String(node.role ?? '').toLowerCase(), proxy.api && proxy.api !== 'dubbo-mesh' ? h('div', { class: 'api' }, apiText(proxy)) : ''],
          [node.service ? ['service ', code(node.service), ' '] : '', node.namespace ? ['namespace ', code(node.namespace), ' '] : '', labels(node.labels)],
          proxy.peer,
          time(proxy.connectedAt),
          proxy.sentVersion ? code(proxy.sentVersion) : h('span', { class: 'muted' }, 'nothing yet'),
          acked,
          nack,
        ],
      };
    }),
  );
}

function interfaceText(entry) {
  if (typeof entry === 'string') return entry;
  const parts = [entry?.interface ?? '?'];
  if (entry?.group !== undefined) parts.push(`group ${entry.group}`);
  if (entry?.version !== undefined) parts.push(`version ${entry.version}`);
  return parts.join(' ');
}

function policyOf(policies, service) {
  if (policies.kind !== 'ok') return undefined;
  const namespace = service?.metadata?.namespace ?? 'default';
  return policies.data.find((policy) => policy?.spec?.service === service?.metadata?.name && (policy?.metadata?.namespace ?? 'default') === namespace);
}

function subsetsOf(policy, endpoint) {
  const endpointLabels = endpoint?.labels ?? {};
  return (policy?.spec?.subsets ?? [])
    .filter((subset) => Object.entries(subset?.labels ?? {}).every(([key, value]) => endpointLabels[key] === value))
    .map((subset) => subset.name);
}

/** Services with their interfaces and endpoints (labels, weight, subsets, and what is known of health). */
export function renderServices({ services, policies }) {
  if (services.kind !== 'ok') return unavailable(services);
  if (services.data.length === 0) return h('p', { class: 'muted' }, 'No services.');
  return services.data.map((service) => {
    const spec = service?.spec ?? {};
    const policy = policyOf(policies, service);
    const healthCheck = policy?.spec?.healthCheck;
    const endpoints = spec.endpoints ?? [];
    return h(
      'article',
      { class: 'service', 'data-service': resourceName(service) },
      h('h3', {}, resourceName(service)),
      h(
        'p',
        { class: 'meta' },
        'Interfaces: ',
        (spec.interfaces ?? []).map((entry, i) => [i > 0 ? ', ' : '', code(interfaceText(entry))]),
        spec.port !== undefined ? ['; port ', String(spec.port)] : '',
        '; ',
        policy ? ['policy ', code(resourceName(policy))] : 'no DubboPolicy (defaults apply)',
        '; ',
        healthCheck ? `health checked by each proxy (${compact(healthCheck) || 'default intervals'})` : 'no active health check configured',
      ),
      endpoints.length === 0
        ? h('p', { class: 'muted' }, 'No endpoints.')
        : table(
            'endpoints',
            ['Address', 'Labels', 'Weight', 'Subsets', 'Health'],
            endpoints.map((endpoint) => {
              const subsets = subsetsOf(policy, endpoint);
              return {
                attributes: { 'data-address': endpoint?.address },
                cells: [
                  code(endpoint?.address ?? '?'),
                  labels(endpoint?.labels),
                  endpoint?.weight === 0 ? h('span', { class: 'warning' }, '0 (never picked)') : defaulted(endpoint?.weight),
                  subsets.length > 0 ? subsets.join(', ') : h('span', { class: 'muted' }, 'none'),
                  h(
                    'span',
                    { class: 'muted', title: 'health checks and ejections happen in each proxy; see its GET /clusters' },
                    'not reported to the control plane',
                  ),
                ],
              };
            }),
          ),
    );
  });
}

function matchText(match) {
  const parts = [];
  const rule = (value) =>
    Object.entries(value ?? {})
      .map(([op, operand]) => `${op} ${JSON.stringify(operand)}`)
      .join(' ');
  if (match?.method) parts.push(`method ${rule(match.method)}`);
  for (const [key, value] of Object.entries(match?.attachments ?? {})) parts.push(`attachment ${key} ${rule(value)}`);
  for (const argument of match?.arguments ?? []) {
    const { index, ...operand } = argument ?? {};
    parts.push(`argument ${index} ${rule(operand)}`);
  }
  return parts.length === 0 ? 'always' : parts.join(' and ');
}

/** Routes: hosts, then each rule in order with its match, destinations and weights. */
export function renderRoutes({ routes }) {
  if (routes.kind !== 'ok') return unavailable(routes);
  if (routes.data.length === 0) return h('p', { class: 'muted' }, 'No routes: each call goes to the one service that provides its key.');
  return routes.data.map((route) => {
    const spec = route?.spec ?? {};
    return h(
      'article',
      { class: 'route', 'data-route': resourceName(route) },
      h('h3', {}, resourceName(route)),
      h(
        'p',
        { class: 'meta' },
        'Hosts: ',
        (spec.hosts ?? []).map((host, i) => [i > 0 ? ', ' : '', code(host)]),
      ),
      table(
        'rules',
        ['#', 'Rule', 'Match', 'Destinations', 'Timeout', 'Retries'],
        (spec.routes ?? []).map((rule, i) => ({
          attributes: { 'data-rule': rule?.name ?? `route-${i}` },
          cells: [
            String(i),
            rule?.name ?? h('span', { class: 'muted' }, `route-${i}`),
            (rule?.match ?? []).length === 0
              ? h('span', { class: 'muted' }, 'always')
              : h(
                  'ul',
                  {},
                  rule.match.map((match) => h('li', {}, matchText(match))),
                ),
            h(
              'ul',
              { class: 'destinations' },
              (rule?.destinations ?? []).map((destination) =>
                h(
                  'li',
                  {},
                  code(`${destination?.service ?? '?'}${destination?.subset ? `/${destination.subset}` : ''}`),
                  ' weight ',
                  defaulted(destination?.weight),
                ),
              ),
            ),
            defaulted(rule?.timeout),
            defaulted(rule?.retries, compact),
          ],
        })),
      ),
    );
  });
}

/** Policies: subsets, load balancing, connection pool, outlier detection, health check. */
export function renderPolicies({ policies }) {
  if (policies.kind !== 'ok') return unavailable(policies);
  if (policies.data.length === 0) return h('p', { class: 'muted' }, 'No policies: every service uses the defaults.');
  return table(
    'policies',
    ['Policy', 'Service', 'Subsets', 'Load balancer', 'Connection pool', 'Outlier detection', 'Health check'],
    policies.data.map((policy) => {
      const spec = policy?.spec ?? {};
      return [
        code(resourceName(policy)),
        code(spec.service ?? '?'),
        (spec.subsets ?? []).length === 0
          ? h('span', { class: 'muted' }, 'none')
          : h(
              'ul',
              {},
              spec.subsets.map((subset) => h('li', {}, code(subset?.name ?? '?'), ' ', labels(subset?.labels))),
            ),
        defaulted(spec.loadBalancer, compact),
        defaulted(spec.connectionPool, compact),
        defaulted(spec.outlierDetection, compact),
        spec.healthCheck ? compact(spec.healthCheck) || 'on (default intervals)' : h('span', { class: 'muted' }, 'off'),
      ];
    }),
  );
}

/** What GET /api/v1/rules says for a field it could not read (a document that was not a rule). */
function unknown() {
  return h('span', { class: 'muted', title: 'the document could not be read as a rule' }, 'unknown');
}

const STATES = {
  'in-force': { text: 'in force', badge: 'ok' },
  disabled: { text: 'disabled', badge: 'muted', title: 'enabled: false — in the snapshot, but it narrows nothing' },
  refused: { text: 'refused', badge: 'bad' },
};

/**
 * The state of a rule or plugin (GET /api/v1/rules, /api/v1/plugins): a badge, and for a
 * refused one every error and what applies meanwhile.
 */
function entryState(entry) {
  const known = STATES[entry?.state];
  const badge = h('span', { class: `badge ${known?.badge ?? 'warn'}`, title: known?.title }, known?.text ?? String(entry?.state ?? '?'));
  if (entry?.state !== 'refused') return badge;
  let meanwhile = null;
  if (entry.lastValidInForce === true) meanwhile = h('p', { class: 'meanwhile' }, 'Its last valid version stays in force (listed as well).');
  else if (entry.lastValidInForce === false) meanwhile = h('p', { class: 'meanwhile' }, 'No valid version of it is in force.');
  return [badge, errorList(entry.errors), meanwhile];
}

/** Dubbo governance rules (GET /api/v1/rules): kind, scope, key, state with errors, source and origin. */
export function renderRules({ rules }) {
  if (rules.kind !== 'ok') return unavailable(rules);
  if (rules.data.length === 0) return h('p', { class: 'muted' }, 'No Dubbo rules: no condition, tag or override rule narrows any call.');
  return table(
    'dubbo-rules',
    ['Kind', 'Scope', 'Key', 'State', 'Source', 'Origin', 'Resource'],
    rules.data.map((rule) => ({
      attributes: { 'data-resource': rule?.resource, 'data-state': rule?.state, class: rule?.state === 'refused' ? 'refused' : null },
      cells: [
        rule?.kind ? [rule.kind, rule.configVersion ? h('span', { class: 'muted' }, ` ${rule.configVersion}`) : ''] : unknown(),
        rule?.scope ?? unknown(),
        rule?.key ? code(rule.key) : unknown(),
        entryState(rule),
        code(rule?.source ?? '?'),
        rule?.origin ? code(rule.origin) : h('span', { class: 'muted' }, 'not known'),
        code(rule?.resource ?? '?'),
      ],
    })),
  );
}

/** `50 ms`, `2 s`, `1.5 s`: a duration in milliseconds as a person reads it. */
function milliseconds(ms) {
  if (typeof ms !== 'number') return '?';
  return ms >= 1000 && ms % 100 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/** What a plugin calls: a gRPC service or an in-process module, with its deadline. */
function pluginTarget(plugin) {
  if (plugin?.kind === 'grpc') return ['gRPC ', code(plugin.address ?? '?'), h('span', { class: 'muted' }, `, timeout ${milliseconds(plugin.timeoutMs)}`)];
  if (plugin?.kind === 'module') return ['module ', code(plugin.path ?? '?'), h('span', { class: 'muted' }, `, timeout ${milliseconds(plugin.timeoutMs)}`)];
  return unreadable();
}

/** A plugin's failure policy, and when its own circuit breaker short-circuits it. */
function pluginFailure(plugin) {
  if (!plugin?.failurePolicy) return unreadable();
  const breaker = plugin.circuitBreaker;
  return [
    plugin.failurePolicy,
    breaker
      ? h('div', { class: 'muted' }, `short-circuited for ${milliseconds(breaker.openForMs)} after ${plural(breaker.consecutiveFailures, 'failure')} in a row`)
      : '',
  ];
}

/** What GET /api/v1/plugins says for a field it could not read (an object that is no valid plugin). */
function unreadable() {
  return h('span', { class: 'muted', title: 'the object could not be read as a plugin' }, 'unknown');
}

/**
 * Plugins (GET /api/v1/plugins), in the order proxies run them: order, name, the calls they
 * select, phases, what is called, failure policy, state with errors, source and origin.
 */
export function renderPlugins({ plugins }) {
  if (plugins.kind !== 'ok') return unavailable(plugins);
  if (plugins.data.length === 0) return h('p', { class: 'muted' }, 'No plugins: no call goes through one.');
  return table(
    'plugins',
    ['Order', 'Name', 'Services', 'Phases', 'Target', 'Failure policy', 'State', 'Source', 'Origin'],
    plugins.data.map((plugin) => ({
      attributes: { 'data-resource': plugin?.resource, 'data-state': plugin?.state, class: plugin?.state === 'refused' ? 'refused' : null },
      cells: [
        typeof plugin?.order === 'number' ? String(plugin.order) : unreadable(),
        code(plugin?.resource ?? '?'),
        !plugin?.kind
          ? unreadable()
          : Array.isArray(plugin?.services)
            ? plugin.services.map((service, i) => [i > 0 ? ', ' : '', code(service)])
            : h('span', { class: 'muted' }, 'every call'),
        Array.isArray(plugin?.phases) ? plugin.phases.join(', ') : unreadable(),
        [pluginTarget(plugin), plugin?.tag ? h('div', {}, 'tag ', code(plugin.tag)) : ''],
        pluginFailure(plugin),
        entryState(plugin),
        code(plugin?.source ?? '?'),
        plugin?.origin ? code(plugin.origin) : h('span', { class: 'muted' }, 'not known'),
      ],
    })),
  );
}

/** Service keys (interface, group, version) and the mesh service each goes to. */
export function renderMappings({ mappings }) {
  if (mappings.kind !== 'ok') return unavailable(mappings);
  if (mappings.data.length === 0) return h('p', { class: 'muted' }, 'No service keys.');
  const any = () => h('span', { class: 'muted' }, 'any');
  return table(
    'mappings',
    ['Interface', 'Group', 'Version', 'Service'],
    mappings.data.map((mapping) => [
      code(mapping.interface),
      mapping.group ? code(mapping.group) : any(),
      mapping.version ? code(mapping.version) : any(),
      code(mapping.service),
    ]),
  );
}
