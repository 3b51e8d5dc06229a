/**
 * The takeover's steps on the broker (takeover.ts): one transactional producer per input partition,
 * fenced by InitProducerId; the group's committed offsets and the log start offsets read by the admin
 * client; the on-disk stores brought up to the changelog (processors/state/restore.ts).
 */
import type { Admin, Kafka, Producer } from 'kafkajs';
import { TRANSACTIONAL_RETRY } from '../../lib/kafka';
import { KeyHashPartitioner } from '../../lib/kafkajs/partitioner';
import type { Logger } from '../../lib/logger';
import type { StoreRegistry } from '../state/registry';
import { restoreStores } from '../state/restore';
import type { PartitionStore } from '../state/store';
import type { TakeoverSteps } from './takeover';

export function transactionalIdFor(groupId: string, topic: string, partition: number): string {
  return `${groupId}-${topic}-${partition}`;
}

export interface KafkaStepsOptions {
  kafka: Kafka;
  admin: Admin;
  groupId: string;
  /** The raw topic. */
  topic: string;
  stateTopic: string;
  statePartitions: number;
  transactionTimeoutMs: number;
  /** PROCESSOR_TAKEOVER_TIMEOUT: the restore fails when the changelog stops arriving this long. */
  takeoverTimeoutMs: number;
  /** The partitions' on-disk stores. */
  stores: StoreRegistry;
  log: Logger;
}

export type KafkaTakeoverSteps<W> = TakeoverSteps<Producer, PartitionStore, W>;

/** The broker-side steps; `begin` (the worker) is the processor's. */
export function kafkaTakeoverSteps<W>(
  o: KafkaStepsOptions,
  begin: KafkaTakeoverSteps<W>['begin'],
): KafkaTakeoverSteps<W> {
  return {
    fence: (p) => fencedProducer(o, p),
    release: (producer) => producer.disconnect(),
    committedOffsets: () => readCommittedOffsets(o.admin, o.groupId, o.topic),
    async logStartOffsets() {
      const offsets = await readLogOffsets(o.admin, o.topic);
      return new Map(offsets.map((p) => [p.partition, p.low]));
    },
    restore: (partitions) =>
      restoreStores({
        kafka: o.kafka,
        stateTopic: o.stateTopic,
        statePartitions: o.statePartitions,
        partitions,
        stores: o.stores,
        groupIdPrefix: o.groupId,
        logger: o.log,
        stallTimeoutMs: o.takeoverTimeoutMs,
      }),
    discard: (p) => o.stores.close(p),
    begin,
  };
}

/** Producer for partition p, connected and fenced (InitProducerId done). */
function fencedProducer(o: KafkaStepsOptions, p: number): Promise<Producer> {
  return fencedTransactionalProducer(
    o.kafka,
    transactionalIdFor(o.groupId, o.topic, p),
    o.transactionTimeoutMs,
  );
}

/** A transactional producer, connected and fenced (InitProducerId done): every earlier producer of
 * `transactionalId` is rejected from now on. The processor's partitions and the backfill coordinator's
 * take theirs from here. */
export async function fencedTransactionalProducer(
  kafka: Kafka,
  transactionalId: string,
  transactionTimeoutMs: number,
): Promise<Producer> {
  const producer = kafka.producer({
    transactionalId,
    idempotent: true,
    maxInFlightRequests: 1,
    transactionTimeout: transactionTimeoutMs,
    retry: TRANSACTIONAL_RETRY,
    // kafkajs 2's default choice (Java-compatible murmur2, the key's hash remembered), the partitioner
    // the ingress uses, so domain topics (and backfilled raw records) stay co-partitioned by grant id.
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

/** The group's committed offset per partition of `topic` (-1 where it has none). The takeover and the
 * lag sampler read the same thing. */
export async function readCommittedOffsets(
  admin: Admin,
  groupId: string,
  topic: string,
): Promise<Map<number, bigint>> {
  const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
  const out = new Map<number, bigint>();
  for (const t of offsets) for (const p of t.partitions) out.set(p.partition, BigInt(p.offset));
  return out;
}

/** The log start (low) and end (high) offset per partition of `topic`. */
export async function readLogOffsets(
  admin: Admin,
  topic: string,
): Promise<{ partition: number; low: bigint; high: bigint }[]> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return offsets.map((o) => ({ partition: o.partition, low: BigInt(o.low), high: BigInt(o.high) }));
}
