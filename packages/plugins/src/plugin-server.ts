import * as grpc from '@grpc/grpc-js';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { listenCause } from '@dubbo-mesh/config';
import { ResponseStatus } from '@dubbo-mesh/protocol';
import { PluginServeListenError } from './errors.js';
import { checkPluginAnswer, kindOf, type WirePluginResponse } from './plugin-answer.js';
import type { PluginRequest } from './plugin-api.js';
import { PluginModule, type PluginModuleVersion } from './plugin-module.js';
import { pluginServiceDefinition } from './plugin-proto.js';

// `dubbo-mesh plugin serve`: the module a proxy would load in process, behind the gRPC service
// a proxy calls out of process. One module, one shape, two ways to run it: a developer runs
// and debugs it on a laptop, then ships the same file in either form.

/** The Dubbo error statuses a plugin may answer with (every status but OK). */
const DUBBO_ERROR_STATUSES: ReadonlySet<number> = new Set(Object.values(ResponseStatus).filter((status) => status !== ResponseStatus.OK));

/** Words of an error, on one line. */
function oneLine(error: unknown): string {
  const text = error instanceof Error ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}` : `${kindOf(error)}, not an Error`;
  return text.replace(/\s*\n\s*/g, ' ');
}

/** Options of {@link servePluginModule}. */
export interface PluginServerOptions {
  /** The plugin module's path. */
  readonly file: string;
  /** Where to listen; port 0 takes a free port. */
  readonly host: string;
  readonly port: number;
  /** One line per load, reload, failed load, failed call, and one at start with the bound address. */
  readonly log?: (line: string, failed: boolean) => void;
  /** Follow the file and serve its new text when it changes; default true. */
  readonly watch?: boolean;
  /** How long {@link PluginServer.close} lets calls in flight finish before it cancels them; default 5000 ms. */
  readonly closeGraceMs?: number;
}

/** A plugin module served as the `dubbo_mesh.plugin.v1.DubboPlugin` gRPC service. */
export interface PluginServer {
  /** The bound `host:port` (an IPv6 host in brackets). */
  readonly address: string;
  readonly port: number;
  /** The module served: its version in force, loads, and the last load error. */
  readonly module: PluginModule;
  /** Stop listening, let calls in flight finish (within `closeGraceMs`), stop following the file. */
  close(): Promise<void>;
}

/** `host:port` as gRPC and a reader write it. */
function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Where in the module a thrown error comes from: ` (at line 3)`, or nothing when its stack does not pass the module. */
function whereInModule(error: unknown, file: string): string {
  const stack = error instanceof Error ? error.stack : undefined;
  if (stack === undefined) return '';
  const absolute = path.resolve(file);
  for (const frame of stack.split('\n').slice(1)) {
    const at = frame.indexOf(pathToFileURL(absolute).href) >= 0 ? frame : frame.indexOf(absolute) >= 0 ? frame : undefined;
    const line = at === undefined ? null : /:(\d+):\d+\)?\s*$/.exec(at);
    if (line !== null) return ` (at line ${line[1]})`;
  }
  return '';
}

/**
 * Serve the plugin module `file` as a gRPC plugin on `host:port`: the module is loaded (and
 * reloaded when its text changes, as a proxy does in process) and each `Execute` calls the
 * version in force when the call arrived. Answers: the module's answer, nothing being code 0;
 * INTERNAL naming the module for a throw, a rejection or an answer that is no
 * {@link checkPluginAnswer | plugin answer}; UNAVAILABLE naming the load error while no version
 * is loaded (a module with a syntax error at start is served, and answers once it is fixed).
 * Rejects with a {@link PluginServeListenError} when the address cannot be bound.
 */
export async function servePluginModule(options: PluginServerOptions): Promise<PluginServer> {
  const { file, log } = options;
  const module = new PluginModule(file, { watch: options.watch, log });
  await module.start();

  const execute = async (request: PluginRequest): Promise<WirePluginResponse> => {
    const version: PluginModuleVersion | undefined = module.current;
    if (version === undefined) {
      throw Object.assign(new Error(`${module.lastError ?? `plugin module ${file}: not loaded`}; no version is loaded`), { code: grpc.status.UNAVAILABLE });
    }
    const name = `plugin module ${file} (version ${version.generation})`;
    const failed = (how: 'threw' | 'rejected', error: unknown): never => {
      const line = `${name} ${how}: ${oneLine(error)}${whereInModule(error, file)}`;
      log?.(`${line} (call ${request.id}, ${request.phase} ${request.service}.${request.method})`, true);
      throw Object.assign(new Error(line), { code: grpc.status.INTERNAL });
    };
    let pending: ReturnType<typeof version.execute> | undefined;
    try {
      pending = version.execute(request);
    } catch (error) {
      failed('threw', error);
    }
    let answer: unknown;
    try {
      answer = await pending;
    } catch (error) {
      failed('rejected', error);
    }
    const checked = checkPluginAnswer(answer);
    if (!checked.valid) {
      const line = `${name}: ${checked.errors.join('; ')}`;
      log?.(`${line} (call ${request.id}, ${request.phase} ${request.service}.${request.method})`, true);
      throw Object.assign(new Error(line), { code: grpc.status.INTERNAL });
    }
    const code = checked.result.code;
    if (code !== 0 && !DUBBO_ERROR_STATUSES.has(code))
      log?.(
        `${name}: answered code ${code}, which is no Dubbo error status (${[...DUBBO_ERROR_STATUSES].join(', ')}): a proxy counts it as a plugin failure`,
        true,
      );
    return checked.result;
  };

  const server = new grpc.Server();
  server.addService(pluginServiceDefinition(), {
    Execute: (call: grpc.ServerUnaryCall<PluginRequest, WirePluginResponse>, callback: grpc.sendUnaryData<WirePluginResponse>) => {
      execute(call.request).then(
        (response) => callback(null, response),
        (error: Error & { code?: grpc.status }) => callback({ code: error.code ?? grpc.status.INTERNAL, details: error.message }),
      );
    },
  });

  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(hostPort(options.host, options.port), grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error === null ? resolve(bound) : reject(error),
      );
    });
  } catch (error) {
    module.close();
    server.forceShutdown();
    // grpc-js names the errno only in its message ("… errors: [listen EADDRINUSE: …]").
    const message = (error as Error).message;
    const code = /\b(E[A-Z_]+[A-Z])\b/.exec(message)?.[1];
    throw new PluginServeListenError(hostPort(options.host, options.port), listenCause(code, message), { cause: error });
  }
  const address = hostPort(options.host, port);
  log?.(`plugin server: serving ${file} (dubbo_mesh.plugin.v1.DubboPlugin) on ${address}`, false);

  let closed: Promise<void> | undefined;
  return {
    address,
    port,
    module,
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        module.close();
        const timer = setTimeout(() => server.forceShutdown(), options.closeGraceMs ?? 5000);
        timer.unref();
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      })),
  };
}
