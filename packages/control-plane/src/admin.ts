import Fastify, { type FastifyInstance } from 'fastify';
import { registerAdminPage } from './admin-page.js';
import type { ControlPlane } from './control-plane.js';
import type { ProxyNack, ProxyTypeStatus } from './discovery-stream.js';
import type { Snapshot } from './snapshot.js';
import type { SourceStateName, SourceStatus } from './source-status.js';

const counts = {
  type: 'object',
  properties: {
    services: { type: 'integer' },
    endpoints: { type: 'integer' },
    routes: { type: 'integer' },
    policies: { type: 'integer' },
    mappings: { type: 'integer' },
  },
  required: ['services', 'endpoints', 'routes', 'policies', 'mappings'],
} as const;
const anyObject = { type: 'object', additionalProperties: true } as const;
const refusal = {
  type: ['object', 'null'],
  properties: {
    errors: { type: 'array', items: { type: 'string' } },
    source: { type: ['string', 'null'] },
    origins: { type: 'array', items: { type: 'string' } },
    at: { type: 'string' },
  },
} as const;
const resourceList = { 200: { type: 'array', items: anyObject } } as const;
/** A NACK in `GET /api/v1/proxies` (`typeUrl`: the xDS type rejected). */
const nack = {
  type: ['object', 'null'],
  properties: {
    version: { type: 'string' },
    message: { type: 'string' },
    errors: { type: 'array', items: { type: 'string' } },
    at: { type: 'string' },
    typeUrl: { type: 'string' },
  },
} as const;
/** At most this many subscribed names of one type are listed per proxy (an Envoy may name every cluster): the count says how many. */
export const LISTED_SUBSCRIBED_NAMES = 100;
/** At most this many untranslated lines are listed per proxy (a thousand Envoys share the same list): the count says how many. */
export const LISTED_UNTRANSLATED = 100;

function nackJson(nack: ProxyNack | undefined): Record<string, unknown> | null {
  return nack === undefined ? null : { ...nack, at: nack.at.toISOString() };
}

function resourcesJson(resources: Record<string, ProxyTypeStatus>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [typeUrl, status] of Object.entries(resources)) {
    out[typeUrl] = {
      subscribed: status.subscribed.slice(0, LISTED_SUBSCRIBED_NAMES),
      subscribedCount: status.subscribed.length,
      sentVersion: status.sentVersion,
      sentNonce: status.sentNonce,
      ackedVersion: status.ackedVersion,
      lastNack: nackJson(status.lastNack),
    };
  }
  return out;
}
const nullableString = { type: ['string', 'null'] } as const;

/** `GET /api/v1/plugins`: `PluginStatus` entries (a field the object could not be read for is null). */
const pluginList = {
  200: {
    type: 'array',
    items: {
      type: 'object',
      properties: {
        resource: { type: 'string' },
        source: { type: 'string' },
        origin: nullableString,
        services: { type: ['array', 'null'], items: { type: 'string' } },
        phases: { type: ['array', 'null'], items: { type: 'string', enum: ['request', 'response'] } },
        order: { type: ['integer', 'null'] },
        tag: nullableString,
        kind: { type: ['string', 'null'], enum: ['grpc', 'module', null] },
        address: nullableString,
        path: nullableString,
        timeoutMs: { type: ['integer', 'null'] },
        failurePolicy: { type: ['string', 'null'], enum: ['fail-open', 'fail-closed', null] },
        circuitBreaker: {
          type: ['object', 'null'],
          properties: { consecutiveFailures: { type: 'integer' }, openForMs: { type: 'integer' } },
          required: ['consecutiveFailures', 'openForMs'],
        },
        state: { type: 'string', enum: ['in-force', 'refused'] },
        errors: { type: 'array', items: { type: 'string' } },
        lastValidInForce: { type: ['boolean', 'null'] },
      },
      required: [
        'resource',
        'source',
        'origin',
        'services',
        'phases',
        'order',
        'tag',
        'kind',
        'address',
        'path',
        'timeoutMs',
        'failurePolicy',
        'circuitBreaker',
        'state',
        'errors',
        'lastValidInForce',
      ],
    },
  },
} as const;

const sourceList = {
  200: {
    type: 'array',
    items: {
      type: 'object',
      properties: {
        name: { type: 'string' },
        type: { type: 'string' },
        state: { type: 'string', enum: ['starting', 'ok', 'invalid', 'disconnected', 'stopped'] },
        lastChange: { type: ['string', 'null'] },
        resources: { type: 'integer' },
        lastRefusal: {
          type: ['object', 'null'],
          properties: { errors: { type: 'array', items: { type: 'string' } }, origins: { type: 'array', items: { type: 'string' } }, at: { type: 'string' } },
          required: ['errors', 'origins', 'at'],
        },
        error: { type: ['string', 'null'] },
        details: { type: 'object', additionalProperties: true },
      },
      required: ['name', 'type', 'state', 'lastChange', 'resources', 'lastRefusal', 'error'],
    },
  },
} as const;

function parsedResources(snapshot: Snapshot | undefined, type: string): unknown[] {
  return (snapshot?.resourcesOf(type) ?? []).map((r) => JSON.parse(r.json) as unknown);
}

/** A source's status as `GET /api/v1/sources` shows it (times as ISO strings, absent as null). */
export function sourceStatusJson(status: SourceStatus): SourceStatusJson {
  const refusal = status.lastRefusal;
  return {
    name: status.name,
    type: status.type,
    state: status.state,
    lastChange: status.lastChange?.toISOString() ?? null,
    resources: status.resources,
    lastRefusal: refusal === undefined ? null : { errors: [...refusal.errors], origins: [...refusal.origins], at: refusal.at.toISOString() },
    error: status.error ?? null,
    ...(status.details === undefined ? {} : { details: status.details }),
  };
}

/** One entry of `GET /api/v1/sources`. */
export interface SourceStatusJson {
  name: string;
  type: string;
  state: SourceStateName;
  lastChange: string | null;
  resources: number;
  lastRefusal: { errors: string[]; origins: string[]; at: string } | null;
  error: string | null;
  /** What the source tells about itself (Kubernetes: objects per kind, last event, last re-list, refused objects). */
  details?: Record<string, unknown>;
}

/**
 * The control plane's admin API (SPEC): health, readiness, Prometheus metrics, and the
 * snapshots, proxies, sources and resources in force, each with a JSON schema for its response.
 */
export async function startControlPlaneAdmin(controlPlane: ControlPlane, host: string, port: number): Promise<{ server: FastifyInstance; port: number }> {
  const server = Fastify({ logger: false });
  await registerAdminPage(server);
  server.get('/healthz', { schema: { response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } }, async () => ({ status: 'ok' }));
  server.get(
    '/readyz',
    {
      schema: {
        response: {
          '2xx': { type: 'object', properties: { ready: { type: 'boolean' }, version: { type: ['string', 'null'] }, lastRefusal: refusal } },
          '5xx': { type: 'object', properties: { ready: { type: 'boolean' }, version: { type: ['string', 'null'] }, lastRefusal: refusal } },
        },
      },
    },
    async (_request, reply) => {
      const snapshot = controlPlane.snapshot;
      const last = controlPlane.builder.lastRefusal;
      return reply.code(snapshot === undefined ? 503 : 200).send({
        ready: snapshot !== undefined,
        version: snapshot?.version ?? null,
        lastRefusal: last === undefined ? null : { errors: last.errors, source: last.source ?? null, origins: last.origins, at: last.at.toISOString() },
      });
    },
  );
  server.get('/metrics', async (_request, reply) => {
    reply.type('text/plain; version=0.0.4');
    return controlPlane.metrics.registry.metrics();
  });
  server.get(
    '/api/v1/snapshots',
    {
      schema: {
        response: {
          200: {
            type: 'array',
            items: { type: 'object', properties: { node: { type: 'string' }, version: { type: 'string' }, counts }, required: ['node', 'version', 'counts'] },
          },
        },
      },
    },
    async () =>
      controlPlane.cache.nodes().map((node) => {
        const snapshot = controlPlane.cache.get(node)!;
        return { node, version: snapshot.version, counts: snapshot.counts };
      }),
  );
  server.get<{ Params: { node: string } }>(
    '/api/v1/snapshots/:node',
    {
      schema: {
        response: {
          200: {
            type: 'object',
            properties: {
              node: { type: 'string' },
              version: { type: 'string' },
              counts,
              resources: { type: 'array', items: anyObject },
              mappings: { type: 'array', items: anyObject },
            },
          },
          404: { type: 'object', properties: { error: { type: 'string' } } },
        },
      },
    },
    async (request, reply) => {
      const snapshot = controlPlane.cache.get(request.params.node);
      if (snapshot === undefined) return reply.code(404).send({ error: `no snapshot for node ${request.params.node} (is it connected?)` });
      return {
        node: request.params.node,
        version: snapshot.version,
        counts: snapshot.counts,
        resources: snapshot.resources.map((r) => JSON.parse(r.json) as unknown),
        mappings: snapshot.mappings,
      };
    },
  );
  server.get(
    '/api/v1/proxies',
    {
      schema: {
        response: {
          200: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                node: anyObject,
                peer: { type: 'string' },
                connectedAt: { type: 'string' },
                sentVersion: { type: 'string' },
                ackedVersion: { type: 'string' },
                settledVersion: { type: 'string' },
                lastNack: nack,
                api: { type: 'string', enum: ['dubbo-mesh', 'envoy-ads', 'envoy-ads-delta'] },
                kind: { type: 'string' },
                resources: {
                  type: 'object',
                  additionalProperties: {
                    type: 'object',
                    properties: {
                      subscribed: { type: 'array', items: { type: 'string' } },
                      subscribedCount: { type: 'integer' },
                      sentVersion: { type: 'string' },
                      sentNonce: { type: 'string' },
                      ackedVersion: { type: 'string' },
                      lastNack: nack,
                    },
                  },
                },
                untranslated: { type: 'array', items: { type: 'string' } },
                untranslatedCount: { type: 'integer' },
              },
            },
          },
        },
      },
    },
    async () =>
      controlPlane.proxies().map((p) => ({
        node: p.node,
        peer: p.peer,
        connectedAt: p.connectedAt.toISOString(),
        sentVersion: p.sentVersion,
        ackedVersion: p.ackedVersion,
        // What convergence counts (a type that refused the snapshot stays on its last good); set for Envoy and gRPC nodes.
        ...(p.settledVersion === undefined ? {} : { settledVersion: p.settledVersion }),
        lastNack: nackJson(p.lastNack),
        api: p.api ?? 'dubbo-mesh',
        ...(p.kind === undefined ? {} : { kind: p.kind }),
        ...(p.resources === undefined ? {} : { resources: resourcesJson(p.resources) }),
        ...(p.untranslated === undefined ? {} : { untranslated: p.untranslated.slice(0, LISTED_UNTRANSLATED), untranslatedCount: p.untranslated.length }),
      })),
  );
  server.get(
    '/api/v1/mappings',
    {
      schema: {
        response: {
          200: {
            type: 'array',
            items: {
              type: 'object',
              properties: { interface: { type: 'string' }, group: { type: 'string' }, version: { type: 'string' }, service: { type: 'string' } },
            },
          },
        },
      },
    },
    async () => controlPlane.snapshot?.mappings ?? [],
  );
  server.get('/api/v1/sources', { schema: { response: sourceList } }, async () => controlPlane.sourceStatuses().map(sourceStatusJson));
  server.get('/api/v1/services', { schema: { response: resourceList } }, async () => parsedResources(controlPlane.snapshot, 'DubboService'));
  server.get('/api/v1/routes', { schema: { response: resourceList } }, async () => parsedResources(controlPlane.snapshot, 'DubboRoute'));
  server.get('/api/v1/policies', { schema: { response: resourceList } }, async () => parsedResources(controlPlane.snapshot, 'DubboPolicy'));
  server.get('/api/v1/rules', { schema: { response: resourceList } }, async () => controlPlane.rules());
  server.get('/api/v1/plugins', { schema: { response: pluginList } }, async () => controlPlane.plugins());
  await server.listen({ host, port });
  const address = server.server.address();
  return { server, port: typeof address === 'object' && address !== null ? address.port : port };
}
