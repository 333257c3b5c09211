import t from 'tap';
import { CheckContext, formatPath } from '@dubbo-mesh/schema';
import { addressMatchNode, compileAddressMatch, globMatches, matchIpExpression, parseIpExpression, type AddressMatch } from '@dubbo-mesh/dubbo-rules';

function matches(pattern: string, host: string, port: number): boolean | undefined {
  const expression = parseIpExpression(pattern);
  if (typeof expression === 'string') throw new Error(expression);
  return matchIpExpression(expression, host, port);
}

t.test('IP expressions match as NetUtils.matchIpExpression does', async (t) => {
  const cases: Array<[pattern: string, host: string, port: number, expected: boolean | undefined]> = [
    ['*', '10.0.0.1', 1, true],
    ['*.*.*.*', '10.0.0.1', 1, true],
    ['*', 'not-an-ip', 1, true],
    [' 10.0.0.1 ', '10.0.0.1', 20880, true],
    ['10.0.0.1', '10.0.0.1', 20880, true],
    ['10.0.0.1', '10.0.0.2', 20880, false],
    ['10.0.0.1:20880', '10.0.0.1', 20880, true],
    ['10.0.0.1:20880', '10.0.0.1', 20881, false],
    ['10.0.0.*', '10.0.0.200', 1, true],
    ['10.0.*.1', '10.0.3.2', 1, false],
    ['10.0.*.*:20880', '10.0.3.2', 20880, true],
    ['10.0.*.*:20880', '10.0.3.2', 20881, false],
    ['10.0.1-10.*', '10.0.10.1', 1, true],
    ['10.0.1-10.*', '10.0.11.1', 1, false],
    ['10.0.000.1-5', '10.0.0.3', 1, true],
    ['10.0.0.0/8', '10.200.3.4', 1, true],
    ['10.0.0.0/8', '11.0.0.1', 1, false],
    ['10.1.2.3/32', '10.1.2.3', 9, true],
    ['0.0.0.0/0', '192.168.1.1', 9, true],
    ['fe80::/64', 'fe80::1234', 1, true],
    ['fe80::/64', 'fe81::1', 1, false],
    ['fe80::1', 'fe80:0:0:0:0:0:0:1', 1, true],
    ['[fe80::1]:20880', 'fe80::1', 20880, true],
    ['[fe80::1]:20880', 'fe80::1', 20881, false],
    ['[fe80::1]', '[fe80::1]', 5, true],
    ['234e:0:4567:0:0:0:3d:*', '234e:0:4567::3d:ff', 1, true],
    ['234e:0:4567:0:0:0:3d:0-ff', '234e:0:4567::3d:ff', 1, true],
    ['234e:0:4567:0:0:0:3d:0-fe', '234e:0:4567::3d:ff', 1, false],
    // A pattern of one family never matches a host of the other.
    ['10.0.0.*', 'fe80::1', 1, false],
    ['fe80::1', '10.0.0.1', 1, false],
    // 0.0.0.0 alone is no wildcard for hosts (tag rules accept 0.0.0.0:<port> on their own).
    ['0.0.0.0', '10.0.0.1', 1, false],
    // A host that is not an IP cannot be resolved here.
    ['10.0.0.1', 'provider.local', 1, undefined],
    ['10.0.0.0/8', 'provider.local', 1, undefined],
  ];
  for (const [pattern, host, port, expected] of cases) t.equal(matches(pattern, host, port), expected, `${pattern} vs ${host}:${port}`);
});

t.test('what is not an IP expression is refused with the reason', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['10.0.0', /"10\.0\.0" is not an IP expression \(an IP with an optional :port/],
    ['provider.local', /is not an IP expression/],
    ['10.0.0.1:port', /is not an IP expression/],
    ['10.0.0.300', /is not an IP expression/],
    ['10.0.1-x.1', /is not an IP expression/],
    ['10.0.0.0/33', /"10\.0\.0\.0\/33" is not a CIDR: the prefix length must be 0 to 32/],
    ['host/8', /is not a CIDR: "host" is not an IP address/],
    ['fe80::1::2', /is not an IP expression/],
  ];
  for (const [pattern, message] of cases) {
    const parsed = parseIpExpression(pattern);
    t.type(parsed, 'string', pattern);
    t.match(parsed, message, pattern);
  }
});

t.test('glob patterns as UrlUtils.isMatchGlobPattern', async (t) => {
  const cases: Array<[string, string | undefined, boolean]> = [
    ['*', undefined, true],
    ['10.0.*', '10.0.0.1', true],
    ['*.1', '10.0.0.1', true],
    ['10.*.1', '10.0.0.1', true],
    ['10.*.2', '10.0.0.1', false],
    ['10.0.0.1', '10.0.0.1', true],
    ['', '', true],
    ['', 'x', false],
    ['x', undefined, false],
  ];
  for (const [pattern, value, expected] of cases) t.equal(globMatches(pattern, value), expected, `${pattern} vs ${value}`);
});

t.test('AddressMatch tries cird, then wildcard, then exact', async (t) => {
  const cases: Array<[AddressMatch, string | undefined, boolean]> = [
    [{ cird: '10.0.0.0/24' }, '10.0.0.9', true],
    [{ cird: '10.0.0.0/24' }, '10.0.1.9', false],
    // The value itself, even when the expression would not match it (an ip:port).
    [{ cird: '10.0.0.1:20880' }, '10.0.0.1:20880', true],
    // An ip:port cannot be resolved: Dubbo goes on to the wildcard.
    [{ cird: '10.0.0.0/24', wildcard: '10.0.0.1:*' }, '10.0.0.1:20880', true],
    // A decided cird does not go on.
    [{ cird: '10.0.0.0/24', exact: '10.0.1.1' }, '10.0.1.1', false],
    [{ wildcard: '0.0.0.0' }, '1.2.3.4', true],
    [{ wildcard: '*' }, '1.2.3.4', true],
    [{ wildcard: '10.0.0.1:20880' }, '10.0.0.1', false],
    [{ wildcard: '10.0.0.*' }, '10.0.0.1', true],
    [{ exact: '10.0.0.1' }, '10.0.0.1', true],
    [{ exact: '10.0.0.1' }, '10.0.0.2', false],
    [{ exact: '10.0.0.1' }, undefined, false],
  ];
  for (const [match, input, expected] of cases) t.equal(compileAddressMatch(match)(input), expected, `${JSON.stringify(match)} vs ${input}`);
});

t.test('an AddressMatch is checked with its field paths', async (t) => {
  const check = (value: unknown): string[] => {
    const context = new CheckContext();
    context.path.push('match', 'address');
    addressMatchNode.check(value, context);
    return context.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
  };
  t.same(check({ cird: '10.0.0.0/8' }), []);
  t.same(check({}), ['match.address: must have one of cird, wildcard, exact']);
  t.match(check({ cird: '10.0.0' }), [/^match\.address\.cird: "10\.0\.0" is not an IP expression/]);
  t.match(check({ cidr: '10.0.0.0/8' }), [/^match\.address\.cidr: unknown field \(expected one of: wildcard, cird, exact\)/]);
});
