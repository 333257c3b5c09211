// The trivial plugin `bench:proxy --plugin` measures: it reads one attachment and lets the
// call go on (returns nothing). The proxy loads this file as an in-process module plugin;
// plugin-server.ts serves the same function over gRPC, so both rows do the same work and differ
// only in how the proxy reaches it.
import type { PluginFunction } from '@dubbo-mesh/plugins';

/** Reads the `timeout` attachment every benchmark call carries; answers nothing (go on). */
const execute: PluginFunction = (request) => {
  if (request.attachments.timeout === undefined) throw new Error('the benchmark call carries a timeout attachment');
};

export default execute;
