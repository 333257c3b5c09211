/**
 * The plugin API as JavaScript sees it: what `proto/dubbo_mesh/plugin/v1/plugin.proto`'s
 * messages are in a plugin module (in process) and in a gRPC server that loads the proto with
 * `@grpc/proto-loader` (`keepCase: true, enums: String, defaults: true`): one shape, so a module
 * runs in process or behind `dubbo-mesh plugin serve` unchanged.
 */

/** The gRPC service's fully qualified name. */
export const PLUGIN_SERVICE_NAME = 'dubbo_mesh.plugin.v1.DubboPlugin';
/** The .proto file, relative to `@dubbo-mesh/proto`'s PROTO_ROOT. */
export const PLUGIN_PROTO_FILE = 'dubbo_mesh/plugin/v1/plugin.proto';

/** `Phase` as proto-loader gives it with `enums: String`. */
export type PluginPhaseName = 'REQUEST' | 'RESPONSE';

/** One phase of one call, as a plugin gets it. */
export interface PluginRequest {
  /** One per call, the same in both phases. */
  readonly id: string;
  /** The DubboPlugin's `spec.tag`. */
  readonly tag: string;
  readonly phase: PluginPhaseName;
  /** The interface, its group and version (`''` when none). */
  readonly service: string;
  readonly group: string;
  readonly version: string;
  readonly method: string;
  /** The call's scalar attachments as text. */
  readonly attachments: Readonly<Record<string, string>>;
  /** The consumer's `host:port`. */
  readonly source_address: string;
  /** The consumer application, `''` when unknown. */
  readonly application: string;
  /** Response phase: the Dubbo status of the answer (20 OK); 0 in the request phase. */
  readonly status: number;
}

/** A plugin's answer. Every field is optional: nothing (or `undefined`) lets the call go on. */
export interface PluginResponse {
  /** 0 or absent: go on; otherwise a Dubbo error status the call is answered with. */
  readonly code?: number;
  /** Request phase: attachments to add or replace; `''` removes one. */
  readonly set_attachments?: Readonly<Record<string, string>>;
  /** Why, when `code` is not 0. */
  readonly message?: string;
}

/** What a plugin module exports (default export, or a named `execute`). */
export type PluginFunction = (request: PluginRequest) => PluginResponse | undefined | void | Promise<PluginResponse | undefined | void>;
