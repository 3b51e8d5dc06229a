/**
 * Which input partitions this process holds and in what state, as a pure state machine over the
 * consumer's pause, resume and seek (no timers, no Kafka; the processor and the takeover unit drive it).
 *
 * A partition is assigned (the group gave it to us) and, once taken over, active (it has a worker).
 * Every (re)assignment and revocation bumps its epoch: a takeover applies only to the epoch it started
 * in, so one that finishes after the partition was revoked, or revoked and given back, is abandoned
 * instead of starting a second worker. Fetching is paused for as long as any reason holds: 'takeover'
 * (not active yet: the takeover seeks it), 'backpressure' (its worker's queue is full) and 'budget' (the
 * process-wide queue budget, processors/queue-budget.ts).
 */

export type PauseReason = 'takeover' | 'backpressure' | 'budget';

/** The consumer calls the state machine makes, by partition of the raw topic. */
export interface PartitionConsumer {
  pause(partitions: number[]): void;
  resume(partitions: number[]): void;
  seek(partition: number, offset: string): void;
}

export interface AssignmentChange<W> {
  /** Partitions no longer ours, with their workers (to stop), if they had one. */
  revoked: Array<{ partition: number; worker: W | undefined }>;
  /** Partitions kept with their workers (kafkajs re-fetches them from the committed offset). */
  kept: Array<{ partition: number; worker: W }>;
  /** Partitions to take over now (paused until then). */
  takeovers: number[];
}

/** Why a failed worker's partition is or is not taken over again. */
export type WorkerFailure = 'stale' | 'gone' | 'retake';

export class Assignment<W> {
  private assigned = new Set<number>();
  private readonly workers = new Map<number, W>();
  private readonly epochs = new Map<number, number>();
  private readonly pauses = new Map<number, Set<PauseReason>>();
  private readonly pending = new Set<number>();
  private readonly failures = new Map<number, number>();
  private closed = false;

  constructor(private readonly consumer: PartitionConsumer) {}

  /** The group's new assignment for this member. */
  assign(partitions: readonly number[]): AssignmentChange<W> {
    const next = new Set(partitions);
    const change: AssignmentChange<W> = { revoked: [], kept: [], takeovers: [] };
    for (const p of this.assigned)
      if (!next.has(p)) change.revoked.push({ partition: p, worker: this.revoke(p) });
    for (const p of next) {
      const worker = this.workers.get(p);
      if (this.assigned.has(p) && worker !== undefined) {
        change.kept.push({ partition: p, worker });
        continue;
      }
      if (!this.assigned.has(p)) this.bumpEpoch(p);
      this.pause(p, 'takeover');
      change.takeovers.push(p);
    }
    this.assigned = next;
    // A consumer restarted by kafkajs after a crash has forgotten its paused partitions.
    const paused = [...this.pauses.keys()].filter((p) => next.has(p));
    if (paused.length > 0) this.consumer.pause(paused);
    return change;
  }

  private revoke(p: number): W | undefined {
    this.bumpEpoch(p);
    this.pending.delete(p);
    this.failures.delete(p);
    this.pauses.delete(p);
    this.consumer.resume([p]);
    const worker = this.workers.get(p);
    this.workers.delete(p);
    return worker;
  }

  pause(p: number, reason: PauseReason): void {
    const set = this.pauses.get(p) ?? new Set();
    set.add(reason);
    this.pauses.set(p, set);
    this.consumer.pause([p]);
  }

  unpause(p: number, reason: PauseReason): void {
    const set = this.pauses.get(p);
    set?.delete(reason);
    if (!set || set.size === 0) {
      this.pauses.delete(p);
      if (!this.closed) this.consumer.resume([p]);
    }
  }

  /** The epoch a takeover of `p` starts in (and must still be current when it ends). */
  epochOf(p: number): number {
    return this.epochs.get(p) ?? 0;
  }

  /** A takeover scheduled in `epoch` is due: queued unless the partition moved on meanwhile. */
  request(p: number, epoch: number): boolean {
    if (this.epochOf(p) !== epoch || this.closed) return false;
    this.pending.add(p);
    return true;
  }

  get hasPending(): boolean {
    return this.pending.size > 0;
  }

  /** The queued takeovers still wanted (assigned, not active), all at once. */
  takePending(): number[] {
    const partitions = [...this.pending].filter((p) => this.assigned.has(p) && !this.workers.has(p));
    this.pending.clear();
    return partitions;
  }

  /** True when a takeover started in `epoch` may still install a worker for `p`. */
  current(p: number, epoch: number): boolean {
    return !this.closed && this.assigned.has(p) && this.epochOf(p) === epoch && !this.workers.has(p);
  }

  /** Takeover done: the partition resumes fetching at `offset`. */
  activate(p: number, worker: W, offset: string): void {
    this.workers.set(p, worker);
    this.failures.delete(p);
    this.consumer.seek(p, offset);
    this.unpause(p, 'takeover');
  }

  /** A takeover of `p` failed: the failures in a row (for the backoff), or undefined when it no longer
   * matters (revoked, taken over meanwhile, closing). */
  takeoverFailed(p: number): number | undefined {
    if (!this.assigned.has(p) || this.workers.has(p) || this.closed) return undefined;
    const failures = (this.failures.get(p) ?? 0) + 1;
    this.failures.set(p, failures);
    return failures;
  }

  /** A worker failed: 'stale' when it was no longer p's worker, 'gone' when p is no longer ours (or we
   * are closing), 'retake' when p is paused under a new epoch for another takeover. */
  workerFailed(p: number, worker: W): WorkerFailure {
    if (this.workers.get(p) !== worker) return 'stale';
    this.workers.delete(p);
    // The dead worker's queue pauses (backpressure, budget) die with it: left in place, one kept the partition paused
    // after the next takeover (whose new, empty worker never asks to resume), silently and for ever.
    // Seen as a processor that stopped consuming after a broker outage (round-failures.test.ts).
    this.pauses.get(p)?.delete('backpressure');
    this.pauses.get(p)?.delete('budget');
    if (!this.assigned.has(p) || this.closed) return 'gone';
    this.pause(p, 'takeover');
    this.bumpEpoch(p);
    return 'retake';
  }

  private bumpEpoch(p: number): void {
    this.epochs.set(p, this.epochOf(p) + 1);
  }

  worker(p: number): W | undefined {
    return this.workers.get(p);
  }

  /** Assigned partitions that are processing (taken over). */
  get active(): number[] {
    return [...this.workers.keys()].sort((a, b) => a - b);
  }

  get partitions(): number[] {
    return [...this.assigned].sort((a, b) => a - b);
  }

  isAssigned(p: number): boolean {
    return this.assigned.has(p);
  }

  /** Every assigned partition taken over. */
  get complete(): boolean {
    return [...this.assigned].every((p) => this.workers.has(p));
  }

  /** Where a partition stands, for the stall log. */
  describe(p: number): { pauses: PauseReason[]; takeoverPending: boolean; takeoverFailures: number } {
    return {
      pauses: [...(this.pauses.get(p) ?? [])],
      takeoverPending: this.pending.has(p),
      takeoverFailures: this.failures.get(p) ?? 0,
    };
  }

  /** Shutting down: nothing is resumed or taken over any more; fetching of every partition pauses. */
  close(pauseAll: boolean): void {
    this.closed = true;
    if (pauseAll) this.consumer.pause([...this.assigned]);
  }

  /** Removes and returns every worker (shutdown). */
  takeWorkers(): W[] {
    const workers = [...this.workers.values()];
    this.workers.clear();
    return workers;
  }
}
