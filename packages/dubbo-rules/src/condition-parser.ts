/**
 * Condition strings read as Dubbo 3.3 reads them (`ConditionStateRouter.init`/`parseRule`):
 * `when => then`, each side keys joined by `&` with `=`/`!=` and comma lists. Tokens are found
 * the way Dubbo's pattern finds them (a run of `&!=,` separators, blanks, then a run of other
 * characters), so every string Dubbo reads one way is read the same way here. What Dubbo
 * refuses (a separator it does not know, a value with no key) is an error here too, and so are
 * the slips Dubbo swallows silently, which make a condition never match or match nothing: a key
 * with no value (`method = => …`, `host = a b`), a separator with nothing after it, a second `=>`.
 */
import type { ConditionSide } from './value-pattern.js';

/** What a condition key reads (Dubbo's matcher factories, chosen by the key's prefix). */
export type ConditionKey =
  /** `arguments[N]` (Dubbo reads the key up to its first `.`); index undefined when malformed. */
  | { readonly kind: 'argument'; readonly index: number | undefined }
  /** `attachments[k]` (up to the first `.`, so `attachments[dubbo.tag]` is malformed); name undefined when malformed. */
  | { readonly kind: 'attachment'; readonly name: string | undefined }
  /** Any other key: a call or consumer value in a when-part, an endpoint value in a then-part. */
  | { readonly kind: 'param'; readonly name: string };

/** One key of one side with its `=` values (`matches`) and `!=` values (`mismatches`). */
export interface ParsedMatcher {
  /** The key as Dubbo uses it (after `consumer.`/`provider.` were removed). */
  readonly name: string;
  readonly key: ConditionKey;
  /** 1-based column of the key in the condition as written. */
  readonly column: number;
  readonly matches: readonly string[];
  readonly mismatches: readonly string[];
}

/** A problem in a condition string, at a 1-based column of the string as written. */
export interface ConditionProblem {
  readonly message: string;
  readonly column: number;
  /** What to write instead, said after the column. */
  readonly hint?: string;
}

/** One side read: its matchers (every one must hold), or the problem that stopped it. */
export interface ParsedSide {
  readonly matchers: readonly ParsedMatcher[];
  readonly problem: ConditionProblem | undefined;
}

/** A v2.7/v3.0 condition read. */
export interface ParsedCondition {
  /** Empty: every call (the when-part was absent, blank or `true`). */
  readonly when: readonly ParsedMatcher[];
  /** Undefined: a blacklist (the then-part was blank or `false`): no provider. */
  readonly then: readonly ParsedMatcher[] | undefined;
  readonly problems: readonly ConditionProblem[];
}

const ARGUMENT_KEY = /arguments\[([0-9]+)\]/;
const ATTACHMENT_KEY = /attachments\[(.+)\]/;
const INT_MAX = 2147483647;

/** What a key reads, as Dubbo's matcher factories decide it (attachments, then arguments, then any). */
export function classifyKey(name: string): ConditionKey {
  // Dubbo matches the bracket pattern against the key up to its first `.`
  // (`arguments[0].inner` reads the whole argument 0).
  const head = name.split('.')[0]!;
  if (name.startsWith('attachments')) {
    const found = ATTACHMENT_KEY.exec(head);
    return { kind: 'attachment', name: found === null ? undefined : found[1] };
  }
  if (name.startsWith('arguments')) {
    const found = ARGUMENT_KEY.exec(head);
    const index = found === null ? undefined : Number(found[1]);
    return { kind: 'argument', index: index === undefined || index > INT_MAX ? undefined : index };
  }
  return { kind: 'param', name };
}

// Java's `\s` (the `String.trim`/regex blanks Dubbo's parser knows), not JavaScript's wider one.
const BLANKS = ' \t\n\v\f\r';
const TOKEN = /([&!=,]*)[ \t\n\v\f\r]*([^&!=, \t\n\v\f\r]+)/g;

function isBlank(char: string): boolean {
  return BLANKS.includes(char);
}

/** A text with, for each of its characters, the index it had in the condition as written. */
interface Mapped {
  readonly text: string;
  readonly origin: readonly number[];
}

/** Java's `String.replace(needle, "")`, keeping where each remaining character came from. */
function removeAll(source: Mapped, needle: string): Mapped {
  let text = '';
  const origin: number[] = [];
  let i = 0;
  while (i < source.text.length) {
    if (source.text.startsWith(needle, i)) {
      i += needle.length;
      continue;
    }
    text += source.text[i];
    origin.push(source.origin[i]!);
    i += 1;
  }
  origin.push(source.origin[source.text.length]!);
  return { text, origin };
}

/** Java's `trim` of `text[start, end)`, as [start, end). */
function trimRange(text: string, start: number, end: number): [number, number] {
  while (start < end && text.charCodeAt(start) <= 32) start += 1;
  while (end > start && text.charCodeAt(end - 1) <= 32) end -= 1;
  return [start, end];
}

interface Building {
  name: string;
  column: number;
  matches: Set<string>;
  mismatches: Set<string>;
}

/** The problem for separators Dubbo's pattern skipped (nothing usable after them). */
function strayProblem(text: string, from: number, to: number, columnAfter: (index: number) => number): ConditionProblem | undefined {
  let p = from;
  while (p < to && isBlank(text[p]!)) p += 1;
  if (p >= to) return undefined;
  let q = p;
  while (q < to && '&!=,'.includes(text[q]!)) q += 1;
  const run = text.slice(p, q);
  const message = run === '=' || run === '!=' ? `no value after "${run}"` : run === ',' || run === '&' ? `nothing after "${run}"` : `unexpected "${run}"`;
  return {
    message,
    column: columnAfter(q),
    hint: message.startsWith('unexpected') ? 'keys are joined by "&", values follow "=" or "!=" and are separated by ","' : undefined,
  };
}

/**
 * Read one side, `text[start, end)` of a mapped text, as Dubbo's `parseRule` does. `side` only
 * names the side in messages.
 */
function parseSide(mapped: Mapped, start: number, end: number, side: ConditionSide): ParsedSide {
  const text = mapped.text.slice(start, end);
  const column = (index: number): number => mapped.origin[start + index]! + 1;
  // Where the missing part was expected: past the blanks that follow, in the whole condition
  // (`method = => …` points at the `=>`).
  const columnAfter = (index: number): number => {
    let at = start + index;
    while (at < mapped.text.length && isBlank(mapped.text[at]!)) at += 1;
    return mapped.origin[at]! + 1;
  };
  const matchers = new Map<string, Building>();
  let current: Building | undefined;
  // Dubbo keeps the last value list across keys: `a=1 & b, c` adds c to a's values.
  let values: Set<string> | undefined;
  let cursor = 0;
  TOKEN.lastIndex = 0;
  for (let found = TOKEN.exec(text); found !== null; found = TOKEN.exec(text)) {
    const stray = strayProblem(text, cursor, found.index, columnAfter);
    if (stray !== undefined) return { matchers: [], problem: stray };
    cursor = TOKEN.lastIndex;
    const separator = found[1]!;
    const content = found[2]!;
    const at = column(found.index);
    if (separator === '' || separator === '&') {
      const existing = separator === '&' ? matchers.get(content) : undefined;
      if (existing !== undefined) current = existing;
      else {
        current = { name: content, column: column(found.index + found[0].length - content.length), matches: new Set(), mismatches: new Set() };
        matchers.set(content, current);
      }
    } else if (separator === '=' || separator === '!=') {
      if (current === undefined) return { matchers: [], problem: { message: `"${separator}" before "${content}" has no key before it`, column: at } };
      values = separator === '=' ? current.matches : current.mismatches;
      values.add(content);
    } else if (separator === ',') {
      if (values === undefined || values.size === 0) return { matchers: [], problem: { message: `"," before "${content}" follows no value`, column: at } };
      values.add(content);
    } else {
      return {
        matchers: [],
        problem: { message: `unexpected "${separator}" before "${content}"`, column: at, hint: 'use "&", "=", "!=" or ","' },
      };
    }
  }
  const stray = strayProblem(text, cursor, text.length, columnAfter);
  if (stray !== undefined) return { matchers: [], problem: stray };
  const out: ParsedMatcher[] = [];
  for (const m of matchers.values()) {
    if (m.matches.size === 0 && m.mismatches.size === 0) {
      // Dubbo keeps such a key and it never holds: the side would never match.
      return {
        matchers: [],
        problem: { message: `no "=" or "!=" after "${m.name}"`, column: m.column, hint: `in the ${side}-part; values are separated by ","` },
      };
    }
    out.push(Object.freeze({ name: m.name, key: classifyKey(m.name), column: m.column, matches: [...m.matches], mismatches: [...m.mismatches] }));
  }
  return { matchers: out, problem: undefined };
}

function identity(text: string): Mapped {
  const origin: number[] = [];
  for (let i = 0; i <= text.length; i++) origin.push(i);
  return { text, origin };
}

/**
 * Read a v2.7/v3.0 condition: Dubbo first removes every `consumer.` and `provider.` (anywhere
 * in the string, values too), then splits at the first `=>`; no `=>` means the whole string is
 * the then-part. Blank or `true` when-part: every call; blank or `false` then-part: blacklist.
 */
export function parseCondition(condition: string): ParsedCondition {
  if (condition.trim() === '') return { when: [], then: undefined, problems: [{ message: 'is empty (a condition is "WHEN => THEN")', column: 1 }] };
  const mapped = removeAll(removeAll(identity(condition), 'consumer.'), 'provider.');
  const text = mapped.text;
  const arrow = text.indexOf('=>');
  const problems: ConditionProblem[] = [];
  let when: readonly ParsedMatcher[] = [];
  if (arrow >= 0) {
    const [ws, we] = trimRange(text, 0, arrow);
    const whenText = text.slice(ws, we);
    if (whenText !== '' && whenText !== 'true') {
      const side = parseSide(mapped, ws, we, 'when');
      if (side.problem !== undefined) problems.push(side.problem);
      when = side.matchers;
    }
  }
  const [ts, te] = trimRange(text, arrow < 0 ? 0 : arrow + 2, text.length);
  const thenText = text.slice(ts, te);
  let then: readonly ParsedMatcher[] | undefined;
  const second = thenText.indexOf('=>');
  if (second >= 0) problems.push({ message: 'has a second "=>"', column: mapped.origin[ts + second]! + 1 });
  else if (thenText !== '' && thenText !== 'false') {
    const side = parseSide(mapped, ts, te, 'then');
    if (side.problem !== undefined) problems.push(side.problem);
    then = side.matchers;
  }
  return { when, then, problems };
}

/**
 * Read a v3.1 `match` (no `=>`, and no `consumer.`/`provider.` removal: Dubbo's v3.1 router
 * does neither). Blank gives no matcher, and so does `true` for a `from` (`side` `when`) and
 * `false` for a `to` (`then`): a `from` with no matcher holds for every call, a `to` with no
 * matcher keeps every provider (Dubbo 3.3: even `false`, unlike a v3.0 then-part).
 */
export function parseMatch(match: string, side: ConditionSide): ParsedSide {
  const [start, end] = trimRange(match, 0, match.length);
  const text = match.slice(start, end);
  if (text === '' || text === (side === 'when' ? 'true' : 'false')) return { matchers: [], problem: undefined };
  const arrow = match.indexOf('=>');
  if (arrow >= 0)
    return {
      matchers: [],
      problem: { message: `has "=>": a v3.1 match is one side only (from.match is the when-part, to[].match the then-part)`, column: arrow + 1 },
    };
  return parseSide(identity(match), start, end, side);
}
