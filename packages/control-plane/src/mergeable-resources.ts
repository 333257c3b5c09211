import {
  API_VERSION,
  checkCrossReferences,
  deepFreeze,
  kindDefinition,
  type DubboServiceConfig,
  type EndpointConfig,
  type FieldPath,
  type LocatedResource,
  type ServiceKeyPattern,
} from '@dubbo-mesh/config';

/** The parts a merged service was made of (see {@link mergeResources}). */
export interface MergedParts {
  /** The non-mergeable service the others joined: its position, origin and locate are the merged one's. */
  readonly twin: LocatedResource;
  /** The mergeable services that joined it, in the order they came. */
  readonly imports: readonly LocatedResource[];
}

type Raw = Record<string, unknown>;

/** A service after one merge step, and its parts. */
const partsByMerged = new WeakMap<LocatedResource, MergedParts>();
/** Merged resources by the identity of their two inputs: an unchanged pair gives the same object. */
const mergedByPair = new WeakMap<LocatedResource, WeakMap<LocatedResource, LocatedResource>>();
/**
 * Merged validated services and raw forms, by the identity of their inputs too: a source that
 * hands new wrappers around the same objects (a file with one of its documents changed) still
 * gets the same merged raw (no re-encoding) and the same merged service (an incremental check).
 */
const serviceByPair = new WeakMap<object, WeakMap<object, DubboServiceConfig>>();
const rawByPair = new WeakMap<object, WeakMap<object, Raw>>();

function cached<K extends object, V>(cache: WeakMap<K, WeakMap<K, V>>, a: K, b: K, make: () => V): V {
  let inner = cache.get(a);
  if (inner === undefined) cache.set(a, (inner = new WeakMap()));
  let value = inner.get(b);
  if (value === undefined) inner.set(b, (value = make()));
  return value;
}

function isObject(value: unknown): value is Raw {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Whether two service key patterns are the same: absent and empty differ (any versus none).
 * The same test as the DubboService kind's, which the config package does not export.
 */
function samePattern(a: ServiceKeyPattern, b: ServiceKeyPattern): boolean {
  return a.interface === b.interface && a.group === b.group && a.version === b.version;
}

/** What makes two endpoints one: the host (case aside) and port of their address. */
function endpointKey(endpoint: EndpointConfig): string {
  return `${endpoint.host.toLowerCase()}:${endpoint.port}`;
}

/** The wire form of a pattern, when a resource came without a raw form of its own. */
function rawPattern(pattern: ServiceKeyPattern): unknown {
  return { ...pattern };
}

/** The wire form of an endpoint, when a resource came without a raw form of its own. */
function rawEndpoint(endpoint: EndpointConfig): unknown {
  const { address, labels, weight, interfaces } = endpoint;
  return { address, labels: { ...labels }, weight, ...(interfaces === undefined ? {} : { interfaces: interfaces.map(rawPattern) }) };
}

/**
 * A service's raw form split into its envelope and the two lists a merge touches, each raw
 * entry at the index of its validated one (a schema list maps entry by entry). A raw form
 * that does not line up (absent, or not what the service was validated from) is rebuilt
 * from the validated service.
 */
function rawParts(item: LocatedResource, service: DubboServiceConfig): { envelope: Raw; spec: Raw; interfaces: unknown[]; endpoints: unknown[] } {
  const raw = item.raw;
  const spec = isObject(raw) && isObject(raw.spec) ? raw.spec : undefined;
  const endpoints = spec?.endpoints ?? [];
  if (
    spec !== undefined &&
    Array.isArray(spec.interfaces) &&
    spec.interfaces.length === service.interfaces.length &&
    Array.isArray(endpoints) &&
    endpoints.length === service.endpoints.length
  ) {
    return { envelope: raw as Raw, spec, interfaces: spec.interfaces as unknown[], endpoints };
  }
  const { namespace, name } = service.metadata;
  return {
    envelope: { apiVersion: API_VERSION, kind: 'DubboService', metadata: { name, namespace } },
    spec: service.port === undefined ? {} : { port: service.port },
    interfaces: service.interfaces.map(rawPattern),
    endpoints: service.endpoints.map(rawEndpoint),
  };
}

/** How `imported` joins `twin`: which of its interfaces and endpoints are added, and which keys each side's endpoints get. */
interface MergePlan {
  /** Indexes into the import's interfaces of those the twin does not have. */
  readonly addedInterfaces: readonly number[];
  /** Indexes into the import's endpoints of those whose address the twin does not list. */
  readonly addedEndpoints: readonly number[];
  /** Given to the twin's endpoints that name no keys: the twin's own keys, when the union has more. */
  readonly twinKeys: boolean;
  /** Given to the imported endpoints that name no keys: the import's own keys, when the union has more. */
  readonly importKeys: boolean;
}

function planOf(twin: DubboServiceConfig, imported: DubboServiceConfig): MergePlan {
  const addedInterfaces: number[] = [];
  imported.interfaces.forEach((pattern, i) => {
    if (!twin.interfaces.some((own) => samePattern(own, pattern))) addedInterfaces.push(i);
  });
  const listed = new Set(twin.endpoints.map(endpointKey));
  const addedEndpoints: number[] = [];
  imported.endpoints.forEach((endpoint, i) => {
    if (!listed.has(endpointKey(endpoint))) addedEndpoints.push(i);
  });
  // An endpoint without keys serves every key of its service: once the union holds keys one
  // side does not serve, that side's endpoints say which they do (no call to an endpoint
  // that cannot answer it). The import's keys fall short when the twin has one it lacks.
  const importCovers = twin.interfaces.every((own) => imported.interfaces.some((pattern) => samePattern(own, pattern)));
  return { addedInterfaces, addedEndpoints, twinKeys: addedInterfaces.length > 0, importKeys: !importCovers };
}

function mergeService(twin: DubboServiceConfig, imported: DubboServiceConfig, plan: MergePlan): DubboServiceConfig {
  const withKeys = (endpoint: EndpointConfig, keys: readonly ServiceKeyPattern[], give: boolean): EndpointConfig =>
    give && endpoint.interfaces === undefined ? { ...endpoint, interfaces: keys } : endpoint;
  return deepFreeze({
    ...twin,
    interfaces: [...twin.interfaces, ...plan.addedInterfaces.map((i) => imported.interfaces[i]!)],
    endpoints: [
      ...twin.endpoints.map((endpoint) => withKeys(endpoint, twin.interfaces, plan.twinKeys)),
      ...plan.addedEndpoints.map((i) => withKeys(imported.endpoints[i]!, imported.interfaces, plan.importKeys)),
    ],
  });
}

function mergeRaw(twin: LocatedResource, imported: LocatedResource, plan: MergePlan): Raw {
  const a = rawParts(twin, twin.resource as DubboServiceConfig);
  const b = rawParts(imported, imported.resource as DubboServiceConfig);
  // Only new containers are frozen: the entries are the sources' own raw objects, shared.
  const withKeys = (endpoint: unknown, keys: unknown[], give: boolean): unknown =>
    give && isObject(endpoint) && endpoint.interfaces === undefined ? Object.freeze({ ...endpoint, interfaces: Object.freeze([...keys]) }) : endpoint;
  const spec = Object.freeze({
    ...a.spec,
    interfaces: Object.freeze([...a.interfaces, ...plan.addedInterfaces.map((i) => b.interfaces[i])]),
    endpoints: Object.freeze([
      ...a.endpoints.map((endpoint) => withKeys(endpoint, a.interfaces, plan.twinKeys)),
      ...plan.addedEndpoints.map((i) => withKeys(b.endpoints[i], b.interfaces, plan.importKeys)),
    ]),
  });
  return Object.freeze({ ...a.envelope, spec });
}

/**
 * Errors about the imported part of the merged service (an interface or an endpoint it
 * added) are located in the import; the rest, as the merged service's origin, in the twin.
 */
function mergedLocate(twin: LocatedResource, imported: LocatedResource, plan: MergePlan): ((path: FieldPath) => string) | undefined {
  if (twin.locate === undefined && imported.locate === undefined) return undefined;
  const service = twin.resource as DubboServiceConfig;
  const lists = {
    interfaces: { from: service.interfaces.length, added: plan.addedInterfaces },
    endpoints: { from: service.endpoints.length, added: plan.addedEndpoints },
  };
  return (path) => {
    const [spec, list, index, ...rest] = path;
    if (spec === 'spec' && (list === 'interfaces' || list === 'endpoints') && typeof index === 'number') {
      const { from, added } = lists[list];
      if (index >= from) return imported.locate?.(['spec', list, added[index - from] ?? index - from, ...rest]) ?? '';
    }
    return twin.locate?.(path) ?? '';
  };
}

function merge(twin: LocatedResource, imported: LocatedResource): LocatedResource {
  return cached(mergedByPair, twin, imported, () => {
    const a = twin.resource as DubboServiceConfig;
    const b = imported.resource as DubboServiceConfig;
    const plan = planOf(a, b);
    const resource = cached(serviceByPair, a, b, () => mergeService(a, b, plan));
    const raw =
      isObject(twin.raw) && isObject(imported.raw)
        ? cached(rawByPair, twin.raw, imported.raw, () => mergeRaw(twin, imported, plan))
        : mergeRaw(twin, imported, plan);
    const locate = mergedLocate(twin, imported, plan);
    const merged: LocatedResource = Object.freeze({
      resource,
      raw,
      ...(locate === undefined ? {} : { locate }),
      ...(twin.origin === undefined ? {} : { origin: twin.origin }),
      ...(twin.issues === undefined ? {} : { issues: twin.issues }),
    });
    const before = partsByMerged.get(twin);
    partsByMerged.set(merged, { twin: before?.twin ?? twin, imports: [...(before?.imports ?? []), imported] });
    return merged;
  });
}

function serviceKeyOf(item: LocatedResource): string | undefined {
  const { kind, metadata } = item.resource;
  return kind === 'DubboService' ? `${metadata.namespace}/${metadata.name}` : undefined;
}

/**
 * Merge each mergeable DubboService (see `LocatedResource.mergeable`: the registry bridge's
 * imports) into the one non-mergeable DubboService of the same namespace and name, if there is
 * exactly one. The merged service takes the twin's place, origin and locate; its endpoints are
 * the twin's, then the import's whose address the twin does not list (the twin's entry wins);
 * its interfaces the twin's, then the import's it lacks. Once the union holds keys one side
 * does not serve, that side's endpoints that name no keys get that side's keys. The import
 * disappears. A mergeable without a single twin, an import that failed validation (`issues`),
 * and every other kind stay as they are (the same objects). Pure; an unchanged pair gives the
 * same merged object, so its wire form is not made again.
 */
export function mergeResources(items: readonly LocatedResource[]): readonly LocatedResource[] {
  // Every build runs this: with no import in the mesh (no --zookeeper) it must cost one pass, no allocation.
  if (!items.some((item) => item.mergeable === true)) return items;
  const twins = new Map<string, LocatedResource[]>();
  let mergeables = 0;
  for (const item of items) {
    const key = serviceKeyOf(item);
    if (key === undefined) continue;
    if (item.mergeable === true) mergeables += 1;
    else twins.set(key, [...(twins.get(key) ?? []), item]);
  }
  if (mergeables === 0) return items;
  const into = new Map<LocatedResource, LocatedResource[]>();
  const joined = new Set<LocatedResource>();
  for (const item of items) {
    const key = serviceKeyOf(item);
    if (key === undefined || item.mergeable !== true || item.issues !== undefined) continue;
    const found = twins.get(key);
    if (found?.length !== 1) continue;
    const twin = found[0]!;
    into.set(twin, [...(into.get(twin) ?? []), item]);
    joined.add(item);
  }
  if (joined.size === 0) return items;
  const result: LocatedResource[] = [];
  for (const item of items) {
    if (joined.has(item)) continue;
    result.push((into.get(item) ?? []).reduce(merge, item));
  }
  return result;
}

/** What a service merged by {@link mergeResources} was made of; undefined for any other resource. */
export function mergedParts(item: LocatedResource): MergedParts | undefined {
  return partsByMerged.get(item);
}

function claimTokens(item: LocatedResource): string[] {
  return (kindDefinition(item.resource.kind)?.claims?.(item.resource) ?? []).map((claim) => claim.token);
}

/**
 * The resources to blame for the cross-reference errors of a merged set: `offending` (what
 * the check found among `items`) with what fails only because of an import blamed on that
 * import. The set is checked again with every merged service as its twin alone: a merged
 * service whose twin fails then is the twin's fault, else its imports'; a resource that fails
 * only with the imports (a mesh service whose key an import also claims, and took first) is
 * the fault of the imports that added one of its claims. So a refusal names the import's
 * origin, and a source that refuses resource by resource leaves out its own object, not
 * another source's.
 */
export function resourcesAtFault(items: readonly LocatedResource[], offending: readonly LocatedResource[]): LocatedResource[] {
  const merged = items.filter((item) => partsByMerged.has(item));
  if (merged.length === 0 || offending.length === 0) return [...offending];
  const alone = new Set(checkCrossReferences(items.map((item) => partsByMerged.get(item)?.twin ?? item)).offending);
  const blamed = new Set<LocatedResource>();
  const blame = (list: Iterable<LocatedResource>) => {
    for (const item of list) blamed.add(item);
  };
  let added: Array<{ parts: MergedParts; tokens: Set<string> }> | undefined;
  for (const item of offending) {
    const parts = partsByMerged.get(item);
    if (parts !== undefined) {
      blame(alone.has(parts.twin) ? [parts.twin] : parts.imports);
      continue;
    }
    if (alone.has(item)) {
      blame([item]);
      continue;
    }
    // The claims the imports added, worked out once and only when needed.
    added ??= merged.map((each) => {
      const parts = partsByMerged.get(each)!;
      const own = new Set(claimTokens(parts.twin));
      return { parts, tokens: new Set(claimTokens(each).filter((token) => !own.has(token))) };
    });
    const tokens = claimTokens(item);
    const culprits = added.filter((each) => tokens.some((token) => each.tokens.has(token)));
    if (culprits.length === 0) blame([item]);
    for (const { parts } of culprits) blame(parts.imports);
  }
  return [...blamed];
}
