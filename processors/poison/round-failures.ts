/**
 * What the processor does when a partition's round keeps failing and no stage could blame one record
 * (issue: "no record can stop a partition"). The stages dead-letter every failure they can attribute
 * (processors/pipeline.ts); this covers the rest: a bug one record triggers, a produce the broker refuses
 * for a reason no stage foresaw.
 *
 * Pure bookkeeping per input partition, driven by processor.ts; no Kafka, no timers:
 *
 * 1. A failure is `transient` when the broker or network is at fault (connection lost, request timed
 *    out, a retriable protocol error): retried with backoff for as long as it lasts and never counted,
 *    because a broker outage must never end with a healthy record dead-lettered.
 * 2. Any other failure is counted against the offset the partition resumes from. Below `maxAttempts`
 *    the round is retried whole, after a growing backoff (the failure may still be a transient one we
 *    cannot recognise).
 * 3. At `maxAttempts` the partition is isolated: its next rounds take at most half the records of the
 *    round that failed, and every further failure halves again (a bisection: ~log2(round size) steps),
 *    while rounds that succeed commit and move on. A round of one record that fails has found the
 *    culprit: the next owner dead-letters that record, without running it through the pipeline, as a
 *    re-drivable POISON_ISOLATED dead letter, and the partition goes on.
 * 4. Isolation ends once the partition has committed past the end of the round that first failed.
 *
 * A partition revoked from this instance forgets its entry; the next owner starts counting anew (a
 * bounded cost: at most one more round of attempts).
 */

import { cappedBackoff } from '../../lib/backoff';

export type FailureKind = 'transient' | 'countable';

/** What a failed round tells the tracker. */
export interface FailedRound {
  kind: FailureKind;
  /** The offset the partition resumes from (the group's committed offset, or the reset position). */
  resumeFrom: bigint;
  /** Offsets of the records the failed round held (empty when it failed before taking any). */
  offsets: readonly bigint[];
  /** The offset after the last record the round took (the end of the suspect range). */
  takenThrough: bigint;
}

/** How the next owner of the partition must run. */
export interface RecoveryPlan {
  /** Rounds take at most this many records while the committed offset is below `isolateUntil`. */
  maxRecordsPerRound?: number;
  isolateUntil?: bigint;
  /** Records to dead-letter as POISON_ISOLATED instead of processing them. */
  quarantine: ReadonlySet<string>;
}

export interface RoundFailuresOptions {
  /** Countable failures at one offset before isolating (≥ 1). */
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
}

interface PartitionFailures {
  at: bigint;
  attempts: number;
  /** Failures in a row of any kind, for the backoff. */
  streak: number;
  isolation?: { maxRecords: number; until: bigint };
  quarantine: Set<string>;
}

export interface FailureVerdict {
  /** Wait this long before the next takeover. */
  delayMs: number;
  /** Set when this failure made the tracker isolate (or narrow) the partition, for the log. */
  isolating?: { maxRecordsPerRound: number; until: string };
  /** Set when this failure found the record to quarantine. */
  quarantined?: string;
}

export class RoundFailures {
  private readonly partitions = new Map<number, PartitionFailures>();

  constructor(private readonly options: RoundFailuresOptions) {}

  failed(partition: number, round: FailedRound): FailureVerdict {
    const state = this.partitions.get(partition) ?? {
      at: round.resumeFrom,
      attempts: 0,
      streak: 0,
      quarantine: new Set<string>(),
    };
    this.partitions.set(partition, state);
    state.streak++;
    const delayMs = this.backoff(state.streak);
    if (round.kind === 'transient') return { delayMs };

    if (state.at !== round.resumeFrom) {
      state.at = round.resumeFrom;
      state.attempts = 0;
    }
    state.attempts++;
    const size = round.offsets.length;
    if (state.isolation) {
      // Already bisecting: one failure is enough to narrow further (the suspect range is known bad).
      if (size <= 1) return { delayMs, ...this.quarantine(state, round) };
      state.isolation.maxRecords = Math.max(1, Math.ceil(size / 2));
      return { delayMs, isolating: describeIsolation(state.isolation) };
    }
    if (state.attempts < this.options.maxAttempts) return { delayMs };
    if (size <= 1) return { delayMs, ...this.quarantine(state, round) };
    state.isolation = { maxRecords: Math.ceil(size / 2), until: round.takenThrough };
    return { delayMs, isolating: describeIsolation(state.isolation) };
  }

  /** The partition committed up to `next` (exclusive). */
  committed(partition: number, next: bigint): void {
    const state = this.partitions.get(partition);
    if (!state) return;
    state.streak = 0;
    for (const o of state.quarantine) if (BigInt(o) < next) state.quarantine.delete(o);
    if (state.isolation && next >= state.isolation.until) state.isolation = undefined;
    if (next > state.at) {
      state.at = next;
      state.attempts = 0;
    }
    if (!state.isolation && state.quarantine.size === 0 && state.attempts === 0) {
      this.partitions.delete(partition);
    }
  }

  plan(partition: number): RecoveryPlan {
    const state = this.partitions.get(partition);
    if (!state) return { quarantine: new Set() };
    return {
      quarantine: new Set(state.quarantine),
      ...(state.isolation
        ? { maxRecordsPerRound: state.isolation.maxRecords, isolateUntil: state.isolation.until }
        : {}),
    };
  }

  /** Countable failures at the partition's current offset (for the log and tests). */
  attempts(partition: number): number {
    return this.partitions.get(partition)?.attempts ?? 0;
  }

  forget(partition: number): void {
    this.partitions.delete(partition);
  }

  private quarantine(state: PartitionFailures, round: FailedRound): { quarantined?: string } {
    // With one record left (or a resubmitted lane beside it, see partition.ts) the lowest offset is
    // the one that failed alone.
    let culprit = round.offsets[0];
    for (const o of round.offsets) if (culprit === undefined || o < culprit) culprit = o;
    if (culprit === undefined) return {};
    state.quarantine.add(culprit.toString());
    return { quarantined: culprit.toString() };
  }

  private backoff(streak: number): number {
    return cappedBackoff(streak - 1, this.options.backoffBaseMs, this.options.backoffMaxMs);
  }
}

function describeIsolation(iso: { maxRecords: number; until: bigint }): FailureVerdict['isolating'] {
  return { maxRecordsPerRound: iso.maxRecords, until: iso.until.toString() };
}
