/**
 * Taking partitions over (processor.ts explains the fencing scheme): fence the previous owners → read
 * where each partition resumes → restore the stores → start the workers, seeking each partition to its
 * resume offset. The steps are behind a small interface (kafka-steps.ts gives the real ones), so the
 * order, the bounds and the retries are tested without a broker.
 *
 * Takeovers run one at a time; partitions that arrive meanwhile are taken together next (one restore).
 * Every step is bounded (PROCESSOR_TAKEOVER_TIMEOUT): a step that hangs fails the takeover, which is
 * retried after a capped backoff. A takeover that ends after its partition was revoked (or revoked and
 * given back: a newer epoch) is abandoned and releases what it fenced.
 */
import { cappedBackoff } from '../../lib/backoff';
import { ErrorCodes, NylasStreamError } from '../../lib/errors';
import type { Logger } from '../../lib/logger';
import { withTimeout } from '../../lib/timeout';
import type { Assignment } from './state';

export interface Restored<S> {
  stores: ReadonlyMap<number, S>;
  /** Per partition: restored from its local checkpoint ('tail') or from the changelog's start ('full'). */
  modes: ReadonlyMap<number, 'tail' | 'full'>;
  records: number;
  entries: number;
  seconds: number;
}

/** What a takeover does to Kafka and the state, step by step. */
export interface TakeoverSteps<P, S, W> {
  /** A producer for the partition's transactional id, connected and fenced (InitProducerId done). */
  fence(partition: number): Promise<P>;
  /** Disconnects a producer the takeover will not use. */
  release(producer: P): Promise<void>;
  /** The group's committed offsets (negative: none yet). */
  committedOffsets(): Promise<ReadonlyMap<number, bigint>>;
  /** The first offsets still in the log (where a partition without a committed offset starts). */
  logStartOffsets(): Promise<ReadonlyMap<number, bigint>>;
  restore(partitions: number[]): Promise<Restored<S>>;
  /** Lets go of a restored store the takeover will not use (its partition was revoked meanwhile). */
  discard(partition: number): Promise<void>;
  /** Builds and starts the worker of a partition taken over, resuming at `start`. */
  begin(partition: number, producer: P, store: S, start: bigint): W;
}

export interface TakeoverOptions<P, S, W> {
  assignment: Assignment<W>;
  steps: TakeoverSteps<P, S, W>;
  /** PROCESSOR_TAKEOVER_TIMEOUT: the bound of each step. */
  timeoutMs: number;
  log: Logger;
  /** Each restore's figures (nylas_stream_processor_state_restore_seconds and the restore counters). */
  onRestored(restored: Restored<unknown>): void;
}

/** Retry delays of a failed takeover (attempt = failures in a row). */
export const TAKEOVER_BACKOFF = { baseMs: 250, maxMs: 30_000 };

/** Waits for `work` at most `ms`; a step that hangs fails with TAKEOVER_TIMEOUT (retriable). */
export async function bounded<T>(what: string, work: Promise<T>, ms: number): Promise<T> {
  const result = await withTimeout(work, ms);
  if (result === 'timeout') {
    // The hung call itself is not cancelled; whatever it holds (a producer) is disconnected by the
    // failure path, which makes kafkajs reject it.
    work.catch(() => undefined);
    throw new NylasStreamError(
      ErrorCodes.TAKEOVER_TIMEOUT,
      `${what} did not finish within ${ms} ms (PROCESSOR_TAKEOVER_TIMEOUT)`,
      { retriable: true },
    );
  }
  return result;
}

export class Takeovers<P, S, W> {
  private readonly timers = new Set<NodeJS.Timeout>();
  private running: Promise<void> | undefined;
  private closed = false;

  constructor(private readonly o: TakeoverOptions<P, S, W>) {}

  /** True while a takeover runs. */
  get busy(): boolean {
    return this.running !== undefined;
  }

  /** Takes `p` over after `delayMs`, if it is still in the epoch it is in now. */
  schedule(p: number, delayMs: number): void {
    const epoch = this.o.assignment.epochOf(p);
    const go = () => {
      if (!this.closed && this.o.assignment.request(p, epoch)) this.kick();
    };
    if (delayMs <= 0) {
      go();
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      go();
    }, delayMs);
    this.timers.add(timer);
  }

  /** No more takeovers: scheduled ones are dropped. */
  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  /** Resolves when the takeover in flight (if any) has ended. */
  async idle(): Promise<void> {
    await this.running?.catch(() => undefined);
  }

  private kick(): void {
    if (this.running || this.closed) return;
    const { assignment } = this.o;
    this.running = (async () => {
      while (assignment.hasPending && !this.closed) {
        // Let the rest of a GROUP_JOIN's partitions gather into the same takeover (one restore).
        await new Promise((r) => setImmediate(r));
        const partitions = assignment.takePending();
        if (partitions.length > 0) await this.takeover(partitions);
      }
    })().finally(() => {
      this.running = undefined;
      if (assignment.hasPending) this.kick();
    });
  }

  private async takeover(partitions: number[]): Promise<void> {
    const { assignment, steps, timeoutMs } = this.o;
    const epochs = new Map(partitions.map((p) => [p, assignment.epochOf(p)]));
    const producers = new Map<number, P>();
    try {
      await bounded(
        'fencing the previous owners (InitProducerId)',
        Promise.all(
          partitions.map(async (p) => {
            producers.set(p, await steps.fence(p));
          }),
        ),
        timeoutMs,
      );
      const resume = await this.resumeOffsets(partitions);
      // Not bounded in total here: a full restore of a large changelog takes minutes. The restore fails
      // itself when the changelog stops arriving for PROCESSOR_TAKEOVER_TIMEOUT (state/restore.ts).
      const restored = await steps.restore(partitions);
      this.o.onRestored(restored);
      this.o.log.info(
        {
          partitions,
          modes: Object.fromEntries(restored.modes),
          records: restored.records,
          entries: restored.entries,
          seconds: restored.seconds,
          entriesPerSecond: restored.seconds > 0 ? Math.round(restored.entries / restored.seconds) : null,
        },
        'partitions taken over (fenced, state restored)',
      );
      for (const p of partitions) {
        const producer = producers.get(p);
        producers.delete(p);
        if (producer === undefined) continue;
        if (!assignment.current(p, epochs.get(p) ?? -1)) {
          await steps.release(producer).catch(() => undefined);
          if (!assignment.isAssigned(p)) await steps.discard(p).catch(() => undefined);
          continue;
        }
        const store = restored.stores.get(p);
        if (store === undefined) throw new Error(`restore returned no store for partition ${p}`);
        const start = resume.get(p) ?? -1n;
        assignment.activate(p, steps.begin(p, producer, store, start), start.toString());
      }
    } catch (err) {
      for (const producer of producers.values()) await steps.release(producer).catch(() => undefined);
      for (const p of partitions) {
        const failures = assignment.takeoverFailed(p);
        if (!assignment.isAssigned(p)) await steps.discard(p).catch(() => undefined);
        if (failures === undefined || this.closed) continue;
        const delay = cappedBackoff(failures, TAKEOVER_BACKOFF.baseMs, TAKEOVER_BACKOFF.maxMs);
        this.o.log.warn({ err, partition: p, failures, retryInMs: delay }, 'takeover failed, retrying');
        this.schedule(p, delay);
      }
    }
  }

  /**
   * Where each partition resumes: the group's committed offset, or, when it has none yet, the log start
   * offset (the group's reset policy). Never "wherever the consumer's fetch happens to be".
   */
  private async resumeOffsets(partitions: number[]): Promise<Map<number, bigint>> {
    const { steps, timeoutMs } = this.o;
    const resume = new Map(
      await bounded('reading the committed offsets', steps.committedOffsets(), timeoutMs),
    );
    const fresh = partitions.filter((p) => (resume.get(p) ?? -1n) < 0n);
    if (fresh.length > 0) {
      const starts = await bounded('reading the log start offsets', steps.logStartOffsets(), timeoutMs);
      for (const [p, low] of starts) if (fresh.includes(p)) resume.set(p, low);
    }
    for (const p of partitions) {
      if ((resume.get(p) ?? -1n) < 0n) throw new Error(`no start offset known for partition ${p}`);
    }
    return resume;
  }
}
