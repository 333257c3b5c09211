// The synopsis `dubbo-mesh proxy --help` and `gateway --help` print names exactly the flags the
// sidecar's flag spec declares (the table the parser reads and the injector will generate from).
import t from 'tap';
import { GATEWAY_FLAGS, PROXY_FLAGS, type FlagSpec } from '@dubbo-mesh/sidecar/flags';
import { COMMANDS } from '../src/commands.js';

function flagsIn(usage: string): string[] {
  return [...usage.matchAll(/--([a-z][a-z-]*)/g)].map((match) => match[1]!);
}

t.test('proxy and gateway usage lines name every flag of the spec, and no other', async (t) => {
  for (const [name, flags] of [
    ['proxy', PROXY_FLAGS],
    ['gateway', GATEWAY_FLAGS],
  ] as Array<[string, readonly FlagSpec[]]>) {
    const usage = COMMANDS.find((command) => command.name === name)!.usage;
    t.same(new Set(flagsIn(usage)), new Set(flags.map((flag) => flag.name)), `${name}: the synopsis and the spec agree`);
    for (const flag of flags) {
      if (flag.default === undefined) continue;
      // A value shown in the synopsis is the default (SPEC writes a placeholder such as NS for some).
      const shown = new RegExp(`--${flag.name} ([^\\]\\s|]+)`).exec(usage)?.[1];
      if (shown !== undefined && !/^[A-Z][A-Z_:]*$/.test(shown)) t.equal(shown, flag.default, `${name}: the synopsis shows --${flag.name}'s default`);
    }
  }
});
