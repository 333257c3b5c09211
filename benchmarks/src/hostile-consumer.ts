// The proxy's memory beside consumers that do not play by the rules, in one run:
//   - `no-read`: one consumer writes getUser calls as fast as the proxy takes them and never
//     reads a reply (before the write-side limit, the proxy buffered every reply: RSS grew
//     without bound);
//   - `half-frames`: 100 connections each send the header and all but one byte of an 8 MiB
//     frame (before the cap on incomplete frames, 800 MB were pinned).
// The proxy runs as `dubbo-mesh proxy --static` in its own process; its RSS is sampled from
// /proc every second.
//
//   npm run bench:hostile -- [--duration 30s] [--scenario no-read|half-frames|both] [--cli PATH] [--json]
//
// `--cli` runs another build's executable (packages/cli/bin/dubbo-mesh.js of another
// checkout), for a before/after comparison in one run.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { encodeRequest, encodeRequestBody } from '@dubbo-mesh/protocol';
import { USER_SERVICE } from '@dubbo-mesh/test-support';
import { children, rssMiB, start } from './processes.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '30s' },
    scenario: { type: 'string', default: 'both' },
    cli: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const durationMs = Number(values.duration!.replace(/s$/, '')) * 1000;
const here = path.dirname(fileURLToPath(import.meta.url));
const cli = path.resolve(values.cli ?? path.join(here, '../../packages/cli/bin/dubbo-mesh.js'));

interface Result {
  scenario: string;
  seconds: number;
  rssStartMiB: number;
  rssMaxMiB: number;
  rssEndMiB: number;
  /** What the consumers had written that the proxy took (bytes read by the proxy's socket, as far as the kernel told the sender). */
  sentMiB: number;
}

async function startProxy(dir: string, providerPort: number): Promise<{ pid: number; port: number }> {
  const file = path.join(dir, 'mesh.yaml');
  await writeFile(
    file,
    `apiVersion: dubbo-mesh.io/v1alpha1
kind: DubboService
metadata: {name: user-provider}
spec:
  interfaces: [${USER_SERVICE}]
  endpoints: [{address: 127.0.0.1:${providerPort}}]
`,
  );
  const proxy = start(process.execPath, [
    '--max-semi-space-size=8',
    cli,
    'proxy',
    '--node',
    'hostile',
    '--static',
    file,
    '--outbound',
    '127.0.0.1:0',
    '--admin',
    '127.0.0.1:0',
  ]);
  const ready = JSON.parse(await proxy.line((text) => text.includes('"listeners"'))) as { listeners: Record<string, { port: number }> };
  return { pid: proxy.child.pid!, port: ready.listeners.outbound!.port };
}

/** Sample the proxy's RSS every second while `run` goes on. */
async function sample(pid: number, run: (elapsed: () => number) => Promise<number>): Promise<Omit<Result, 'scenario'>> {
  const started = Date.now();
  const rssStartMiB = rssMiB(pid);
  let rssMaxMiB = rssStartMiB;
  const timer = setInterval(() => {
    rssMaxMiB = Math.max(rssMaxMiB, rssMiB(pid));
  }, 1000);
  const sent = await run(() => Date.now() - started);
  clearInterval(timer);
  const rssEndMiB = rssMiB(pid);
  return { seconds: (Date.now() - started) / 1000, rssStartMiB, rssMaxMiB: Math.max(rssMaxMiB, rssEndMiB), rssEndMiB, sentMiB: sent / 2 ** 20 };
}

/** One consumer that writes calls whenever the socket takes them and never reads. */
function noRead(port: number): (elapsed: () => number) => Promise<number> {
  return (elapsed) =>
    new Promise((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.on('error', () => {});
      socket.pause();
      const body = encodeRequestBody({
        path: USER_SERVICE,
        version: '1.0.0',
        method: 'getUser',
        parameterTypes: ['long'],
        arguments: [{ $class: 'long', $: 1 }],
      });
      let id = 1;
      let written = 0;
      const pump = () => {
        while (elapsed() < durationMs) {
          const frame = encodeRequest(BigInt(id++), body);
          written += frame.length;
          if (!socket.write(frame)) return; // wait for 'drain': the proxy took what was sent
        }
        resolve(written - socket.writableLength);
        socket.destroy();
      };
      socket.on('drain', pump);
      const check = setInterval(() => {
        if (elapsed() < durationMs) return;
        clearInterval(check);
        resolve(written - socket.writableLength);
        socket.destroy();
      }, 200);
      socket.once('connect', pump);
    });
}

/** 100 connections, each sending all but the last byte of an 8 MiB frame. */
function halfFrames(port: number): (elapsed: () => number) => Promise<number> {
  return async (elapsed) => {
    const size = 8 * 1024 * 1024 - 2;
    const frame = encodeRequest(1n, Buffer.alloc(size, 0x4e)); // a body length of 8 MiB - 2
    const sockets: net.Socket[] = [];
    for (let i = 0; i < 100; i++) {
      const socket = net.connect(port, '127.0.0.1');
      socket.on('error', () => {});
      socket.write(frame.subarray(0, frame.length - 1));
      sockets.push(socket);
    }
    while (elapsed() < durationMs) await new Promise((resolve) => setTimeout(resolve, 200));
    const taken = sockets.reduce((sum, socket) => sum + (socket.destroyed ? 0 : frame.length - 1 - socket.writableLength), 0);
    for (const socket of sockets) socket.destroy();
    return taken;
  };
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dm-hostile-'));
  const results: Result[] = [];
  try {
    const provider = start(process.execPath, [path.join(here, 'canned-provider.js')]);
    const providerPort = (JSON.parse(await provider.line((text) => text.startsWith('{'))) as { port: number }).port;
    for (const scenario of ['no-read', 'half-frames']) {
      if (values.scenario !== 'both' && values.scenario !== scenario) continue;
      const proxy = await startProxy(dir, providerPort);
      results.push({ scenario, ...(await sample(proxy.pid, scenario === 'no-read' ? noRead(proxy.port) : halfFrames(proxy.port))) });
      children.pop()!.kill('SIGKILL');
    }
  } finally {
    for (const child of children) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ cli, durationMs, results }, null, 2)}\n`);
    return;
  }
  console.log(`proxy: ${cli}; ${durationMs / 1000} s per scenario\n`);
  console.log("| scenario | RSS at start | RSS max | RSS at end | consumers' bytes the proxy took |");
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const r of results)
    console.log(
      `| ${r.scenario} | ${r.rssStartMiB.toFixed(0)} MiB | ${r.rssMaxMiB.toFixed(0)} MiB | ${r.rssEndMiB.toFixed(0)} MiB | ${r.sentMiB.toFixed(1)} MiB |`,
    );
}

await main();
