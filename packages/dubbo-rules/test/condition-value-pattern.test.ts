import t from 'tap';
import { globMatch, rangeMatch } from '@dubbo-mesh/dubbo-rules';

t.test("globs as Dubbo's UrlUtils.isMatchGlobPattern", async (t) => {
  const cases: Array<[string | undefined, string, boolean]> = [
    ['*', '', true],
    ['*', 'anything', true],
    ['get*', 'getUser', true],
    ['get*', 'setUser', false],
    ['*User', 'getUser', true],
    ['10.*.3', '10.20.3', true],
    ['10.*.3', '10.20.4', false],
    ['a*b*c', 'a*bXc', true],
    ['a*b*c', 'aXbXc', false],
    ['ab*ba', 'aba', true],
    ['exact', 'exact', true],
    ['exact', 'exactly', false],
    [undefined, '', true],
    [undefined, 'x', false],
    ['', '', true],
    ['x', '', false],
  ];
  for (const [pattern, value, expected] of cases) t.equal(globMatch(pattern, value), expected, `${String(pattern)} ~ ${JSON.stringify(value)}`);
});

t.test("ranges as Dubbo's RangeValuePattern", async (t) => {
  const cases: Array<[string, string, 'when' | 'then', boolean]> = [
    ['1~100', '1', 'when', true],
    ['1~100', '100', 'when', true],
    ['1~100', '0', 'when', false],
    ['1~100', '101', 'when', false],
    ['~100', '5', 'when', true],
    ['~100', '101', 'when', false],
    ['1~', '5', 'when', false],
    ['1~', '5', 'then', true],
    ['~', '5', 'when', false],
    ['1~~5', '0', 'when', false],
    ['1~~5', '9', 'when', true],
    ['~~5', '1', 'then', true],
    ['0~5', 'abc', 'when', true],
    ['0~5', '-3', 'when', true],
    ['1~100', '99999999999', 'when', false],
    ['1~100', '99999999999', 'then', true],
    ['a~b', '0', 'when', true],
    ['1~2~3', '2', 'when', true],
  ];
  for (const [pattern, value, side, expected] of cases) t.equal(rangeMatch(pattern, value, side), expected, `${pattern} ~ ${value} (${side})`);
});
