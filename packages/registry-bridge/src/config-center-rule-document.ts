/**
 * One node of Dubbo's ZooKeeper config center read as a DubboRule: the node's text is the rule
 * document as dubbo-admin writes it (YAML), its name (`com.Foo:1.0.0:.condition-router`,
 * `user-app.tag-router`, `user-app.configurators`) says what rule it holds. Pure: no I/O.
 */
import { bareRuleResource, validateResource, type FieldPath, type LocatedResource } from '@dubbo-mesh/config';
import { canonicalRuleKey, CONFIG_CENTER_SUFFIXES, type ConfigCenterRuleName, type RuleKind } from '@dubbo-mesh/dubbo-rules';
import { LineCounter, parseDocument, type Document } from 'yaml';

/**
 * The body field of each kind's document (Dubbo's `conditions`, `tags`, `configs`): a
 * document with another kind's body in a node of this kind is an error, not a rule of the
 * other kind under the wrong name.
 */
const BODY_FIELDS: Readonly<Record<RuleKind, string>> = { condition: 'conditions', tag: 'tags', override: 'configs' };

/** What a rule with no `configVersion` is read as: Dubbo parses it as a pre-v3.1 rule of its kind. */
const DEFAULT_CONFIG_VERSION = 'v2.7';

/** What a config-center node holds, as the source takes it. */
export type ConfigCenterRuleRead =
  /** No data, or only whitespace: no rule (Dubbo reads an empty node as no rule at all). */
  | { readonly kind: 'empty' }
  | {
      readonly kind: 'rule';
      readonly rule: ConfigCenterRuleName;
      /** The DubboRule resource; its `raw` a new object. */
      readonly located: LocatedResource;
      /** What was ignored or overridden (unknown fields, a key or scope the node's name replaces), each located. */
      readonly warnings: readonly string[];
    }
  | {
      readonly kind: 'invalid';
      readonly rule: ConfigCenterRuleName;
      /** Every error, each `zookeeper:<path>:<line>:<col>: …` (or `zookeeper:<path>: …` where no position is known). */
      readonly errors: readonly string[];
      readonly warnings: readonly string[];
    };

/** What a node is read with. */
export interface ConfigCenterRuleInput {
  /** The node's full path (`/dubbo/config/dubbo/com.Foo:1.0.0:.condition-router`). */
  readonly path: string;
  /** What its name holds (`parseConfigCenterName` of the last path segment). */
  readonly rule: ConfigCenterRuleName;
  /** The node's data as text. */
  readonly text: string;
  /** The namespace of the DubboRule resource (rules apply mesh-wide by key whatever it is). */
  readonly namespace: string;
}

/** A 1-based position in a node's text. */
interface Position {
  readonly line: number;
  readonly col: number;
}

/** The origin every resource and message of a node names: `zookeeper:<path>`. */
export function configCenterOrigin(path: string): string {
  return `zookeeper:${path}`;
}

/** yaml's message without the position it repeats and the picture of the line it draws. */
function yamlMessage(message: string): string {
  return message
    .split('\n')[0]!
    .replace(/ at line \d+, column \d+:?$/, '')
    .replace(/:$/, '');
}

/** Where a field of the document sits, or its nearest located parent. */
function positionIn(document: Document, lines: LineCounter, path: readonly (string | number)[]): Position | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = document.getIn(path.slice(0, depth), true) as { range?: [number, number, number] } | undefined;
    if (node?.range !== undefined) return lines.linePos(node.range[0]);
  }
  return undefined;
}

/** Parse a node's text with positions. */
function parse(text: string): { document: Document; lines: LineCounter } {
  const lines = new LineCounter();
  // One document, as Dubbo's SnakeYAML `load` reads it: a second one is an error.
  const document = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  return { document, lines };
}

/**
 * Locations of a resource's fields in its node's text, found by parsing the text again when
 * first asked: only an error names a place, so a rule in force does not keep its syntax tree.
 */
function lazyLocate(origin: string, text: string): (path: FieldPath) => string {
  let found: ((path: FieldPath) => Position | undefined) | undefined;
  return (path) => {
    if (found === undefined) {
      const { document, lines } = parse(text);
      found = (fieldPath) => positionIn(document, lines, fieldPath);
    }
    return where(origin, found(path[0] === 'spec' ? path.slice(1) : path));
  };
}

function where(origin: string, at: Position | undefined): string {
  return at === undefined ? `${origin}: ` : `${origin}:${at.line}:${at.col}: `;
}

function describeValue(value: unknown): string {
  if (value === null) return 'nothing (null)';
  if (Array.isArray(value)) return 'a list';
  return `${typeof value} ${JSON.stringify(value)}`;
}

/**
 * Read one config-center node as a DubboRule. The NODE NAME decides the rule's kind, scope and
 * key, as it does for Dubbo (which looks a rule up by that name, never by what it says inside):
 * a document whose `key` or `scope` says otherwise gets the node's, with a warning; a document
 * of another kind than the node's suffix is an error. Unknown fields are ignored with a
 * warning, as Dubbo ignores them. Every error names the node's path and, where known, the
 * line and column.
 */
export function readConfigCenterRule(input: ConfigCenterRuleInput): ConfigCenterRuleRead {
  const { path, rule, text, namespace } = input;
  if (text.trim() === '') return { kind: 'empty' };
  const origin = configCenterOrigin(path);
  const { document, lines } = parse(text);
  const at = (fieldPath: readonly (string | number)[]) => where(origin, positionIn(document, lines, fieldPath));
  const invalid = (errors: string[], warnings: string[] = []): ConfigCenterRuleRead => ({ kind: 'invalid', rule, errors, warnings });

  if (document.errors.length > 0)
    return invalid(
      document.errors.map(
        (error) =>
          `${where(origin, error.linePos?.[0])}${error.code === 'MULTIPLE_DOCS' ? 'a second YAML document: a config-center node holds one rule document' : yamlMessage(error.message)}`,
      ),
    );
  let value: unknown;
  try {
    value = document.toJS({ maxAliasCount: 100 });
  } catch (error) {
    return invalid([`${at([])}${yamlMessage((error as Error).message)}`]);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return invalid([`${at([])}must be a rule document (a YAML mapping with configVersion, key …), got ${describeValue(value)}`]);

  const body = BODY_FIELDS[rule.kind];
  const source = value as Record<string, unknown>;
  if (source[body] === undefined) {
    const other = (Object.keys(BODY_FIELDS) as RuleKind[]).find((kind) => source[BODY_FIELDS[kind]] !== undefined);
    if (other !== undefined) {
      return invalid([
        `${at([BODY_FIELDS[other]])}a ${CONFIG_CENTER_SUFFIXES[rule.kind]} node holds a ${rule.kind} rule (${body}), this document is a ${other} rule (${BODY_FIELDS[other]})`,
      ]);
    }
  }

  // The node's name decides the key and scope; a document that says otherwise is overridden.
  const warnings: string[] = [];
  const documentKey = source.key;
  const documentScope = source.scope;
  // `com.Foo:1.0.0` names the node `com.Foo:1.0.0:`: the same key.
  const sameKey = typeof documentKey === 'string' && canonicalRuleKey(rule.scope, documentKey) === rule.key;
  if (documentKey !== undefined && !sameKey)
    warnings.push(`${at(['key'])}key ${JSON.stringify(documentKey)} is not the node's; the node's name decides: ${JSON.stringify(rule.key)}`);
  if (documentScope !== undefined && documentScope !== rule.scope)
    warnings.push(`${at(['scope'])}scope ${JSON.stringify(documentScope)} is not the node's; the node's name decides: ${JSON.stringify(rule.scope)}`);
  const ruleDocument: Record<string, unknown> = { ...source, scope: rule.scope, key: rule.key };
  // dubbo-admin 0.x writes condition and tag rules with no configVersion, and Dubbo reads them
  // as its pre-v3.1 rules: so are they here.
  if (source.configVersion === undefined) {
    ruleDocument.configVersion = DEFAULT_CONFIG_VERSION;
    warnings.push(`${at([])}no configVersion: read as ${DEFAULT_CONFIG_VERSION}, as Dubbo reads a rule without one`);
  }

  const raw = bareRuleResource(ruleDocument, namespace);
  const result = validateResource(raw, { unknownFields: 'warn' });
  const locate = lazyLocate(origin, text);
  const issueAt = (fieldPath: readonly (string | number)[]) => at(fieldPath[0] === 'spec' ? fieldPath.slice(1) : fieldPath);
  // validateResource's warnings are formatted strings; their paths are only in the issues of its context,
  // so each is placed by the field path it names (`…: spec.x[0].y: …`).
  for (const warning of result.warnings ?? []) warnings.push(`${issueAt(pathOfMessage(warning))}${warning}`);
  if (!result.valid)
    return invalid(
      result.issues.map((issue, i) => `${issueAt(issue.path)}${result.errors[i]!}`),
      warnings,
    );
  return { kind: 'rule', rule, located: { resource: result.result, raw, origin, locate }, warnings };
}

/** The field path a formatted validation message names (`Kind ns/name: spec.a[0].b: message`). */
function pathOfMessage(message: string): (string | number)[] {
  const match = /^[^:]*: ((?:spec|metadata)[^:\s]*): /.exec(message);
  if (match === null) return [];
  const path: (string | number)[] = [];
  for (const part of match[1]!.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) path.push(part[2] === undefined ? part[1]! : Number(part[2]));
  return path;
}
