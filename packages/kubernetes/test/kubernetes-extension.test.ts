// `--kubernetes` at start: what a user can fix is one typed error naming the cause, never a
// source that waits for ever.
import t from 'tap';
import { createKubernetesExtension, KubernetesUnavailableError } from '../dist/index.js';
import { startCluster } from './fixtures/cluster.js';

t.test('a service account that may not list Pods: a one-line error at start naming the path and RBAC', async (t) => {
  const cluster = await startCluster(t);
  cluster.failNext({ method: 'GET', path: /^\/api\/v1\/pods$/ }, 403, 1);
  const error = await createKubernetesExtension({ kubeConfig: cluster.kubeConfig(), env: {} }).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(error instanceof KubernetesUnavailableError, 'a typed error');
  t.equal((error as KubernetesUnavailableError).reason, 'forbidden');
  t.match((error as Error).message, /denies listing \/api\/v1\/pods \(403\): grant the control plane's service account the RBAC rules of docs\/kubernetes\.md/);
  t.equal((error as KubernetesUnavailableError).flag, 'kubernetes');
});
