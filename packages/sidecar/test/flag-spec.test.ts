// The flag spec the command line parses and the injector will generate container args from:
// complete, consistent, and readable without loading the proxy.
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseAddress, parseDuration } from '@dubbo-mesh/config';
import { GATEWAY_FLAGS, NO_LISTENER, PROXY_FLAGS, defineFlags, envName, sidecarFlags } from '@dubbo-mesh/sidecar/flags';

t.test('env twins are DUBBO_MESH_ and the flag in capitals', async (t) => {
  t.equal(envName('inbound-target'), 'DUBBO_MESH_INBOUND_TARGET');
  t.equal(envName('node'), 'DUBBO_MESH_NODE');
  for (const flag of [...PROXY_FLAGS, ...GATEWAY_FLAGS]) t.equal(flag.env, envName(flag.name), `${flag.name}: its env twin`);
  const [defined] = defineFlags([{ name: 'max-x', type: 'string', description: 'x' }]);
  t.equal(defined!.env, 'DUBBO_MESH_MAX_X', 'defineFlags fills the env twin in');
  t.ok(Object.isFrozen(PROXY_FLAGS) && Object.isFrozen(PROXY_FLAGS[0]), 'the tables cannot be changed by a reader');
});

t.test('every flag has a one-line description, a unique name, and a default that parses', async (t) => {
  for (const [role, flags] of [
    ['proxy', PROXY_FLAGS],
    ['gateway', GATEWAY_FLAGS],
  ] as const) {
    t.equal(sidecarFlags(role), flags);
    t.equal(new Set(flags.map((f) => f.name)).size, flags.length, `${role}: no flag twice`);
    for (const flag of flags) {
      t.ok(flag.description.length > 10 && !flag.description.includes('\n'), `${role} --${flag.name}: one line of description`);
      if (flag.type === 'boolean') t.equal(flag.default, undefined, `${role} --${flag.name}: a boolean is off unless given`);
    }
    const byName = new Map(flags.map((f) => [f.name, f]));
    t.ok(byName.get('node')?.required, `${role}: --node is required`);
    for (const name of ['admin', role === 'proxy' ? 'outbound' : 'listen'])
      t.ok(parseAddress(byName.get(name)!.default!), `${role} --${name}: the default is host:port`);
    for (const name of ['drain-timeout', 'idle-timeout', 'frame-timeout'])
      t.ok(parseDuration(byName.get(name)!.default!) !== undefined, `${role} --${name}: the default is a duration`);
  }
  t.same(
    PROXY_FLAGS.map((f) => f.name).filter((n) => !GATEWAY_FLAGS.some((g) => g.name === n)),
    ['service', 'namespace', 'labels', 'outbound', 'inbound', 'inbound-target'],
  );
  t.same(
    GATEWAY_FLAGS.map((f) => f.name).filter((n) => !PROXY_FLAGS.some((p) => p.name === n)),
    ['listen'],
  );
  t.match(PROXY_FLAGS.find((f) => f.name === 'outbound')!.description, NO_LISTENER, 'how to turn the outbound listener off is said');
});

t.test('the flags module imports nothing, so reading the table loads neither the proxy nor gRPC', async (t) => {
  // A generator (the injector) and `dubbo-mesh --help` read the table; they must not pay for the proxy's start.
  const built = await readFile(fileURLToPath(import.meta.resolve('@dubbo-mesh/sidecar/flags')), 'utf8');
  t.notMatch(built, /^\s*import\b|\bimport\(|\brequire\(/m, 'no import in the built module');
});
