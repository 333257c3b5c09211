import { randomBytes } from 'node:crypto';
import type { Frame, RequestPeek, ScalarValue, WritableScalar } from '@dubbo-mesh/protocol';
import type { CallContext, NodeIdentity } from './call-context.js';
import type { FilterCall, FilterResponse, ProxyFilter } from './filter.js';
import type { RouteDecision } from './routing-table.js';

/** Where a call's context is read from: the connection it came on. */
export interface ConsumerSource {
  /** The consumer's `host:port`, as the downstream connection formats it. */
  readonly remoteAddress: string;
}

/** Not yet read. */
const UNREAD = Symbol('unread');

/** This process's prefix of call ids: ids of two proxies (or two runs of one) never meet. */
const CALL_ID_PREFIX = randomBytes(6).toString('hex');
let lastCallId = 0;

/**
 * The call as filters and endpoint narrowings see it (one per call that has a filter or a
 * narrowing; none otherwise), and its context. The filter state of the call lives here too
 * (attachment changes until the request phase ends, the pending phase, the answer the
 * response phase looks at), so a call without filters carries none of it.
 */
export class ActiveFilterCall implements FilterCall, CallContext {
  /** Changes to make to the attachments; undefined when none. */
  changes: Map<string, WritableScalar | undefined> | undefined;
  /** Whether the request phase is over (attachments can no longer change). */
  requestPhaseOver = false;
  /** The request as sent upstream when filters changed its attachments. */
  rewritten: Buffer | undefined;
  /** The filter whose phase is pending (it returned a promise), and which phase. */
  pendingFilter: ProxyFilter | undefined;
  pendingPhase: 'request' | 'response' | undefined;
  /** The provider's answer while the response phase looks at it, and what the phase sees of it. */
  response: Frame | undefined;
  responseView: FilterResponse | undefined;
  private application: string | undefined | typeof UNREAD = UNREAD;
  private address: string | undefined;
  private callId: string | undefined;

  constructor(
    public peek: RequestPeek,
    /** The route decision the call follows (decided again when the request phase changed attachments). */
    public decision: RouteDecision,
    readonly twoWay: boolean,
    readonly node: NodeIdentity,
    private readonly source: ConsumerSource,
  ) {}

  get id(): string {
    return (this.callId ??= `${CALL_ID_PREFIX}-${(++lastCallId).toString(36)}`);
  }

  get serviceKey(): string {
    return this.decision.serviceKey;
  }

  get method(): string {
    return this.peek.invokedMethod;
  }

  get context(): CallContext {
    return this;
  }

  get consumerApplication(): string | undefined {
    if (this.application === UNREAD) {
      const remote = this.attachment('remote.application');
      const own = typeof remote === 'string' && remote !== '' ? remote : this.attachment('application');
      this.application = typeof own === 'string' && own !== '' ? own : undefined;
    }
    return this.application;
  }

  get consumerAddress(): string {
    return (this.address ??= this.source.remoteAddress);
  }

  attachment(name: string): ScalarValue | undefined {
    const changes = this.changes;
    if (changes !== undefined && changes.has(name)) {
      const value = changes.get(name);
      // As the peek reads a long: a number when it is safe, else its decimal string.
      if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : String(value);
      return value;
    }
    return this.peek.attachment(name);
  }

  attachments(): Readonly<Record<string, ScalarValue>> {
    const base = this.peek.attachments;
    const changes = this.changes;
    if (changes === undefined) return base;
    const merged = Object.assign(Object.create(null) as Record<string, ScalarValue>, base);
    for (const name of changes.keys()) {
      const value = this.attachment(name);
      if (value === undefined) delete merged[name];
      else merged[name] = value;
    }
    return merged;
  }

  setAttachment(name: string, value: WritableScalar): void {
    if (typeof name !== 'string' || name === '') throw new TypeError('an attachment name must be a non-empty string');
    if (value === undefined) throw new TypeError(`attachment ${name}: use removeAttachment to remove it`);
    this.change(name, value);
  }

  removeAttachment(name: string): void {
    this.change(name, undefined);
  }

  private change(name: string, value: WritableScalar | undefined): void {
    if (this.requestPhaseOver) throw new TypeError(`attachment ${name}: attachments can change in the request phase only`);
    (this.changes ??= new Map()).set(name, value);
    if (name === 'remote.application' || name === 'application') this.application = UNREAD;
  }
}
