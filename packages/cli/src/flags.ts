import { parseArgs } from 'node:util';
import { parseAddress, parseDuration } from '@dubbo-mesh/config';

// The flag-spec module only: the sidecar's own index would load the proxy and gRPC, which
// `--help` and a typo must not wait for.
import { LOG_LEVELS, envName, type FlagSpec } from '@dubbo-mesh/sidecar/flags';

export { LOG_LEVELS, defineFlags, envName, type FlagSpec } from '@dubbo-mesh/sidecar/flags';

/** A bad invocation: the message names the flag. Exit code 2. */
export class UsageError extends Error {}

/** Parsed flag values by flag name. */
export type FlagValues = Record<string, string | string[] | boolean | undefined>;

/**
 * Parse `argv` against `specs`; a flag not given falls back to its environment twin, then to
 * its default. Unknown flags and missing values are UsageErrors naming the flag.
 */
export function parseFlags(command: string, argv: readonly string[], specs: readonly FlagSpec[], env: NodeJS.ProcessEnv = process.env): FlagValues {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: Object.fromEntries(specs.map((s) => [s.name, { type: s.type, multiple: s.multiple ?? false }])),
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    throw new UsageError(`dubbo-mesh ${command}: ${(error as Error).message.replace(/\. To specify.*$/s, '')}`);
  }
  const values = { ...parsed.values } as FlagValues;
  for (const spec of specs) {
    if (values[spec.name] !== undefined) continue;
    const fromEnv = env[envName(spec.name)];
    if (fromEnv !== undefined && fromEnv !== '') {
      values[spec.name] = spec.type === 'boolean' ? ['1', 'true', 'yes'].includes(fromEnv.toLowerCase()) : spec.multiple ? fromEnv.split(',') : fromEnv;
    } else if (spec.default !== undefined) {
      values[spec.name] = spec.default;
    }
  }
  return values;
}

/** A `host:port` flag value, or a UsageError naming the flag. */
export function addressFlag(command: string, flag: string, value: string): { host: string; port: number } {
  const address = parseAddress(value);
  // Port 0 asks the system for a free port (tests, local runs).
  const zero = /^(.*):0$/.exec(value);
  if (address === undefined && zero !== null && zero[1] !== '') return { host: zero[1]!.replace(/^\[|\]$/g, ''), port: 0 };
  if (address === undefined) throw new UsageError(`dubbo-mesh ${command}: --${flag}: ${JSON.stringify(value)} is not host:port`);
  return address;
}

/** A duration flag value in ms, or a UsageError naming the flag. */
export function durationFlag(command: string, flag: string, value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined) throw new UsageError(`dubbo-mesh ${command}: --${flag}: ${JSON.stringify(value)} is not a duration like 500ms or 5s`);
  return ms;
}

/** A count flag value (a whole number ≥ `min`), or a UsageError naming the flag. */
export function countFlag(command: string, flag: string, value: string, min = 1): number {
  const count = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(count) || count < min)
    throw new UsageError(`dubbo-mesh ${command}: --${flag}: ${JSON.stringify(value)} is not a whole number of at least ${min}`);
  return count;
}

const BYTE_UNITS: Record<string, number> = { '': 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };

/** A size flag value like `64MiB`, `512KiB` or `1048576`, in bytes, or a UsageError naming the flag. */
export function bytesFlag(command: string, flag: string, value: string): number {
  const match = /^(\d+)(KiB|MiB|GiB)?$/.exec(value.trim());
  const bytes = match === null ? NaN : Number(match[1]) * BYTE_UNITS[match[2] ?? '']!;
  if (!Number.isSafeInteger(bytes) || bytes < 1)
    throw new UsageError(`dubbo-mesh ${command}: --${flag}: ${JSON.stringify(value)} is not a size like 64MiB, 512KiB or 1048576`);
  return bytes;
}

/** A `k=v,k=v` flag value. */
export function labelsFlag(command: string, flag: string, value: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of value.split(',').filter((p) => p !== '')) {
    const [key, label, ...rest] = pair.split('=');
    if (!key || label === undefined || rest.length > 0) throw new UsageError(`dubbo-mesh ${command}: --${flag}: ${JSON.stringify(pair)} is not k=v`);
    labels[key] = label;
  }
  return labels;
}

/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A `--log-level` value, or a UsageError naming the flag and every allowed value (pino itself would throw a stack trace). */
export function logLevelFlag(command: string, value: string): LogLevel {
  if ((LOG_LEVELS as readonly string[]).includes(value)) return value as LogLevel;
  throw new UsageError(`dubbo-mesh ${command}: --log-level: ${JSON.stringify(value)} is not one of ${LOG_LEVELS.join(', ')}`);
}
