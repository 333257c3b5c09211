import { access, constants, stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { UsageError, addressFlag, defineFlags, logLevelFlag, parseFlags } from './flags.js';
import { createLogger } from './logging.js';
import { StartUpError, fileCause } from './start-up-failure.js';

// `dubbo-mesh plugin serve MODULE`: a plugin module, the file a proxy loads in process, served
// as a gRPC DubboPlugin for a developer's laptop (run it, debug it with `node --inspect`, point
// a local proxy at it) or a second container in the pod. The serving is @dubbo-mesh/plugins'
// `servePluginModule`; this parses argv and turns its failures into one line.

const COMMAND = 'plugin serve';
const SYNOPSIS = 'plugin serve MODULE [--listen 127.0.0.1:9500] [--log-level info]';

const SERVE_FLAGS = defineFlags([
  { name: 'listen', type: 'string', default: '127.0.0.1:9500', description: "the plugin's gRPC address HOST:PORT (port 0: any free port)" },
  { name: 'log-level', type: 'string', default: 'info', description: 'the least severe log level written' },
]);

/** `argv` split into its positionals (MODULE) and its flags, which {@link parseFlags} then reads. */
function splitPositionals(argv: readonly string[]): { positionals: string[]; flags: string[] } {
  // Not strict: an unknown flag is left in `flags` for parseFlags to name.
  const { tokens } = parseArgs({
    args: [...argv],
    options: Object.fromEntries(SERVE_FLAGS.map((flag) => [flag.name, { type: flag.type }])),
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const skipped = new Set<number>();
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'positional') positionals.push(token.value);
    if (token.kind !== 'option') skipped.add(token.index);
  }
  return { positionals, flags: argv.filter((_, index) => !skipped.has(index)) };
}

/** Refuse at once a MODULE that is not a readable file (a syntax error is not refused: see {@link runPluginCommand}). */
async function checkModuleFile(file: string): Promise<void> {
  try {
    if ((await stat(file)).isDirectory()) throw new StartUpError(`dubbo-mesh ${COMMAND}: ${file}: is a folder, not a module file`);
    await access(file, constants.R_OK);
  } catch (error) {
    if (error instanceof StartUpError) throw error;
    throw new StartUpError(`dubbo-mesh ${COMMAND}: ${file}: cannot read: ${fileCause(error)}`);
  }
}

/**
 * `dubbo-mesh plugin serve MODULE [--listen 127.0.0.1:9500] [--log-level info]`: serve the
 * module until SIGTERM or SIGINT (exit 0). A bad invocation exits 2 naming the flag; a MODULE
 * that is no readable file, or an address that cannot be bound, exits 1 with one line. A
 * module that exists but does not load (a syntax error, no exported function) is served
 * anyway: the error is printed (stderr and the log), calls are answered UNAVAILABLE naming it,
 * and the module is loaded as soon as its file is fixed, without a restart — a developer fixes
 * the file while the server runs.
 */
export async function runPluginCommand(argv: readonly string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'serve')
    throw new UsageError(`dubbo-mesh plugin: ${sub === undefined ? 'give a subcommand' : `unknown subcommand ${JSON.stringify(sub)}`}: ${SYNOPSIS}`);
  const { positionals, flags } = splitPositionals(rest);
  const values = parseFlags(COMMAND, flags, SERVE_FLAGS);
  if (positionals.length === 0) throw new UsageError(`dubbo-mesh ${COMMAND}: give the MODULE to serve, a JavaScript file (${SYNOPSIS})`);
  if (positionals.length > 1) throw new UsageError(`dubbo-mesh ${COMMAND}: give one MODULE, got ${positionals.length}: ${positionals.join(' ')}`);
  const file = positionals[0]!;
  const listen = addressFlag(COMMAND, 'listen', values.listen as string);
  const level = logLevelFlag(COMMAND, values['log-level'] as string);
  await checkModuleFile(file);

  // Loaded once the invocation is known good: a typo answers without loading gRPC.
  const { PluginServeListenError, servePluginModule } = await import('@dubbo-mesh/plugins');
  const logger = createLogger(level, { role: 'plugin' });
  let server;
  try {
    server = await servePluginModule({
      file,
      host: listen.host,
      port: listen.port,
      log: (line, failed) => logger[failed ? 'error' : 'info']({ module: file }, line),
    });
  } catch (error) {
    if (error instanceof PluginServeListenError) throw new StartUpError(`dubbo-mesh ${COMMAND}: --listen ${error.address}: ${error.detail}`);
    throw error;
  }
  if (server.module.current === undefined)
    process.stderr.write(
      `dubbo-mesh ${COMMAND}: ${server.module.lastError}; serving ${server.address} anyway: calls are answered UNAVAILABLE until the file is fixed\n`,
    );

  const running = server;
  return new Promise<number>((resolve) => {
    const shutdown = async (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'closing: calls in flight finish, new ones are refused');
      await running.close();
      resolve(0);
    };
    process.once('SIGTERM', () => void shutdown('SIGTERM'));
    process.once('SIGINT', () => void shutdown('SIGINT'));
  });
}
