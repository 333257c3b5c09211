import type { RuleDocument } from '@dubbo-mesh/dubbo-rules';
/**
 * The mesh configuration kinds of SPEC, as they are after validation: normalised (defaults
 * filled in, durations in milliseconds, addresses split) and frozen.
 */

/** apiVersion of every kind. */
export const API_VERSION = 'dubbo-mesh.io/v1alpha1';
/** The kinds this version knows. */
export const KINDS = ['DubboService', 'DubboRoute', 'DubboPolicy', 'DubboIngress', 'DubboRule', 'DubboPlugin'] as const;
/** One of {@link KINDS}. */
export type ResourceKind = (typeof KINDS)[number];

/** Name and namespace of a resource; the namespace defaults to `default`. */
export interface ResourceMeta {
  readonly name: string;
  readonly namespace: string;
}

/** A service key a mesh service provides; an absent group or version matches any. */
export interface ServiceKeyPattern {
  readonly interface: string;
  readonly group?: string;
  readonly version?: string;
}

/** One instance of a mesh service. */
export interface EndpointConfig {
  /** `host:port` as written. */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  readonly labels: Readonly<Record<string, string>>;
  /** Relative weight, default 100 (Dubbo's default weight). */
  readonly weight: number;
  /**
   * The service keys this endpoint provides, each one of its service's `interfaces`; absent:
   * every key of the service (a DubboIngress rule's endpoints never have it).
   */
  readonly interfaces?: readonly ServiceKeyPattern[];
}

/** A mesh service and the service keys it provides. */
export interface DubboServiceConfig {
  readonly kind: 'DubboService';
  readonly metadata: ResourceMeta;
  /** The application's Dubbo port. */
  readonly port?: number;
  readonly interfaces: readonly ServiceKeyPattern[];
  readonly endpoints: readonly EndpointConfig[];
}

/** How a string is matched. */
export type StringMatch = { readonly exact: string } | { readonly prefix: string } | { readonly regex: string };

/** A match on one argument, decoded only when the rule is evaluated. */
export interface ArgumentMatch {
  readonly index: number;
  readonly match: StringMatch;
}

/** One entry of a route's `match` list: every field present must hold. */
export interface RouteMatch {
  readonly method?: StringMatch;
  readonly attachments?: Readonly<Record<string, StringMatch>>;
  readonly arguments?: readonly ArgumentMatch[];
}

/** A weighted destination of a route. */
export interface RouteDestination {
  readonly service: string;
  readonly subset?: string;
  readonly weight: number;
}

/** Conditions a failed attempt is retried on. */
export const RETRY_ON = ['connect-failure', 'unavailable', 'timeout'] as const;
/** One of {@link RETRY_ON}. */
export type RetryOn = (typeof RETRY_ON)[number];

/** Retries of a route. `attempts` is the number of retries after the first try. */
export interface RetryPolicy {
  readonly attempts: number;
  readonly retryOn: readonly RetryOn[];
}

/** One rule of a DubboRoute. */
export interface RouteRule {
  readonly name: string;
  /** Empty: the rule always holds. */
  readonly match: readonly RouteMatch[];
  readonly destinations: readonly RouteDestination[];
  readonly timeoutMs?: number;
  readonly retries?: RetryPolicy;
}

/** How calls for some service keys are routed. */
export interface DubboRouteConfig {
  readonly kind: 'DubboRoute';
  readonly metadata: ResourceMeta;
  /** Interface names; `*` is a wildcard. */
  readonly hosts: readonly string[];
  readonly routes: readonly RouteRule[];
}

/** A named subset of a service's endpoints, by labels. */
export interface SubsetConfig {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** The load balancers SPEC names. */
export const LOAD_BALANCER_POLICIES = ['random', 'round-robin', 'least-active', 'shortest-response', 'consistent-hash', 'least-request'] as const;
/** One of {@link LOAD_BALANCER_POLICIES}. */
export type LoadBalancerPolicy = (typeof LOAD_BALANCER_POLICIES)[number];

/** What consistent-hash hashes on. */
export type HashOn = { readonly argument: number } | { readonly attachment: string };

export interface LoadBalancerConfig {
  readonly policy: LoadBalancerPolicy;
  readonly hash?: HashOn;
}

export interface ConnectionPoolConfig {
  /** Upstream connections per endpoint (calls are multiplexed over them). */
  readonly maxConnections: number;
  /** Calls waiting for a connection to an endpoint. */
  readonly maxPendingRequests: number;
  /** Calls in flight to the whole service (circuit breaker). */
  readonly maxRequests: number;
  readonly connectTimeoutMs: number;
}

export interface OutlierDetectionConfig {
  readonly consecutiveErrors: number;
  readonly intervalMs: number;
  readonly baseEjectionTimeMs: number;
  readonly maxEjectionPercent: number;
}

export interface HealthCheckConfig {
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly unhealthyThreshold: number;
  readonly healthyThreshold: number;
}

/** How one mesh service's instances are used. */
export interface DubboPolicyConfig {
  readonly kind: 'DubboPolicy';
  readonly metadata: ResourceMeta;
  readonly service: string;
  readonly subsets: readonly SubsetConfig[];
  readonly loadBalancer: LoadBalancerConfig;
  readonly connectionPool: ConnectionPoolConfig;
  readonly outlierDetection?: OutlierDetectionConfig;
  readonly healthCheck?: HealthCheckConfig;
}

/**
 * One rule of a DubboIngress: calls whose `target-application` attachment is `host` go to
 * `endpoints`, whatever their service key.
 */
export interface IngressRuleConfig {
  /** A target application (Dubbo application) name; one rule in the whole mesh may hold it. */
  readonly host: string;
  /**
   * The backend Kubernetes Service's name, in the resource's namespace: named in messages, and
   * the DubboPolicy of the mesh service of that name (if any) shapes the rule's cluster.
   */
  readonly service: string;
  /** The backend port, as the Ingress gave it (informative: the endpoints carry their ports). */
  readonly port?: number;
  /** The instances behind the host (empty when none is ready). */
  readonly endpoints: readonly EndpointConfig[];
}

/**
 * Routes by target application, for a gateway (or an outbound proxy): what the Kubernetes
 * source makes of Ingresses of class `dubbo`, or written in a file. It has no CRD.
 */
export interface DubboIngressConfig {
  readonly kind: 'DubboIngress';
  readonly metadata: ResourceMeta;
  readonly rules: readonly IngressRuleConfig[];
}

/**
 * One Dubbo governance rule (condition, tag or override), as dubbo-admin writes it: the
 * resource's `spec` is the rule document, checked and normalised by `@dubbo-mesh/dubbo-rules`.
 */
export interface DubboRuleConfig {
  readonly kind: 'DubboRule';
  readonly metadata: ResourceMeta;
  readonly rule: RuleDocument;
}

/** The phases a plugin is called in: before routing, and before the answer goes back. */
export const PLUGIN_PHASES = ['request', 'response'] as const;
/** One of {@link PLUGIN_PHASES}. */
export type PluginPhase = (typeof PLUGIN_PHASES)[number];
/** What a plugin's failure (error, timeout, short-circuit) does: the call goes on, or is answered 70. */
export const PLUGIN_FAILURE_POLICIES = ['fail-open', 'fail-closed'] as const;
/** One of {@link PLUGIN_FAILURE_POLICIES}. */
export type PluginFailurePolicy = (typeof PLUGIN_FAILURE_POLICIES)[number];

/** Where an out-of-process plugin listens. */
export interface PluginGrpcConfig {
  /** `host:port`, as written. */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  /** The deadline of each call to the plugin. */
  readonly timeoutMs: number;
}

/** When a plugin that keeps failing is short-circuited (its failure policy applied without calling it). */
export interface PluginCircuitBreakerConfig {
  /** Failures (errors and timeouts) in a row that open the breaker. */
  readonly consecutiveFailures: number;
  /** How long it stays open before one call probes the plugin again. */
  readonly openForMs: number;
}

/**
 * DubboPlugin: a filter on the proxy's call path for the calls it selects, in `order`: an
 * out-of-process gRPC service (`grpc`) or an in-process JavaScript module (`module`), exactly one.
 */
export interface DubboPluginConfig {
  readonly kind: 'DubboPlugin';
  readonly metadata: ResourceMeta;
  /** Interfaces it applies to (`*` wildcards); undefined: every call. */
  readonly services: readonly string[] | undefined;
  readonly phases: readonly PluginPhase[];
  /** Lower runs first (ties: by namespace/name). */
  readonly order: number;
  /** Passed to the plugin as is. */
  readonly tag: string;
  readonly grpc: PluginGrpcConfig | undefined;
  /** The module's path on the proxy's file system. */
  readonly module: string | undefined;
  /** The deadline of each call to a module plugin (a gRPC plugin's is `grpc.timeoutMs`). */
  readonly timeoutMs: number;
  readonly failurePolicy: PluginFailurePolicy;
  readonly circuitBreaker: PluginCircuitBreakerConfig;
}

/** Any validated resource. */
export type MeshResource = DubboServiceConfig | DubboRouteConfig | DubboPolicyConfig | DubboIngressConfig | DubboRuleConfig | DubboPluginConfig;
