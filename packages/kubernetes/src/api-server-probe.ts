import type { KubeConfig } from '@kubernetes/client-node';
import { KubernetesUnavailableError, KubernetesUnavailableReason } from './errors.js';
import { customResourceKinds, informedTypes } from './watched-types.js';

/** The address client-node falls back to when it finds no configuration at all. */
const FALLBACK_SERVER = 'http://localhost:8080';

function causeOf(error: unknown): string {
  let current: unknown = error;
  // node-fetch wraps the socket error: its `code` (ECONNREFUSED, ENOTFOUND …) says the most.
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return error instanceof Error ? error.message.split('\n')[0]! : String(error);
}

/**
 * One list of every kind the source follows (at most one item each) before anything starts, so
 * that what a user can fix is one line at start, not an informer retrying for ever: no API
 * server (or no configuration: client-node then tries localhost:8080), credentials refused,
 * RBAC missing, the CRDs not installed.
 */
export async function probeApiServer(kubeConfig: KubeConfig, namespace: string | undefined, timeoutMs = 10_000): Promise<void> {
  const server = kubeConfig.getCurrentCluster()?.server ?? '(none)';
  // Every kind the source will inform on, one item each: an informer that cannot list retries
  // for ever, so what would keep the source from starting is found here, in one line.
  for (const type of informedTypes(kubeConfig, namespace)) {
    const path = type.path;
    const custom = customResourceKinds().some((definition) => definition.kind === type.kind);
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(Object.assign(new Error(`no answer in ${timeoutMs / 1000} s`), { code: 'ETIMEDOUT' })), timeoutMs);
      });
      await Promise.race([type.probe(), timeout]);
    } catch (error) {
      const status = (error as { code?: unknown }).code;
      if (status === 401)
        throw new KubernetesUnavailableError(KubernetesUnavailableReason.UNAUTHORIZED, `the API server at ${server} refused the credentials (401)`, {
          cause: error,
        });
      if (status === 403)
        throw new KubernetesUnavailableError(
          KubernetesUnavailableReason.FORBIDDEN,
          `the API server at ${server} denies listing ${path} (403): grant the control plane's service account the RBAC rules of docs/kubernetes.md`,
          { cause: error },
        );
      if (status === 404 && custom)
        throw new KubernetesUnavailableError(
          KubernetesUnavailableReason.CRDS_MISSING,
          `the dubbo-mesh CustomResourceDefinitions are not installed (404 on ${path}): kubectl apply -f deploy/crds.yaml`,
          { cause: error },
        );
      if (typeof status === 'number')
        throw new KubernetesUnavailableError(KubernetesUnavailableReason.FAILED, `listing ${path} on ${server} failed with HTTP ${status}`, { cause: error });
      const said = causeOf(error);
      if (/skipTLSVerify/.test(said))
        throw new KubernetesUnavailableError(
          KubernetesUnavailableReason.FAILED,
          `the API server address ${server} is plain HTTP, which the Kubernetes client refuses unless the kubeconfig's cluster sets insecure-skip-tls-verify: true`,
          { cause: error },
        );
      const hint = server === FALLBACK_SERVER ? ' (no in-cluster config, KUBECONFIG or ~/.kube/config was found)' : '';
      throw new KubernetesUnavailableError(KubernetesUnavailableReason.UNREACHABLE, `cannot reach the Kubernetes API server at ${server}${hint}: ${said}`, {
        cause: error,
      });
    } finally {
      clearTimeout(timer);
    }
  }
}
