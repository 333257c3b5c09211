import { COMMANDS, type Command } from './commands.js';
import { UsageError } from './flags.js';
import { EXIT_START_UP, EXIT_UNAVAILABLE, EXIT_USAGE } from './exit-codes.js';
import { StartUpError } from './start-up-failure.js';

export { EXIT_START_UP, EXIT_UNAVAILABLE, EXIT_USAGE } from './exit-codes.js';

function help(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length));
  return [
    'dubbo-mesh: a service mesh for Apache Dubbo services',
    '',
    'Usage: dubbo-mesh <command> [flags]',
    '',
    'Commands:',
    ...COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    '',
    'Every flag has an environment-variable twin DUBBO_MESH_<FLAG_IN_CAPS>.',
    "Run 'dubbo-mesh <command> --help' for a command's flags.",
  ].join('\n');
}

function find(name: string): Command | undefined {
  return COMMANDS.find((command) => command.name === name);
}

/** Run the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: readonly string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? err : out).write(help() + '\n');
    return name === undefined ? EXIT_USAGE : 0;
  }
  const command = find(name);
  if (command === undefined) {
    err.write(`dubbo-mesh: unknown command '${name}'. Commands: ${COMMANDS.map((c) => c.name).join(', ')}\n`);
    return EXIT_USAGE;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    out.write(`Usage: ${command.usage}\n\n${command.summary}\n`);
    return 0;
  }
  if ('landsWith' in command.run) {
    err.write(`dubbo-mesh ${command.name}: not available in this build yet; it lands with ${command.run.landsWith}.\n`);
    return EXIT_UNAVAILABLE;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      err.write(`${error.message}\n`);
      return EXIT_USAGE;
    }
    if (error instanceof StartUpError) {
      for (const detail of error.details) err.write(`${detail}\n`);
      err.write(`${error.message}\n`);
      return EXIT_START_UP;
    }
    // Anything else is a bug of ours: the stack trace is what a report needs.
    throw error;
  }
}
