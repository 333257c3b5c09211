// Each command's module is imported when it runs: `--help`, a typo or an unknown command
// answer without loading gRPC, fastify and the proxy (most of a start's CPU time).

/** A subcommand of `dubbo-mesh`. */
export interface Command {
  readonly name: string;
  /** One line for `--help`. */
  readonly summary: string;
  /** The synopsis, as SPEC writes it. */
  readonly usage: string;
  /**
   * The handler, or the issue that brings it: a command whose issue has not landed says so
   * and exits non-zero rather than pretending to work.
   */
  readonly run: ((argv: readonly string[]) => Promise<number>) | { readonly landsWith: string };
}

/** Every subcommand of SPEC, in the order `--help` lists them. */
export const COMMANDS: readonly Command[] = [
  {
    name: 'control-plane',
    summary: 'serve versioned route snapshots to proxies over gRPC, with an admin API',
    usage:
      'dubbo-mesh control-plane [--config PATH]... [--kubernetes] [--kube-namespace NS] [--kube-gateway-service NAME] [--zookeeper HOST:PORT[,HOST:PORT]] [--grpc 127.0.0.1:15010] [--admin 127.0.0.1:15000] [--log-level info]',
    run: async (argv) => (await import('./control-plane-command.js')).runControlPlaneCommand(argv),
  },
  {
    name: 'proxy',
    summary: 'run the sidecar proxy next to a Dubbo provider or consumer',
    usage:
      'dubbo-mesh proxy --node ID [--service NAME] [--namespace NS] [--labels k=v,k=v] (--control-plane HOST:PORT | --static PATH) [--outbound 127.0.0.1:20881|none] [--inbound 0.0.0.0:20891 --inbound-target 127.0.0.1:20880] [--admin 127.0.0.1:15001] [--access-log] [--plugin-module-root DIR] [--drain-timeout 5s] [--log-level info] [--idle-timeout 1h] [--frame-timeout 30s] [--max-requests-per-connection 1024] [--max-buffered-frame-bytes 64MiB]',
    run: async (argv) => (await import('./proxy-command.js')).runProxyCommand('proxy', argv),
  },
  {
    name: 'gateway',
    summary: 'put every provider of a cluster behind one address',
    usage:
      'dubbo-mesh gateway --node ID (--control-plane HOST:PORT | --static PATH) [--listen 0.0.0.0:20880] [--admin 127.0.0.1:15001] [--access-log] [--plugin-module-root DIR] [--drain-timeout 5s] [--log-level info] [--idle-timeout 1h] [--frame-timeout 30s] [--max-requests-per-connection 1024] [--max-buffered-frame-bytes 64MiB]',
    run: async (argv) => (await import('./proxy-command.js')).runProxyCommand('gateway', argv),
  },
  {
    name: 'injector',
    summary: 'Kubernetes mutating admission webhook that adds the sidecar to pods',
    usage:
      'dubbo-mesh injector --control-plane HOST:PORT [--listen 0.0.0.0:9443] [--tls-cert PATH --tls-key PATH] [--image dubbo-mesh:0.1.0] [--admin 127.0.0.1:15002] [--native-sidecar true|false] [--java-recipe consumer|migration|off] [--fail-open] [--webhook-config dubbo-mesh-injector] [--service dubbo-mesh-injector] [--log-level info]',
    run: async (argv) => (await import('./injector-command.js')).runInjectorCommand(argv),
  },
  {
    name: 'demo',
    summary: 'run the local mesh demo (what `npm start` runs)',
    usage: 'dubbo-mesh demo [--duration 30s] [--admin 127.0.0.1:15000]',
    run: async (argv) => (await import('./demo-command.js')).runDemoCommand(argv),
  },
  {
    name: 'rules',
    summary: 'check Dubbo governance rules as the control plane will, and explain which endpoints a call would reach and why',
    usage:
      'dubbo-mesh rules check FILE|-\n       dubbo-mesh rules explain --rule FILE [--rule FILE]... --endpoints FILE --method M [--interface I] [--version V] [--group G] [--attachment k=v]... [--argument N=value]... [--application APP] [--host 127.0.0.1]',
    run: async (argv) => (await import('./rules-command.js')).runRulesCommand(argv),
  },
  {
    name: 'plugin',
    summary: 'serve a plugin module as a gRPC DubboPlugin, to run and debug it locally or beside a proxy (see docs/plugins.md)',
    usage: 'dubbo-mesh plugin serve MODULE [--listen 127.0.0.1:9500] [--log-level info]',
    run: async (argv) => (await import('./plugin-command.js')).runPluginCommand(argv),
  },
  {
    name: 'bench',
    summary: 'run the benchmarks (see docs/benchmarks.md)',
    usage: 'dubbo-mesh bench …',
    run: { landsWith: 'a later issue (not filed yet); meanwhile `npm run bench`, `npm run bench:proxy` and `npm run bench:push` run the benchmarks' },
  },
];
