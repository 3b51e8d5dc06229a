/**
 * Restore: rebuild the stores of newly assigned input partitions from the changelog topic.
 *
 * kafkajs has no manual partition assignment, so the restore uses a short-lived consumer in a group of
 * its own whose assigner (lib/kafkajs/fixed-assigner.ts) hands it exactly the state partitions needed. It reads them from the beginning
 * with read_committed isolation (aborted transactions of a zombie never count) up to the end offset taken
 * *after* the caller fenced the previous owner (InitProducerId), so every committed change is included
 * and nothing can be appended behind it.
 *
 * Progress is followed through END_BATCH_PROCESS, which kafkajs also emits for batches that held only
 * transaction markers or aborted records, so a changelog ending in a commit marker still completes.
 */
import { randomBytes } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { ErrorCodes, NylasStreamError } from '../../lib/errors';
import { fixedAssigner } from '../../lib/kafkajs/fixed-assigner';
import type { Logger } from '../../lib/logger';
import { applyChangelogRecord, statePartitionFor } from './changelog';
import { PartitionStore } from './store';

export interface RestoreOptions {
  kafka: Kafka;
  stateTopic: string;
  statePartitions: number;
  /** Input partitions to restore. */
  partitions: number[];
  /** Prefix of the throw-away restore group ids. */
  groupIdPrefix: string;
  logger: Logger;
  timeoutMs?: number;
}

export interface RestoreResult {
  stores: Map<number, PartitionStore>;
  records: number;
  seconds: number;
}

export async function restoreStores(options: RestoreOptions): Promise<RestoreResult> {
  const started = Date.now();
  const { kafka, stateTopic, partitions, logger } = options;
  const stores = new Map<number, PartitionStore>(partitions.map((p) => [p, new PartitionStore(p)]));
  const byStatePartition = new Map<number, PartitionStore[]>();
  for (const p of partitions) {
    const sp = statePartitionFor(p, options.statePartitions);
    const list = byStatePartition.get(sp) ?? [];
    list.push(stores.get(p) as PartitionStore);
    byStatePartition.set(sp, list);
  }

  const admin = kafka.admin();
  await admin.connect();
  let ends: Map<number, bigint>;
  try {
    const offsets = await admin.fetchTopicOffsets(stateTopic);
    ends = new Map(
      offsets
        .filter((o) => byStatePartition.has(o.partition) && BigInt(o.high) > BigInt(o.low))
        .map((o) => [o.partition, BigInt(o.high)]),
    );
  } finally {
    await admin.disconnect();
  }
  if (ends.size === 0) return { stores, records: 0, seconds: (Date.now() - started) / 1000 };

  const statePartitions = [...ends.keys()];
  const consumer = kafka.consumer({
    groupId: `${options.groupIdPrefix}-restore-${randomBytes(6).toString('hex')}`,
    partitionAssigners: [fixedAssigner(stateTopic, statePartitions)],
    readUncommitted: false,
    maxWaitTimeInMs: 200,
    maxBytesPerPartition: 8 * 1024 * 1024,
  });
  let records = 0;
  const remaining = new Set(statePartitions);
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const progressed = (partition: number, lastOffset: string): void => {
    const end = ends.get(partition);
    if (end !== undefined && BigInt(lastOffset) + 1n >= end) {
      remaining.delete(partition);
      if (remaining.size === 0) done();
    }
  };
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
    if (e.payload.topic === stateTopic) progressed(e.payload.partition, e.payload.lastOffset);
  });
  const timeoutMs = options.timeoutMs ?? 120_000;
  let timer: NodeJS.Timeout | undefined;
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [stateTopic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const targets = byStatePartition.get(batch.partition) ?? [];
        for (const m of batch.messages) {
          for (const store of targets) if (applyChangelogRecord(store, m.key, m.value)) records++;
        }
      },
    });
    await Promise.race([
      finished,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new NylasStreamError(
                ErrorCodes.STATE_RESTORE_FAILED,
                `restoring ${stateTopic} partitions ${statePartitions.join(',')} did not finish within ${timeoutMs} ms`,
                { retriable: true },
              ),
            ),
          timeoutMs,
        );
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
    await consumer.disconnect().catch((err: unknown) => logger.warn({ err }, 'restore consumer disconnect'));
  }
  return { stores, records, seconds: (Date.now() - started) / 1000 };
}
