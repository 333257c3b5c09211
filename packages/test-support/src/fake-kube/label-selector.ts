// Label selectors in the string form of k8s.io/apimachinery/pkg/labels: `a=b,c!=d,e`,
// `f in (x,y)`, `g notin (z)`, `!h`, and the integer comparisons `i>1`, `j<2`.
import { badRequest } from './errors.js';

type Operator = 'exists' | 'notExists' | 'equals' | 'notEquals' | 'in' | 'notIn' | 'greaterThan' | 'lessThan';

interface Requirement {
  key: string;
  operator: Operator;
  values: string[];
}

/** A parsed label selector: `matches` tells whether a set of labels satisfies every requirement. */
export interface LabelSelector {
  matches(labels: Record<string, string> | undefined): boolean;
}

const SPECIAL = new Set([' ', '\t', ',', '(', ')', '=', '!', '<', '>']);

type Token = { kind: 'word'; text: string } | { kind: 'op'; text: string } | { kind: 'punct'; text: string };

function tokenize(selector: string): Token[] {
  const tokens: Token[] = [];
  let index = 0;
  while (index < selector.length) {
    const char = selector[index]!;
    if (char === ' ' || char === '\t') {
      index++;
    } else if (char === ',' || char === '(' || char === ')') {
      tokens.push({ kind: 'punct', text: char });
      index++;
    } else if (char === '=' || char === '!' || char === '<' || char === '>') {
      const two = selector.slice(index, index + 2);
      const op = two === '==' || two === '!=' ? two : char;
      tokens.push({ kind: 'op', text: op });
      index += op.length;
    } else {
      let end = index;
      while (end < selector.length && !SPECIAL.has(selector[end]!)) end++;
      tokens.push({ kind: 'word', text: selector.slice(index, end) });
      index = end;
    }
  }
  return tokens;
}

/** Parses a label selector; a syntax error is the 400 BadRequest the API server answers with. An empty selector matches everything. */
export function parseLabelSelector(selector: string): LabelSelector {
  const tokens = tokenize(selector);
  const requirements: Requirement[] = [];
  let position = 0;
  const fail = (what: string): never => {
    throw badRequest(`unable to parse requirement: ${what} in label selector "${selector}"`);
  };
  const peek = () => tokens[position];
  const take = () => tokens[position++];
  const word = (what: string): string => {
    const token = take();
    if (token?.kind !== 'word') fail(`found '${token?.text ?? ''}', expected: ${what}`);
    return (token as { text: string }).text;
  };
  while (position < tokens.length) {
    const first = peek()!;
    if (first.kind === 'op' && first.text === '!') {
      take();
      requirements.push({ key: word('identifier'), operator: 'notExists', values: [] });
    } else {
      const key = word('identifier');
      const next = peek();
      if (next === undefined || (next.kind === 'punct' && next.text === ',')) {
        requirements.push({ key, operator: 'exists', values: [] });
      } else if (next.kind === 'op') {
        take();
        const operator: Operator =
          next.text === '=' || next.text === '=='
            ? 'equals'
            : next.text === '!='
              ? 'notEquals'
              : next.text === '>'
                ? 'greaterThan'
                : next.text === '<'
                  ? 'lessThan'
                  : fail(`unknown operator '${next.text}'`);
        // `a=` selects an empty value: the value token may be absent.
        const value = peek()?.kind === 'word' ? take()!.text : '';
        if ((operator === 'greaterThan' || operator === 'lessThan') && !/^-?\d+$/.test(value)) fail(`for 'gt', 'lt' operators, the value must be an integer`);
        requirements.push({ key, operator, values: [value] });
      } else if (next.kind === 'word' && (next.text === 'in' || next.text === 'notin')) {
        take();
        const open = take();
        if (open?.kind !== 'punct' || open.text !== '(') fail(`found '${open?.text ?? ''}', expected: '('`);
        const values: string[] = [];
        for (;;) {
          const token = take();
          if (token === undefined) fail(`found '', expected: ')'`);
          if (token!.kind === 'punct' && token!.text === ')') break;
          if (token!.kind === 'punct' && token!.text === ',') continue;
          if (token!.kind !== 'word') fail(`found '${token!.text}', expected: value`);
          values.push(token!.text);
        }
        requirements.push({ key, operator: next.text === 'in' ? 'in' : 'notIn', values });
      } else {
        fail(`found '${next.text}', expected: in, notin, =, ==, !=, gt, lt`);
      }
    }
    const separator = take();
    if (separator !== undefined && !(separator.kind === 'punct' && separator.text === ',')) fail(`found '${separator.text}', expected: ','`);
  }
  return {
    matches(labels) {
      return requirements.every((requirement) => {
        const has = labels !== undefined && Object.prototype.hasOwnProperty.call(labels, requirement.key);
        const value = has ? labels![requirement.key]! : undefined;
        switch (requirement.operator) {
          case 'exists':
            return has;
          case 'notExists':
            return !has;
          case 'equals':
            return has && value === requirement.values[0];
          case 'notEquals':
            return !has || value !== requirement.values[0];
          case 'in':
            return has && requirement.values.includes(value!);
          case 'notIn':
            return !has || !requirement.values.includes(value!);
          case 'greaterThan':
          case 'lessThan': {
            if (!has || !/^-?\d+$/.test(value!)) return false;
            const left = Number(value);
            const right = Number(requirement.values[0]);
            return requirement.operator === 'greaterThan' ? left > right : left < right;
          }
        }
      });
    },
  };
}
