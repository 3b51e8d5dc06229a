/**
 * Restore: bring the on-disk stores of newly assigned input partitions up to the changelog topic.
 *
 * Each store knows the changelog offset it reflects (its checkpoint, store.ts). A partition that comes
 * back to the same disk restores only the tail past that offset ("tail"); a new disk, a store that was
 * damaged, or a checkpoint the topic can no longer vouch for (past its end: the topic was recreated;
 * before its start: records were deleted) starts empty and streams the whole partition ("full"). Either
 * way records are applied batch by batch as they arrive, each batch with the offset after it as the new
 * checkpoint, so memory stays bounded by the fetch size and a restore that is interrupted resumes where
 * it stopped.
 *
 * kafkajs has no manual partition assignment, so the restore uses a short-lived consumer in a group of
 * its own whose assigner (lib/kafkajs/fixed-assigner.ts) hands it exactly the state partitions needed.
 * It reads them with read_committed isolation (aborted transactions of a zombie never count) up to the end
 * offset taken *after* the caller fenced the previous owner (InitProducerId), so every committed change is
 * included and nothing can be appended behind it.
 *
 * Progress is followed through END_BATCH_PROCESS, which kafkajs also emits for batches that held only
 * transaction markers or aborted records, so a changelog ending in a commit marker still completes. A
 * full restore of a large changelog takes minutes, so the bound is on silence (no batch for
 * `stallTimeoutMs`), not on the total time.
 */
import { randomBytes } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { ErrorCodes, NylasStreamError } from '../../lib/errors';
import { fixedAssigner } from '../../lib/kafkajs/fixed-assigner';
import type { Logger } from '../../lib/logger';
import { withTimeout } from '../../lib/timeout';
import { changesFromRecord, statePartitionFor } from './changelog';
import type { StoreRegistry } from './registry';
import type { PartitionStore, StateChange } from './store';

export type RestoreMode = 'tail' | 'full';

export interface RestoreOptions {
  kafka: Kafka;
  stateTopic: string;
  statePartitions: number;
  /** Input partitions to restore. */
  partitions: number[];
  stores: StoreRegistry;
  /** Prefix of the throw-away restore group ids. */
  groupIdPrefix: string;
  logger: Logger;
  /** Fail when no changelog batch arrived for this long (PROCESSOR_TAKEOVER_TIMEOUT). */
  stallTimeoutMs?: number;
}

export interface RestoreResult {
  stores: Map<number, PartitionStore>;
  modes: Map<number, RestoreMode>;
  /** Changelog records of these partitions applied. */
  records: number;
  /** Entries (dedupe ids, versions) those records held. */
  entries: number;
  seconds: number;
}

interface Target {
  store: PartitionStore;
  /** The first changelog offset this store still needs. */
  from: bigint;
}

/** Where a store's restore starts, and how: `low`/`high` are the state partition's log bounds. */
export function restorePlan(
  checkpoint: bigint | undefined,
  low: bigint,
  high: bigint,
): { mode: RestoreMode; from: bigint } {
  if (checkpoint !== undefined && checkpoint >= low && checkpoint <= high)
    return { mode: 'tail', from: checkpoint };
  return { mode: 'full', from: low };
}

export async function restoreStores(options: RestoreOptions): Promise<RestoreResult> {
  const started = Date.now();
  const { kafka, stateTopic, partitions, logger } = options;
  const stores = new Map<number, PartitionStore>();
  for (const p of partitions) {
    let store = await options.stores.get(p);
    // A failed worker's last write may still be running: the checkpoint is read after it.
    await store.settled();
    if (store.failed) {
      // A disk write failed: whatever that write held is not on disk; reopen and restore past the
      // checkpoint that is.
      await options.stores.close(p);
      store = await options.stores.get(p);
    }
    // Another instance may have owned the partition since: only the disk, brought up to date below,
    // is trusted.
    store.dropCache();
    stores.set(p, store);
  }

  const admin = kafka.admin();
  await admin.connect();
  let bounds: Map<number, { low: bigint; high: bigint }>;
  try {
    const offsets = await admin.fetchTopicOffsets(stateTopic);
    bounds = new Map(offsets.map((o) => [o.partition, { low: BigInt(o.low), high: BigInt(o.high) }]));
  } finally {
    await admin.disconnect();
  }

  const modes = new Map<number, RestoreMode>();
  const targets = new Map<number, Target[]>();
  for (const [p, store] of stores) {
    const sp = statePartitionFor(p, options.statePartitions);
    const b = bounds.get(sp) ?? { low: 0n, high: 0n };
    const plan = restorePlan(store.checkpoint?.offset, b.low, b.high);
    modes.set(p, plan.mode);
    if (plan.mode === 'full') await store.clear();
    if (plan.from >= b.high) {
      // Nothing to read: the store reflects the whole changelog.
      if (store.checkpoint?.offset !== b.high) await store.apply([], b.high);
      continue;
    }
    const list = targets.get(sp) ?? [];
    list.push({ store, from: plan.from });
    targets.set(sp, list);
  }

  let records = 0;
  let entries = 0;
  const seconds = () => (Date.now() - started) / 1000;
  if (targets.size === 0) return { stores, modes, records, entries, seconds: seconds() };

  const statePartitions = [...targets.keys()];
  const ends = new Map(statePartitions.map((sp) => [sp, bounds.get(sp)?.high ?? 0n]));
  const consumer = kafka.consumer({
    groupId: `${options.groupIdPrefix}-restore-${randomBytes(6).toString('hex')}`,
    partitionAssigners: [fixedAssigner(stateTopic, statePartitions)],
    readUncommitted: false,
    maxWaitTimeInMs: 200,
    // A bucket record is at most 256 KiB (changelog.ts); a small fetch keeps a full restore of many state
    // partitions from holding tens of megabytes of fetched records at once.
    maxBytesPerPartition: 1024 * 1024,
  });
  const remaining = new Set(statePartitions);
  let done: () => void = () => undefined;
  let stalled: (err: Error) => void = () => undefined;
  const finished = new Promise<void>((resolve, reject) => {
    done = resolve;
    stalled = reject;
  });
  // Rejected (stall, failed store) possibly before it is awaited: never an unhandled rejection.
  finished.catch(() => undefined);
  const stallTimeoutMs = options.stallTimeoutMs ?? 120_000;
  let timer: NodeJS.Timeout | undefined;
  const armStallTimer = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(
      () =>
        stalled(
          new NylasStreamError(
            ErrorCodes.STATE_RESTORE_FAILED,
            `restoring ${stateTopic} partitions ${statePartitions.join(',')}: no progress for ${stallTimeoutMs} ms`,
            { retriable: true },
          ),
        ),
      stallTimeoutMs,
    );
  };
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
    if (e.payload.topic !== stateTopic) return;
    armStallTimer();
    const end = ends.get(e.payload.partition);
    if (end !== undefined && BigInt(e.payload.lastOffset) + 1n >= end) {
      remaining.delete(e.payload.partition);
      if (remaining.size === 0) done();
    }
  });
  // One write per store per fetched batch, not per record: fewer, larger write batches (and one read
  // batch for the entries they replace) instead of a round trip per ~6,000-entry bucket record. A batch
  // is at most maxBytesPerPartition of records.
  const applyBatch = async (list: Target[], messages: KafkaMessage[]): Promise<void> => {
    for (const t of list) {
      const changes: StateChange[] = [];
      let through: bigint | undefined;
      for (const m of messages) {
        const offset = BigInt(m.offset);
        // A tail restore starts at its checkpoint; a store sharing the state partition may need less.
        if (offset < t.from) continue;
        const decoded = changesFromRecord(t.store.partition, m.key, m.value);
        if (decoded.length === 0) continue;
        records++;
        entries += decoded.length;
        for (const c of decoded) changes.push(c);
        through = offset + 1n;
      }
      if (through !== undefined) await t.store.apply(changes, through);
    }
  };
  try {
    armStallTimer();
    await consumer.connect();
    await consumer.subscribe({ topics: [stateTopic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const list = targets.get(batch.partition) ?? [];
        try {
          await applyBatch(list, batch.messages);
        } catch (err) {
          // The store failed (closed by a revoke, or the disk): end the restore now, not at the stall bound.
          stalled(err instanceof Error ? err : new Error(String(err)));
          throw err;
        }
      },
    });
    // Start each state partition where its earliest store needs it (kafkajs applies the seek before the
    // first fetch; records before `from` that arrive anyway are skipped above).
    for (const [sp, list] of targets) {
      let from: bigint | undefined;
      for (const t of list) if (from === undefined || t.from < from) from = t.from;
      if (from !== undefined && from > (bounds.get(sp)?.low ?? 0n)) {
        consumer.seek({ topic: stateTopic, partition: sp, offset: from.toString() });
      }
    }
    await finished;
  } finally {
    if (timer) clearTimeout(timer);
    const disconnected = await withTimeout(consumer.disconnect(), 10_000).catch((err: unknown) => {
      logger.warn({ err }, 'restore consumer disconnect');
    });
    if (disconnected === 'timeout') logger.warn('restore consumer disconnect did not finish in 10 s');
  }
  // Read through the end taken after the fence: every store reflects its partition up to there.
  for (const [sp, list] of targets) {
    const end = ends.get(sp) ?? 0n;
    for (const t of list) if ((t.store.checkpoint?.offset ?? -1n) < end) await t.store.apply([], end);
  }
  return { stores, modes, records, entries, seconds: seconds() };
}
