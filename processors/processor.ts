/**
 * The processor: a Kafka transactional consume-transform-produce loop over nylas.webhooks.raw
 * (ARCHITECTURE.md, "Exactly-once effect").
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
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Admin, Batch, Consumer, Kafka, KafkaMessage, Producer } from 'kafkajs';
import { cappedBackoff } from '../lib/backoff';
import type { TopicsConfig } from '../lib/config';
import { ErrorCodes, isRetriable, NylasStreamError } from '../lib/errors';
import { createKafka, TRANSACTIONAL_RETRY } from '../lib/kafka';
import { isFencingError } from '../lib/kafkajs/errors';
import { KeyHashPartitioner } from '../lib/kafkajs/partitioner';
import type { Logger } from '../lib/logger';
import { createSchemaRegistry } from '../lib/schema-registry';
import { withTimeout } from '../lib/timeout';
import { registerDomainSchemas } from '../schemas/index';
import type { ProcessorConfig } from './config';
import type { ProcessorMetrics } from './metrics';
import { PartitionWorker } from './partition';
import { Pipeline } from './pipeline';
import { classifyRoundFailure, RoundFailure } from './poison/classify';
import { RoundFailures } from './poison/round-failures';
import { RejoinWatchdog } from './rejoin-watchdog';
import { Expander, type MessageFetcher } from './stages/expand';
import { type ThreadedMessageFetcher, threadedMessageFetcher } from './stages/expand-thread';
import { normalize as defaultNormalize } from './stages/normalize';
import { DomainEventEncoder } from './stages/publish';
import { type PartitionOffsets, StallMonitor } from './stall-monitor';
import { statePartitionFor } from './state/changelog';
import { restoreStores } from './state/restore';
import type { PartitionStore } from './state/store';
import type { DomainEvent, Notification, RawRecord } from './types';

/** Bound of one reading of committed offsets and log ends (at least the sampling interval). */
const LAG_READ_TIMEOUT_MS = 10_000;

export function transactionalIdFor(groupId: string, topic: string, partition: number): string {
  return `${groupId}-${topic}-${partition}`;
}

export interface ProcessorOptions {
  config: ProcessorConfig;
  logger: Logger;
  metrics: ProcessorMetrics;
  kafka?: Kafka;
  registry?: SchemaRegistry;
  /** Replaces the SDK fetcher (unit tests). */
  fetchMessage?: MessageFetcher;
  normalize?: (n: Notification, topics: TopicsConfig) => DomainEvent;
  /** Called when the processor cannot go on (the consumer crashed for good); the CLI exits non-zero. */
  onFatal?: (err: unknown) => void;
  now?: () => number;
}

type PauseReason = 'takeover' | 'backpressure';

function toRawRecord(topic: string, partition: number, m: KafkaMessage): RawRecord {
  return {
    topic,
    partition,
    offset: m.offset,
    key: m.key,
    value: m.value,
    headers: m.headers ?? {},
    timestamp: m.timestamp,
  };
}

export class Processor {
  private readonly config: ProcessorConfig;
  private readonly log: Logger;
  private kafka: Kafka | undefined;
  private admin: Admin | undefined;
  private consumer: Consumer | undefined;
  private expander: Expander | undefined;
  private apiThread: ThreadedMessageFetcher | undefined;
  private pipeline: Pipeline | undefined;
  private statePartitions = 0;
  private readonly workers = new Map<number, PartitionWorker>();
  private assigned = new Set<number>();
  /** Bumped whenever a partition is (re)assigned or revoked; a takeover applies only to its epoch. */
  private readonly epochs = new Map<number, number>();
  private readonly pauses = new Map<number, Set<PauseReason>>();
  private readonly pendingTakeovers = new Set<number>();
  private readonly takeoverFailures = new Map<number, number>();
  private readonly takeoverTimers = new Set<NodeJS.Timeout>();
  private takeoverRunning: Promise<void> | undefined;
  private stopping = false;
  private running = false;
  private replacing = false;
  private replacementTimer: NodeJS.Timeout | undefined;
  /** Replacements in a row that failed to start (backoff); reset when a consumer joins. */
  private replacementFailures = 0;
  private readonly rejoinWatchdog: RejoinWatchdog;
  private readonly roundFailures: RoundFailures;
  private readonly stallMonitor = new StallMonitor();
  private lagTimer: NodeJS.Timeout | undefined;
  /** Longest stall seen by the last lag sample, in seconds (for /healthz). */
  private longestStallSeconds = 0;
  /** When committed offsets and log ends were last read, and the failed reads since. */
  private lastLagRead = 0;
  private lagReadFailures = 0;
  private readonly clock: () => number;

  constructor(private readonly options: ProcessorOptions) {
    this.config = options.config;
    this.clock = options.now ?? Date.now;
    this.log = options.logger.child({ component: 'processor' });
    this.roundFailures = new RoundFailures({
      maxAttempts: this.config.poisonAttempts,
      backoffBaseMs: this.config.retryBackoffBaseMs,
      backoffMaxMs: this.config.retryBackoffMaxMs,
    });
    this.rejoinWatchdog = new RejoinWatchdog(this.config.rejoinTimeoutMs, () => {
      void this.replaceConsumer('stuck');
    });
  }

  private get topic(): string {
    return this.config.topics.raw;
  }

  /** Assigned partitions that are processing (taken over). */
  get activePartitions(): number[] {
    return [...this.workers.keys()].sort((a, b) => a - b);
  }

  get assignedPartitions(): number[] {
    return [...this.assigned].sort((a, b) => a - b);
  }

  /** Ready: consuming, and every assigned partition taken over. */
  get ready(): boolean {
    return this.running && [...this.assigned].every((p) => this.workers.has(p));
  }

  /** Live: no assigned partition has had records waiting without progress for PROCESSOR_STALL_TIMEOUT
   * (a process that is up, looks ready and consumes nothing is restarted by its liveness probe). */
  get live(): boolean {
    return this.longestStallSeconds * 1000 < this.config.stallTimeoutMs;
  }

  /** Seconds of the longest stall of an assigned partition, as of the last lag sample. */
  get longestStall(): number {
    return this.longestStallSeconds;
  }

  async start(): Promise<void> {
    const { config } = this;
    const kafka = this.options.kafka ?? createKafka(config.kafka, this.log, 'processor');
    this.kafka = kafka;
    const admin = kafka.admin();
    this.admin = admin;
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    const missing = [config.topics.raw, config.topics.state, config.topics.dlq].filter(
      (t) => !existing.has(t),
    );
    if (missing.length > 0) {
      throw new NylasStreamError(
        ErrorCodes.CONFIG_INVALID,
        `topics ${missing.join(', ')} do not exist; create them with \`nylas-stream topics create\` (or \`nylas-stream up\`)`,
      );
    }
    const meta = await admin.fetchTopicMetadata({ topics: [config.topics.state] });
    this.statePartitions = meta.topics[0]?.partitions.length ?? 0;

    const registry = this.options.registry ?? createSchemaRegistry(config.registry);
    const schemaIds = await this.withStartupRetry('register schemas', () =>
      registerDomainSchemas(registry, config.topics),
    );
    const encoder = new DomainEventEncoder(schemaIds);
    // The SDK calls run on a worker thread (stages/expand-thread.ts says why).
    this.apiThread = this.options.fetchMessage
      ? undefined
      : threadedMessageFetcher({
          apiKey: config.nylas.apiKey,
          apiUri: config.nylas.apiUri,
          requestTimeoutMs: config.expansion.requestTimeoutMs,
        });
    await this.apiThread?.ready().catch((err: unknown) => {
      throw new NylasStreamError(
        ErrorCodes.INFRA_START_FAILED,
        `the Nylas API worker thread did not start: ${(err as Error).message}`,
        { cause: err },
      );
    });
    const expander = new Expander({
      fetch: this.options.fetchMessage ?? (this.apiThread as ThreadedMessageFetcher),
      concurrency: config.expansion.concurrency,
      deadlineMs: config.expansion.deadlineMs,
      requestTimeoutMs: config.expansion.requestTimeoutMs,
      backoffBaseMs: config.expansion.backoffBaseMs,
      backoffMaxMs: config.expansion.backoffMaxMs,
      observer: this.options.metrics,
    });
    this.expander = expander;
    this.pipeline = new Pipeline({
      topics: config.topics,
      dedupeWindowMs: config.dedupeWindowMs,
      acceptWindowMs: config.acceptWindowMs,
      deferAfterMs: config.expansion.deferAfterMs,
      normalize: this.options.normalize ?? defaultNormalize,
      encoder,
      expand: (n) => expander.expand(n),
    });

    await this.startConsumer();
    this.running = true;
    this.lastLagRead = this.clock();
    this.scheduleLagSample();
    this.log.info({ group: config.groupId, topic: this.topic }, 'processor started');
  }

  private scheduleLagSample(): void {
    if (this.stopping) return;
    this.lagTimer = setTimeout(() => {
      void this.sampleLag().finally(() => this.scheduleLagSample());
    }, this.config.lagIntervalMs);
    this.lagTimer.unref();
  }

  /**
   * Lag and stall of every assigned partition, from the group's committed offsets and the log ends
   * (stall-monitor.ts). A broker that does not answer leaves the gauges as they were, and the stall
   * keeps growing from the last sample that saw it: a processor cut off from its broker is not live.
   */
  async sampleLag(): Promise<void> {
    const admin = this.admin;
    const assigned = [...this.assigned];
    if (!admin || assigned.length === 0) {
      this.longestStallSeconds = 0;
      return;
    }
    // Reads get a bound of their own, not the sampling interval: after a broker outage the admin
    // reconnects and refreshes metadata, which took longer than a 1 s interval, and every sample failed.
    const read = await withTimeout(
      Promise.all([
        admin.fetchOffsets({ groupId: this.config.groupId, topics: [this.topic] }),
        admin.fetchTopicOffsets(this.topic),
      ]),
      Math.max(this.config.lagIntervalMs, LAG_READ_TIMEOUT_MS),
    ).catch((err: unknown) => ({ failed: err }));
    if (read === 'timeout' || 'failed' in read) {
      this.lagReadFailures++;
      // Logged the first time and then every tenth, not every interval.
      if (this.lagReadFailures % 10 === 1) {
        this.log.warn(
          { err: read === 'timeout' ? 'timed out' : read.failed, failures: this.lagReadFailures },
          'reading committed offsets and log ends for the lag failed',
        );
      }
      // Blind is not live: unable to read for longer than the stall bound counts as a stall.
      const blindSeconds = (this.clock() - this.lastLagRead) / 1000;
      this.longestStallSeconds = Math.max(this.longestStallSeconds, blindSeconds);
      return;
    }
    this.lagReadFailures = 0;
    this.lastLagRead = this.clock();
    const [groupOffsets, topicOffsets] = read;
    const committed = new Map<number, bigint>();
    for (const t of groupOffsets) for (const o of t.partitions) committed.set(o.partition, BigInt(o.offset));
    const offsets = new Map<number, PartitionOffsets>();
    for (const o of topicOffsets) {
      if (!this.assigned.has(o.partition)) continue;
      offsets.set(o.partition, {
        committed: committed.get(o.partition) ?? -1n,
        low: BigInt(o.low),
        high: BigInt(o.high),
      });
    }
    let longest = 0;
    const stalled: number[] = [];
    for (const [p, progress] of this.stallMonitor.sample(offsets, this.clock())) {
      this.options.metrics.progress(p, progress.lag, progress.stalledSeconds);
      longest = Math.max(longest, progress.stalledSeconds);
      if (progress.stalledSeconds * 1000 >= this.config.stallTimeoutMs) stalled.push(p);
    }
    if (stalled.length > 0 && this.live) {
      // Once per stall: what each stalled partition is waiting for, so a hang explains itself.
      this.log.error(
        {
          stalledSeconds: longest,
          stallTimeoutMs: this.config.stallTimeoutMs,
          partitions: stalled.map((p) => this.describePartition(p)),
        },
        'a partition has made no progress while records wait; /healthz now answers 503',
      );
    }
    this.longestStallSeconds = longest;
  }

  /** Where a partition stands, for the stall log. */
  private describePartition(p: number): Record<string, unknown> {
    const w = this.workers.get(p);
    return {
      partition: p,
      worker: w ? { committedNext: w.committedNext.toString(), ...w.describe() } : null,
      pauses: [...(this.pauses.get(p) ?? [])],
      takeoverPending: this.pendingTakeovers.has(p),
      takeoverRunning: this.takeoverRunning !== undefined,
      takeoverFailures: this.takeoverFailures.get(p) ?? 0,
      roundFailures: this.roundFailures.attempts(p),
      consumer: this.consumer !== undefined,
      replacingConsumer: this.replacing,
      watchdogArmed: this.rejoinWatchdog.armed,
    };
  }

  /**
   * Creates, connects and runs a consumer of the raw topic. Events of a consumer that has since been
   * replaced (rejoin-watchdog.ts) are ignored: if a stuck one wakes up and joins, it is disconnected
   * again, so it cannot hold partitions nobody processes.
   */
  private async startConsumer(): Promise<Consumer> {
    const { config } = this;
    // kafkajs restarts a crashed consumer by itself, but two crashes in quick succession (a fetch and a
    // heartbeat failing together when the broker comes back) each schedule a restart, and both run: two
    // runners of one consumer, one of them an orphan that pause, resume and seek no longer reach. Seen in
    // test/e2e/processor-broker-outage.test.ts as a processor that took its partitions over and then
    // consumed nothing. So kafkajs never restarts it (restartOnFailure answers false, after noting that
    // the crash was one it would have restarted) and the processor replaces the consumer itself, once.
    let restartable: unknown;
    const consumer = (this.kafka as Kafka).consumer({
      groupId: config.groupId,
      readUncommitted: false,
      maxBytesPerPartition: config.maxBytesPerPartition,
      maxWaitTimeInMs: 500,
      sessionTimeout: config.sessionTimeoutMs,
      heartbeatInterval: Math.min(3000, Math.floor(config.sessionTimeoutMs / 3)),
      retry: {
        retries: 5,
        restartOnFailure: async (err: Error) => {
          restartable = err;
          return false;
        },
      },
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      if (this.consumer !== consumer) {
        this.log.warn('a replaced consumer joined the group late; disconnecting it');
        void consumer.disconnect().catch(() => undefined);
        return;
      }
      this.rejoinWatchdog.joined();
      this.replacementFailures = 0;
      this.onAssignment(e.payload.memberAssignment[this.topic] ?? []);
    });
    consumer.on(consumer.events.CRASH, (e) => {
      if (this.consumer !== consumer) return;
      const retriable = e.payload.error === restartable;
      this.log.error(
        { err: e.payload.error, retriable },
        retriable ? 'consumer crashed; replacing it' : 'consumer crashed for good',
      );
      if (this.stopping) return;
      if (retriable) this.scheduleReplacement('crashed');
      else this.options.onFatal?.(e.payload.error);
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [this.topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: async ({ batch, resolveOffset }) => {
        if (this.consumer === consumer) await this.onBatch(batch, resolveOffset);
      },
    });
    return consumer;
  }

  /** One replacement at a time, after a backoff that grows while replacements fail (the broker is away). */
  private scheduleReplacement(reason: 'crashed' | 'stuck'): void {
    if (this.stopping || this.replacing || this.replacementTimer) return;
    const delay = cappedBackoff(this.replacementFailures, 100, 30_000);
    this.replacementTimer = setTimeout(() => {
      this.replacementTimer = undefined;
      void this.replaceConsumer(reason);
    }, delay);
  }

  /**
   * Drops the consumer and starts a new one in this process: after a crash kafkajs would have restarted
   * from ('crashed'), or when a replacement did not join the group within PROCESSOR_REJOIN_TIMEOUT
   * ('stuck', rejoin-watchdog.ts; counted in nylas_stream_processor_consumer_replacements_total).
   * Workers, producers and stores stay; the new member's assignment goes through onAssignment like any
   * rebalance (kept partitions are sought to where their queues end). Public for the integration test,
   * which runs it against the broker as the watchdog would.
   */
  async replaceConsumer(reason: 'crashed' | 'stuck' = 'stuck'): Promise<void> {
    if (this.stopping || this.replacing) return;
    this.replacing = true;
    const old = this.consumer;
    this.consumer = undefined; // pause/resume/seek wait for the next assignment meanwhile
    if (reason === 'stuck') {
      this.options.metrics.consumerReplacements.inc();
      this.log.error(
        { rejoinTimeoutMs: this.config.rejoinTimeoutMs },
        'consumer did not rejoin the group; replacing it',
      );
    }
    try {
      // A stuck consumer may not manage to leave either: go on after a bound.
      if (old)
        await withTimeout(
          old.disconnect().catch(() => undefined),
          10_000,
        );
      if (this.stopping) return;
      // The new consumer must join within the bound, or it is replaced in turn. Armed before it starts:
      // its GROUP_JOIN (which disarms) can come before startConsumer returns.
      this.rejoinWatchdog.crashed();
      const started = await withTimeout(this.startConsumer(), this.config.takeoverTimeoutMs);
      if (started === 'timeout') {
        throw new NylasStreamError(
          ErrorCodes.TAKEOVER_TIMEOUT,
          `starting the replacement consumer did not finish within ${this.config.takeoverTimeoutMs} ms`,
          { retriable: true },
        );
      }
      // stop() ran meanwhile and may have missed the consumer being connected: leave nothing running.
      if (this.stopping) {
        await started.disconnect().catch(() => undefined);
        return;
      }
      this.log.info({ reason }, 'replacement consumer started');
    } catch (err) {
      // The broker may still be away: try again, later each time (the next attempt arms the watchdog).
      this.rejoinWatchdog.joined();
      this.replacementFailures++;
      this.log.error(
        { err, failures: this.replacementFailures },
        'starting a replacement consumer failed; trying again',
      );
      this.replacing = false;
      this.scheduleReplacement(reason);
    } finally {
      this.replacing = false;
    }
  }

  private async withStartupRetry<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (!isRetriable(err) || attempt >= 9 || this.stopping) throw err;
        this.log.warn({ err, attempt }, `${what} failed, retrying`);
        await new Promise((r) => setTimeout(r, cappedBackoff(attempt, 500, 10_000)));
      }
    }
  }

  private async onBatch(batch: Batch, resolveOffset: (offset: string) => void): Promise<void> {
    const p = batch.partition;
    const w = this.workers.get(p);
    if (!w) return; // not taken over yet: the partition is paused, the takeover seeks it
    const fetched = (batch as Batch & { fetchedOffset?: string }).fetchedOffset ?? batch.firstOffset();
    const records = batch.messages.map((m) => toRawRecord(batch.topic, p, m));
    const accepted = w.enqueue(records, BigInt(fetched ?? batch.lastOffset()), BigInt(batch.lastOffset()));
    if (!accepted) {
      if (w.expectedFetch !== undefined && this.workers.get(p) === w) {
        const offset = w.expectedFetch.toString();
        this.onConsumer('seek', (c) => c.seek({ topic: this.topic, partition: p, offset }));
      }
      return;
    }
    resolveOffset(batch.lastOffset());
  }

  /**
   * kafkajs's pause, resume and seek throw while the consumer is between a crash and its own restart
   * ("Consumer group was not initialized"), which is exactly when a broker outage also fails partition
   * transactions: thrown from a worker-failure handler, that became an unhandled rejection and exited the
   * process. Skipping is safe: the restarted consumer rejoins, and onAssignment seeks the partitions it
   * keeps, pauses the ones to take over and re-applies every pause still wanted.
   */
  private onConsumer(what: string, fn: (consumer: Consumer) => void): void {
    const consumer = this.consumer;
    if (!consumer) return;
    try {
      fn(consumer);
    } catch (err) {
      this.log.warn({ err, what }, 'consumer not running (restarting); left to the next assignment');
    }
  }

  private pause(p: number, reason: PauseReason): void {
    const set = this.pauses.get(p) ?? new Set();
    set.add(reason);
    this.pauses.set(p, set);
    this.onConsumer('pause', (c) => c.pause([{ topic: this.topic, partitions: [p] }]));
  }

  private unpause(p: number, reason: PauseReason): void {
    const set = this.pauses.get(p);
    set?.delete(reason);
    if (!set || set.size === 0) {
      this.pauses.delete(p);
      if (!this.stopping)
        this.onConsumer('resume', (c) => c.resume([{ topic: this.topic, partitions: [p] }]));
    }
  }

  private bumpEpoch(p: number): number {
    const e = (this.epochs.get(p) ?? 0) + 1;
    this.epochs.set(p, e);
    return e;
  }

  private onAssignment(partitions: number[]): void {
    const next = new Set(partitions);
    this.log.info({ partitions }, 'partitions assigned');
    for (const p of this.assigned) if (!next.has(p)) this.revoke(p);
    for (const p of next) {
      const w = this.workers.get(p);
      if (this.assigned.has(p) && w) {
        // Kept: kafkajs restarts from the committed offset; our queue already goes further.
        if (w.expectedFetch !== undefined) {
          const offset = w.expectedFetch.toString();
          this.onConsumer('seek', (c) => c.seek({ topic: this.topic, partition: p, offset }));
        }
        continue;
      }
      if (!this.assigned.has(p)) this.bumpEpoch(p);
      this.pause(p, 'takeover');
      this.scheduleTakeover(p, 0);
    }
    this.assigned = next;
    // A consumer restarted by kafkajs after a crash has forgotten its paused partitions.
    const paused = [...this.pauses.keys()].filter((p) => next.has(p));
    if (paused.length > 0)
      this.onConsumer('pause', (c) => c.pause([{ topic: this.topic, partitions: paused }]));
  }

  private revoke(p: number): void {
    this.bumpEpoch(p);
    this.pendingTakeovers.delete(p);
    this.takeoverFailures.delete(p);
    this.roundFailures.forget(p);
    this.stallMonitor.forget(p);
    this.pauses.delete(p);
    this.onConsumer('resume', (c) => c.resume([{ topic: this.topic, partitions: [p] }]));
    this.options.metrics.forgetPartition(p);
    const w = this.workers.get(p);
    if (!w) return;
    this.workers.delete(p);
    this.log.info({ partition: p }, 'partition revoked');
    void w
      .stop()
      .then(() => w.producer.disconnect())
      .catch((err: unknown) => this.log.warn({ err, partition: p }, 'closing a revoked partition'));
  }

  private scheduleTakeover(p: number, delayMs: number): void {
    const epoch = this.epochs.get(p);
    const go = () => {
      if (this.epochs.get(p) !== epoch || this.stopping) return;
      this.pendingTakeovers.add(p);
      this.kickTakeovers();
    };
    if (delayMs <= 0) {
      go();
      return;
    }
    const timer = setTimeout(() => {
      this.takeoverTimers.delete(timer);
      go();
    }, delayMs);
    this.takeoverTimers.add(timer);
  }

  /** Takeovers run one at a time; partitions that arrive meanwhile are taken together next. */
  private kickTakeovers(): void {
    if (this.takeoverRunning || this.stopping) return;
    this.takeoverRunning = (async () => {
      while (this.pendingTakeovers.size > 0 && !this.stopping) {
        // Let the rest of a GROUP_JOIN's partitions gather into the same takeover (one restore).
        await new Promise((r) => setImmediate(r));
        const partitions = [...this.pendingTakeovers].filter(
          (p) => this.assigned.has(p) && !this.workers.has(p),
        );
        this.pendingTakeovers.clear();
        if (partitions.length > 0) await this.takeover(partitions);
      }
    })().finally(() => {
      this.takeoverRunning = undefined;
      if (this.pendingTakeovers.size > 0) this.kickTakeovers();
    });
  }

  /** Producer for partition p, connected and fenced (InitProducerId done). */
  private async fencedProducer(p: number): Promise<Producer> {
    const producer = (this.kafka as Kafka).producer({
      transactionalId: transactionalIdFor(this.config.groupId, this.topic, p),
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: this.config.transactionTimeoutMs,
      retry: TRANSACTIONAL_RETRY,
      // kafkajs 2's default choice (Java-compatible murmur2, the key's hash remembered), the partitioner
      // the ingress uses, so domain topics stay co-partitioned with the raw topic by grant id.
      createPartitioner: KeyHashPartitioner,
    });
    await producer.connect();
    try {
      // Beginning a transaction runs InitProducerId (the fence); aborting an empty one sends nothing.
      const txn = await producer.transaction();
      await txn.abort();
    } catch (err) {
      await producer.disconnect().catch(() => undefined);
      throw err;
    }
    return producer;
  }

  /** Waits for one step of a takeover at most PROCESSOR_TAKEOVER_TIMEOUT; a step that hangs fails it. */
  private async bounded<T>(what: string, work: Promise<T>, ms = this.config.takeoverTimeoutMs): Promise<T> {
    const result = await withTimeout(work, ms);
    if (result === 'timeout') {
      // The hung call itself is not cancelled; whatever it holds (a producer) is disconnected by the
      // failure path below, which makes kafkajs reject it.
      work.catch(() => undefined);
      throw new NylasStreamError(
        ErrorCodes.TAKEOVER_TIMEOUT,
        `${what} did not finish within ${ms} ms (PROCESSOR_TAKEOVER_TIMEOUT)`,
        { retriable: true },
      );
    }
    return result;
  }

  /**
   * Where each partition resumes: the group's committed offset, or, when it has none yet, the log start
   * offset (the group's reset policy). Never "wherever the consumer's fetch happens to be".
   */
  private async resumeOffsets(partitions: number[]): Promise<Map<number, bigint>> {
    const admin = this.admin as Admin;
    const offsets = await this.bounded(
      'reading the committed offsets',
      admin.fetchOffsets({ groupId: this.config.groupId, topics: [this.topic] }),
    );
    const resume = new Map<number, bigint>();
    for (const t of offsets) for (const o of t.partitions) resume.set(o.partition, BigInt(o.offset));
    const fresh = partitions.filter((p) => (resume.get(p) ?? -1n) < 0n);
    if (fresh.length > 0) {
      const ends = await this.bounded('reading the log start offsets', admin.fetchTopicOffsets(this.topic));
      for (const o of ends) if (fresh.includes(o.partition)) resume.set(o.partition, BigInt(o.low));
    }
    for (const p of partitions) {
      if ((resume.get(p) ?? -1n) < 0n) throw new Error(`no start offset known for partition ${p}`);
    }
    return resume;
  }

  private async takeover(partitions: number[]): Promise<void> {
    const epochs = new Map(partitions.map((p) => [p, this.epochs.get(p) ?? 0]));
    const producers = new Map<number, Producer>();
    try {
      await this.bounded(
        'fencing the previous owners (InitProducerId)',
        Promise.all(
          partitions.map(async (p) => {
            producers.set(p, await this.fencedProducer(p));
          }),
        ),
      );
      const resume = await this.resumeOffsets(partitions);
      const restored = await this.bounded(
        'restoring the state',
        restoreStores({
          kafka: this.kafka as Kafka,
          stateTopic: this.config.topics.state,
          statePartitions: this.statePartitions,
          partitions,
          groupIdPrefix: this.config.groupId,
          logger: this.log,
          timeoutMs: this.config.takeoverTimeoutMs,
        }),
        // Past the restore's own bound, which disconnects its consumer; this one catches a hang before it.
        this.config.takeoverTimeoutMs + 5000,
      );
      this.options.metrics.restoreSeconds.observe(restored.seconds);
      this.log.info(
        { partitions, records: restored.records, seconds: restored.seconds },
        'partitions taken over (fenced, state restored)',
      );
      for (const p of partitions) {
        const producer = producers.get(p) as Producer;
        producers.delete(p);
        if (
          this.stopping ||
          !this.assigned.has(p) ||
          this.epochs.get(p) !== epochs.get(p) ||
          this.workers.has(p)
        ) {
          await producer.disconnect().catch(() => undefined);
          continue;
        }
        const store = restored.stores.get(p);
        if (!store) throw new Error(`restore returned no store for partition ${p}`);
        const start = resume.get(p) as bigint;
        const worker = this.createWorker(p, producer, store, start);
        this.workers.set(p, worker);
        this.takeoverFailures.delete(p);
        worker.start();
        this.options.metrics.storeCounts(p, store.counts());
        const offset = start.toString();
        this.onConsumer('seek', (c) => c.seek({ topic: this.topic, partition: p, offset }));
        this.unpause(p, 'takeover');
      }
    } catch (err) {
      for (const producer of producers.values()) await producer.disconnect().catch(() => undefined);
      for (const p of partitions) {
        if (!this.assigned.has(p) || this.workers.has(p) || this.stopping) continue;
        const failures = (this.takeoverFailures.get(p) ?? 0) + 1;
        this.takeoverFailures.set(p, failures);
        const delay = cappedBackoff(failures, 250, 30_000);
        this.log.warn({ err, partition: p, failures, retryInMs: delay }, 'takeover failed, retrying');
        this.scheduleTakeover(p, delay);
      }
    }
  }

  private createWorker(
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
      statePartition: statePartitionFor(p, this.statePartitions),
      dlqTopic: config.topics.dlq,
      producer,
      store,
      pipeline: this.pipeline as Pipeline,
      metrics: this.options.metrics,
      logger: this.log.child({ partition: p }),
      committed,
      maxRecordsPerTransaction: config.maxRecordsPerTransaction,
      maxQueuedRecords: config.maxQueuedRecords,
      maxQueuedBytes: config.maxQueuedBytes,
      reorderWindowMs: config.reorderWindowMs,
      sweepIntervalMs: Math.min(60_000, Math.max(1000, Math.floor(config.dedupeWindowMs / 10))),
      maxForgetPerTransaction: 5000,
      pauseFetch: () => this.pause(p, 'backpressure'),
      resumeFetch: () => this.unpause(p, 'backpressure'),
      onFailure: (err) => this.onWorkerFailure(p, worker, err),
      onCommitted: (next) => this.roundFailures.committed(p, next),
      recovery: this.roundFailures.plan(p),
      ...(this.options.now ? { now: this.options.now } : {}),
    });
    return worker;
  }

  private onWorkerFailure(p: number, worker: PartitionWorker, err: unknown): void {
    if (this.workers.get(p) !== worker) return;
    this.workers.delete(p);
    const fenced = isFencingError(err);
    void worker.producer.disconnect().catch(() => undefined);
    if (fenced) {
      this.log.error({ err, partition: p, fenced }, 'partition transaction fenced; taking over again');
    }
    // The dead worker's backpressure pause dies with it: left in place, it kept the partition paused
    // after the next takeover (whose new, empty worker never asks to resume), silently and for ever.
    // Seen as a processor that stopped consuming after a broker outage (round-failures.test.ts).
    this.pauses.get(p)?.delete('backpressure');
    if (!this.assigned.has(p) || this.stopping) return;
    this.pause(p, 'takeover');
    this.bumpEpoch(p);
    // Fenced means another instance took the partition: give the rebalance time to revoke it here
    // before fencing back.
    if (fenced) {
      this.scheduleTakeover(p, Math.floor(this.config.sessionTimeoutMs / 2));
      return;
    }
    const kind = classifyRoundFailure(err);
    this.options.metrics.roundFailures.inc({ kind });
    const round = err instanceof RoundFailure ? err : undefined;
    const verdict = this.roundFailures.failed(p, {
      kind,
      resumeFrom: worker.committedNext,
      offsets: round?.offsets ?? [],
      takenThrough: round?.takenThrough ?? worker.committedNext,
    });
    this.log.error(
      {
        err,
        partition: p,
        kind,
        resumeFrom: worker.committedNext.toString(),
        attempts: this.roundFailures.attempts(p),
        retryInMs: verdict.delayMs,
        ...(verdict.isolating ? { isolating: verdict.isolating } : {}),
        ...(verdict.quarantined ? { quarantined: verdict.quarantined } : {}),
      },
      verdict.quarantined
        ? 'a record failed alone: it will be dead-lettered as POISON_ISOLATED'
        : verdict.isolating
          ? 'rounds keep failing at this offset: narrowing them to isolate the record'
          : 'partition transaction failed; aborting and taking over again',
    );
    this.scheduleTakeover(p, verdict.delayMs);
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.rejoinWatchdog.close();
    if (this.lagTimer) clearTimeout(this.lagTimer);
    if (this.replacementTimer) clearTimeout(this.replacementTimer);
    for (const t of this.takeoverTimers) clearTimeout(t);
    this.takeoverTimers.clear();
    const consumer = this.consumer;
    if (consumer && this.running) {
      this.onConsumer('pause', (c) => c.pause([{ topic: this.topic, partitions: [...this.assigned] }]));
    }
    const workers = [...this.workers.values()];
    this.workers.clear();
    await Promise.all(workers.map((w) => w.stop()));
    this.expander?.close();
    await this.apiThread?.close().catch(() => undefined);
    await this.takeoverRunning?.catch(() => undefined);
    await Promise.all(workers.map((w) => w.producer.disconnect().catch(() => undefined)));
    await consumer?.disconnect().catch(() => undefined);
    await this.admin?.disconnect().catch(() => undefined);
    this.running = false;
    this.log.info('processor stopped');
  }
}
