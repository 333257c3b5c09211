// tap's process tracking (@tapjs/processinfo) wraps child_process: every child started from a
// test gets NODE_OPTIONS with an --import of its loader, which records each module loaded and
// writes a file under .tap/ when the child exits. For a child that is not under test (npm and
// tsc building an image's tree) that multiplies its start-up time, and a child running as
// another user cannot write the file and fails at exit. `env -u` drops the variable between the
// wrapper and the real program.

/** The command and args that run `command args…` without tap's NODE_OPTIONS. */
export function untraced(command: string, args: readonly string[]): [string, string[]] {
  return ['env', ['-u', 'NODE_OPTIONS', command, ...args]];
}
