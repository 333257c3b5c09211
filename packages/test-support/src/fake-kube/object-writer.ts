// The rules of writes, as the API server's generic registry and the types' strategies apply
// them: what create fills in, what an update keeps from the stored object, when the
// generation moves, the status subresource split, optimistic concurrency on resourceVersion,
// and the one typed decoding the fake does (a Lease's MicroTime fields).
import { randomUUID } from 'node:crypto';
import { alreadyExists, badRequest, conflict, FakeKubeStatusError, invalid, notFound, unclassifiedError, unsupportedMediaType } from './errors.js';
import type { FakeKubeObject } from './fake-kube-object.js';
import { applyJsonPatch, JsonPatchError } from './json-patch.js';
import { applyMergePatch } from './merge-patch.js';
import { parseMicroTime } from './micro-time.js';
import type { ObjectStore } from './object-store.js';
import { apiVersionOf, typeKey, type FakeKubeResourceType } from './resource-types.js';

type Type = Required<FakeKubeResourceType>;

/** Which part of an object a write addresses: the object itself or its `/status`. */
export type Subresource = 'main' | 'status';

/** The media types a PATCH may carry. */
export const PatchType = {
  JSON: 'application/json-patch+json',
  MERGE: 'application/merge-patch+json',
  STRATEGIC: 'application/strategic-merge-patch+json',
  APPLY: 'application/apply-patch+yaml',
} as const;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stable(value: unknown): string {
  const sort = (item: unknown): unknown =>
    Array.isArray(item)
      ? item.map(sort)
      : isObject(item)
        ? Object.fromEntries(
            Object.keys(item)
              .sort()
              .map((key) => [key, sort(item[key])]),
          )
        : item;
  return JSON.stringify(sort(value));
}

// The part of an object whose change moves metadata.generation: all but metadata (and status
// when it is a subresource), as the strategies of CRDs and most built-in types count it.
function generationPart(type: Type, object: Record<string, unknown>): string {
  const { metadata: _metadata, apiVersion: _apiVersion, kind: _kind, ...rest } = object;
  if (type.statusSubresource) delete rest.status;
  return stable(rest);
}

/** A resourceVersion string as a number; one that is not is the server's 500. */
export function parseResourceVersion(value: string): number {
  if (!/^\d+$/.test(value)) throw unclassifiedError(`strconv.ParseUint: parsing ${JSON.stringify(value)}: invalid syntax`);
  return Number(value);
}

// Typed fields the real server decodes strictly: a Lease's MicroTime fields (six fractional
// digits). Returns the object with the values normalized as the server writes them back, or
// the Go decoding error text.
const TYPED_FIELDS: Record<string, (object: Record<string, unknown>) => string | undefined> = {
  'coordination.k8s.io/v1/leases': (object) => {
    const spec = object.spec;
    if (!isObject(spec)) return undefined;
    for (const field of ['acquireTime', 'renewTime']) {
      const value = spec[field];
      if (value === undefined || value === null) continue;
      if (typeof value !== 'string') return `json: cannot unmarshal ${Array.isArray(value) ? 'array' : typeof value} into Go value of type string`;
      const parsed = parseMicroTime(value);
      if (!parsed.ok) return parsed.error;
      spec[field] = parsed.normalized;
    }
    return undefined;
  },
};

/** Applies the write rules to an {@link ObjectStore}. `viaHttp` marks a client's request; false is the test's own hand (the programmatic API). */
export class ObjectWriter {
  constructor(
    private readonly store: ObjectStore,
    private readonly now: () => number,
  ) {}

  private timestamp(): string {
    return new Date(this.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  // Checks a body's type meta against the type addressed and fills it in where the server
  // would default it; returns a private copy to work on.
  private decodeBody(type: Type, body: unknown, viaHttp: boolean): Record<string, unknown> & { metadata: Record<string, unknown> } {
    if (!isObject(body)) throw badRequest(`the object provided is unrecognized (must be of type ${type.kind})`);
    const copy = structuredClone(body);
    const apiVersion = apiVersionOf(type);
    if (viaHttp && (copy.kind === undefined || copy.apiVersion === undefined) && !type.builtIn) {
      throw badRequest(`Object '${copy.kind === undefined ? 'Kind' : 'apiVersion'}' is missing in '${JSON.stringify(body)}'`);
    }
    if ((copy.kind !== undefined && copy.kind !== type.kind) || (copy.apiVersion !== undefined && copy.apiVersion !== apiVersion)) {
      throw badRequest(
        `${String(copy.kind)} in version ${JSON.stringify(String(copy.apiVersion))} cannot be handled as a ${type.kind}: the URL addresses ${apiVersion} ${type.kind}`,
      );
    }
    copy.apiVersion = apiVersion;
    copy.kind = type.kind;
    if (copy.metadata === undefined || copy.metadata === null) copy.metadata = {};
    if (!isObject(copy.metadata)) throw badRequest(`${type.kind} in version "${type.version}" cannot be handled as a ${type.kind}: metadata must be an object`);
    return copy as Record<string, unknown> & { metadata: Record<string, unknown> };
  }

  private decodeTypedFields(type: Type, object: Record<string, unknown>, patched?: string): void {
    const error = TYPED_FIELDS[typeKey(type)]?.(object);
    if (error === undefined) return;
    // A POST or PUT body fails in the handler's decode (400); a PATCH result fails after the
    // patch is applied, which the patch handler reports as a 422 on the field "patch".
    if (patched !== undefined) throw invalid('', '', '', [{ field: 'patch', message: `Invalid value: ${JSON.stringify(patched)}: ${error}` }]);
    throw badRequest(`${type.kind} in version ${JSON.stringify(type.version)} cannot be handled as a ${type.kind}: ${error}`);
  }

  /** Creates an object (POST, or `create`). `namespace` is the one in the URL; the programmatic API keeps a given `status`, a POST drops it when it is a subresource. */
  create(type: Type, body: unknown, options: { viaHttp: boolean; namespace?: string }): FakeKubeObject {
    const object = this.decodeBody(type, body, options.viaHttp);
    const metadata = object.metadata;
    if (type.namespaced) {
      if (options.namespace !== undefined) {
        if (metadata.namespace !== undefined && metadata.namespace !== '' && metadata.namespace !== options.namespace) {
          throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
        }
        metadata.namespace = options.namespace;
      } else if (typeof metadata.namespace !== 'string' || metadata.namespace === '') {
        metadata.namespace = 'default';
      }
    } else {
      delete metadata.namespace;
    }
    if ((typeof metadata.name !== 'string' || metadata.name === '') && typeof metadata.generateName === 'string' && metadata.generateName !== '') {
      metadata.name = `${metadata.generateName}${randomUUID().replace(/-/g, '').slice(0, 5)}`;
    }
    if (typeof metadata.name !== 'string' || metadata.name === '') {
      throw invalid(type.group, type.kind, '', [
        { field: 'metadata.name', message: 'Required value: name or generateName is required', reason: 'FieldValueRequired' },
      ]);
    }
    if (options.viaHttp && typeof metadata.resourceVersion === 'string' && metadata.resourceVersion !== '') {
      throw unclassifiedError('resourceVersion should not be set on objects to be created');
    }
    if (this.store.get(type, metadata.namespace as string | undefined, metadata.name) !== undefined) throw alreadyExists(type, metadata.name);
    if (options.viaHttp && type.statusSubresource) delete object.status;
    this.decodeTypedFields(type, object);
    delete metadata.resourceVersion;
    delete metadata.deletionTimestamp;
    metadata.uid = randomUUID();
    metadata.creationTimestamp = this.timestamp();
    if (type.tracksGeneration) metadata.generation = 1;
    else delete metadata.generation;
    return this.store.put(type, object as FakeKubeObject);
  }

  /**
   * Replaces an object or its status (PUT, or `replace`/`updateStatus`). A stale
   * `metadata.resourceVersion` is a 409; none is a 422 over HTTP for types that require one
   * (the programmatic API may always write unconditionally). A PUT of a missing object creates
   * it for `createOnUpdate` types. An update that changes nothing writes nothing (no new
   * resourceVersion, no watch event), as the etcd store short-circuits it.
   */
  update(
    type: Type,
    namespace: string | undefined,
    name: string,
    body: unknown,
    options: { viaHttp: boolean; subresource: Subresource },
  ): { object: FakeKubeObject; created: boolean } {
    const object = this.decodeBody(type, body, options.viaHttp);
    const metadata = object.metadata;
    if (metadata.name !== name) {
      throw badRequest(`the name of the object (${String(metadata.name)}) does not match the name on the URL (${name})`);
    }
    if (type.namespaced && metadata.namespace !== undefined && metadata.namespace !== '' && metadata.namespace !== namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    const old = this.store.get(type, namespace, name);
    if (old === undefined) {
      if (options.subresource === 'main' && type.createOnUpdate && options.viaHttp) {
        delete metadata.resourceVersion;
        return {
          object: this.create(type, { ...object, metadata: { ...metadata, name } }, { viaHttp: true, ...(type.namespaced ? { namespace } : {}) }),
          created: true,
        };
      }
      throw notFound(type, name);
    }
    const given = typeof metadata.resourceVersion === 'string' && metadata.resourceVersion !== '' ? metadata.resourceVersion : undefined;
    if (given === undefined) {
      if (options.viaHttp && type.requireResourceVersionOnUpdate) {
        throw invalid(type.group, type.plural, name, [{ field: 'metadata.resourceVersion', message: 'Invalid value: 0x0: must be specified for an update' }]);
      }
    } else if (parseResourceVersion(given) !== Number(old.metadata.resourceVersion)) {
      throw conflict(type, name);
    }
    this.decodeTypedFields(type, object);
    return { object: this.commitUpdate(type, old, object, options), created: false };
  }

  /** Patches an object or its status (PATCH, or `patch`): JSON patch or merge patch, then the rules of an update. A `metadata.resourceVersion` in the result is a precondition. */
  patch(
    type: Type,
    namespace: string | undefined,
    name: string,
    contentType: string,
    patch: unknown,
    options: { viaHttp: boolean; subresource: Subresource },
  ): FakeKubeObject {
    const old = this.store.get(type, namespace, name);
    if (contentType === PatchType.STRATEGIC) {
      throw unsupportedMediaType(
        type.builtIn
          ? 'the fake API server does not implement strategic merge patch: send application/merge-patch+json or application/json-patch+json'
          : `the body of the request was in an unknown format - accepted media types include: ${PatchType.JSON}, ${PatchType.MERGE}, ${PatchType.APPLY}`,
      );
    }
    if (contentType === PatchType.APPLY) throw unsupportedMediaType('the fake API server does not implement server-side apply (application/apply-patch+yaml)');
    if (contentType !== PatchType.JSON && contentType !== PatchType.MERGE) {
      throw unsupportedMediaType(
        `the body of the request was in an unknown format - accepted media types include: ${PatchType.JSON}, ${PatchType.MERGE}, ${PatchType.STRATEGIC}, ${PatchType.APPLY}`,
      );
    }
    if (old === undefined) throw notFound(type, name);
    let patched: unknown;
    try {
      patched = contentType === PatchType.MERGE ? applyMergePatch(old, patch) : applyJsonPatch(old, patch);
    } catch (error) {
      if (!(error instanceof JsonPatchError)) throw error;
      if (error.malformed) throw badRequest(error.message);
      throw new FakeKubeStatusError(
        { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: error.message, reason: 'Invalid', code: 422 },
        422,
      );
    }
    if (!isObject(patched) || !isObject(patched.metadata)) throw badRequest('the patch leaves no object metadata');
    if (patched.metadata.name !== name)
      throw badRequest(`the name of the object (${String(patched.metadata.name)}) does not match the name on the URL (${name})`);
    if (type.namespaced && patched.metadata.namespace !== namespace)
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    const given = patched.metadata.resourceVersion;
    if (typeof given === 'string' && given !== '' && parseResourceVersion(given) !== Number(old.metadata.resourceVersion)) throw conflict(type, name);
    const object = this.decodeBody(type, patched, false);
    this.decodeTypedFields(type, object, JSON.stringify(patched));
    return this.commitUpdate(type, old, object, options);
  }

  /** Deletes an object (DELETE, or `remove`), checking DeleteOptions preconditions; returns its last state at the deletion's resourceVersion. */
  delete(type: Type, namespace: string | undefined, name: string, preconditions?: { uid?: unknown; resourceVersion?: unknown }): FakeKubeObject {
    const old = this.store.get(type, namespace, name);
    if (old === undefined) throw notFound(type, name);
    if (typeof preconditions?.uid === 'string' && preconditions.uid !== old.metadata.uid) {
      throw conflict(type, name, `Precondition failed: UID in precondition: ${preconditions.uid}, UID in object meta: ${String(old.metadata.uid)}`);
    }
    if (typeof preconditions?.resourceVersion === 'string' && preconditions.resourceVersion !== old.metadata.resourceVersion) {
      throw conflict(
        type,
        name,
        `Precondition failed: ResourceVersion in precondition: ${preconditions.resourceVersion}, ResourceVersion in object meta: ${String(old.metadata.resourceVersion)}`,
      );
    }
    return this.store.remove(type, namespace, name)!;
  }

  private commitUpdate(
    type: Type,
    old: FakeKubeObject,
    object: Record<string, unknown> & { metadata: Record<string, unknown> },
    options: { viaHttp: boolean; subresource: Subresource },
  ): FakeKubeObject {
    let next: Record<string, unknown>;
    if (options.subresource === 'status') {
      // A status write changes status only: everything else is the stored object's.
      next = { ...structuredClone(old) };
      if (object.status === undefined) delete next.status;
      else next.status = object.status;
    } else {
      next = { ...object };
      if (type.statusSubresource) {
        if (old.status === undefined) delete next.status;
        else next.status = structuredClone(old.status);
      }
      const metadata: Record<string, unknown> = { ...object.metadata };
      // Server-managed metadata stays the stored object's. A client cannot set a deletion
      // timestamp; the test's own hand may, to stage a terminating object.
      for (const field of ['name', 'namespace', 'uid', 'creationTimestamp', 'generation']) {
        if (old.metadata[field] === undefined) delete metadata[field];
        else metadata[field] = old.metadata[field];
      }
      if (options.viaHttp) {
        if (old.metadata.deletionTimestamp === undefined) delete metadata.deletionTimestamp;
        else metadata.deletionTimestamp = old.metadata.deletionTimestamp;
      }
      next.metadata = metadata;
      if (type.tracksGeneration && generationPart(type, next) !== generationPart(type, old))
        metadata.generation = (typeof old.metadata.generation === 'number' ? old.metadata.generation : 0) + 1;
    }
    const withoutVersion = (value: Record<string, unknown>) => stable({ ...value, metadata: { ...(value.metadata as object), resourceVersion: undefined } });
    if (withoutVersion(next) === withoutVersion(old)) return old;
    return this.store.put(type, next as FakeKubeObject);
  }
}
