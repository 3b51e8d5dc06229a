/**
 * The process-wide budget of bytes queued in the partition workers (PROCESSOR_MAX_QUEUED_BYTES_TOTAL),
 * beside each partition's own bounds, so the memory the queues take does not grow with the number of
 * partitions this process is assigned (docs/operations.md, "Processor memory: queued records").
 *
 * Each worker holds a share and reports the bytes it holds. A partition's fetching pauses when the whole
 * process is at the budget and the partition holds at least its fair share (budget / partitions); it
 * resumes when the process is back under half the budget or the partition under half its share. A
 * partition below its share can always fetch, so a busy partition that filled the budget never starves
 * the others: the budget slows the partitions that hold the most, never the ones that hold little.
 *
 * The total can therefore exceed the budget: by what partitions below their share fetch while others
 * hold more than theirs (at most the budget again), and by the batches already fetched when a pause
 * comes (kafkajs delivers those; it stops fetching a paused partition only from the next fetch on).
 *
 * Pauses and resumes are driven from here, not by the worker, because another partition's progress is
 * what lets a paused one go on.
 */

/** Where a share's pauses go (the processor's Assignment, reason 'budget'). */
export interface ShareFetch {
  pause(): void;
  resume(): void;
}

/** Resume below this fraction of the budget or of the fair share (as the per-partition bounds do). */
const RESUME_FRACTION = 0.5;

export class QueueBudget {
  private readonly shares = new Set<BudgetShare>();
  private total = 0;

  /** `onPause` is told each time a share's fetching is paused for the budget. */
  constructor(
    readonly maxBytes: number,
    private readonly onPause: () => void = () => undefined,
  ) {}

  /** Bytes queued over every share. */
  get queuedBytes(): number {
    return this.total;
  }

  /** A share for one partition's worker; release it when the worker's queue is dropped. */
  join(fetch: ShareFetch): BudgetShare {
    const share = new BudgetShare(this, fetch);
    this.shares.add(share);
    this.balance();
    return share;
  }

  /** @internal Called by a share whose bytes changed. */
  changed(delta: number): void {
    this.total += delta;
    this.balance();
  }

  /** @internal Called by a share that leaves: its pause is dropped with its worker, not resumed. */
  left(share: BudgetShare): void {
    this.shares.delete(share);
    this.total -= share.bytes;
    this.balance();
  }

  /** Pauses the shares that must stop and resumes those that may go on (a few dozen at most). */
  private balance(): void {
    const fair = this.maxBytes / Math.max(1, this.shares.size);
    for (const s of this.shares) {
      if (!s.paused && this.total >= this.maxBytes && s.bytes >= fair) {
        s.setPaused(true);
        this.onPause();
      } else if (
        s.paused &&
        (this.total < this.maxBytes * RESUME_FRACTION || s.bytes < fair * RESUME_FRACTION)
      ) {
        s.setPaused(false);
      }
    }
  }
}

export class BudgetShare {
  private held = 0;
  private isPaused = false;
  private released = false;

  constructor(
    private readonly budget: QueueBudget,
    private readonly fetch: ShareFetch,
  ) {}

  get bytes(): number {
    return this.held;
  }

  /** True while this partition's fetching is paused for the budget. */
  get paused(): boolean {
    return this.isPaused;
  }

  /** The bytes this partition now holds. */
  update(bytes: number): void {
    if (this.released || bytes === this.held) return;
    const delta = bytes - this.held;
    this.held = bytes;
    this.budget.changed(delta);
  }

  /** The worker is gone: its bytes leave the budget. Its pause is not resumed here (the partition may
   * already belong to a new worker, whose pauses are its own); the takeover clears it. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.budget.left(this);
  }

  /** @internal */
  setPaused(paused: boolean): void {
    this.isPaused = paused;
    if (paused) this.fetch.pause();
    else this.fetch.resume();
  }
}
