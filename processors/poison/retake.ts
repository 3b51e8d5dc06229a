/**
 * What follows a partition worker's failure, when the partition is still ours: when to take it over
 * again, and what to count and log. Fenced means another instance took the partition: the rebalance is
 * given time to revoke it here before fencing back. Any other failure goes through the round-failure
 * tracker (round-failures.ts), which backs off and narrows rounds until a culprit record is found.
 */
import { classifyRoundFailure, RoundFailure } from './classify';
import type { FailureKind, RoundFailures } from './round-failures';

export interface WorkerFailure {
  err: unknown;
  partition: number;
  /** The failed worker's committed offset (where the next takeover resumes). */
  committedNext: bigint;
  fenced: boolean;
}

export interface RetakePlan {
  delayMs: number;
  /** For nylas_stream_processor_round_failures_total; none for a fenced partition. */
  kind?: FailureKind;
  /** The error log of a round failure; none for a fenced partition (logged as fenced already). */
  log?: { fields: Record<string, unknown>; message: string };
}

export function planRetake(f: WorkerFailure, failures: RoundFailures, sessionTimeoutMs: number): RetakePlan {
  if (f.fenced) return { delayMs: Math.floor(sessionTimeoutMs / 2) };
  const kind = classifyRoundFailure(f.err);
  const round = f.err instanceof RoundFailure ? f.err : undefined;
  const verdict = failures.failed(f.partition, {
    kind,
    resumeFrom: f.committedNext,
    offsets: round?.offsets ?? [],
    takenThrough: round?.takenThrough ?? f.committedNext,
  });
  const fields = {
    err: f.err,
    partition: f.partition,
    kind,
    resumeFrom: f.committedNext.toString(),
    attempts: failures.attempts(f.partition),
    retryInMs: verdict.delayMs,
    ...(verdict.isolating ? { isolating: verdict.isolating } : {}),
    ...(verdict.quarantined ? { quarantined: verdict.quarantined } : {}),
  };
  const message = verdict.quarantined
    ? 'a record failed alone: it will be dead-lettered as POISON_ISOLATED'
    : verdict.isolating
      ? 'rounds keep failing at this offset: narrowing them to isolate the record'
      : 'partition transaction failed; aborting and taking over again';
  return { delayMs: verdict.delayMs, kind, log: { fields, message } };
}
