import { MAX_TIMER_MS, systemClock, type Clock } from './clock.js';

/**
 * `TimeoutQueue` replaces a `setTimeout` per call. Calls with the same timeout expire in the
 * order they started, so each distinct duration is a FIFO list (intrusive: the call is the
 * node, nothing is allocated) and one timer is armed for the earliest head.
 */
/** What a {@link TimeoutQueue} holds: the owner is the list node. */
export interface TimeoutEntry {
  /** When it expires (monotonic ms); set by the queue. */
  timeoutDeadline: number;
  timeoutPrev: TimeoutEntry | undefined;
  timeoutNext: TimeoutEntry | undefined;
  /** The list it is in, undefined when not queued; set by the queue. */
  timeoutList: TimeoutList | undefined;
  /** Called once when the deadline passes (not when cancelled). */
  onTimeout(): void;
}

interface TimeoutList {
  readonly durationMs: number;
  head: TimeoutEntry | undefined;
  tail: TimeoutEntry | undefined;
}

export class TimeoutQueue {
  constructor(private readonly clock: Clock = systemClock) {}

  private readonly lists = new Map<number, TimeoutList>();
  /** The list `add` used last, while it is in `lists`. */
  private lastList: TimeoutList | undefined;
  private timer: unknown;
  /** The deadline the timer is armed for (Infinity when not armed). */
  private armedFor = Infinity;
  private size = 0;

  /** Entries waiting. */
  get pending(): number {
    return this.size;
  }

  /** Lists in use, one per distinct duration waiting (what `fire` walks): for tests and diagnostics. */
  get listCount(): number {
    return this.lists.size;
  }

  /** Expire `entry` `durationMs` from now. An entry already queued is moved. */
  add(entry: TimeoutEntry, requestedMs: number): void {
    if (entry.timeoutList !== undefined) this.cancel(entry);
    // Node timers take at most 2^31-1 ms (~24.8 days); a longer timeout (a consumer may send any) is that.
    const durationMs = Math.min(requestedMs, MAX_TIMER_MS);
    const deadline = this.clock.now() + durationMs;
    // Most calls use the duration the last one used: no Map lookup for them.
    let list = this.lastList;
    if (list === undefined || list.durationMs !== durationMs) {
      list = this.lists.get(durationMs);
      if (list === undefined) {
        list = { durationMs, head: undefined, tail: undefined };
        this.lists.set(durationMs, list);
      }
      this.lastList = list;
    }
    entry.timeoutDeadline = deadline;
    entry.timeoutList = list;
    entry.timeoutNext = undefined;
    entry.timeoutPrev = list.tail;
    if (list.tail === undefined) list.head = entry;
    else list.tail.timeoutNext = entry;
    list.tail = entry;
    this.size += 1;
    // A later entry of a list that already has a head never moves the earliest deadline.
    if (deadline < this.armedFor) this.arm(deadline);
  }

  /** Forget `entry`; a no-op when it is not queued. */
  cancel(entry: TimeoutEntry): void {
    const list = entry.timeoutList;
    if (list === undefined) return;
    const prev = entry.timeoutPrev;
    const next = entry.timeoutNext;
    if (prev === undefined) list.head = next;
    else prev.timeoutNext = next;
    if (next === undefined) list.tail = prev;
    else next.timeoutPrev = prev;
    entry.timeoutList = entry.timeoutPrev = entry.timeoutNext = undefined;
    this.size -= 1;
    // An empty list goes at once: consumers choose timeout values, so lists must not pile up.
    if (list.head === undefined) {
      this.lists.delete(list.durationMs);
      if (this.lastList === list) this.lastList = undefined;
    }
    // The timer stays armed: when it fires with nothing due it re-arms for the new earliest.
  }

  /** Drop every entry without calling it, and stop the timer. */
  clear(): void {
    for (const list of this.lists.values()) {
      for (let entry = list.head; entry !== undefined;) {
        const next = entry.timeoutNext;
        entry.timeoutList = entry.timeoutPrev = entry.timeoutNext = undefined;
        entry = next;
      }
    }
    this.lists.clear();
    this.lastList = undefined;
    this.size = 0;
    this.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
  }

  private arm(deadline: number): void {
    this.clock.clearTimer(this.timer);
    this.armedFor = deadline;
    this.timer = this.clock.setTimer(this.fire, Math.max(1, Math.ceil(deadline - this.clock.now())));
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.armedFor = Infinity;
    const now = this.clock.now();
    const due: TimeoutEntry[] = [];
    let earliest = Infinity;
    for (const list of this.lists.values()) {
      // Node timers may fire up to 1 ms early against performance.now().
      while (list.head !== undefined && list.head.timeoutDeadline <= now + 1) {
        const entry = list.head;
        this.cancel(entry); // deletes the list once it is empty
        due.push(entry);
      }
      if (list.head !== undefined && list.head.timeoutDeadline < earliest) earliest = list.head.timeoutDeadline;
    }
    if (earliest !== Infinity) this.arm(earliest);
    for (const entry of due) entry.onTimeout();
  };
}
