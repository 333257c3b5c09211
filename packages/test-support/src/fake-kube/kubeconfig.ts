// Client configuration for the fake API server: a client-node KubeConfig in memory, or a
// kubeconfig file for the KUBECONFIG of a child process.
import { KubeConfig } from '@kubernetes/client-node';

const NAME = 'fake-kube-api-server';

/**
 * A KubeConfig for `server` with no credentials and namespace `default`. client-node refuses an
 * `http://` server unless the cluster skips TLS verification, so it does (there is no TLS).
 */
export function fakeKubeConfig(server: string): KubeConfig {
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: NAME, server, skipTLSVerify: true }],
    users: [{ name: NAME }],
    contexts: [{ name: NAME, cluster: NAME, user: NAME, namespace: 'default' }],
    currentContext: NAME,
  });
  return config;
}

/** The same configuration as a kubeconfig YAML document (strings double-quoted, so any URL is safe). */
export function fakeKubeConfigYaml(server: string): string {
  const q = (text: string) => JSON.stringify(text);
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${q(NAME)}`,
    '  cluster:',
    `    server: ${q(server)}`,
    '    insecure-skip-tls-verify: true',
    'users:',
    `- name: ${q(NAME)}`,
    '  user: {}',
    'contexts:',
    `- name: ${q(NAME)}`,
    '  context:',
    `    cluster: ${q(NAME)}`,
    `    user: ${q(NAME)}`,
    '    namespace: "default"',
    `current-context: ${q(NAME)}`,
    '',
  ].join('\n');
}
