import { API_GROUP, API_GROUP_VERSION, kindDefinition } from '@dubbo-mesh/config';
import type { Snapshot, SnapshotSink } from '@dubbo-mesh/control-plane';
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import type { Clock } from './clock.js';
import { LeaderWriter } from './leader-writer.js';
import { array, record, text, type KubeObject } from './kube-objects.js';
import type { KubernetesSource } from './kubernetes-source.js';
import type { Leadership } from './leadership.js';

/** The condition every mesh custom resource gets (SPEC). */
export const ACCEPTED_CONDITION = 'Accepted';

/** The `Accepted` condition as the status writer writes it. */
export interface AcceptedCondition {
  type: typeof ACCEPTED_CONDITION;
  status: 'True' | 'False';
  reason: 'Accepted' | 'Invalid';
  message: string;
  observedGeneration?: number;
  lastTransitionTime: string;
}

/** The longest message written (the API server takes 32 KiB; errors beyond are counted). */
const MAX_MESSAGE = 16_000;

/** What a resource's `Accepted` condition should say: every error when refused. */
export function desiredCondition(accepted: boolean, errors: readonly string[], generation: number | undefined): Omit<AcceptedCondition, 'lastTransitionTime'> {
  let message = accepted ? 'valid; in force' : errors.join('; ');
  if (message.length > MAX_MESSAGE) message = `${message.slice(0, MAX_MESSAGE)} … (${errors.length} errors in all)`;
  return {
    type: ACCEPTED_CONDITION,
    status: accepted ? 'True' : 'False',
    reason: accepted ? 'Accepted' : 'Invalid',
    message,
    ...(generation === undefined ? {} : { observedGeneration: generation }),
  };
}

/** The `Accepted` condition an object carries now, if any. */
function currentCondition(object: KubeObject | undefined): Record<string, unknown> | undefined {
  return array(record(object?.status)?.conditions)
    .map(record)
    .find((condition) => condition?.type === ACCEPTED_CONDITION);
}

function sameCondition(current: Record<string, unknown> | undefined, desired: Omit<AcceptedCondition, 'lastTransitionTime'>): boolean {
  return (
    current !== undefined &&
    current.status === desired.status &&
    current.reason === desired.reason &&
    current.message === desired.message &&
    current.observedGeneration === desired.observedGeneration
  );
}

/** Options of the status writer. */
export interface StatusWriterOptions {
  readonly source: KubernetesSource;
  readonly kubeConfig: KubeConfig;
  readonly leadership: Leadership;
  readonly clock?: Clock;
  readonly wallClock?: () => Date;
  /** Writes in flight at once (default 8). */
  readonly concurrency?: number;
  /** After a failed write, the next attempt (default 5 s). */
  readonly retryMs?: number;
  readonly log?: (level: 'info' | 'warn', message: string, fields: Record<string, unknown>) => void;
}

/**
 * Writes `status.conditions[type=Accepted]` of the mesh's custom resources (SPEC): `False`,
 * reason `Invalid`, with every error, for a refused one; `True` with `observedGeneration` for an
 * accepted one. Only while leading, and only when the condition would change (the object's
 * own status, as the informer last saw it, is compared first), so replicas and restarts do
 * not write in circles. A snapshot sink: told when a snapshot is published (what is in force
 * changed), and by the source when a refusal changed without a new snapshot.
 */
export class StatusWriter extends LeaderWriter implements SnapshotSink {
  readonly name = 'kubernetes-status';
  private readonly api: CustomObjectsApi;
  /** What was last written per object (`Kind/ns/name` → JSON of the condition), until the informer shows it. */
  private readonly written = new Map<string, string>();
  /** Writes made, failed (for tests and the log). */
  writes = 0;
  failures = 0;

  constructor(private readonly options: StatusWriterOptions) {
    super(options);
    this.api = options.kubeConfig.makeApiClient(CustomObjectsApi);
  }

  onPublished(_snapshot: Snapshot): void {
    this.sync();
  }

  protected async pass(): Promise<boolean> {
    const pending: Array<() => Promise<void>> = [];
    let failed = false;
    for (const outcome of this.options.source.outcomes()) {
      const desired = desiredCondition(outcome.accepted, outcome.errors, outcome.generation);
      const object = this.options.source.object(outcome.kind, outcome.namespace, outcome.name);
      const current = currentCondition(object);
      const id = `${outcome.kind}/${outcome.namespace}/${outcome.name}`;
      const signature = JSON.stringify(desired);
      if (sameCondition(current, desired)) {
        this.written.delete(id);
        continue;
      }
      if (this.written.get(id) === signature) continue; // written; the informer has not shown it yet
      const conditions = array(record(object?.status)?.conditions)
        .map(record)
        .filter((condition): condition is Record<string, unknown> => condition !== undefined && condition.type !== ACCEPTED_CONDITION);
      // The transition time moves only when the status does (Kubernetes' condition convention).
      const lastTransitionTime =
        current?.status === desired.status && text(current.lastTransitionTime) !== undefined ? text(current.lastTransitionTime)! : this.now();
      const condition: AcceptedCondition = { ...desired, lastTransitionTime };
      const plural = kindDefinition(outcome.kind)?.names.plural;
      if (plural === undefined) continue;
      pending.push(async () => {
        // Leadership lost while this pass ran: the new leader writes from here.
        if (!this.mayWrite) return;
        try {
          await this.api.patchNamespacedCustomObjectStatus(
            {
              group: API_GROUP,
              version: API_GROUP_VERSION,
              namespace: outcome.namespace,
              plural,
              name: outcome.name,
              body: { status: { conditions: [...conditions, condition] } },
            },
            setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
          );
          this.written.set(id, signature);
          this.writes += 1;
        } catch (error) {
          if ((error as { code?: unknown }).code === 404) return; // deleted meanwhile
          failed = true;
          this.failures += 1;
          this.options.log?.('warn', `cannot write the status of ${outcome.kind} ${outcome.namespace}/${outcome.name}; retrying`, {
            error: error instanceof Error ? error.message.split('\n')[0] : String(error),
          });
        }
      });
    }
    const concurrency = this.options.concurrency ?? 8;
    const workers = Array.from({ length: Math.min(concurrency, pending.length) }, async () => {
      for (let job = pending.shift(); job !== undefined; job = pending.shift()) await job();
    });
    const before = this.writes;
    await Promise.all(workers);
    if (this.writes > before) this.options.log?.('info', 'wrote custom resource statuses', { written: this.writes - before });
    return failed;
  }

  private now(): string {
    return (this.options.wallClock ?? (() => new Date()))()
      .toISOString()
      .replace(/\.\d{3}Z$/, 'Z');
  }
}
