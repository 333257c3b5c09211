// The webhook's handler, pure: an AdmissionReview in, the AdmissionReview response and the
// decision out. The HTTP server (and its tests) only move bytes; everything the webhook
// decides is here and testable without a socket.

import { admissionResponse, parseAdmissionReview, type AdmissionReviewResponse } from './admission-review.js';
import type { InjectorConfig } from './injector-config.js';
import { injectionDecision } from './injection-policy.js';
import { createJsonPatch } from './json-patch.js';
import { readPodAnnotations } from './pod-annotations.js';
import { injectPod } from './pod-injection.js';

/** What the webhook decided for one review, for its log and metrics. */
export interface AdmissionDecision {
  /** Whether the response carries a patch that adds the sidecar. */
  readonly injected: boolean;
  /** Why (one line): `injected`, or why not. */
  readonly reason: string;
  /** The warnings the response carries (shown to the client, e.g. by kubectl). */
  readonly warnings: string[];
}

/** The answer to one review: the AdmissionReview to send with HTTP 200, and the decision. */
export interface AdmissionOutcome {
  readonly review: AdmissionReviewResponse;
  readonly decision: AdmissionDecision;
}

/** The HTTP status a refusal's `status.code` carries: the pod's annotations are a bad request. */
const REFUSED_CODE = 400;

/**
 * Reviews one AdmissionReview: a Pod CREATE is injected (a JSON Patch) when the pod is chosen
 * (injection-policy.ts); any other review (another operation, a subresource) is allowed
 * unchanged. A pod whose `dubbo-mesh.io/…` annotations are invalid is refused (`allowed: false`,
 * status 400, a message naming each annotation and the values it accepts), or with
 * `config.failOpen` admitted without a sidecar and a warning naming the annotation. A pod that
 * already uses one of the sidecar's default ports is admitted without a sidecar, with a warning
 * naming the annotation that moves the sidecar's port (it asked for nothing wrong). An
 * unexpected error while injecting admits the pod without a sidecar and says so: the mesh must
 * not stop a pod from starting by a bug of its own.
 * @throws BadAdmissionReviewError when `body` is not a well-formed AdmissionReview of a Pod (→ HTTP 400).
 */
export function reviewAdmission(body: unknown, config: InjectorConfig): AdmissionOutcome {
  const review = parseAdmissionReview(body);
  const answer = (decision: AdmissionDecision, patch?: unknown[]): AdmissionOutcome => ({
    review: admissionResponse(review, { allowed: true, patch, warnings: decision.warnings }),
    decision,
  });
  const pod = review.pod;
  if (pod === undefined) {
    const what = `${review.operation === '' ? 'no operation' : `operation ${review.operation}`}${review.subResource === '' ? '' : ` on subresource ${review.subResource}`}`;
    return answer({ injected: false, reason: `${what}: only a pod's own CREATE is injected`, warnings: [] });
  }
  const policy = injectionDecision(pod, review.namespace, config);
  if (!policy.inject) return answer({ injected: false, reason: policy.reason, warnings: policy.warning === undefined ? [] : [policy.warning] });

  const reading = readPodAnnotations(pod, config);
  if (!reading.valid) {
    const where = `pod ${review.namespace}/${review.podName}`;
    if (config.failOpen) {
      const warnings = [...reading.errors.map((error) => `no dubbo-mesh sidecar: ${error}`), ...reading.warnings];
      return answer({ injected: false, reason: `invalid annotations (fail-open): ${reading.errors.join('; ')}`, warnings });
    }
    const message = `dubbo-mesh: ${where}: ${reading.errors.join('; ')}`;
    return {
      review: admissionResponse(review, { allowed: false, status: { code: REFUSED_CODE, reason: 'BadRequest', message }, warnings: reading.warnings }),
      decision: { injected: false, reason: `refused: ${reading.errors.join('; ')}`, warnings: reading.warnings },
    };
  }

  if (reading.clashes !== undefined) {
    // A default port the pod already uses: not the pod's fault, so it starts, without a sidecar.
    const warnings = [...reading.warnings, ...reading.clashes.map((clash) => `no dubbo-mesh sidecar: ${clash}`)];
    return answer({ injected: false, reason: reading.clashes.join('; '), warnings });
  }

  let result: ReturnType<typeof injectPod>;
  let patch: unknown[];
  try {
    result = injectPod(pod, reading.settings, config);
    patch = result.injected ? createJsonPatch(pod, result.pod) : [];
  } catch (error) {
    const problem = `the injector failed: ${error instanceof Error ? error.message : String(error)}`;
    return answer({ injected: false, reason: problem, warnings: [...reading.warnings, `no dubbo-mesh sidecar: ${problem}`] });
  }
  const warnings = [...reading.warnings, ...result.warnings];
  if (!result.injected) return answer({ injected: false, reason: result.reason, warnings });
  return answer({ injected: true, reason: `injected (${result.status.mode} sidecar, Java recipe ${result.status.recipe})`, warnings }, patch);
}
