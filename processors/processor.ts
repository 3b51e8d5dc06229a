/**
 * The processor: a Kafka transactional consume-transform-produce loop over nylas.webhooks.raw
 * (docs/architecture.md, "Exactly-once effect").
 *
 * Transactional ids and zombie fencing. kafkajs 2.2.4 implements TxnOffsetCommit only up to v1, so the
 * KIP-447 scheme (one producer per instance, fenced by consumer-group generation) is not available. We use
 * the classic scheme instead: one transactional producer per assigned input partition, with the stable
 * transactional id `<group>-<raw topic>-<partition>`. Whoever takes a partition over (after a rebalance, a
 * crash, a restart) first calls InitProducerId with that id, which bumps the producer epoch: the broker
 * then rejects every later request of the previous owner (a "zombie" that has not noticed it lost the
 * partition), aborts its open transaction, or, if its commit was already under way, completes it first.
 * Only after that fence does the new owner read the committed offset and restore the partition's state
 * from the changelog, so it starts exactly where the last committed transaction ended.
 *
 * Takeover of a newly assigned partition: pause its fetching → fence (InitProducerId) → read the group's
 * committed offset → restore the store (processors/state/restore.ts) → seek to the committed offset →
 * resume. A partition kept across a rebalance keeps its producer and store (nobody else can have written
 * in between without fencing it, which its next transaction would notice) and is re-positioned where its
 * own queue ends. Revoked partitions stop; their producers are closed.
 *
 * A partition without a committed offset (a new deployment, a partition added later) starts at the log
 * start offset, the group's reset policy (earliest), sought explicitly on every takeover: kafkajs's fetch
 * position after a failed first round is past that round, and going on from there skipped its records.
 *
 * Errors: any failure of a partition's transaction (retriable broker error, fencing, timeout, bug) aborts
 * it and tears the partition down; the takeover above runs again (after a pause when fenced, so the
 * rebalance that fenced us can revoke the partition first) and the partition resumes from its committed
 * offset. Nothing is skipped. A round that keeps failing for a reason no stage could blame on one record
 * is narrowed until the record is found and dead-lettered (processors/poison/). Every wait of a takeover
 * is bounded (PROCESSOR_TAKEOVER_TIMEOUT): one that hangs fails the takeover, which is retried.
 */
import type { Admin, Kafka, Producer } from 'kafkajs';
import { isFencingError } from '../lib/kafkajs/errors';
import type { Logger } from '../lib/logger';
import { kafkaTakeoverSteps, readCommittedOffsets, readLogOffsets } from './assignment/kafka-steps';
import { Assignment } from './assignment/state';
import { Takeovers } from './assignment/takeover';
import type { ProcessorConfig } from './config';
import { kafkaRawConsumer } from './consumer/kafka';
import { ConsumerSupervisor, type RawBatch } from './consumer/supervisor';
import { LagSampler } from './lag-sampler';
import type { ProcessorMetrics } from './metrics';
import { PartitionWorker } from './partition';
import type { Pipeline } from './pipeline';
import { planRetake } from './poison/retake';
import { RoundFailures } from './poison/round-failures';
import { QueueBudget } from './queue-budget';
import { statePartitionFor } from './state/changelog';
import { StoreRegistry } from './state/registry';
import type { PartitionStore } from './state/store';

/** What the processor runs on, built and started by startProcessor (processors/index.ts). */
export interface ProcessorDeps {
  config: ProcessorConfig;
  logger: Logger;
  metrics: ProcessorMetrics;
  kafka: Kafka;
  /** Connected. */
  admin: Admin;
  /** Partitions of the state topic. */
  statePartitions: number;
  pipeline: Pipeline;
  /** The expander and its API thread, closed on stop. */
  expansion: { close(): Promise<void> };
  /** Called when the processor cannot go on (the consumer crashed for good); the CLI exits non-zero. */
  onFatal?: (err: unknown) => void;
  now?: () => number;
}

export class Processor {
  private readonly config: ProcessorConfig;
  private readonly log: Logger;
  private readonly consumer: ConsumerSupervisor;
  private readonly assignment: Assignment<PartitionWorker>;
  private readonly takeovers: Takeovers<Producer, PartitionStore, PartitionWorker>;
  /** The partitions' on-disk state stores (processors/state/registry.ts). */
  private readonly stores: StoreRegistry;
  private readonly lag: LagSampler;
  private readonly roundFailures: RoundFailures;
  /** Bytes queued over all partitions (PROCESSOR_MAX_QUEUED_BYTES_TOTAL), shared by the workers. */
  private readonly queueBudget: QueueBudget;
  private stopping = false;
  private running = false;

  constructor(private readonly d: ProcessorDeps) {
    const { config, metrics } = d;
    this.config = config;
    const log = d.logger.child({ component: 'processor' });
    this.log = log;
    this.roundFailures = new RoundFailures({
      maxAttempts: config.poisonAttempts,
      backoffBaseMs: config.retryBackoffBaseMs,
      backoffMaxMs: config.retryBackoffMaxMs,
    });
    this.consumer = new ConsumerSupervisor({
      create: (events) =>
        kafkaRawConsumer(
          d.kafka,
          {
            groupId: config.groupId,
            topic: this.topic,
            maxBytesPerPartition: config.maxBytesPerPartition,
            maxBytesPerFetch: config.maxBytesPerFetch,
            sessionTimeoutMs: config.sessionTimeoutMs,
          },
          events,
        ),
      onAssignment: (partitions) => this.onAssignment(partitions),
      onBatch: (batch, accept) => this.onBatch(batch, accept),
      onFatal: (err) => d.onFatal?.(err),
      onStuck: () => {
        metrics.consumerReplacements.inc();
        log.error(
          { rejoinTimeoutMs: config.rejoinTimeoutMs },
          'consumer did not rejoin the group; replacing it',
        );
      },
      rejoinTimeoutMs: config.rejoinTimeoutMs,
      startTimeoutMs: config.takeoverTimeoutMs,
      log,
    });
    this.assignment = new Assignment(this.consumer);
    this.queueBudget = new QueueBudget(config.maxQueuedBytesTotal, () =>
      metrics.fetchPauses.inc({ reason: 'process_budget' }),
    );
    metrics.watchQueuedBytes(() => this.queueBudget.queuedBytes);
    this.stores = new StoreRegistry({
      dir: config.state.dir,
      groupId: config.groupId,
      topic: this.topic,
      windowMs: config.dedupeWindowMs,
      cacheEntries: config.state.cacheEntries,
      filterBytes: config.state.filterBytes,
      logger: log,
      ...(d.now ? { now: d.now } : {}),
    });
    metrics.watchStateDisk(() => this.stores.diskBytes());
    metrics.watchStateFilters(() => this.stores.filterBytes());
    const steps = kafkaTakeoverSteps<PartitionWorker>(
      {
        kafka: d.kafka,
        admin: d.admin,
        groupId: config.groupId,
        topic: this.topic,
        stateTopic: config.topics.state,
        statePartitions: d.statePartitions,
        transactionTimeoutMs: config.transactionTimeoutMs,
        takeoverTimeoutMs: config.takeoverTimeoutMs,
        stores: this.stores,
        log,
      },
      (p, producer, store, start) => this.startWorker(p, producer, store, start),
    );
    this.takeovers = new Takeovers({
      assignment: this.assignment,
      steps,
      timeoutMs: config.takeoverTimeoutMs,
      log,
      onRestored: (restored) => metrics.restored(restored),
    });
    this.lag = new LagSampler({
      read: async () => {
        const [committed, ends] = await Promise.all([
          readCommittedOffsets(d.admin, config.groupId, this.topic),
          readLogOffsets(d.admin, this.topic),
        ]);
        return { committed, ends };
      },
      assigned: () => this.assignment.partitions,
      describe: (p) => this.describePartition(p),
      progress: (p, lag, stalledSeconds) => metrics.progress(p, lag, stalledSeconds),
      intervalMs: config.lagIntervalMs,
      stallTimeoutMs: config.stallTimeoutMs,
      log,
      clock: d.now ?? Date.now,
    });
  }

  private get topic(): string {
    return this.config.topics.raw;
  }

  /** Assigned partitions that are processing (taken over). */
  get activePartitions(): number[] {
    return this.assignment.active;
  }

  get assignedPartitions(): number[] {
    return this.assignment.partitions;
  }

  /** Ready: consuming, and every assigned partition taken over. */
  get ready(): boolean {
    return this.running && this.assignment.complete;
  }

  /** Live: no assigned partition has had records waiting without progress for PROCESSOR_STALL_TIMEOUT
   * (a process that is up, looks ready and consumes nothing is restarted by its liveness probe). */
  get live(): boolean {
    return this.lag.live;
  }

  /** Seconds of the longest stall of an assigned partition, as of the last lag sample. */
  get longestStall(): number {
    return this.lag.longestStall;
  }

  async start(): Promise<void> {
    await this.consumer.start();
    this.running = true;
    this.lag.start();
    this.log.info({ group: this.config.groupId, topic: this.topic }, 'processor started');
  }

  /**
   * Replaces the consumer as the rejoin watchdog would (consumer/supervisor.ts). Public for the
   * integration test, which runs it against the broker.
   */
  replaceConsumer(reason: 'crashed' | 'stuck' = 'stuck'): Promise<void> {
    return this.consumer.replace(reason);
  }

  /** Where a partition stands, for the stall log. */
  private describePartition(p: number): Record<string, unknown> {
    const w = this.assignment.worker(p);
    const a = this.assignment.describe(p);
    const c = this.consumer.describe();
    return {
      partition: p,
      worker: w ? { committedNext: w.committedNext.toString(), ...w.describe() } : null,
      pauses: a.pauses,
      takeoverPending: a.takeoverPending,
      takeoverRunning: this.takeovers.busy,
      takeoverFailures: a.takeoverFailures,
      roundFailures: this.roundFailures.attempts(p),
      consumer: c.consumer,
      replacingConsumer: c.replacingConsumer,
      watchdogArmed: c.watchdogArmed,
    };
  }

  private async onBatch(batch: RawBatch, accept: () => void): Promise<void> {
    const p = batch.partition;
    const w = this.assignment.worker(p);
    if (!w) return; // not taken over yet: the partition is paused, the takeover seeks it
    if (!w.enqueue(batch.records, batch.fetchedOffset, batch.lastOffset)) {
      if (w.expectedFetch !== undefined && this.assignment.worker(p) === w) {
        this.consumer.seek(p, w.expectedFetch.toString());
      }
      return;
    }
    accept();
  }

  private onAssignment(partitions: number[]): void {
    this.log.info({ partitions }, 'partitions assigned');
    const change = this.assignment.assign(partitions);
    for (const { partition, worker } of change.revoked) this.revoked(partition, worker);
    for (const { partition, worker } of change.kept) {
      // Kept: kafkajs restarts from the committed offset; our queue already goes further.
      if (worker.expectedFetch !== undefined) this.consumer.seek(partition, worker.expectedFetch.toString());
    }
    for (const p of change.takeovers) this.takeovers.schedule(p, 0);
  }

  private revoked(p: number, worker: PartitionWorker | undefined): void {
    this.roundFailures.forget(p);
    this.lag.forget(p);
    this.d.metrics.forgetPartition(p);
    if (!worker) {
      void this.stores.close(p);
      return;
    }
    this.log.info({ partition: p }, 'partition revoked');
    void worker
      .stop()
      .then(() => worker.producer.disconnect())
      .catch((err: unknown) => this.log.warn({ err, partition: p }, 'closing a revoked partition'))
      // Its files stay: given back to this process later, it restores only the changelog tail.
      .then(() => this.stores.close(p));
  }

  /** The last step of a takeover: the partition's worker, started. */
  private startWorker(
    p: number,
    producer: Producer,
    store: PartitionStore,
    committed: bigint,
  ): PartitionWorker {
    const { config } = this;
    const worker: PartitionWorker = new PartitionWorker({
      topic: this.topic,
      partition: p,
      groupId: config.groupId,
      stateTopic: config.topics.state,
      statePartition: statePartitionFor(p, this.d.statePartitions),
      dlqTopic: config.topics.dlq,
      backfillTopic: config.topics.backfill,
      knownObjectsTopic: config.topics.knownObjects,
      producer,
      store,
      pipeline: this.d.pipeline,
      metrics: this.d.metrics,
      logger: this.log.child({ partition: p }),
      committed,
      maxRecordsPerTransaction: config.maxRecordsPerTransaction,
      maxQueuedRecords: config.maxQueuedRecords,
      maxQueuedBytes: config.maxQueuedBytes,
      budget: this.queueBudget.join({
        pause: () => this.assignment.pause(p, 'budget'),
        resume: () => this.assignment.unpause(p, 'budget'),
      }),
      reorderWindowMs: config.reorderWindowMs,
      sweepIntervalMs: Math.min(60_000, Math.max(1000, Math.floor(config.dedupeWindowMs / 10))),
      maxForgetPerTransaction: 5000,
      pauseFetch: () => {
        this.d.metrics.fetchPauses.inc({ reason: 'partition_queue' });
        this.assignment.pause(p, 'backpressure');
      },
      resumeFetch: () => this.assignment.unpause(p, 'backpressure'),
      onFailure: (err) => this.onWorkerFailure(p, worker, err),
      onCommitted: (next) => this.roundFailures.committed(p, next),
      recovery: this.roundFailures.plan(p),
      ...(this.d.now ? { now: this.d.now } : {}),
    });
    worker.start();
    this.d.metrics.storeCounts(p, store.counts());
    return worker;
  }

  private onWorkerFailure(p: number, worker: PartitionWorker, err: unknown): void {
    const next = this.assignment.workerFailed(p, worker);
    if (next === 'stale') return;
    const fenced = isFencingError(err);
    void worker.producer.disconnect().catch(() => undefined);
    if (fenced) {
      this.log.error({ err, partition: p, fenced }, 'partition transaction fenced; taking over again');
    }
    if (next === 'gone') return;
    const plan = planRetake(
      { err, partition: p, committedNext: worker.committedNext, fenced },
      this.roundFailures,
      this.config.sessionTimeoutMs,
    );
    if (plan.kind) this.d.metrics.roundFailures.inc({ kind: plan.kind });
    if (plan.log) this.log.error(plan.log.fields, plan.log.message);
    this.takeovers.schedule(p, plan.delayMs);
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.consumer.close();
    this.lag.close();
    this.takeovers.close();
    this.assignment.close(this.running);
    const workers = this.assignment.takeWorkers();
    await Promise.all(workers.map((w) => w.stop()));
    await this.d.expansion.close();
    await this.takeovers.idle();
    await Promise.all(workers.map((w) => w.producer.disconnect().catch(() => undefined)));
    await this.consumer.disconnect();
    await this.d.admin.disconnect().catch(() => undefined);
    await this.stores.closeAll();
    this.running = false;
    this.log.info('processor stopped');
  }
}
