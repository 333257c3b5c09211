import { DemoAdminListenError, DemoConfigInvalidError, DemoNoSnapshotError, runDemo } from '@dubbo-mesh/demo';
import { EXIT_START_UP } from './exit-codes.js';
import { addressFlag, defineFlags, durationFlag, parseFlags } from './flags.js';
import { listenFailure } from './start-up-failure.js';

const FLAGS = defineFlags([
  { name: 'duration', type: 'string', description: 'stop after this long and print the JSON summary last (default: run until Ctrl-C)' },
  { name: 'admin', type: 'string', default: '127.0.0.1:15000', description: "the control plane's admin API address HOST:PORT" },
]);

/** The exit code of a demo stopped by Ctrl-C before it was up (128 + SIGINT, as a shell reports it). */
const EXIT_INTERRUPTED = 130;

/**
 * `dubbo-mesh demo` (what `npm start` runs): the flags as `runDemo`'s options, Ctrl-C or
 * SIGTERM as its abort signal, and its typed failures as the lines and exit codes users see.
 */
export async function runDemoCommand(argv: readonly string[], out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const values = parseFlags('demo', argv, FLAGS);
  const durationMs = values.duration === undefined ? undefined : durationFlag('demo', 'duration', values.duration as string);
  const admin = addressFlag('demo', 'admin', values.admin as string);
  const say = (text: string) => out.write(`${text}\n`);
  // Ctrl-C at any point ends the demo through its own cleanup, also during start-up.
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const outcome = await runDemo({ admin, durationMs, print: say, signal: stop.signal });
    return outcome.kind === 'interrupted' ? EXIT_INTERRUPTED : 0;
  } catch (error) {
    if (error instanceof DemoAdminListenError) throw listenFailure('demo', 'admin', admin, error.cause);
    if (error instanceof DemoConfigInvalidError) {
      say(`dubbo-mesh demo: ${error.file} is not valid:\n  ${error.errors.join('\n  ')}`);
      return EXIT_START_UP;
    }
    if (error instanceof DemoNoSnapshotError) {
      say(`dubbo-mesh demo: ${error.message}`);
      return EXIT_START_UP;
    }
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
