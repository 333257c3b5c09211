/** The folder the .proto files are under (the import root of `dubbo_mesh/...` paths). */
export declare const PROTO_ROOT: string;
