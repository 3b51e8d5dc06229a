/**
 * One assigned input partition: its queue of fetched records, its state store and its transactional
 * producer (transactional id `<group>-<raw topic>-<partition>`, see processor.ts for the fencing scheme).
 *
 * kafkajs's fetch loop only hands batches over (eachBatch enqueues and returns), so a slow partition never
 * holds up the fetches of the others. The worker loop drains the queue in rounds; each round is one
 * Kafka transaction holding the domain events, the DLQ records, the state changelog records and the
 * consumed offset. While a transaction is in flight the next records pile up, so under load rounds grow
 * (up to PROCESSOR_MAX_RECORDS_PER_TRANSACTION) and the per-transaction cost is spread over more records.
 *
 * The store is changed only after a commit. Any failure of a round (a broker error, fencing, a bug) tears
 * the partition down: the caller aborts, re-fences, restores the store from the changelog, re-reads the
 * committed offset and seeks there. Nothing is skipped; nothing is applied twice.
 */
import type { Message, Producer } from 'kafkajs';
import { checkedSendBatch } from '../lib/kafkajs/send-coverage';
import type { Logger } from '../lib/logger';
import { receivedAtOf } from '../lib/raw-record';
import { deadLetterMessage, deadLetterOf } from './dead-letter';
import { PartitionLanes } from './deferral/index';
import type { ProcessorMetrics } from './metrics';
import type { Pipeline, RoundResult } from './pipeline';
import { RoundFailure } from './poison/classify';
import type { RecoveryPlan } from './poison/round-failures';
import type { BudgetShare } from './queue-budget';
import { changelogMessages } from './state/changelog';
import type { PartitionStore, StateChange } from './state/store';
import type { DeadLetter, RawRecord } from './types';

export interface PartitionWorkerOptions {
  topic: string;
  partition: number;
  groupId: string;
  stateTopic: string;
  statePartition: number;
  dlqTopic: string;
  /** Where the round's lifecycle facts go (processors/backfill/facts.ts). */
  backfillTopic: string;
  /** Where the round's known-objects records go (processors/backfill/known-objects.ts). */
  knownObjectsTopic: string;
  producer: Producer;
  store: PartitionStore;
  pipeline: Pipeline;
  metrics: ProcessorMetrics;
  logger: Logger;
  /** The committed offset the partition resumes from (-1: none yet). */
  committed: bigint;
  maxRecordsPerTransaction: number;
  maxQueuedRecords: number;
  /** Bytes queued per partition before fetching pauses, beside maxQueuedRecords (as queuedBytesOf counts). */
  maxQueuedBytes: number;
  /** This partition's share of the process-wide budget (processors/queue-budget.ts). */
  budget: BudgetShare;
  reorderWindowMs: number;
  /** How often an idle partition wakes to expire state. */
  sweepIntervalMs: number;
  maxForgetPerTransaction: number;
  pauseFetch: () => void;
  resumeFetch: () => void;
  /** Called with a RoundFailure (processors/poison/classify.ts) when a round fails. */
  onFailure: (err: unknown) => void;
  /** Called after each committed round with the partition's new committed offset. */
  onCommitted?: (next: bigint) => void;
  /** How to run after earlier rounds failed (processors/poison/round-failures.ts). */
  recovery?: RecoveryPlan;
  now?: () => number;
}

/** Payload bytes per produce request of a transaction (below the broker's default message.max.bytes). */
const MAX_REQUEST_BYTES = 512 * 1024;
/** Records per produce request: kafkajs groups a request's messages per partition in O(n²). */
const MAX_REQUEST_RECORDS = 1000;

/** Request bytes of a message, estimated (headers at a flat 64 bytes each: the cap has room to spare). */
function sizeOf(m: Message): number {
  const len = (v: unknown) => (Buffer.isBuffer(v) ? v.length : typeof v === 'string' ? v.length * 2 : 0);
  let headers = 0;
  for (const _ in m.headers ?? {}) headers++;
  return 64 + len(m.key) + len(m.value) + headers * 64;
}

/** Splits messages into consecutive request-sized chunks, keeping the order within each topic. */
export function chunksOf(
  byTopic: Map<string, Message[]>,
  maxBytes: number,
  maxRecords = MAX_REQUEST_RECORDS,
): Array<Array<{ topic: string; messages: Message[] }>> {
  const chunks: Array<Array<{ topic: string; messages: Message[] }>> = [];
  let current = new Map<string, Message[]>();
  let bytes = 0;
  let count = 0;
  const flush = () => {
    if (current.size > 0) chunks.push([...current].map(([topic, messages]) => ({ topic, messages })));
    current = new Map();
    bytes = 0;
    count = 0;
  };
  for (const [topic, messages] of byTopic) {
    for (const m of messages) {
      const size = sizeOf(m);
      if (bytes > 0 && (bytes + size > maxBytes || count >= maxRecords)) flush();
      const list = current.get(topic);
      if (list) list.push(m);
      else current.set(topic, [m]);
      bytes += size;
      count++;
    }
  }
  flush();
  return chunks;
}

interface QueuedBatch {
  records: RawRecord[];
  /** Offset after the batch (control records included). */
  end: bigint;
  /** queuedBytesOf of each record, in step with `records` (computed once: it walks the headers). */
  bytes: number[];
}

/**
 * What a queued record costs in memory, close enough to bound it: its key, value and headers and the
 * JS objects around them (the record, a Buffer for key and value, the offset and timestamp strings),
 * which cost more than the key and value of a typical notification (measured: docs/operations.md,
 * "Processor memory: queued records"). Measured when key, value and headers were views that kept a
 * share of their fetch answer alive; since 2026-12-07 they are copies and header values text
 * (consumer/kafka.ts toRawRecord), so the count is now high by about 450 bytes of heap and that share.
 */
export const RECORD_OVERHEAD_BYTES = 1200;

export function queuedBytesOf(r: RawRecord): number {
  let headers = 0;
  // for…in, not Object.entries: no array of pairs per queued record. Own keys only, as Object.entries
  // (a record's header named __proto__ makes kafkajs set the headers object's prototype).
  for (const name in r.headers) {
    if (!Object.hasOwn(r.headers, name)) continue;
    const value = r.headers[name];
    headers += name.length + (Buffer.isBuffer(value) || typeof value === 'string' ? value.length : 0);
  }
  return RECORD_OVERHEAD_BYTES + (r.key?.length ?? 0) + (r.value?.length ?? 0) + headers;
}

/** A record the recovery plan quarantined: dead-lettered as it is, without running the pipeline. */
function isolatedDeadLetter(record: RawRecord): DeadLetter {
  return deadLetterOf(
    record,
    'POISON_ISOLATED',
    'isolation',
    'the rounds holding this record kept failing and it failed alone; see the processor log for the ' +
      'error (re-drive it once the cause is fixed)',
  );
}

export class PartitionWorker {
  private readonly queue: QueuedBatch[] = [];
  private queuedRecords = 0;
  private queuedBytes = 0;
  /** Records set aside behind a pending expansion, by lane (processors/deferral/). */
  private readonly lanes = new PartitionLanes();
  private stopped = false;
  private wakeUp: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private paused = false;
  /** The store write of the last committed round (see round()). */
  private storeWrite: Promise<void> = Promise.resolve();
  private readonly now: () => number;
  /** Where the next fetched batch must start (undefined: accept the first batch as it comes). */
  expectedFetch: bigint | undefined;
  /** The offset committed by the last transaction (where a takeover would resume). */
  committedNext: bigint;
  /** The offset after the last record taken into a round. */
  private takenThrough: bigint;

  constructor(private readonly o: PartitionWorkerOptions) {
    this.now = o.now ?? Date.now;
    this.committedNext = o.committed;
    this.takenThrough = o.committed;
    this.expectedFetch = o.committed >= 0n ? o.committed : undefined;
    this.lanes.expansions.onSettled(() => this.wake());
  }

  get partition(): number {
    return this.o.partition;
  }

  get producer(): Producer {
    return this.o.producer;
  }

  get store(): PartitionStore {
    return this.o.store;
  }

  /** Queue and pause state, for the processor's stall log. */
  describe(): Record<string, unknown> {
    return {
      queuedRecords: this.queuedRecords,
      queuedBytes: this.queuedBytes,
      deferredRecords: this.lanes.count,
      fetchPaused: this.paused,
      expectedFetch: this.expectedFetch?.toString() ?? null,
      stopped: this.stopped,
    };
  }

  start(): void {
    this.loop = this.run().catch((err: unknown) => {
      // A failed worker's queue is dropped with it (the takeover re-fetches from the committed offset),
      // and so are its expansions (the takeover fetches them again).
      this.o.budget.release();
      this.lanes.drop();
      if (!this.stopped) this.o.onFailure(err);
    });
  }

  /** Stops taking rounds; resolves when the round in flight (if any) and its store write have ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    // At once, not after the round in flight: from now on the partition may belong to a new worker, and
    // a pause sent on behalf of this one would be nobody's to resume.
    this.o.budget.release();
    this.wake();
    await this.loop;
    await this.storeWrite.catch(() => undefined);
    this.lanes.drop();
  }

  /**
   * Takes a fetched batch. Returns false when the batch does not start where this partition expects
   * (the caller seeks to expectedFetch instead). `fetchedOffset` is where kafkajs fetched from; a batch
   * starting beyond the expectation only skipped transaction markers or aborted records.
   */
  enqueue(records: RawRecord[], fetchedOffset: bigint, lastOffset: bigint): boolean {
    if (this.stopped) return false;
    if (this.expectedFetch !== undefined && fetchedOffset < this.expectedFetch) return false;
    const fresh = this.o.store.progress
      ? records.filter((r) => !this.o.store.handledAhead(r.offset))
      : records;
    const bytes = fresh.map(queuedBytesOf);
    this.queue.push({ records: fresh, bytes, end: lastOffset + 1n });
    this.queuedRecords += fresh.length;
    for (const b of bytes) this.queuedBytes += b;
    this.o.budget.update(this.queuedBytes);
    this.expectedFetch = lastOffset + 1n;
    if (!this.paused && this.overQueueBound(1)) {
      this.paused = true;
      this.o.pauseFetch();
    }
    this.wake();
    return true;
  }

  private wake(): void {
    const w = this.wakeUp;
    this.wakeUp = undefined;
    w?.();
  }

  private waitForWake(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wakeUp = undefined;
        resolve();
      }, ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private oldestReceivedAt(): number | undefined {
    const first = this.queue.find((b) => b.records.length > 0)?.records[0];
    if (!first) return undefined;
    return receivedAtOf(first);
  }

  private async run(): Promise<void> {
    let lastSweep = 0;
    while (!this.stopped) {
      const ready = this.lanes.ready();
      const sweepDue = this.now() - lastSweep >= this.o.sweepIntervalMs;
      if (this.queue.length === 0 && ready.length === 0 && !sweepDue) {
        await this.waitForWake(Math.max(10, this.o.sweepIntervalMs - (this.now() - lastSweep)));
        continue;
      }
      if (this.o.reorderWindowMs > 0 && ready.length === 0) {
        const oldest = this.oldestReceivedAt();
        const wait = oldest === undefined ? 0 : oldest + this.o.reorderWindowMs - this.now();
        if (wait > 0) {
          await this.waitForWake(wait);
          continue;
        }
      }
      if (sweepDue) lastSweep = this.now();
      await this.round(ready);
      // Only now is the round's input free (it was held until the round ended, committed or not).
      this.o.budget.update(this.queuedBytes);
    }
  }

  /** True when the queue holds more than `fraction` of either bound (records or bytes). */
  private overQueueBound(fraction: number): boolean {
    return (
      this.queuedRecords + this.lanes.count >= this.o.maxQueuedRecords * fraction ||
      this.queuedBytes >= this.o.maxQueuedBytes * fraction
    );
  }

  /** The most records the next round may take: the recovery plan narrows rounds while isolating. */
  private roundLimit(): number {
    const plan = this.o.recovery;
    if (plan?.maxRecordsPerRound !== undefined && plan.isolateUntil !== undefined) {
      if (this.takenThrough < plan.isolateUntil) return plan.maxRecordsPerRound;
    }
    return this.o.maxRecordsPerTransaction;
  }

  private takeBatches(limit: number): { records: RawRecord[]; end: bigint | undefined } {
    const records: RawRecord[] = [];
    let end: bigint | undefined;
    // Whole batches normally (a round may then exceed the limit by one batch); a narrowed round
    // (isolation) splits the batch in front so it holds exactly `limit` records.
    const split = limit < this.o.maxRecordsPerTransaction;
    for (let next = this.queue[0]; next !== undefined; next = this.queue[0]) {
      if (records.length + next.records.length > limit && (split || records.length > 0)) {
        if (!split || records.length >= limit) break;
        const count = limit - records.length;
        const taken = next.records.splice(0, count);
        this.take(records, taken, next.bytes.splice(0, count));
        const last = taken.at(-1);
        if (last !== undefined) end = BigInt(last.offset) + 1n;
        break;
      }
      this.queue.shift();
      this.take(records, next.records, next.bytes);
      end = next.end;
    }
    return { records, end };
  }

  private take(into: RawRecord[], records: RawRecord[], bytes: readonly number[]): void {
    this.queuedRecords -= records.length;
    for (const b of bytes) this.queuedBytes -= b;
    for (const r of records) into.push(r);
  }

  private async round(readyLanes: string[]): Promise<void> {
    // The store failed (a write or a read): this worker ends, and the takeover reopens the store and
    // restores it. Never a round failure: the records are not at fault.
    if (this.o.store.failed) {
      await this.storeWrite;
      throw new Error(`state store of partition ${this.o.partition} failed; reopening it`);
    }
    const now = this.now();
    const { records: fresh, end } = this.takeBatches(this.roundLimit());
    // Resubmitted lanes first (they are older), then new records. The lane of a new record is its
    // object, known only once decoded: the pipeline sets aside, unprocessed, the new records of lanes
    // still waiting, so they join the back of their lane and an object's order is kept.
    const input = this.lanes.resubmit(readyLanes);
    const quarantine = this.o.recovery?.quarantine;
    const isolated: DeadLetter[] = [];
    for (const r of fresh) {
      if (quarantine?.has(r.offset)) isolated.push(isolatedDeadLetter(r));
      else input.push(r);
    }
    const waiting = this.lanes.waiting();
    const offsets = [...input, ...isolated.map((d) => d.record)].map((r) => BigInt(r.offset));
    const failed = (phase: 'pipeline' | 'commit') => (err: unknown) => {
      // A lookup the store could not answer (its disk failed) is the store's fault, not the records':
      // it ends the worker as above instead of counting towards their dead-lettering.
      if (this.o.store.failed) throw err;
      throw new RoundFailure(phase, offsets, end ?? this.takenThrough, err);
    };

    const result: RoundResult = await this.timed('pipeline', () =>
      this.o.pipeline.run(input, this.o.store, now, this.lanes.expansions, waiting),
    ).catch(failed('pipeline'));
    for (const dl of isolated) {
      result.deadLetters.push(dl);
      result.outcomes.push({ family: 'unknown', outcome: 'dead_lettered' });
    }
    this.lanes.setAside(result.deferred);

    if (end !== undefined) this.takenThrough = end;
    const progress = this.lanes.progress(this.takenThrough, this.o.store.progress);
    const next = progress === null ? this.takenThrough : BigInt(progress.next);
    const stateChanges: StateChange[] = [
      ...(await this.o.store.expiredBuckets(now, this.o.maxForgetPerTransaction)),
      ...result.stateChanges,
    ];
    if (JSON.stringify(progress) !== JSON.stringify(this.o.store.progress)) {
      stateChanges.push({ kind: 'progress', progress });
    }
    const offsetChanged = next !== this.committedNext && next >= 0n;
    if (
      result.domain.length === 0 &&
      result.facts.length === 0 &&
      result.known.length === 0 &&
      result.deadLetters.length === 0 &&
      stateChanges.length === 0 &&
      !offsetChanged
    ) {
      return;
    }

    // Revoked meanwhile (or shutting down): the new owner redoes this round; write nothing.
    if (this.stopped) return;
    const byTopic = new Map<string, Message[]>();
    const add = (topic: string, m: Message) => {
      const list = byTopic.get(topic);
      if (list) list.push(m);
      else byTopic.set(topic, [m]);
    };
    for (const d of result.domain) add(d.topic, d.message);
    for (const f of result.facts) add(this.o.backfillTopic, f);
    for (const k of result.known) add(this.o.knownObjectsTopic, k);
    for (const dl of result.deadLetters) add(this.o.dlqTopic, deadLetterMessage(dl, now));
    const changelog = changelogMessages(this.o.partition, this.o.statePartition, stateChanges);
    for (const m of changelog.messages) add(this.o.stateTopic, m);

    const checkpoint = await this.commit(byTopic, offsetChanged ? next : undefined).catch(failed('commit'));

    // Committed: counted and logged at once (what the round wrote is visible to consumers now).
    if (offsetChanged) this.committedNext = next;
    this.o.onCommitted?.(this.committedNext);
    const m = this.o.metrics;
    m.roundOutcomes(result.outcomes);
    // Each committed dead letter is counted and logged, so an operator can search for it (the record is on
    // the DLQ topic with the same reason and code, re-drivable with `nylas-stream redrive` if so).
    for (const dl of result.deadLetters) {
      m.deadLetter(dl.reason);
      this.o.logger.warn(
        {
          reason: dl.reason,
          code: dl.code ?? dl.reason,
          stage: dl.stage,
          redrivable: dl.redrivable,
          source: { topic: dl.record.topic, partition: dl.record.partition, offset: dl.record.offset },
          dlqTopic: this.o.dlqTopic,
          detail: dl.message,
        },
        'notification dead-lettered',
      );
    }
    const committedAt = this.now();
    for (const d of result.domain) {
      m.endToEndLatency.observe(Math.max(0, committedAt - d.receivedAt) / 1000);
    }
    // Now (and only now) the store moves. Lookups see the changes at once; its disk write runs behind
    // the next round (which need not wait for it), and a failed write fails that round (storeWritten).
    // A crash before the write leaves the store's checkpoint behind these records, and the next restore
    // applies them from the changelog.
    this.storeWrite = this.o.store.apply([...stateChanges, ...changelog.tracking], checkpoint);
    // The counts are the store's on disk: read once this write landed, or the gauge would lag a round
    // behind until the next one (forever, on a partition that goes quiet). A round that commits after
    // stop() (the partition was revoked meanwhile, and its gauges removed) must not bring them back:
    // this process no longer owns the partition. (Lag is read from the broker by the processor's stall
    // monitor, not here: a stuck worker would never update it.)
    this.storeWrite.then(
      () => {
        if (!this.stopped) m.storeCounts(this.o.partition, this.o.store.counts());
      },
      () => undefined,
    );
    // Isolated records (poison) are settled too: an expansion an earlier round started for one of them
    // would otherwise hold its bytes in the expansion budget for as long as the partition stays here.
    this.lanes.handled([...result.handledOffsets, ...isolated.map((d) => d.record.offset)]);
    if (this.paused && !this.overQueueBound(0.5)) {
      this.paused = false;
      this.o.resumeFetch();
    }
  }

  /** Runs one phase of a round and records its duration (nylas_stream_processor_round_phase_seconds). */
  private async timed<T>(
    phase: 'pipeline' | 'produce' | 'offsets' | 'commit',
    work: () => Promise<T>,
  ): Promise<T> {
    const started = performance.now();
    const result = await work();
    this.o.metrics.roundPhase.observe({ phase }, (performance.now() - started) / 1000);
    return result;
  }

  /**
   * One transaction: the records, then the consumed offset, then EndTxn, strictly one after the other.
   * Sending the offsets beside the records was tried and is wrong with kafkajs: the broker refuses an
   * AddOffsetsToTxn that arrives while the same transaction's AddPartitionsToTxn is being written
   * (CONCURRENT_TRANSACTIONS), kafkajs does not retry it there, and the failed round tears the partition
   * down (measured in the bench: docs/benchmarks.md, "Figures behind decisions in the code").
   *
   * Returns the state changelog offset just past this transaction's changelog records (the store's next
   * checkpoint), or undefined when it wrote none or the broker did not say where they went.
   */
  private async commit(
    byTopic: Map<string, Message[]>,
    offset: bigint | undefined,
  ): Promise<bigint | undefined> {
    const txn = await this.o.producer.transaction();
    let checkpoint: bigint | undefined;
    try {
      await this.timed('produce', async () => {
        // kafkajs puts everything for one partition of one request into one record batch, which the
        // broker refuses above message.max.bytes (1 MiB by default): send in chunks, in order.
        for (const chunk of chunksOf(byTopic, MAX_REQUEST_BYTES)) {
          // Checked: kafkajs can answer a send that skipped a partition whose leader moved (send-coverage.ts).
          const written = await checkedSendBatch(txn, { topicMessages: chunk, acks: -1 });
          const state = chunk.find((c) => c.topic === this.o.stateTopic)?.messages.length ?? 0;
          if (state === 0) continue;
          const meta = written.find(
            (r) => r.topicName === this.o.stateTopic && r.partition === this.o.statePartition,
          );
          checkpoint = meta?.baseOffset === undefined ? undefined : BigInt(meta.baseOffset) + BigInt(state);
        }
      });
      if (offset !== undefined) {
        await this.timed('offsets', () =>
          txn.sendOffsets({
            consumerGroupId: this.o.groupId,
            topics: [
              {
                topic: this.o.topic,
                partitions: [{ partition: this.o.partition, offset: offset.toString() }],
              },
            ],
          }),
        );
      }
      await this.timed('commit', () => txn.commit());
      this.o.metrics.transactions.inc({ outcome: 'committed' });
      return checkpoint;
    } catch (err) {
      this.o.metrics.transactions.inc({ outcome: 'aborted' });
      if (txn.isActive()) await txn.abort().catch(() => undefined);
      throw err;
    }
  }
}
