import hessian from 'hessian.js';
import { handle } from 'hessian.js/lib/custom_handler.js';
import { JavaExceptionError } from 'hessian.js/lib/object.js';
import { BC_END, BC_OBJECT, BC_OBJECT_DEF, BC_OBJECT_DIRECT, BC_OBJECT_DIRECT_HIGH } from './hessian-codes.js';
import { DubboProtocolError, HessianDecodeError } from './errors.js';

const INNER_CLASS_FIELD = /^this\$\d+$/;

/**
 * Assign without invoking the `__proto__` setter, so a decoded map with a `__proto__` key gets
 * an own property of that name instead of a new prototype.
 */
function safeAssign(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

/**
 * hessian.js's Hessian2 decoder with map keys and object fields assigned safely (no
 * prototype pollution from decoded data). Every other rule is hessian.js's.
 */
export class SafeHessianDecoder extends hessian.DecoderV2 {
  _readMap(map: Record<string, unknown> | undefined, withType?: boolean): Record<string, unknown> {
    const target = map ?? {};
    const entries = new Map<unknown, unknown>();
    Object.defineProperty(target, '$map', { value: entries, enumerable: false });
    while (this.byteBuffer.get(this.byteBuffer.position()) !== BC_END) {
      const key = this.read(withType);
      const value = this.read(withType);
      const name =
        key !== null && typeof key === 'object' && typeof (key as { name?: unknown }).name === 'string' ? (key as { name: string }).name : String(key);
      safeAssign(target, name, value);
      entries.set(key, value);
    }
    this.byteBuffer.skip(1);
    return target;
  }

  readObject(withType?: boolean): unknown {
    const code = this.byteBuffer.get();
    let definition: number;
    if (code === BC_OBJECT_DEF) {
      this._readObjectDefinition();
      return this.readObject(withType);
    } else if (code === BC_OBJECT) {
      definition = this.readInt();
    } else if (code >= BC_OBJECT_DIRECT && code <= BC_OBJECT_DIRECT_HIGH) {
      definition = code - BC_OBJECT_DIRECT;
    } else {
      return this.throwError('readObject', code);
    }
    const cls = this.classes[definition];
    if (cls === undefined) throw new HessianDecodeError(`object names class definition ${definition}, but ${this.classes.length} are defined`);
    const result: { $class: string; $: Record<string, unknown> | JavaExceptionError } = { $class: cls.name, $: {} };
    this._addRef(result);
    const fields = result.$ as Record<string, unknown>;
    for (const name of cls.fields) {
      const value = this.read(withType);
      if (!INNER_CLASS_FIELD.test(name) && name !== '$$ignore_inner_property$$') safeAssign(fields, name, value);
    }
    if (/Exception$/.test(cls.name)) result.$ = new JavaExceptionError(result as { $class: string; $: unknown }, withType);
    return handle(result, withType);
  }
}

/** Run a hessian.js read, turning its untyped errors into HessianDecodeError. */
export function withTypedErrors<T>(what: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof DubboProtocolError) throw error;
    throw new HessianDecodeError(`cannot decode ${what}: ${(error as Error)?.message ?? String(error)}`, { cause: error });
  }
}
