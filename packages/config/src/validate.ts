import { parseDuration } from './duration.js';
import {
  API_VERSION, DEFAULT_CONNECTION_POOL, DEFAULT_LOAD_BALANCER, DEFAULT_WEIGHT, KINDS, LOAD_BALANCER_POLICIES, RETRY_ON,
  type ArgumentMatch, type ConnectionPoolConfig, type DubboPolicyConfig, type DubboRouteConfig, type DubboServiceConfig,
  type EndpointConfig, type HealthCheckConfig, type LoadBalancerConfig, type MeshResource, type OutlierDetectionConfig,
  type ResourceMeta, type RetryPolicy, type RouteDestination, type RouteMatch, type RouteRule, type ServiceKeyPattern,
  type StringMatch, type SubsetConfig,
} from './types.js';

/** A path to a field: `['spec', 'routes', 0, 'timeout']`. */
export type FieldPath = ReadonlyArray<string | number>;

/** One problem with a resource, at a field. */
export interface ValidationIssue {
  readonly path: FieldPath;
  readonly message: string;
}

/** Every error collected, or the validated value (CONVENTIONS 7). */
export type ValidationResult<T> =
  | { readonly valid: true; readonly result: T }
  | {
    readonly valid: false;
    readonly errors: readonly string[];
    readonly issues: readonly ValidationIssue[];
    /**
     * The value as far as it could be read (fields with an issue fall back to defaults), when
     * its kind and spec could be read at all. Never to be used as config: it lets the
     * cross-references of a file be checked, and reported, together with its field errors.
     */
    readonly partial?: T;
  };

/** `spec.routes[0].destinations[1].weight` */
export function formatPath(path: FieldPath): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out === '' ? part : `.${part}`;
  return out;
}

type Json = Record<string, unknown>;

class Issues {
  readonly list: ValidationIssue[] = [];
  add(path: FieldPath, message: string): void {
    this.list.push({ path, message });
  }
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

function knownFields(value: Json, allowed: readonly string[], path: FieldPath, issues: Issues): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) issues.add([...path, key], `unknown field (expected one of: ${allowed.join(', ')})`);
  }
}

function object(value: unknown, path: FieldPath, issues: Issues, allowed: readonly string[]): Json | undefined {
  if (!isObject(value)) {
    issues.add(path, `must be an object, got ${describe(value)}`);
    return undefined;
  }
  knownFields(value, allowed, path, issues);
  return value;
}

function list(value: unknown, path: FieldPath, issues: Issues): unknown[] | undefined {
  if (!Array.isArray(value)) {
    issues.add(path, `must be a list, got ${describe(value)}`);
    return undefined;
  }
  return value;
}

function string(value: unknown, path: FieldPath, issues: Issues, rule?: { pattern: RegExp; says: string }): string | undefined {
  if (typeof value !== 'string' || value === '') {
    issues.add(path, `must be a non-empty string, got ${describe(value)}`);
    return undefined;
  }
  if (rule !== undefined && !rule.pattern.test(value)) {
    issues.add(path, `${JSON.stringify(value)} ${rule.says}`);
    return undefined;
  }
  return value;
}

function integer(value: unknown, path: FieldPath, issues: Issues, min: number, max: number): number | undefined {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    issues.add(path, `must be an integer, got ${describe(value)}`);
    return undefined;
  }
  if (value < min) issues.add(path, `must be >= ${min}`);
  else if (value > max) issues.add(path, `must be <= ${max}`);
  else return value;
  return undefined;
}

function duration(value: unknown, path: FieldPath, issues: Issues): number | undefined {
  const ms = typeof value === 'string' ? parseDuration(value) : undefined;
  if (ms === undefined) {
    issues.add(path, `must be a duration like "500ms" or "2s", got ${describe(value)}`);
    return undefined;
  }
  if (ms <= 0) {
    issues.add(path, 'must be longer than 0');
    return undefined;
  }
  return ms;
}

function labels(value: unknown, path: FieldPath, issues: Issues): Record<string, string> {
  if (value === undefined) return {};
  const map = object(value, path, issues, Object.keys(isObject(value) ? value : {}));
  const out: Record<string, string> = {};
  for (const [key, label] of Object.entries(map ?? {})) {
    if (typeof label !== 'string') issues.add([...path, key], `must be a string, got ${describe(label)}`);
    else out[key] = label;
  }
  return out;
}

const NAME = { pattern: /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, says: 'is not a valid name (lower case letters, digits, - and .)' };

function metadata(raw: unknown, issues: Issues): ResourceMeta {
  const meta = object(raw, ['metadata'], issues, ['name', 'namespace', 'labels', 'annotations', 'uid', 'resourceVersion', 'generation', 'creationTimestamp']);
  const name = string(meta?.name, ['metadata', 'name'], issues, NAME) ?? '';
  const namespace = meta?.namespace === undefined ? 'default' : string(meta.namespace, ['metadata', 'namespace'], issues, NAME) ?? 'default';
  return { name, namespace };
}

/** Split `host:port` (or `[v6]:port`). */
export function parseAddress(address: string): { host: string; port: number } | undefined {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+):(\d{1,5})$/.exec(address);
  if (match === null) return undefined;
  const port = Number(match[2]);
  if (port < 1 || port > 65535) return undefined;
  const host = match[1]!.startsWith('[') ? match[1]!.slice(1, -1) : match[1]!;
  return { host, port };
}

function serviceKeyPattern(value: unknown, path: FieldPath, issues: Issues): ServiceKeyPattern | undefined {
  if (typeof value === 'string') return string(value, path, issues) === undefined ? undefined : { interface: value };
  const raw = object(value, path, issues, ['interface', 'group', 'version']);
  if (raw === undefined) return undefined;
  const name = string(raw.interface, [...path, 'interface'], issues);
  const pattern: { interface: string; group?: string; version?: string } = { interface: name ?? '' };
  if (raw.group !== undefined) pattern.group = string(raw.group, [...path, 'group'], issues);
  if (raw.version !== undefined) pattern.version = string(raw.version, [...path, 'version'], issues);
  return name === undefined ? undefined : pattern;
}

function endpoint(value: unknown, path: FieldPath, issues: Issues): EndpointConfig | undefined {
  const raw = object(value, path, issues, ['address', 'labels', 'weight']);
  if (raw === undefined) return undefined;
  const address = string(raw.address, [...path, 'address'], issues);
  const parsed = address === undefined ? undefined : parseAddress(address);
  if (address !== undefined && parsed === undefined) issues.add([...path, 'address'], `${JSON.stringify(address)} is not host:port`);
  const weight = raw.weight === undefined ? DEFAULT_WEIGHT : integer(raw.weight, [...path, 'weight'], issues, 0, 1_000_000);
  const endpointLabels = labels(raw.labels, [...path, 'labels'], issues);
  if (parsed === undefined || weight === undefined || address === undefined) return undefined;
  return { address, host: parsed.host, port: parsed.port, labels: endpointLabels, weight };
}

function dubboService(spec: Json, issues: Issues): Omit<DubboServiceConfig, 'kind' | 'metadata'> {
  const interfaces: ServiceKeyPattern[] = [];
  const rawInterfaces = list(spec.interfaces, ['spec', 'interfaces'], issues) ?? [];
  if (rawInterfaces.length === 0 && Array.isArray(spec.interfaces)) issues.add(['spec', 'interfaces'], 'must name at least one interface');
  rawInterfaces.forEach((item, i) => {
    const pattern = serviceKeyPattern(item, ['spec', 'interfaces', i], issues);
    if (pattern !== undefined) interfaces.push(pattern);
  });
  const endpoints: EndpointConfig[] = [];
  if (spec.endpoints !== undefined) {
    (list(spec.endpoints, ['spec', 'endpoints'], issues) ?? []).forEach((item, i) => {
      const parsed = endpoint(item, ['spec', 'endpoints', i], issues);
      if (parsed !== undefined) endpoints.push(parsed);
    });
  }
  const out: { port?: number; interfaces: ServiceKeyPattern[]; endpoints: EndpointConfig[] } = { interfaces, endpoints };
  if (spec.port !== undefined) out.port = integer(spec.port, ['spec', 'port'], issues, 1, 65535);
  return out;
}

function stringMatch(value: unknown, path: FieldPath, issues: Issues, extra: readonly string[] = []): StringMatch | undefined {
  const raw = object(value, path, issues, ['exact', 'prefix', 'regex', ...extra]);
  if (raw === undefined) return undefined;
  const present = (['exact', 'prefix', 'regex'] as const).filter((key) => raw[key] !== undefined);
  if (present.length !== 1) {
    issues.add(path, `must have exactly one of exact, prefix, regex${present.length > 1 ? ` (has ${present.join(', ')})` : ''}`);
    return undefined;
  }
  const key = present[0]!;
  const text = raw[key];
  if (typeof text !== 'string') {
    issues.add([...path, key], `must be a string, got ${describe(text)}`);
    return undefined;
  }
  if (key === 'regex') {
    try {
      new RegExp(text);
    } catch (error) {
      issues.add([...path, 'regex'], `is not a valid regular expression: ${(error as Error).message}`);
      return undefined;
    }
  }
  return { [key]: text } as StringMatch;
}

function routeMatch(value: unknown, path: FieldPath, issues: Issues): RouteMatch | undefined {
  const raw = object(value, path, issues, ['method', 'attachments', 'arguments']);
  if (raw === undefined) return undefined;
  const match: { method?: StringMatch; attachments?: Record<string, StringMatch>; arguments?: ArgumentMatch[] } = {};
  if (raw.method !== undefined) match.method = stringMatch(raw.method, [...path, 'method'], issues);
  if (raw.attachments !== undefined) {
    const attachments = object(raw.attachments, [...path, 'attachments'], issues, Object.keys(isObject(raw.attachments) ? raw.attachments : {}));
    match.attachments = {};
    for (const [key, rule] of Object.entries(attachments ?? {})) {
      const parsed = stringMatch(rule, [...path, 'attachments', key], issues);
      if (parsed !== undefined) match.attachments[key] = parsed;
    }
  }
  if (raw.arguments !== undefined) {
    match.arguments = [];
    (list(raw.arguments, [...path, 'arguments'], issues) ?? []).forEach((item, i) => {
      const itemPath = [...path, 'arguments', i];
      const index = isObject(item) ? integer(item.index, [...itemPath, 'index'], issues, 0, 255) : undefined;
      const parsed = stringMatch(item, itemPath, issues, ['index']);
      if (index !== undefined && parsed !== undefined) match.arguments!.push({ index, match: parsed });
    });
  }
  return match;
}

function destination(value: unknown, path: FieldPath, issues: Issues): RouteDestination | undefined {
  const raw = object(value, path, issues, ['service', 'subset', 'weight']);
  if (raw === undefined) return undefined;
  const service = string(raw.service, [...path, 'service'], issues, NAME);
  const weight = raw.weight === undefined ? 1 : integer(raw.weight, [...path, 'weight'], issues, 0, 1_000_000);
  const out: { service: string; subset?: string; weight: number } = { service: service ?? '', weight: weight ?? 0 };
  if (raw.subset !== undefined) out.subset = string(raw.subset, [...path, 'subset'], issues);
  return service === undefined || weight === undefined ? undefined : out;
}

function retries(value: unknown, path: FieldPath, issues: Issues): RetryPolicy | undefined {
  const raw = object(value, path, issues, ['attempts', 'retryOn']);
  if (raw === undefined) return undefined;
  const attempts = integer(raw.attempts, [...path, 'attempts'], issues, 0, 10);
  const retryOn: RetryPolicy['retryOn'][number][] = [];
  const rawOn = raw.retryOn === undefined ? ['connect-failure', 'unavailable'] : list(raw.retryOn, [...path, 'retryOn'], issues) ?? [];
  rawOn.forEach((item, i) => {
    if (typeof item === 'string' && (RETRY_ON as readonly string[]).includes(item)) retryOn.push(item as RetryPolicy['retryOn'][number]);
    else issues.add([...path, 'retryOn', i], `must be one of ${RETRY_ON.join(', ')}, got ${describe(item)}`);
  });
  return attempts === undefined ? undefined : { attempts, retryOn };
}

function dubboRoute(spec: Json, issues: Issues): Omit<DubboRouteConfig, 'kind' | 'metadata'> {
  const hosts: string[] = [];
  const rawHosts = list(spec.hosts, ['spec', 'hosts'], issues) ?? [];
  if (Array.isArray(spec.hosts) && rawHosts.length === 0) issues.add(['spec', 'hosts'], 'must name at least one interface');
  rawHosts.forEach((host, i) => {
    const parsed = string(host, ['spec', 'hosts', i], issues);
    if (parsed !== undefined) hosts.push(parsed);
  });
  const routes: RouteRule[] = [];
  const rawRoutes = list(spec.routes, ['spec', 'routes'], issues) ?? [];
  if (Array.isArray(spec.routes) && rawRoutes.length === 0) issues.add(['spec', 'routes'], 'must have at least one route');
  rawRoutes.forEach((item, i) => {
    const path = ['spec', 'routes', i];
    const raw = object(item, path, issues, ['name', 'match', 'destinations', 'timeout', 'retries']);
    if (raw === undefined) return;
    const match: RouteMatch[] = [];
    if (raw.match !== undefined) {
      (list(raw.match, [...path, 'match'], issues) ?? []).forEach((entry, j) => {
        const parsed = routeMatch(entry, [...path, 'match', j], issues);
        if (parsed !== undefined) match.push(parsed);
      });
    }
    const destinations: RouteDestination[] = [];
    const rawDestinations = list(raw.destinations, [...path, 'destinations'], issues) ?? [];
    if (Array.isArray(raw.destinations) && rawDestinations.length === 0) issues.add([...path, 'destinations'], 'must have at least one destination');
    rawDestinations.forEach((entry, j) => {
      const parsed = destination(entry, [...path, 'destinations', j], issues);
      if (parsed !== undefined) destinations.push(parsed);
    });
    if (destinations.length > 0 && destinations.every((d) => d.weight === 0)) issues.add([...path, 'destinations'], 'weights must not all be 0');
    const rule: { name: string; match: RouteMatch[]; destinations: RouteDestination[]; timeoutMs?: number; retries?: RetryPolicy } = {
      name: raw.name === undefined ? `route-${i}` : string(raw.name, [...path, 'name'], issues) ?? `route-${i}`,
      match,
      destinations,
    };
    if (raw.timeout !== undefined) rule.timeoutMs = duration(raw.timeout, [...path, 'timeout'], issues);
    if (raw.retries !== undefined) rule.retries = retries(raw.retries, [...path, 'retries'], issues);
    routes.push(rule);
  });
  return { hosts, routes };
}

function loadBalancer(value: unknown, issues: Issues): LoadBalancerConfig {
  const path = ['spec', 'loadBalancer'];
  const raw = object(value, path, issues, ['policy', 'hash']);
  if (raw === undefined) return DEFAULT_LOAD_BALANCER;
  const policy = raw.policy === undefined ? 'random' : raw.policy;
  if (!(LOAD_BALANCER_POLICIES as readonly unknown[]).includes(policy)) {
    issues.add([...path, 'policy'], `must be one of ${LOAD_BALANCER_POLICIES.join(', ')}, got ${describe(policy)}`);
    return DEFAULT_LOAD_BALANCER;
  }
  const out: { policy: LoadBalancerConfig['policy']; hash?: LoadBalancerConfig['hash'] } = { policy: policy as LoadBalancerConfig['policy'] };
  if (raw.hash !== undefined) {
    if (policy !== 'consistent-hash') issues.add([...path, 'hash'], 'is only for policy consistent-hash');
    const hash = object(raw.hash, [...path, 'hash'], issues, ['argument', 'attachment']);
    if (hash !== undefined) {
      if ((hash.argument === undefined) === (hash.attachment === undefined)) issues.add([...path, 'hash'], 'must have exactly one of argument, attachment');
      else if (hash.argument !== undefined) {
        const argument = integer(hash.argument, [...path, 'hash', 'argument'], issues, 0, 255);
        if (argument !== undefined) out.hash = { argument };
      } else {
        const attachment = string(hash.attachment, [...path, 'hash', 'attachment'], issues);
        if (attachment !== undefined) out.hash = { attachment };
      }
    }
  } else if (policy === 'consistent-hash') {
    out.hash = { argument: 0 }; // Dubbo's default: the first argument
  }
  return out;
}

function connectionPool(value: unknown, issues: Issues): ConnectionPoolConfig {
  if (value === undefined) return DEFAULT_CONNECTION_POOL;
  const path = ['spec', 'connectionPool'];
  const raw = object(value, path, issues, ['maxConnections', 'maxPendingRequests', 'maxRequests', 'connectTimeout']) ?? {};
  const d = DEFAULT_CONNECTION_POOL;
  return {
    maxConnections: raw.maxConnections === undefined ? d.maxConnections : integer(raw.maxConnections, [...path, 'maxConnections'], issues, 1, 1024) ?? d.maxConnections,
    maxPendingRequests: raw.maxPendingRequests === undefined ? d.maxPendingRequests : integer(raw.maxPendingRequests, [...path, 'maxPendingRequests'], issues, 0, 10_000_000) ?? d.maxPendingRequests,
    maxRequests: raw.maxRequests === undefined ? d.maxRequests : integer(raw.maxRequests, [...path, 'maxRequests'], issues, 1, 10_000_000) ?? d.maxRequests,
    connectTimeoutMs: raw.connectTimeout === undefined ? d.connectTimeoutMs : duration(raw.connectTimeout, [...path, 'connectTimeout'], issues) ?? d.connectTimeoutMs,
  };
}

function outlierDetection(value: unknown, issues: Issues): OutlierDetectionConfig | undefined {
  const path = ['spec', 'outlierDetection'];
  const raw = object(value, path, issues, ['consecutiveErrors', 'interval', 'baseEjectionTime', 'maxEjectionPercent']);
  if (raw === undefined) return undefined;
  return {
    consecutiveErrors: raw.consecutiveErrors === undefined ? 5 : integer(raw.consecutiveErrors, [...path, 'consecutiveErrors'], issues, 1, 1000) ?? 5,
    intervalMs: raw.interval === undefined ? 5000 : duration(raw.interval, [...path, 'interval'], issues) ?? 5000,
    baseEjectionTimeMs: raw.baseEjectionTime === undefined ? 30000 : duration(raw.baseEjectionTime, [...path, 'baseEjectionTime'], issues) ?? 30000,
    maxEjectionPercent: raw.maxEjectionPercent === undefined ? 50 : integer(raw.maxEjectionPercent, [...path, 'maxEjectionPercent'], issues, 0, 100) ?? 50,
  };
}

function healthCheck(value: unknown, issues: Issues): HealthCheckConfig | undefined {
  const path = ['spec', 'healthCheck'];
  const raw = object(value, path, issues, ['interval', 'timeout', 'unhealthyThreshold', 'healthyThreshold']);
  if (raw === undefined) return undefined;
  return {
    intervalMs: raw.interval === undefined ? 5000 : duration(raw.interval, [...path, 'interval'], issues) ?? 5000,
    timeoutMs: raw.timeout === undefined ? 1000 : duration(raw.timeout, [...path, 'timeout'], issues) ?? 1000,
    unhealthyThreshold: raw.unhealthyThreshold === undefined ? 3 : integer(raw.unhealthyThreshold, [...path, 'unhealthyThreshold'], issues, 1, 100) ?? 3,
    healthyThreshold: raw.healthyThreshold === undefined ? 1 : integer(raw.healthyThreshold, [...path, 'healthyThreshold'], issues, 1, 100) ?? 1,
  };
}

function dubboPolicy(spec: Json, issues: Issues): Omit<DubboPolicyConfig, 'kind' | 'metadata'> {
  const service = string(spec.service, ['spec', 'service'], issues, NAME) ?? '';
  const subsets: SubsetConfig[] = [];
  if (spec.subsets !== undefined) {
    const seen = new Set<string>();
    (list(spec.subsets, ['spec', 'subsets'], issues) ?? []).forEach((item, i) => {
      const raw = object(item, ['spec', 'subsets', i], issues, ['name', 'labels']);
      if (raw === undefined) return;
      const name = string(raw.name, ['spec', 'subsets', i, 'name'], issues);
      if (name !== undefined && seen.has(name)) issues.add(['spec', 'subsets', i, 'name'], `subset ${JSON.stringify(name)} is defined twice`);
      if (name !== undefined) seen.add(name);
      const subsetLabels = labels(raw.labels, ['spec', 'subsets', i, 'labels'], issues);
      if (name !== undefined) subsets.push({ name, labels: subsetLabels });
    });
  }
  const out: {
    service: string; subsets: SubsetConfig[]; loadBalancer: LoadBalancerConfig; connectionPool: ConnectionPoolConfig;
    outlierDetection?: OutlierDetectionConfig; healthCheck?: HealthCheckConfig;
  } = {
    service,
    subsets,
    loadBalancer: spec.loadBalancer === undefined ? DEFAULT_LOAD_BALANCER : loadBalancer(spec.loadBalancer, issues),
    connectionPool: connectionPool(spec.connectionPool, issues),
  };
  if (spec.outlierDetection !== undefined) out.outlierDetection = outlierDetection(spec.outlierDetection, issues);
  if (spec.healthCheck !== undefined) out.healthCheck = healthCheck(spec.healthCheck, issues);
  return out;
}

const SPEC_FIELDS: Readonly<Record<string, readonly string[]>> = {
  DubboService: ['port', 'interfaces', 'endpoints'],
  DubboRoute: ['hosts', 'routes'],
  DubboPolicy: ['service', 'subsets', 'loadBalancer', 'connectionPool', 'outlierDetection', 'healthCheck'],
};

/** The `Kind namespace/name` a message starts with, read as far as the raw value allows. */
export function resourceLabel(raw: unknown): string {
  const value = isObject(raw) ? raw : {};
  const meta = isObject(value.metadata) ? value.metadata : {};
  const kind = typeof value.kind === 'string' ? value.kind : 'resource';
  const namespace = typeof meta.namespace === 'string' ? meta.namespace : 'default';
  const name = typeof meta.name === 'string' ? meta.name : '(unnamed)';
  return `${kind} ${namespace}/${name}`;
}

/**
 * Validate one raw resource (parsed YAML or a Kubernetes object), collecting every error with
 * its field path; on success the resource is normalised and deeply frozen.
 */
export function validateResource(raw: unknown): ValidationResult<MeshResource> {
  const issues = new Issues();
  const value = object(raw, [], issues, ['apiVersion', 'kind', 'metadata', 'spec', 'status']) ?? {};
  if (value.apiVersion !== API_VERSION) issues.add(['apiVersion'], `must be ${API_VERSION}, got ${describe(value.apiVersion)}`);
  const kind = value.kind;
  if (!(KINDS as readonly unknown[]).includes(kind)) issues.add(['kind'], `must be one of ${KINDS.join(', ')}, got ${describe(kind)}`);
  const meta = metadata(value.metadata, issues);
  let resource: MeshResource | undefined;
  if (typeof kind === 'string' && SPEC_FIELDS[kind] !== undefined) {
    const spec = object(value.spec, ['spec'], issues, SPEC_FIELDS[kind]!);
    if (spec !== undefined) {
      if (kind === 'DubboService') resource = { kind, metadata: meta, ...dubboService(spec, issues) };
      else if (kind === 'DubboRoute') resource = { kind, metadata: meta, ...dubboRoute(spec, issues) };
      else resource = { kind: 'DubboPolicy', metadata: meta, ...dubboPolicy(spec, issues) };
    }
  }
  if (issues.list.length > 0 || resource === undefined) {
    const label = resourceLabel(raw);
    const errors = issues.list.map((issue) => `${label}: ${formatPath(issue.path) || '(root)'}: ${issue.message}`);
    return resource === undefined ? { valid: false, issues: issues.list, errors } : { valid: false, issues: issues.list, errors, partial: deepFreeze(resource) };
  }
  return { valid: true, result: deepFreeze(resource) };
}

/** Freeze an object graph (validated config is immutable). */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
