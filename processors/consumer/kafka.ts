/**
 * The kafkajs consumer of the raw topic, as the supervisor sees it (supervisor.ts): kafkajs never
 * restarts it (restartOnFailure answers false), offsets are committed by the partitions' transactions,
 * never by the consumer. A crash is reported restartable when its cause is transient (transientCrash):
 * every crash kafkajs would have restarted from, and those it calls final that only say "not now".
 */
import type { Batch, Kafka, KafkaMessage } from 'kafkajs';
import { classifyKafkajsError } from '../../lib/kafkajs/errors';
import { headersAsText } from '../../lib/raw-record';
import type { RawRecord } from '../types';
import type { ConsumerEvents, RawBatch, SupervisedConsumer } from './supervisor';

export interface RawConsumerOptions {
  groupId: string;
  topic: string;
  maxBytesPerPartition: number;
  maxBytesPerFetch: number;
  sessionTimeoutMs: number;
}

export function kafkaRawConsumer(
  kafka: Kafka,
  o: RawConsumerOptions,
  events: ConsumerEvents,
): SupervisedConsumer {
  const consumer = kafka.consumer({
    groupId: o.groupId,
    readUncommitted: false,
    maxBytesPerPartition: o.maxBytesPerPartition,
    maxBytes: o.maxBytesPerFetch,
    maxWaitTimeInMs: 500,
    sessionTimeout: o.sessionTimeoutMs,
    heartbeatInterval: Math.min(3000, Math.floor(o.sessionTimeoutMs / 3)),
    retry: { retries: 5, restartOnFailure: async () => false },
  });
  consumer.on(consumer.events.GROUP_JOIN, (e) => events.joined(e.payload.memberAssignment[o.topic] ?? []));
  consumer.on(consumer.events.CRASH, (e) => events.crashed(e.payload.error, transientCrash(e.payload.error)));
  return {
    async start() {
      await consumer.connect();
      await consumer.subscribe({ topics: [o.topic], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: 1,
        eachBatch: async ({ batch, resolveOffset }) => {
          await events.batch(rawBatch(batch), () => resolveOffset(batch.lastOffset()));
        },
      });
    },
    disconnect: () => consumer.disconnect(),
    pause: (partitions) => consumer.pause([{ topic: o.topic, partitions }]),
    resume: (partitions) => consumer.resume([{ topic: o.topic, partitions }]),
    seek: (partition, offset) => consumer.seek({ topic: o.topic, partition, offset }),
  };
}

/**
 * A crash whose cause is transient (lib/kafkajs/errors.ts: a retriable error anywhere in the chain, which
 * is kafkajs's own restart rule, or the broker away, or a coordinator not found yet). The last two kafkajs
 * calls final. It ended the processor (exit 1) until CI of 2026-12-06 (Node 24):
 * on a broker restart the rejoin asked the only broker, still loading its group coordinator, until
 * kafkajs's retries ran out and threw KafkaJSGroupCoordinatorNotFound, a KafkaJSNonRetriableError. A
 * replacement consumer (after the supervisor's growing backoff) joins once the coordinator is back. What
 * stays final: authorization, unsupported versions, anything not known to be transient (exit 1, loudly).
 */
export function transientCrash(err: unknown): boolean {
  const c = classifyKafkajsError(err);
  return c.transient || c.coordinator;
}

function rawBatch(batch: Batch): RawBatch {
  const fetched = fetchedOffsetOf(batch) ?? batch.firstOffset() ?? batch.lastOffset();
  return {
    partition: batch.partition,
    records: batch.messages.map((m) => toRawRecord(batch.topic, batch.partition, m)),
    fetchedOffset: BigInt(fetched),
    lastOffset: BigInt(batch.lastOffset()),
  };
}

/** Where kafkajs fetched from: set on its batches, though not in its type declarations. */
function fetchedOffsetOf(batch: object): string | undefined {
  return 'fetchedOffset' in batch && typeof batch.fetchedOffset === 'string'
    ? batch.fetchedOffset
    : undefined;
}

/** A copy of a fetched key or value (see toRawRecord). */
function copyOf(b: Buffer | null): Buffer | null {
  return b === null ? null : Buffer.from(b);
}

/**
 * The processor's record of a fetched message. Key, value and header values are copies, not kafkajs's
 * views of the fetch answer: a view keeps the whole answer (up to PROCESSOR_MAX_BYTES_PER_FETCH) alive
 * for as long as any one record of it waits, in a queue, a round or a lane set aside for an expansion
 * (minutes, when Nylas's API backs off), and the queue bounds count only the record's own bytes. Header
 * values become text (lib/raw-record.ts): a string costs less heap than a Buffer view.
 */
export function toRawRecord(topic: string, partition: number, m: KafkaMessage): RawRecord {
  return {
    topic,
    partition,
    offset: m.offset,
    key: copyOf(m.key),
    value: copyOf(m.value),
    headers: headersAsText(m.headers),
    timestamp: m.timestamp,
  };
}
