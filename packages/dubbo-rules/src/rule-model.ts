/**
 * What rules see of a call and of a provider endpoint, and what a compiled rule does with
 * them. The package knows nothing of the proxy: the proxy adapts its cluster members through
 * a view function, so evaluation needs no copy of them.
 */

/** The three kinds of Dubbo governance rule, named by their config-center suffixes. */
export type RuleKind = 'condition' | 'tag' | 'override';

/** What a rule's `key` names: a service key (`interface:version:group`) or an application. */
export type RuleScope = 'service' | 'application';

/** A provider endpoint as rules see it (Dubbo: a provider URL). */
export interface RuleEndpoint {
  /** The IP or host name. */
  readonly host: string;
  readonly port: number;
  /** `host:port` (IPv6 hosts in brackets). */
  readonly address: string;
  /** Its application: the `application` label, else the name of its mesh service. */
  readonly application: string;
  /**
   * Its labels: what a provider URL's parameters are to Dubbo (`version`, `group`, `release`,
   * `dubbo.tag`, `region`, …). A then-part key that is none of `host`, `port`, `address`,
   * `application`, `protocol` is looked up here. `protocol` is the `protocol` label, else `dubbo`.
   */
  readonly labels: Readonly<Record<string, string>>;
}

/** A call as rules see it (Dubbo: the consumer URL and the invocation). */
export interface RuleCall {
  readonly interface: string;
  /** The group the consumer asked for (`''`: none). */
  readonly group: string;
  /** The version the consumer asked for (`''`: none). */
  readonly version: string;
  /** The method (for a generic `$invoke`, the method it names). */
  readonly method: string;
  /**
   * The consumer application: the `remote.application` / `application` attachment, else the
   * consumer proxy's service; undefined when unknown.
   */
  readonly consumerApplication: string | undefined;
  /** The consumer's IP (no port). */
  readonly consumerHost: string;
  /** An attachment as text; undefined when absent. Read only when a rule asks. */
  attachment(name: string): string | undefined;
  /**
   * Argument `index` as text (a string as is, a number or boolean as Java prints it, other
   * values as JSON); undefined when there is no such argument or it cannot be decoded. Only a
   * rule with an `arguments[N]` condition calls it, and it decodes that argument only.
   */
  argument(index: number): string | undefined;
}

/**
 * What one rule did to one call, for `/stats` (per rule) and `rules explain`:
 * - `not-matched`: the rule does not apply to this call (when-part, tag or scope): endpoints unchanged;
 * - `kept-all`: it applied and every candidate passed;
 * - `narrowed`: it applied and kept some of the candidates;
 * - `blacklisted`: its then-part is empty or `false`: no endpoint (the call is answered 70);
 * - `forced-empty`: nothing passed and `force: true`: no endpoint (answered 70);
 * - `ignored`: nothing passed and `force: false`: the rule is ignored for this call (endpoints unchanged);
 * - `disabled`: `enabled: false`: the rule does nothing.
 */
export type RuleEffect = 'not-matched' | 'kept-all' | 'narrowed' | 'blacklisted' | 'forced-empty' | 'ignored' | 'disabled';

/** Where a narrowing rule writes what it did, so a call allocates nothing for it. */
export interface EffectSlot {
  effect: RuleEffect;
}

/**
 * One step of an explanation: what one part of a rule (a condition, a tag lookup, the
 * fallback) did to the endpoints, in words an operator reads (`rules explain`).
 */
export interface ExplanationStep<E> {
  /** What the step is: `conditions[1] "method = find* => host = 10.0.0.1"`, `tag "gray"`, … */
  readonly step: string;
  readonly effect: RuleEffect;
  /** The endpoints after the step. */
  readonly kept: readonly E[];
  /** Why each endpoint left, by endpoint (only those that left). */
  readonly dropped: ReadonlyMap<E, string>;
  /** One line on why the step applied or not (`method "findUser" matches find*`). */
  readonly reason: string;
}

/** Everything one rule did to one call, step by step. */
export interface RuleExplanation<E> {
  readonly effect: RuleEffect;
  readonly kept: readonly E[];
  readonly steps: readonly ExplanationStep<E>[];
}

/**
 * A condition or tag rule compiled for per-call use: it narrows a provider list as Dubbo's
 * router does. Compiled once per rule version; every call runs {@link narrow}.
 */
export interface NarrowingRule {
  readonly kind: 'condition' | 'tag';
  /**
   * The endpoints of `candidates` the call may go to; `out.effect` says what the rule did.
   * `blacklisted` and `forced-empty` return an empty array; `not-matched`, `ignored`,
   * `disabled` and `kept-all` return `candidates` itself.
   *
   * Cost: the result for one `candidates` array object and the same values of what the
   * then-part reads of the call (`$param` values, the request tag, `dubbo.force.tag`) is
   * computed once and kept (weakly by the array, a few entries per array), and the same
   * array object is returned every time, so the next rule and the load balancer's picker
   * cache see the same set. Per call the rule costs its when-part and a lookup. `view` is
   * called only when a result is computed.
   */
  narrow<E>(call: RuleCall, candidates: readonly E[], view: (endpoint: E) => RuleEndpoint, out: EffectSlot): readonly E[];
  /** What {@link narrow} does, step by step, with reasons: slow, for tools (no cache). */
  explain<E>(call: RuleCall, candidates: readonly E[], view: (endpoint: E) => RuleEndpoint): RuleExplanation<E>;
}

/** Who looks at providers, for an override rule's `side: consumer` items (Dubbo: the consumer URL). */
export interface OverrideConsumer {
  readonly application: string | undefined;
  /** The consumer's IP. */
  readonly host: string;
}

/** The service an override applies to, as `interface`, `group`, `version` (`''`: none). */
export interface OverrideService {
  readonly interface: string;
  readonly group: string;
  readonly version: string;
}

/**
 * The parameters override rules set (Dubbo's configurators), as Dubbo's URL parameters:
 * `disabled` (`true` leaves the endpoint out), `weight`, `timeout` (ms), `retries`,
 * `loadbalance` (`random`, `roundrobin`, `leastactive`, `shortestresponse`,
 * `consistenthash`), and any other the rule names (kept, not acted on).
 */
export type OverrideParameters = Readonly<Record<string, string>>;

/** An override rule (`configs`) compiled: it says which parameters it sets for one endpoint. */
export interface OverrideRule {
  readonly kind: 'override';
  /**
   * The parameters the rule's enabled items of `side` set for `endpoint` of `service`, seen by
   * `consumer` (for `side: provider`, `consumer` is ignored), later items over earlier ones;
   * undefined when no item applies. Not per call: the proxy asks once per endpoint and consumer
   * identity and keeps the answer.
   */
  parametersFor(side: 'consumer' | 'provider', consumer: OverrideConsumer, service: OverrideService, endpoint: RuleEndpoint): OverrideParameters | undefined;
  /** Why each item of the rule applies to the endpoint or not (for `rules explain`). */
  explainFor(side: 'consumer' | 'provider', consumer: OverrideConsumer, service: OverrideService, endpoint: RuleEndpoint): readonly string[];
}

/** Any compiled rule. */
export type CompiledRule = NarrowingRule | OverrideRule;
