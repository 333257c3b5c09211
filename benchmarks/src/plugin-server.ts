// A gRPC plugin server for `bench:proxy --plugin grpc-*`: plain @grpc/grpc-js with the service
// loaded from the proto, serving bench-plugin.ts's function. It runs in its own process so its
// CPU is measured apart from the proxy's.
//
//   node plugin-server.js
//
// Listens on 127.0.0.1:0 and prints `{"port":N}` when bound.
import * as grpc from '@grpc/grpc-js';
import { pluginServiceDefinition, type PluginRequest, type PluginResponse } from '@dubbo-mesh/plugins';
import execute from './bench-plugin.js';

const server = new grpc.Server();
server.addService(pluginServiceDefinition(), {
  Execute: (call: grpc.ServerUnaryCall<PluginRequest, PluginResponse>, callback: grpc.sendUnaryData<PluginResponse>) => {
    try {
      callback(null, (execute(call.request) as PluginResponse | undefined) ?? {});
    } catch (error) {
      callback({ code: grpc.status.INTERNAL, details: (error as Error).message });
    }
  },
});
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => {
  if (error !== null) throw error;
  process.stdout.write(`${JSON.stringify({ port })}\n`);
});
process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
