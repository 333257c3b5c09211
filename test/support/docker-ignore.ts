// .dockerignore as Docker applies it to a build context (the rules of moby's patternmatcher):
// patterns are paths relative to the context root, `*` and `?` stay within one path segment,
// `**` spans any number of segments (none included), a pattern that matches a folder excludes
// everything in it, `!` re-includes, and the last pattern that matches a path decides.

/** One .dockerignore line, compiled. */
interface IgnoreRule {
  readonly pattern: string;
  readonly exclude: boolean;
  readonly regex: RegExp;
}

/** Escape a character for a regular expression. */
const literal = (ch: string) => ch.replace(/[.+^${}()|\\/]/g, '\\$&');

/** A pattern (cleaned, without `!`) as a regular expression over a whole slash-separated path. */
function compile(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*' && pattern[i + 1] === '*') {
      i++;
      // `**/` is `**`; at the end it matches everything, elsewhere any number of whole segments.
      if (pattern[i + 1] === '/') i++;
      source += i + 1 >= pattern.length ? '.*' : '(.*/)?';
    } else if (ch === '*') source += '[^/]*';
    else if (ch === '?') source += '[^/]';
    else if (ch === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end === -1) throw new Error(`.dockerignore: unterminated character class in ${JSON.stringify(pattern)}`);
      const body = pattern.slice(i + 1, end);
      source += `[${body.startsWith('^') ? `^/${body.slice(1)}` : body}]`;
      i = end;
    } else if (ch === '\\' && i + 1 < pattern.length) source += literal(pattern[++i]!);
    else source += literal(ch);
  }
  return new RegExp(`^${source}$`);
}

/** A path cleaned as Go's filepath.Clean does for these patterns: no leading `/` or `./`, no `//`, no trailing `/`. */
function clean(pattern: string): string {
  const parts: string[] = [];
  for (const part of pattern.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return parts.join('/');
}

/** The rules of a .dockerignore file's text (comments and blank lines left out). */
export function parseDockerIgnore(text: string): IgnoreRule[] {
  const rules: IgnoreRule[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const exclude = !line.startsWith('!');
    const pattern = clean(exclude ? line : line.slice(1).trim());
    if (pattern === '') continue;
    rules.push({ pattern, exclude, regex: compile(pattern) });
  }
  return rules;
}

/** Whether a context path (relative, slash-separated) is left out of the build context by `rules`. */
export function isIgnored(rules: readonly IgnoreRule[], relativePath: string): boolean {
  const segments = relativePath.split('/');
  // The path itself and each folder above it: a rule that matches a folder matches what is in it.
  const candidates = segments.map((_, i) => segments.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const rule of rules) if (candidates.some((candidate) => rule.regex.test(candidate))) ignored = rule.exclude;
  return ignored;
}

/** Whether some rule re-includes paths (`!…`): a left-out folder must then still be walked. */
export function hasExceptions(rules: readonly IgnoreRule[]): boolean {
  return rules.some((rule) => !rule.exclude);
}
