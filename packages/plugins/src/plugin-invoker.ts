import * as grpc from '@grpc/grpc-js';
import type { Clock } from '@dubbo-mesh/proxy';
import type { PluginRequest, PluginResponse } from './plugin-api.js';
import type { PluginModule } from './plugin-module.js';
import { pluginServiceClient } from './plugin-proto.js';

/** What a plugin answered: a response, nothing (go on), or the promise of either. */
export type PluginAnswer = PluginResponse | undefined | void;

/** A plugin call that took longer than the plugin's timeout. */
export class PluginTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`no answer within ${timeoutMs} ms`);
    this.name = 'PluginTimeoutError';
  }
}

/** How a plugin is reached. */
export interface PluginInvoker {
  /**
   * One call: the plugin's answer, at once when it has one (a synchronous module), else a
   * promise; a failure throws or rejects. The caller bounds a promise by `timeoutMs` on the
   * proxy's clock; an invoker may also tell the plugin (a gRPC deadline).
   */
  invoke(request: PluginRequest, timeoutMs: number): PluginAnswer | Promise<PluginAnswer>;
  /** Where it is, for `/config_dump` and `/stats`. */
  describe(): Record<string, unknown>;
  /**
   * Changes when the plugin itself was replaced (a module loaded again): failures of the
   * previous one say nothing about it, so an open breaker closes. Absent: never replaced.
   */
  readonly revision?: number;
  /**
   * Whether the plugin reads the request in this process (a module): its `attachments` are
   * then read when the plugin asks for them, not all decoded and copied for every call.
   */
  readonly inProcess?: boolean;
}

/** `promise`, or a {@link PluginTimeoutError} after `timeoutMs` on `clock`. */
export function withTimeout<T>(promise: PromiseLike<T>, timeoutMs: number, clock: Clock): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimer(() => reject(new PluginTimeoutError(timeoutMs)), timeoutMs);
    promise.then(
      (value) => {
        clock.clearTimer(timer);
        resolve(value);
      },
      (error: unknown) => {
        clock.clearTimer(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/**
 * An in-process module: the version in force is called directly (a synchronous answer costs a
 * function call); an asynchronous one is bounded by the timeout. Before the first version has
 * loaded, a call waits for that load within its timeout.
 */
export class ModulePluginInvoker implements PluginInvoker {
  constructor(readonly module: PluginModule) {}

  get revision(): number {
    return this.module.loads;
  }

  get inProcess(): boolean {
    return true;
  }

  invoke(request: PluginRequest): PluginAnswer | Promise<PluginAnswer> {
    const version = this.module.current;
    if (version === undefined) return this.afterFirstLoad(request);
    // The call holds this version: a reload meanwhile does not change what answers it.
    return version.execute(request);
  }

  private async afterFirstLoad(request: PluginRequest): Promise<PluginAnswer> {
    await this.module.ready;
    const version = this.module.current;
    if (version === undefined) throw new Error(`module not loaded: ${this.module.lastError ?? 'not loaded yet'}`);
    return version.execute(request);
  }

  describe(): Record<string, unknown> {
    const version = this.module.current;
    return {
      module: this.module.file,
      version: version?.generation ?? null,
      sha256: version?.digest ?? null,
      loadedAt: version === undefined ? null : new Date(version.loadedAt).toISOString(),
      loads: this.module.loads,
      failedLoads: this.module.failedLoads,
      lastError: this.module.lastError ?? null,
    };
  }
}

/** A gRPC status as its name (`UNAVAILABLE`). */
function statusName(code: number): string {
  return (grpc.status as unknown as Record<number, string>)[code] ?? String(code);
}

/** The gRPC channel options of plugin clients: a plugin back from a restart is reached again within seconds, not grpc-js's default two minutes. */
const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 2000,
  'grpc.enable_retries': 0,
};

/**
 * The gRPC client of one plugin address, shared by the plugins that use it. Retired when the
 * last of them goes, it closes once its calls in flight have ended; a call that started
 * before (a call keeps the filters it started with, so its response phase may still need a
 * plugin since removed) gets a client again, closed after it.
 */
export class PluginChannel {
  private current: grpc.Client | undefined;
  /** Plugins in force that use it. */
  users = 0;
  private inflight = 0;
  private retired = false;

  constructor(readonly address: string) {
    this.current = PluginChannel.connect(address);
  }

  /** Plain text: the plugin runs in the pod, on loopback (see docs/plugins.md). */
  private static connect(address: string): grpc.Client {
    const Client = pluginServiceClient();
    const client = new Client(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
    // Connect now, not on the first call: that call would otherwise spend its timeout on the handshake.
    client.getChannel().getConnectivityState(true);
    return client;
  }

  /** A call starts on it: its client (made again when it was closed). */
  begin(): grpc.Client {
    this.inflight += 1;
    return (this.current ??= PluginChannel.connect(this.address));
  }

  /** A call on it ended. */
  end(): void {
    this.inflight -= 1;
    if (this.retired && this.inflight === 0) this.close();
  }

  /** No plugin uses it any more: close now, or when its last call in flight ends. */
  retire(): void {
    this.retired = true;
    if (this.inflight === 0) this.close();
  }

  /** Close the client (calls in flight on it fail). */
  close(): void {
    this.current?.close();
    this.current = undefined;
  }
}

/** A gRPC plugin: unary `Execute` over the channel of its address. */
export class GrpcPluginInvoker implements PluginInvoker {
  constructor(private readonly channel: PluginChannel) {}

  get address(): string {
    return this.channel.address;
  }

  invoke(request: PluginRequest, timeoutMs: number): Promise<PluginAnswer> {
    const { channel } = this;
    const client = channel.begin();
    return new Promise<PluginAnswer>((resolve, reject) => {
      const execute = (client as unknown as Record<string, (...args: unknown[]) => grpc.ClientUnaryCall>).Execute!;
      try {
        // The deadline tells the plugin, and ends the call on gRPC's side (the proxy's clock decides the timeout).
        execute.call(client, request, { deadline: Date.now() + timeoutMs }, (error: grpc.ServiceError | null, response: PluginResponse) => {
          channel.end();
          if (error === null) return resolve(response);
          if (error.code === grpc.status.DEADLINE_EXCEEDED) return reject(new PluginTimeoutError(timeoutMs));
          // grpc-js ends some details with an empty "Resolution note: ".
          const details = (error.details || error.message).replace(/\s*Resolution note:\s*$/, '');
          reject(new Error(`${statusName(error.code)}: ${details}`));
        });
      } catch (error) {
        channel.end();
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  describe(): Record<string, unknown> {
    return { grpc: this.channel.address };
  }
}
