import type { DubboPluginConfig, PluginPhase } from '@dubbo-mesh/config';
import { ResponseStatus, isKnownResponseStatus, type ScalarValue } from '@dubbo-mesh/protocol';
import {
  consumerHost,
  hostOfAddress,
  hostPattern,
  type Clock,
  type FilterCall,
  type FilterOutcome,
  type FilterResponse,
  type NodeIdentity,
  type ProxyFilter,
  type RouteDecision,
} from '@dubbo-mesh/proxy';
import type { PluginBreaker } from './plugin-breaker.js';
import { checkPluginAnswer } from './plugin-answer.js';
import type { PluginRequest } from './plugin-api.js';
import { PluginTimeoutError, withTimeout, type PluginAnswer, type PluginInvoker } from './plugin-invoker.js';
import type { PluginStats } from './plugin-stats.js';

/** Attachments that make the service key: the consumer chose them, and a plugin may not change them. */
const SERVICE_KEY_ATTACHMENTS: ReadonlySet<string> = new Set(['path', 'interface', 'version', 'group']);

/** What a {@link PluginFilter} runs with: the proxy's clock and identity, and a log. */
export interface PluginFilterContext {
  readonly clock: Clock;
  readonly node: NodeIdentity;
  /** One line (failures are logged once per run of failures, and when the breaker opens or closes). */
  readonly log: (line: string) => void;
}

/** Words of an error, on one line. */
function describe(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, ' ');
}

function isPromiseLike(value: unknown): value is PromiseLike<PluginAnswer> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/** The interface of `group/interface:version`. */
function interfaceOf(serviceKey: string): string {
  const slash = serviceKey.indexOf('/');
  const rest = slash < 0 ? serviceKey : serviceKey.slice(slash + 1);
  const colon = rest.indexOf(':');
  return colon < 0 ? rest : rest.slice(0, colon);
}

/** A plugin's answer read: go on (with attachments to set), answer the call, or why it breaks the API. */
type ReadAnswer =
  { readonly go: true; readonly set?: Readonly<Record<string, string>> } | { readonly go: false; readonly reply: { status: number; message: string } } | string;

/**
 * Check a plugin's answer against the API (a module may return anything; a gRPC plugin any
 * code): the shape as `plugin serve` checks it, then a code that must be 0 or a Dubbo error
 * status, and attachments that must not change the service key.
 */
function readAnswer(answer: unknown, phase: PluginPhase): ReadAnswer {
  if (answer === undefined || answer === null) return { go: true };
  const checked = checkPluginAnswer(answer);
  if (!checked.valid) return checked.errors.join('; ');
  const { code, set_attachments: set, message } = checked.result;
  if (code !== 0) {
    if (!isKnownResponseStatus(code) || code === ResponseStatus.OK)
      return `answered code ${code}, which is neither 0 nor a Dubbo error status (25, 30, 31, 35, 40, 50, 60, 70, 80, 90, 100)`;
    return { go: false, reply: { status: code, message: message || `rejected the call (code ${code})` } };
  }
  if (phase === 'response') return { go: true };
  let any = false;
  for (const name in set) {
    any = true;
    if (name === '') return 'answered set_attachments with an empty name';
    if (SERVICE_KEY_ATTACHMENTS.has(name))
      return `answered set_attachments.${name}: the service key (path, interface, version, group) is the consumer's, a plugin may not change it`;
  }
  return any ? { go: true, set } : { go: true };
}

/** Attachments as the API carries them: text values; maps, lists, objects, bytes and nulls left out. */
function textAttachments(attachments: Readonly<Record<string, ScalarValue>>): Record<string, string> {
  const text: Record<string, string> = {};
  for (const name in attachments) {
    const value = attachmentText(attachments[name]);
    if (value !== undefined) text[name] = value;
  }
  return text;
}

/** One attachment as text, as {@link textAttachments} gives it; undefined for what it leaves out. */
function attachmentText(value: ScalarValue | undefined): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

/**
 * The call's attachments as text for a plugin in this process, read when asked: one
 * attachment is read from the request's bytes (what the routing already read costs nothing),
 * and all of them are decoded only when the plugin lists them (keys, entries, `in`, spread,
 * JSON). It behaves as a plain object of strings.
 */
function attachmentsView(call: FilterCall): Readonly<Record<string, string>> {
  let all: Record<string, string> | undefined;
  const full = () => (all ??= textAttachments(call.attachments()));
  return new Proxy(Object.create(null) as Record<string, string>, {
    get: (_target, name) => (typeof name !== 'string' ? undefined : all !== undefined ? all[name] : attachmentText(call.attachment(name))),
    has: (_target, name) => typeof name === 'string' && full()[name] !== undefined,
    ownKeys: () => Reflect.ownKeys(full()),
    getOwnPropertyDescriptor: (_target, name) => Reflect.getOwnPropertyDescriptor(full(), name),
    // A plugin may change its copy, as it may the plain object `plugin serve` gives it (the call is changed by set_attachments only).
    set: (_target, name, value) => Reflect.set(full(), name, value),
    defineProperty: (_target, name, descriptor) => Reflect.defineProperty(full(), name, descriptor),
    deleteProperty: (_target, name) => Reflect.deleteProperty(full(), name),
  });
}

/**
 * One DubboPlugin on the call path: a {@link ProxyFilter} named `plugin <namespace>/<name>`
 * with the phases it selects, for the calls whose interface its `services` select. Each phase
 * builds a {@link PluginRequest} (no argument or result bytes), calls the plugin through its
 * breaker, and turns the answer into the filter's outcome: go on (attachments set or
 * removed), a local reply with the plugin's status, or, when the plugin failed, timed out or
 * is short-circuited, what its failure policy says.
 */
export class PluginFilter implements ProxyFilter {
  readonly name: string;
  /** `namespace/name`. */
  readonly id: string;
  readonly onRequest?: (call: FilterCall) => FilterOutcome | Promise<FilterOutcome>;
  readonly onResponse?: (call: FilterCall, response: FilterResponse) => FilterOutcome | Promise<FilterOutcome>;
  private readonly patterns: ReadonlyArray<RegExp | string> | undefined;
  /** Whether the last call failed (a run of failures is logged once). */
  private failing = false;
  /** The invoker's revision when the breaker last opened. */
  private openedAtRevision: number | undefined;

  constructor(
    readonly config: DubboPluginConfig,
    readonly invoker: PluginInvoker,
    readonly stats: PluginStats,
    readonly breaker: PluginBreaker,
    private readonly context: PluginFilterContext,
  ) {
    this.id = `${config.metadata.namespace}/${config.metadata.name}`;
    this.name = `plugin ${this.id}`;
    this.patterns = config.services?.map(hostPattern);
    if (config.phases.includes('request')) this.onRequest = (call) => this.run(call, 'request', 0);
    if (config.phases.includes('response')) this.onResponse = (call, response) => this.run(call, 'response', response.status);
  }

  appliesTo(decision: RouteDecision): boolean {
    const patterns = this.patterns;
    if (patterns === undefined) return true;
    const iface = interfaceOf(decision.serviceKey);
    return patterns.some((pattern) => (typeof pattern === 'string' ? pattern === iface : pattern.test(iface)));
  }

  /** One phase of one call. */
  private run(call: FilterCall, phase: PluginPhase, status: number): FilterOutcome | Promise<FilterOutcome> {
    if (!this.breaker.allow() && !this.replacedSinceOpened()) {
      this.stats.phases[phase].record('short-circuited', undefined);
      const until = this.breaker.openUntilMs;
      return this.failure(
        `short-circuited: it failed ${this.config.circuitBreaker.consecutiveFailures} times in a row${until === 0 ? '' : `, probed again in ${Math.max(0, Math.ceil(until - this.context.clock.now()))} ms`}`,
      );
    }
    // Latency is measured, not decided: a precise read (the proxy clock is read once per burst of work, so a synchronous plugin would measure 0).
    const started = performance.now();
    // Built outside the try: reading the call is no failure of the plugin (its breaker is not charged).
    const request = this.request(call, phase, status);
    let answer: PluginAnswer | Promise<PluginAnswer>;
    try {
      answer = this.invoker.invoke(request, this.config.timeoutMs);
    } catch (error) {
      return this.failed(phase, started, error);
    }
    if (isPromiseLike(answer))
      return withTimeout(answer, this.config.timeoutMs, this.context.clock).then(
        (settled) => this.answered(call, phase, started, settled),
        (error: unknown) => this.failed(phase, started, error),
      );
    return this.answered(call, phase, started, answer);
  }

  /** The plugin was replaced (a module loaded again) since its breaker opened: the breaker closes, and this call goes to it. */
  private replacedSinceOpened(): boolean {
    const revision = this.invoker.revision;
    if (revision === undefined || revision === this.openedAtRevision) return false;
    this.breaker.reset();
    this.context.log(`${this.name}: circuit breaker closed: the plugin was replaced (${JSON.stringify(this.invoker.describe().version ?? revision)})`);
    return true;
  }

  /** The request the plugin gets. */
  private request(call: FilterCall, phase: PluginPhase, status: number): PluginRequest {
    const peek = call.peek;
    const { node } = this.context;
    const address = call.context.consumerAddress;
    const host = consumerHost(address, node);
    const port = address.slice(address.lastIndexOf(':') + 1);
    return {
      id: call.id,
      tag: this.config.tag,
      phase: phase === 'request' ? 'REQUEST' : 'RESPONSE',
      service: peek.path,
      group: peek.group,
      version: peek.version === '0.0.0' ? '' : peek.version,
      method: call.method,
      attachments: this.invoker.inProcess === true ? attachmentsView(call) : textAttachments(call.attachments()),
      source_address: host === hostOfAddress(address) || !/^\d+$/.test(port) ? address : `${host.includes(':') ? `[${host}]` : host}:${port}`,
      application: call.context.consumerApplication ?? node.service ?? '',
      status,
    };
  }

  /** The plugin answered: check the answer and act on it. */
  private answered(call: FilterCall, phase: PluginPhase, started: number, answer: unknown): FilterOutcome {
    const latency = performance.now() - started;
    const read = readAnswer(answer, phase);
    if (typeof read === 'string') return this.failed(phase, started, new Error(read), latency);
    this.succeeded();
    if (!read.go) {
      this.stats.phases[phase].record('rejected', latency);
      return read.reply;
    }
    if (read.set !== undefined) {
      try {
        for (const [name, value] of Object.entries(read.set)) {
          if (value === '') call.removeAttachment(name);
          else call.setAttachment(name, value);
        }
      } catch (error) {
        // The call ended meanwhile (its route timeout passed): nothing to change any more.
        return this.failed(phase, started, error, latency);
      }
    }
    this.stats.phases[phase].record('ok', latency);
    return undefined;
  }

  /** The plugin failed (threw, rejected, timed out, or answered outside the API). */
  private failed(phase: PluginPhase, started: number, error: unknown, latency = performance.now() - started): FilterOutcome {
    const timedOut = error instanceof PluginTimeoutError;
    this.stats.phases[phase].record(timedOut ? 'timeout' : 'error', latency);
    const why = timedOut ? `timed out (${error.message})` : describe(error);
    if (!this.failing) {
      this.failing = true;
      this.context.log(
        `${this.name}: ${phase} phase failed: ${why}; ${this.config.failurePolicy === 'fail-open' ? 'calls go on' : 'calls are answered 70'} (failurePolicy ${this.config.failurePolicy})`,
      );
    }
    if (this.breaker.failure()) {
      this.openedAtRevision = this.invoker.revision;
      this.context.log(
        `${this.name}: circuit breaker open for ${this.config.circuitBreaker.openForMs} ms after ${this.config.circuitBreaker.consecutiveFailures} failures in a row; the plugin is not called meanwhile`,
      );
    }
    return this.failure(why);
  }

  private succeeded(): void {
    if (this.breaker.success()) this.context.log(`${this.name}: circuit breaker closed: the plugin answered again`);
    else if (this.failing) this.context.log(`${this.name}: answers again`);
    this.failing = false;
  }

  /** What the failure policy says. */
  private failure(why: string): FilterOutcome {
    if (this.config.failurePolicy === 'fail-open') return undefined;
    return { status: ResponseStatus.SERVICE_ERROR, message: `plugin failed (fail-closed): ${why}` };
  }
}
