import { integer, list, object, string, stringOr, type SchemaNode } from '@dubbo-mesh/schema';
import { DEFAULT_WEIGHT } from '../defaults.js';
import { type KindDefinition, type SpecOf } from '../kind-definition.js';
import type { DubboServiceConfig, EndpointConfig, ServiceKeyPattern } from '../types.js';
import { LABELS } from './common-nodes.js';

/** Split `host:port` (or `[v6]:port`). */
export function parseAddress(address: string): { host: string; port: number } | undefined {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+):(\d{1,5})$/.exec(address);
  if (match === null) return undefined;
  const port = Number(match[2]);
  if (port < 1 || port > 65535) return undefined;
  const host = match[1]!.startsWith('[') ? match[1]!.slice(1, -1) : match[1]!;
  return { host, port };
}

/**
 * `UserService` (any group, any version) or `{interface, group, version}`. An absent group or
 * version matches any; an empty one matches only a call without one (what an imported Dubbo
 * provider that registered no group or no version serves).
 */
const SERVICE_KEY_PATTERN = stringOr(
  string().refine((name): ServiceKeyPattern => ({ interface: name })),
  object<ServiceKeyPattern>({
    interface: { node: string(), required: true },
    group: { node: string({ allowEmpty: true }) },
    version: { node: string({ allowEmpty: true }) },
  }),
);

/** Whether two service key patterns are the same (absent and empty differ: any versus none). */
export function sameServiceKeyPattern(a: ServiceKeyPattern, b: ServiceKeyPattern): boolean {
  return a.interface === b.interface && a.group === b.group && a.version === b.version;
}

/** `host:port`, split (beyond OpenAPI: the CRD takes any non-empty string). */
export const ADDRESS = string().refine((address, context) => {
  const parsed = parseAddress(address);
  if (parsed === undefined) {
    context.fail(`${JSON.stringify(address)} is not host:port`);
    return undefined;
  }
  return { address, host: parsed.host, port: parsed.port };
});

/**
 * One endpoint, `{address, labels, weight}` with the address split: a DubboService's, and a
 * DubboIngress rule's.
 */
export const ENDPOINT: SchemaNode<EndpointConfig> = object<{
  address: { address: string; host: string; port: number };
  labels: Record<string, string>;
  weight: number;
}>({
  address: { node: ADDRESS, required: true },
  labels: { node: LABELS, default: {} },
  weight: { node: integer(0, 1_000_000), default: DEFAULT_WEIGHT },
}).refine(({ address, labels, weight }): EndpointConfig => ({ address: address.address, host: address.host, port: address.port, labels, weight }));

/**
 * A DubboService's endpoint: an {@link ENDPOINT} that may say which of the service's keys it
 * provides (`interfaces`), when not all of them (instances of one Dubbo application that
 * register different versions, as the registry bridge imports them).
 */
const SERVICE_ENDPOINT: SchemaNode<EndpointConfig> = object<{
  address: { address: string; host: string; port: number };
  labels: Record<string, string>;
  weight: number;
  interfaces: ServiceKeyPattern[] | undefined;
}>({
  address: { node: ADDRESS, required: true },
  labels: { node: LABELS, default: {} },
  weight: { node: integer(0, 1_000_000), default: DEFAULT_WEIGHT },
  interfaces: {
    node: list(SERVICE_KEY_PATTERN, { minItems: { count: 1, message: 'must name at least one interface (or be left out: every interface of the service)' } }),
  },
}).refine(({ address, labels, weight, interfaces }): EndpointConfig => ({
  address: address.address,
  host: address.host,
  port: address.port,
  labels,
  weight,
  ...(interfaces === undefined ? {} : { interfaces }),
}));

/** DubboService: a mesh service and the service keys it provides; it claims each exact key. */
export const dubboServiceKind: KindDefinition<DubboServiceConfig> = {
  kind: 'DubboService',
  names: { plural: 'dubboservices', singular: 'dubboservice', shortNames: ['dsvc'] },
  configKey: 'services',
  printerColumns: [
    { name: 'Interfaces', type: 'string', jsonPath: '.spec.interfaces', description: 'The service keys the service provides' },
    { name: 'Port', type: 'integer', jsonPath: '.spec.port', description: "The application's Dubbo port" },
  ],
  spec: object<SpecOf<DubboServiceConfig>>({
    port: { node: integer(1, 65535) },
    interfaces: { node: list(SERVICE_KEY_PATTERN, { minItems: { count: 1, message: 'must name at least one interface' } }), required: true, fallback: [] },
    endpoints: { node: list(SERVICE_ENDPOINT), default: [] },
  }).refine((spec, context) => {
    // An endpoint's own keys must be keys of its service: routing finds the service by key first.
    spec.endpoints.forEach((endpoint, i) =>
      endpoint.interfaces?.forEach((pattern, j) => {
        if (!spec.interfaces.some((own) => sameServiceKeyPattern(own, pattern)))
          context.fail("is not one of the service's spec.interfaces", 'endpoints', i, 'interfaces', j);
      }),
    );
    return spec;
  }),
  claims(service) {
    const { namespace, name } = service.metadata;
    return service.interfaces.map((pattern, i) => ({
      path: ['spec', 'interfaces', i],
      token: `service key ${namespace}|${pattern.interface}|${pattern.group ?? '*'}|${pattern.version ?? '*'}`,
      owner: name,
      conflict: (holder: string) => `service key is already provided by DubboService ${holder}`,
    }));
  },
};
