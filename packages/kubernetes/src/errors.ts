/**
 * Errors of the Kubernetes source, classified by `code`. Start-up failures are the control
 * plane's `SourceUnavailableError` (flag `kubernetes`), so the command line prints one line.
 */
import { SourceUnavailableError } from '@dubbo-mesh/control-plane';

/** Stable codes of why the Kubernetes API cannot be used at start. */
export const KubernetesUnavailableReason = {
  UNREACHABLE: 'unreachable',
  UNAUTHORIZED: 'unauthorized',
  FORBIDDEN: 'forbidden',
  CRDS_MISSING: 'crds-missing',
  FAILED: 'failed',
} as const;
/** One of {@link KubernetesUnavailableReason}. */
export type KubernetesUnavailableReasonValue = (typeof KubernetesUnavailableReason)[keyof typeof KubernetesUnavailableReason];

/** `--kubernetes` cannot start: the message says why and what to do; `reason` classifies it. */
export class KubernetesUnavailableError extends SourceUnavailableError {
  constructor(
    readonly reason: KubernetesUnavailableReasonValue,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('kubernetes', message, options);
    this.name = 'KubernetesUnavailableError';
  }
}
