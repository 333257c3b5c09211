import t from 'tap';
import { CheckContext, formatPath } from '@dubbo-mesh/schema';
import { compileParamMatches, compileStringMatch, paramMatchesNode, stringMatchNode, type StringMatch } from '@dubbo-mesh/dubbo-rules';

function issues(node: { check(value: unknown, context: CheckContext): unknown }, value: unknown): string[] {
  const context = new CheckContext();
  context.path.push('value');
  node.check(value, context);
  return context.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
}

t.test('StringMatch matches as Dubbo 3.3 StringMatch.isMatch', async (t) => {
  const cases: Array<[StringMatch, string | undefined, boolean]> = [
    [{ exact: 'gray' }, 'gray', true],
    [{ exact: 'gray' }, 'grey', false],
    [{ exact: 'gray' }, undefined, false],
    [{ exact: '' }, '', true],
    [{ prefix: 'v2' }, 'v2.1', true],
    [{ prefix: 'v2' }, 'v1', false],
    // regex is the whole value, as Java's String.matches
    [{ regex: 'v[0-9]+' }, 'v12', true],
    [{ regex: 'v[0-9]' }, 'v12', false],
    [{ regex: 'a|b' }, 'b', true],
    [{ regex: 'a|b' }, 'ab', false],
    // wildcard is only "*", else the value itself
    [{ wildcard: '*' }, 'anything', true],
    [{ wildcard: '*' }, undefined, false],
    [{ wildcard: 'v*' }, 'v1', false],
    [{ wildcard: 'v*' }, 'v*', true],
    [{ empty: 'true' }, undefined, true],
    [{ empty: 'true' }, '', true],
    [{ empty: 'true' }, 'x', false],
    [{ noempty: 'true' }, 'x', true],
    [{ noempty: 'true' }, '', false],
    [{ noempty: 'true' }, undefined, false],
    // The first field that can decide wins: exact on an absent value falls through to empty.
    [{ exact: 'a', empty: 'true' }, undefined, true],
    [{ exact: 'a', empty: 'true' }, 'b', false],
    [{ prefix: 'x', noempty: 'true' }, 'y', false],
  ];
  for (const [match, input, expected] of cases) t.equal(compileStringMatch(match)(input), expected, `${JSON.stringify(match)} vs ${input}`);
});

t.test('StringMatch is checked with field paths', async (t) => {
  t.same(issues(stringMatchNode, { exact: 'a' }), []);
  t.same(issues(stringMatchNode, { empty: true }), []);
  t.same(issues(stringMatchNode, {}), ['value: must have one of exact, prefix, regex, wildcard, empty, noempty']);
  t.match(issues(stringMatchNode, { regex: 'a(' }), [/^value\.regex: "a\(" is not a regular expression: /]);
  t.match(issues(stringMatchNode, { exact: 3 }), ['value.exact: must be a string, got number 3']);
  t.match(issues(stringMatchNode, { exakt: 'a' }), [
    /^value\.exakt: unknown field \(expected one of: exact, prefix, regex, wildcard, empty, noempty\)/,
    /must have one of/,
  ]);
  t.same(issues(stringMatchNode, 'gray'), ['value: must be an object, got string "gray"']);
});

t.test('param matches all hold, and say which one fails', async (t) => {
  const matcher = compileParamMatches([
    { key: 'version', value: { exact: 'v2' } },
    { key: 'region', value: { prefix: 'eu-' } },
  ]);
  const labels = (values: Record<string, string>) => (key: string) => values[key];
  t.equal(matcher.matches(labels({ version: 'v2', region: 'eu-west' })), true);
  t.equal(matcher.matches(labels({ version: 'v2', region: 'us-east' })), false);
  t.equal(matcher.firstMismatch(labels({ version: 'v2', region: 'us-east' })), 'region "us-east", not prefix "eu-"');
  t.equal(matcher.firstMismatch(labels({ region: 'eu-west' })), 'version is absent, not exact "v2"');
  t.equal(matcher.firstMismatch(labels({ version: 'v2', region: 'eu-1' })), undefined);
  t.same(issues(paramMatchesNode, [{ key: 'version' }, { value: { exact: 'x' } }]), ['value[0].value: is required', 'value[1].key: is required']);
});
