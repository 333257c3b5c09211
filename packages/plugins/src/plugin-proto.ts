import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_ROOT } from '@dubbo-mesh/proto';
import { PLUGIN_PROTO_FILE, PLUGIN_SERVICE_NAME } from './plugin-api.js';

/** proto-loader options giving the shapes of {@link PluginRequest} and {@link PluginResponse}. */
export const PLUGIN_PROTO_OPTIONS: protoLoader.Options = Object.freeze({
  includeDirs: [PROTO_ROOT],
  keepCase: true,
  enums: String,
  longs: Number,
  defaults: true,
  arrays: true,
  objects: true,
});

let loaded: grpc.ServiceClientConstructor | undefined;

/** The `dubbo_mesh.plugin.v1.DubboPlugin` client constructor (its `.service` is the service definition for a server). */
export function pluginServiceClient(): grpc.ServiceClientConstructor {
  if (loaded === undefined) {
    const definition = protoLoader.loadSync(PLUGIN_PROTO_FILE, PLUGIN_PROTO_OPTIONS);
    let current: unknown = grpc.loadPackageDefinition(definition);
    for (const part of PLUGIN_SERVICE_NAME.split('.')) current = (current as Record<string, unknown>)[part];
    loaded = current as grpc.ServiceClientConstructor;
  }
  return loaded;
}

/** The service definition, for `server.addService`. */
export function pluginServiceDefinition(): grpc.ServiceDefinition {
  return pluginServiceClient().service;
}
