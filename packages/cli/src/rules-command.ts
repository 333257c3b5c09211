import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import {
  cannotReadError,
  checkCrossReferences,
  parseAddress,
  parseMeshYaml,
  type DubboRuleConfig,
  type DubboServiceConfig,
  type LocatedResource,
} from '@dubbo-mesh/config';
import { explainCall, formatCallExplanation, parseServiceRuleKey, type RuleCall, type RuleDocument, type WeightedRuleEndpoint } from '@dubbo-mesh/dubbo-rules';
import { LineCounter, parseAllDocuments } from 'yaml';
import { EXIT_START_UP } from './exit-codes.js';
import { UsageError, defineFlags, parseFlags } from './flags.js';
import { fileFailure } from './start-up-failure.js';

// `rules check` and `rules explain` read files and print; validation is the control plane's own
// (`parseMeshYaml` + `checkCrossReferences` of @dubbo-mesh/config) and the decision the proxy's
// (`explainCall` of @dubbo-mesh/dubbo-rules): what an operator sees here is what the mesh does.

/** What a subcommand writes to. */
export interface RulesCommandIo {
  readonly out: NodeJS.WritableStream;
  readonly err: NodeJS.WritableStream;
  readonly stdin: NodeJS.ReadableStream;
}

const STDIN_NAME = '<stdin>';

const EXPLAIN_FLAGS = defineFlags([
  { name: 'rule', type: 'string', multiple: true, required: true, description: 'a YAML file of rule documents or DubboRule resources (repeatable)' },
  {
    name: 'endpoints',
    type: 'string',
    required: true,
    description: 'the destination’s endpoints: a YAML/JSON list of {address, labels, application, weight} or a DubboService',
  },
  { name: 'method', type: 'string', required: true, description: 'the method called' },
  { name: 'interface', type: 'string', description: 'the interface called (default: the one the rules’ keys name)' },
  { name: 'version', type: 'string', description: 'the version the consumer asks for' },
  { name: 'group', type: 'string', description: 'the group the consumer asks for' },
  { name: 'attachment', type: 'string', multiple: true, description: 'an attachment k=v of the call (repeatable)' },
  { name: 'argument', type: 'string', multiple: true, description: 'argument N as text, N=value (repeatable)' },
  { name: 'application', type: 'string', description: 'the consumer application' },
  { name: 'host', type: 'string', default: '127.0.0.1', description: 'the consumer’s IP' },
]);

/** `dubbo-mesh rules check FILE|-` and `dubbo-mesh rules explain …`: resolves to the exit code. */
export async function runRulesCommand(
  argv: readonly string[],
  io: RulesCommandIo = { out: process.stdout, err: process.stderr, stdin: process.stdin },
): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'check') return runCheck(rest, io);
  if (sub === 'explain') return runExplain(rest, io);
  throw new UsageError(
    `dubbo-mesh rules: ${sub === undefined ? 'give a subcommand' : `unknown subcommand ${JSON.stringify(sub)}`}: check FILE|- or explain --rule FILE --endpoints FILE --method M …`,
  );
}

async function readStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** `file:line:col` of a resource (its document's start), without the trailing `: `. */
function whereOf(item: LocatedResource): string {
  return (item.locate?.([]) ?? '').replace(/: $/, '');
}

function ruleLabel(rule: RuleDocument): string {
  return `${rule.kind} rule ${rule.key}`;
}

/** Rules in force that differ from Dubbo or do nothing: said, not refused. */
function warningsOf(item: LocatedResource & { resource: DubboRuleConfig }): string[] {
  const rule = item.resource.rule;
  const at = (path: string[]) => item.locate?.(['spec', ...path]) ?? '';
  const warnings: string[] = [];
  if (!rule.enabled) warnings.push(`${at(['enabled'])}warning: ${ruleLabel(rule)}: enabled: false: the rule does nothing`);
  if (!rule.runtime) warnings.push(`${at(['runtime'])}warning: ${ruleLabel(rule)}: runtime: false is accepted and ignored: the mesh evaluates every call`);
  if (rule.priority !== 0)
    warnings.push(`${at(['priority'])}warning: ${ruleLabel(rule)}: priority is accepted and ignored: one rule per key, nothing to order`);
  return warnings;
}

function isRule(item: LocatedResource): item is LocatedResource & { resource: DubboRuleConfig } {
  return item.resource.kind === 'DubboRule';
}

/** The rules of some files, validated as the control plane validates its config files. */
interface CheckedRules {
  readonly rules: Array<LocatedResource & { resource: DubboRuleConfig }>;
  readonly errors: string[];
  readonly warnings: string[];
}

function checkRules(files: ReadonlyArray<{ readonly text: string; readonly name: string }>): CheckedRules {
  const errors: string[] = [];
  const warnings: string[] = [];
  const rules: Array<LocatedResource & { resource: DubboRuleConfig }> = [];
  const partial: LocatedResource[] = [];
  for (const { text, name } of files) {
    const parsed = parseMeshYaml(text, name);
    errors.push(...parsed.errors);
    for (const item of parsed.resources) {
      if (isRule(item)) rules.push(item);
      else
        warnings.push(
          `${item.locate?.([]) ?? ''}warning: ${item.resource.kind} ${item.resource.metadata.namespace}/${item.resource.metadata.name} is not a rule: checked on its own only`,
        );
    }
    partial.push(...(parsed.partial ?? []).filter(isRule));
    if (parsed.errors.length === 0 && !parsed.resources.some(isRule))
      errors.push(`${name}: no rule in it (a rule document has configVersion and conditions, tags or configs)`);
  }
  // One rule document per kind and key, as the control plane requires across its sources. Its
  // check says so of two bare documents as "metadata.name: is defined twice" (their resource
  // names come from kind and key): the same refusal is said here in the rules' words, and the
  // rest is left to its check.
  const first = new Map<string, LocatedResource & { resource: DubboRuleConfig }>();
  const offending = new Set<LocatedResource>();
  for (const item of [...rules, ...(partial as Array<LocatedResource & { resource: DubboRuleConfig }>)]) {
    const rule = item.resource.rule;
    const token = `${rule.kind} ${rule.key}`;
    const holder = first.get(token);
    if (holder === undefined) {
      first.set(token, item);
      continue;
    }
    offending.add(item);
    errors.push(
      `${item.locate?.(['spec', 'key']) ?? ''}${ruleLabel(rule)}: ${whereOf(holder)} already gives a ${rule.kind} rule for ${JSON.stringify(rule.key)}: one rule document per key`,
    );
  }
  const crossReferences = checkCrossReferences([...first.values()]);
  errors.push(...crossReferences.errors);
  for (const item of crossReferences.offending) offending.add(item);
  for (const rule of rules) if (!offending.has(rule)) warnings.push(...warningsOf(rule));
  return { rules: rules.filter((rule) => !offending.has(rule)), errors, warnings };
}

async function runCheck(argv: readonly string[], io: RulesCommandIo): Promise<number> {
  const flag = argv.find((arg) => arg.startsWith('-') && arg !== '-');
  if (flag !== undefined) throw new UsageError(`dubbo-mesh rules check: unknown option ${flag} (rules check FILE|-)`);
  if (argv.length !== 1) throw new UsageError(`dubbo-mesh rules check: give one FILE, or - for standard input (got ${argv.length})`);
  const file = argv[0]!;
  const name = file === '-' ? STDIN_NAME : file;
  let text: string;
  try {
    text = file === '-' ? await readStdin(io.stdin) : await readFile(file, 'utf8');
  } catch (error) {
    io.err.write(`dubbo-mesh rules check: ${cannotReadError(name, error)}\n`);
    return EXIT_START_UP;
  }
  // parseMeshYaml's words for an empty file are about a config folder being rewritten.
  const checked = text.trim() === '' ? { rules: [], warnings: [], errors: [`${name}: empty: no rule document`] } : checkRules([{ text, name }]);
  for (const item of checked.rules) {
    const rule = item.resource.rule;
    io.out.write(`${whereOf(item)}: ${ruleLabel(rule)} (scope ${rule.scope}, configVersion ${rule.configVersion}): valid\n`);
  }
  for (const warning of checked.warnings) io.err.write(`${warning}\n`);
  for (const error of checked.errors) io.err.write(`${error}\n`);
  const summary = `${name}: ${checked.rules.length} valid rule${checked.rules.length === 1 ? '' : 's'}, ${checked.errors.length} error${checked.errors.length === 1 ? '' : 's'}`;
  io.out.write(`${summary}\n`);
  return checked.errors.length === 0 ? 0 : EXIT_START_UP;
}

/** `k=v` (the value may hold `=`), or a UsageError naming the flag. */
function pairFlag(flag: string, value: string, keyTest: RegExp, keyWords: string): [string, string] {
  const equals = value.indexOf('=');
  const key = equals < 0 ? '' : value.slice(0, equals);
  if (equals < 0 || !keyTest.test(key)) throw new UsageError(`dubbo-mesh rules explain: --${flag}: ${JSON.stringify(value)} is not ${keyWords}=value`);
  return [key, value.slice(equals + 1)];
}

async function readFlagFile(flag: string, file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw fileFailure('rules explain', flag, file, error);
  }
}

/** A YAML node's position as `file:line:col`. */
type Locate = (path: readonly (string | number)[]) => string;

/** The endpoints of a list document: `[{address, labels?, application?, weight?}]`, every error with its position and field. */
function endpointsOfList(list: unknown[], locate: Locate): { endpoints: WeightedRuleEndpoint[]; errors: string[] } {
  const errors: string[] = [];
  const endpoints: WeightedRuleEndpoint[] = [];
  const fail = (path: (string | number)[], message: string): void => {
    const field = path.map((part) => (typeof part === 'number' ? `[${part}]` : `.${part}`)).join('');
    errors.push(`${locate(path)}: ${field}: ${message}`);
  };
  list.forEach((item, index) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return fail([index], 'must be an endpoint {address, labels, application, weight}');
    const fields = item as Record<string, unknown>;
    for (const key of Object.keys(fields))
      if (!['address', 'labels', 'application', 'weight'].includes(key)) fail([index, key], 'unknown field (expected address, labels, application, weight)');
    const address = typeof fields.address === 'string' ? parseAddress(fields.address) : undefined;
    if (address === undefined)
      fail([index, 'address'], fields.address === undefined ? 'is required (host:port)' : `${JSON.stringify(fields.address)} is not host:port`);
    const labels: Record<string, string> = {};
    if (fields.labels !== undefined) {
      if (typeof fields.labels !== 'object' || fields.labels === null || Array.isArray(fields.labels)) fail([index, 'labels'], 'must be a map of text');
      else
        for (const [key, value] of Object.entries(fields.labels)) {
          if (typeof value === 'string') labels[key] = value;
          else fail([index, 'labels', key], `must be text, got ${JSON.stringify(value)} (quote it)`);
        }
    }
    if (fields.application !== undefined && (typeof fields.application !== 'string' || fields.application === ''))
      fail([index, 'application'], 'must be an application name');
    if (fields.weight !== undefined && (typeof fields.weight !== 'number' || !Number.isInteger(fields.weight) || fields.weight < 0))
      fail([index, 'weight'], `must be a whole number of at least 0, got ${JSON.stringify(fields.weight)}`);
    if (address === undefined) return;
    const host = address.host.includes(':') ? `[${address.host}]` : address.host;
    const application = typeof fields.application === 'string' ? fields.application : (labels.application ?? 'unknown');
    endpoints.push({
      host: address.host,
      port: address.port,
      address: `${host}:${address.port}`,
      application,
      labels,
      ...(typeof fields.weight === 'number' ? { weight: fields.weight } : {}),
    });
  });
  return { endpoints, errors };
}

/** A DubboService's endpoints as rules see them: application = the `application` label, else the service's name. */
function endpointsOfService(service: DubboServiceConfig): WeightedRuleEndpoint[] {
  return service.endpoints.map((endpoint) => ({
    host: endpoint.host,
    port: endpoint.port,
    address: endpoint.host.includes(':') ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`,
    application: endpoint.labels.application ?? service.metadata.name,
    labels: endpoint.labels,
    weight: endpoint.weight,
  }));
}

/** The endpoints file: a list, or (a document with `kind`) one DubboService; errors as `file:line:col: field: message`. */
function parseEndpoints(text: string, file: string): { endpoints: WeightedRuleEndpoint[]; errors: string[] } {
  const lines = new LineCounter();
  const documents = parseAllDocuments(text, { lineCounter: lines, uniqueKeys: true });
  const list = Array.isArray(documents) ? documents : [];
  const syntax = list.flatMap((document) =>
    document.errors.map((error) => {
      const at = error.linePos?.[0];
      return `${file}${at === undefined ? '' : `:${at.line}:${at.col}`}: ${error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`;
    }),
  );
  if (syntax.length > 0) return { endpoints: [], errors: syntax };
  const first = list.find((document) => document.contents !== null);
  if (first === undefined) return { endpoints: [], errors: [`${file}: no endpoints in it (a list of {address, labels} or a DubboService)`] };
  const raw: unknown = first.toJS({ maxAliasCount: 100 });
  if (Array.isArray(raw)) {
    const locate: Locate = (path) => {
      for (let depth = path.length; depth >= 0; depth--) {
        const node = first.getIn(path.slice(0, depth), true) as { range?: [number, number, number] } | undefined;
        if (node?.range !== undefined) {
          const at = lines.linePos(node.range[0]);
          return `${file}:${at.line}:${at.col}`;
        }
      }
      return file;
    };
    return endpointsOfList(raw, locate);
  }
  const parsed = parseMeshYaml(text, file);
  if (parsed.errors.length > 0) return { endpoints: [], errors: parsed.errors };
  const services = parsed.resources.filter((item) => item.resource.kind === 'DubboService');
  if (services.length !== 1)
    return {
      endpoints: [],
      errors: [`${file}: must be a list of endpoints or hold one DubboService, it holds ${services.length} DubboService${services.length === 1 ? '' : 's'}`],
    };
  return { endpoints: endpointsOfService(services[0]!.resource as DubboServiceConfig), errors: [] };
}

/** The interface (and the version and group, when every rule agrees) the service-scope rules name. */
function keyOfRules(rules: readonly RuleDocument[]): { interface: string; version?: string; group?: string } {
  const keys = rules.filter((rule) => rule.scope === 'service').flatMap((rule) => parseServiceRuleKey(rule.key) ?? []);
  const interfaces = [...new Set(keys.map((key) => key.interface))];
  if (interfaces.length === 0) throw new UsageError('dubbo-mesh rules explain: --interface is needed: no rule names a service (their scope is application)');
  if (interfaces.length > 1)
    throw new UsageError(`dubbo-mesh rules explain: --interface is needed: the rules name several interfaces (${interfaces.sort().join(', ')})`);
  const versions = new Set(keys.map((key) => key.version));
  const groups = new Set(keys.map((key) => key.group));
  return { interface: interfaces[0]!, ...(versions.size === 1 ? { version: keys[0]!.version } : {}), ...(groups.size === 1 ? { group: keys[0]!.group } : {}) };
}

async function runExplain(argv: readonly string[], io: RulesCommandIo): Promise<number> {
  const values = parseFlags('rules explain', argv, EXPLAIN_FLAGS);
  for (const spec of EXPLAIN_FLAGS)
    if (spec.required && values[spec.name] === undefined) throw new UsageError(`dubbo-mesh rules explain: --${spec.name} is required`);
  const method = values.method as string;
  if (method === '') throw new UsageError('dubbo-mesh rules explain: --method: must not be empty');
  const host = values.host as string;
  if (isIP(host) === 0) throw new UsageError(`dubbo-mesh rules explain: --host: ${JSON.stringify(host)} is not an IP address`);
  const attachments = new Map((values.attachment as string[] | undefined)?.map((pair) => pairFlag('attachment', pair, /^[^\s=]+$/, 'k')));
  const args = new Map(
    (values.argument as string[] | undefined)?.map((pair) => {
      const [index, value] = pairFlag('argument', pair, /^\d{1,3}$/, 'N');
      return [Number(index), value] as const;
    }),
  );

  const ruleFiles = values.rule as string[];
  const files = await Promise.all(ruleFiles.map(async (file) => ({ name: file, text: await readFlagFile('rule', file) })));
  const endpointsFile = values.endpoints as string;
  const endpointsText = await readFlagFile('endpoints', endpointsFile);
  const checked = checkRules(files);
  for (const warning of checked.warnings) io.err.write(`${warning}\n`);
  if (checked.errors.length > 0) {
    for (const error of checked.errors) io.err.write(`${error}\n`);
    io.err.write(
      `dubbo-mesh rules explain: --rule: ${checked.errors.length} error${checked.errors.length === 1 ? '' : 's'}: a rule the control plane would refuse is not explained\n`,
    );
    return EXIT_START_UP;
  }
  const parsedEndpoints = parseEndpoints(endpointsText, endpointsFile);
  if (parsedEndpoints.errors.length > 0)
    throw new UsageError(parsedEndpoints.errors.map((error) => `dubbo-mesh rules explain: --endpoints ${error}`).join('\n'));

  const documents = checked.rules.map((item) => item.resource.rule);
  const where = new Map(checked.rules.map((item) => [item.resource.rule as RuleDocument, whereOf(item)]));
  const given = values.interface as string | undefined;
  const fromRules = given === undefined ? keyOfRules(documents) : undefined;
  // A consumer that names no version sends 0.0.0 (Dubbo's default): rules see no version.
  const version = (values.version as string | undefined) ?? fromRules?.version ?? '';
  const call: RuleCall = {
    interface: given ?? fromRules!.interface,
    version: version === '0.0.0' ? '' : version,
    group: (values.group as string | undefined) ?? fromRules?.group ?? '',
    method,
    // As the proxy: the consumer's `remote.application` / `application` attachment, else its own service.
    consumerApplication: attachments.get('remote.application') ?? attachments.get('application') ?? (values.application as string | undefined),
    consumerHost: host,
    attachment: (name) => attachments.get(name),
    argument: (index) => args.get(index),
  };
  const explanation = explainCall(
    documents,
    call,
    parsedEndpoints.endpoints,
    { application: values.application as string | undefined, host },
    {
      nameOf: (document) => `${ruleLabel(document)} (${where.get(document) ?? 'given'})`,
    },
  );
  const attached = [...attachments].map(([key, value]) => `${key}=${value}`);
  const argued = [...args].map(([index, value]) => `arguments[${index}]=${value}`);
  io.out.write(
    `call ${explanation.serviceKey} ${method}${fromRules === undefined ? '' : ' (service from the rules’ keys)'}, consumer ${call.consumerApplication ?? '(no application)'} at ${host}` +
      `${attached.length + argued.length === 0 ? '' : `, ${[...attached, ...argued].join(', ')}`}\n`,
  );
  io.out.write(`${parsedEndpoints.endpoints.length} endpoint${parsedEndpoints.endpoints.length === 1 ? '' : 's'} from ${endpointsFile}\n`);
  for (const line of formatCallExplanation(explanation)) io.out.write(`${line}\n`);
  return explanation.noProvider === undefined ? 0 : EXIT_START_UP;
}
