/**
 * The consumer of the raw topic, kept running: started once, replaced after a crash kafkajs would have
 * restarted from (with a growing backoff while replacements fail to start: the broker is away), and
 * replaced when a replacement does not join its group within PROCESSOR_REJOIN_TIMEOUT (rejoin-watchdog.ts).
 *
 * kafkajs restarts a crashed consumer by itself, but two crashes in quick succession (a fetch and a
 * heartbeat failing together when the broker comes back) each schedule a restart, and both run: two
 * runners of one consumer, one of them an orphan that pause, resume and seek no longer reach. Seen in
 * test/e2e/processor-broker-outage.test.ts as a processor that took its partitions over and then
 * consumed nothing. So kafkajs never restarts it (kafka.ts) and the supervisor replaces it, once.
 *
 * Events of a consumer that has since been replaced are ignored: if a stuck one wakes up and joins, it is
 * disconnected again, so it cannot hold partitions nobody processes.
 */
import { cappedBackoff } from '../../lib/backoff';
import type { Logger } from '../../lib/logger';
import { withTimeout } from '../../lib/timeout';
import type { PartitionConsumer } from '../assignment/state';
import { bounded } from '../assignment/takeover';
import { RejoinWatchdog } from '../rejoin-watchdog';
import type { RawRecord } from '../types';

/** One fetched batch of one partition of the raw topic. */
export interface RawBatch {
  partition: number;
  records: RawRecord[];
  /** Where the fetch started (a batch starting later only skipped markers or aborted records). */
  fetchedOffset: bigint;
  lastOffset: bigint;
}

/** What a consumer reports to its supervisor. */
export interface ConsumerEvents {
  /** Joined the group with these partitions of the raw topic. */
  joined(partitions: number[]): void;
  /** Crashed; `restartable` when its cause is transient (kafka.ts transientCrash). */
  crashed(err: unknown, restartable: boolean): void;
  /** A fetched batch; `accept` marks it consumed. */
  batch(batch: RawBatch, accept: () => void): Promise<void>;
}

export interface SupervisedConsumer extends PartitionConsumer {
  /** Connects, subscribes and runs. */
  start(): Promise<void>;
  disconnect(): Promise<void>;
}

export interface SupervisorOptions {
  create(events: ConsumerEvents): SupervisedConsumer;
  onAssignment(partitions: number[]): void;
  onBatch(batch: RawBatch, accept: () => void): Promise<void>;
  /** The consumer crashed for good (the CLI exits non-zero). */
  onFatal(err: unknown): void;
  /** A consumer that did not rejoin is replaced (nylas_stream_processor_consumer_replacements_total). */
  onStuck(): void;
  rejoinTimeoutMs: number;
  /** Bound of starting a replacement (PROCESSOR_TAKEOVER_TIMEOUT). */
  startTimeoutMs: number;
  log: Logger;
}

/** Retry delays of replacements that fail to start (attempt = failures in a row). */
export const REPLACEMENT_BACKOFF = { baseMs: 100, maxMs: 30_000 };
/** A stuck consumer may not manage to leave either: a replacement goes on after this bound. */
const DISCONNECT_BOUND_MS = 10_000;

export class ConsumerSupervisor implements PartitionConsumer {
  private consumer: SupervisedConsumer | undefined;
  private replacing = false;
  private replacementTimer: NodeJS.Timeout | undefined;
  /** Replacements in a row that failed to start (backoff); reset when a consumer joins. */
  private replacementFailures = 0;
  private readonly watchdog: RejoinWatchdog;
  private closed = false;

  constructor(private readonly o: SupervisorOptions) {
    this.watchdog = new RejoinWatchdog(o.rejoinTimeoutMs, () => {
      void this.replace('stuck');
    });
  }

  /** Starts the first consumer. */
  async start(): Promise<void> {
    await this.startConsumer();
  }

  private async startConsumer(): Promise<SupervisedConsumer> {
    const consumer: SupervisedConsumer = this.o.create({
      joined: (partitions) => {
        if (this.consumer !== consumer) {
          this.o.log.warn('a replaced consumer joined the group late; disconnecting it');
          void consumer.disconnect().catch(() => undefined);
          return;
        }
        this.watchdog.joined();
        this.replacementFailures = 0;
        this.o.onAssignment(partitions);
      },
      crashed: (err, restartable) => {
        if (this.consumer !== consumer) return;
        this.o.log.error(
          { err, retriable: restartable },
          restartable ? 'consumer crashed; replacing it' : 'consumer crashed for good',
        );
        if (this.closed) return;
        if (restartable) this.scheduleReplacement('crashed');
        else this.o.onFatal(err);
      },
      batch: async (batch, accept) => {
        if (this.consumer === consumer) await this.o.onBatch(batch, accept);
      },
    });
    this.consumer = consumer;
    await consumer.start();
    return consumer;
  }

  /** One replacement at a time, after a backoff that grows while replacements fail (the broker is away). */
  private scheduleReplacement(reason: 'crashed' | 'stuck'): void {
    if (this.closed || this.replacing || this.replacementTimer) return;
    const delay = cappedBackoff(
      this.replacementFailures,
      REPLACEMENT_BACKOFF.baseMs,
      REPLACEMENT_BACKOFF.maxMs,
    );
    this.replacementTimer = setTimeout(() => {
      this.replacementTimer = undefined;
      void this.replace(reason);
    }, delay);
  }

  /**
   * Drops the consumer and starts a new one in this process: after a crash kafkajs would have restarted
   * from ('crashed'), or when a replacement did not join the group within PROCESSOR_REJOIN_TIMEOUT
   * ('stuck'). The new member's assignment goes through onAssignment like any rebalance.
   */
  async replace(reason: 'crashed' | 'stuck'): Promise<void> {
    if (this.closed || this.replacing) return;
    this.replacing = true;
    const old = this.consumer;
    this.consumer = undefined; // pause/resume/seek wait for the next assignment meanwhile
    if (reason === 'stuck') this.o.onStuck();
    try {
      if (old)
        await withTimeout(
          old.disconnect().catch(() => undefined),
          DISCONNECT_BOUND_MS,
        );
      if (this.closed) return;
      // The new consumer must join within the bound, or it is replaced in turn. Armed before it starts:
      // its join (which disarms) can come before startConsumer returns.
      this.watchdog.crashed();
      const started = await bounded(
        'starting the replacement consumer',
        this.startConsumer(),
        this.o.startTimeoutMs,
      );
      // close() ran meanwhile and may have missed the consumer being connected: leave nothing running.
      if (this.closed) {
        await started.disconnect().catch(() => undefined);
        return;
      }
      this.o.log.info({ reason }, 'replacement consumer started');
    } catch (err) {
      // The broker may still be away: try again, later each time (the next attempt arms the watchdog).
      this.watchdog.joined();
      this.replacementFailures++;
      this.o.log.error(
        { err, failures: this.replacementFailures },
        'starting a replacement consumer failed; trying again',
      );
      this.replacing = false;
      this.scheduleReplacement(reason);
    } finally {
      this.replacing = false;
    }
  }

  /**
   * kafkajs's pause, resume and seek throw while the consumer is between a crash and its own restart
   * ("Consumer group was not initialized"), which is exactly when a broker outage also fails partition
   * transactions: thrown from a worker-failure handler, that became an unhandled rejection and exited the
   * process. Skipping is safe: the restarted consumer rejoins, and the new assignment seeks the partitions
   * it keeps, pauses the ones to take over and re-applies every pause still wanted.
   */
  private onConsumer(what: string, fn: (consumer: SupervisedConsumer) => void): void {
    const consumer = this.consumer;
    if (!consumer) return;
    try {
      fn(consumer);
    } catch (err) {
      this.o.log.warn({ err, what }, 'consumer not running (restarting); left to the next assignment');
    }
  }

  pause(partitions: number[]): void {
    this.onConsumer('pause', (c) => c.pause(partitions));
  }

  resume(partitions: number[]): void {
    this.onConsumer('resume', (c) => c.resume(partitions));
  }

  seek(partition: number, offset: string): void {
    this.onConsumer('seek', (c) => c.seek(partition, offset));
  }

  /** For the stall log. */
  describe(): { consumer: boolean; replacingConsumer: boolean; watchdogArmed: boolean } {
    return {
      consumer: this.consumer !== undefined,
      replacingConsumer: this.replacing,
      watchdogArmed: this.watchdog.armed,
    };
  }

  /** No more replacements; the consumer keeps running until disconnect(). */
  close(): void {
    this.closed = true;
    this.watchdog.close();
    if (this.replacementTimer) clearTimeout(this.replacementTimer);
  }

  async disconnect(): Promise<void> {
    await this.consumer?.disconnect().catch(() => undefined);
  }
}
