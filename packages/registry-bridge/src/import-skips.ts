/** Why a registry entry is not imported, counted for `GET /api/v1/sources` (never thrown). */
export type SkipReason =
  /** A node name that is not valid form encoding (`%` not followed by two hex digits, bad UTF-8). */
  | 'undecodable'
  /** Not `protocol://host:port/path?…`, or no interface. */
  | 'not-a-url'
  /** A protocol other than `dubbo` (the mesh speaks Dubbo 2). */
  | 'protocol'
  /** `empty://`: Dubbo's "no providers". */
  | 'empty'
  /** Carries `meshed-by`: the bridge's own export. */
  | 'meshed-by'
  /** `enabled=false` or `disabled=true`. */
  | 'disabled'
  /** A URL of another category (a consumer, a route) in a providers folder. */
  | 'not-a-provider'
  /** A host and port that make no endpoint address. */
  | 'bad-address'
  /** An application instance whose data is not a ServiceInstance. */
  | 'unreadable-instance';

/** How many entries are skipped now, by reason, with a few examples (raw node names or paths). */
export interface SkipSummary {
  readonly counts: Partial<Record<SkipReason, number>>;
  readonly examples: ReadonlyArray<{ readonly reason: SkipReason; readonly entry: string }>;
}

const MAX_EXAMPLES = 10;

/** Add up skips from several places. */
export function summariseSkips(skips: Iterable<{ readonly reason: SkipReason; readonly entry: string }>): SkipSummary {
  const counts: Partial<Record<SkipReason, number>> = {};
  const examples: Array<{ reason: SkipReason; entry: string }> = [];
  for (const skip of skips) {
    counts[skip.reason] = (counts[skip.reason] ?? 0) + 1;
    // Examples of what looks wrong; the bridge's own exports and empty:// are normal.
    if (examples.length < MAX_EXAMPLES && skip.reason !== 'meshed-by' && skip.reason !== 'empty') examples.push({ reason: skip.reason, entry: skip.entry });
  }
  return { counts, examples };
}
