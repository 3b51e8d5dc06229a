/**
 * The backfill coordinator: recovers what Nylas never sends (docs/nylas-contract.md §7; README
 * "Backfill"). It runs in every processor, with its own consumer group on the backfill topic
 * (`<PROCESSOR_GROUP_ID>-backfill`), and owns the partitions the group gives it:
 *
 *   takeover of partition p: fence its transactional producer → read p from its start to its end
 *   (grant states, inputs not yet applied) → seek the consumer to that end → apply the pending inputs →
 *   run the grants' backfills (partition.ts)
 *
 * Inputs arrive from the processor (lifecycle facts of grant events, processors/backfill/facts.ts) and
 * from `nylas-stream backfill --execute` (requests). The group never commits offsets: the topic is
 * compacted and a takeover reads it whole (one state per grant plus inputs not yet applied), which is
 * both the restore and the resume point.
 *
 * A backfill pages through the list endpoints (listing.ts, page-runner.ts) and writes each object as a
 * notification to the raw topic, so it goes through dedupe, order, expand, normalize and Avro like a
 * live one (with origin `backfill`).
 */
import type { Admin, Kafka, Producer } from 'kafkajs';
import { cappedBackoff } from '../../lib/backoff';
import type { Logger } from '../../lib/logger';
import { readToEnd } from '../../lib/read-to-end';
import { type ApiBudget, Slots } from '../api-budget';
import { fencedTransactionalProducer, transactionalIdFor } from '../assignment/kafka-steps';
import type { ProcessorConfig } from '../config';
import { readKnownObjects } from './known-objects';
import { httpPageFetcher, type PageFetcher } from './list-client';
import type { BackfillMetrics } from './metrics';
import { PageRunner } from './page-runner';
import { BackfillPartition, type InputRecord } from './partition';
import { parseGrantState, parseKey, parseValue } from './records';

export interface CoordinatorOptions {
  config: ProcessorConfig;
  kafka: Kafka;
  admin: Admin;
  logger: Logger;
  metrics: BackfillMetrics;
  /** The instance's API budget, shared with the expand stage. */
  budget: ApiBudget;
  /** Replaces the HTTP list client (tests). */
  fetchPage?: PageFetcher;
  now?: () => number;
}

export function backfillGroupId(processorGroupId: string): string {
  return `${processorGroupId}-backfill`;
}

/** Partitions assigned together, taken over together. */
interface Owned {
  ready: Map<number, BackfillPartition>;
  taking: Promise<void>;
}

export class BackfillCoordinator {
  private readonly log: Logger;
  private readonly consumer;
  private readonly runner: PageRunner;
  private readonly groupId: string;
  private readonly owned = new Map<number, Owned>();
  private stopping = false;

  constructor(private readonly o: CoordinatorOptions) {
    const c = o.config;
    this.log = o.logger.child({ component: 'backfill' });
    this.groupId = backfillGroupId(c.groupId);
    this.consumer = o.kafka.consumer({
      groupId: this.groupId,
      readUncommitted: false,
      maxWaitTimeInMs: 500,
      sessionTimeout: c.sessionTimeoutMs,
      heartbeatInterval: Math.min(3000, Math.floor(c.sessionTimeoutMs / 3)),
    });
    this.runner = new PageRunner({
      fetch: o.fetchPage ?? httpPageFetcher({ apiKey: c.nylas.apiKey, apiUri: c.nylas.apiUri }),
      budget: o.budget,
      backfillSlots: new Slots(c.backfill.concurrency),
      requestTimeoutMs: c.expansion.requestTimeoutMs,
      backoffBaseMs: c.expansion.backoffBaseMs,
      backoffMaxMs: c.expansion.backoffMaxMs,
      pageSize: c.backfill.pageSize,
      ...(o.now ? { now: o.now } : {}),
      observe: (listing, outcome) => o.metrics.call(listing, outcome),
    });
    o.metrics.watchRunning(() =>
      [...this.owned.entries()].flatMap(([p, w]) => w.ready.get(p)?.running() ?? []),
    );
  }

  async start(): Promise<void> {
    const topic = this.o.config.topics.backfill;
    this.consumer.on(this.consumer.events.GROUP_JOIN, (e) =>
      this.assign(e.payload.memberAssignment[topic] ?? []),
    );
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [topic], fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 4,
      eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
        const owner = this.owned.get(batch.partition)?.ready.get(batch.partition);
        // Not taken over yet: the takeover seeks the partition itself; what was fetched is read again.
        if (owner === undefined || owner.stopped) return;
        for (const m of batch.messages) {
          const key = parseKey(m.key);
          if (key !== undefined) {
            await owner.input({ offset: m.offset, key, rawKey: String(m.key), value: m.value });
          } else {
            this.o.metrics.inputsRejected.inc({ kind: 'key' });
            this.log.error(
              { partition: batch.partition, offset: m.offset, key: String(m.key) },
              'backfill record with an unknown key skipped',
            );
          }
          resolveOffset(m.offset);
          await heartbeat();
        }
      },
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.consumer.disconnect().catch(() => undefined);
    await Promise.all([...this.owned.keys()].map((p) => this.release(p)));
  }

  private assign(partitions: number[]): void {
    const next = new Set(partitions);
    for (const p of [...this.owned.keys()]) if (!next.has(p)) void this.release(p);
    const fresh = [...next].filter((p) => !this.owned.has(p));
    if (fresh.length === 0) return;
    const owned: Owned = { ready: new Map(), taking: Promise.resolve() };
    for (const p of fresh) this.owned.set(p, owned);
    // The partitions given together are restored together: one read of the topic, not one per partition.
    owned.taking = this.takeover(fresh, owned);
  }

  private async release(p: number): Promise<void> {
    const owned = this.owned.get(p);
    this.owned.delete(p);
    await owned?.taking.catch(() => undefined);
    await owned?.ready.get(p)?.stop();
  }

  /** Retried until it succeeds or none of the partitions is ours any more. */
  private async takeover(partitions: number[], owned: Owned): Promise<void> {
    const topic = this.o.config.topics.backfill;
    this.consumer.pause([{ topic, partitions }]);
    for (let attempt = 0; ; attempt++) {
      const mine = () => partitions.filter((p) => !this.stopping && this.owned.get(p) === owned);
      if (mine().length === 0) return;
      const producers = new Map<number, Producer>();
      try {
        for (const p of mine()) producers.set(p, await this.fencedProducer(p));
        const restored = await this.restore(producers);
        for (const p of partitions) {
          const r = restored.get(p);
          if (r === undefined) continue;
          if (!mine().includes(p)) {
            await producers
              .get(p)
              ?.disconnect()
              .catch(() => undefined);
            continue;
          }
          r.owner.resumeAt = BigInt(r.end);
          await r.owner.start(r.pending);
          owned.ready.set(p, r.owner);
          this.consumer.seek({ topic, partition: p, offset: String(r.end) });
          this.consumer.resume([{ topic, partitions: [p] }]);
          this.log.info(
            { partition: p, grants: r.owner.states.size, pending: r.pending.length },
            'backfill partition taken over',
          );
        }
        return;
      } catch (err) {
        for (const [p, producer] of producers)
          if (owned.ready.get(p) === undefined) await producer.disconnect().catch(() => undefined);
        const wait = cappedBackoff(attempt, 250, 30_000);
        this.log.warn({ partitions, err, retryInMs: wait }, 'backfill takeover failed');
        await new Promise((r) => setTimeout(r, wait));
        partitions = partitions.filter((p) => owned.ready.get(p) === undefined);
      }
    }
  }

  private fencedProducer(p: number): Promise<Producer> {
    const c = this.o.config;
    return fencedTransactionalProducer(
      this.o.kafka,
      transactionalIdFor(this.groupId, c.topics.backfill, p),
      c.transactionTimeoutMs,
    );
  }

  /** The partitions read whole: each grant's last state, and the inputs no tombstone followed. */
  private async restore(
    producers: ReadonlyMap<number, Producer>,
  ): Promise<Map<number, { owner: BackfillPartition; pending: InputRecord[]; end: number }>> {
    const c = this.o.config;
    const owners = new Map<number, BackfillPartition>();
    const inputs = new Map<number, Map<string, InputRecord>>();
    for (const [p, producer] of producers) {
      inputs.set(p, new Map());
      owners.set(
        p,
        new BackfillPartition({
          partition: p,
          producer,
          backfillTopic: c.topics.backfill,
          rawTopic: c.topics.raw,
          policy: {
            horizonSeconds: Math.floor(c.backfill.horizonMs / 1000),
            historyDays: c.backfill.historyDays,
          },
          runner: this.runner,
          metrics: this.o.metrics,
          log: this.log,
          retryBaseMs: c.retryBackoffBaseMs,
          retryMaxMs: c.retryBackoffMaxMs,
          ...(this.o.now ? { now: this.o.now } : {}),
          onLost: () => void this.release(p),
          knownObjectsTopic: c.topics.knownObjects,
          readKnown: (grants) =>
            readKnownObjects(this.o.kafka, this.o.admin, {
              topic: c.topics.knownObjects,
              partition: p,
              grants,
              timeoutMs: c.takeoverTimeoutMs,
            }),
        }),
      );
    }
    const { ends } = await readToEnd(
      this.o.kafka,
      this.o.admin,
      {
        topic: c.topics.backfill,
        ranges: [...producers.keys()].map((p) => ({ partition: p, start: 0, end: Number.MAX_SAFE_INTEGER })),
        timeoutMs: c.takeoverTimeoutMs,
      },
      (p, m) => {
        const owner = owners.get(p);
        const pending = inputs.get(p);
        const key = parseKey(m.key);
        if (owner === undefined || pending === undefined || key === undefined) return;
        const rawKey = String(m.key);
        if (key.kind === 'listed') {
          owner.restoreListed(key.grantId, key.requestId, rawKey, m.value);
        } else if (key.kind === 'grant') {
          const state = m.value === null ? undefined : parseGrantState(parseValue(m.value));
          if (state === undefined) owner.states.delete(key.grantId);
          else owner.states.set(key.grantId, state);
        } else if (m.value === null) {
          pending.delete(rawKey);
        } else {
          pending.set(rawKey, { offset: m.offset, key, rawKey, value: m.value });
        }
      },
    );
    const out = new Map<number, { owner: BackfillPartition; pending: InputRecord[]; end: number }>();
    for (const [p, owner] of owners) {
      const pending = [...(inputs.get(p)?.values() ?? [])].sort((a, b) =>
        Number(BigInt(a.offset) - BigInt(b.offset)),
      );
      out.set(p, { owner, pending, end: ends.get(p) ?? 0 });
    }
    return out;
  }
}
