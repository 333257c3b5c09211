// The plugin rows of `bench:proxy --plugin`: which DubboPlugin the one-hop proxy gets, as the
// YAML document added to its static config.

/** A plugin row's name, as `--plugin` takes it. */
export type PluginVariant = 'module' | 'grpc-request' | 'grpc-both';

/** Every variant, in the order the rows are measured. */
export const PLUGIN_VARIANTS: readonly PluginVariant[] = ['module', 'grpc-request', 'grpc-both'];

/** `--plugin`'s value (`module`, `grpc-request,grpc-both`, `all`) as variants in row order; throws on an unknown name. */
export function parsePluginVariants(text: string): PluginVariant[] {
  const names = text
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  if (names.includes('all')) return [...PLUGIN_VARIANTS];
  for (const name of names) {
    if (!(PLUGIN_VARIANTS as readonly string[]).includes(name)) throw new Error(`--plugin: ${name} is not one of ${PLUGIN_VARIANTS.join(', ')}, all`);
  }
  return PLUGIN_VARIANTS.filter((variant) => names.includes(variant));
}

/** Whether a variant needs a gRPC plugin server. */
export function isGrpcVariant(variant: PluginVariant): boolean {
  return variant !== 'module';
}

/**
 * The DubboPlugin of a variant: every call (no `services`), the defaults otherwise (fail-closed:
 * a plugin failure shows as an error in the row), `timeout` when given (a duration such as
 * `5s`; else the kind's default). `target` is the module's absolute path or the gRPC server's port.
 */
export function pluginYaml(variant: PluginVariant, target: string | number, timeout?: string): string {
  const reach =
    variant === 'module'
      ? `  module: ${JSON.stringify(target)}\n`
      : `  grpc: {address: 127.0.0.1:${target}}\n  phases: [${variant === 'grpc-both' ? 'request, response' : 'request'}]\n`;
  return `---
apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboPlugin
metadata: {name: bench-${variant}}
spec:
${reach}${timeout === undefined ? '' : `  timeout: ${timeout}\n`}`;
}
