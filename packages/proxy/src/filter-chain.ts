import type { EndpointNarrowing } from './endpoint-narrowing.js';
import type { ProxyFilter } from './filter.js';
import type { RouteDecision } from './routing-table.js';

/** What applies to the calls of one route decision: filters by phase, and narrowings. */
export interface SelectedChain {
  /** Filters with a request phase, in chain order. */
  readonly request: readonly ProxyFilter[];
  /** Filters with a response phase, in reverse chain order (the order responses pass them). */
  readonly response: readonly ProxyFilter[];
  readonly narrowings: readonly EndpointNarrowing[];
}

/** What {@link FilterChain.select} reports when an `appliesTo` threw (the filter then applies). */
export type SelectionErrorHandler = (name: string, error: unknown) => void;

/**
 * The proxy's filters and endpoint narrowings, immutable: swapping the chain at run time
 * means a new chain, taken by reference, so a call keeps the selection it started with.
 * Which of them apply is decided once per route decision and remembered (a weak map, so
 * decisions of a snapshot no longer in force go with it).
 */
export class FilterChain {
  private readonly selections = new WeakMap<RouteDecision, SelectedChain | null>();
  private lastDecision: RouteDecision | undefined;
  private lastSelection: SelectedChain | undefined;

  constructor(
    readonly filters: readonly ProxyFilter[],
    readonly narrowings: readonly EndpointNarrowing[],
    private readonly onSelectionError?: SelectionErrorHandler,
  ) {
    const names = new Set<string>();
    for (const item of [...filters, ...narrowings]) {
      if (typeof item?.name !== 'string' || item.name === '') throw new TypeError('every filter and endpoint narrowing needs a non-empty name');
      if (names.has(item.name)) throw new TypeError(`two filters or endpoint narrowings are named ${JSON.stringify(item.name)}`);
      names.add(item.name);
    }
    for (const filter of filters) {
      if (filter.onRequest === undefined && filter.onResponse === undefined) throw new TypeError(`filter ${filter.name} has neither onRequest nor onResponse`);
    }
    for (const narrowing of narrowings) if (typeof narrowing.narrow !== 'function') throw new TypeError(`endpoint narrowing ${narrowing.name} has no narrow()`);
  }

  /** Whether the chain holds nothing (the proxy then keeps no chain at all). */
  get empty(): boolean {
    return this.filters.length === 0 && this.narrowings.length === 0;
  }

  /** What applies to calls following `decision`; undefined when nothing does. */
  select(decision: RouteDecision): SelectedChain | undefined {
    if (decision === this.lastDecision) return this.lastSelection;
    let selection = this.selections.get(decision);
    if (selection === undefined) {
      selection = this.build(decision);
      this.selections.set(decision, selection);
    }
    this.lastDecision = decision;
    this.lastSelection = selection ?? undefined;
    return this.lastSelection;
  }

  private build(decision: RouteDecision): SelectedChain | null {
    const filters = this.filters.filter((filter) => this.applies(filter, decision));
    const narrowings = this.narrowings.filter((narrowing) => this.applies(narrowing, decision));
    const request = filters.filter((filter) => filter.onRequest !== undefined);
    const response = filters.filter((filter) => filter.onResponse !== undefined).reverse();
    if (request.length === 0 && response.length === 0 && narrowings.length === 0) return null;
    return Object.freeze({ request, response, narrowings });
  }

  private applies(item: ProxyFilter | EndpointNarrowing, decision: RouteDecision): boolean {
    if (item.appliesTo === undefined) return true;
    try {
      return item.appliesTo(decision);
    } catch (error) {
      // A broken selector must not take the listener down; the filter then sees the call
      // (a filter that guards something is safer applied than skipped).
      this.onSelectionError?.(item.name, error);
      return true;
    }
  }
}
