#!/usr/bin/env node
/**
 * Make sure the programs the test suite runs besides Node are installed: each prerequisite
 * is a command to look for and the Debian package that provides it. Run first by `npm test`
 * (the root `pretest`). When something is missing and we are root (a container, CI), it is
 * installed with apt-get, saying so in one line; otherwise it fails with one line saying
 * exactly what to install. Add a prerequisite by adding a line to PREREQUISITES.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

/** What the suite needs: `command` (an absolute path, or a name looked up in PATH), its Debian package, and who needs it. */
const PREREQUISITES = [
  { command: '/usr/bin/chromium', debianPackage: 'chromium', neededBy: "the control plane's web page test (headless Chromium)" },
  { command: '/usr/share/java/zookeeper.jar', debianPackage: 'zookeeper', neededBy: "the registry bridge's tests (a real ZooKeeper server)" },
  // Debian's zookeeper package pulls a JRE in as a dependency; listed on its own for a machine that has the jars but no java.
  { command: 'java', debianPackage: 'default-jre-headless', neededBy: 'running the ZooKeeper server' },
];

const SELF = 'ensure-prerequisites';

function executable(file) {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function readable(file) {
  try {
    accessSync(file, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

/** Whether `command` can be run: the path itself, or a name found in one of PATH's folders. */
function present(command) {
  if (command.endsWith('.jar')) return readable(command);
  if (path.isAbsolute(command)) return executable(command);
  return (process.env.PATH ?? '').split(path.delimiter).some((folder) => folder !== '' && executable(path.join(folder, command)));
}

/** Run apt-get quietly; its output is shown only when it fails. */
function aptGet(args) {
  const result = spawnSync('apt-get', args, {
    encoding: 'utf8',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { ok: result.status === 0, output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? String(result.error.message) : ''}` };
}

function fail(message, output) {
  if (output) process.stderr.write(`${output.trim().split('\n').slice(-15).join('\n')}\n`);
  process.stderr.write(`${SELF}: ${message}\n`);
  process.exit(1);
}

const missing = PREREQUISITES.filter((prerequisite) => !present(prerequisite.command));
if (missing.length > 0) {
  const packages = [...new Set(missing.map((prerequisite) => prerequisite.debianPackage))];
  const what = missing.map((prerequisite) => `${prerequisite.command} (for ${prerequisite.neededBy})`).join(', ');
  const install = `apt-get install -y ${packages.join(' ')}`;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!root || !present('apt-get')) fail(`missing ${what}: install Debian's ${packages.join(', ')} (sudo ${install}), then run npm test again`);
  process.stdout.write(`${SELF}: missing ${what}; running ${install}\n`);
  let attempt = aptGet(['install', '-y', ...packages]);
  if (!attempt.ok) {
    // The usual cause on a fresh machine or container: a package index that is stale or was never fetched.
    const update = aptGet(['update']);
    if (!update.ok) fail(`apt-get update failed, so ${packages.join(', ')} could not be installed`, update.output);
    attempt = aptGet(['install', '-y', ...packages]);
  }
  if (!attempt.ok) fail(`${install} failed`, attempt.output);
  const still = missing.filter((prerequisite) => !present(prerequisite.command));
  if (still.length > 0) fail(`${install} succeeded but ${still.map((prerequisite) => prerequisite.command).join(', ')} is still missing`);
}
