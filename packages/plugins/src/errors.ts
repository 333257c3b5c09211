/** Stable codes of the plugin errors. */
export const PluginErrorCode = {
  /** A plugin module could not be read, evaluated, or exports no plugin function. */
  MODULE: 'DM_ERR_PLUGIN_MODULE',
  /** The plugin server could not listen. */
  SERVE_LISTEN: 'DM_ERR_PLUGIN_SERVE_LISTEN',
} as const;

/** A plugin module that cannot be used: the message names the file (and line, for a syntax error) and the cause, on one line. */
export class PluginModuleError extends Error {
  readonly code = PluginErrorCode.MODULE;
  constructor(
    readonly file: string,
    readonly detail: string,
    options?: ErrorOptions,
  ) {
    super(`plugin module ${file}: ${detail}`, options);
    this.name = 'PluginModuleError';
  }
}

/** `dubbo-mesh plugin serve` could not bind its address. */
export class PluginServeListenError extends Error {
  readonly code = PluginErrorCode.SERVE_LISTEN;
  constructor(
    readonly address: string,
    readonly detail: string,
    options?: ErrorOptions,
  ) {
    super(`cannot listen on ${address}: ${detail}`, options);
    this.name = 'PluginServeListenError';
  }
}
