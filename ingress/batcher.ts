/**
 * Micro-batching: concurrent requests share one `sendBatch`, and each is answered when the batch that
 * carries its record is acknowledged (acks=all). kafkajs's idempotent producer allows one produce
 * request in flight per broker, so one-send-per-request would serialize every request behind the
 * previous one's round trip; here records that arrive while a batch is in flight simply form the next
 * batch. The first record after an idle period waits at most `lingerMs` for company.
 *
 * Every record has a deadline (received-at + ack budget). A record still unacknowledged at its
 * deadline is answered with ACK_TIMEOUT (503) — if its batch is acknowledged later, Kafka merely holds
 * a record Nylas will deliver again, which the processor deduplicates. The reverse never happens: a
 * record is resolved only by the acknowledgement of the batch that carried it.
 */
import type { Message, TopicMessages } from 'kafkajs';
import { ErrorCodes, NylasStreamError, TransientError } from '../lib/errors';
import { checkedSendBatch } from '../lib/kafkajs/send-coverage';
import type { Logger } from '../lib/logger';
import type { ProducerSource } from './producer';
import { messageBytes } from './record';

export interface BatcherOptions {
  lingerMs: number;
  maxRecords: number;
  maxBytes: number;
  /** A send taking longer than this is abandoned and its producer replaced. */
  sendTimeoutMs: number;
  /** Broker-side wait for the in-sync replicas (the produce request's `timeout`). */
  ackTimeoutMs: number;
}

export interface BatcherHooks {
  onBatchAcknowledged?: (records: number, latencyMs: number) => void;
  onBatchFailed?: (records: number, err: unknown) => void;
}

interface Entry {
  topic: string;
  /** Dropped (undefined) when the record is answered while still queued: nobody waits for it. */
  message: Message | undefined;
  bytes: number;
  settled: boolean;
  queued: boolean;
  timer: NodeJS.Timeout;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class ProduceBatcher {
  private queue: Entry[] = [];
  /** Entries in `queue` already answered (their message dropped), removed in bulk by compact(). */
  private settledInQueue = 0;
  private pendingBytesTotal = 0;
  private readonly pending = new Set<Entry>();
  private queuedRecords = 0;
  private queuedBytes = 0;
  private sending = false;
  private lingerTimer: NodeJS.Timeout | undefined;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly producers: ProducerSource,
    private readonly options: BatcherOptions,
    private readonly logger: Logger,
    private readonly hooks: BatcherHooks = {},
  ) {}

  /** Body bytes of records not yet answered (queued or in flight). */
  get pendingBytes(): number {
    return this.pendingBytesTotal;
  }

  get pendingRecords(): number {
    return this.pending.size;
  }

  /** Bytes of the messages the queue still references (what waits for a send, as held in memory). */
  get queuedBodyBytes(): number {
    let n = 0;
    for (const e of this.queue) if (e.message !== undefined) n += e.bytes;
    return n;
  }

  /**
   * Resolves once `message` is acknowledged by Kafka; rejects with a TransientError (ACK_TIMEOUT at
   * the deadline, KAFKA_UNAVAILABLE when its batch failed) otherwise.
   */
  publish(topic: string, message: Message, deadline: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const bytes = messageBytes(message);
      const entry: Entry = {
        topic,
        message,
        bytes,
        settled: false,
        queued: true,
        resolve,
        reject,
        timer: setTimeout(
          () =>
            this.settle(
              entry,
              new TransientError(
                ErrorCodes.ACK_TIMEOUT,
                'Kafka did not acknowledge the write within the ack budget',
              ),
            ),
          Math.max(0, deadline - Date.now()),
        ),
      };
      this.pendingBytesTotal += bytes;
      this.pending.add(entry);
      this.queuedRecords += 1;
      this.queuedBytes += bytes;
      this.queue.push(entry);
      this.schedule();
    });
  }

  /** Resolves when nothing is queued or in flight (used by graceful shutdown). */
  idle(): Promise<void> {
    if (this.pending.size === 0 && !this.sending) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Answers every record not yet answered with `err` (shutdown past its budget). A send still in
   * flight may complete later; its records were answered with an error, never with 200. */
  abort(err: Error): void {
    for (const entry of [...this.pending]) this.settle(entry, err);
  }

  private settle(entry: Entry, err?: Error): void {
    if (entry.settled) return;
    entry.settled = true;
    clearTimeout(entry.timer);
    this.dequeued(entry);
    this.pendingBytesTotal -= entry.bytes;
    this.pending.delete(entry);
    if (err === undefined) entry.resolve();
    else entry.reject(err);
    this.notifyIdle();
  }

  private notifyIdle(): void {
    if (this.pending.size !== 0 || this.sending || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private dequeued(entry: Entry): void {
    if (!entry.queued) return;
    entry.queued = false;
    this.queuedRecords -= 1;
    this.queuedBytes -= entry.bytes;
    if (entry.settled) {
      // Answered (503) while waiting behind a slow send: drop the body now rather than when the send
      // loop reaches it, so a slow broker does not keep bodies of requests nobody waits for.
      entry.message = undefined;
      this.settledInQueue += 1;
      if (this.settledInQueue > 64 && this.settledInQueue * 2 > this.queue.length) this.compact();
    }
  }

  /** Removes answered entries from the queue (amortized: only once they are half of it). */
  private compact(): void {
    this.queue = this.queue.filter((e) => !e.settled);
    this.settledInQueue = 0;
  }

  private schedule(): void {
    if (this.sending) return; // the send loop picks new records up when the current batch returns
    const { maxRecords, maxBytes, lingerMs } = this.options;
    if (this.queuedRecords === 0) return;
    if (this.queuedRecords >= maxRecords || this.queuedBytes >= maxBytes || lingerMs === 0) {
      if (this.lingerTimer !== undefined) clearTimeout(this.lingerTimer);
      this.lingerTimer = undefined;
      setImmediate(() => void this.run());
      return;
    }
    this.lingerTimer ??= setTimeout(() => {
      this.lingerTimer = undefined;
      void this.run();
    }, lingerMs);
  }

  private takeBatch(): Entry[] {
    const batch: Entry[] = [];
    let bytes = 0;
    let taken = 0;
    for (const next of this.queue) {
      if (batch.length >= this.options.maxRecords) break;
      if (next.settled) this.settledInQueue -= 1;
      else {
        // A record larger than maxBytes still goes, alone, rather than never.
        if (batch.length > 0 && bytes + next.bytes > this.options.maxBytes) break;
        this.dequeued(next);
        batch.push(next);
        bytes += next.bytes;
      }
      taken += 1;
    }
    // One splice per batch (not a shift per record): the queue can hold thousands under load.
    this.queue.splice(0, taken);
    return batch;
  }

  private async run(): Promise<void> {
    if (this.sending) return;
    if (this.lingerTimer !== undefined) clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    this.sending = true;
    try {
      for (;;) {
        const batch = this.takeBatch();
        if (batch.length === 0) break;
        await this.send(batch);
      }
    } catch (err) {
      // send() settles its entries itself; reaching here is a bug, and the entries time out with 503.
      this.logger.error({ err }, 'batch send loop failed');
    } finally {
      this.sending = false;
      if (this.queuedRecords > 0) this.schedule();
      this.notifyIdle();
    }
  }

  private async send(batch: Entry[]): Promise<void> {
    let producer: Awaited<ReturnType<ProducerSource['acquire']>>;
    try {
      producer = await this.producers.acquire();
    } catch (err) {
      const error = asTransient(err);
      for (const e of batch) this.settle(e, error);
      this.hooks.onBatchFailed?.(batch.length, err);
      return;
    }
    // Records may have timed out while the producer was connecting: they are answered already.
    const live = batch.filter((e) => !e.settled);
    if (live.length === 0) return;
    const byTopic = new Map<string, Message[]>();
    for (const e of live) {
      const list = byTopic.get(e.topic) ?? [];
      // Taken into a batch before being answered, so its message is still there.
      if (e.message !== undefined) list.push(e.message);
      byTopic.set(e.topic, list);
    }
    const topicMessages: TopicMessages[] = [...byTopic].map(([topic, messages]) => ({ topic, messages }));
    const started = Date.now();
    // Checked: kafkajs can answer a send that skipped a partition whose leader moved (send-coverage.ts).
    const sending = checkedSendBatch(producer, {
      acks: -1,
      timeout: this.options.ackTimeoutMs,
      topicMessages,
    });
    let timer: NodeJS.Timeout | undefined;
    const abandoned = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new TransientError(ErrorCodes.ACK_TIMEOUT, 'produce request took longer than the ack budget'),
          ),
        this.options.sendTimeoutMs,
      );
    });
    try {
      await Promise.race([sending, abandoned]);
    } catch (err) {
      const timedOut = err instanceof NylasStreamError && err.code === ErrorCodes.ACK_TIMEOUT;
      this.producers.markFailed(producer, err, timedOut ? sending : undefined);
      if (timedOut) sending.catch(() => undefined);
      const error = new TransientError(ErrorCodes.KAFKA_UNAVAILABLE, 'Kafka did not accept the write', {
        cause: err,
      });
      for (const e of live) this.settle(e, error);
      this.hooks.onBatchFailed?.(live.length, err);
      return;
    } finally {
      clearTimeout(timer);
    }
    for (const e of live) this.settle(e);
    this.hooks.onBatchAcknowledged?.(live.length, Date.now() - started);
  }
}

function asTransient(err: unknown): Error {
  if (err instanceof NylasStreamError && err.retriable) return err;
  return new TransientError(ErrorCodes.KAFKA_UNAVAILABLE, 'Kafka is unavailable', { cause: err });
}
