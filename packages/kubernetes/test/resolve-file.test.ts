// The Java recipe's resolve file, from a snapshot: its lines, and its escaping checked against
// java.util.Properties itself (the JDK on this machine) where a `java` is on the PATH.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { validateResource, type LocatedResource } from '@dubbo-mesh/config';
import { Snapshot } from '@dubbo-mesh/control-plane';
import {
  escapePropertiesKey,
  escapePropertiesValue,
  isResolvableInterface,
  RESOLVE_FILE_HEADER,
  resolveFileOf,
  resolveFileText,
  resolveInterfaces,
} from '../dist/index.js';

function dubboService(name: string, interfaces: unknown[]): LocatedResource {
  const raw = {
    apiVersion: 'dubbo-mesh.io/v1alpha1',
    kind: 'DubboService',
    metadata: { name },
    spec: { interfaces, endpoints: [{ address: '10.0.0.1:20880' }] },
  };
  const result = validateResource(raw);
  if (!result.valid) throw new Error(result.errors.join('\n'));
  return { resource: result.result, raw };
}

function snapshotOf(...items: LocatedResource[]): Snapshot {
  const created = Snapshot.create(items);
  if (!created.valid) throw new Error(created.errors.join('\n'));
  return created.snapshot;
}

t.test('one line per distinct interface of every mesh service, sorted, after the header and the wildcard', async (t) => {
  const snapshot = snapshotOf(
    dubboService('user', ['org.example.UserService', { interface: 'org.example.AuditService', group: 'blue', version: '1.0' }]),
    // The same interface in other groups and versions is one key: the resolve file's key is the interface.
    dubboService('audit', [
      { interface: 'org.example.AuditService', group: 'green' },
      { interface: 'org.example.AuditService', version: '2.0' },
    ]),
    dubboService('zeta', ['a.Zeta', 'B.Upper']),
  );
  t.same(resolveInterfaces(snapshot), ['B.Upper', 'a.Zeta', 'org.example.AuditService', 'org.example.UserService'], 'distinct, by code unit');
  // Dubbo 3 tries every key as a regex: a name no Java interface has (and that may be no valid regex) is left out.
  const mixed = snapshotOf(dubboService('mixed', ['user-service', 'a+b', '[x', '*', 'org.example.Outer$Inner', 'café.Ünï_2', 'x..y', '1abc', '.x']));
  t.same(resolveInterfaces(mixed), ['café.Ünï_2', 'org.example.Outer$Inner'], 'only Java class names');
  t.ok(isResolvableInterface('org.example.UserService'));
  t.notOk(isResolvableInterface(''));
  t.equal(
    resolveFileOf(snapshot),
    [
      ...RESOLVE_FILE_HEADER,
      '*=dubbo://127.0.0.1:20881',
      'B.Upper=dubbo://127.0.0.1:20881',
      'a.Zeta=dubbo://127.0.0.1:20881',
      'org.example.AuditService=dubbo://127.0.0.1:20881',
      'org.example.UserService=dubbo://127.0.0.1:20881',
      '',
    ].join('\n'),
  );
  t.ok(
    RESOLVE_FILE_HEADER.every((line) => line.startsWith('# ')),
    'the header is comments',
  );
  t.match(RESOLVE_FILE_HEADER.join('\n'), /do not edit/);
  t.match(RESOLVE_FILE_HEADER.join('\n'), /3\.0\.2/);
  t.match(RESOLVE_FILE_HEADER.join('\n'), /2\.7/);

  t.equal(resolveFileOf(snapshotOf()), [...RESOLVE_FILE_HEADER, '*=dubbo://127.0.0.1:20881', ''].join('\n'), 'no mesh service: the wildcard alone');
  t.equal(
    resolveFileOf(snapshot),
    resolveFileOf(snapshotOf(...[...snapshot.config.services].reverse().map((s) => dubboService(s.metadata.name, [...s.interfaces])))),
    'the order of services does not matter',
  );
});

t.test('keys and values escaped as java.util.Properties reads them', async (t) => {
  t.equal(escapePropertiesKey('org.example.UserService'), 'org.example.UserService', 'a plain interface name is as it is');
  t.equal(escapePropertiesKey('a=b:c#d!e f\\g'), 'a\\=b\\:c\\#d\\!e\\ f\\\\g', 'separators, comment markers, spaces and backslashes');
  t.equal(escapePropertiesKey('t\tn\nr\rf\f'), 't\\tn\\nr\\rf\\f', 'whitespace controls by name');
  t.equal(escapePropertiesKey('nul\u0000del\u007f'), 'nul\\u0000del\\u007F', 'other controls as \\uXXXX');
  t.equal(escapePropertiesKey('café€'), 'caf\\u00E9\\u20AC', 'Latin-1 too: the file is UTF-8, Properties.load(InputStream) reads ISO-8859-1');
  t.equal(escapePropertiesKey('😀'), '\\uD83D\\uDE00', 'beyond the BMP: its UTF-16 surrogates');
  t.equal(escapePropertiesValue('dubbo://127.0.0.1:20881'), 'dubbo://127.0.0.1:20881', 'a value keeps its : and =');
  t.equal(escapePropertiesValue(' a b=c'), '\\ a b=c', 'a value escapes only a leading space');
  t.equal(resolveFileText(['x y']).split('\n').at(-2), 'x\\ y=dubbo://127.0.0.1:20881');
});

// Names no Java interface has (resolveInterfaces leaves them out), but the file stays right for any name.
const AWKWARD = [
  'org.example.UserService',
  'a=b',
  'c:d',
  '#hash',
  '!bang',
  ' lead',
  'in ner',
  'back\\slash',
  'tab\there',
  'line\nbreak',
  'café',
  '€uro',
  '😀',
  'x\u0001y',
];

t.test('java.util.Properties reads back every key and the target, through a stream and a UTF-8 reader', async (t) => {
  const java = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (java.error !== undefined || java.status !== 0) {
    t.skip('no java on the PATH');
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'resolve-file-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'dubbo-resolve.properties');
  await writeFile(file, resolveFileText([...AWKWARD].sort()), 'utf8');
  // Prints what Properties loaded as JSON with every character \u-escaped, so nothing is lost on the way.
  const program = join(dir, 'ReadResolve.java');
  await writeFile(
    program,
    `import java.io.*;
import java.nio.charset.StandardCharsets;
import java.util.*;
public class ReadResolve {
  static String json(String s) {
    StringBuilder out = new StringBuilder("\\"");
    for (char c : s.toCharArray()) out.append(String.format("\\\\u%04x", (int) c));
    return out.append('"').toString();
  }
  public static void main(String[] args) throws Exception {
    Properties stream = new Properties();
    try (InputStream in = new FileInputStream(args[0])) { stream.load(in); }
    Properties reader = new Properties();
    try (Reader in = new InputStreamReader(new FileInputStream(args[0]), StandardCharsets.UTF_8)) { reader.load(in); }
    StringBuilder out = new StringBuilder("[");
    for (Properties p : new Properties[] { stream, reader }) {
      out.append(out.length() > 1 ? ",{" : "{");
      boolean first = true;
      for (String key : new TreeSet<>(p.stringPropertyNames())) {
        if (!first) out.append(',');
        first = false;
        out.append(json(key)).append(':').append(json(p.getProperty(key)));
      }
      out.append('}');
    }
    System.out.print(out.append(']'));
  }
}
`,
  );
  const run = spawnSync('java', [program, file], { encoding: 'utf8', timeout: 120_000 });
  t.equal(run.status, 0, run.stderr);
  const [stream, reader] = JSON.parse(run.stdout) as [Record<string, string>, Record<string, string>];
  const expected = Object.fromEntries(['*', ...AWKWARD].map((key) => [key, 'dubbo://127.0.0.1:20881']));
  t.same(stream, expected, 'Properties.load(InputStream), as Dubbo 2.7 reads it');
  t.same(reader, expected, 'Properties.load(Reader) in UTF-8');
});
