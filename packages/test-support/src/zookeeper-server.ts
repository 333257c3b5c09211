// A real ZooKeeper server (Debian's `zookeeper` package, run on the JRE) for tests: on a free
// port, with a short tick time so sessions can be made to expire fast.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './ports.js';

/** Where Debian's `zookeeper` package puts its jars (PEERS.md). */
export const ZOOKEEPER_JARS = ['/usr/share/java/zookeeper.jar', '/usr/share/java/slf4j-nop.jar'] as const;

/** Whether the ZooKeeper server can be run here (`npm test` installs it; see scripts/ensure-prerequisites.mjs). */
export function zookeeperInstalled(): boolean {
  return ZOOKEEPER_JARS.every((jar) => existsSync(jar));
}

/** A running ZooKeeper server. */
export interface ZooKeeperServer {
  /** `127.0.0.1:PORT`, what `--zookeeper` takes. */
  readonly connect: string;
  readonly port: number;
  readonly tickTimeMs: number;
  /** Stop the server (SIGKILL: as a crash, no goodbye to clients); its data stays for {@link start}. */
  stop(): Promise<void>;
  /** Start it again on the same port with the same data (or none after {@link wipe}). */
  start(): Promise<void>;
  /** Stop it and delete its data: the next {@link start} is an empty ZooKeeper (sessions gone). */
  wipe(): Promise<void>;
  /** Stop it and delete everything. */
  close(): Promise<void>;
}

/** How a test server is run. */
export interface ZooKeeperServerOptions {
  /** Default 200 ms: sessions can be as short as 2 ticks (400 ms) for expiry tests. */
  readonly tickTimeMs?: number;
  /** Default 60 s: a client asking the usual 30 s gets it (a loaded machine must not expire sessions by chance). */
  readonly maxSessionTimeoutMs?: number;
}

/** Ask `ruok`; true on `imok`. */
function ruok(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let answer = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2000, () => done(false));
    socket.on('connect', () => socket.write('ruok'));
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.on('end', () => done(answer === 'imok'));
    socket.on('error', () => done(false));
  });
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** A test that crashes must not leave JVMs behind. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

/**
 * Start a ZooKeeper server on a free 127.0.0.1 port; resolves once it answers `ruok`. Throws
 * when the server cannot be run (not installed: `npm test` installs it) or does not come up.
 */
export async function startZooKeeper(options: ZooKeeperServerOptions = {}): Promise<ZooKeeperServer> {
  if (!zookeeperInstalled())
    throw new Error(`ZooKeeper is not installed (${ZOOKEEPER_JARS.join(', ')}): apt-get install zookeeper, or run npm test, which does`);
  installExitHook();
  const tickTimeMs = options.tickTimeMs ?? 200;
  const directory = await mkdtemp(path.join(tmpdir(), 'dubbo-mesh-zk-'));
  const dataDir = path.join(directory, 'data');
  let port = await freePort();
  let child: ChildProcess | undefined;

  const writeConfig = () =>
    writeFile(
      path.join(directory, 'zoo.cfg'),
      [
        `tickTime=${tickTimeMs}`,
        `dataDir=${dataDir}`,
        `clientPort=${port}`,
        'clientPortAddress=127.0.0.1',
        `minSessionTimeout=${2 * tickTimeMs}`,
        `maxSessionTimeout=${options.maxSessionTimeoutMs ?? 60_000}`,
        'admin.enableServer=false',
        '4lw.commands.whitelist=ruok,stat,mntr,srvr,cons',
        'maxClientCnxns=0',
        // Transaction logs are synced for durability; a test does not need it and a loaded machine pays for it.
        'forceSync=no',
        '',
      ].join('\n'),
    );

  const launch = async (): Promise<void> => {
    await writeConfig();
    const process_ = spawn(
      'java',
      [
        '-Xmx256m',
        '-XX:+UseSerialGC',
        '-XX:TieredStopAtLevel=1',
        '-cp',
        ZOOKEEPER_JARS.join(':'),
        'org.apache.zookeeper.server.ZooKeeperServerMain',
        path.join(directory, 'zoo.cfg'),
      ],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let stderr = '';
    process_.stderr?.on('data', (chunk: Buffer) => (stderr = `${stderr}${chunk.toString()}`.slice(-4000)));
    const exited = new Promise<number | null>((resolve) => process_.once('exit', (code) => resolve(code)));
    running.add(process_);
    void exited.then(() => running.delete(process_));
    child = process_;
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (await ruok(port)) return;
      const ended = await Promise.race([exited, new Promise<'waiting'>((resolve) => setTimeout(() => resolve('waiting'), 50))]);
      if (ended !== 'waiting') throw new Error(`ZooKeeper exited (${String(ended)}) on port ${port}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
      if (Date.now() > deadline) {
        process_.kill('SIGKILL');
        throw new Error(`ZooKeeper did not answer ruok on port ${port} within 60 s`);
      }
    }
  };

  const stop = async (): Promise<void> => {
    const process_ = child;
    child = undefined;
    if (process_ === undefined || process_.exitCode !== null || process_.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => process_.once('exit', () => resolve()));
    process_.kill('SIGKILL');
    await exited;
  };

  // A free port can be taken between the probe and the JVM's bind: try a few.
  for (let attempt = 1; ; attempt++) {
    try {
      await launch();
      break;
    } catch (error) {
      await stop();
      if (attempt >= 3) {
        await rm(directory, { recursive: true, force: true });
        throw error;
      }
      port = await freePort();
    }
  }

  return {
    get connect() {
      return `127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    tickTimeMs,
    stop,
    start: async () => {
      if (child !== undefined) return;
      await launch();
    },
    wipe: async () => {
      await stop();
      await rm(dataDir, { recursive: true, force: true });
    },
    close: async () => {
      await stop();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
