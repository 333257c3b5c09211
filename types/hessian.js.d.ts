// Types for the parts of hessian.js 2.x this project uses (it ships none).
declare module 'hessian.js' {
  export interface ByteBuffer {
    position(): number;
    position(value: number): ByteBuffer;
    get(): number;
    get(index: number): number;
    skip(count: number): void;
    limit(): number;
  }
  export class DecoderV2 {
    constructor(buffer: Buffer, classCache?: Map<string, unknown>);
    byteBuffer: ByteBuffer;
    classes: Array<{ name: string; fields: string[] }>;
    read(withType?: boolean): unknown;
    readInt(): number;
    readString(): string;
    _addRef(value: unknown): void;
    _readObjectDefinition(): unknown;
    throwError(method: string, code: number): never;
  }
  export class EncoderV2 {
    constructor(options?: { size?: number });
    write(value: unknown): this;
    writeString(value: string): this;
    writeInt(value: number): this;
    get(): Buffer;
    reset(): this;
  }
  const hessian: { DecoderV2: typeof DecoderV2; EncoderV2: typeof EncoderV2 };
  export default hessian;
}
declare module 'hessian.js/lib/custom_handler.js' {
  export function handle(result: { $class: string; $: unknown }, withType?: boolean): unknown;
}
declare module 'hessian.js/lib/object.js' {
  export class JavaExceptionError extends Error {
    constructor(result: { $class: string; $: unknown }, withType?: boolean);
  }
}
